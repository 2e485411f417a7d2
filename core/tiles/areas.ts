// Areas of interest (AOI): GeoJSON polygons in lon/lat, validated and normalised once, then used
// for three things — the tiles a run covers (those that intersect an area, not its box), the
// alerts kept before clustering (inside an area), and the areas each cluster lies in.
//
// Pure: parsing the file's text is the caller's job (local/ or core/store). Geometry predicates
// are turf's (point in polygon, polygon–rectangle intersection, self-intersection by kinks); edges
// are straight lines in lon/lat, as RFC 7946 says, and a tile is a lon/lat rectangle.
import { booleanIntersects } from '@turf/boolean-intersects';
import { booleanPointInPolygon } from '@turf/boolean-point-in-polygon';
import { kinks } from '@turf/kinks';
import { polygon as turfPolygon, lineString } from '@turf/helpers';
import { area as turfArea } from '@turf/area';
import type { Feature, Polygon, Position } from 'geojson';
import { MAX_LATITUDE, tileBounds, pixelToLonLat, validateTile } from './grid.ts';
import type { TileAddress } from './types.ts';

/** One area: its name and its polygons (MultiPolygon coordinates, normalised). */
export interface AreaSpec {
  name: string;
  /** Polygons → rings → [lon, lat]; rings closed, exterior counter-clockwise, holes clockwise, 6 decimals. */
  polygons: Position[][][];
}

/** The areas of a run, in the order of the file's features (a RunSpec's `aoi`). */
export interface AoiSpec {
  areas: AreaSpec[];
}

/** Longest normalised AOI (canonical JSON characters): it travels in every tile message (SQS ≤ 256 KiB). */
export const MAX_AOI_CHARS = 100_000;
/** Coordinates are rounded to this many decimals (≈ 0.1 m): the same file always gives the same run id. */
const DECIMALS = 6;

const round = (v: number) => Math.round(v * 10 ** DECIMALS) / 10 ** DECIMALS;

