// Parquet files of one tile: clusters (one row per cluster, GeoParquet hull geometry, the tile's
// totals in the footer) and, in format 1 only, members (one row per alert). Written with
// hyparquet-writer, read back with hyparquet. Columns come from core/clusters/schema.ts.
//
// Formats (`format` in the footer's glad_clusters metadata and in the manifest):
//   1 — clusters.parquet + members.parquet per tile (also a zero-row clusters.parquet for an empty tile);
//   2 — one object per tile with clusters: each row of clusters.parquet carries its members in three
//       aligned list columns (member_row, member_col LIST<INT32>, member_date LIST<STRING>); an empty
//       tile has no object (the consumer records it in the ledger). Readers take both.
import { schemaFromColumnData } from 'hyparquet-writer';
/** The writer's own schema element type (hyparquet-writer has its own copy of hyparquet's types). */
type SchemaElement = ReturnType<typeof schemaFromColumnData>[number];
import type { Polygon } from 'geojson';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import type { ColumnSource } from 'hyparquet-writer';
import { bboxOf, hullPolygon } from '../clusters/geometry.ts';
import { durationDays } from '../clusters/records.ts';
import { columnSpec, STORED_COLUMNS } from '../clusters/schema.ts';
import type { Cluster, StoredCluster } from '../clusters/types.ts';
import { summarizeClusters } from './manifest.ts';
import type { RunSpec } from './params.ts';
import { RESULT_FORMAT, type TileTotals } from './types.ts';

export { RESULT_FORMAT };
import type { TileAddress } from '../tiles/types.ts';

/** A clusters-file row: a stored cluster without its members (they are in the members file). */
type ClustersFileRow = Omit<StoredCluster, 'alerts' | 'geometry'> & { geometry: Polygon };

/** A members-file row: one alert of cluster `cluster` (row number in the clusters file). */
export interface MemberRow {
  cluster: number;
  row: number;
  col: number;
  date: string;
}

/** What the clusters file says about itself (key-value metadata `glad_clusters`). */
export interface ClustersFileInfo {
  run_id: string;
  tile: TileAddress;
  params: RunSpec;
  nb_clusters: number;
  /** The tile's totals, so the aggregator reads only the footer. Absent in files written before. */
  totals?: TileTotals;
  /** RESULT_FORMAT of the writer; absent = 1 (members in members.parquet). */
  format?: number;
}


/** The member list columns of format 2, in order: row, col (INT32), date (STRING). */
export const MEMBER_COLUMNS = ['member_row', 'member_col', 'member_date'] as const;

