// A run = one clustering job over a region. Its id is a hash of its normalised parameters, so the
// same parameters always give the same id (re-enqueueing a run overwrites, never duplicates).
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { validateTemplate } from './sources.ts';
import { checkDateOrder, clusterParamFields, dateFields, formatZodError } from './request.ts';
import { lonLatBoxToTileBounds, lonLatToTile, tileCount, tilesInBounds, validateTileBounds, MAX_ZOOM } from './tiles.ts';
import type { TileBounds } from './tiles.ts';
import type { ClusterParams, TileAddress, TileRequest } from './types.ts';

/** The region of a run, in any of the forms the user may give it. */
export type Region =
  | { kind: 'tiles'; x0: number; y0: number; x1: number; y1: number }
  | { kind: 'bbox'; west: number; south: number; east: number; north: number }
  | { kind: 'point'; lon: number; lat: number }
  | { kind: 'tile'; x: number; y: number };

/** What a user asks for: zoom, region, dates, clustering parameters and where tiles come from. */
export interface RunParams extends ClusterParams {
  z: number;
  region: Region;
  start_date: string;
  end_date: string;
  /** Tile source template, e.g. `https://host/{z}/{x}/{y}.png` or `file:///dir/{z}/{x}/{y}.png`. */
  tiles_url: string;
}

/**
 * Canonical form of a run (region resolved to inclusive tile bounds at z). This is what the id
 * hashes, what every tile message carries and what the manifest reports as `params`.
 */
export interface RunSpec extends ClusterParams {
  start_date: string;
  end_date: string;
  region: TileBounds;
  tiles_url: string;
}

/** `r-` + 16 lowercase hex digits: safe in S3 keys and DynamoDB keys. */
export const RUN_ID_PATTERN = /^r-[0-9a-f]{16}$/;

export function isRunId(value: unknown): value is string {
  return typeof value === 'string' && RUN_ID_PATTERN.test(value);
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
  ],
  { error: 'must be one of {kind:"tiles",x0,y0,x1,y1}, {kind:"bbox",west,south,east,north}, {kind:"point",lon,lat}, {kind:"tile",x,y}' },
);

const tilesUrl = z
  .string({ error: 'must be a tile URL template' })
  .min(1, 'must be a tile URL template')
  .superRefine((s, ctx) => {
    try {
      validateTemplate(s);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
    }
  });

const runParamsSchema = z
  .strictObject({
    z: z.number({ error: 'must be an integer' }).int('must be an integer').min(0).max(MAX_ZOOM),
    region: regionSchema,
    ...dateFields,
    ...clusterParamFields,
    tiles_url: tilesUrl,
  })
  .superRefine(checkDateOrder);

const boundsSchema = z.strictObject({
  z: z.number().int().min(0).max(MAX_ZOOM),
  x0: index,
  y0: index,
  x1: index,
  y1: index,
});

/** Schema of a RunSpec (as carried by messages and stored in the ledger). */
export const runSpecSchema = z
  .strictObject({
    start_date: dateFields.start_date.unwrap(),
    end_date: dateFields.end_date.unwrap(),
    width: clusterParamFields.width.unwrap(),
    min_count: clusterParamFields.min_count.unwrap(),
    iterations: clusterParamFields.iterations.unwrap(),
    algorithm: clusterParamFields.algorithm.unwrap(),
    region: boundsSchema,
    tiles_url: tilesUrl,
  })
  .superRefine((v, ctx) => {
    checkDateOrder(v, ctx);
    try {
      validateTileBounds(v.region);
    } catch (error) {
      ctx.addIssue({ code: 'custom', path: ['region'], message: (error as Error).message });
    }
  });

/** Validates user run parameters and fills clustering defaults; throws one line naming the problem. */
export function validateRunParams(input: unknown): RunParams {
  const result = runParamsSchema.safeParse(input);
  if (!result.success) throw new Error(formatZodError(result.error));
  const spec = result.data as RunParams;
  normalizeRunParams(spec); // range checks of the region at z
  return spec;
}

/** Resolves the region to tile bounds at z; throws when the tiles are outside the grid. */
export function regionToBounds(z: number, region: Region): TileBounds {
  let bounds: TileBounds;
  switch (region.kind) {
    case 'tiles':
      bounds = { z, x0: region.x0, y0: region.y0, x1: region.x1, y1: region.y1 };
      break;
    case 'bbox': {
      const { west, south, east, north } = region;
      bounds = lonLatBoxToTileBounds({ west, south, east, north }, z);
      break;
    }
    case 'point': {
      const t = lonLatToTile(region.lon, region.lat, z);
      bounds = { z, x0: t.x, y0: t.y, x1: t.x, y1: t.y };
      break;
    }
    case 'tile':
      bounds = { z, x0: region.x, y0: region.y, x1: region.x, y1: region.y };
      break;
  }
  validateTileBounds(bounds);
  return bounds;
}

/** The canonical RunSpec of some run parameters (fixed key order). */
export function normalizeRunParams(params: RunParams): RunSpec {
  const { x0, y0, x1, y1 } = regionToBounds(params.z, params.region);
  return {
    start_date: params.start_date,
    end_date: params.end_date,
    width: params.width,
    min_count: params.min_count,
    iterations: params.iterations,
    algorithm: params.algorithm,
    region: { z: params.z, x0, y0, x1, y1 },
    tiles_url: params.tiles_url,
  };
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
export function runId(params: RunParams | RunSpec): string {
  const spec = 'z' in params ? normalizeRunParams(params) : params;
  return `r-${createHash('sha256').update(canonicalJson(spec)).digest('hex').slice(0, 16)}`;
}

/** Number of tiles of a run. */
export function runTileCount(spec: RunSpec): number {
  return tileCount(spec.region);
}

/** The tiles of a run, row by row. */
export function runTiles(params: RunParams | RunSpec): TileAddress[] {
  const spec = 'z' in params ? normalizeRunParams(params) : params;
  return tilesInBounds(spec.region);
}

/** True when the tile belongs to the run's region. */
export function tileInRun(spec: RunSpec, tile: TileAddress): boolean {
  const b = spec.region;
  return tile.z === b.z && tile.x >= b.x0 && tile.x <= b.x1 && tile.y >= b.y0 && tile.y <= b.y1;
}

/** Position of a tile in its run (row-major), 0..tiles-1: the ledger counts tiles by this number. */
export function tileIndex(spec: RunSpec, tile: TileAddress): number {
  if (!tileInRun(spec, tile)) throw new Error(`tile ${tile.z}/${tile.x}/${tile.y} is outside the run's region`);
  const b = spec.region;
  return (tile.y - b.y0) * (b.x1 - b.x0 + 1) + (tile.x - b.x0);
}

/** The `npm run tile` request of one tile of a run. */
export function tileRequest(spec: RunSpec, tile: TileAddress): TileRequest {
  return {
    z: tile.z,
    x: tile.x,
    y: tile.y,
    start_date: spec.start_date,
    end_date: spec.end_date,
    width: spec.width,
    min_count: spec.min_count,
    iterations: spec.iterations,
    algorithm: spec.algorithm,
  };
}
