// Reading a run back without the emulators: result Parquet files written by core/run/parquet.ts,
// served by an in-memory S3 reader. Checks that the stored hulls make the members unnecessary for
// GeoJSON/GeoParquet, that the streamed export is byte for byte the loaded one (same row ids), and
// that the streamed read's memory stays flat where loading the run grows with it.
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { parquetMetadata } from 'hyparquet';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { exportClusters, streamExport, type ExportOptions, type StreamFormat } from '../core/results/exports.ts';
import { clustersKey, manifestKey, membersKey } from '../core/run/keys.ts';
import { loadRun, streamRunClusters, type ObjectReader } from '../core/store/result-store.ts';
import { writeClusters, writeMembers } from '../core/run/parquet.ts';
import { hullPolygon } from '../core/clusters/geometry.ts';
import { validateRunParams } from '../core/run/params.ts';
import { ClusterService, type ServiceDeps } from '../core/results/service.ts';
import { canonicalCompare, withRowIds } from '../core/results/table.ts';
import type { StoredCluster } from '../core/clusters/types.ts';
import type { Manifest } from '../core/run/types.ts';
import type { TileAddress } from '../core/tiles/types.ts';
import { daysBetween, FIXTURE_TILES, fixtureRecords } from './results-fixtures.ts';

const RUN = 'r-00000000000000aa';
const BUCKET = 'results';
const SPEC = validateRunParams({
  z: 12, region: { kind: 'tiles', x0: 1362, y0: 2083, x1: 1363, y1: 2084 }, tiles_url: 'file:///tiles/{z}/{x}/{y}.png',
});

/** A manifest listing these tiles' clusters files (only the fields the readers use matter). */
function manifestOf(tiles: readonly TileAddress[]): Manifest {
  return {
    run_id: RUN, params: { ...SPEC }, tiles: tiles.length, tiles_with_clusters: tiles.length, tiles_empty: 0, tiles_failed: 0,
    results: tiles.map((t) => clustersKey(RUN, t)), errors: [],
    totals: { clusters: 0, alerts: 0, hectares: 0, first_date: null, last_date: null },
    created_at: '2026-01-01T00:00:00Z', completed_at: '2026-01-01T00:00:01Z',
  };
}

/** An S3 reader over `objects(key)` (null: NoSuchKey) that records the keys it was asked for. */
function memoryS3(objects: (key: string) => Uint8Array | null): { s3: ObjectReader; reads: string[] } {
  const reads: string[] = [];
  const s3 = {
    send: async (command: GetObjectCommand) => {
      const key = command.input.Key!;
      reads.push(key);
      const bytes = objects(key);
      if (!bytes) throw Object.assign(new Error(`no such key ${key}`), { name: 'NoSuchKey' });
      return { Body: { transformToByteArray: async () => bytes } };
    },
  } as unknown as ObjectReader;
  return { s3, reads };
}

/**
 * The fixture records written as the pipeline writes them, and the manifest: format 2 (the default)
 * one clusters file per tile with its members; format 1 (runs written before) a clusters/members pair.
 */
function fixtureRun(records: readonly StoredCluster[], format: 1 | 2 = 2) {
  const tiles = [...FIXTURE_TILES].sort((a, b) => a.z - b.z || a.y - b.y || a.x - b.x); // the manifest's order
  const files = new Map<string, Uint8Array>();
  for (const tile of tiles) {
    // File order is the fixture's order (not canonical): the readers must sort within a tile.
    const clusters = records.filter((r) => r.x === tile.x && r.y === tile.y).map(({ run_id: _r, ...c }) => c);
    files.set(clustersKey(RUN, tile), writeClusters({ run_id: RUN, tile, params: SPEC }, clusters, hullPolygon, { format }));
    if (format === 1) files.set(membersKey(RUN, tile), writeMembers(clusters));
  }
  const manifest = manifestOf(tiles);
  files.set(manifestKey(RUN), new TextEncoder().encode(JSON.stringify(manifest)));
  return { manifest, tiles, ...memoryS3((key) => files.get(key) ?? null) };
}

const records = fixtureRecords(24, 11).map((r) => ({ ...r, run_id: RUN }));

