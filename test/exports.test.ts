import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import type { Position } from 'geojson';
import {
  checkFormat, clusterHull, exportClusters, selectForExport, toGeoJson, type ClusterFeatureCollection,
} from '../core/results/exports.ts';
import { withRowIds } from '../core/results/table.ts';
import { SUMMARY_COLUMNS, VIEW_COLUMNS } from '../core/clusters/schema.ts';
import { concaveArea, concaveHullPolygon, concaveRing } from '../core/clusters/concave.ts';
import { hullArea, hullPolygon, signedArea, type Point } from '../core/clusters/geometry.ts';
import type { AlertTuple } from '../core/clusters/types.ts';
import { FIXTURE_TILES, fixtureRecords, recordFromMembers } from './results-fixtures.ts';

const records = fixtureRecords(9);
const rows = withRowIds(records);

describe('row ids and selection', () => {
  it('gives the same row ids whatever order the records come in', () => {
    const shuffled = [...records].reverse();
    const a = withRowIds(records).map((r) => `${r.row_id}:${r.x}/${r.y}/${r.i}/${r.j}`);
    const b = withRowIds(shuffled).map((r) => `${r.row_id}:${r.x}/${r.y}/${r.i}/${r.j}`);
    expect(b).toEqual(a);
    expect(new Set(a.map((s) => s.split(':')[0])).size).toBe(records.length);
  });

  it('sorts by area descending, keeps the row ids, offset and limit slice after sorting', () => {
    const sorted = selectForExport(records, { sort: 'area', desc: true });
    for (let k = 1; k < sorted.length; k++) expect(sorted[k - 1].area).toBeGreaterThanOrEqual(sorted[k].area);
    const page = selectForExport(records, { sort: 'area', desc: true, offset: 2, limit: 3 });
    expect(page.map((r) => r.row_id)).toEqual(sorted.slice(2, 5).map((r) => r.row_id));
  });

  it('filters by date overlap and picks rows by id', () => {
    const from = [...rows].map((r) => r.min_date).sort()[4];
    const kept = selectForExport(records, { from });
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThan(records.length);
    for (const r of kept) expect(r.max_date >= from).toBe(true);
    expect(selectForExport(records, { rows: [5, 1] }).map((r) => r.row_id)).toEqual([5, 1]);
  });

  it('rejects unknown columns, formats, row ids and bad numbers with one-line errors', () => {
    expect(() => selectForExport(records, { sort: 'aera' })).toThrow(/^unknown column "aera"; columns: .*\barea\b/);
    expect(() => checkFormat('xlsx')).toThrow('unknown format "xlsx"; formats: table, csv, json, geojson, parquet');
    expect(() => selectForExport(records, { rows: [99] })).toThrow('no cluster with row id 99; row ids are 0..8 (9 clusters)');
    expect(() => selectForExport(records, { limit: -1 })).toThrow(/limit=-1/);
    expect(() => selectForExport(records, { from: '2017/01/01' })).toThrow(/from="2017\/01\/01"/);
  });
});

describe('table text', () => {
  it('shows the view columns, one line a cluster, and a count line', async () => {
    const text = (await exportClusters(records, 'table', { sort: 'area', desc: true, limit: 4 })) as string;
    const lines = text.trimEnd().split('\n');
    expect(lines[0].trim().split(/\s+/)).toEqual([...VIEW_COLUMNS]);
    expect(lines).toHaveLength(1 + 4 + 1);
    expect(lines[5]).toBe('4 of 9 clusters shown');
    const areaCol = VIEW_COLUMNS.indexOf('area');
    const areas = lines.slice(1, 5).map((l) => Number(l.trim().split(/\s+/)[areaCol]));
    const expected = [...records].map((r) => r.area).sort((a, b) => b - a).slice(0, 4);
    expect(areas).toEqual(expected);
  });
});

describe('CSV', () => {
  it('round-trips through a CSV parser: header, every row, numbers and dates intact', async () => {
    const csv = (await exportClusters(records, 'csv')) as string;
    const parsed = parse(csv, { columns: true }) as Record<string, string>[];
    expect(Object.keys(parsed[0])).toEqual(SUMMARY_COLUMNS);
    expect(parsed).toHaveLength(records.length);
    for (const p of parsed) {
      const r = rows[Number(p.row_id)];
      expect(Number(p.latitude)).toBe(r.latitude);
      expect(Number(p.area_ha)).toBe(r.area_ha);
      expect(p.min_date).toBe(r.min_date);
      expect(Number(p.count)).toBe(r.count);
    }
  });

  it('adds the members as JSON only when full, and quotes commas and quotes (RFC 4180)', async () => {
    const odd = records.map((r) => ({ ...r, run_id: 'a "quoted", id' }));
    const csv = (await exportClusters(odd, 'csv', { full: true })) as string;
    const parsed = parse(csv, { columns: true }) as Record<string, string>[];
    expect(parsed[0].run_id).toBe('a "quoted", id');
    const r0 = withRowIds(odd)[0];
    expect(JSON.parse(parsed[0].alerts)).toEqual(r0.alerts);
  });
});

