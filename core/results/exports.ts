// Cluster records of a run -> table text, CSV, JSON, GeoJSON or GeoParquet.
//
// Every format goes through the same selection (core/results/table.ts): stable row ids first, then
// sort / date filter / offset / limit. `full` adds the members list (`alerts`); without it every
// format carries all the other columns (the table text shows the short view). Columns, their order,
// Parquet types and table decimals all come from core/clusters/schema.ts.
import * as aq from 'arquero';
import type { FeatureCollection, Point, Polygon } from 'geojson';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { concaveHullPolygon } from '../clusters/concave.ts';
import { closedCounterClockwise, hullPolygon } from '../clusters/geometry.ts';
import { ALL_COLUMNS, columnSpec, SUMMARY_COLUMNS, VIEW_COLUMNS } from '../clusters/schema.ts';
import type { ClusterRow, StoredCluster } from '../clusters/types.ts';
import { geoMetadata, schemaColumn } from '../run/parquet.ts';
import { canonicalCompare, project, selectRows, withRowIds, type SelectOptions } from './table.ts';

const FORMATS = ['table', 'csv', 'json', 'geojson', 'parquet'] as const;
export type Format = (typeof FORMATS)[number];

/** Which geometries a GeoJSON export holds for each cluster. */
const GEOMETRIES = ['both', 'hull', 'centre'] as const;
export type GeometryKind = (typeof GEOMETRIES)[number];

export interface ExportOptions extends SelectOptions {
  /** Include the members list (`alerts`). */
  full?: boolean;
  /** GeoJSON only: hull polygons, centre points, or both (default). */
  geometry?: GeometryKind;
  /** GeoJSON and GeoParquet: convex hull (default, the one `area` measures) or concave outline. */
  hull?: HullKind;
}

/** Formats `streamExport` writes tile by tile; table text and GeoParquet need every row at once. */
export const STREAM_FORMATS = ['csv', 'json', 'geojson'] as const;
export type StreamFormat = (typeof STREAM_FORMATS)[number];

export const HULLS = ['convex', 'concave'] as const;
export type HullKind = (typeof HULLS)[number];

/** Throws a one-line error unless `name` is a known format. */
export function checkFormat(name: string): Format {
  if (!(FORMATS as readonly string[]).includes(name)) {
    throw new Error(`unknown format "${name}"; formats: ${FORMATS.join(', ')}`);
  }
  return name as Format;
}

/** The selected rows of a run, row ids assigned on the whole run first. */
export function selectForExport(records: readonly StoredCluster[], options: ExportOptions = {}): ClusterRow[] {
  return selectRows(withRowIds(records), options);
}

/** One export in any format: text for table/csv/json/geojson, bytes for parquet. */
export async function exportClusters(
  records: readonly StoredCluster[],
  format: Format,
  options: ExportOptions = {},
): Promise<string | Uint8Array> {
  const rows = selectForExport(records, options);
  switch (checkFormat(format)) {
    case 'table':
      return toTableText(rows, { total: records.length, full: options.full });
    case 'csv':
      return toCsv(rows, options);
    case 'json':
      return toJson(rows, options);
    case 'geojson':
      return JSON.stringify(toGeoJson(rows, options));
    case 'parquet':
      return toGeoParquet(rows, options);
  }
}

/**
 * The same text as `exportClusters(records, format, options)` without sort/filter/limit, written
 * as the run is read: `tiles` yields the run's clusters tile by tile in canonical tile order
 * (z, y, x: the manifest's order, see streamRunClusters), and each chunk yielded is one tile's rows.
 * Row ids are the running index of the canonical order, so they equal the non-streaming ones, and
 * memory holds one tile's rows, not the run's. CSV has one header, JSON is one array, GeoJSON one
 * FeatureCollection, byte for byte as exportClusters writes them.
 */
