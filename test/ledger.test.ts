// The ledger against dynalite (a real DynamoDB API on 127.0.0.1): tiles counted once, replays and
// crashes between writes repaired, completion detected, manifest claimed by exactly one writer.
import { PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ledger, MANIFEST_LEASE_MS, MAX_SHARDS, SHARD_SIZE, shardCapacity, shardCount, shardOf, shardPk } from '../core/store/ledger.ts';
import type { TileOutcome } from '../core/run/types.ts';
import { buildManifest, clustersOutcome, errorOutcome, summarizeClusters } from '../core/run/manifest.ts';
import type { ClusterFields } from '../core/clusters/types.ts';
import { runId, runTiles, validateRunParams } from '../core/run/params.ts';
import type { RunSpec } from '../core/run/params.ts';
import type { TileAddress } from '../core/tiles/types.ts';
import { startDynalite, type Dynamo } from './pipeline-emulators.ts';
import { listRuns } from '../core/store/run-list.ts';

let dynamo: Dynamo;
let table = 0;

/** A fresh table per test: tests do not see each other's items. */
async function freshLedger(): Promise<Ledger> {
  const name = `ledger-${++table}`;
  await dynamo.createTable(name);
  return new Ledger(dynamo.doc, name);
}

function makeRun(x0: number, y0: number, x1: number, y1: number, z = 12): { spec: RunSpec; id: string; tiles: TileAddress[] } {
  const spec = validateRunParams({ z, region: { kind: 'tiles', x0, y0, x1, y1 }, tiles_url: 'https://t/{z}/{x}/{y}.png' });
  return { spec, id: runId(spec), tiles: runTiles(spec) };
}

const rows = (n: number) => Array.from({ length: n }, () => ({ count: 3, alert_area_ha: 0.5, min_date: '2020-01-01', max_date: '2020-02-01' }) as ClusterFields);
const done = (tile: TileAddress, n = 1) => clustersOutcome(tile, `key/${tile.x}/${tile.y}`, summarizeClusters(rows(n)));

beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(async () => {
  await dynamo?.stop();
});

