// What changed between two runs of the same area: each cluster of the new run is `new`, `grown`,
// `shrunk` or `same`, each cluster of the old run without a successor is `gone`. Pure: works on
// the two runs' loaded rows (members included) and their RunSpecs. The rule is in docs/results.md.
import * as aq from 'arquero';
import type { FeatureCollection, Point, Polygon } from 'geojson';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { SUMMARY_COLUMNS } from '../clusters/schema.ts';
import type { ClusterRow } from '../clusters/types.ts';
import { geoMetadata, schemaColumn } from '../run/parquet.ts';
import type { RunSpec } from '../run/params.ts';
import { TILE_SIZE } from '../tiles/grid.ts';
import { checkFormat, clusterHull, toTableText, type Format } from './exports.ts';
import { project } from './table.ts';
import { closedCounterClockwise } from '../clusters/geometry.ts';

export const DIFF_STATUSES = ['new', 'grown', 'shrunk', 'same', 'gone'] as const;
export type DiffStatus = (typeof DIFF_STATUSES)[number];

/** Share of an old cluster's (comparable) alerts a new cluster must hold to be its successor. */
export const MIN_SHARE = 0.1;
/** Centre distance (× width, pixels) within which an old cluster whose alerts all left the date window continues. */
const CENTRE_WIDTHS = 2;

/** A row of a diff: a cluster row (of the new run; of the old run for `gone`) and how it changed. */
export interface DiffRow extends ClusterRow {
  status: DiffStatus;
  /** count − the alerts it carries over from its predecessors (new: its count; gone: −count). */
  delta_count: number;
  /** area_ha − its predecessors' share of area_ha (new: its area_ha; gone: −area_ha). */
  delta_area_ha: number;
  /** Row id in the old run of the main predecessor (most shared alerts); null for `new`. */
  old_row_id: number | null;
}

/** Columns a diff adds to the fetch columns. */
export const DIFF_COLUMNS = ['status', 'delta_count', 'delta_area_ha', 'old_row_id'] as const;

export interface DiffSummary {
  old_run_id: string;
  new_run_id: string;
  old_end_date: string;
  new_end_date: string;
  clusters: number;
  new: number;
  grown: number;
  shrunk: number;
  same: number;
  gone: number;
  /** Alerts of new clusters plus the growth of grown ones. */
  new_alerts: number;
  /** Hectares (hull area_ha) of new clusters plus the growth of grown ones. */
  new_hectares: number;
  /** The five largest new clusters (by area_ha). */
  biggest_new: { row_id: number; count: number; area_ha: number; longitude: number; latitude: number; areas: string }[];
}

export interface RunDiff {
  rows: DiffRow[];
  summary: DiffSummary;
  /** The old run's rows (the report draws the predecessors' hulls under the new ones). */
  previous: readonly ClusterRow[];
}

/** A run as the diff reads it: id, params and loaded rows with their members. */
export interface DiffInput {
  runId: string;
  spec: RunSpec;
  rows: readonly ClusterRow[];
}

/** Throws a one-line reason unless the two runs can be compared (same zoom, algorithm and width). */
export function checkComparable(oldSpec: RunSpec, newSpec: RunSpec): void {
  const why: string[] = [];
  if (oldSpec.algorithm !== newSpec.algorithm) why.push(`algorithm ${oldSpec.algorithm} vs ${newSpec.algorithm}`);
  if (oldSpec.width !== newSpec.width) why.push(`width ${oldSpec.width} vs ${newSpec.width}`);
  if (oldSpec.region.z !== newSpec.region.z) why.push(`zoom ${oldSpec.region.z} vs ${newSpec.region.z}`);
  if (why.length > 0) throw new Error(`runs cannot be compared: ${why.join(', ')} (clusters of different algorithms, widths or zooms do not correspond)`);
}

/** Global pixel of a member: (x·256 + col, y·256 + row) at the run's zoom, wrapped round the antimeridian. */
function pixelKey(r: ClusterRow, row: number, col: number): string {
  const size = TILE_SIZE * 2 ** r.z;
  const gx = (((r.x * TILE_SIZE + col) % size) + size) % size;
  return `${gx},${r.y * TILE_SIZE + row}`;
}

function centre(r: ClusterRow): [number, number] {
  return [r.x * TILE_SIZE + r.col, r.y * TILE_SIZE + r.row];
}

/**
 * The diff of two runs. Each old cluster O is compared on its comparable alerts (dated inside both
 * runs' windows); a new cluster N holding a share ≥ MIN_SHARE of them is a successor of O. O's
 * comparable count and area are shared among its successors in proportion to the alerts each holds
 * (a split divides it, a merge sums several); N's delta is its count (area_ha) minus that baseline:
 * > 0 grown, < 0 shrunk, 0 same; no predecessor: new. An old cluster whose alerts all fell out of
 * the new window continues through the nearest new centre within 2 × width px, with baseline 0.
 * Old clusters with no successor are gone.
 */
