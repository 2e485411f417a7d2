// Cluster records: from clustered alerts (indices into a tile+halo Alerts) to the ClusterRecord
// every output is built from, plus the cluster's convex hull as a GeoJSON polygon.
import { daysToIso } from '../tiles/dates.ts';
import { pixelAreaHa, pixelToLonLat } from '../tiles/grid.ts';
import type { AlertTuple, ClusterRecord } from './types.ts';
import type { Alerts, TileAddress } from '../tiles/types.ts';

/** A cluster owned by a tile: members are indices into the tile+halo Alerts; centre in tile pixels. */
export interface ClusterMembers {
  members: Int32Array;
  col: number;
  row: number;
}

export type Point = [x: number, y: number];

/** 2D cross product of OA and OB (> 0 when O→A→B turns counter-clockwise in x-right/y-up axes). */
function cross(o: Point, a: Point, b: Point): number {
  return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
}

/**
 * Convex hull by Andrew's monotone chain: the hull vertices in order, without collinear points
 * and without repeating the first point. Fewer than 3 distinct points, or all collinear, give
 * fewer than 3 vertices.
 */
export function convexHull(points: Point[]): Point[] {
  const pts = [...points].sort((p, q) => p[0] - q[0] || p[1] - q[1]);
  const unique = pts.filter((p, k) => k === 0 || p[0] !== pts[k - 1][0] || p[1] !== pts[k - 1][1]);
  if (unique.length < 3) return unique;
  const lower: Point[] = [];
  for (const p of unique) {
    while (lower.length >= 2 && cross(lower[lower.length - 2], lower[lower.length - 1], p) <= 0) lower.pop();
    lower.push(p);
  }
  const upper: Point[] = [];
  for (let k = unique.length - 1; k >= 0; k--) {
    const p = unique[k];
    while (upper.length >= 2 && cross(upper[upper.length - 2], upper[upper.length - 1], p) <= 0) upper.pop();
    upper.push(p);
  }
  lower.pop();
  upper.pop();
  return lower.concat(upper);
}

/** Signed shoelace area of a ring (no closing point needed). */
function signedArea(ring: Point[]): number {
  let s = 0;
  for (let k = 0; k < ring.length; k++) {
    const [x0, y0] = ring[k];
    const [x1, y1] = ring[(k + 1) % ring.length];
    s += x0 * y1 - x1 * y0;
  }
  return s / 2;
}

/** Area of the convex hull of the points (0 for points, segments and collinear sets). */
export function hullArea(points: Point[]): number {
  const hull = convexHull(points);
  return hull.length < 3 ? 0 : Math.abs(signedArea(hull));
}

/** Builds the record of one owned cluster. Members are listed row-major (row, then col). */
export function buildClusterRecord(tile: TileAddress, alerts: Alerts, cluster: ClusterMembers): ClusterRecord {
  const { members } = cluster;
  if (members.length === 0) throw new Error(`tile ${tile.z}/${tile.x}/${tile.y}: cluster has no members`);
  const order = Array.from(members).sort((a, b) => alerts.row[a] - alerts.row[b] || alerts.col[a] - alerts.col[b]);
  let minDays = Infinity;
  let maxDays = -Infinity;
  const points: Point[] = [];
  const tuples: AlertTuple[] = [];
  for (const m of order) {
    if (m < 0 || m >= alerts.length) throw new Error(`cluster member ${m} is outside the ${alerts.length} alerts`);
    const days = alerts.days[m];
    if (days < minDays) minDays = days;
    if (days > maxDays) maxDays = days;
    points.push([alerts.col[m], alerts.row[m]]);
    tuples.push([alerts.row[m], alerts.col[m], daysToIso(days)]);
  }
  const { lon, lat } = pixelToLonLat(tile, cluster.col, cluster.row);
  const pixelHa = pixelAreaHa(lat, tile.z);
  const area = hullArea(points);
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
    area,
    area_ha: area * pixelHa,
    alert_area_ha: members.length * pixelHa,
    min_date: daysToIso(minDays),
    max_date: daysToIso(maxDays),
    alerts: tuples,
  };
}

/** Records of all owned clusters: largest first, then by position (j, i) for a stable order. */
export function buildClusterRecords(tile: TileAddress, alerts: Alerts, clusters: ClusterMembers[]): ClusterRecord[] {
  return clusters
    .map((c) => buildClusterRecord(tile, alerts, c))
    .sort((a, b) => b.count - a.count || a.j - b.j || a.i - b.i || a.row - b.row || a.col - b.col);
}

export interface GeoJsonPolygon {
  type: 'Polygon';
  /** One closed exterior ring, counter-clockwise (RFC 7946), [longitude, latitude] pairs. */
  coordinates: [number, number][][];
}

/**
 * The cluster's convex hull as a GeoJSON Polygon in lon/lat. The hull runs through the members'
 * pixel CENTRES (the same hull as `area`). When that hull is degenerate (1-2 alerts or a straight
 * line, area 0) the hull of the members' pixel CORNERS is used instead, so every cluster gets a
 * valid polygon that covers its pixels.
 */
export function hullPolygon(record: ClusterRecord): GeoJsonPolygon {
  const centres: Point[] = record.alerts.map(([row, col]) => [col, row]);
  let hull = convexHull(centres);
  if (hull.length < 3) {
    const corners: Point[] = [];
    for (const [c, r] of centres) {
      for (const [dc, dr] of [[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]]) corners.push([c + dc, r + dr]);
    }
    hull = convexHull(corners);
  }
  const ring: [number, number][] = hull.map(([col, row]) => {
    const { lon, lat } = pixelToLonLat(record, col, row);
    return [lon, lat];
  });
  // Rows grow southward, so the pixel-space orientation flips in lon/lat: make it counter-clockwise.
  if (signedArea(ring) < 0) ring.reverse();
  ring.push([ring[0][0], ring[0][1]]);
  return { type: 'Polygon', coordinates: [ring] };
}
