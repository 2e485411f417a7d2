// Shapes of a run's results: per-tile errors, totals, and the manifest.
import type { TileAddress } from '../tiles/types.ts';
import type { RunSpec } from './params.ts';

/** A tile that could not be processed. `stage` says where it failed (decode, read, message, dead-letter, ...). */
export interface TileError extends TileAddress {
  message: string;
  stage: string;
}

/** Cluster totals of one tile, or of a whole run (the manifest's `totals`). */
export interface TileTotals {
  clusters: number;
  alerts: number;
  /** Sum of the clusters' alert_area_ha (ground area of the alerts themselves). */
  hectares: number;
  first_date: string | null;
  last_date: string | null;
  /**
   * Alerts inside the region: each tile's own alerts in the date window, clustered or not (`alerts`
   * counts the members of the region's clusters, which may lie in neighbouring tiles). Absent in
   * tiles recorded before it existed.
   */
  region_alerts?: number;
}

/**
 * The result format the pipeline writes (core/run/parquet.ts): 1 = clusters.parquet + members.parquet
 * per tile, a zero-row clusters.parquet per empty tile; 2 = one clusters.parquet per tile with
 * clusters, members in list columns, no object for an empty tile. Readers take both.
 */
export const RESULT_FORMAT = 2;

/** The run manifest written by the aggregator when the last tile lands. */
export interface Manifest {
  /** RESULT_FORMAT of the pipeline that wrote the manifest; absent in format-1 manifests. */
  format?: number;
  run_id: string;
  params: RunSpec;
  tiles: number;
  tiles_with_clusters: number;
  tiles_empty: number;
  tiles_failed: number;
  results: string[];
  errors: TileError[];
  totals: TileTotals;
  created_at: string;
  completed_at: string;
}

/** How a tile finished. */
export type TileStatus = 'clusters' | 'empty' | 'failed';

/** What the ledger keeps of a finished tile (exactly what the manifest needs). */
export interface TileOutcome extends TileAddress, TileTotals {
  status: TileStatus;
  /** Key of clusters.parquet (absent for a failed tile). */
  result_key?: string;
  /** Error message and stage of a failed tile. */
  message?: string;
  stage?: string;
}
