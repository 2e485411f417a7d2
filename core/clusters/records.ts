// Clusters of a tile: from the engine's owned clusters (indices into a tile+halo Alerts) to the
// Cluster every output is built from.
import { daysToIso, isoToDays } from '../tiles/dates.ts';
import { pixelAreaHa, pixelToLonLat } from '../tiles/grid.ts';
import type { OwnedCluster } from '../meanshift/engine.ts';
import { outlineArea, type Point } from './geometry.ts';
import type { AlertTuple, Cluster } from './types.ts';
import type { Alerts, TileAddress } from '../tiles/types.ts';

/** Members of a tile with its halo (up to 512 px: rows and columns within ±2,048 of the tile) fit these. */
const COORD_OFFSET = 2048;
const COORD_SPAN = 4096;
const INDEX_SPAN = 2 ** 21;

/**
 * The members in row-major order (row, then col): one numeric sort of row·span + col packed with
 * the index (a comparator sort was a third of the records' time on a 30,000-alert tile); the
 * comparator beyond the packing's range.
 */
function rowMajor(alerts: Alerts, members: Int32Array): number[] {
  const packed = new Float64Array(members.length);
  for (let k = 0; k < members.length; k++) {
    const m = members[k];
    const r = alerts.row[m] + COORD_OFFSET, c = alerts.col[m] + COORD_OFFSET;
    if (!(r >= 0 && r < COORD_SPAN && c >= 0 && c < COORD_SPAN && m < INDEX_SPAN)) {
      return Array.from(members).sort((a, b) => alerts.row[a] - alerts.row[b] || alerts.col[a] - alerts.col[b]);
    }
    packed[k] = (r * COORD_SPAN + c) * INDEX_SPAN + m;
  }
  packed.sort();
  return Array.from(packed, (v) => v % INDEX_SPAN);
}

/** Builds one owned cluster's record. Members are listed row-major (row, then col). */
export function buildCluster(tile: TileAddress, alerts: Alerts, cluster: OwnedCluster): Cluster {
  const { members } = cluster;
  if (members.length === 0) throw new Error(`tile ${tile.z}/${tile.x}/${tile.y}: cluster has no members`);
  for (const m of members) if (!(m >= 0 && m < alerts.length)) throw new Error(`cluster member ${m} is outside the ${alerts.length} alerts`);
  const order = rowMajor(alerts, members);
  let minDays = Infinity;
  let maxDays = -Infinity;
  // Members per confidence level (1 low, 2 high, 3 highest: core/tiles/datasets.ts CONFIDENCE).
  const levels = [0, 0, 0, 0];
  const points: Point[] = [];
  const tuples: AlertTuple[] = [];
  for (let k = 0; k < order.length; k++) {
    const m = order[k];
    const days = alerts.days[m];
    if (days < minDays) minDays = days;
    if (days > maxDays) maxDays = days;
    levels[Math.min(3, alerts.confidence[m])]++;
    // The outline is the hull of each row's first and last member: the others lie between them.
    const row = alerts.row[m];
    if (k === 0 || k === order.length - 1 || alerts.row[order[k - 1]] !== row || alerts.row[order[k + 1]] !== row) points.push([alerts.col[m], row]);
    tuples.push([row, alerts.col[m], daysToIso(days)]);
  }
  const { lon, lat } = pixelToLonLat(tile, cluster.col, cluster.row);
  const pixelHa = pixelAreaHa(lat, tile.z);
  const area = outlineArea(points);
  return {
    z: tile.z,
    x: tile.x,
    y: tile.y,
    col: cluster.col,
    row: cluster.row,
    i: Math.round(cluster.col),
    j: Math.round(cluster.row),
    longitude: lon,
    latitude: lat,
    count: members.length,
    count_low: levels[1],
    count_high: levels[2],
    count_highest: levels[3],
    area,
    area_ha: area * pixelHa,
    alert_area_ha: members.length * pixelHa,
    min_date: daysToIso(minDays),
    max_date: daysToIso(maxDays),
    duration_days: maxDays - minDays,
    areas: '', // set by runTile in a run with areas of interest
    alerts: tuples,
  };
}

/**
 * Days from a cluster's first to its last alert date: a span, not a count of days, so an event seen
 * on one date lasts 0 days and one seen on two consecutive days lasts 1. Also how readers fill the
 * column in result files written before it existed.
 */
export function durationDays(minDate: string, maxDate: string): number {
  return isoToDays(maxDate) - isoToDays(minDate);
}

/** All owned clusters' records: largest first, then by position (j, i) for a stable order. */
export function buildClusters(tile: TileAddress, alerts: Alerts, clusters: OwnedCluster[]): Cluster[] {
  return clusters
    .map((c) => buildCluster(tile, alerts, c))
    .sort((a, b) => b.count - a.count || a.j - b.j || a.i - b.i || a.row - b.row || a.col - b.col);
}
