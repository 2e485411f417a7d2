import { describe, expect, it } from 'vitest';
import { allocAlerts } from '../core/tiles/decode.ts';
import { isoToDays } from '../core/tiles/dates.ts';
import { buildCluster, buildClusters } from '../core/clusters/records.ts';
import { convexHull, hullArea, hullPolygon, outlineArea, type Point } from '../core/clusters/geometry.ts';
import { mulberry32 } from '../local/synthetic.ts';
import { pixelAreaHa, pixelToLonLat, tileBounds } from '../core/tiles/grid.ts';
import type { Alerts } from '../core/tiles/types.ts';

const tile = { z: 12, x: 1355, y: 2045 };

function alertsOf(list: [row: number, col: number, date: string][]): Alerts {
  const a = allocAlerts(list.length);
  list.forEach(([row, col, date], k) => {
    a.row[k] = row;
    a.col[k] = col;
    a.days[k] = isoToDays(date);
    a.confidence[k] = 2;
  });
  a.length = list.length;
  return a;
}

describe('convex hull', () => {
  it('drops interior and collinear edge points', () => {
    const grid: Point[] = [];
    for (let x = 0; x < 10; x++) for (let y = 0; y < 10; y++) grid.push([x, y]);
    const hull = convexHull(grid);
    expect(hull).toHaveLength(4);
    expect(hull.map((p) => p.join(',')).sort()).toEqual(['0,0', '0,9', '9,0', '9,9']);
    expect(hullArea(grid)).toBe(81);
  });

  it('is 0 for 1-2 points and collinear sets, with duplicates tolerated', () => {
    expect(hullArea([])).toBe(0);
    expect(hullArea([[3, 4]])).toBe(0);
    expect(hullArea([[3, 4], [3, 4], [5, 6]])).toBe(0);
    expect(hullArea([[0, 0], [1, 1], [2, 2], [5, 5]])).toBe(0);
    expect(hullArea([[0, 0], [4, 0], [0, 3], [0, 3]])).toBe(6);
  });

  it('on random sets, every point is inside and every hull edge has all points on one side', () => {
    const rand = mulberry32(42);
    for (let trial = 0; trial < 50; trial++) {
      const pts: Point[] = Array.from({ length: 5 + Math.floor(rand() * 60) }, () => [Math.floor(rand() * 40), Math.floor(rand() * 40)]);
      const hull = convexHull(pts);
      for (let k = 0; k < hull.length; k++) {
        const [a, b] = [hull[k], hull[(k + 1) % hull.length]];
        const sides = pts.map((p) => Math.sign((b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0])));
        // All on the same side (or on the edge line).
        expect(sides.some((s) => s > 0) && sides.some((s) => s < 0)).toBe(false);
      }
      // Area by triangle fan equals the area of the bounding set's hull; it can't exceed the bbox.
      const xs = pts.map((p) => p[0]);
      const ys = pts.map((p) => p[1]);
      const bbox = (Math.max(...xs) - Math.min(...xs)) * (Math.max(...ys) - Math.min(...ys));
      expect(hullArea(pts)).toBeLessThanOrEqual(bbox);
      expect(hullArea(pts)).toBeGreaterThan(0);
    }
  });
});

