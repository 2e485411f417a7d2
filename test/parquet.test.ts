// Clusters/members Parquet files: written with hyparquet-writer, read back with hyparquet (our
// readers) and with DuckDB (core only: its GEOMETRY type and ST_AsWKB/ST_AsText work offline).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readClusters, readClustersAndMembers, readClustersInfo, readMembers, writeClusters, writeMembers } from '../core/run/parquet.ts';
import { hullPolygon } from '../core/clusters/geometry.ts';
import { pixelToLonLat } from '../core/tiles/grid.ts';
import type { Cluster } from '../core/clusters/types.ts';
import { daysBetween } from './results-fixtures.ts';

const RUN = 'r-0123456789abcdef';
const TILE = { z: 12, x: 1370, y: 2150 };
const SPEC = {
  start_date: '2015-01-01', end_date: '2030-01-01', width: 5, min_count: 2, iterations: 25, algorithm: 'standard' as const,
  region: { z: 12, x0: 1370, y0: 2150, x1: 1371, y1: 2150 }, tiles_url: 'file:///tiles/{z}/{x}/{y}.png',
};

/** A cluster record over the given [row, col, date] alerts (numbers need not be consistent for I/O). */
function record(alerts: [number, number, string][], extra: Partial<Cluster> = {}): Cluster {
  const col = alerts.reduce((s, a) => s + a[1], 0) / alerts.length;
  const row = alerts.reduce((s, a) => s + a[0], 0) / alerts.length;
  const { lon, lat } = pixelToLonLat(TILE, col, row);
  const dates = alerts.map((a) => a[2]).sort();
  return {
    ...TILE, col, row, i: Math.round(col), j: Math.round(row), longitude: lon, latitude: lat, count: alerts.length,
    count_low: 1, count_high: alerts.length - 1, count_highest: 0, area: 12.5, area_ha: 0.31, alert_area_ha: alerts.length * 0.0227, min_date: dates[0], max_date: dates.at(-1)!, duration_days: daysBetween(dates[0], dates.at(-1)!), areas: '', alerts, ...extra,
  };
}

const CLUSTERS = [
  record([[10, 10, '2020-01-02'], [10, 14, '2020-01-05'], [15, 12, '2021-06-30'], [12, 12, '2020-03-01']]),
  record([[200, 3, '2019-12-31']]), // one alert: degenerate hull, still a polygon
  record([[100, 100, '2018-05-05'], [101, 101, '2018-05-06']]),
];

/** Minimal WKB polygon reader (little- or big-endian): what DuckDB hands back must be a Polygon. */
function parseWkbPolygon(bytes: Uint8Array): number[][][] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = view.getUint8(0) === 1;
  expect(view.getUint32(1, le)).toBe(3); // 3 = Polygon
  let offset = 5;
  const rings: number[][][] = [];
  const nRings = view.getUint32(offset, le);
  offset += 4;
  for (let r = 0; r < nRings; r++) {
    const n = view.getUint32(offset, le);
    offset += 4;
    const ring: number[][] = [];
    for (let k = 0; k < n; k++) {
      ring.push([view.getFloat64(offset, le), view.getFloat64(offset + 8, le)]);
      offset += 16;
    }
    rings.push(ring);
  }
  expect(offset).toBe(bytes.byteLength);
  return rings;
}

describe('hyparquet round trip', () => {
  it('clusters file: one row per cluster, every Cluster field but alerts, plus run_id and the hull', async () => {
    const bytes = writeClusters({ run_id: RUN, tile: TILE, params: SPEC }, CLUSTERS);
    const rows = await readClusters(bytes);
    expect(rows).toHaveLength(3);
    rows.forEach((row, k) => {
      const { alerts: _alerts, ...fields } = CLUSTERS[k];
      expect(row).toEqual({ run_id: RUN, ...fields, geometry: hullPolygon(CLUSTERS[k]) });
    });
    expect(readClustersInfo(bytes)).toEqual({
      run_id: RUN, tile: TILE, params: SPEC, nb_clusters: 3, format: 2,
      // The tile's totals, for the aggregator (core/store/result-store.ts getParquetFooter).
      totals: { clusters: 3, alerts: 7, hectares: expect.closeTo(7 * 0.0227, 12), first_date: '2018-05-05', last_date: '2021-06-30' },
    });
  });

  it('format 2: each cluster row carries its members (row, col, date lists); a format-1 file has none', async () => {
    const two = await readClustersAndMembers(writeClusters({ run_id: RUN, tile: TILE, params: SPEC }, CLUSTERS));
    expect(two.members).toEqual(CLUSTERS.map((c) => c.alerts));
    expect(Object.keys(two.rows[0])).not.toContain('member_row');
    const one = writeClusters({ run_id: RUN, tile: TILE, params: SPEC }, CLUSTERS, hullPolygon, { format: 1 });
    expect(readClustersInfo(one).format).toBeUndefined();
    const read = await readClustersAndMembers(one);
    expect(read.members).toBeNull();
    expect(read.rows).toEqual(two.rows);
  });

  it('members file (format 1): one row per alert with its cluster row number', async () => {
    const rows = await readMembers(writeMembers(CLUSTERS));
    const expected = CLUSTERS.flatMap((c, k) => c.alerts.map(([row, col, date]) => ({ cluster: k, row, col, date })));
    expect(rows).toEqual(expected);
    expect(rows).toHaveLength(7);
  });

  it('zero clusters still make valid files with zero rows', async () => {
    const bytes = writeClusters({ run_id: RUN, tile: TILE, params: SPEC }, []);
    expect(await readClusters(bytes)).toEqual([]);
    expect(readClustersInfo(bytes).nb_clusters).toBe(0);
    expect(readClustersInfo(bytes).totals).toEqual({ clusters: 0, alerts: 0, hectares: 0, first_date: null, last_date: null });
    expect(await readMembers(writeMembers([]))).toEqual([]);
  });
});

