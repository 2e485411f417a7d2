// date_conf rasters: window maths and rendering (pure), then GeoTIFF/COG reading from files, HTTP
// (bytes counted) and S3, bad input, and equality with the same alerts as PNG tiles.
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { fromFile } from 'geotiff';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRaster, rasterAlertSource } from '../core/store/raster-source.ts';
import { DATASETS, EVERY_DAY, datasetDecoder, dayOffset, encodeDateConf } from '../core/tiles/datasets.ts';
import { isoToDays } from '../core/tiles/dates.ts';
import { lonLatToTile, pixelToLonLat } from '../core/tiles/grid.ts';
import { canvasAlerts, newCanvas, rasterBounds, renderWindow, tileWindow, zoomAdvice } from '../core/tiles/raster-window.ts';
import type { RasterGeo } from '../core/tiles/raster-window.ts';
import type { Alerts } from '../core/tiles/types.ts';
import { dateConfTiff, encodeDatasetTile, mercatorResolution, syntheticDateConfRaster } from '../local/synthetic-encodings.ts';
import type { DateConfRaster } from '../local/synthetic-encodings.ts';
import { syntheticTile } from '../local/synthetic.ts';

const HALF = Math.PI * 6378137;
const lake = dayOffset('2014-12-31');
const glad = DATASETS['glad-l'];

/** A 3857 raster aligned to zoom `rz`'s grid, its corner at global pixel (gx, gy) of that zoom. */
function mercatorGeo(rz: number, gx: number, gy: number, width: number, height: number): RasterGeo {
  const res = mercatorResolution(rz);
  return { crs: 'EPSG:3857', originX: -HALF + gx * res, originY: HALF - gy * res, resX: res, resY: -res, width, height };
}

function list(a: Alerts) {
  return Array.from({ length: a.length }, (_, k) => [a.row[k], a.col[k], a.days[k], a.confidence[k]]);
}

/** Renders a whole in-memory raster into one tile through the window, as the source does. */
function render(geo: RasterGeo, values: Uint16Array, tile: { z: number; x: number; y: number }, halo = 0, offset = lake): Alerts {
  const c = newCanvas(tile, halo);
  const win = tileWindow(geo, tile, halo);
  if (win) {
    const w = win.i1 - win.i0;
    const sub = new Uint16Array(w * (win.j1 - win.j0));
    for (let j = win.j0; j < win.j1; j++) sub.set(values.subarray(j * geo.width + win.i0, j * geo.width + win.i1), (j - win.j0) * w);
    renderWindow(c, geo, win, sub, offset);
  }
  return canvasAlerts(c, EVERY_DAY);
}

describe('tileWindow', () => {
  const geo = mercatorGeo(12, 100 * 256, 200 * 256, 512, 256); // tiles x 100..101, y 200 at z12
  it('is the tile\'s pixels in an aligned raster, clamped to it, with the halo', () => {
    expect(tileWindow(geo, { z: 12, x: 100, y: 200 })).toEqual({ i0: 0, j0: 0, i1: 256, j1: 256 });
    expect(tileWindow(geo, { z: 12, x: 101, y: 200 })).toEqual({ i0: 256, j0: 0, i1: 512, j1: 256 });
    expect(tileWindow(geo, { z: 12, x: 100, y: 200 }, 8)).toEqual({ i0: 0, j0: 0, i1: 264, j1: 256 });
    expect(tileWindow(geo, { z: 11, x: 50, y: 100 })).toEqual({ i0: 0, j0: 0, i1: 512, j1: 256 });
  });
  it('is null outside the raster', () => {
    expect(tileWindow(geo, { z: 12, x: 102, y: 200 })).toBeNull();
    expect(tileWindow(geo, { z: 12, x: 100, y: 201 })).toBeNull();
  });
});