describe('buildCluster', () => {
  const alerts = alertsOf([
    [10, 10, '2016-07-01'],
    [10, 20, '2016-06-05'],
    [-3, 12, '2016-09-30'], // halo member from the tile above
    [30, 10, '2016-08-15'],
    [200, 200, '2016-07-01'], // not a member
  ]);

  it('fills every field from the members and the centre', () => {
    const rec = buildCluster(tile, alerts, { members: new Int32Array([3, 0, 2, 1]), col: 12.6, row: 11.4 });
    const centre = pixelToLonLat(tile, 12.6, 11.4);
    expect([rec.z, rec.x, rec.y, rec.col, rec.row, rec.i, rec.j]).toEqual([12, 1355, 2045, 12.6, 11.4, 13, 11]);
    expect(rec.longitude).toBe(centre.lon);
    expect(rec.latitude).toBe(centre.lat);
    expect(rec.count).toBe(4);
    // Hull of (col,row) = ring (12,-3) → (20,10) → (10,30) → (10,10); shoelace terms by hand:
    // 12*10-20*-3 = 180, 20*30-10*10 = 500, 10*10-10*30 = -200, 10*-3-12*10 = -150 → 330/2.
    const expectedArea = 165;
    expect(rec.area).toBeCloseTo(expectedArea, 9);
    expect(rec.area_ha).toBeCloseTo(rec.area * pixelAreaHa(centre.lat, 12), 12);
    expect(rec.alert_area_ha).toBeCloseTo(4 * pixelAreaHa(centre.lat, 12), 12);
    expect(rec.min_date).toBe('2016-06-05');
    expect(rec.max_date).toBe('2016-09-30');
    // 2016-06-05 → 2016-09-30: 25 days left of June + 31 + 31 + 30.
    expect(rec.duration_days).toBe(25 + 31 + 31 + 30);
    expect(rec.alerts).toEqual([
      [-3, 12, '2016-09-30'],
      [10, 10, '2016-07-01'],
      [10, 20, '2016-06-05'],
      [30, 10, '2016-08-15'],
    ]);
  });

  it('lists members row-major (row, then col), near the tile and far beyond it (where the packed sort gives way)', () => {
    const rand = mulberry32(3);
    for (const spread of [300, 10_000]) {
      const list: [number, number, string][] = [];
      for (let k = 0; k < 500; k++) list.push([Math.floor((rand() - 0.5) * spread), Math.floor((rand() - 0.5) * spread), '2020-01-01']);
      const many = alertsOf(list);
      const members = Int32Array.from({ length: many.length }, (_, k) => k);
      const rec = buildCluster(tile, many, { members, col: 0, row: 0 });
      const want = [...list].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      expect(rec.alerts.map(([row, col]) => [row, col])).toEqual(want.map(([row, col]) => [row, col]));
    }
  });

  it('orders records largest first and rejects bad members', () => {
    const recs = buildClusters(tile, alerts, [
      { members: new Int32Array([4]), col: 200, row: 200 },
      { members: new Int32Array([0, 1, 3]), col: 13, row: 17 },
    ]);
    expect(recs.map((r) => r.count)).toEqual([3, 1]);
    expect(recs[1].area).toBe(1); // one alert: its pixel square
    expect(() => buildCluster(tile, alerts, { members: new Int32Array([9]), col: 0, row: 0 })).toThrow('member 9');
    expect(() => buildCluster(tile, alerts, { members: new Int32Array([]), col: 0, row: 0 })).toThrow('no members');
  });
});

describe('duration_days', () => {
  it('is the days from the first to the last member date: 0 for one date, leap days counted', () => {
    const oneDay = alertsOf([[5, 5, '2019-03-01'], [5, 6, '2019-03-01'], [6, 5, '2019-03-01']]);
    expect(buildCluster(tile, oneDay, { members: new Int32Array([0, 1, 2]), col: 5, row: 5 }).duration_days).toBe(0);
    const twoDays = alertsOf([[5, 5, '2019-12-31'], [5, 6, '2020-01-01']]);
    expect(buildCluster(tile, twoDays, { members: new Int32Array([0, 1]), col: 5, row: 5 }).duration_days).toBe(1);
    // 2016-02-28 → 2020-02-28 is 4 × 365 days + 2016-02-29; then 2 more days over 2020-02-29.
    const years = alertsOf([[7, 7, '2018-05-05'], [7, 8, '2020-03-01'], [8, 7, '2016-02-28']]);
    const rec = buildCluster(tile, years, { members: new Int32Array([0, 1, 2]), col: 7, row: 7 });
    expect(rec.duration_days).toBe(4 * 365 + 1 + 2);
    expect(rec.duration_days).toBe((Date.UTC(2020, 2, 1) - Date.UTC(2016, 1, 28)) / 86_400_000);
  });
});