describe('a damaged result file', () => {
  it('a truncated clusters or members file is named in the error', async () => {
    for (const damaged of [clustersKey(RUN, FIXTURE_TILES[0]), membersKey(RUN, FIXTURE_TILES[0])]) {
      const { s3 } = fixtureRun(records, 1);
      // The same run with one file cut to its first 100 bytes.
      const reader: ObjectReader = {
        send: async (command) => {
          const out = (await s3.send(command)) as { Body?: { transformToByteArray(): Promise<Uint8Array> } };
          if ((command as unknown as GetObjectCommand).input.Key !== damaged || !out.Body) return out as never;
          const bytes = (await out.Body.transformToByteArray()).subarray(0, 100);
          return { Body: { transformToByteArray: async () => bytes } } as never;
        },
      };
      await expect(loadRun(RUN, reader, { bucket: BUCKET, full: true })).rejects.toThrow(damaged);
    }
  });
});

async function text(chunks: AsyncIterable<string>): Promise<string> {
  let out = '';
  for await (const chunk of chunks) out += chunk;
  return out;
}

describe('runs of both result formats', () => {
  it('a format-2 run (members inside clusters.parquet) loads exactly as the same run in format 1, with no members.parquet read', async () => {
    const one = fixtureRun(records, 1);
    const two = fixtureRun(records, 2);
    const a = await loadRun(RUN, one.s3, { bucket: BUCKET, full: true });
    const b = await loadRun(RUN, two.s3, { bucket: BUCKET, full: true });
    expect(b.clusters).toEqual(a.clusters);
    expect(b.clusters.every((c) => c.alerts.length > 0)).toBe(true);
    expect(two.reads.filter((k) => k.endsWith('members.parquet'))).toEqual([]);
    expect((await loadRun(RUN, two.s3, { bucket: BUCKET, full: false })).clusters.every((c) => c.alerts.length === 0)).toBe(true);
  });
});

describe('a run written before duration_days', () => {
  // test/fixtures/before-duration-*: one tile's files as the writer of d831edb wrote them (no such column).
  const OLD_RUN = 'r-00000000000000d0';
  const OLD_TILE = { z: 12, x: 1362, y: 2083 };
  const fixture = (name: string) => new Uint8Array(readFileSync(new URL(`./fixtures/before-duration-${name}.parquet`, import.meta.url)));
  const oldManifest: Manifest = { ...manifestOf([OLD_TILE]), run_id: OLD_RUN, results: [clustersKey(OLD_RUN, OLD_TILE)] };
  const oldRun = (format: 1 | 2) => {
    const files = new Map<string, Uint8Array>([[manifestKey(OLD_RUN), new TextEncoder().encode(JSON.stringify(oldManifest))]]);
    files.set(clustersKey(OLD_RUN, OLD_TILE), fixture(`format${format}.clusters`));
    if (format === 1) files.set(membersKey(OLD_RUN, OLD_TILE), fixture('format1.members'));
    return memoryS3((key) => files.get(key) ?? null).s3;
  };

  it('loads with duration_days derived from the dates, equal to the span of the members, in every export', async () => {
    for (const format of [1, 2] as const) {
      const s3 = oldRun(format);
      expect(parquetMetadata(fixture(`format${format}.clusters`)).schema.map((e) => e.name)).not.toContain('duration_days');
      const { clusters } = await loadRun(OLD_RUN, s3, { bucket: BUCKET, full: true });
      expect(clusters).toHaveLength(3);
      const spans = clusters.map((c) => {
        const dates = c.alerts.map((a) => a[2]).sort();
        return daysBetween(dates[0], dates.at(-1)!);
      });
      expect(new Set(spans).size).toBe(3); // a one-date event (0) and two multi-year ones
      expect(clusters.map((c) => c.duration_days)).toEqual(spans);
      // In schema order, right after max_date.
      const keys = Object.keys(clusters[0]);
      expect(keys[keys.indexOf('max_date') + 1]).toBe('duration_days');
      // The loaded and the streamed CSV both carry it.
      const byRow = new Map(withRowIds(clusters).map((r) => [r.row_id, r]));
      for (const csv of [await exportClusters(clusters, 'csv'), await text(streamExport(streamRunClusters(oldManifest, s3, { bucket: BUCKET, full: true }), 'csv'))]) {
        const parsed = parse(csv as string, { columns: true }) as Record<string, string>[];
        expect(parsed).toHaveLength(3);
        for (const p of parsed) {
          const dates = byRow.get(Number(p.row_id))!.alerts.map((a) => a[2]).sort();
          expect(Number(p.duration_days)).toBe(daysBetween(dates[0], dates.at(-1)!));
        }
      }
    }
  });
});