describe('renderWindow', () => {
  const tile = { z: 12, x: 100, y: 200 };
  it('coarser tile pixels hold the alerts whose native centres fall in them: earliest date, highest confidence', () => {
    // A z13-resolution raster over the tile: 2×2 native pixels per tile pixel.
    const geo = mercatorGeo(13, 200 * 256, 400 * 256, 512, 512);
    const v = new Uint16Array(512 * 512);
    v[0] = encodeDateConf(100, 1, lake); // tile pixel (0, 0)
    v[513] = encodeDateConf(50, 1, lake); // native (1, 1): same tile pixel, earlier
    v[1] = encodeDateConf(300, 3, lake); // native (1, 0): same tile pixel, highest
    v[2 * 512 + 5] = encodeDateConf(7, 2, lake); // native (5, 2) → tile pixel (2, 1)
    expect(list(render(geo, v, tile))).toEqual([
      [0, 0, 50, 3],
      [1, 2, 7, 2],
    ]);
  });

  it('finer tile pixels take the nearest native pixel', () => {
    // A z11-resolution raster: one native pixel covers 2×2 tile pixels.
    const geo = mercatorGeo(11, 50 * 256, 100 * 256, 256, 256);
    const v = new Uint16Array(256 * 256);
    v[3 * 256 + 1] = encodeDateConf(9, 1, lake); // native (1, 3) → tile cols 2..3, rows 6..7
    expect(list(render(geo, v, tile))).toEqual([
      [6, 2, 9, 1],
      [6, 3, 9, 1],
      [7, 2, 9, 1],
      [7, 3, 9, 1],
    ]);
  });

  it('an EPSG:4326 alert lands in the tile pixel holding its centre, and the halo takes the neighbour\'s', () => {
    // 0.0001° pixels from 10°E, 1°S (z12 pixels are ~0.00034° wide, so coarser).
    const geo: RasterGeo = { crs: 'EPSG:4326', originX: 10, originY: -1, resX: 0.0001, resY: -0.0001, width: 4000, height: 4000 };
    const v = new Uint16Array(4000 * 4000);
    const [i, j] = [1234, 2345];
    v[j * 4000 + i] = encodeDateConf(42, 2, lake);
    const lon = 10 + (i + 0.5) * 0.0001;
    const lat = -1 - (j + 0.5) * 0.0001;
    const t = lonLatToTile(lon, lat, 12);
    const a = render(geo, v, t);
    expect(a.length).toBe(1);
    const centre = pixelToLonLat(t, a.col[0], a.row[0]);
    const half = 360 / 2 ** 12 / 256 / 2;
    expect(Math.abs(centre.lon - lon)).toBeLessThan(half);
    expect(Math.abs(centre.lat - lat)).toBeLessThan(half * 1.01);
    // From the tile on its left, the same alert is in the halo, 256 columns further right.
    const left = render(geo, v, { ...t, x: t.x - 1 }, a.col[0] + 4);
    expect(list(left)).toEqual([[a.row[0], a.col[0] + 256, 42, 2]]);
  });
});

describe('zoomAdvice and bounds', () => {
  const gladL: RasterGeo = { crs: 'EPSG:4326', originX: 10, originY: 0, resX: 0.00025, resY: -0.00025, width: 40000, height: 40000 };
  it('z12 matches 0.00025° (GLAD-L); z10 is 4× coarser: warn and name z12', () => {
    expect(zoomAdvice(gladL, 12)).toEqual({ ratio: expect.closeTo(1.37, 2), matchingZ: 12 });
    const coarse = zoomAdvice(gladL, 10);
    expect(coarse.matchingZ).toBe(12);
    expect(coarse.warning).toBe('z=10 pixels are 5.5× coarser than the raster\'s (0.00025 °); z=12 matches it');
    expect(zoomAdvice({ ...gladL, resX: 0.0001 }, 14).matchingZ).toBe(14);
    expect(zoomAdvice(mercatorGeo(12, 0, 0, 1, 1), 12)).toEqual({ ratio: expect.closeTo(1, 9), matchingZ: 12 });
  });
  it('rasterBounds', () => {
    expect(rasterBounds(gladL)).toEqual({ west: 10, east: 20, south: -10, north: 0 });
    const b = rasterBounds(mercatorGeo(1, 256, 256, 256, 256));
    expect(b.west).toBeCloseTo(0, 9);
    expect(b.east).toBeCloseTo(180, 9);
    expect(b.north).toBeCloseTo(0, 9);
    expect(b.south).toBeCloseTo(-85.0511287798, 6);
  });
});

