// Concave hull of a cluster's members (the old CLI's concave-hull option), as a GeoJSON Polygon in
// lon/lat. The outline comes from `concaveman` on the members' pixel centres; clusters whose convex
// hull is degenerate (1-2 alerts, a straight line) fall back to the convex hull polygon.
import concaveman from 'concaveman';
import type { Polygon } from 'geojson';
import { closedCounterClockwise, convexHull, hullPolygon, memberPoints, ringToLonLat, signedArea, type Point } from './geometry.ts';
import type { AlertTuple } from './types.ts';
import type { TileAddress } from '../tiles/types.ts';

/** concaveman's relative concavity: 1 = detailed, larger = closer to convex. */
const DEFAULT_CONCAVITY = 2;
/** Edges shorter than this (pixels) are not refined further: neighbouring pixels stay joined. */
const LENGTH_THRESHOLD = 1;

/** The concave outline in pixel coordinates [col, row], closed (first point repeated). */
export function concaveRing(points: Point[], concavity = DEFAULT_CONCAVITY): Point[] {
  const ring = concaveman(points, concavity, LENGTH_THRESHOLD) as Point[];
  const [first, last] = [ring[0], ring[ring.length - 1]];
  if (first[0] !== last[0] || first[1] !== last[1]) ring.push([first[0], first[1]]);
  return ring;
}

/** Area (px²) of the concave outline of some points; 0 when they are degenerate. */
export function concaveArea(points: Point[], concavity = DEFAULT_CONCAVITY): number {
  if (convexHull(points).length < 3) return 0;
  return Math.abs(signedArea(concaveRing(points, concavity)));
}

/** The cluster's concave hull, closed and counter-clockwise in lon/lat. Needs the members. */
export function concaveHullPolygon(cluster: TileAddress & { alerts: readonly AlertTuple[] }, concavity = DEFAULT_CONCAVITY): Polygon {
  const points = memberPoints(cluster.alerts);
  if (convexHull(points).length < 3) return hullPolygon(cluster);
  return { type: 'Polygon', coordinates: [closedCounterClockwise(ringToLonLat(cluster, concaveRing(points, concavity)))] };
}
