// The one list of a cluster's columns. The clusters Parquet file, CSV, JSON, GeoJSON properties,
// GeoParquet export and the table text all take their columns, order and types from here, and the
// Cluster types (./types.ts) are derived from it: adding a column is one entry here plus its value.

/** Parquet physical type of a column (INT32 and DOUBLE read back as JS numbers). */
type ColumnType = 'INT32' | 'DOUBLE' | 'STRING';

interface ColumnSpec {
  name: string;
  /**
   * Who sets it: `cluster` the tile job (core/clusters/records.ts), `run` the store (the run id),
   * `row` the results table (the row id), `members` the members list, in full outputs only.
   */
  part: 'cluster' | 'run' | 'row' | 'members';
  /** `members` is a list of [row, col, date]: JSON text in CSV and GeoParquet. */
  type: ColumnType;
  /** Decimals in the table text (files keep full precision); default: integers as is, others 2. */
  decimals?: number;
  /** Position in the table's short view, the old notebook's `view()`; absent: not in it. */
  view?: number;
  /** What the value means, for readers of the schema. */
  doc?: string;
}

/** Every column, in output order. */
export const COLUMNS = [
  { name: 'row_id', part: 'row', type: 'INT32', view: 0, doc: 'stable id in the run (core/results/table.ts)' },
  { name: 'run_id', part: 'run', type: 'STRING' },
  { name: 'z', part: 'cluster', type: 'INT32', view: 8 },
  { name: 'x', part: 'cluster', type: 'INT32', view: 9 },
  { name: 'y', part: 'cluster', type: 'INT32', view: 10 },
  { name: 'col', part: 'cluster', type: 'DOUBLE', decimals: 2, doc: 'centre in tile pixels (float)' },
  { name: 'row', part: 'cluster', type: 'DOUBLE', decimals: 2 },
  { name: 'i', part: 'cluster', type: 'INT32', view: 11, doc: 'round(col)' },
  { name: 'j', part: 'cluster', type: 'INT32', view: 12, doc: 'round(row)' },
  { name: 'longitude', part: 'cluster', type: 'DOUBLE', decimals: 5, view: 7 },
  { name: 'latitude', part: 'cluster', type: 'DOUBLE', decimals: 5, view: 6 },
  { name: 'count', part: 'cluster', type: 'INT32', view: 1, doc: 'members (alerts)' },
  { name: 'count_low', part: 'cluster', type: 'INT32', view: 1.1, doc: 'members at low confidence (core/tiles/datasets.ts CONFIDENCE)' },
  { name: 'count_high', part: 'cluster', type: 'INT32', view: 1.2, doc: 'members at high confidence' },
  { name: 'count_highest', part: 'cluster', type: 'INT32', view: 1.3, doc: 'members at highest confidence (integrated alerts only)' },
  { name: 'area', part: 'cluster', type: 'DOUBLE', decimals: 1, view: 2, doc: "convex hull of the members' pixel centres, px²" },
  { name: 'area_ha', part: 'cluster', type: 'DOUBLE', decimals: 2, view: 3, doc: 'that hull in hectares at this latitude' },
  { name: 'alert_area_ha', part: 'cluster', type: 'DOUBLE', decimals: 2, doc: 'count × pixel ground area, hectares' },
  { name: 'min_date', part: 'cluster', type: 'STRING', view: 4, doc: 'YYYY-MM-DD' },
  { name: 'max_date', part: 'cluster', type: 'STRING', view: 5 },
  { name: 'duration_days', part: 'cluster', type: 'INT32', view: 5.1, doc: 'max_date − min_date in days: 0 when every member has one date (core/clusters/records.ts)' },
  { name: 'areas', part: 'cluster', type: 'STRING', doc: 'areas of interest holding its members, a JSON array of names ("" in a run without --aoi)' },
  { name: 'alerts', part: 'members', type: 'STRING', doc: 'the members, [row, col, "YYYY-MM-DD"], row-major' },
] as const satisfies readonly ColumnSpec[];

export type Column = (typeof COLUMNS)[number];
export type ColumnName = Column['name'];

type ValueOf<T extends ColumnType> = T extends 'STRING' ? string : number;
/** The typed fields of the columns of one part (`members` is typed by hand: a list, not text). */
export type FieldsOf<P extends Exclude<ColumnSpec['part'], 'members'>> = {
  [C in Column as C['part'] extends P ? C['name'] : never]: ValueOf<C['type']>;
};

const namesOf = (parts: readonly ColumnSpec['part'][]) => COLUMNS.filter((c) => parts.includes(c.part)).map((c) => c.name);

/** The clusters Parquet file's columns before `geometry` (core/run/parquet.ts). */
export const STORED_COLUMNS: readonly ColumnName[] = namesOf(['run', 'cluster']);
/** Every column of an output with members (`full`). */
export const ALL_COLUMNS: readonly ColumnName[] = COLUMNS.map((c) => c.name);
/** Columns of an output without members. */
export const SUMMARY_COLUMNS: readonly ColumnName[] = namesOf(['row', 'run', 'cluster']);
/** The table's short view, in view order. */
export const VIEW_COLUMNS: readonly ColumnName[] = COLUMNS.filter((c): c is Extract<Column, { view: number }> => 'view' in c)
  .sort((a, b) => a.view - b.view)
  .map((c) => c.name);

const byName = new Map<string, ColumnSpec>(COLUMNS.map((c) => [c.name, c]));

/** The column's spec, or undefined for a name outside the schema. */
export function columnSpec(name: string): ColumnSpec | undefined {
  return byName.get(name);
}