/** The schema elements of a required LIST<type> column (the 3-level form DuckDB, Arrow and Spark read). */
function listColumn(name: string, element: SchemaElement): SchemaElement[] {
  return [
    { name, repetition_type: 'REQUIRED', converted_type: 'LIST', num_children: 1 },
    { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
    { ...element, name: 'element', repetition_type: 'REQUIRED' },
  ];
}

/** Key of our own key-value metadata entry. */
export const INFO_KEY = 'glad_clusters';

/** GeoParquet 1.1.0 `geo` metadata for the geometry column (CRS omitted = OGC:CRS84, lon/lat). */
export function geoMetadata(polygons: Polygon[]): string {
  const bbox = bboxOf(polygons);
  return JSON.stringify({
    version: '1.1.0',
    primary_column: 'geometry',
    columns: {
      geometry: { encoding: 'WKB', geometry_types: ['Polygon'], ...(bbox ? { bbox } : {}) },
    },
  });
}

/** A schema column of some rows, typed from the schema. */
export function schemaColumn(name: string, data: unknown[]): ColumnSource {
  const spec = columnSpec(name);
  if (!spec) throw new Error(`column ${name} is not in the schema`);
  return { name, type: spec.type, data, nullable: false };
}

/**
 * The clusters file of a tile. Zero clusters still gives a valid file with zero rows (the tile is
 * done and empty). `hull` is injectable for tests; by default the clusters' convex hull in lon/lat.
 */
export function writeClusters(
  info: Omit<ClustersFileInfo, 'nb_clusters' | 'totals' | 'format'> & { tile_alerts?: number },
  clusters: readonly Cluster[],
  hull: (cluster: Cluster) => Polygon = hullPolygon,
  options: { format?: 1 | 2 } = {},
): Uint8Array {
  const format = options.format ?? RESULT_FORMAT;
  const geometries = clusters.map(hull);
  const value = (c: Cluster, name: string) => (name === 'run_id' ? info.run_id : c[name as keyof Cluster]);
  const columnData = STORED_COLUMNS.map((name) => schemaColumn(name, clusters.map((c) => value(c, name))));
  columnData.push({ name: 'geometry', type: 'GEOMETRY', data: geometries, nullable: false });
  const { tile_alerts: tileAlerts, ...fileFields } = info;
  const totals = { ...summarizeClusters(clusters), ...(tileAlerts !== undefined ? { region_alerts: tileAlerts } : {}) };
  const fileInfo: ClustersFileInfo = { ...fileFields, nb_clusters: clusters.length, totals, ...(format > 1 ? { format } : {}) };
  let schema: SchemaElement[] | undefined;
  if (format > 1) {
    // The flat columns' schema as hyparquet-writer infers it, then the three member lists.
    schema = schemaFromColumnData({ columnData });
    schema[0] = { ...schema[0], num_children: columnData.length + MEMBER_COLUMNS.length };
    schema.push(
      ...listColumn('member_row', { name: 'element', type: 'INT32' }),
      ...listColumn('member_col', { name: 'element', type: 'INT32' }),
      ...listColumn('member_date', { name: 'element', type: 'BYTE_ARRAY', converted_type: 'UTF8' }),
    );
    // With an explicit schema, hyparquet-writer takes the types from it, not from the columns.
    for (const column of columnData) delete column.type;
    columnData.push(
      { name: 'member_row', data: clusters.map((c) => c.alerts.map((a) => a[0])), nullable: false },
      { name: 'member_col', data: clusters.map((c) => c.alerts.map((a) => a[1])), nullable: false },
      { name: 'member_date', data: clusters.map((c) => c.alerts.map((a) => a[2])), nullable: false },
    );
  }
  const buffer = parquetWriteBuffer({
    ...(schema ? { schema } : {}),
    columnData,
    kvMetadata: [
      { key: 'geo', value: geoMetadata(geometries) },
      { key: INFO_KEY, value: JSON.stringify(fileInfo) },
    ],
    createdBy: 'glad-clusters',
  });
  return new Uint8Array(buffer);
}

/** The members file of a tile: every alert of every cluster, in cluster order. */
export function writeMembers(clusters: readonly Cluster[]): Uint8Array {
  const cluster: number[] = [];
  const row: number[] = [];
  const col: number[] = [];
  const date: string[] = [];
  clusters.forEach((c, k) => {
    for (const [r, cl, d] of c.alerts) {
      cluster.push(k);
      row.push(r);
      col.push(cl);
      date.push(d);
    }
  });
  const buffer = parquetWriteBuffer({
    columnData: [
      { name: 'cluster', data: Int32Array.from(cluster), type: 'INT32', nullable: false },
      { name: 'row', data: Int32Array.from(row), type: 'INT32', nullable: false },
      { name: 'col', data: Int32Array.from(col), type: 'INT32', nullable: false },
      { name: 'date', data: date, type: 'STRING', nullable: false },
    ],
    createdBy: 'glad-clusters',
  });
  return new Uint8Array(buffer);
}

/** hyparquet reads from an ArrayBuffer holding exactly the file. */
function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/** The `glad_clusters` metadata of a clusters file (the whole file, or any tail holding its footer); throws when missing or unreadable. */
export function readClustersInfo(bytes: Uint8Array): ClustersFileInfo {
  const value = parquetMetadata(bytes).key_value_metadata?.find((kv) => kv.key === INFO_KEY)?.value;
  if (!value) throw new Error(`clusters file has no ${INFO_KEY} metadata`);
  return JSON.parse(value) as ClustersFileInfo;
}

/** Rows of a clusters file (geometry decoded back to GeoJSON by hyparquet), without their members. */
export async function readClusters(bytes: Uint8Array): Promise<ClustersFileRow[]> {
  return (await readClustersAndMembers(bytes)).rows;
}

/**
 * Rows of a clusters file and, for a format-2 file, each row's members ([row, col, date] per alert,
 * in file order); `members` is null for a format-1 file (they are in members.parquet).
 */
export async function readClustersAndMembers(bytes: Uint8Array): Promise<{ rows: ClustersFileRow[]; members: [number, number, string][][] | null }> {
  const rows = (await parquetReadObjects({ file: toArrayBuffer(bytes) })) as Record<string, unknown>[];
  // INT32 columns come back as numbers already; nothing to convert.
  const hasMembers = parquetMetadata(bytes).schema.some((e) => e.name === 'member_row');
  const members = hasMembers ? rows.map((r) => zipMembers(r.member_row, r.member_col, r.member_date)) : null;
  for (const r of rows) for (const name of MEMBER_COLUMNS) delete r[name];
  return { rows: rows.map(withDuration) as unknown as ClustersFileRow[], members };
}

/**
 * A row of a file written before `duration_days` existed gets it from its dates, as buildCluster
 * computes it, placed after `max_date` as in the schema; a row that has it is kept as stored.
 */
function withDuration(row: Record<string, unknown>): Record<string, unknown> {
  if ('duration_days' in row) return row;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) {
    out[key] = value;
    if (key === 'max_date') out.duration_days = durationDays(String(row.min_date), String(value));
  }
  return out;
}

function zipMembers(rows: unknown, cols: unknown, dates: unknown): [number, number, string][] {
  const r = (rows ?? []) as number[];
  const c = (cols ?? []) as number[];
  const d = (dates ?? []) as string[];
  if (r.length !== c.length || r.length !== d.length) throw new Error(`member columns of unequal lengths (${r.length}, ${c.length}, ${d.length})`);
  return r.map((row, k) => [Number(row), Number(c[k]), String(d[k])]);
}

/** Rows of a members file. */
export async function readMembers(bytes: Uint8Array): Promise<MemberRow[]> {
  const rows = await parquetReadObjects({ file: toArrayBuffer(bytes) });
  return rows as unknown as MemberRow[];
}
