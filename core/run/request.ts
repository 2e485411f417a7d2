// Validation of tile requests (`npm run tile`'s argument). Each field is a rule: a type guard and
// the one line that says what is wrong with a value. No zod here: `npm run tile` loads this file on
// every call and zod's ~90 modules cost ~0.1 s to load (docs/measurements.md, "Start-up"); the run
// parameters and queue messages wrap these same rules in zod schemas (`zodFields`, core/run/params.ts).
import { isIsoDate, isoToDays } from '../tiles/dates.ts';
import { MAX_ZOOM } from '../tiles/grid.ts';
import { ALGORITHMS, type Algorithm } from '../meanshift/types.ts';
import type { TileRequest } from '../clusters/types.ts';
import { CONFIDENCE_NAMES, confidenceLevel, DATASET_NAMES, DEFAULT_DATASET, datasetByName, type ConfidenceName, type DatasetName } from '../tiles/datasets.ts';

/** Defaults filled into a request. Dates default to "everything" (the old CLI always passed them). */
export const REQUEST_DEFAULTS = {
  start_date: '2015-01-01',
  end_date: '2030-01-01',
  width: 5,
  min_count: 25,
  iterations: 25,
  algorithm: 'standard',
} as const;

/** One field's rule: which values are valid, and the one-line problem of any other (`undefined`: the field is absent). */
export interface Field<T> {
  is(value: unknown): value is T;
  problem(value: unknown): string;
  /** Absent is valid too (and stays absent). */
  optional?: true;
}

/** The field, or nothing. */
const optional = <T>(field: Field<T>): Field<T> => ({ ...field, optional: true });

/** An integer in min..max: "required" when absent, "must be an integer" when not one, else `outOfRange`. */
function integer(min: number, max: number, outOfRange: string): Field<number> {
  return {
    is: (v): v is number => Number.isInteger(v) && (v as number) >= min && (v as number) <= max,
    problem: (v) => (v === undefined ? 'required' : Number.isInteger(v) ? outOfRange : 'must be an integer'),
  };
}

/** Tile address fields; x/y ranges depend on z, checked by `tileRangeProblem`. */
export const tileFields = {
  z: integer(0, MAX_ZOOM, `must be in 0..${MAX_ZOOM}`),
  x: integer(0, Infinity, 'must be >= 0'),
  y: integer(0, Infinity, 'must be >= 0'),
};

const isoDate: Field<string> = {
  is: isIsoDate,
  problem: (v) => (typeof v === 'string' ? `"${v}" is not a valid YYYY-MM-DD date` : v === undefined ? 'required' : 'must be a YYYY-MM-DD string'),
};

/** Date range fields (start inclusive, end exclusive); defaults in REQUEST_DEFAULTS. */
export const dateFields = { start_date: isoDate, end_date: isoDate };

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

/** A number (an integer if `isInteger`) within PARAM_BOUNDS[key], one message for every problem. */
function inRange(key: keyof typeof PARAM_BOUNDS, isInteger: boolean): Field<number> {
  const { min, max } = PARAM_BOUNDS[key];
  const message = isInteger ? `must be an integer in ${min}..${max}` : `must be in ${min}..${max}`;
  return {
    is: (v): v is number => typeof v === 'number' && (isInteger ? Number.isInteger(v) : Number.isFinite(v)) && v >= min && v <= max,
    problem: () => message,
  };
}

/** One of `values`; `problem` words the refusal. */
function oneOf<T extends string>(values: readonly T[], problem: (v: unknown) => string): Field<T> {
  return { is: (v): v is T => values.includes(v as T), problem };
}

/** Clustering parameter fields; defaults in REQUEST_DEFAULTS. */
export const clusterParamFields = {
  width: inRange('width', false),
  min_count: inRange('min_count', true),
  iterations: inRange('iterations', true),
  algorithm: oneOf<Algorithm>(ALGORITHMS, (v) => `"${String(v)}" is not one of ${ALGORITHMS.join(', ')}`),
  /** Absent: space only (today's clusters, today's run ids). */
  time_width: optional(inRange('time_width', true)),
};

