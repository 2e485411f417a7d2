// A run = one clustering job over a region. Its id is a hash of its normalised parameters, so the
// same parameters always give the same id (re-enqueueing a run overwrites, never duplicates).
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { validateTemplate } from '../tiles/tile-url.ts';
import { confidenceLevel, DEFAULT_DATASET, datasetByName, datasetOfSpec } from '../tiles/datasets.ts';
import type { ConfidenceName, DatasetName } from '../tiles/datasets.ts';
import { clusterParamFields, dateFields, dateOrderProblem, datasetFields, REQUEST_DEFAULTS, timeWidthProblem, type Field } from './request.ts';
import { crossesAntimeridian, eachTileInBounds, indexInBounds, lonLatBoxToTileBounds, lonLatToTile, tileCount, tilesInBounds, validateTileBounds, validateTypedTileBounds, MAX_LATITUDE, MAX_ZOOM } from '../tiles/grid.ts';
import type { TileBounds } from '../tiles/grid.ts';
import type { ClusterParams } from '../meanshift/types.ts';
import type { TileAddress } from '../tiles/types.ts';
import { aoiTiles, parseAreas, type AoiSpec } from '../tiles/areas.ts';

/** The region of a run, in any of the forms the user may give it. */
export type Region =
  | { kind: 'tiles'; x0: number; y0: number; x1: number; y1: number }
  | { kind: 'bbox'; west: number; south: number; east: number; north: number }
  | { kind: 'point'; lon: number; lat: number }
  | { kind: 'tile'; x: number; y: number }
  /** Areas of interest: a GeoJSON Polygon, MultiPolygon, Feature or FeatureCollection in lon/lat. */
  | { kind: 'aoi'; geojson: unknown };

/**
 * One raster a run reads, with its identity when the run was submitted (so a changed file makes a
 * new run): its size and mtime (a file) or ETag (http(s), s3). See core/store/raster-source.ts.
 */
export interface RasterRef {
  /** Path, file://, http(s):// or s3:// address. */
  url: string;
  size: number;
  mtime?: string;
  etag?: string;
}

/** Where a run's alerts come from, besides the region (the fields a RunSpec carries). */
interface SourceFields {
  /** The alert dataset (core/tiles/datasets.ts): the tiles' address and encoding. Absent in a stored spec: glad-2018. */
  dataset?: DatasetName;
  /** The release `latest` was pinned to when the run was submitted (GFW: vYYYYMMDD); absent when the address names none. */
  version?: string;
  /** Minimum confidence kept (absent: every alert). */
  confidence?: ConfidenceName;
  /** Tile source template, e.g. `https://host/{z}/{x}/{y}.png` or `file:///dir/{z}/{x}/{y}.png` (absent with rasters). */
  tiles_url?: string;
  /** date_conf GeoTIFFs the run reads instead of tiles (absent with tiles_url). */
  rasters?: RasterRef[];
}

/** What a user asks for: zoom, region, dates, clustering parameters and where alerts come from. */
interface RunParams extends ClusterParams, SourceFields {
  z: number;
  region: Region;
  start_date: string;
  end_date: string;
}

/**
 * Canonical form of a run (region resolved to inclusive tile bounds at z). This is what the id
 * hashes, what every tile message carries and what the manifest reports as `params`.
 * `region.x0 > region.x1` means the region crosses the antimeridian: columns x0..2^z-1, then 0..x1.
 */
export interface RunSpec extends ClusterParams, SourceFields {
  start_date: string;
  end_date: string;
  region: TileBounds;
  /**
   * Areas of interest (absent for a rectangle): the run's tiles are those at region.z that
   * intersect an area (core/tiles/areas.ts), and `region` is their bounding tile range.
   */
  aoi?: AoiSpec;
}

/** Runs larger than this many tiles are refused unless the caller raises the limit (`--max-tiles`). */
export const DEFAULT_MAX_TILES = 10_000;
/** Longest tiles URL template accepted (it travels in every message). */
const MAX_TILES_URL_LENGTH = 2048;
/** Most rasters a run reads, and the longest raster address (they travel in every message). */
export const MAX_RASTERS = 24;
const MAX_RASTER_URL_LENGTH = 400;

/** `r-` + 16 lowercase hex digits: safe in S3 keys and DynamoDB keys. */
const RUN_ID_PATTERN = /^r-[0-9a-f]{16}$/;

export function isRunId(value: unknown): value is string {
  return typeof value === 'string' && RUN_ID_PATTERN.test(value);
}

