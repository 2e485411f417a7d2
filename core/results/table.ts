// Cluster records as a table: stable row ids, and sort / filter / slice with arquero.
//
// Row ids are what users type back (`cluster 82`, `--rows 82,3`), so they must not depend on how a
// view was sorted: each record gets the index it has in ONE canonical order of the whole run
// (tile z/y/x, then centre row/col), before any sorting or slicing.
import * as aq from 'arquero';
import { ALL_COLUMNS, SUMMARY_COLUMNS, type ColumnName } from '../clusters/schema.ts';
import type { ClusterRow, StoredCluster } from '../clusters/types.ts';

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
export function canonicalCompare(a: StoredCluster, b: StoredCluster): number {
  return (
    a.run_id.localeCompare(b.run_id) ||
    a.z - b.z || a.y - b.y || a.x - b.x ||
    a.row - b.row || a.col - b.col || a.count - b.count
  );
}

/** Records with row ids 0..n-1 in canonical order. Rows that already carry an id keep it. */
export function withRowIds(records: readonly (StoredCluster | ClusterRow)[]): ClusterRow[] {
  if (records.length > 0 && records.every((r) => 'row_id' in r && Number.isInteger(r.row_id))) {
    return [...(records as ClusterRow[])].sort((a, b) => a.row_id - b.row_id);
  }
  return [...records].sort(canonicalCompare).map((r, row_id) => ({ ...r, row_id }));
}

/** Throws `unknown column "aera"; columns: ...` unless `name` is a column. */
function checkColumn(name: string, allowed: readonly string[] = ALL_COLUMNS): ColumnName {
  if (!allowed.includes(name)) throw new Error(`unknown column "${name}"; columns: ${allowed.join(', ')}`);
  return name as ColumnName;
}

function checkCount(name: string, v: number | undefined): void {
  if (v !== undefined && (!Number.isInteger(v) || v < 0)) {
    throw new Error(`${name}=${v} must be a whole number ≥ 0`);
  }
}

/** Sort / filter / slice rows; every name and number is checked first with a one-line error. */
export function selectRows(rows: readonly ClusterRow[], options: SelectOptions = {}): ClusterRow[] {
  const { sort, desc, from, to, rows: ids, offset, limit } = options;
  checkCount('limit', limit);
  checkCount('offset', offset);
  for (const [name, date] of [['from', from], ['to', to]] as const) {
    if (date !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(date)) {
      throw new Error(`${name}="${date}" is not a YYYY-MM-DD date`);
    }
  }
  if (sort !== undefined) checkColumn(sort, SUMMARY_COLUMNS);

  let selected: ClusterRow[] = [...rows];
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
  return (table.objects() as ClusterRow[]).slice(start, end);
}

/** The rows with these ids, in the order given; an unknown id is a one-line error. */
function pickRows(rows: readonly ClusterRow[], ids: readonly number[]): ClusterRow[] {
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