function fail(message: string): never {
  throw new Error(`aoi: ${message}`);
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Areas of a GeoJSON value, each with its raw polygons and name (feature id, `name` property, index). */
function rawAreas(input: unknown): { name: string; polygons: unknown[]; where: string }[] {
  if (!isObject(input)) fail('not a GeoJSON object');
  const geometryPolygons = (g: unknown, where: string): unknown[] => {
    if (!isObject(g)) fail(`${where} has no geometry`);
    if (g.type === 'Polygon') return [g.coordinates];
    if (g.type === 'MultiPolygon') {
      if (!Array.isArray(g.coordinates) || g.coordinates.length === 0) fail(`${where}: MultiPolygon without polygons`);
      return g.coordinates;
    }
    return fail(`${where} is a ${String(g.type)}; only Polygon and MultiPolygon areas are supported`);
  };
  const fromFeature = (f: unknown, index: number, where: string) => {
    if (!isObject(f) || f.type !== 'Feature') fail(`${where} is not a Feature`);
    const props = isObject(f.properties) ? f.properties : {};
    const name =
      typeof f.id === 'string' || typeof f.id === 'number' ? String(f.id)
        : typeof props.name === 'string' || typeof props.name === 'number' ? String(props.name)
          : String(index);
    return { name, polygons: geometryPolygons(f.geometry, where), where: `area "${name}"` };
  };
  switch (input.type) {
    case 'Polygon':
    case 'MultiPolygon':
      return [{ name: '0', polygons: geometryPolygons(input, 'the geometry'), where: 'area "0"' }];
    case 'Feature':
      return [fromFeature(input, 0, 'the feature')];
    case 'FeatureCollection': {
      if (!Array.isArray(input.features) || input.features.length === 0) fail('the FeatureCollection has no features');
      return input.features.map((f, i) => fromFeature(f, i, `feature ${i}`));
    }
    default:
      return fail(`GeoJSON type ${JSON.stringify(input.type)} is not an area; give a Polygon, MultiPolygon, Feature or FeatureCollection`);
  }
}

/** Signed area of a ring in lon/lat (shoelace): > 0 counter-clockwise. */
function signedArea(ring: Position[]): number {
  let s = 0;
  for (let k = 0; k + 1 < ring.length; k++) s += ring[k][0] * ring[k + 1][1] - ring[k + 1][0] * ring[k][1];
  return s / 2;
}

function normaliseRing(raw: unknown, where: string): Position[] {
  if (!Array.isArray(raw)) fail(`${where} is not a list of positions`);
  const ring: Position[] = [];
  for (const [k, p] of raw.entries()) {
    if (!Array.isArray(p) || p.length < 2 || !p.slice(0, 2).every((v) => typeof v === 'number' && Number.isFinite(v))) {
      fail(`${where} position ${k} is not [longitude, latitude]`);
    }
    const [lon, lat] = p as number[];
    if (lon < -180 || lon > 180 || lat < -90 || lat > 90) {
      fail(`${where} position ${k} [${lon}, ${lat}] is not a lon/lat in degrees (longitude -180..180, latitude -90..90; reproject to EPSG:4326)`);
    }
    const q: Position = [round(lon), round(lat)];
    const last = ring[ring.length - 1];
    if (last && last[0] === q[0] && last[1] === q[1]) continue; // repeated position: dropped
    ring.push(q);
  }
  if (ring.length < 2) fail(`${where} has fewer than 4 positions`);
  const first = ring[0];
  const lastRaw = raw[raw.length - 1] as number[];
  if (round(lastRaw[0]) !== first[0] || round(lastRaw[1]) !== first[1]) {
    fail(`${where} is not closed (its last position must repeat its first, RFC 7946 §3.1.6)`);
  }
  if (ring.length < 4) fail(`${where} has fewer than 4 positions`);
  for (let k = 0; k + 1 < ring.length; k++) {
    if (Math.abs(ring[k + 1][0] - ring[k][0]) > 180) {
      fail(`${where} has an edge spanning more than 180° of longitude: cut the area at the antimeridian into a MultiPolygon (RFC 7946 §3.1.9)`);
    }
  }
  return ring;
}

/**
 * Validated, normalised areas of a GeoJSON value; throws one line starting `aoi:` naming the
 * problem. Holes are kept. Repairs (documented in docs/tiles.md): coordinates rounded to 6
 * decimals, repeated consecutive positions dropped, altitude dropped, rings rewound (exterior
 * counter-clockwise, holes clockwise). Errors: unclosed rings, self-intersections (turf kinks),
 * zero-area rings, edges spanning > 180° of longitude (an area across the antimeridian must be
 * split at ±180 into a MultiPolygon, as RFC 7946 asks), areas beyond the web-mercator latitudes,
 * duplicate names, too large an AOI.
 */
export function parseAreas(input: unknown): AoiSpec {
  const areas: AreaSpec[] = [];
  const names = new Set<string>();
  for (const raw of rawAreas(input)) {
    if (names.has(raw.name)) fail(`two areas are named "${raw.name}" (names come from the feature id, its "name" property, or its index)`);
    names.add(raw.name);
    const polygons: Position[][][] = raw.polygons.map((p, pi) => {
      const where = raw.polygons.length > 1 ? `${raw.where} polygon ${pi}` : raw.where;
      if (!Array.isArray(p) || p.length === 0) fail(`${where} has no rings`);
      const rings = p.map((r, ri) => normaliseRing(r, ri === 0 ? `${where} exterior ring` : `${where} hole ${ri - 1}`));
      const found = kinks(turfPolygon(rings)).features;
      if (found.length > 0) {
        const [lon, lat] = found[0].geometry.coordinates;
        fail(`${where} intersects itself near [${round(lon)}, ${round(lat)}] (${found.length} crossing${found.length > 1 ? 's' : ''}); fix it first, e.g. QGIS "Fix geometries" or ogr2ogr -makevalid`);
      }
      rings.forEach((ring, ri) => {
        if (signedArea(ring) === 0) fail(`${where} ${ri === 0 ? 'exterior ring' : `hole ${ri - 1}`} has no area`);
      });
      const oriented = rings.map((ring, ri) => ((signedArea(ring) > 0) === (ri === 0) ? ring : [...ring].reverse()));
      return oriented;
    });
    const lats = polygons.flatMap((p) => p[0].map((q) => q[1]));
    if (Math.min(...lats) >= MAX_LATITUDE || Math.max(...lats) <= -MAX_LATITUDE) {
      fail(`${raw.where} lies beyond latitude ±${MAX_LATITUDE.toFixed(4)}, where web-mercator tiles end`);
    }
    areas.push({ name: raw.name, polygons });
  }
  const aoi = { areas };
  const size = JSON.stringify(aoi).length;
  if (size > MAX_AOI_CHARS) {
    fail(`${size.toLocaleString('en-US')} characters of coordinates, over ${MAX_AOI_CHARS.toLocaleString('en-US')} (the area travels in every tile message): simplify it, e.g. mapshaper -simplify 10%`);
  }
  return aoi;
}

/** Ground area of the areas, hectares (turf's geodesic area; holes subtracted). */
export function aoiAreaHa(aoi: AoiSpec): number {
  let m2 = 0;
  for (const a of aoi.areas) for (const p of a.polygons) m2 += turfArea(turfPolygon(p));
  return m2 / 10_000;
}

// ---------------------------------------------------------------- prepared areas

interface PreparedPolygon {
  area: number;
  feature: Feature<Polygon>;
  rings: Feature<ReturnType<typeof lineString>['geometry']>[];
  west: number;
  south: number;
  east: number;
  north: number;
}

function prepare(aoi: AoiSpec): PreparedPolygon[] {
  const out: PreparedPolygon[] = [];
  aoi.areas.forEach((a, area) => {
    for (const p of a.polygons) {
      const lons = p[0].map((q) => q[0]);
      const lats = p[0].map((q) => q[1]);
      out.push({
        area,
        feature: turfPolygon(p),
        rings: p.map((r) => lineString(r)),
        west: Math.min(...lons), east: Math.max(...lons), south: Math.min(...lats), north: Math.max(...lats),
      });
    }
  });
  return out;
}

interface Box { west: number; south: number; east: number; north: number }

const overlaps = (a: Box, b: Box) => a.west <= b.east && b.west <= a.east && a.south <= b.north && b.south <= a.north;

function boxPolygon(b: Box): Feature<Polygon> {
  return turfPolygon([[[b.west, b.south], [b.east, b.south], [b.east, b.north], [b.west, b.north], [b.west, b.south]]]);
}

/** True when the box (closed) intersects any area. */
function boxIntersects(polygons: PreparedPolygon[], box: Box): boolean {
  const rect = boxPolygon(box);
  return polygons.some((p) => overlaps(p, box) && booleanIntersects(rect, p.feature));
}

/** Areas to test for points in `box`: those that may contain some, and whether each contains the whole box. */
function candidatesFor(polygons: PreparedPolygon[], box: Box): { p: PreparedPolygon; whole: boolean }[] {
  const rect = boxPolygon(box);
  const out: { p: PreparedPolygon; whole: boolean }[] = [];
  for (const p of polygons) {
    if (!overlaps(p, box) || !booleanIntersects(rect, p.feature)) continue;
    // The box is inside the polygon when no ring crosses it and one corner is inside.
    const whole = !p.rings.some((r) => booleanIntersects(r, rect)) && booleanPointInPolygon([box.west, box.south], p.feature);
    out.push({ p, whole });
  }
  return out;
}

// ---------------------------------------------------------------- tiles of the areas

const tileCache = new Map<string, TileAddress[]>();
const CACHE_SIZE = 8;

/**
 * The tiles at zoom z that intersect an area (touching counts), row by row (y), each row by x.
 * Found by descending the tile pyramid from zoom 0 and keeping only tiles that intersect, so the
 * cost follows the tiles touched, not the areas' box. Deterministic; cached for the last few AOIs.
 */
export function aoiTiles(aoi: AoiSpec, z: number): TileAddress[] {
  const key = `${z}:${JSON.stringify(aoi)}`;
  const hit = tileCache.get(key);
  if (hit) return hit;
  const polygons = prepare(aoi);
  let level: TileAddress[] = [{ z: 0, x: 0, y: 0 }];
  for (let zz = 0; zz <= z; zz++) {
    const kept = level.filter((t) => {
      const b = tileBounds(t);
      // Tiles end at ±85.0511: a box clamped there keeps polygons reaching beyond it.
      return boxIntersects(polygons, { ...b, north: b.north >= MAX_LATITUDE - 1e-9 ? 90 : b.north, south: b.south <= -MAX_LATITUDE + 1e-9 ? -90 : b.south });
    });
    if (zz === z) {
      level = kept;
      break;
    }
    level = kept.flatMap((t) => [
      { z: zz + 1, x: 2 * t.x, y: 2 * t.y }, { z: zz + 1, x: 2 * t.x + 1, y: 2 * t.y },
      { z: zz + 1, x: 2 * t.x, y: 2 * t.y + 1 }, { z: zz + 1, x: 2 * t.x + 1, y: 2 * t.y + 1 },
    ]);
  }
  const tiles = level.sort((a, b) => a.y - b.y || a.x - b.x);
  if (tileCache.size >= CACHE_SIZE) tileCache.delete(tileCache.keys().next().value as string);
  tileCache.set(key, tiles);
  return tiles;
}

// ---------------------------------------------------------------- alerts in the areas

/**
 * A point-in-areas test for the pixels of one tile and its halo (`margin` px around it): given a
 * pixel (col, row) of the tile (outside 0..255 for halo pixels), the indexes of the areas holding
 * its centre (boundary counts as inside); [] when none. Only areas meeting the tile+halo box are
 * tested, and an area holding the whole box answers without a test.
 */
export function areasAtPixels(aoi: AoiSpec, tile: TileAddress, margin: number): (col: number, row: number) => number[] {
  validateTile(tile);
  const nw = pixelToLonLat(tile, -margin - 0.5, -margin - 0.5);
  const se = pixelToLonLat(tile, 255.5 + margin, 255.5 + margin);
  const box = { west: nw.lon, north: nw.lat, east: se.lon, south: se.lat };
  const candidates = candidatesFor(prepare(aoi), box);
  if (candidates.length === 0) return () => [];
  return (col, row) => {
    const { lon, lat } = pixelToLonLat(tile, col, row);
    const found: number[] = [];
    for (const { p, whole } of candidates) {
      if (found.includes(p.area)) continue;
      if (whole || booleanPointInPolygon([lon, lat], p.feature)) found.push(p.area);
    }
    return found;
  };
}

/** The `areas` column value of a cluster: the names of the areas holding any member, as a JSON array. */
export function areaNames(aoi: AoiSpec, indexes: Iterable<number>): string {
  return JSON.stringify([...new Set(indexes)].sort((a, b) => a - b).map((k) => aoi.areas[k].name));
}