describe('stored hulls', () => {
  it('GeoJSON and GeoParquet from the stored hulls equal those recomputed from the members, without reading members', async () => {
    const { s3, reads } = fixtureRun(records, 1);
    const stored = await loadRun(RUN, s3, { bucket: BUCKET, full: false });
    expect(reads.filter((k) => k.endsWith('members.parquet'))).toEqual([]);
    expect(stored.clusters).toHaveLength(records.length);
    for (const c of stored.clusters) {
      expect(c.alerts).toEqual([]);
      expect(c.geometry?.type).toBe('Polygon');
    }
    const full = await loadRun(RUN, s3, { bucket: BUCKET, full: true });
    expect(reads.filter((k) => k.endsWith('members.parquet'))).toHaveLength(FIXTURE_TILES.length);
    // Without the stored geometry, the exports compute each hull from the members.
    const fromMembers = full.clusters.map(({ geometry: _g, ...r }) => r);
    expect(fromMembers.every((r) => r.alerts.length > 0)).toBe(true);
    const geojson = await exportClusters(stored.clusters, 'geojson');
    expect(geojson).toBe(await exportClusters(fromMembers, 'geojson'));
    expect(JSON.parse(geojson as string).features).toHaveLength(2 * records.length);
    expect(await exportClusters(stored.clusters, 'parquet')).toEqual(await exportClusters(fromMembers, 'parquet'));
  });
});

describe('streamed export', () => {
  const cases: [StreamFormat, ExportOptions][] = [
    ['csv', {}], ['csv', { full: true }], ['json', {}], ['json', { full: true }],
    ['geojson', {}], ['geojson', { full: true }], ['geojson', { hull: 'concave' }], ['geojson', { geometry: 'centre' }],
  ];

  it('reads files whose clusters are not in canonical order (so the per-tile sort matters)', async () => {
    const { s3, manifest } = fixtureRun(records);
    const unsorted = [];
    for await (const tile of streamRunClusters(manifest, s3, { bucket: BUCKET })) {
      unsorted.push(tile.some((r, k) => k > 0 && canonicalCompare(tile[k - 1], r) > 0));
    }
    expect(unsorted).toContain(true);
  });

  it.each(cases)('%s %o is byte for byte the loaded export, row ids included', async (format, options) => {
    const { s3, manifest } = fixtureRun(records);
    const full = Boolean(options.full) || options.hull === 'concave';
    const streamed = await text(streamExport(streamRunClusters(manifest, s3, { bucket: BUCKET, full, concurrency: 2 }), format, options));
    const loaded = await loadRun(RUN, s3, { bucket: BUCKET, full });
    expect(streamed).toBe(await exportClusters(loaded.clusters, format, options));
  });

  it('gives the same ids as the loaded run and valid documents (one array, one collection, one header)', async () => {
    const { s3, manifest } = fixtureRun(records);
    const stream = (format: StreamFormat) => text(streamExport(streamRunClusters(manifest, s3, { bucket: BUCKET }), format));
    const json = JSON.parse(await stream('json')) as { row_id: number; x: number; y: number; row: number }[];
    expect(json.map((r) => r.row_id)).toEqual(records.map((_, k) => k));
    const loaded = new ClusterService({ runId: RUN }, { s3, bucket: BUCKET } as ServiceDeps);
    await loaded.fetch({ full: false });
    expect(json.map((r) => [r.row_id, r.x, r.y, r.row])).toEqual(loaded.records().map((r) => [r.row_id, r.x, r.y, r.row]));
    const geo = JSON.parse(await stream('geojson'));
    expect(geo.type).toBe('FeatureCollection');
    expect(geo.features).toHaveLength(2 * records.length);
    const csv = (await stream('csv')).trimEnd().split('\n');
    expect(csv.filter((line) => line.startsWith('row_id,'))).toHaveLength(1);
    expect(csv).toHaveLength(1 + records.length);
  });

  it('writes an empty run as a header, [] and an empty FeatureCollection, like the loaded export', async () => {
    const { s3 } = memoryS3(() => null);
    for (const format of ['csv', 'json', 'geojson'] as const) {
      const streamed = await text(streamExport(streamRunClusters(manifestOf([]), s3, { bucket: BUCKET }), format));
      expect(streamed).toBe(await exportClusters([], format));
    }
  });

  it('ClusterService.exportStream equals export() of the fetched run', async () => {
    const { s3 } = fixtureRun(records);
    const deps = { s3, bucket: BUCKET } as ServiceDeps;
    const fetched = await new ClusterService({ runId: RUN }, deps).fetch();
    for (const format of ['csv', 'json', 'geojson'] as const) {
      const streamed = await text(new ClusterService({ runId: RUN }, deps).exportStream(format, { full: true }));
      expect(streamed).toBe(await fetched.export(format, { full: true }));
    }
  });

  it('refuses tiles out of canonical order instead of giving wrong row ids', async () => {
    const { s3, tiles } = fixtureRun(records);
    const reversed = manifestOf([...tiles].reverse());
    await expect(text(streamExport(streamRunClusters(reversed, s3, { bucket: BUCKET }), 'json'))).rejects.toThrow(/z, y, x order/);
  });
});