describe('JSON', () => {
  it('is an array of row objects; alerts only when full', async () => {
    const short = JSON.parse((await exportClusters(records, 'json')) as string);
    expect(short).toHaveLength(records.length);
    expect(short[0].alerts).toBeUndefined();
    const full = JSON.parse((await exportClusters(records, 'json', { full: true })) as string);
    expect(full[3].alerts).toEqual(rows[3].alerts);
    expect(full[3].area_ha).toBe(rows[3].area_ha);
  });
});

/** Even-odd point-in-polygon test on one ring. */
function inside(point: Position, ring: Position[]): boolean {
  let result = false;
  for (let a = 0, b = ring.length - 1; a < ring.length; b = a++) {
    const [xa, ya] = ring[a];
    const [xb, yb] = ring[b];
    if (ya > point[1] !== yb > point[1] && point[0] < ((xb - xa) * (point[1] - ya)) / (yb - ya) + xa) result = !result;
  }
  return result;
}

describe('GeoJSON (RFC 7946)', () => {
  it('is a FeatureCollection of closed counter-clockwise hulls containing their centre points', async () => {
    const fc = JSON.parse((await exportClusters(records, 'geojson')) as string) as ClusterFeatureCollection;
    expect(fc.type).toBe('FeatureCollection');
    expect(fc.features).toHaveLength(2 * records.length);
    const hulls = fc.features.filter((f) => f.properties.feature === 'hull');
    const centres = fc.features.filter((f) => f.properties.feature === 'centre');
    expect(hulls).toHaveLength(records.length);
    expect(centres).toHaveLength(records.length);
    for (const hull of hulls) {
      expect(hull.type).toBe('Feature');
      if (hull.geometry.type !== 'Polygon') throw new Error('hull is not a Polygon');
      const ring = hull.geometry.coordinates[0];
      expect(ring.length).toBeGreaterThanOrEqual(4);
      expect(ring[0]).toEqual(ring[ring.length - 1]);
      for (const [lon, lat] of ring) {
        expect(lon).toBeGreaterThanOrEqual(-180);
        expect(lon).toBeLessThanOrEqual(180);
        expect(lat).toBeGreaterThanOrEqual(-90);
        expect(lat).toBeLessThanOrEqual(90);
      }
      expect(signedArea(ring)).toBeGreaterThan(0);
      const centre = centres.find((c) => c.properties.row_id === hull.properties.row_id)!;
      if (centre.geometry.type !== 'Point') throw new Error('centre is not a Point');
      expect(inside(centre.geometry.coordinates, ring)).toBe(true);
      expect(centre.properties.count).toBe(hull.properties.count);
      expect(hull.properties.alerts).toBeUndefined();
    }
  });

  it('can hold hulls or centres alone, and rejects an unknown geometry', () => {
    expect(toGeoJson(rows, { geometry: 'hull' }).features.every((f) => f.geometry.type === 'Polygon')).toBe(true);
    expect(toGeoJson(rows, { geometry: 'centre' }).features.every((f) => f.geometry.type === 'Point')).toBe(true);
    expect(() => toGeoJson(rows, { geometry: 'hulls' as never })).toThrow(/unknown geometry "hulls"/);
  });
});

