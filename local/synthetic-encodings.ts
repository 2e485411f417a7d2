// Alerts written in every dataset's encoding: PNG tiles as the GFW tile cache makes them, and
// date_conf GeoTIFFs as the GFW data lake has them. For tests, the demo and the synthetic world.
import { writeFile } from 'node:fs/promises';
import { PNG } from 'pngjs';
import { writeArrayBuffer } from 'geotiff';
import { CONFIDENCE, dayOffset, encodeDateConf } from '../core/tiles/datasets.ts';
import type { Dataset } from '../core/tiles/datasets.ts';
import { encodeGladTile } from '../core/tiles/decode.ts';
import { EARTH_RADIUS_M, TILE_SIZE, tilesInBounds } from '../core/tiles/grid.ts';
import type { TileBounds } from '../core/tiles/grid.ts';
import type { RasterGeo } from '../core/tiles/raster-window.ts';
import type { Alerts } from '../core/tiles/types.ts';
import { syntheticTile } from './synthetic.ts';

/** Integrated alerts' alpha per normalised confidence (gfw-data-api symbology.py). */
const INTEGRATED_ALPHA: Record<number, number> = { [CONFIDENCE.low]: 4, [CONFIDENCE.high]: 8, [CONFIDENCE.highest]: 24 };
/** The intensity GFW adds to B at native resolution (MAX_8_BIT_INTENSITY). */
const INTENSITY = 55;

/** Throws unless every alert's confidence is one of the dataset's levels. */
function checkLevels(alerts: Alerts, dataset: Dataset): void {
  const allowed = new Set(dataset.levels.map((l) => CONFIDENCE[l]));
  for (let k = 0; k < alerts.length; k++) {
    if (!allowed.has(alerts.confidence[k])) throw new Error(`alert ${k}: confidence ${alerts.confidence[k]} is not a level of ${dataset.name}`);
  }
}

/**
 * One PNG tile in the dataset's encoding (alerts with col/row in 0..255, internal days). Tile cache:
 * R = v // 255, G = v % 255 with v = days since the dataset's day 0, B = 100 (low) or 200 (high,
 * highest) + 55, alpha 255; integrated alerts carry 4/8/24 in alpha. glad-2018: the old encoder.
 */
export function encodeDatasetTile(alerts: Alerts, dataset: Dataset): Uint8Array {
  if (dataset.encoding === 'glad-2018') return encodeGladTile(alerts);
  checkLevels(alerts, dataset);
  const offset = dayOffset(dataset.dayZero);
  const png = new PNG({ width: TILE_SIZE, height: TILE_SIZE });
  png.data.fill(0);
  for (let k = 0; k < alerts.length; k++) {
    const { col, row } = { col: alerts.col[k], row: alerts.row[k] };
    if (col < 0 || col >= TILE_SIZE || row < 0 || row >= TILE_SIZE) throw new Error(`alert ${k}: col=${col}, row=${row} is outside the tile`);
    const value = alerts.days[k] - offset;
    if (value < 1 || value > 255 * 255 + 254) throw new Error(`alert ${k}: day ${alerts.days[k]} is before ${dataset.name}'s day 0 or too late`);
    const conf = alerts.confidence[k];
    const o = 4 * (row * TILE_SIZE + col);
    png.data[o] = Math.floor(value / 255);
    png.data[o + 1] = value % 255;
    png.data[o + 2] = (conf >= CONFIDENCE.high ? 200 : 100) + INTENSITY;
    png.data[o + 3] = dataset.encoding === 'integrated' ? INTEGRATED_ALPHA[conf] : 255;
  }
  return new Uint8Array(PNG.sync.write(png, { colorType: 6 }));
}

/** A date_conf raster in memory: its georeferencing and uint16 values, row-major. */
export interface DateConfRaster {
  geo: RasterGeo;
  values: Uint16Array;
}

/** Web-mercator pixel size at zoom z, metres (the z grid's resolution). */
export function mercatorResolution(z: number): number {
  return (2 * Math.PI * EARTH_RADIUS_M) / (TILE_SIZE * 2 ** z);
}

/**
 * A raster in EPSG:3857 ALIGNED to the z grid over `bounds` (one raster pixel = one tile pixel),
 * holding the alerts that `tileAlerts` gives each tile: the same data as the PNG tiles.
 */
export function alignedDateConfRaster(bounds: TileBounds, dataset: Dataset, tileAlerts: (tile: { z: number; x: number; y: number }) => Alerts): DateConfRaster {
  const res = mercatorResolution(bounds.z);
  const half = Math.PI * EARTH_RADIUS_M;
  const width = (bounds.x1 - bounds.x0 + 1) * TILE_SIZE;
  const height = (bounds.y1 - bounds.y0 + 1) * TILE_SIZE;
  const values = new Uint16Array(width * height);
  const offset = dataset.encoding === 'glad-2018' ? dayOffset('2014-12-31') : dayOffset(dataset.dayZero);
  for (const tile of tilesInBounds(bounds)) {
    const a = tileAlerts(tile);
    const gx = (tile.x - bounds.x0) * TILE_SIZE;
    const gy = (tile.y - bounds.y0) * TILE_SIZE;
    for (let k = 0; k < a.length; k++) {
      values[(gy + a.row[k]) * width + gx + a.col[k]] = encodeDateConf(a.days[k], a.confidence[k], offset);
    }
  }
  const geo: RasterGeo = {
    crs: 'EPSG:3857',
    originX: -half + bounds.x0 * TILE_SIZE * res,
    originY: half - bounds.y0 * TILE_SIZE * res,
    resX: res,
    resY: -res,
    width,
    height,
  };
  return { geo, values };
}

/** The synthetic world over `bounds` as an aligned date_conf raster (the same alerts as its PNG tiles). */
export function syntheticDateConfRaster(opts: TileBounds & { seed: number; density: number }, dataset: Dataset): DateConfRaster {
  return alignedDateConfRaster(opts, dataset, (tile) => syntheticTile({ ...tile, seed: opts.seed, density: opts.density }));
}

/**
 * A striped GeoTIFF (geotiff.js writer; tiled and COG copies come from gdal_translate). The GeoKeys
 * are the minimal ones GDAL writes for EPSG:4326 / EPSG:3857, PixelIsArea.
 */
export function dateConfTiff(r: DateConfRaster): ArrayBuffer {
  const { geo } = r;
  const crsKeys =
    geo.crs === 'EPSG:4326'
      ? { GTModelTypeGeoKey: 2, GeographicTypeGeoKey: 4326 }
      : { GTModelTypeGeoKey: 1, ProjectedCSTypeGeoKey: 3857 };
  return writeArrayBuffer(r.values, {
    width: geo.width,
    height: geo.height,
    ModelPixelScale: [geo.resX, -geo.resY, 0],
    ModelTiepoint: [0, 0, 0, geo.originX, geo.originY, 0],
    GTRasterTypeGeoKey: 1,
    ...crsKeys,
  });
}

/** Writes `dateConfTiff` to a file. */
export async function writeDateConfTiff(path: string, r: DateConfRaster): Promise<void> {
  await writeFile(path, new Uint8Array(dateConfTiff(r)));
}