/** The problem (of time_width) when it is given to `blurring`, which has no time kernel. */
export function timeWidthProblem(v: { algorithm: string; time_width?: number }): string | undefined {
  return v.time_width !== undefined && v.algorithm === 'blurring' ? 'blurring has no time kernel: use standard or flat' : undefined;
}

/** The dataset and minimum confidence (tile requests default to the default dataset and every alert). */
export const datasetFields = {
  dataset: oneOf<DatasetName>(DATASET_NAMES, (v) => `unknown dataset "${String(v)}" (known: ${DATASET_NAMES.join(', ')})`),
  confidence: optional(oneOf<ConfidenceName>(CONFIDENCE_NAMES, (v) => `"${String(v)}" is not one of ${CONFIDENCE_NAMES.join(', ')}`)),
};

/** The problem when x or y is outside the grid of zoom z (undefined when inside). */
export function tileRangeProblem(v: { z: number; x: number; y: number }): string | undefined {
  if (!Number.isInteger(v.z)) return undefined; // already reported by the field
  const max = 2 ** v.z - 1;
  for (const key of ['x', 'y'] as const) {
    if (v[key] > max) return `${key}=${v[key]} is out of range 0..${max} at z=${v.z}`;
  }
  return undefined;
}

/** The problem (of end_date) when end_date is not after start_date (undefined when it is). */
export function dateOrderProblem(v: { start_date: string; end_date: string }): string | undefined {
  if (!isIsoDate(v.start_date) || !isIsoDate(v.end_date)) return undefined; // already reported
  return isoToDays(v.end_date) <= isoToDays(v.start_date) ? `must be after start_date (${v.start_date})` : undefined;
}

const requestFields = { ...tileFields, ...dateFields, ...clusterParamFields, ...datasetFields };
const requestDefaults: Record<string, unknown> = { ...REQUEST_DEFAULTS, dataset: DEFAULT_DATASET };

/**
 * Validates a tile request and fills defaults; throws an Error with one line naming the first
 * problem (fields in order, then unknown keys, then how fields fit together), e.g. `width: must be in 0.5..256`.
 */
export function parseTileRequest(input: unknown): TileRequest {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) throw new Error('request: must be a JSON object');
  const raw = input as Record<string, unknown>;
  const v: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(requestFields)) {
    const value = raw[key] === undefined ? requestDefaults[key] : raw[key];
    if (value === undefined && field.optional) continue;
    if (!field.is(value)) throw new Error(`${key}: ${field.problem(value)}`);
    v[key] = value;
  }
  const unknown = Object.keys(raw).filter((key) => !Object.hasOwn(requestFields, key));
  if (unknown.length > 0) throw new Error(`unknown key(s): ${unknown.join(', ')}`);
  const r = v as unknown as TileRequest & { dataset: DatasetName };
  const outside = tileRangeProblem(r);
  if (outside) throw new Error(outside);
  const order = dateOrderProblem(r);
  if (order) throw new Error(`end_date: ${order}`);
  const timeWidth = timeWidthProblem(r);
  if (timeWidth) throw new Error(`time_width: ${timeWidth}`);
  if (r.confidence !== undefined) {
    try {
      confidenceLevel(datasetByName(r.dataset), r.confidence);
    } catch (error) {
      throw new Error(`confidence: ${(error as Error).message}`);
    }
  }
  // Fixed key order: the CLI echoes the request in this order.
  return {
    z: r.z,
    x: r.x,
    y: r.y,
    start_date: r.start_date,
    end_date: r.end_date,
    width: r.width,
    min_count: r.min_count,
    iterations: r.iterations,
    algorithm: r.algorithm,
    ...(r.time_width !== undefined ? { time_width: r.time_width } : {}),
    dataset: r.dataset,
    ...(r.confidence !== undefined ? { confidence: r.confidence } : {}),
  };
}
