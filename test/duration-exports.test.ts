// duration_days in every output: clusters built by buildCluster from alerts spanning 0 days to
// several years, written as the pipeline writes them, fetched through ClusterService, and read back
// from each export (table text, view, CSV, JSON, GeoJSON, GeoParquet by DuckDB, the streamed CSV).
// Each value is checked against the span of the cluster's own member dates, computed here with Date.
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { buildClusters } from '../core/clusters/records.ts';
import type { AlertTuple, StoredCluster } from '../core/clusters/types.ts';
import type { ClusterFeatureCollection } from '../core/results/exports.ts';
import { ClusterService, type ServiceDeps } from '../core/results/service.ts';
import { clustersKey, manifestKey } from '../core/run/keys.ts';
import { writeClusters } from '../core/run/parquet.ts';
import { validateRunParams } from '../core/run/params.ts';
import type { Manifest } from '../core/run/types.ts';
import type { ObjectReader } from '../core/store/result-store.ts';
import { isoToDays } from '../core/tiles/dates.ts';
import { allocAlerts } from '../core/tiles/decode.ts';
import { daysBetween } from './results-fixtures.ts';

const RUN = 'r-00000000000000e1';
const BUCKET = 'results';
const TILE = { z: 12, x: 1362, y: 2083 };
const SPEC = validateRunParams({ z: 12, region: { kind: 'tile', x: TILE.x, y: TILE.y }, tiles_url: 'file:///tiles/{z}/{x}/{y}.png' });

/** Member dates of each cluster: one date, two consecutive days, a season, years over leap days. */
const EVENTS: string[][] = [
  ['2018-04-04', '2018-04-04', '2018-04-04'],
  ['2019-12-31', '2020-01-01', '2020-01-01'],
  ['2017-06-10', '2017-09-02', '2017-07-20', '2017-08-01'],
  ['2016-02-28', '2019-11-30', '2018-03-01', '2020-03-01', '2017-01-01'],
];

/** The events as 2×3-pixel-ish blobs in one tile, clustered records as the tile job builds them. */
function records(): StoredCluster[] {
  const tuples: AlertTuple[] = EVENTS.flatMap((dates, k) => dates.map((d, m): AlertTuple => [20 + 40 * k + (m >> 1), 30 + (m & 1), d]));
  const alerts = allocAlerts(tuples.length);
  tuples.forEach(([row, col, date], m) => {
    alerts.row[m] = row;
    alerts.col[m] = col;
    alerts.days[m] = isoToDays(date);
    alerts.confidence[m] = 2;
  });
  alerts.length = tuples.length;
  let next = 0;
  const owned = EVENTS.map((dates, k) => {
    const members = Int32Array.from(dates, () => next++);
    return { members, col: 30.5, row: 20 + 40 * k + 1 };
  });
  return buildClusters(TILE, alerts, owned).map((c) => ({ ...c, run_id: RUN }));
}

/** Days from the first to the last of some member dates, by Date. */
function spanOf(alerts: readonly AlertTuple[]): number {
  const dates = alerts.map((a) => a[2]).sort();
  return daysBetween(dates[0], dates[dates.length - 1]);
}

/** A finished one-tile run in an in-memory S3, fetched by ClusterService as `fetch` and `view` do. */
async function fetchedRun(): Promise<ClusterService> {
  const clusters = records().map(({ run_id: _r, ...c }) => c);
  const manifest: Manifest = {
    run_id: RUN, params: { ...SPEC }, tiles: 1, tiles_with_clusters: 1, tiles_empty: 0, tiles_failed: 0,
    results: [clustersKey(RUN, TILE)], errors: [],
    totals: { clusters: 0, alerts: 0, hectares: 0, first_date: null, last_date: null },
    created_at: '2026-01-01T00:00:00Z', completed_at: '2026-01-01T00:00:01Z',
  };
  const files = new Map<string, Uint8Array>([
    [clustersKey(RUN, TILE), writeClusters({ run_id: RUN, tile: TILE, params: SPEC }, clusters)],
    [manifestKey(RUN), new TextEncoder().encode(JSON.stringify(manifest))],
  ]);
  const s3 = {
    send: async (command: GetObjectCommand) => {
      const bytes = files.get(command.input.Key!);
      if (!bytes) throw Object.assign(new Error('no such key'), { name: 'NoSuchKey' });
      return { Body: { transformToByteArray: async () => bytes } };
    },
  } as unknown as ObjectReader;
  return new ClusterService({ runId: RUN }, { s3, bucket: BUCKET } as ServiceDeps).fetch();
}

