// Rendering web-mercator tiles from `date_conf` rasters (pure: the reading is in core/store/raster-source.ts).
//
// A tile (with its halo) needs only a window of a raster: `tileWindow` computes it from the raster's
// georeferencing. `renderWindow` then puts the window's alerts into the tile's 256-px grid:
//  - pass A: each native pixel lands in the tile pixel that holds its CENTRE (so where tile pixels
//    are coarser than the raster, no alert is lost: earliest date, highest confidence win);
//  - pass B: each tile pixel takes the native pixel under its own centre (nearest), which is what
//    fills the tile where its pixels are finer than the raster's.
// Where tile pixels are coarser, B only finds pixels A already put there (the native pixel under a
// tile pixel's centre has its centre inside that tile pixel); where finer, A is a subset of B. So
// the union of the two is exactly the rule above, on each axis, with no regime switch.
// Both CRSs are separable (x depends on longitude only, y on latitude only), so each pass maps
// columns and rows once and the pixel loops are table lookups.
import { dateConfConfidence, dateConfDays } from './datasets.ts';
import { EARTH_RADIUS_M, MAX_ZOOM, TILE_SIZE, validateTile } from './grid.ts';
import { allocAlerts } from './decode.ts';
import type { Alerts, DayRange, TileAddress } from './types.ts';

export type RasterCrs = 'EPSG:4326' | 'EPSG:3857';
export const SUPPORTED_CRS: RasterCrs[] = ['EPSG:4326', 'EPSG:3857'];

/** Where a raster lies: pixel (i, j) covers [originX + i·resX, +resX) × [originY + j·resY, +resY). */
export interface RasterGeo {
  crs: RasterCrs;
  /** Corner of pixel (0, 0), CRS units (degrees or metres). */
  originX: number;
  originY: number;
  /** Pixel size, CRS units; resY < 0 for the usual north-up raster (as geotiff.js reports it). */
  resX: number;
  resY: number;
  width: number;
  height: number;
}

/** A pixel window [i0, i1) × [j0, j1) of a raster. */
export interface PixelWindow {
  i0: number;
  j0: number;
  i1: number;
  j1: number;
}

/** Half the web-mercator world width, metres. */
const HALF_WORLD = Math.PI * EARTH_RADIUS_M;

// Projected EPSG codes that are web mercator under another name (old and Esri aliases).
const WEB_MERCATOR_CODES = new Set([3857, 3785, 900913, 102100, 102113]);
const USER_DEFINED = 32767;

/**
 * The CRS of a GeoTIFF from its GeoKeys (as geotiff.js `getGeoKeys` returns them), or an Error in
 * one line naming what it is and the supported ones.
 */
export function crsFromGeoKeys(keys: Record<string, unknown> | null | undefined, where: string): RasterCrs {
  const supported = `supported: ${SUPPORTED_CRS.join(', ')}`;
  if (!keys) throw new Error(`${where}: no georeferencing (no GeoKeys; ${supported})`);
  const projected = keys.ProjectedCSTypeGeoKey;
  const geographic = keys.GeographicTypeGeoKey;
  if (typeof projected === 'number' && WEB_MERCATOR_CODES.has(projected)) return 'EPSG:3857';
  if (keys.GTModelTypeGeoKey === 2 && geographic === 4326) return 'EPSG:4326';
  const code = typeof projected === 'number' ? projected : geographic;
  const named = code === undefined ? 'no EPSG code' : code === USER_DEFINED ? 'a user-defined CRS' : `EPSG:${code}`;
  throw new Error(`${where}: CRS ${named} is not supported (${supported}; reproject with gdalwarp -t_srs EPSG:4326)`);
}

/** World size in pixels at zoom z. */
function worldPixels(z: number): number {
  return TILE_SIZE * 2 ** z;
}