export async function* streamExport(
  tiles: AsyncIterable<readonly StoredCluster[]>,
  format: StreamFormat,
  options: Pick<ExportOptions, 'full' | 'geometry' | 'hull'> = {},
): AsyncGenerator<string> {
  if (!(STREAM_FORMATS as readonly string[]).includes(format)) {
    throw new Error(`--format ${format} cannot be streamed; streamed formats: ${STREAM_FORMATS.join(', ')}`);
  }
  const columns = columnsOf(options.full);
  let nextId = 0;
  let previous: StoredCluster | undefined;
  // Opening text; after the first row, every later row is preceded by the separator.
  if (format === 'json') yield '[';
  if (format === 'geojson') yield '{"type":"FeatureCollection","features":[';
  for await (const tile of tiles) {
    if (tile.length === 0) continue;
    const sorted = [...tile].sort(canonicalCompare);
    // Row ids are only right if no later tile sorts before an earlier one.
    if (previous && canonicalCompare(previous, sorted[0]) > 0) {
      throw new Error(`tile ${sorted[0].z}/${sorted[0].x}/${sorted[0].y} came after tile ${previous.z}/${previous.x}/${previous.y}: tiles must come in z, y, x order`);
    }
    const rows: ClusterRow[] = sorted.map((r) => ({ ...r, row_id: nextId++ }));
    const first = previous === undefined;
    previous = sorted[sorted.length - 1];
    if (format === 'csv') {
      const text = toCsv(rows, options);
      yield first ? text : text.slice(text.indexOf('\n') + 1); // one header, the first tile's
    } else if (format === 'json') {
      const text = JSON.stringify(project(rows, columns));
      yield (first ? '' : ',') + text.slice(1, -1); // the tile's objects without its brackets
    } else {
      const text = toGeoJson(rows, options).features.map((f) => JSON.stringify(f)).join(',');
      yield (first ? '' : ',') + text;
    }
  }
  if (format === 'csv' && previous === undefined) yield toCsv([], options); // header only
  if (format === 'json') yield ']';
  if (format === 'geojson') yield ']}';
}

function columnsOf(full: boolean | undefined): readonly string[] {
  return full ? ALL_COLUMNS : SUMMARY_COLUMNS;
}

// ---------------------------------------------------------------- table text

function cellText(column: string, value: unknown): string {
  const decimals = columnSpec(column)?.decimals;
  if (typeof value === 'number') return Number.isInteger(value) && decimals === undefined ? String(value) : value.toFixed(decimals ?? 2);
  if (Array.isArray(value)) return `${value.length} alerts`;
  return String(value ?? '');
}

/** Readable fixed-width text: the short view columns, numbers right-aligned, and a count line. */
export function toTableText(rows: readonly object[], options: { total?: number; full?: boolean; columns?: readonly string[]; noun?: string } = {}): string {
  const columns = options.columns ?? (options.full ? [...VIEW_COLUMNS, 'alerts'] : VIEW_COLUMNS);
  const cells = rows.map((r) => columns.map((c) => cellText(c, (r as unknown as Record<string, unknown>)[c])));
  const widths = columns.map((c, k) => Math.max(c.length, ...cells.map((line) => line[k].length)));
  const numeric = columns.map((c) => rows.length > 0 && typeof (rows[0] as unknown as Record<string, unknown>)[c] === 'number');
  const pad = (text: string, k: number) => (numeric[k] ? text.padStart(widths[k]) : text.padEnd(widths[k]));
  const lines = [columns.map((c, k) => pad(c, k)).join('  '), ...cells.map((line) => line.map(pad).join('  ').trimEnd())];
  const total = options.total ?? rows.length;
  const noun = options.noun ?? 'clusters';
  lines.push(rows.length === total ? `${total} ${noun}` : `${rows.length} of ${total} ${noun} shown`);
  return lines.join('\n') + '\n';
}

// ---------------------------------------------------------------- CSV and JSON

/** CSV with a header row, quoted per RFC 4180 by arquero; `alerts` (full only) as a JSON array. */
function toCsv(rows: readonly ClusterRow[], options: { full?: boolean } = {}): string {
  const columns = columnsOf(options.full);
  if (rows.length === 0) return columns.join(',') + '\n';
  return aq.from(project(rows, columns)).toCSV({ format: { alerts: (v: unknown) => JSON.stringify(v) } });
}

