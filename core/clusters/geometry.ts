// Plane geometry of clusters: convex hull, signed area, bounding box, and a cluster's hull as a
// GeoJSON Polygon in lon/lat. Pure; the concave outline is in ./concave.ts.
import type { BBox, Polygon, Position } from 'geojson';
import { pixelToLonLat } from '../tiles/grid.ts';
import type { TileAddress } from '../tiles/types.ts';
import type { AlertTuple } from './types.ts';

/** A point in the plane: tile pixels [col, row], or [lon, lat]. */
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

/**
 * Signed shoelace area of a ring, > 0 when counter-clockwise in x-right/y-up axes. Open or closed
 * rings give the same value (the closing edge adds exactly 0).
 */
export function signedArea(ring: readonly Position[]): number {
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

/**
 * A cluster's outline in tile pixels: the convex hull of the members' pixel CENTRES, or, when
 * that hull is degenerate (1–2 alerts or a straight line), the hull of their pixel CORNERS, so
 * every cluster has an outline with an area that covers its pixels.
 */
export function clusterOutline(centres: Point[]): Point[] {
  const hull = convexHull(centres);
  if (hull.length >= 3) return hull;
  const corners: Point[] = [];
  for (const [c, r] of centres) {
    for (const [dc, dr] of [[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]]) corners.push([c + dc, r + dr]);
  }
  return convexHull(corners);
}

/** Area of the cluster's outline, px² (what `area` reports: the area of its hull polygon). */
export function outlineArea(centres: Point[]): number {
  return Math.abs(signedArea(clusterOutline(centres)));
}

/** The ring closed (first point repeated) and counter-clockwise, as RFC 7946 asks of exterior rings. */
export function closedCounterClockwise(ring: readonly Position[]): Position[] {
  const closed = [...ring];
  const [first, last] = [closed[0], closed[closed.length - 1]];
  if (first[0] !== last[0] || first[1] !== last[1]) closed.push(first);
  return signedArea(closed) < 0 ? closed.reverse() : closed;
}

/** A ring of tile pixel coordinates [col, row] in lon/lat. */
export function ringToLonLat(tile: TileAddress, ring: readonly Point[]): Position[] {
  return ring.map(([col, row]) => {
    const { lon, lat } = pixelToLonLat(tile, col, row);
    return [lon, lat];
  });
}

/** The members' pixel centres [col, row]. */
export function memberPoints(alerts: readonly AlertTuple[]): Point[] {
  return alerts.map(([row, col]) => [col, row]);
}

/** The cluster's outline (`clusterOutline`, the same as `area`'s) as a GeoJSON Polygon in lon/lat. */
export function hullPolygon(cluster: TileAddress & { alerts: readonly AlertTuple[] }): Polygon {
  const ring = ringToLonLat(cluster, clusterOutline(memberPoints(cluster.alerts)));
  // Rows grow southward, so the pixel-space orientation flips in lon/lat: make it counter-clockwise.
  if (signedArea(ring) < 0) ring.reverse();
  ring.push([ring[0][0], ring[0][1]]);
  return { type: 'Polygon', coordinates: [ring] };
}

/** Bounding box [xmin, ymin, xmax, ymax] of polygons, or null when there are none. */
export function bboxOf(polygons: readonly Polygon[]): BBox | null {
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