// ---------- files ----------

// GDAL (Debian's gdal-bin, installed by .ci/run) writes the tiled, COG and EPSG:4326 variants.
const gdal = (...args: string[]) => execFileSync(args[0], ['-q', ...args.slice(1)], { stdio: ['ignore', 'ignore', 'pipe'] });

describe('GeoTIFF / COG rasters', () => {
  let dir: string;
  const world = { seed: 11, density: 3000 };
  const bounds = { z: 12, x0: 1200, y0: 2000, x1: 1201, y1: 2001 };
  let aligned: DateConfRaster;
  const files: Record<string, string> = {};

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rasters-'));
    aligned = syntheticDateConfRaster({ ...bounds, ...world }, glad);
    files.striped = join(dir, 'striped-3857.tif');
    await writeFile(files.striped, new Uint8Array(dateConfTiff(aligned)));
    files.tiled = join(dir, 'tiled-3857.tif');
    gdal('gdal_translate', '-co', 'TILED=YES', '-co', 'BLOCKXSIZE=128', '-co', 'BLOCKYSIZE=128', '-co', 'COMPRESS=DEFLATE', files.striped, files.tiled);
    files.cog = join(dir, 'cog-3857.tif');
    gdal('gdal_translate', '-of', 'COG', '-co', 'COMPRESS=DEFLATE', '-co', 'BLOCKSIZE=256', files.striped, files.cog);
    // The same pixels in EPSG:4326 (nearest, at about the same resolution), striped and tiled.
    files.geo4326 = join(dir, 'striped-4326.tif');
    gdal('gdalwarp', '-t_srs', 'EPSG:4326', '-r', 'near', '-co', 'TILED=NO', files.striped, files.geo4326);
    files.tiled4326 = join(dir, 'tiled-4326.tif');
    gdal('gdal_translate', '-co', 'TILED=YES', files.geo4326, files.tiled4326);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('an aligned raster gives exactly the alerts the same data gives as PNG tiles (striped, tiled, COG)', async () => {
    const decoder = datasetDecoder(glad);
    for (const kind of ['striped', 'tiled', 'cog']) {
      const raster = await openRaster(files[kind]);
      expect(raster.geo.crs).toBe('EPSG:3857');
      const source = rasterAlertSource([raster], glad);
      for (const tile of [
        { z: 12, x: 1200, y: 2000 },
        { z: 12, x: 1201, y: 2001 },
      ]) {
        const png = encodeDatasetTile(syntheticTile({ ...tile, ...world }), glad);
        const fromPng = decoder.decode(png, EVERY_DAY, tile);
        const fromRaster = await source.alerts(tile, EVERY_DAY);
        expect(fromRaster.length, kind).toBeGreaterThan(1000);
        expect(list(fromRaster), kind).toEqual(list(fromPng));
      }
      await raster.close();
    }
  });

  it('windows read from the decoded blocks hold what geotiff.js readRasters reads (strips, tiles, COG, predictor, edges)', async () => {
    files.oddTiles = join(dir, 'odd-tiles-4326.tif');
    gdal('gdal_translate', '-co', 'TILED=YES', '-co', 'BLOCKXSIZE=48', '-co', 'BLOCKYSIZE=32', '-co', 'COMPRESS=DEFLATE', '-co', 'PREDICTOR=2', files.geo4326, files.oddTiles);
    files.lzwStrips = join(dir, 'lzw-strips-4326.tif');
    gdal('gdal_translate', '-co', 'BLOCKYSIZE=7', '-co', 'COMPRESS=LZW', files.geo4326, files.lzwStrips);
    for (const kind of ['striped', 'tiled', 'cog', 'geo4326', 'tiled4326', 'oddTiles', 'lzwStrips']) {
      const raster = await openRaster(files[kind]);
      const image = await (await fromFile(files[kind])).getImage(0);
      const { width, height } = raster.geo;
      const windows = [
        { i0: 0, j0: 0, i1: width, j1: height },
        { i0: 3, j0: 5, i1: 4, j1: 6 },
        { i0: 100, j0: 37, i1: 301, j1: 250 },
        { i0: width - 61, j0: height - 29, i1: width, j1: height },
        { i0: 0, j0: height - 1, i1: width, j1: height },
      ];
      for (const win of [...windows, ...windows]) {
        const expected = await image.readRasters({ window: [win.i0, win.j0, win.i1, win.j1], samples: [0], interleave: true });
        const values = await raster.readWindow(win);
        expect(values.length, kind).toBe(expected.length);
        expect(Buffer.from(new Uint16Array(Array.from(values)).buffer).equals(Buffer.from(new Uint16Array(expected as unknown as Uint16Array).buffer)), `${kind} ${JSON.stringify(win)}`).toBe(true);
      }
      expect(Array.from(await raster.readWindow(windows[0])).some((v) => v > 0), kind).toBe(true);
      await raster.close();
    }
  });

  it('the halo holds the neighbour tile\'s alerts, and a tile outside the raster has none', async () => {
    const raster = await openRaster(files.cog);
    const source = rasterAlertSource([raster], glad);
    const tile = { z: 12, x: 1200, y: 2000 };
    const withHalo = await source.alerts(tile, EVERY_DAY, 16);
    const right = await source.alerts({ ...tile, x: 1201 }, EVERY_DAY);
    const inHalo = list(withHalo).filter(([row, col]) => col >= 256 && row >= 0 && row < 256);
    const expected = list(right).filter(([, col]) => col < 16).map(([row, col, d, c]) => [row, col + 256, d, c]);
    expect(inHalo.sort()).toEqual(expected.sort());
    expect((await source.alerts({ ...tile, x: 1300 }, EVERY_DAY)).length).toBe(0);
    // Days and confidence filters.
    const high = await rasterAlertSource([raster], glad, 'high').alerts(tile, { startDays: isoToDays('2017-01-01'), endDays: isoToDays('2018-01-01') });
    expect(high.length).toBeGreaterThan(0);
    expect(Array.from(high.confidence).every((c) => c === 2)).toBe(true);
    await raster.close();
  });

  it('EPSG:4326 rasters, striped and tiled, read alike', async () => {
    const [striped, tiled] = [await openRaster(files.geo4326), await openRaster(files.tiled4326)];
    expect(striped.geo.crs).toBe('EPSG:4326');
    const tile = { z: 12, x: 1200, y: 2001 };
    const a = await rasterAlertSource([striped], glad).alerts(tile, EVERY_DAY);
    const b = await rasterAlertSource([tiled], glad).alerts(tile, EVERY_DAY);
    expect(a.length).toBeGreaterThan(1000);
    expect(list(a)).toEqual(list(b));
    await striped.close();
    await tiled.close();
  });

  it('a COG over HTTP reads a small fraction of the file for one tile', async () => {
    // A bigger COG: 6×6 z12 tiles.
    const big = syntheticDateConfRaster({ z: 12, x0: 1200, y0: 2000, x1: 1205, y1: 2005, ...world }, glad);
    const src = join(dir, 'big.tif');
    const cog = join(dir, 'big-cog.tif');
    await writeFile(src, new Uint8Array(dateConfTiff(big)));
    gdal('gdal_translate', '-of', 'COG', '-co', 'COMPRESS=DEFLATE', '-co', 'BLOCKSIZE=256', src, cog);
    const bytes = readFileSync(cog);
    let sent = 0;
    const server = createServer((req, res) => {
      const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
      if (!m) return void res.writeHead(200, { 'content-length': bytes.length }).end(bytes);
      const [start, end] = [Number(m[1]), Math.min(Number(m[2]), bytes.length - 1)];
      sent += end - start + 1;
      res.writeHead(206, { 'content-range': `bytes ${start}-${end}/${bytes.length}`, 'content-length': end - start + 1 }).end(bytes.subarray(start, end + 1));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/big-cog.tif`;
      const raster = await openRaster(url);
      const tile = { z: 12, x: 1203, y: 2004 };
      const a = await rasterAlertSource([raster], glad).alerts(tile, EVERY_DAY);
      const fromPng = datasetDecoder(glad).decode(encodeDatasetTile(syntheticTile({ ...tile, ...world }), glad), EVERY_DAY, tile);
      expect(list(a)).toEqual(list(fromPng));
      // One 256-px block of 36, plus the header: well under a tenth of the file.
      expect(sent / bytes.length).toBeLessThan(0.1);
      expect(sent).toBeGreaterThan(0);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('s3:// reads by ranged GetObject', async () => {
    const s3dir = join(dir, 's3');
    const s3rver = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: s3dir });
    const { port } = (await s3rver.run()) as AddressInfo;
    const s3 = new S3Client({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    try {
      await s3.send(new CreateBucketCommand({ Bucket: 'lake' }));
      await s3.send(new PutObjectCommand({ Bucket: 'lake', Key: 'glad/cog.tif', Body: readFileSync(files.cog) }));
      const raster = await openRaster('s3://lake/glad/cog.tif', { s3 });
      const tile = { z: 12, x: 1201, y: 2000 };
      const a = await rasterAlertSource([raster], glad).alerts(tile, EVERY_DAY);
      const local = await rasterAlertSource([await openRaster(files.cog)], glad).alerts(tile, EVERY_DAY);
      expect(a.length).toBeGreaterThan(1000);
      expect(list(a)).toEqual(list(local));
    } finally {
      s3.destroy();
      await s3rver.close();
    }
  });

  it('bad input: each is one clear line naming what is supported', async () => {
    const png = join(dir, 'tile.png');
    await writeFile(png, encodeDatasetTile(syntheticTile({ z: 12, x: 1200, y: 2000, ...world }), glad));
    const plain = join(dir, 'plain.tif');
    gdal('gdal_translate', '-co', 'PROFILE=BASELINE', files.striped, plain);
    const utm = join(dir, 'utm.tif');
    gdal('gdal_translate', '-a_srs', 'EPSG:32633', '-a_ullr', '500000', '100000', '600000', '0', files.striped, utm);
    const float = join(dir, 'float.tif');
    gdal('gdal_translate', '-ot', 'Float32', files.striped, float);
    const cases: [string, RegExp][] = [
      [png, /^raster .*tile\.png: not a TIFF \(expected a date_conf GeoTIFF\/COG: one uint16 band, EPSG:4326 or EPSG:3857/],
      [plain, /plain\.tif: no georeferencing/],
      [utm, /utm\.tif: CRS EPSG:32633 is not supported \(supported: EPSG:4326, EPSG:3857/],
      [float, /float\.tif: pixels are float32; date_conf rasters are uint16/],
      [join(dir, 'missing.tif'), /missing\.tif: no such file/],
      ['ftp://host/x.tif', /ftp:\/\/host\/x\.tif: unsupported scheme ftp:\/\//],
    ];
    for (const [location, pattern] of cases) {
      const err: Error = await openRaster(location).then(
        () => new Error('opened'),
        (e) => e,
      );
      expect(err.message).toMatch(pattern);
      expect(err.message).not.toContain('\n');
    }
    expect(statSync(files.striped).size).toBeGreaterThan(0);
  });
});
