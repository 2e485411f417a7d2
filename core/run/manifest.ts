// The run manifest: what a finished run produced. Built from the ledger's tile items (pure logic).
import type { ErrorRecord } from './messages.ts';
import { runTileCount } from './params.ts';
import type { RunSpec } from './params.ts';
import { RESULT_FORMAT, type Manifest, type TileError, type TileOutcome, type TileTotals } from './types.ts';
import type { ClusterFields } from '../clusters/types.ts';
import type { TileAddress } from '../tiles/types.ts';

const minDate = (a: string | null, b: string | null) => (a === null ? b : b === null ? a : a < b ? a : b);
const maxDate = (a: string | null, b: string | null) => (a === null ? b : b === null ? a : a > b ? a : b);

/** Totals of a tile's clusters (written into its clusters file's footer). */
export function summarizeClusters(rows: readonly Pick<ClusterFields, 'count' | 'alert_area_ha' | 'min_date' | 'max_date'>[]): TileTotals {
  let totals: TileTotals = { clusters: 0, alerts: 0, hectares: 0, first_date: null, last_date: null };
  for (const r of rows) {
    totals = {
      clusters: totals.clusters + 1,
      alerts: totals.alerts + r.count,
      hectares: totals.hectares + r.alert_area_ha,
      first_date: minDate(totals.first_date, r.min_date),
      last_date: maxDate(totals.last_date, r.max_date),
    };
  }
  return totals;
}

/** The ledger outcome of a tile whose clusters file landed, from the totals in its footer. */
export function clustersOutcome(tile: TileAddress, resultKey: string, totals: TileTotals): TileOutcome {
  return { z: tile.z, x: tile.x, y: tile.y, status: totals.clusters > 0 ? 'clusters' : 'empty', result_key: resultKey, ...totals };
}

/** The ledger outcome of a tile the consumer found without clusters (format 2: no object, recorded directly). */
export function emptyOutcome(tile: TileAddress, regionAlerts?: number): TileOutcome {
  return {
    z: tile.z, x: tile.x, y: tile.y, status: 'empty', clusters: 0, alerts: 0, hectares: 0, first_date: null, last_date: null,
    ...(regionAlerts !== undefined ? { region_alerts: regionAlerts } : {}),
  };
}

/** The ledger outcome of a tile whose error record landed. */
export function errorOutcome(tile: TileAddress, message: string, stage: string): TileOutcome {
  return { z: tile.z, x: tile.x, y: tile.y, status: 'failed', clusters: 0, alerts: 0, hectares: 0, first_date: null, last_date: null, message, stage };
}

/** The ledger outcome of an error record. */
export function errorRecordOutcome(record: ErrorRecord): TileOutcome {
  return errorOutcome(record, record.message, record.stage);
}

const byTile = (a: TileAddress, b: TileAddress) => a.z - b.z || a.y - b.y || a.x - b.x;

/** Rounds away float noise of long sums (1e-6 ha = 1 cm²). */
const round6 = (v: number) => Math.round(v * 1e6) / 1e6;

export interface ManifestInput {
  runId: string;
  spec: RunSpec;
  createdAt: string;
  completedAt: string;
  outcomes: Iterable<TileOutcome>;
}

/**
 * The manifest of a run. `results` lists the clusters.parquet keys of tiles that have clusters
 * (members.parquet sits next to each); empty tiles are counted but not listed. Tiles and errors are
 * sorted by z, y, x so the same ledger always gives the same manifest.
 */
export function buildManifest(input: ManifestInput): Manifest {
  const withClusters: TileOutcome[] = [];
  const errors: TileError[] = [];
  let empty = 0;
  let totals: TileTotals = { clusters: 0, alerts: 0, hectares: 0, first_date: null, last_date: null };
  // Alerts inside the region are known when every finished tile reported them (not tiles recorded
  // before the field existed); failed tiles' own alerts are not known, so they are not counted.
  let regionAlerts: number | null = 0;
  for (const o of input.outcomes) {
    if (o.status === 'failed') {
      errors.push({ z: o.z, x: o.x, y: o.y, message: o.message ?? 'unknown error', stage: o.stage ?? 'unknown' });
      continue;
    }
    if (o.status === 'empty') empty++;
    else withClusters.push(o);
    totals = {
      clusters: totals.clusters + o.clusters,
      alerts: totals.alerts + o.alerts,
      hectares: totals.hectares + o.hectares,
      first_date: minDate(totals.first_date, o.first_date),
      last_date: maxDate(totals.last_date, o.last_date),
    };
    regionAlerts = regionAlerts === null || o.region_alerts === undefined ? null : regionAlerts + o.region_alerts;
  }
  withClusters.sort(byTile);
  errors.sort(byTile);
  return {
    format: RESULT_FORMAT,
    run_id: input.runId,
    params: { ...input.spec },
    tiles: runTileCount(input.spec),
    tiles_with_clusters: withClusters.length,
    tiles_empty: empty,
    tiles_failed: errors.length,
    results: withClusters.map((o) => o.result_key ?? ''),
    errors,
    totals: { ...totals, hectares: round6(totals.hectares), ...(regionAlerts !== null ? { region_alerts: regionAlerts } : {}) },
    created_at: input.createdAt,
    completed_at: input.completedAt,
  };
}
