// Shapes of a cluster, one family derived from the column schema (./schema.ts):
//   OwnedCluster (core/meanshift/engine.ts: members + centre, what the engine returns)
//   → Cluster (the schema's fields + its members) → StoredCluster (+ run id, hull) → ClusterRow (+ row id).
import type { Polygon } from 'geojson';
import type { ClusterParams } from '../meanshift/types.ts';
import type { TileAddress } from '../tiles/types.ts';
import type { ConfidenceName } from '../tiles/datasets.ts';
import type { FieldsOf } from './schema.ts';

/** One tile request, defaults filled in: exactly the fields `npm run tile` echoes. */
export interface TileRequest extends TileAddress, ClusterParams {
  /** ISO YYYY-MM-DD, inclusive. */
  start_date: string;
  /** ISO YYYY-MM-DD, exclusive. */
  end_date: string;
  /** The alert dataset (core/tiles/datasets.ts); absent in results of specs from before datasets (glad-2018). */
  dataset?: string;
  /** Minimum confidence kept; absent: every alert. */
  confidence?: ConfidenceName;
}

/** A cluster member as the old system wrote it: [row, col, "YYYY-MM-DD"]. */
export type AlertTuple = [row: number, col: number, date: string];

/** The schema's `cluster` columns of one cluster (z, x, y, centre, count, areas, dates). */
export type ClusterFields = FieldsOf<'cluster'>;

/** One cluster as a tile job builds it: its fields and its members, row-major. */
export interface Cluster extends ClusterFields {
  /** [] when the cluster was read back without its members (a run loaded without `full`). */
  alerts: AlertTuple[];
}

/** A cluster of a run: its run id and its convex hull in lon/lat, as its clusters file stores it. */
export interface StoredCluster extends Cluster, FieldsOf<'run'> {
  /** Absent for clusters built in memory (tests, reports of a tile): exports compute it from `alerts`. */
  geometry?: Polygon;
}

/** A stored cluster with its stable row id (core/results/table.ts). */
export interface ClusterRow extends StoredCluster, FieldsOf<'row'> {}

/** What `npm run tile` prints and the consumer stores. */
export interface TileResult extends TileRequest {
  nb_clusters: number;
  /** The tile's own alerts in the date window (after the confidence and area filters), clustered or not. */
  tile_alerts: number;
  clusters: Cluster[];
}