// Per-axis conversions between CRS coordinates and global pixel coordinates at zoom z (fractional,
// 0 at the west/north edge of the world). Latitudes beyond ±85.05° map outside 0..worldPixels.
function crsXToGx(crs: RasterCrs, x: number, n: number): number {
  return crs === 'EPSG:4326' ? ((x + 180) / 360) * n : ((x + HALF_WORLD) / (2 * HALF_WORLD)) * n;
}
function gxToCrsX(crs: RasterCrs, gx: number, n: number): number {
  return crs === 'EPSG:4326' ? (gx / n) * 360 - 180 : (gx / n) * 2 * HALF_WORLD - HALF_WORLD;
}
function crsYToGy(crs: RasterCrs, y: number, n: number): number {
  if (crs === 'EPSG:3857') return ((HALF_WORLD - y) / (2 * HALF_WORLD)) * n;
  const rad = (y * Math.PI) / 180;
  return ((1 - Math.log(Math.tan(rad) + 1 / Math.cos(rad)) / Math.PI) / 2) * n;
}
function gyToCrsY(crs: RasterCrs, gy: number, n: number): number {
  if (crs === 'EPSG:3857') return HALF_WORLD - (gy / n) * 2 * HALF_WORLD;
  return (Math.atan(Math.sinh(Math.PI * (1 - (2 * gy) / n))) * 180) / Math.PI;
}

/** Native-pixel tolerance for window edges. */
const SNAP = 1e-6;

/** The global pixel span [g0, g1) of a tile with a halo, on one axis. */
function tileSpan(index: number, halo: number): [number, number] {
  return [index * TILE_SIZE - halo, (index + 1) * TILE_SIZE + halo];
}

function validateHalo(halo: number): void {
  if (!Number.isInteger(halo) || halo < 0 || halo > TILE_SIZE) throw new Error(`halo=${halo} must be an integer in 0..${TILE_SIZE}`);
}

/**
 * The raster pixels a tile (± halo pixels) can need: every native pixel the span touches, clamped
 * to the raster; null when the tile is outside it.
 */
export function tileWindow(geo: RasterGeo, tile: TileAddress, halo = 0): PixelWindow | null {
  validateTile(tile);
  validateHalo(halo);
  const n = worldPixels(tile.z);
  const [gx0, gx1] = tileSpan(tile.x, halo);
  const [gy0, gy1] = tileSpan(tile.y, halo);
  const ia = (gxToCrsX(geo.crs, gx0, n) - geo.originX) / geo.resX;
  const ib = (gxToCrsX(geo.crs, gx1, n) - geo.originX) / geo.resX;
  // A halo beyond the poles of the mercator square has no latitude: clamp to the world's rows.
  const ja = (gyToCrsY(geo.crs, Math.max(0, gy0), n) - geo.originY) / geo.resY;
  const jb = (gyToCrsY(geo.crs, Math.min(n, gy1), n) - geo.originY) / geo.resY;
  // Snap float noise (255.9999999 on an aligned raster) so an edge does not pull in a whole column.
  const i0 = Math.max(0, Math.floor(Math.min(ia, ib) + SNAP));
  const i1 = Math.min(geo.width, Math.ceil(Math.max(ia, ib) - SNAP));
  const j0 = Math.max(0, Math.floor(Math.min(ja, jb) + SNAP));
  const j1 = Math.min(geo.height, Math.ceil(Math.max(ja, jb) - SNAP));
  if (i0 >= i1 || j0 >= j1) return null;
  return { i0, j0, i1, j1 };
}

/** A tile's grid with its halo: side = 256 + 2·halo; days -1 = no alert (day 0 is 2015-01-01). */
export interface TileCanvas {
  tile: TileAddress;
  halo: number;
  side: number;
  days: Int32Array;
  confidence: Uint8Array;
  /** Indices of the pixels that hold an alert (days ≥ 0), in the order they got one. */
  filled: number[];
}

export function newCanvas(tile: TileAddress, halo = 0): TileCanvas {
  validateTile(tile);
  validateHalo(halo);
  const side = TILE_SIZE + 2 * halo;
  return { tile, halo, side, days: new Int32Array(side * side).fill(-1), confidence: new Uint8Array(side * side), filled: [] };
}

/** The smallest date_conf value that can be an alert (confidence 1, see datasets.ts `dateConfDays`). */
const MIN_ALERT = 20000;

/** Earliest date and highest confidence where alerts meet (order-independent). */
function merge(c: TileCanvas, k: number, days: number, confidence: number): void {
  const had = c.days[k];
  if (had < 0) c.filled.push(k);
  if (had < 0 || days < had) c.days[k] = days;
  if (confidence > c.confidence[k]) c.confidence[k] = confidence;
}