describe('Ledger', () => {
  it('a missing table is named in a one-line error, for the ledger calls and the run listing', async () => {
    const ledger = new Ledger(dynamo.doc, 'no-such-ledger');
    const missing = /^ledger table "no-such-ledger" not found: /;
    await expect(ledger.progress('r-0000000000000000')).rejects.toThrow(missing);
    await expect(listRuns({ ledger, s3: { send: async () => ({}) } as never, bucket: 'b' })).rejects.toThrow(missing);
  });

  it('createRun writes the run item once', async () => {
    const ledger = await freshLedger();
    const { spec, id } = makeRun(0, 0, 1, 1);
    expect(await ledger.createRun(id, spec, new Date('2026-01-01T00:00:00Z'))).toBe(true);
    expect(await ledger.createRun(id, spec, new Date('2026-02-02T00:00:00Z'))).toBe(false);
    expect(await ledger.getRun(id)).toMatchObject({ run_id: id, params: spec, tiles: 4, shards: 1, created_at: '2026-01-01T00:00:00.000Z' });
  });

  it('counts each tile once: duplicates change nothing, the last tile completes the run', async () => {
    const ledger = await freshLedger();
    const { spec, id, tiles } = makeRun(0, 0, 1, 1);
    await ledger.createRun(id, spec);
    const first = [];
    for (const tile of tiles.slice(0, 3)) first.push(await ledger.recordTile(id, spec, done(tile)));
    expect(first.map((r) => [r.firstTime, r.runComplete])).toEqual([[true, false], [true, false], [true, false]]);
    const dup = await ledger.recordTile(id, spec, done(tiles[0], 5));
    expect(dup.firstTime).toBe(false);
    expect(dup.outcome.clusters).toBe(1); // the first outcome is kept
    expect(await ledger.progress(id)).toMatchObject({ tiles: 4, finished: 3, failed: 0 });
    const last = await ledger.recordTile(id, spec, errorOutcome(tiles[3], 'corrupt', 'tile'));
    expect(last).toMatchObject({ firstTime: true, runComplete: true });
    expect(await ledger.progress(id)).toMatchObject({ tiles: 4, finished: 4, failed: 1 });
  });

  it('first outcome of a tile wins: a later error record does not turn it failed', async () => {
    const ledger = await freshLedger();
    const { spec, id, tiles } = makeRun(5, 5, 5, 5);
    const a = await ledger.recordTile(id, spec, done(tiles[0], 2));
    expect(a).toMatchObject({ firstTime: true, runComplete: true });
    const b = await ledger.recordTile(id, spec, errorOutcome(tiles[0], 'dead-lettered', 'dead-letter'));
    expect(b.firstTime).toBe(false);
    expect(b.outcome.status).toBe('clusters');
    expect(await ledger.progress(id)).toMatchObject({ finished: 1, failed: 0 });
  });

  it('a process that died after the tile item still gets the tile counted on replay', async () => {
    const ledger = await freshLedger();
    const { spec, id, tiles } = makeRun(0, 0, 0, 1);
    await ledger.recordTile(id, spec, done(tiles[0]));
    // Step 1 of recordTile for tiles[1] happened, then the process died: only the tile item exists.
    await dynamo.doc.send(new PutCommand({ TableName: ledger.table, Item: { pk: shardPk(id, shardOf(1, shardCount(2))), sk: 'tile#12/0/1', ...done(tiles[1]), index: 1 } }));
    expect(await ledger.progress(id)).toBeNull(); // no run item yet: enqueue did not create one
    const replay = await ledger.recordTile(id, spec, done(tiles[1]));
    expect(replay).toMatchObject({ firstTime: false, runComplete: true });
    expect(await ledger.progress(id)).toMatchObject({ tiles: 2, finished: 2 });
    // The aggregator filled in the run item from the params it was given.
    expect(await ledger.getRun(id)).toMatchObject({ params: spec, tiles: 2 });
  });

  it(`counts a run of 1,024 tiles (${shardCount(1024)} shards) recorded concurrently, completing it exactly once`, async () => {
    const ledger = await freshLedger();
    const { spec, id, tiles } = makeRun(0, 0, 127, 7); // 128 × 8 = 1024 tiles
    expect(tiles).toHaveLength(1024);
    expect(shardCount(1024)).toBeGreaterThan(1);
    let completions = 0;
    let maxRequests = 0;
    const queue = [...tiles];
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let tile = queue.shift(); tile; tile = queue.shift()) {
          // A ledger whose client counts the DynamoDB requests of this one call.
          let requests = 0;
          const counting = { send: (command: never) => (requests++, dynamo.doc.send(command)) } as unknown as typeof dynamo.doc;
          if ((await new Ledger(counting, ledger.table).recordTile(id, spec, done(tile))).runComplete) completions++;
          maxRequests = Math.max(maxRequests, requests);
        }
      }),
    );
    expect(completions).toBe(1);
    // Constant cost per event, whatever the run size: tile put, shard add, and (when a shard fills) run add.
    expect(maxRequests).toBe(3);
    expect(await ledger.progress(id)).toMatchObject({ tiles: 1024, finished: 1024, failed: 0 });
    // Replays of every tile change no count.
    await ledger.recordTile(id, spec, done(tiles[7]));
    expect(await ledger.progress(id)).toMatchObject({ finished: 1024 });
  });

  it('reads every tile item back through a paginated query', async () => {
    const ledger = await freshLedger();
    const { spec, id, tiles } = makeRun(0, 0, 2, 2);
    for (const tile of tiles) await ledger.recordTile(id, spec, tile.x === 1 ? errorOutcome(tile, 'bad', 'tile') : done(tile));
    const read = [];
    for await (const o of ledger.tiles(id, 2)) read.push(o);
    expect(read).toHaveLength(9);
    expect(read.filter((o) => o.status === 'failed').map((o) => `${o.x}/${o.y}`).sort()).toEqual(['1/0', '1/1', '1/2']);
    expect(read.find((o) => o.x === 0 && o.y === 0)).toEqual(done(tiles[0]));
  });

  it('lets exactly one attempt claim the manifest; others see it held, then done; a crashed claim expires', async () => {
    const ledger = await freshLedger();
    const { spec, id } = makeRun(0, 0, 0, 0);
    expect(await ledger.claimManifest(id, 'x')).toBe('held'); // no run item: nothing to claim yet
    await ledger.createRun(id, spec);
    const now = new Date('2026-03-01T00:00:00Z');
    const tokens = ['a', 'b', 'c', 'd'];
    const claims = await Promise.all(tokens.map((token) => ledger.claimManifest(id, token, now)));
    expect(claims.filter((c) => c === 'claimed')).toHaveLength(1);
    expect(claims.filter((c) => c === 'held')).toHaveLength(3);
    const winner = tokens[claims.indexOf('claimed')];
    // No re-entry, not even with the same token: a second delivery of the same event must not write.
    expect(await ledger.claimManifest(id, winner, now)).toBe('held');
    expect(await ledger.claimManifest(id, 'e', new Date(now.getTime() + MANIFEST_LEASE_MS - 1))).toBe('held');
    // The winner died without finishing: after its lease another attempt takes over.
    const later = new Date(now.getTime() + MANIFEST_LEASE_MS + 1);
    expect(await ledger.claimManifest(id, 'f', later)).toBe('claimed');
    // The dead winner cannot mark the manifest written any more; the new holder can.
    await expect(ledger.finishManifest(id, winner, 'runs/x/manifest.json', later.toISOString())).rejects.toThrow(/conditional/i);
    await ledger.finishManifest(id, 'f', 'runs/x/manifest.json', later.toISOString());
    for (const token of [winner, 'f', 'g']) expect(await ledger.claimManifest(id, token, new Date(later.getTime() + 10 * MANIFEST_LEASE_MS))).toBe('done');
    expect((await ledger.progress(id))?.manifest_key).toBe('runs/x/manifest.json');
  });

  it('bounds the shards: every tile in one shard, ≤ SHARD_SIZE per shard up to SHARD_SIZE × MAX_SHARDS tiles, ≤ MAX_SHARDS shards', () => {
    expect(SHARD_SIZE).toBeLessThanOrEqual(250);
    for (const tiles of [1, SHARD_SIZE - 1, SHARD_SIZE, SHARD_SIZE + 1, 610, 5000, 99_999, SHARD_SIZE * MAX_SHARDS]) {
      const shards = shardCount(tiles);
      // Count the indexes of each shard directly: shardCapacity must agree with shardOf.
      const counted = new Array<number>(shards).fill(0);
      for (let index = 0; index < tiles; index++) counted[shardOf(index, shards)]++;
      expect(counted, `${tiles} tiles`).toEqual(counted.map((_, shard) => shardCapacity(shard, shards, tiles)));
      expect(Math.max(...counted), `${tiles} tiles`).toBeLessThanOrEqual(SHARD_SIZE);
      expect(Math.min(...counted), `${tiles} tiles`).toBeGreaterThanOrEqual(Math.max(...counted) - 1);
    }
    // The whole pan-tropical band in one run still gets MAX_SHARDS shards (the run item's set stays small).
    expect(shardCount(2_940_928)).toBe(MAX_SHARDS);
  });

  it('spreads consecutive tiles over every shard key: any 1,000 consecutive tiles of a 5,000-tile run hit all 25 keys, ≤ 40 each', () => {
    const { spec, id, tiles } = makeRun(0, 0, 99, 49); // 100 × 50
    expect(tiles).toHaveLength(5000);
    const shards = shardCount(tiles.length);
    expect(shards).toBe(25);
    const keyOf = (i: number) => shardPk(id, shardOf(i, shards));
    for (let first = 0; first + 1000 <= tiles.length; first += 50) {
      const perKey = new Map<string, number>();
      for (let i = first; i < first + 1000; i++) perKey.set(keyOf(i), (perKey.get(keyOf(i)) ?? 0) + 1);
      expect(perKey.size).toBe(25);
      expect(Math.max(...perKey.values())).toBe(40);
    }
    expect(runTiles(spec).map((t, i) => keyOf(i)).filter((k) => k === shardPk(id, 0))).toHaveLength(SHARD_SIZE);
  });

  it('writes the tile items of 1,000 consecutive tiles under 25 shard keys (40 each), none under the run key; progress and reads are exact', async () => {
    const ledger = await freshLedger();
    const { spec, id, tiles } = makeRun(0, 0, 99, 49); // 5,000 tiles, 25 shards
    await ledger.createRun(id, spec);
    const window = tiles.slice(2000, 3000); // rows 20..29: what would be in flight together
    const queue = [...window];
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let tile = queue.shift(); tile; tile = queue.shift()) await ledger.recordTile(id, spec, done(tile));
      }),
    );
    const items: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await dynamo.doc.send(new ScanCommand({ TableName: ledger.table, ExclusiveStartKey: start }));
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    const tilesPerKey = new Map<string, number>();
    for (const item of items) if (String(item.sk).startsWith('tile#')) tilesPerKey.set(String(item.pk), (tilesPerKey.get(String(item.pk)) ?? 0) + 1);
    expect([...tilesPerKey.keys()].sort()).toEqual(Array.from({ length: 25 }, (_, s) => shardPk(id, s)).sort());
    expect([...tilesPerKey.values()]).toEqual(new Array(25).fill(40));
    // The run key holds the run item only; each shard key its shard item and its tiles.
    expect(items.filter((i) => i.pk === `run#${id}`).map((i) => i.sk)).toEqual(['run']);
    for (const [pk, n] of tilesPerKey) {
      const shard = items.find((i) => i.pk === pk && i.sk === 'shard');
      expect((shard?.ok as Set<number>).size).toBe(n);
    }
    expect(await ledger.progress(id)).toMatchObject({ tiles: 5000, finished: 1000, failed: 0, manifest_key: null });
    const read = new Set<string>();
    for await (const o of ledger.tiles(id, 7)) read.add(`${o.x}/${o.y}`);
    expect(read).toEqual(new Set(window.map((t) => `${t.x}/${t.y}`)));
  }, 30_000);

  it('a complete run over 4 uneven shards, recorded out of order with failures and duplicates: exact progress, one completion, manifest from small pages', async () => {
    const ledger = await freshLedger();
    const { spec, id, tiles } = makeRun(0, 0, 60, 9); // 610 tiles: shards of 153, 153, 152, 152
    expect(shardCount(tiles.length)).toBe(4);
    await ledger.createRun(id, spec);
    const outcomes: TileOutcome[] = tiles.map((tile, i) => (i % 13 === 0 ? errorOutcome(tile, `bad ${i}`, 'tile') : done(tile, 1 + (i % 3))));
    // A fixed shuffle: tiles do not finish in index order.
    const order = tiles.map((_, i) => (i * 367) % tiles.length);
    expect(new Set(order).size).toBe(tiles.length);
    const queue = [...order];
    let completions = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
          if ((await ledger.recordTile(id, spec, outcomes[i])).runComplete) completions++;
        }
      }),
    );
    expect(completions).toBe(1);
    // Duplicates afterwards (a late error for a finished tile, a repeated error) change nothing.
    for (const i of [1, 2, 13, 300, 609]) {
      const dup = await ledger.recordTile(id, spec, errorOutcome(tiles[i], 'late', 'dead-letter'));
      expect(dup.firstTime).toBe(false);
      expect(dup.outcome).toEqual(outcomes[i]);
    }
    const failed = outcomes.filter((o) => o.status === 'failed').length;
    expect(failed).toBe(47);
    expect(await ledger.progress(id)).toMatchObject({ tiles: 610, finished: 610, failed });
    const pages: TileOutcome[][] = [];
    for await (const page of ledger.tilePages(id, 7)) pages.push(page);
    expect(pages.length).toBeGreaterThanOrEqual(4 * Math.ceil(152 / 7)); // every shard, 7 at a time
    expect(Math.max(...pages.map((p) => p.length))).toBe(7);
    const read = pages.flat();
    expect(read).toHaveLength(610);
    const input = { runId: id, spec, createdAt: 'c', completedAt: 'd' };
    expect(buildManifest({ ...input, outcomes: read })).toEqual(buildManifest({ ...input, outcomes }));
    expect(buildManifest({ ...input, outcomes: read })).toMatchObject({ tiles: 610, tiles_failed: 47, tiles_with_clusters: 563 });
  }, 30_000);

  it('refuses a tile outside the run', async () => {
    const ledger = await freshLedger();
    const { spec, id } = makeRun(0, 0, 0, 0);
    await expect(ledger.recordTile(id, spec, done({ z: 12, x: 1, y: 0 }))).rejects.toThrow(/outside the run's region/);
  });
});