type ZodFields<F> = { [K in keyof F]: F[K] extends Field<infer T> ? (F[K] extends { optional: true } ? z.ZodOptional<z.ZodType<T>> : z.ZodType<T>) : never };

/**
 * Request fields (core/run/request.ts) as zod schemas: the same rule, the same message; a field
 * named in `defaults` takes that value when absent, an optional one stays absent.
 */
export function zodFields<F extends Record<string, Field<unknown>>>(fields: F, defaults: Record<string, unknown> = {}): ZodFields<F> {
  const out: Record<string, z.ZodType> = {};
  for (const [key, field] of Object.entries(fields)) {
    const schema = z.custom((v) => field.is(v), { error: (issue) => field.problem(issue.input) });
    out[key] = field.optional ? schema.optional() : key in defaults ? schema.default(defaults[key]) : schema;
  }
  return out as ZodFields<F>;
}

/** Adds `message` (if any) as an issue at `path`. */
export function addProblem(ctx: z.RefinementCtx, path: string[], message: string | undefined): void {
  if (message !== undefined) ctx.addIssue({ code: 'custom', path, message });
}

/** One line naming the first problem of a failed parse, e.g. `width: must be in 0.5..256`. */
export function formatZodError(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid request';
  if (issue.code === 'unrecognized_keys') return `unknown key(s): ${issue.keys.join(', ')}`;
  if (issue.path.length === 0 && issue.code === 'invalid_type') return `request: must be a JSON object`;
  const where = issue.path.join('.');
  return where ? `${where}: ${issue.message}` : issue.message;
}

const finite = (what: string) => z.number({ error: `must be ${what}` }).finite(`must be ${what}`);
const index = z.number({ error: 'must be an integer >= 0' }).int('must be an integer >= 0').min(0, 'must be an integer >= 0');

const regionSchema = z.discriminatedUnion(
  'kind',
  [
    z.strictObject({ kind: z.literal('tiles'), x0: index, y0: index, x1: index, y1: index }),
    z.strictObject({
      kind: z.literal('bbox'),
      west: finite('a longitude').min(-180).max(180),
      south: finite('a latitude').min(-90).max(90),
      east: finite('a longitude').min(-180).max(180),
      north: finite('a latitude').min(-90).max(90),
    }),
    z.strictObject({ kind: z.literal('point'), lon: finite('a longitude').min(-180).max(180), lat: finite('a latitude').min(-90).max(90) }),
    z.strictObject({ kind: z.literal('tile'), x: index, y: index }),
    z.strictObject({ kind: z.literal('aoi'), geojson: z.unknown() }),
  ],
  { error: 'must be one of {kind:"tiles",x0,y0,x1,y1}, {kind:"bbox",west,south,east,north}, {kind:"point",lon,lat}, {kind:"tile",x,y}, {kind:"aoi",geojson}' },
);

/** Schemes core/store/tile-sources.ts can read. */
const TILE_SCHEMES = ['http', 'https', 's3', 'file'];

const tilesUrl = z
  .string({ error: 'must be a tile URL template' })
  .min(1, 'must be a tile URL template')
  .max(MAX_TILES_URL_LENGTH, `must be at most ${MAX_TILES_URL_LENGTH} characters`)
  // Control characters (newlines…) have no place in a URL and could forge log lines.
  .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), 'must not contain control characters (newlines, tabs…)')
  .superRefine((s, ctx) => {
    const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(s)?.[1].toLowerCase();
    if (scheme !== undefined && !TILE_SCHEMES.includes(scheme)) {
      ctx.addIssue({ code: 'custom', message: `unsupported scheme ${scheme}:// (use ${TILE_SCHEMES.join(', ')} or a path)` });
      return;
    }
    // The template is copied into every message, result file, manifest and log line: no secrets in it.
    if (/^[a-z][a-z0-9+.-]*:\/\/[^/]*@/i.test(s)) {
      ctx.addIssue({ code: 'custom', message: 'must not contain credentials (user:password@): they would be copied into every message, result and log line' });
      return;
    }
    try {
      validateTemplate(s, { query: true });
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
    }
  });

const noControl = (s: string) => !/[\u0000-\u001f\u007f]/.test(s);