export function diffRuns(oldRun: DiffInput, newRun: DiffInput): RunDiff {
  checkComparable(oldRun.spec, newRun.spec);
  const from = oldRun.spec.start_date > newRun.spec.start_date ? oldRun.spec.start_date : newRun.spec.start_date;
  const to = oldRun.spec.end_date < newRun.spec.end_date ? oldRun.spec.end_date : newRun.spec.end_date;
  const olds = [...oldRun.rows].sort((a, b) => a.row_id - b.row_id);
  const news = [...newRun.rows].sort((a, b) => a.row_id - b.row_id);
  for (const r of [...olds, ...news]) {
    if (r.alerts.length !== r.count) throw new Error(`cluster ${r.run_id} #${r.row_id} was loaded without its members: fetch with full`);
  }

  const owner = new Map<string, number>(); // global pixel → index in `news`
  news.forEach((n, k) => {
    for (const [row, col] of n.alerts) owner.set(pixelKey(n, row, col), k);
  });

  // links[k] = predecessors of news[k]: old index → [shared alerts, baseline count, baseline area].
  const links = news.map(() => new Map<number, { shared: number; count: number; area: number }>());
  const gone: number[] = [];
  const reach = CENTRE_WIDTHS * newRun.spec.width;
  olds.forEach((o, oi) => {
    const comparable = o.alerts.filter(([, , date]) => date >= from && date < to);
    const shared = new Map<number, number>();
    for (const [row, col] of comparable) {
      const k = owner.get(pixelKey(o, row, col));
      if (k !== undefined) shared.set(k, (shared.get(k) ?? 0) + 1);
    }
    const successors = [...shared].filter(([, n]) => n / comparable.length >= MIN_SHARE);
    if (comparable.length === 0) {
      // Every alert dropped by the date window: the nearest new centre close enough continues it.
      const [ox, oy] = centre(o);
      let best = -1;
      let bestD = Infinity;
      news.forEach((n, k) => {
        const [nx, ny] = centre(n);
        const d = Math.hypot(nx - ox, ny - oy);
        if (d <= reach && d < bestD) [best, bestD] = [k, d];
      });
      if (best < 0) gone.push(oi);
      else links[best].set(oi, { shared: 0, count: 0, area: 0 });
      return;
    }
    if (successors.length === 0) {
      gone.push(oi);
      return;
    }
    const total = successors.reduce((s, [, n]) => s + n, 0);
    const areaComparable = o.area_ha * (comparable.length / o.count);
    for (const [k, n] of successors) {
      links[k].set(oi, { shared: n, count: (comparable.length * n) / total, area: (areaComparable * n) / total });
    }
  });

  const rows: DiffRow[] = news.map((n, k) => {
    const preds = [...links[k]];
    if (preds.length === 0) return { ...n, status: 'new', delta_count: n.count, delta_area_ha: n.area_ha, old_row_id: null };
    preds.sort(([a, la], [b, lb]) => lb.shared - la.shared || olds[a].row_id - olds[b].row_id);
    const baseCount = preds.reduce((s, [, l]) => s + l.count, 0);
    const baseArea = preds.reduce((s, [, l]) => s + l.area, 0);
    const delta_count = n.count - Math.round(baseCount);
    const status: DiffStatus = delta_count > 0 ? 'grown' : delta_count < 0 ? 'shrunk' : 'same';
    return { ...n, status, delta_count, delta_area_ha: n.area_ha - baseArea, old_row_id: olds[preds[0][0]].row_id };
  });
  for (const oi of gone) {
    const o = olds[oi];
    rows.push({ ...o, status: 'gone', delta_count: -o.count, delta_area_ha: -o.area_ha, old_row_id: o.row_id });
  }
  return { rows, summary: summarize(oldRun, newRun, rows), previous: olds };
}

function summarize(oldRun: DiffInput, newRun: DiffInput, rows: DiffRow[]): DiffSummary {
  const by = (s: DiffStatus) => rows.filter((r) => r.status === s);
  const growth = rows.filter((r) => r.status === 'new' || r.status === 'grown');
  const round2 = (v: number) => Math.round(v * 100) / 100;
  return {
    old_run_id: oldRun.runId,
    new_run_id: newRun.runId,
    old_end_date: oldRun.spec.end_date,
    new_end_date: newRun.spec.end_date,
    clusters: newRun.rows.length,
    new: by('new').length,
    grown: by('grown').length,
    shrunk: by('shrunk').length,
    same: by('same').length,
    gone: by('gone').length,
    new_alerts: growth.reduce((s, r) => s + Math.max(0, r.delta_count), 0),
    new_hectares: round2(growth.reduce((s, r) => s + Math.max(0, r.delta_area_ha), 0)),
    biggest_new: by('new')
      .sort((a, b) => b.area_ha - a.area_ha || a.row_id - b.row_id)
      .slice(0, 5)
      .map((r) => ({ row_id: r.row_id, count: r.count, area_ha: round2(r.area_ha), longitude: r.longitude, latitude: r.latitude, areas: r.areas })),
  };
}