describe('GeoParquet', () => {
  it('is read back by DuckDB with every row and the geometry column', async () => {
    const bytes = (await exportClusters(records, 'parquet', { sort: 'count', desc: true })) as Uint8Array;
    const dir = mkdtempSync(join(tmpdir(), 'exports-'));
    const file = join(dir, 'clusters.parquet');
    writeFileSync(file, bytes);
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const db = await DuckDBInstance.create(':memory:');
    const con = await db.connect();
    const reader = await con.runAndReadAll(`SELECT row_id, count, latitude, min_date FROM read_parquet('${file}') ORDER BY row_id`);
    const got = reader.getRowObjectsJson() as Record<string, unknown>[];
    expect(got).toHaveLength(records.length);
    for (const g of got) {
      const r = rows[Number(g.row_id)];
      expect(Number(g.count)).toBe(r.count);
      expect(Number(g.latitude)).toBeCloseTo(r.latitude, 12);
      expect(String(g.min_date)).toBe(r.min_date);
    }
    const geo = await con.runAndReadAll(
      `SELECT decode(value) AS v FROM parquet_kv_metadata('${file}') WHERE decode(key) = 'geo'`,
    );
    const meta = JSON.parse(String(geo.getRowObjectsJson()[0].v));
    expect(meta.primary_column).toBe('geometry');
    expect(meta.columns.geometry.encoding).toBe('WKB');
    // DuckDB reads the column as a GEOMETRY: its WKT must be each cluster's hull ring.
    const wkt = await con.runAndReadAll(`SELECT row_id, geometry::VARCHAR AS w FROM read_parquet('${file}')`);
    for (const g of wkt.getRowObjectsJson()) {
      const ring = clusterHull(rows[Number(g.row_id)]).coordinates[0];
      const text = String(g.w);
      expect(text.startsWith('POLYGON ((')).toBe(true);
      const points = text.slice('POLYGON (('.length, -2).split(', ').map((p) => p.split(' ').map(Number));
      expect(points).toHaveLength(ring.length);
      points.forEach(([lon, lat], k) => {
        expect(lon).toBeCloseTo(ring[k][0], 9);
        expect(lat).toBeCloseTo(ring[k][1], 9);
      });
    }
    con.closeSync();
  });
});

/** A "C": an annulus of radius 5..9 around (100, 100) with its right-hand quarter cut away. */
function cShape(): AlertTuple[] {
  const out: AlertTuple[] = [];
  for (let r = 90; r <= 110; r++) {
    for (let c = 90; c <= 110; c++) {
      const d = Math.hypot(c - 100, r - 100);
      if (d >= 5 && d <= 9 && !(c > 100 && Math.abs(r - 100) < c - 100)) out.push([r, c, '2019-01-01']);
    }
  }
  return out;
}

/** True when p is inside the closed ring or on one of its edges. */
function insideOrOn(p: Point, ring: Point[]): boolean {
  for (let k = 0; k + 1 < ring.length; k++) {
    const [a, b] = [ring[k], ring[k + 1]];
    const cross = (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]);
    const within = Math.min(a[0], b[0]) - 1e-9 <= p[0] && p[0] <= Math.max(a[0], b[0]) + 1e-9 && Math.min(a[1], b[1]) - 1e-9 <= p[1] && p[1] <= Math.max(a[1], b[1]) + 1e-9;
    if (Math.abs(cross) < 1e-9 && within) return true;
  }
  return inside(p, ring);
}

describe('concave hull option', () => {
  const c = recordFromMembers(FIXTURE_TILES[0], cShape());
  const points: Point[] = c.alerts.map(([r, col]) => [col, r]);

  it('follows the notch of a C-shaped cluster and still holds every member', () => {
    // The notch is cut out of the C's outline (ratio 0.87 measured), a full disc keeps ~all (0.95).
    const ratio = concaveArea(points) / hullArea(points);
    const disc: Point[] = [];
    for (let r = 0; r <= 20; r++) for (let col = 0; col <= 20; col++) if (Math.hypot(col - 10, r - 10) <= 9) disc.push([col, r]);
    const discRatio = concaveArea(disc) / hullArea(disc);
    expect(ratio).toBeLessThan(0.9);
    expect(discRatio).toBeGreaterThan(0.9);
    expect(discRatio).toBeLessThanOrEqual(1);
    const ring = concaveRing(points);
    expect(ring[0]).toEqual(ring[ring.length - 1]);
    for (const p of points) expect(insideOrOn(p, ring)).toBe(true);
  });

  it('is exported as closed counter-clockwise GeoJSON rings marked hull "concave"', () => {
    const rowsC = withRowIds([c, ...records]);
    const fc = toGeoJson(rowsC, { geometry: 'hull', hull: 'concave' });
    expect(fc.features).toHaveLength(rowsC.length);
    for (const f of fc.features) {
      if (f.geometry.type !== 'Polygon') throw new Error('not a Polygon');
      const ring = f.geometry.coordinates[0];
      expect(ring[0]).toEqual(ring[ring.length - 1]);
      expect(signedArea(ring)).toBeGreaterThan(0);
      expect(f.properties.hull).toBe('concave');
    }
    // The C's concave ring differs from its convex one; tiny clusters fall back to the convex polygon.
    expect(concaveHullPolygon(c)).not.toEqual(hullPolygon(c));
    const pair = recordFromMembers(FIXTURE_TILES[0], [[5, 5, '2019-01-01'], [5, 6, '2019-01-02']]);
    expect(concaveHullPolygon(pair)).toEqual(hullPolygon(pair));
    expect(() => toGeoJson(rowsC, { hull: 'round' as never })).toThrow(/unknown hull "round"; hulls: convex, concave/);
  });
});