/**
 * Renders a window of `date_conf` values (row-major, window-sized, as read from the raster) into
 * the canvas, merging with what is there already (several rasters may cover one tile).
 * `offset` is the internal day of date_conf day 0 (see datasets.ts `dayOffset`).
 */
export function renderWindow(c: TileCanvas, geo: RasterGeo, win: PixelWindow, values: ArrayLike<number>, offset: number): void {
  const width = win.i1 - win.i0;
  const height = win.j1 - win.j0;
  if (values.length !== width * height) throw new Error(`window ${width}x${height} needs ${width * height} values, got ${values.length}`);
  const n = worldPixels(c.tile.z);
  const gxBase = c.tile.x * TILE_SIZE - c.halo;
  const gyBase = c.tile.y * TILE_SIZE - c.halo;
  const side = c.side;
  // Canvas index (or -1) of each window column/row's native centre: pass A.
  const colOf = new Int32Array(width);
  for (let i = 0; i < width; i++) {
    const g = Math.floor(crsXToGx(geo.crs, geo.originX + (win.i0 + i + 0.5) * geo.resX, n) - gxBase);
    colOf[i] = g >= 0 && g < side ? g : -1;
  }
  const rowOf = new Int32Array(height);
  for (let j = 0; j < height; j++) {
    const g = Math.floor(crsYToGy(geo.crs, geo.originY + (win.j0 + j + 0.5) * geo.resY, n) - gyBase);
    rowOf[j] = g >= 0 && g < side ? g : -1;
  }
  // The window's alerts, found once (most pixels are not: date_conf < 20000, mostly 0), as window
  // indices in row-major order; row j's are found[rowStart[j]..rowStart[j + 1]).
  const { found, count } = findAlerts(values);
  const rowStart = new Int32Array(height + 1);
  for (let f = 0; f < count; f++) rowStart[((found[f] / width) | 0) + 1]++;
  for (let j = 0; j < height; j++) rowStart[j + 1] += rowStart[j];
  // Pass A: each alert into the canvas pixel that holds its centre.
  for (let f = 0; f < count; f++) {
    const k = found[f];
    const j = (k / width) | 0;
    const r = rowOf[j];
    const col = colOf[k - j * width];
    if (r < 0 || col < 0) continue;
    const v = values[k];
    const days = dateConfDays(v, offset);
    if (days >= 0) merge(c, r * side + col, days, dateConfConfidence(v));
  }
  // Window column/row (or -1) under each canvas pixel's centre: pass B.
  const nativeCol = new Int32Array(side);
  const nativeRow = new Int32Array(side);
  for (let k = 0; k < side; k++) {
    const i = Math.floor((gxToCrsX(geo.crs, gxBase + k + 0.5, n) - geo.originX) / geo.resX) - win.i0;
    nativeCol[k] = i >= 0 && i < width ? i : -1;
    const gy = gyBase + k + 0.5;
    const j = gy < 0 || gy > n ? -1 : Math.floor((gyToCrsY(geo.crs, gy, n) - geo.originY) / geo.resY) - win.j0;
    nativeRow[k] = j >= 0 && j < height ? j : -1;
  }
  // The canvas columns [colFirst[i], colEnd[i]) whose centre is over window column i: a run, as
  // x is monotonic in the column on both sides (empty where colFirst is -1).
  const colFirst = new Int32Array(width).fill(-1);
  const colEnd = new Int32Array(width);
  for (let col = 0; col < side; col++) {
    const i = nativeCol[col];
    if (i < 0) continue;
    if (colFirst[i] < 0) colFirst[i] = col;
    colEnd[i] = col + 1;
  }
  // Pass B: each canvas row takes the alerts of the native row under it, in their columns' runs.
  for (let r = 0; r < side; r++) {
    const j = nativeRow[r];
    if (j < 0) continue;
    for (let f = rowStart[j]; f < rowStart[j + 1]; f++) {
      const k = found[f];
      const i = k - j * width;
      const first = colFirst[i];
      if (first < 0) continue;
      const v = values[k];
      const days = dateConfDays(v, offset);
      if (days < 0) continue;
      const confidence = dateConfConfidence(v);
      for (let col = first; col < colEnd[i]; col++) merge(c, r * side + col, days, confidence);
    }
  }
}