describe('DuckDB reads the files', () => {
  let dir: string;
  let db: DuckDBInstance;
  let con: DuckDBConnection;
  const q = async (sql: string) => (await con.runAndReadAll(sql)).getRowObjects();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'glad-parquet-'));
    writeFileSync(join(dir, 'clusters.parquet'), writeClusters({ run_id: RUN, tile: TILE, params: SPEC }, CLUSTERS));
    writeFileSync(join(dir, 'members.parquet'), writeMembers(CLUSTERS));
    writeFileSync(join(dir, 'empty.parquet'), writeClusters({ run_id: RUN, tile: TILE, params: SPEC }, []));
    db = await DuckDBInstance.create(':memory:');
    con = await db.connect();
  });
  afterAll(() => {
    con?.closeSync();
    db?.closeSync();
    rmSync(dir, { recursive: true, force: true });
  });

  it('counts rows and sums numbers', async () => {
    const [c] = await q(`select count(*)::INTEGER n, sum(count)::INTEGER alerts, min(min_date) first_date from read_parquet('${dir}/clusters.parquet')`);
    expect(c).toEqual({ n: 3, alerts: 7, first_date: '2018-05-05' });
    const [m] = await q(`select count(*)::INTEGER n, count(distinct cluster)::INTEGER clusters, max(date) last_date from read_parquet('${dir}/members.parquet')`);
    expect(m).toEqual({ n: 7, clusters: 3, last_date: '2021-06-30' });
    const [e] = await q(`select count(*)::INTEGER n from read_parquet('${dir}/empty.parquet')`);
    expect(e.n).toBe(0);
  });

  it('format 2: the member lists unnest to the members (what members.parquet held)', async () => {
    const [t] = await q(`select typeof(member_row) r, typeof(member_date) d from read_parquet('${dir}/clusters.parquet') limit 1`);
    expect(t).toEqual({ r: 'INTEGER[]', d: 'VARCHAR[]' });
    const rows = await q(
      `select (k - 1)::INTEGER "cluster", unnest(member_row) "row", unnest(member_col) "col", unnest(member_date) "date"
       from (select *, row_number() over () k from read_parquet('${dir}/clusters.parquet')) order by k`,
    );
    expect(rows).toEqual(await readMembers(writeMembers(CLUSTERS)));
  });

  it('sees a GEOMETRY column whose WKB is each hull polygon', async () => {
    const rows = await q(`select typeof(geometry) t, ST_AsWKB(geometry) wkb, ST_AsText(geometry) wkt from read_parquet('${dir}/clusters.parquet')`);
    expect(rows).toHaveLength(3);
    rows.forEach((row, k) => {
      expect(row.t).toBe('GEOMETRY');
      expect(String(row.wkt)).toMatch(/^POLYGON \(\(/);
      const rings = parseWkbPolygon((row.wkb as { bytes: Uint8Array }).bytes);
      expect(rings).toEqual(hullPolygon(CLUSTERS[k]).coordinates);
      expect(rings[0].length).toBeGreaterThanOrEqual(4); // closed ring
    });
  });

  it('carries GeoParquet 1.1.0 metadata with the bbox of the hulls', async () => {
    const [kv] = await q(`select value::VARCHAR v from parquet_kv_metadata('${dir}/clusters.parquet') where key::VARCHAR = 'geo'`);
    const geo = JSON.parse(String(kv.v).replace(/\\x22/g, '"'));
    expect(geo).toMatchObject({ version: '1.1.0', primary_column: 'geometry', columns: { geometry: { encoding: 'WKB', geometry_types: ['Polygon'] } } });
    const points = CLUSTERS.flatMap((c) => hullPolygon(c).coordinates[0]);
    const xs = points.map((p) => p[0]);
    const ys = points.map((p) => p[1]);
    expect(geo.columns.geometry.bbox).toEqual([Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)]);
    expect(geo.columns.geometry.crs).toBeUndefined(); // omitted = OGC:CRS84 (lon/lat)
  });
});
