// Validation of tile requests (CLI argument, queue message): zod schemas + a one-line error.
import { z } from 'zod';
import { isIsoDate, isoToDays } from '../tiles/dates.ts';
import { MAX_ZOOM } from '../tiles/grid.ts';
import { ALGORITHMS } from '../meanshift/types.ts';
import type { TileRequest } from '../clusters/types.ts';
import { CONFIDENCE_NAMES, confidenceLevel, DATASET_NAMES, DEFAULT_DATASET, datasetByName } from '../tiles/datasets.ts';

/** Defaults filled into a request. Dates default to "everything" (the old CLI always passed them). */
export const REQUEST_DEFAULTS = {
  start_date: '2015-01-01',
  end_date: '2030-01-01',
  width: 5,
  min_count: 25,
  iterations: 25,
  algorithm: 'standard',
} as const;

/** "required" for an absent field, otherwise `fallback`. */
const missingOr = (fallback: string) => (issue: { input: unknown }) =>
  issue.input === undefined ? 'required' : fallback;

const integer = (what: string) => z.number({ error: missingOr(`must be ${what}`) }).int(`must be ${what}`);

/** Tile address fields; x/y ranges depend on z, checked by `checkTileRange`. */
export const tileFields = {
  z: integer('an integer').min(0, `must be in 0..${MAX_ZOOM}`).max(MAX_ZOOM, `must be in 0..${MAX_ZOOM}`),
  x: integer('an integer').min(0, 'must be >= 0'),
  y: integer('an integer').min(0, 'must be >= 0'),
};

const isoDate = z
  .string({ error: missingOr('must be a YYYY-MM-DD string') })
  .refine(isIsoDate, { error: (i) => `"${String(i.input)}" is not a valid YYYY-MM-DD date` });

/** Date range fields (start inclusive, end exclusive), with defaults. */
export const dateFields = {
  start_date: isoDate.default(REQUEST_DEFAULTS.start_date),
  end_date: isoDate.default(REQUEST_DEFAULTS.end_date),
};

/**
 * The range of every clustering parameter (docs/clustering.md, "Parameter ranges"). Outside it the
 * work is unbounded: `flat` at width 0.005 allocated 24 GB, `standard` at 1e-155 collapsed to one
 * cluster, `blurring` with 1e9 iterations never ends.
 */
export const PARAM_BOUNDS = {
  /** Kernel width, px: below half a pixel no two alerts meet; 256 px is a whole tile. */
  width: { min: 0.5, max: 256 },
  /** Members a cluster needs: at most a million (more than the alerts of a tile and its 5×5 halo). */
  min_count: { min: 1, max: 1_000_000 },
  /** Passes of the mean shift: standard converges in ~25, blurring in fewer. */
  iterations: { min: 1, max: 1000 },
  /** Time scale of space–time clustering, days (optional): one day to ten years. */
  time_width: { min: 1, max: 3650 },
} as const;

const inRange = (key: keyof typeof PARAM_BOUNDS, isInteger: boolean) => {
  const { min, max } = PARAM_BOUNDS[key];
  const message = isInteger ? `must be an integer in ${min}..${max}` : `must be in ${min}..${max}`;
  const number = z.number({ error: message });
  return (isInteger ? number.int(message) : number).min(min, message).max(max, message);
};

/** Clustering parameter fields, with defaults. */
export const clusterParamFields = {
  width: inRange('width', false).default(REQUEST_DEFAULTS.width),
  min_count: inRange('min_count', true).default(REQUEST_DEFAULTS.min_count),
  iterations: inRange('iterations', true).default(REQUEST_DEFAULTS.iterations),
  algorithm: z
    .enum(ALGORITHMS, { error: (i) => `"${String(i.input)}" is not one of ${ALGORITHMS.join(', ')}` })
    .default(REQUEST_DEFAULTS.algorithm),
  /** Absent: space only (today's clusters, today's run ids). */
  time_width: inRange('time_width', true).optional(),
};

/** Adds an issue when time_width is given to `blurring`, which has no time kernel. */
export function checkTimeWidth(v: { algorithm: string; time_width?: number }, ctx: z.RefinementCtx): void {
  if (v.time_width !== undefined && v.algorithm === 'blurring') {
    ctx.addIssue({ code: 'custom', path: ['time_width'], message: 'blurring has no time kernel: use standard or flat' });
  }
}

/** Adds an issue unless x and y are inside the grid of zoom z. */
export function checkTileRange(v: { z: number; x: number; y: number }, ctx: z.RefinementCtx): void {
  if (!Number.isInteger(v.z)) return; // already reported by the field schema
  const max = 2 ** v.z - 1;
  for (const key of ['x', 'y'] as const) {
    if (v[key] > max) ctx.addIssue({ code: 'custom', path: [], message: `${key}=${v[key]} is out of range 0..${max} at z=${v.z}` });
  }
}

/** Adds an issue unless end_date is after start_date. */
export function checkDateOrder(v: { start_date: string; end_date: string }, ctx: z.RefinementCtx): void {
  if (!isIsoDate(v.start_date) || !isIsoDate(v.end_date)) return; // already reported
  if (isoToDays(v.end_date) <= isoToDays(v.start_date)) {
    ctx.addIssue({ code: 'custom', path: ['end_date'], message: `must be after start_date (${v.start_date})` });
  }
}

/** The dataset and minimum confidence of a tile request (defaults: the default dataset, every alert). */
const datasetFields = {
  dataset: z
    .enum(DATASET_NAMES, { error: (i) => `unknown dataset "${String(i.input)}" (known: ${DATASET_NAMES.join(', ')})` })
    .default(DEFAULT_DATASET),
  confidence: z.enum(CONFIDENCE_NAMES, { error: (i) => `"${String(i.input)}" is not one of ${CONFIDENCE_NAMES.join(', ')}` }).optional(),
};

/** A full tile request; unknown keys are rejected. */
export const tileRequestSchema = z
  .strictObject({ ...tileFields, ...dateFields, ...clusterParamFields, ...datasetFields })
  .superRefine((v, ctx) => {
    checkTileRange(v, ctx);
    checkDateOrder(v, ctx);
    checkTimeWidth(v, ctx);
    if (v.confidence === undefined) return;
    try {
      confidenceLevel(datasetByName(v.dataset), v.confidence);
    } catch (error) {
      ctx.addIssue({ code: 'custom', path: ['confidence'], message: (error as Error).message });
    }
  });

/** One line naming the first problem of a failed parse, e.g. `width: must be in 0.5..256`. */
export function formatZodError(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid request';
  if (issue.code === 'unrecognized_keys') return `unknown key(s): ${issue.keys.join(', ')}`;
  if (issue.path.length === 0 && issue.code === 'invalid_type') return `request: must be a JSON object`;
  const where = issue.path.join('.');
  return where ? `${where}: ${issue.message}` : issue.message;
}

/** Validates a tile request and fills defaults; throws an Error with one line naming the problem. */
export function parseTileRequest(input: unknown): TileRequest {
  const result = tileRequestSchema.safeParse(input);
  if (!result.success) throw new Error(formatZodError(result.error));
  const v = result.data;
  // Fixed key order: the CLI echoes the request in this order.
  return {
    z: v.z,
    x: v.x,
    y: v.y,
    start_date: v.start_date,
    end_date: v.end_date,
    width: v.width,
    min_count: v.min_count,
    iterations: v.iterations,
    algorithm: v.algorithm,
    ...(v.time_width !== undefined ? { time_width: v.time_width } : {}),
    dataset: v.dataset,
    ...(v.confidence !== undefined ? { confidence: v.confidence } : {}),
  };
}