/** A JSON array of row objects (what `jq` and notebooks read most easily). */
function toJson(rows: readonly ClusterRow[], options: { full?: boolean } = {}): string {
  return JSON.stringify(project(rows, columnsOf(options.full)));
}

// ---------------------------------------------------------------- GeoJSON

/** A GeoJSON export: each cluster's hull and/or centre, with its columns as properties. */
export type ClusterFeatureCollection = FeatureCollection<Polygon | Point, Record<string, unknown>>;

/**
 * A cluster's hull polygon: the one stored with it when it was loaded from a clusters file
 * (`geometry`), else computed from its members; a record with neither is a clear error.
 */
export function clusterHull(row: ClusterRow, kind: HullKind = 'convex'): Polygon {
  if (!(HULLS as readonly string[]).includes(kind)) throw new Error(`unknown hull "${kind}"; hulls: ${HULLS.join(', ')}`);
  if (kind === 'convex' && row.geometry) return row.geometry;
  if (!row.alerts || row.alerts.length === 0) {
    throw new Error(`cluster ${row.row_id} has neither a stored hull nor members to compute one from`);
  }
  return kind === 'concave' ? concaveHullPolygon(row) : hullPolygon(row);
}

/**
 * RFC 7946 FeatureCollection. For each cluster (geometry 'both', the default) two features that
 * share the same properties plus `feature`: the convex hull of its members as a Polygon
 * (`feature: "hull"`, id `<row_id>-hull`) and its centre as a Point (`feature: "centre"`,
 * id `<row_id>-centre`). Convex hulls come from core/clusters/geometry.ts, concave ones from core/clusters/concave.ts;
 * hull features say which in `hull`.
 */
export function toGeoJson(rows: readonly ClusterRow[], options: ExportOptions = {}): ClusterFeatureCollection {
  const geometry = options.geometry ?? 'both';
  if (!(GEOMETRIES as readonly string[]).includes(geometry)) {
    throw new Error(`unknown geometry "${geometry}"; geometries: ${GEOMETRIES.join(', ')}`);
  }
  const columns = columnsOf(options.full);
  const features: ClusterFeatureCollection['features'] = [];
  for (const row of rows) {
    const properties = project([row], columns)[0];
    if (geometry !== 'centre') {
      const polygon = clusterHull(row, options.hull);
      const coordinates = polygon.coordinates.map(closedCounterClockwise);
      features.push({
        type: 'Feature', id: `${row.row_id}-hull`,
        geometry: { type: 'Polygon', coordinates },
        properties: { feature: 'hull', hull: options.hull ?? 'convex', ...properties },
      });
    }
    if (geometry !== 'hull') {
      features.push({
        type: 'Feature', id: `${row.row_id}-centre`,
        geometry: { type: 'Point', coordinates: [row.longitude, row.latitude] },
        properties: { feature: 'centre', ...properties },
      });
    }
  }
  return { type: 'FeatureCollection', features };
}

// ---------------------------------------------------------------- GeoParquet

/**
 * GeoParquet 1.1 bytes of the selected clusters: the record columns (plus `alerts` as JSON when
 * full) and a WKB `geometry` column holding each hull, with the same `geo` metadata as the
 * pipeline's per-tile files (core/run/parquet.ts).
 */
function toGeoParquet(rows: readonly ClusterRow[], options: { full?: boolean; hull?: HullKind } = {}): Uint8Array {
  const hulls = rows.map((row) => clusterHull(row, options.hull));
  // `alerts` is a JSON string, like in CSV.
  const columnData = columnsOf(options.full).map((name) =>
    schemaColumn(name, rows.map((r) => (name === 'alerts' ? JSON.stringify(r.alerts) : r[name as keyof ClusterRow]))),
  );
  columnData.push({ name: 'geometry', type: 'GEOMETRY', data: hulls, nullable: false });
  const buffer = parquetWriteBuffer({
    columnData,
    kvMetadata: [{ key: 'geo', value: geoMetadata(hulls) }],
    createdBy: 'glad-clusters export',
  });
  return new Uint8Array(buffer);
}