describe('memory of a streamed export', () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const heapMb = () => {
    gc();
    return process.memoryUsage().heapUsed / 2 ** 20;
  };

  it('stays flat over a 1,200-tile run (30,000 clusters) where loading the run grows by tens of MB', async () => {
    const TILES = 1200;
    const template = fixtureRecords(25, 5).map(({ run_id: _r, ...c }) => c);
    const tiles: TileAddress[] = Array.from({ length: TILES }, (_, k) => ({ z: 12, x: 1000 + (k % 40), y: 2000 + Math.floor(k / 40) }));
    const manifest = manifestOf(tiles);
    const manifestBytes = new TextEncoder().encode(JSON.stringify(manifest));
    // Files are made when asked for (not held), so the heap measured is the reader's.
    const { s3 } = memoryS3((key) => {
      if (key === manifestKey(RUN)) return manifestBytes;
      const m = /tiles\/12\/(\d+)\/(\d+)\/clusters\.parquet$/.exec(key);
      if (!m) return null;
      const tile = { z: 12, x: Number(m[1]), y: Number(m[2]) };
      return writeClusters({ run_id: RUN, tile, params: SPEC }, template.map((c) => ({ ...c, ...tile })));
    });

    const base = heapMb();
    let atQuarter = 0;
    let chunks = 0;
    let bytes = 0;
    for await (const chunk of streamExport(streamRunClusters(manifest, s3, { bucket: BUCKET }), 'geojson')) {
      bytes += chunk.length; // written out and dropped, as to a file
      if (++chunks === TILES / 4) atQuarter = heapMb();
    }
    const atEnd = heapMb();

    const beforeLoad = heapMb();
    const loaded = await loadRun(RUN, s3, { bucket: BUCKET });
    const held = heapMb() - beforeLoad;
    expect(loaded.clusters).toHaveLength(TILES * template.length);

    const growth = atEnd - atQuarter;
    console.log(
      `streamed geojson of ${TILES} tiles, ${loaded.clusters.length} clusters (${(bytes / 2 ** 20).toFixed(0)} MB of text): ` +
      `heap +${(atQuarter - base).toFixed(1)} MB at 1/4, ${growth >= 0 ? '+' : ''}${growth.toFixed(1)} MB from 1/4 to the end; loadRun holds +${held.toFixed(1)} MB`,
    );
    expect(held).toBeGreaterThan(20); // the measure does see a run held in memory…
    expect(growth).toBeLessThan(Math.min(5, held / 10)); // …and the streamed read holds none of it
  }, 120_000);
});
