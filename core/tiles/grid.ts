// Web-mercator (slippy map) tile math: tile addresses, pixel centres, tile ranges, ground sizes.
import type { TileAddress } from './types.ts';

/** Pixels along one side of a tile. */
export const TILE_SIZE = 256;
/** Highest zoom level accepted. */
export const MAX_ZOOM = 22;
/** Web-mercator latitude limit (the square world map ends here). */
export const MAX_LATITUDE = 85.0511287798066;
/** WGS84 equatorial radius used by web mercator, metres. */
export const EARTH_RADIUS_M = 6378137;

interface LonLat {
  lon: number;
  lat: number;
}

/** West/south/east/north edges of a tile, degrees. */
export interface LonLatBounds {
  west: number;
  south: number;
  east: number;
  north: number;
}

/**
 * Inclusive tile range at one zoom. x0 > x1 means the range crosses the antimeridian: columns
 * x0..2^z-1, then 0..x1 (rows never wrap).
 */
export interface TileBounds {
  z: number;
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** Throws unless z is an integer in 0..MAX_ZOOM. */
function validateZoom(z: number): void {
  if (!Number.isInteger(z) || z < 0 || z > MAX_ZOOM) {
    throw new Error(`z=${z} is out of range 0..${MAX_ZOOM} (integer)`);
  }
}

/** Throws unless z, x, y form a valid tile address; the message names the wrong value. */
export function validateTile(tile: TileAddress): void {
  validateZoom(tile.z);
  const max = 2 ** tile.z - 1;
  for (const key of ['x', 'y'] as const) {
    const v = tile[key];
    if (!Number.isInteger(v) || v < 0 || v > max) {
      throw new Error(`${key}=${v} is out of range 0..${max} at z=${tile.z}`);
    }
  }
}

/** `z/x/y`, the usual way to name a tile in messages and paths. */
export function tileKey(tile: TileAddress): string {
  return `${tile.z}/${tile.x}/${tile.y}`;
}

/** Longitude of a (fractional) tile x coordinate. */
function tileXToLon(x: number, z: number): number {
  return (x / 2 ** z) * 360 - 180;
}

/** Latitude of a (fractional) tile y coordinate (inverse Gudermannian). */
function tileYToLat(y: number, z: number): number {
  const n = Math.PI * (1 - (2 * y) / 2 ** z);
  return (Math.atan(Math.sinh(n)) * 180) / Math.PI;
}

/** Fractional tile x of a longitude. */
function lonToTileX(lon: number, z: number): number {
  return ((lon + 180) / 360) * 2 ** z;
}

/** Fractional tile y of a latitude (clamped to the web-mercator limits). */
function latToTileY(lat: number, z: number): number {
  const clamped = Math.max(-MAX_LATITUDE, Math.min(MAX_LATITUDE, lat));
  const rad = (clamped * Math.PI) / 180;
  return ((1 - Math.log(Math.tan(rad) + 1 / Math.cos(rad)) / Math.PI) / 2) * 2 ** z;
}

/** Lon/lat bounds of a tile. */
export function tileBounds(tile: TileAddress): LonLatBounds {
  validateTile(tile);
  const { z, x, y } = tile;
  return {
    west: tileXToLon(x, z),
    east: tileXToLon(x + 1, z),
    north: tileYToLat(y, z),
    south: tileYToLat(y + 1, z),
  };
}

/**
 * Lon/lat of the CENTRE of pixel (col, row) of a tile. col/row may be fractional (a cluster
 * centre) or outside 0..255 (a halo pixel of a neighbour tile).
 */
export function pixelToLonLat(tile: TileAddress, col: number, row: number): LonLat {
  const { z, x, y } = tile;
  return {
    lon: tileXToLon(x + (col + 0.5) / TILE_SIZE, z),
    lat: tileYToLat(y + (row + 0.5) / TILE_SIZE, z),
  };
}

/** Tile containing a lon/lat at zoom z (latitude clamped, edges clamped into the grid). */
export function lonLatToTile(lon: number, lat: number, z: number): TileAddress {
  validateZoom(z);
  const max = 2 ** z - 1;
  const clampIndex = (v: number) => Math.max(0, Math.min(max, Math.floor(v)));
  return { z, x: clampIndex(lonToTileX(lon, z)), y: clampIndex(latToTileY(lat, z)) };
}

/**
 * Inclusive tile range covering a lon/lat box at zoom z. Latitudes are clamped to ±85.0511.
 * A box edge lying exactly on a tile edge does not pull in the next tile.
 */
export function lonLatBoxToTileBounds(
  box: { west: number; south: number; east: number; north: number },
  z: number,
): TileBounds {
  validateZoom(z);
  const { west, south, east, north } = box;
  for (const [name, v] of Object.entries(box)) {
    if (!Number.isFinite(v)) throw new Error(`${name}=${v} is not a number`);
  }
  if (west > east) throw new Error(`west=${west} is east of east=${east}`);
  if (south > north) throw new Error(`south=${south} is north of north=${north}`);
  const max = 2 ** z - 1;
  const clampIndex = (v: number) => Math.max(0, Math.min(max, v));
  // The east/south edges are exclusive: step back a hair so an edge on a tile boundary stays out.
  const x0 = clampIndex(Math.floor(lonToTileX(west, z)));
  const x1 = clampIndex(Math.max(x0, Math.ceil(lonToTileX(east, z)) - 1));
  const y0 = clampIndex(Math.floor(latToTileY(north, z)));
  const y1 = clampIndex(Math.max(y0, Math.ceil(latToTileY(south, z)) - 1));
  return { z, x0, y0, x1, y1 };
}

/** Throws unless the bounds are tiles of the grid with y0 ≤ y1 (x0 > x1 wraps round the antimeridian). */
export function validateTileBounds(b: TileBounds): void {
  validateTile({ z: b.z, x: b.x0, y: b.y0 });
  validateTile({ z: b.z, x: b.x1, y: b.y1 });
  if (b.y0 > b.y1) throw new Error(`y0=${b.y0} is greater than y1=${b.y1}`);
}

/**
 * Bounds typed as a tile range: x0 > x1 is refused, not wrapped, since only a lon/lat box says which
 * way round a region goes.
 */
export function validateTypedTileBounds(b: TileBounds): void {
  if (b.x0 > b.x1) throw new Error(`x0=${b.x0} is greater than x1=${b.x1} (for a region across the antimeridian give a lon/lat box with west > east)`);
  validateTileBounds(b);
}

/** True when the bounds' columns wrap round the antimeridian. */
export function crossesAntimeridian(b: TileBounds): boolean {
  return b.x0 > b.x1;
}

/** Columns of the bounds, west to east across the antimeridian when they wrap. */
function columnCount(b: TileBounds): number {
  return b.x0 <= b.x1 ? b.x1 - b.x0 + 1 : 2 ** b.z - b.x0 + b.x1 + 1;
}

/** Position of column x from the west edge of the bounds, or -1 when x is not in them. */
function columnOffset(b: TileBounds, x: number): number {
  if (b.x0 <= b.x1) return x >= b.x0 && x <= b.x1 ? x - b.x0 : -1;
  if (x >= b.x0 && x < 2 ** b.z) return x - b.x0;
  if (x >= 0 && x <= b.x1) return 2 ** b.z - b.x0 + x;
  return -1;
}

/** Number of tiles in inclusive bounds. */
export function tileCount(b: TileBounds): number {
  validateTileBounds(b);
  return columnCount(b) * (b.y1 - b.y0 + 1);
}

/** All tiles in inclusive bounds, row by row, each row west to east (across the antimeridian when it wraps). */
export function tilesInBounds(b: TileBounds): TileAddress[] {
  return [...eachTileInBounds(b)];
}

/** tilesInBounds one at a time (a region of millions of tiles is never listed whole). */
export function* eachTileInBounds(b: TileBounds): Generator<TileAddress> {
  validateTileBounds(b);
  const columns = columnCount(b);
  const size = 2 ** b.z;
  for (let y = b.y0; y <= b.y1; y++) {
    for (let k = 0; k < columns; k++) yield { z: b.z, x: (b.x0 + k) % size, y };
  }
}

/** Position of a tile in tilesInBounds(b), or -1 when it is not in the bounds. */
export function indexInBounds(b: TileBounds, tile: TileAddress): number {
  if (tile.z !== b.z || tile.y < b.y0 || tile.y > b.y1) return -1;
  const offset = columnOffset(b, tile.x);
  return offset < 0 ? -1 : (tile.y - b.y0) * columnCount(b) + offset;
}

/** Ground size of one pixel side at a latitude and zoom, metres: 2πR·cos(lat) / (256·2^z). */
export function pixelSizeMeters(lat: number, z: number): number {
  validateZoom(z);
  return (2 * Math.PI * EARTH_RADIUS_M * Math.cos((lat * Math.PI) / 180)) / (TILE_SIZE * 2 ** z);
}

/** Ground area of one pixel at a latitude and zoom, hectares. */
export function pixelAreaHa(lat: number, z: number): number {
  const side = pixelSizeMeters(lat, z);
  return (side * side) / 10_000;
}
