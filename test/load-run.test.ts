// Reading a run back without the emulators: result Parquet files written by core/parquet.ts,
// served by an in-memory S3 reader. Checks that the stored hulls make the members unnecessary for
// GeoJSON/GeoParquet.
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { exportClusters } from '../core/exports.ts';
import { clustersKey, manifestKey, membersKey } from '../core/keys.ts';
import { loadRun, type ObjectReader } from '../core/load-run.ts';
import { writeClusters, writeMembers } from '../core/parquet.ts';
import { normalizeRunParams, validateRunParams } from '../core/run.ts';
import type { RunRecord } from '../core/table.ts';
import type { Manifest, TileAddress } from '../core/types.ts';
import { FIXTURE_TILES, fixtureRecords } from './results-fixtures.ts';

const RUN = 'r-00000000000000aa';
const BUCKET = 'results';
const SPEC = normalizeRunParams(validateRunParams({
  z: 12, region: { kind: 'tiles', x0: 1362, y0: 2083, x1: 1363, y1: 2084 }, tiles_url: 'file:///tiles/{z}/{x}/{y}.png',
}));

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

/** The fixture records written as the pipeline writes them: a clusters/members pair per tile, and the manifest. */
function fixtureRun(records: readonly RunRecord[]) {
  const tiles = [...FIXTURE_TILES].sort((a, b) => a.z - b.z || a.y - b.y || a.x - b.x); // the manifest's order
  const files = new Map<string, Uint8Array>();
  for (const tile of tiles) {
    // File order is the fixture's order (not canonical): the readers must sort within a tile.
    const clusters = records.filter((r) => r.x === tile.x && r.y === tile.y).map(({ run_id: _r, ...c }) => c);
    files.set(clustersKey(RUN, tile), writeClusters({ run_id: RUN, tile, params: SPEC }, clusters));
    files.set(membersKey(RUN, tile), writeMembers(clusters));
  }
  const manifest = manifestOf(tiles);
  files.set(manifestKey(RUN), new TextEncoder().encode(JSON.stringify(manifest)));
  return { manifest, tiles, ...memoryS3((key) => files.get(key) ?? null) };
}

const records = fixtureRecords(24, 11).map((r) => ({ ...r, run_id: RUN }));

describe('stored hulls', () => {
  it('GeoJSON and GeoParquet from the stored hulls equal those recomputed from the members, without reading members', async () => {
    const { s3, reads } = fixtureRun(records);
    const stored = await loadRun(RUN, s3, { bucket: BUCKET, full: false });
    expect(reads.filter((k) => k.endsWith('members.parquet'))).toEqual([]);
    expect(stored.clusters).toHaveLength(records.length);
    for (const c of stored.clusters) {
      expect(c.alerts).toEqual([]);
      expect(c.geometry.type).toBe('Polygon');
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