const rasterRef = z.strictObject({
  url: z
    .string({ error: 'must be a raster path or URL' })
    .min(1, 'must be a raster path or URL')
    .max(MAX_RASTER_URL_LENGTH, `must be at most ${MAX_RASTER_URL_LENGTH} characters`)
    .refine(noControl, 'must not contain control characters')
    .refine((s) => !/^[a-z][a-z0-9+.-]*:\/\/[^/]*@/i.test(s), 'must not contain credentials (user:password@)')
    .refine((s) => {
      const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(s)?.[1].toLowerCase();
      return scheme === undefined || ['http', 'https', 's3', 'file'].includes(scheme);
    }, 'must be a path, file://, http(s):// or s3:// address'),
  size: z.number().int().min(0),
  mtime: z.string().max(64).optional(),
  etag: z.string().max(200).refine(noControl, 'must not contain control characters').optional(),
});

const datasetSchemas = zodFields(datasetFields);

const sourceFields = {
  dataset: datasetSchemas.dataset.optional(),
  version: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be a release name such as v20240115').optional(),
  confidence: datasetSchemas.confidence,
  tiles_url: tilesUrl.optional(),
  rasters: z.array(rasterRef).min(1, 'must name at least one raster').max(MAX_RASTERS, `at most ${MAX_RASTERS} rasters`).optional(),
};

/**
 * Adds an issue unless the sources fit the dataset: tiles_url or rasters (one of them), and a
 * confidence level the dataset has (`highest` of GLAD-L would silently drop every alert). The
 * template's shape (placeholders in the path; a fixed query on http(s) only) is validateTemplate's.
 */
function checkSources(v: SourceFields, ctx: z.RefinementCtx, dataset = datasetOfSpec(v)): void {
  if ((v.tiles_url === undefined) === (v.rasters === undefined)) {
    ctx.addIssue({ code: 'custom', path: ['tiles_url'], message: v.rasters ? 'give tiles_url or rasters, not both' : 'required (or rasters)' });
    return;
  }
  if (v.confidence !== undefined) {
    try {
      confidenceLevel(dataset, v.confidence);
    } catch (error) {
      ctx.addIssue({ code: 'custom', path: ['confidence'], message: (error as Error).message });
    }
  }
}

const ZOOM_MESSAGE = `must be an integer in 0..${MAX_ZOOM}`;

const runParamsSchema = z
  .strictObject({
    // Every check carries the same message: zod's `error` option would otherwise also replace the
    // range messages (z: 40 was reported as "must be an integer").
    z: z
      .number({ error: (i) => (i.input === undefined ? 'required' : ZOOM_MESSAGE) })
      .int(ZOOM_MESSAGE)
      .min(0, ZOOM_MESSAGE)
      .max(MAX_ZOOM, ZOOM_MESSAGE),
    region: regionSchema,
    ...zodFields(dateFields, REQUEST_DEFAULTS),
    ...zodFields(clusterParamFields, REQUEST_DEFAULTS),
    ...sourceFields,
  })
  .superRefine((v, ctx) => {
    addProblem(ctx, ['end_date'], dateOrderProblem(v));
    addProblem(ctx, ['time_width'], timeWidthProblem(v));
    if (v.dataset !== undefined) checkSources(v, ctx);
    else checkSources(v, ctx, datasetByName(DEFAULT_DATASET));
  });

const boundsSchema = z.strictObject({
  z: z.number().int().min(0).max(MAX_ZOOM),
  x0: index,
  y0: index,
  x1: index,
  y1: index,
});

/** Shape of a normalised AOI in a RunSpec (validated in full once, by parseAreas, when the run is made). */
const position = z.tuple([z.number().finite(), z.number().finite()]);
const aoiSchema = z.strictObject({
  areas: z.array(z.strictObject({ name: z.string(), polygons: z.array(z.array(z.array(position).min(4)).min(1)).min(1) })).min(1),
});

/** Schema of a RunSpec (as carried by messages and stored in the ledger). */
const runSpecSchema = z
  .strictObject({
    ...zodFields(dateFields),
    ...zodFields(clusterParamFields),
    region: boundsSchema,
    ...sourceFields,
    aoi: aoiSchema.optional(),
  })
  .superRefine((v, ctx) => {
    addProblem(ctx, ['end_date'], dateOrderProblem(v));
    addProblem(ctx, ['time_width'], timeWidthProblem(v));
    checkSources(v, ctx);
    try {
      validateTileBounds(v.region);
    } catch (error) {
      ctx.addIssue({ code: 'custom', path: ['region'], message: (error as Error).message });
    }
  });

/**
 * The RunSpec of user run parameters: validated, clustering defaults filled, region resolved to
 * tile bounds at z (fixed key order); throws one line naming the problem.
 */
