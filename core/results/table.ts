// Cluster records as a table: stable row ids, and sort / filter / slice with arquero.
//
// Row ids are what users type back (`cluster 82`, `--rows 82,3`), so they must not depend on how a
// view was sorted: each record gets the index it has in ONE canonical order of the whole run
// (tile z/y/x, then centre row/col), before any sorting or slicing.
import * as aq from 'arquero';
import type { GeoJsonPolygon } from '../clusters/records.ts';
import type { ClusterRecord } from '../clusters/types.ts';

/**
 * A cluster record of a run, as every output is built from. `geometry`: its convex hull in lon/lat
 * as stored in the clusters file, when it was loaded from one (exports compute it from `alerts` otherwise).
 */
export type RunRecord = ClusterRecord & { run_id: string; geometry?: GeoJsonPolygon };
/** A run record with its stable row id. */
export type ResultRow = RunRecord & { row_id: number };

/** Every column, in output order (`alerts` is the members list, kept for full outputs only). */
export const ALL_COLUMNS = [
  'row_id', 'run_id', 'z', 'x', 'y', 'col', 'row', 'i', 'j', 'longitude', 'latitude',
  'count', 'area', 'area_ha', 'alert_area_ha', 'min_date', 'max_date', 'alerts',
] as const satisfies readonly (keyof ResultRow)[];
export type Column = (typeof ALL_COLUMNS)[number];

/** The short view of the old notebook's `view()`: one line a cluster, what people sort and scan. */
export const VIEW_COLUMNS = [
  'row_id', 'count', 'area', 'area_ha', 'min_date', 'max_date', 'latitude', 'longitude', 'z', 'x', 'y', 'i', 'j',
] as const satisfies readonly Column[];

/** Columns of a non-full output: everything but the members list. */
export const SUMMARY_COLUMNS = ALL_COLUMNS.filter((c) => c !== 'alerts');

export interface SelectOptions {
  /** Column to sort by (ascending unless `desc`). Unsorted: row id order. */
  sort?: string;
  desc?: boolean;
  /** Keep only clusters whose dates overlap [from, to): ISO dates, either optional. */
  from?: string;
  to?: string;
  /** Keep only these row ids (in the order given). */
  rows?: number[];
  /** Skip this many rows after sorting, then keep at most `limit`. */
  offset?: number;
  limit?: number;
}

/** Canonical order of a run's records (stable whatever order the result files were read in). */
export function canonicalCompare(a: RunRecord, b: RunRecord): number {
  return (
    a.run_id.localeCompare(b.run_id) ||
    a.z - b.z || a.y - b.y || a.x - b.x ||
    a.row - b.row || a.col - b.col || a.count - b.count
  );
}

/** Records with row ids 0..n-1 in canonical order. Rows that already carry an id keep it. */
export function withRowIds(records: readonly (RunRecord | ResultRow)[]): ResultRow[] {
  if (records.length > 0 && records.every((r) => 'row_id' in r && Number.isInteger(r.row_id))) {
    return [...(records as ResultRow[])].sort((a, b) => a.row_id - b.row_id);
  }
  return [...records].sort(canonicalCompare).map((r, row_id) => ({ ...r, row_id }));
}

/** Throws `unknown column "aera"; columns: ...` unless `name` is a column. */
export function checkColumn(name: string, allowed: readonly string[] = ALL_COLUMNS): Column {
  if (!allowed.includes(name)) throw new Error(`unknown column "${name}"; columns: ${allowed.join(', ')}`);
  return name as Column;
}

function checkCount(name: string, v: number | undefined): void {
  if (v !== undefined && (!Number.isInteger(v) || v < 0)) {
    throw new Error(`${name}=${v} must be a whole number ≥ 0`);
  }
}

/** Sort / filter / slice rows; every name and number is checked first with a one-line error. */
export function selectRows(rows: readonly ResultRow[], options: SelectOptions = {}): ResultRow[] {
  const { sort, desc, from, to, rows: ids, offset, limit } = options;
  checkCount('limit', limit);
  checkCount('offset', offset);
  for (const [name, date] of [['from', from], ['to', to]] as const) {
    if (date !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(date)) {
      throw new Error(`${name}="${date}" is not a YYYY-MM-DD date`);
    }
  }
  if (sort !== undefined) checkColumn(sort, SUMMARY_COLUMNS);

  let selected: ResultRow[] = [...rows];
  if (ids !== undefined) selected = pickRows(selected, ids);
  // ISO dates compare correctly as strings.
  if (from !== undefined) selected = selected.filter((r) => r.max_date >= from);
  if (to !== undefined) selected = selected.filter((r) => r.min_date < to);
  if (selected.length === 0) return [];

  let table = aq.from(selected);
  if (sort !== undefined) table = table.orderby(desc ? aq.desc(sort) : sort);
  const start = offset ?? 0;
  const end = limit === undefined ? undefined : start + limit;
  // objects() honours orderby; slicing the array keeps arquero's sort and our bounds simple.
  return (table.objects() as ResultRow[]).slice(start, end);
}

/** The rows with these ids, in the order given; an unknown id is a one-line error. */
export function pickRows(rows: readonly ResultRow[], ids: readonly number[]): ResultRow[] {
  const byId = new Map(rows.map((r) => [r.row_id, r]));
  return ids.map((id) => {
    const row = byId.get(id);
    if (!row) {
      if (rows.length === 0) throw new Error(`no cluster with row id ${id}: this run has no clusters`);
      const max = rows.length - 1;
      throw new Error(`no cluster with row id ${id}; row ids are 0..${max} (${rows.length} clusters)`);
    }
    return row;
  });
}

/** Only the named columns of each row (for views and exports). */
export function project(rows: readonly object[], columns: readonly string[]): Record<string, unknown>[] {
  return rows.map((r) => Object.fromEntries(columns.map((c) => [c, (r as Record<string, unknown>)[c]])));
}