describe('duration_days in every output', async () => {
  const service = await fetchedRun();
  /** Members of each row id, as fetched with the run. */
  const members = new Map(service.records().map((r) => [r.row_id, r.alerts]));
  const expected = (rowId: unknown) => spanOf(members.get(Number(rowId))!);

  it('the fixture spans 0 days to several years, and the fetched records carry those spans', () => {
    const spans = [...members.values()].map(spanOf).sort((a, b) => a - b);
    expect(spans).toEqual(EVENTS.map((d) => daysBetween([...d].sort()[0], [...d].sort().at(-1)!)).sort((a, b) => a - b));
    expect(spans[0]).toBe(0);
    expect(spans.at(-1)).toBeGreaterThan(3 * 365);
    for (const r of service.records()) expect(r.duration_days).toBe(spanOf(r.alerts));
  });

  it('table text (fetch) and view(): a duration_days column right after max_date', async () => {
    const lines = ((await service.export('table')) as string).trimEnd().split('\n');
    const header = lines[0].trim().split(/\s+/);
    const col = header.indexOf('duration_days');
    expect(header[col - 1]).toBe('max_date');
    const body = lines.slice(1, -1).map((l) => l.trim().split(/\s+/));
    expect(body).toHaveLength(EVENTS.length);
    for (const cells of body) expect(Number(cells[col])).toBe(expected(cells[header.indexOf('row_id')]));
    const view = service.view({ sort: 'duration_days', desc: true });
    expect(view.map((v) => v.duration_days)).toEqual(view.map((v) => expected(v.row_id)));
    expect(view.map((v) => v.duration_days)).toEqual([...members.values()].map(spanOf).sort((a, b) => b - a));
  });

  it('CSV and the streamed CSV, with the members in the same row', async () => {
    const loaded = (await service.export('csv', { full: true })) as string;
    let streamed = '';
    for await (const chunk of service.exportStream('csv', { full: true })) streamed += chunk;
    for (const csv of [loaded, streamed]) {
      const parsed = parse(csv, { columns: true }) as Record<string, string>[];
      expect(parsed).toHaveLength(EVENTS.length);
      for (const p of parsed) expect(Number(p.duration_days)).toBe(spanOf(JSON.parse(p.alerts)));
    }
  });

  it('JSON and GeoJSON (hull and centre features)', async () => {
    const json = JSON.parse((await service.export('json', { full: true })) as string) as { duration_days: number; alerts: AlertTuple[] }[];
    expect(json).toHaveLength(EVENTS.length);
    for (const row of json) expect(row.duration_days).toBe(spanOf(row.alerts));
    const fc = JSON.parse((await service.export('geojson', { full: true })) as string) as ClusterFeatureCollection;
    expect(fc.features).toHaveLength(2 * EVENTS.length);
    for (const f of fc.features) expect(f.properties.duration_days).toBe(spanOf(f.properties.alerts as AlertTuple[]));
  });

  it('GeoParquet, read by DuckDB as an INTEGER column', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'duration-')), 'clusters.parquet');
    writeFileSync(file, (await service.export('parquet', { full: true })) as Uint8Array);
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const con = await (await DuckDBInstance.create(':memory:')).connect();
    const types = (await con.runAndReadAll(`DESCRIBE SELECT duration_days FROM read_parquet('${file}')`)).getRowObjectsJson();
    expect(types[0].column_type).toBe('INTEGER');
    const got = (await con.runAndReadAll(`SELECT duration_days, alerts FROM read_parquet('${file}')`)).getRowObjectsJson();
    expect(got).toHaveLength(EVENTS.length);
    for (const g of got) expect(Number(g.duration_days)).toBe(spanOf(JSON.parse(String(g.alerts))));
    con.closeSync();
  });
});