export function validateRunParams(input: unknown): RunSpec {
  const result = runParamsSchema.safeParse(input);
  if (!result.success) throw new Error(formatZodError(result.error));
  const params = result.data as RunParams;
  // An AOI run's region is the bounding tile range of the tiles touching its areas.
  const aoi = params.region.kind === 'aoi' ? parseAreas(params.region.geojson) : undefined;
  const spec: RunSpec = {
    start_date: params.start_date,
    end_date: params.end_date,
    width: params.width,
    min_count: params.min_count,
    iterations: params.iterations,
    algorithm: params.algorithm,
    region: aoi ? tilesBoundingRange(params.z, aoiTiles(aoi, params.z)) : regionToBounds(params.z, params.region),
    dataset: params.dataset ?? DEFAULT_DATASET,
  };
  // Optional fields only when set: an absent field stays out of the run id's JSON.
  if (params.time_width !== undefined) spec.time_width = params.time_width;
  if (params.version !== undefined) spec.version = params.version;
  if (params.confidence !== undefined) spec.confidence = params.confidence;
  if (params.tiles_url !== undefined) spec.tiles_url = params.tiles_url;
  if (params.rasters !== undefined) spec.rasters = params.rasters.map((r) => ({ ...r }));
  if (aoi) spec.aoi = aoi;
  return spec;
}

/**
 * Smallest tile range holding the tiles; it wraps round the antimeridian (x0 > x1) when that is
 * narrower (areas split at ±180 into a MultiPolygon).
 */
function tilesBoundingRange(z: number, tiles: readonly TileAddress[]): TileBounds {
  const xs = [...new Set(tiles.map((t) => t.x))].sort((a, b) => a - b);
  const ys = tiles.map((t) => t.y);
  const size = 2 ** z;
  // The widest empty run of columns, the wrap-around one (last → first) included.
  let gap = xs[0] + size - xs[xs.length - 1];
  let x0 = xs[0];
  let x1 = xs[xs.length - 1];
  for (let k = 1; k < xs.length; k++) {
    if (xs[k] - xs[k - 1] > gap) {
      gap = xs[k] - xs[k - 1];
      x0 = xs[k];
      x1 = xs[k - 1];
    }
  }
  return { z, x0, y0: Math.min(...ys), x1, y1: Math.max(...ys) };
}

/** Resolves the region to tile bounds at z; throws when the tiles are outside the grid. */
function regionToBounds(z: number, region: Region): TileBounds {
  let bounds: TileBounds;
  switch (region.kind) {
    case 'tiles':
      bounds = { z, x0: region.x0, y0: region.y0, x1: region.x1, y1: region.y1 };
      validateTypedTileBounds(bounds);
      break;
    case 'bbox':
      bounds = bboxToBounds(z, region);
      break;
    case 'point': {
      const t = lonLatToTile(region.lon, region.lat, z);
      bounds = { z, x0: t.x, y0: t.y, x1: t.x, y1: t.y };
      break;
    }
    case 'tile':
      bounds = { z, x0: region.x, y0: region.y, x1: region.x, y1: region.y };
      break;
    case 'aoi':
      throw new Error('an aoi region has no rectangle: validateRunParams resolves it');
  }
  validateTileBounds(bounds);
  return bounds;
}

/**
 * Tile bounds of a lon/lat box. west > east means the box crosses the antimeridian (the GeoJSON
 * bbox convention): the columns wrap, x0 > x1. Latitudes beyond ±85.0511 are clamped.
 */
function bboxToBounds(z: number, box: { west: number; south: number; east: number; north: number }): TileBounds {
  // ±180 is the same meridian: an edge there never makes a box cross it.
  const west = box.west === 180 ? -180 : box.west;
  const east = box.east === -180 ? 180 : box.east;
  if (west <= east) return lonLatBoxToTileBounds({ west, south: box.south, east, north: box.north }, z);
  const eastPart = lonLatBoxToTileBounds({ west, south: box.south, east: 180, north: box.north }, z);
  const westPart = lonLatBoxToTileBounds({ west: -180, south: box.south, east, north: box.north }, z);
  // The two parts meet or overlap: the box goes all the way round.
  if (westPart.x1 >= eastPart.x0 - 1) return { ...eastPart, x0: 0, x1: 2 ** z - 1 };
  return { ...eastPart, x1: westPart.x1 };
}

/**
 * Notes worth telling the user about how region `r` was read into `spec`: latitudes clamped to the
 * web-mercator limit, a box crossing the antimeridian. Empty when there is nothing to say.
 */
