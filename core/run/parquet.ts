// Parquet files of one tile: clusters (one row per cluster, GeoParquet hull geometry) and members
// (one row per alert). Written with hyparquet-writer, read back with hyparquet.
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import type { ColumnSource } from 'hyparquet-writer';
import { hullPolygon } from '../clusters/records.ts';
import type { RunSpec } from './params.ts';
import type { ClusterRecord } from '../clusters/types.ts';
import type { TileAddress } from '../tiles/types.ts';

/** GeoJSON polygon in lon/lat (what hyparquet-writer's GEOMETRY column takes). */
export interface Polygon {
  type: 'Polygon';
  coordinates: number[][][];
}

/** A clusters-file row: a ClusterRecord without its alerts, plus the run id and the hull. */
export interface ClusterRow extends Omit<ClusterRecord, 'alerts'> {
  run_id: string;
  geometry: Polygon;
}

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
}

/** Key of our own key-value metadata entry. */
export const INFO_KEY = 'glad_clusters';

/** Column order and Parquet types of the clusters file. */
const CLUSTER_COLUMNS = [
  ['run_id', 'STRING'],
  ['z', 'INT32'],
  ['x', 'INT32'],
  ['y', 'INT32'],
  ['col', 'DOUBLE'],
  ['row', 'DOUBLE'],
  ['i', 'INT32'],
  ['j', 'INT32'],
  ['longitude', 'DOUBLE'],
  ['latitude', 'DOUBLE'],
  ['count', 'INT32'],
  ['area', 'DOUBLE'],
  ['area_ha', 'DOUBLE'],
  ['alert_area_ha', 'DOUBLE'],
  ['min_date', 'STRING'],
  ['max_date', 'STRING'],
  ['geometry', 'GEOMETRY'],
] as const satisfies readonly (readonly [keyof ClusterRow, ColumnSource['type']])[];

/** Bounding box [xmin, ymin, xmax, ymax] of polygons, or null when there are none. */
function bboxOf(polygons: Polygon[]): number[] | null {
  let [xmin, ymin, xmax, ymax] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const polygon of polygons) {
    for (const ring of polygon.coordinates) {
      for (const [x, y] of ring) {
        xmin = Math.min(xmin, x);
        ymin = Math.min(ymin, y);
        xmax = Math.max(xmax, x);
        ymax = Math.max(ymax, y);
      }
    }
  }
  return Number.isFinite(xmin) ? [xmin, ymin, xmax, ymax] : null;
}

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

/**
 * The clusters file of a tile. Zero clusters still gives a valid file with zero rows (the tile is
 * done and empty). `hull` is injectable for tests; by default the records' convex hull in lon/lat.
 */
export function writeClusters(
  info: Omit<ClustersFileInfo, 'nb_clusters'>,
  clusters: readonly ClusterRecord[],
  hull: (record: ClusterRecord) => Polygon = hullPolygon,
): Uint8Array {
  const geometries = clusters.map(hull);
  const rows: ClusterRow[] = clusters.map((c, k) => {
    const { alerts: _alerts, ...fields } = c;
    return { run_id: info.run_id, ...fields, geometry: geometries[k] };
  });
  const columnData: ColumnSource[] = CLUSTER_COLUMNS.map(([name, type]) => ({
    name,
    type,
    data: rows.map((r) => r[name]),
    nullable: false,
  }));
  const fileInfo: ClustersFileInfo = { ...info, nb_clusters: clusters.length };
  const buffer = parquetWriteBuffer({
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
export function writeMembers(clusters: readonly ClusterRecord[]): Uint8Array {
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

/** The `glad_clusters` metadata of a clusters file; throws when it is missing or unreadable. */
export function readClustersInfo(bytes: Uint8Array): ClustersFileInfo {
  const metadata = parquetMetadata(toArrayBuffer(bytes));
  const value = metadata.key_value_metadata?.find((kv) => kv.key === INFO_KEY)?.value;
  if (!value) throw new Error(`clusters file has no ${INFO_KEY} metadata`);
  return JSON.parse(value) as ClustersFileInfo;
}

/** Rows of a clusters file (geometry decoded back to GeoJSON by hyparquet). */
export async function readClusters(bytes: Uint8Array): Promise<ClusterRow[]> {
  const rows = await parquetReadObjects({ file: toArrayBuffer(bytes) });
  // INT32 columns come back as numbers already; nothing to convert.
  return rows as unknown as ClusterRow[];
}

/** Rows of a members file. */
export async function readMembers(bytes: Uint8Array): Promise<MemberRow[]> {
  const rows = await parquetReadObjects({ file: toArrayBuffer(bytes) });
  return rows as unknown as MemberRow[];
}
