// Shared shapes of glad-clusters. Each module owns its logic; these are the contracts between them.

/** A web-mercator tile address: z in 0..22, x and y in 0..2^z-1. */
export interface TileAddress {
  z: number;
  x: number;
  y: number;
}

export const ALGORITHMS = ['standard', 'blurring', 'flat'] as const;
export type Algorithm = (typeof ALGORITHMS)[number];

/** Clustering parameters (request fields other than the tile and dates). */
export interface ClusterParams {
  /** Kernel width in pixels (Gaussian sigma for standard/blurring, radius for flat). */
  width: number;
  /** Minimum alerts in a kept cluster. */
  min_count: number;
  /** Passes of `blurring`; ignored by the other algorithms. */
  iterations: number;
  algorithm: Algorithm;
}

/** One tile request, defaults filled in: exactly the fields `npm run tile` echoes. */
export interface TileRequest extends TileAddress, ClusterParams {
  /** ISO YYYY-MM-DD, inclusive. */
  start_date: string;
  /** ISO YYYY-MM-DD, exclusive. */
  end_date: string;
}

/**
 * Alerts as struct-of-arrays (hot loops read typed arrays, not objects).
 * col/row are pixel coordinates relative to ONE tile (col along x, row along y); alerts of a
 * halo have col/row outside 0..255.
 */
export interface Alerts {
  length: number;
  col: Int32Array;
  row: Int32Array;
  /** Days since 2015-01-01 (day 1 = 2015-01-02; 0 means no alert). */
  days: Uint16Array;
  confidence: Uint8Array;
}

/** The alerts of a date range: [startDays, endDays) in days since 2015-01-01. */
export interface DayRange {
  startDays: number;
  endDays: number;
}

/** Turns one encoded tile image into its alerts (pluggable: other alert encodings can be added). */
export interface AlertDecoder {
  decode(image: Uint8Array, range: DayRange, tile: TileAddress): Alerts;
}

/** Narrow I/O adapter: the raw bytes of a tile, or null when the tile does not exist (no alerts). */
export interface TileSource {
  read(tile: TileAddress): Promise<Uint8Array | null>;
}

/** A cluster member as the old system wrote it: [row, col, "YYYY-MM-DD"]. */
export type AlertTuple = [row: number, col: number, date: string];

/** One cluster, the record every output (CLI, Parquet, exports) is built from. */
export interface ClusterRecord {
  z: number;
  x: number;
  y: number;
  /** Centre in tile pixel coordinates (float). */
  col: number;
  row: number;
  /** round(col), round(row). */
  i: number;
  j: number;
  longitude: number;
  latitude: number;
  count: number;
  /** Convex hull of the members' pixel centres, px². */
  area: number;
  /** That hull in hectares at this latitude. */
  area_ha: number;
  /** count × pixel ground area, hectares. */
  alert_area_ha: number;
  min_date: string;
  max_date: string;
  alerts: AlertTuple[];
}

/** What `npm run tile` prints and the consumer stores. */
export interface TileResult extends TileRequest {
  nb_clusters: number;
  clusters: ClusterRecord[];
}

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
}

/** The run manifest written by the aggregator when the last tile lands. */
export interface Manifest {
  run_id: string;
  params: Record<string, unknown>;
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
