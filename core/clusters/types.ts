// Shapes of a cluster as a tile job produces it.
import type { ClusterParams } from '../meanshift/types.ts';
import type { TileAddress } from '../tiles/types.ts';

/** One tile request, defaults filled in: exactly the fields `npm run tile` echoes. */
export interface TileRequest extends TileAddress, ClusterParams {
  /** ISO YYYY-MM-DD, inclusive. */
  start_date: string;
  /** ISO YYYY-MM-DD, exclusive. */
  end_date: string;
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