describe('area agrees with the hull polygon', () => {
  it('a cluster\'s area is that of the outline of ALL its members (random clusters, lines and single rows included)', () => {
    const rand = mulberry32(7);
    for (let trial = 0; trial < 60; trial++) {
      const shape = trial % 4; // 0 blob, 1 one row, 2 one column, 3 diagonal line
      const n = 1 + Math.floor(rand() * 80);
      const seen = new Set<string>();
      const list: [number, number, string][] = [];
      for (let k = 0; k < n; k++) {
        const t = Math.floor(rand() * 30);
        const [row, col] = shape === 0 ? [Math.floor(rand() * 20), Math.floor(rand() * 20)] : shape === 1 ? [5, t] : shape === 2 ? [t, 5] : [t, t];
        if (seen.has(`${row},${col}`)) continue;
        seen.add(`${row},${col}`);
        list.push([row, col, '2016-03-01']);
      }
      const alerts = alertsOf(list);
      const rec = buildCluster(tile, alerts, { members: Int32Array.from(list.keys()).reverse(), col: 10, row: 10 });
      expect(rec.area).toBe(outlineArea(list.map(([row, col]): Point => [col, row])));
    }
  });

  it('a 30-alert straight line has the area of its polygon (the hull of its pixel corners), not 0', () => {
    const line = alertsOf(Array.from({ length: 30 }, (_, k) => [40, 100 + k, '2019-03-01'] as [number, number, string]));
    const rec = buildCluster(tile, line, { members: Int32Array.from({ length: 30 }, (_, k) => k), col: 114.5, row: 40 });
    expect(rec.area).toBe(30);
    expect(rec.area_ha).toBeCloseTo(30 * pixelAreaHa(rec.latitude, tile.z), 9);
    // The polygon's own area, back in pixels: the same 30 px² (a 30 × 1 strip).
    const ring = hullPolygon(rec).coordinates[0];
    const lons = ring.map(([lon]) => lon), lats = ring.map(([, lat]) => lat);
    const pxW = (Math.max(...lons) - Math.min(...lons)) / (pixelToLonLat(tile, 1, 0).lon - pixelToLonLat(tile, 0, 0).lon);
    const pxH = (Math.max(...lats) - Math.min(...lats)) / (pixelToLonLat(tile, 0, 40).lat - pixelToLonLat(tile, 0, 41).lat);
    expect(pxW * pxH).toBeCloseTo(30, 3);
  });
});

describe('hullPolygon', () => {
  const ringArea = (ring: number[][]) => {
    let s = 0;
    for (let k = 0; k + 1 < ring.length; k++) s += ring[k][0] * ring[k + 1][1] - ring[k + 1][0] * ring[k][1];
    return s / 2;
  };

  it('is a closed counter-clockwise ring through the hull pixel centres', () => {
    const alerts = alertsOf([[0, 0, '2016-01-01'], [0, 9, '2016-01-01'], [9, 9, '2016-01-01'], [9, 0, '2016-01-01'], [4, 4, '2016-01-01']]);
    const rec = buildCluster(tile, alerts, { members: new Int32Array([0, 1, 2, 3, 4]), col: 4.5, row: 4.5 });
    const poly = hullPolygon(rec);
    expect(poly.type).toBe('Polygon');
    const ring = poly.coordinates[0];
    expect(ring).toHaveLength(5);
    expect(ring[0]).toEqual(ring[4]);
    expect(ringArea(ring)).toBeGreaterThan(0);
    const nw = pixelToLonLat(tile, 0, 0);
    expect(ring.some(([lon, lat]) => lon === nw.lon && lat === nw.lat)).toBe(true);
  });

  it('a single alert becomes its pixel square', () => {
    const alerts = alertsOf([[0, 0, '2016-01-01']]);
    const rec = buildCluster(tile, alerts, { members: new Int32Array([0]), col: 0, row: 0 });
    const ring = hullPolygon(rec).coordinates[0];
    expect(ring).toHaveLength(5);
    expect(ringArea(ring)).toBeGreaterThan(0);
    const b = tileBounds(tile);
    const lons = ring.map((p) => p[0]);
    const lats = ring.map((p) => p[1]);
    expect(Math.min(...lons)).toBeCloseTo(b.west, 12);
    expect(Math.max(...lats)).toBeCloseTo(b.north, 12);
    expect(Math.max(...lons)).toBeCloseTo(b.west + (b.east - b.west) / 256, 12);
  });
});