export function regionNotes(r: Region, spec: RunSpec): string[] {
  const notes: string[] = [];
  const lats = r.kind === 'bbox' ? [r.south, r.north] : r.kind === 'point' ? [r.lat] : [];
  const clamped = lats.filter((lat) => Math.abs(lat) > MAX_LATITUDE);
  if (clamped.length > 0) {
    notes.push(`latitude ${clamped.join(' and ')} clamped to ±${MAX_LATITUDE.toFixed(4)} (web-mercator tiles end there)`);
  }
  const b = spec.region;
  if (spec.aoi) {
    const n = (v: number) => v.toLocaleString('en-US');
    notes.push(`aoi: ${spec.aoi.areas.length} area${spec.aoi.areas.length > 1 ? 's' : ''} (${spec.aoi.areas.map((a) => a.name).join(', ')}) touch ${n(runTileCount(spec))} tiles of their ${n(tileCount(b))}-tile box`);
  }
  if (crossesAntimeridian(b)) {
    notes.push(`region crosses the antimeridian: columns x ${b.x0}..${2 ** b.z - 1} and 0..${b.x1} at z=${b.z}`);
  }
  return notes;
}

/**
 * Throws unless the run has at most `maxTiles` tiles; the message names the count and the flag
 * that lifts the limit. Guards against a typo in a region sending millions of messages.
 */
export function checkRunSize(spec: RunSpec, maxTiles: number = DEFAULT_MAX_TILES): void {
  const tiles = runTileCount(spec);
  if (tiles > maxTiles) {
    const n = (v: number) => v.toLocaleString('en-US');
    throw new Error(`region has ${n(tiles)} tiles, over the limit of ${n(maxTiles)}: pass --max-tiles ${tiles} to run it anyway`);
  }
}

/** Parses a RunSpec (e.g. out of a message); throws one line naming the problem. */
export function parseRunSpec(input: unknown): RunSpec {
  const result = runSpecSchema.safeParse(input);
  if (!result.success) throw new Error(`params.${formatZodError(result.error)}`);
  return result.data;
}

/** JSON with object keys sorted at every level: equal values give equal strings. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Id of a run: `r-` + the first 16 hex digits of sha256(canonical JSON of its RunSpec). */
export function runId(spec: RunSpec): string {
  return `r-${createHash('sha256').update(canonicalJson(spec)).digest('hex').slice(0, 16)}`;
}

/** Number of tiles of a run. */
export function runTileCount(spec: RunSpec): number {
  if (spec.aoi) return aoiTiles(spec.aoi, spec.region.z).length;
  return tileCount(spec.region);
}

/** The tiles of a run, row by row, each row west to east (across the antimeridian when it wraps). */
export function runTiles(spec: RunSpec): TileAddress[] {
  if (spec.aoi) return [...aoiTiles(spec.aoi, spec.region.z)];
  return tilesInBounds(spec.region);
}

/** runTiles one at a time, in the same order: what code that may meet a huge run iterates. */
export function eachRunTile(spec: RunSpec): Iterable<TileAddress> {
  if (spec.aoi) return aoiTiles(spec.aoi, spec.region.z);
  return eachTileInBounds(spec.region);
}

/** Index of each tile of an AOI run's list (kept with the cached list). */
const aoiIndexes = new WeakMap<readonly TileAddress[], Map<string, number>>();

/** Position of a tile in an AOI run's tile list, or -1. */
function aoiIndex(spec: RunSpec & { aoi: AoiSpec }, tile: TileAddress): number {
  if (tile.z !== spec.region.z) return -1;
  const tiles = aoiTiles(spec.aoi, spec.region.z);
  let index = aoiIndexes.get(tiles);
  if (!index) {
    index = new Map(tiles.map((t, i) => [`${t.x}/${t.y}`, i]));
    aoiIndexes.set(tiles, index);
  }
  return index.get(`${tile.x}/${tile.y}`) ?? -1;
}

/** True when the tile belongs to the run's region. */
export function tileInRun(spec: RunSpec, tile: TileAddress): boolean {
  if (spec.aoi) return aoiIndex({ ...spec, aoi: spec.aoi }, tile) >= 0;
  return indexInBounds(spec.region, tile) >= 0;
}

/** Position of a tile in its run (row-major, as runTiles lists them): the ledger counts tiles by this number. */
export function tileIndex(spec: RunSpec, tile: TileAddress): number {
  const index = spec.aoi ? aoiIndex({ ...spec, aoi: spec.aoi }, tile) : indexInBounds(spec.region, tile);
  if (index < 0) throw new Error(`tile ${tile.z}/${tile.x}/${tile.y} is outside the run's region`);
  return index;
}