/** The indices of the values that may be alerts (≥ MIN_ALERT), in order: found[0..count). */
function findAlerts(values: ArrayLike<number>): { found: Int32Array; count: number } {
  const length = values.length;
  let found = new Int32Array(4096);
  let count = 0;
  const add = (k: number) => {
    if (count === found.length) {
      const more = new Int32Array(2 * found.length);
      more.set(found);
      found = more;
    }
    found[count++] = k;
  };
  let k = 0;
  if (values instanceof Uint16Array && values.byteOffset % 4 === 0) {
    // Four pixels per step where they are all zero (most of them): two 32-bit words.
    const words = new Uint32Array(values.buffer, values.byteOffset, length >> 1);
    const pairs = words.length & ~1;
    for (let m = 0; m < pairs; m += 2) {
      if ((words[m] | words[m + 1]) === 0) continue;
      for (let p = 2 * m; p < 2 * m + 4; p++) if (values[p] >= MIN_ALERT) add(p);
    }
    k = 2 * pairs;
  }
  for (; k < length; k++) if (values[k] >= MIN_ALERT) add(k);
  return { found, count };
}

/** The canvas's alerts within `range` and at or above `minLevel`, row-major; col/row relative to the tile. */
export function canvasAlerts(c: TileCanvas, range: DayRange, minLevel = 0): Alerts {
  const { days, confidence, side, halo } = c;
  // Only the filled pixels (few: most of a canvas has no alert), in canvas order.
  const filled = Int32Array.from(c.filled).sort();
  let n = 0;
  for (let m = 0; m < filled.length; m++) {
    const k = filled[m];
    const d = days[k];
    if (d >= range.startDays && d < range.endDays && confidence[k] >= minLevel) filled[n++] = k;
  }
  const out = allocAlerts(n);
  for (let m = 0; m < n; m++) {
    const k = filled[m];
    const row = (k / side) | 0;
    out.col[m] = k - row * side - halo;
    out.row[m] = row - halo;
    out.days[m] = days[k];
    out.confidence[m] = confidence[k];
  }
  out.length = n;
  return out;
}

/** How zoom z compares with a raster's resolution (x axis: the same at every latitude in both CRSs). */
export interface ZoomAdvice {
  /** Tile pixel width / native pixel width: > 1 means tile pixels are coarser. */
  ratio: number;
  /** The zoom whose pixels are closest to the raster's. */
  matchingZ: number;
  /** Set when z is more than 1.5× coarser than the raster (alerts get merged into fewer pixels). */
  warning?: string;
}

export function zoomAdvice(geo: RasterGeo, z: number): ZoomAdvice {
  const worldX = geo.crs === 'EPSG:4326' ? 360 : 2 * HALF_WORLD;
  const ratio = worldX / worldPixels(z) / Math.abs(geo.resX);
  const matchingZ = Math.max(0, Math.min(MAX_ZOOM, z + Math.round(Math.log2(ratio))));
  const advice: ZoomAdvice = { ratio, matchingZ };
  if (ratio > 1.5) {
    advice.warning = `z=${z} pixels are ${ratio.toFixed(1)}× coarser than the raster's (${Math.abs(geo.resX)} ${geo.crs === 'EPSG:4326' ? '°' : 'm'}); z=${matchingZ} matches it`;
  }
  return advice;
}

/** Lon/lat bounds of a raster (for a run's default region); latitudes as they are, not clamped. */
export function rasterBounds(geo: RasterGeo): { west: number; south: number; east: number; north: number } {
  const xs = [geo.originX, geo.originX + geo.width * geo.resX];
  const ys = [geo.originY, geo.originY + geo.height * geo.resY];
  const toLon = (x: number) => (geo.crs === 'EPSG:4326' ? x : (x / HALF_WORLD) * 180);
  const toLat = (y: number) => (geo.crs === 'EPSG:4326' ? y : (Math.atan(Math.sinh(y / EARTH_RADIUS_M)) * 180) / Math.PI);
  return {
    west: toLon(Math.min(...xs)),
    east: toLon(Math.max(...xs)),
    south: toLat(Math.min(...ys)),
    north: toLat(Math.max(...ys)),
  };
}
