// Concave hull of a cluster's members (the old CLI's concave-hull option), as a GeoJSON Polygon in
// lon/lat. The outline comes from `concaveman` on the members' pixel centres; clusters whose convex
// hull is degenerate (1-2 alerts, a straight line) fall back to core/clusters/records.ts's polygon.
import concaveman from 'concaveman';
import { convexHull, hullPolygon, type GeoJsonPolygon, type Point } from './records.ts';
import { pixelToLonLat } from '../tiles/grid.ts';
import type { ClusterRecord } from './types.ts';

/** concaveman's relative concavity: 1 = detailed, larger = closer to convex. */
export const DEFAULT_CONCAVITY = 2;
/** Edges shorter than this (pixels) are not refined further: neighbouring pixels stay joined. */
const LENGTH_THRESHOLD = 1;

function signedArea(ring: readonly [number, number][]): number {
  let s = 0;
  for (let k = 0; k + 1 < ring.length; k++) s += ring[k][0] * ring[k + 1][1] - ring[k + 1][0] * ring[k][1];
  return s / 2;
}

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
export function concaveHullPolygon(record: ClusterRecord, concavity = DEFAULT_CONCAVITY): GeoJsonPolygon {
  const points: Point[] = record.alerts.map(([row, col]) => [col, row]);
  if (convexHull(points).length < 3) return hullPolygon(record);
  const ring: [number, number][] = concaveRing(points, concavity).map(([col, row]) => {
    const { lon, lat } = pixelToLonLat(record, col, row);
    return [lon, lat];
  });
  if (signedArea(ring) < 0) ring.reverse();
  return { type: 'Polygon', coordinates: [ring] };
}