/** The summary as a few lines for people. */
export function summaryText(s: DiffSummary): string {
  const lines = [
    `${s.new_run_id} (to ${s.new_end_date}) vs ${s.old_run_id} (to ${s.old_end_date}): ${s.clusters} clusters`,
    `  new ${s.new}, grown ${s.grown}, shrunk ${s.shrunk}, same ${s.same}, gone ${s.gone}`,
    `  new alerts ${s.new_alerts}, new hectares ${s.new_hectares.toFixed(2)}`,
  ];
  if (s.biggest_new.length === 0) lines.push(s.clusters === 0 ? '  no clusters in this run' : '  no new clusters');
  for (const b of s.biggest_new) {
    lines.push(`  new #${b.row_id}: ${b.count} alerts, ${b.area_ha.toFixed(2)} ha at ${b.latitude.toFixed(5)}, ${b.longitude.toFixed(5)}${b.areas ? ` in ${b.areas}` : ''}`);
  }
  return lines.join('\n') + '\n';
}

// ---------------------------------------------------------------- formats

const columns = [...SUMMARY_COLUMNS, ...DIFF_COLUMNS];

/** GeoJSON of a diff: each row's hull and centre, its columns and diff fields as properties; ids `new-…` / `old-…`. */
export function diffGeoJson(rows: readonly DiffRow[]): FeatureCollection<Polygon | Point, Record<string, unknown>> {
  const features: FeatureCollection<Polygon | Point, Record<string, unknown>>['features'] = [];
  for (const row of rows) {
    const properties = project([row], columns)[0];
    const prefix = row.status === 'gone' ? 'old' : 'new';
    const hull = clusterHull(row);
    features.push({ type: 'Feature', id: `${prefix}-${row.row_id}-hull`, geometry: { type: 'Polygon', coordinates: hull.coordinates.map(closedCounterClockwise) }, properties: { feature: 'hull', ...properties } });
    features.push({ type: 'Feature', id: `${prefix}-${row.row_id}-centre`, geometry: { type: 'Point', coordinates: [row.longitude, row.latitude] }, properties: { feature: 'centre', ...properties } });
  }
  return { type: 'FeatureCollection', features };
}

/** A diff in a fetch format: table, csv, json (an array of rows), geojson, parquet (GeoParquet). */
export function exportDiff(diff: RunDiff, format: Format): string | Uint8Array {
  const rows = diff.rows;
  switch (checkFormat(format)) {
    case 'table':
      return toTableText(rows, { columns: ['status', 'row_id', 'old_row_id', 'count', 'delta_count', 'area_ha', 'delta_area_ha', 'min_date', 'max_date', 'duration_days', 'latitude', 'longitude', 'areas'], noun: 'rows' });
    case 'csv':
      if (rows.length === 0) return columns.join(',') + '\n';
      return aq.from(project(rows, columns)).toCSV();
    case 'json':
      return JSON.stringify(project(rows, columns));
    case 'geojson':
      return JSON.stringify(diffGeoJson(rows));
    case 'parquet': {
      const hulls = rows.map((r) => clusterHull(r));
      const columnData = SUMMARY_COLUMNS.map((name) => schemaColumn(name, rows.map((r) => r[name as keyof DiffRow])));
      columnData.push(
        { name: 'status', type: 'STRING', data: rows.map((r) => r.status), nullable: false },
        { name: 'delta_count', type: 'INT32', data: rows.map((r) => r.delta_count), nullable: false },
        { name: 'delta_area_ha', type: 'DOUBLE', data: rows.map((r) => r.delta_area_ha), nullable: false },
        { name: 'old_row_id', type: 'INT32', data: rows.map((r) => r.old_row_id), nullable: true },
        { name: 'geometry', type: 'GEOMETRY', data: hulls, nullable: false },
      );
      return new Uint8Array(parquetWriteBuffer({ columnData, kvMetadata: [{ key: 'geo', value: geoMetadata(hulls) }], createdBy: 'glad-clusters diff' }));
    }
  }
}

/** What `runs/RUN/diff.json` holds (and `watch --json` prints): the summary, the GeoJSON's key, the rows' counts. */
export interface DiffManifest {
  run_id: string;
  previous_run_id: string | null;
  summary: DiffSummary | null;
  geojson_key: string | null;
  created_at: string;
  /** Why there is no diff (no previous run of the same area and parameters…). */
  note?: string;
}
