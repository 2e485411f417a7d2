// S3 faults on the local stack: every handler reaches s3rver through a flaky HTTP proxy on
// 127.0.0.1 that answers 503 SlowDown, drops the connection before forwarding, or forwards and
// drops the answer. 5 % of all requests (seeded) — the SDK's retries and SQS redelivery absorb
// them; then a message whose write fails every time goes to the dead-letter queue and becomes an
// error record, and the run completes. Each run is compared with a clean run of the same tiles.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clustersKey, errorKey, manifestKey } from '../core/run/keys.ts';
import { runId, runTiles, type RunSpec } from '../core/run/params.ts';
import { TILE_MAX_RECEIVES } from '../core/run/messages.ts';
import { tileKey } from '../core/tiles/grid.ts';
import type { TileAddress } from '../core/tiles/types.ts';
import type { BatchStart } from '../local/consumer-worker.ts';
import {
  cleanRun,
  digestRun,
  serveTiles,
  startFaultStack,
  startTileServer,
  syntheticWorld,
  testRunSpec,
  withErrors,
  type FaultStack,
  type ProxyFault,
  type RunDigest,
  type TileServer,
} from './fault-tools.ts';

const Z = 12;
const REGION = { x0: 1331, y0: 2162, x1: 1334, y1: 2164 };
const TILES = (REGION.x1 - REGION.x0 + 1) * (REGION.y1 - REGION.y0 + 1);
const world = syntheticWorld(Z, REGION, { seed: 3, density: 600 });

let tiles: TileServer;
let fs: FaultStack;
let clean: RunDigest;
const batches: BatchStart['messages'][] = [];

const spec = (query: string): RunSpec => testRunSpec(Z, REGION, tiles.template(query));

beforeAll(async () => {
  tiles = await startTileServer(serveTiles(world));
  // One tile per batch: a receive lasts one tile (plus SDK backoffs), well within the visibility timeout.
  fs = await startFaultStack({ workers: 2, batchSize: 1, visibilityTimeout: 3, proxy: true, onBatchStart: (_k, messages) => batches.push(messages) });
  ({ digest: clean } = await cleanRun(fs, spec('run=clean')));
  expect(clean.counts.tiles_with_clusters).toBeGreaterThan(3);
});

afterAll(async () => {
  await fs?.stop();
  await tiles?.stop();
});

describe('S3 faults', () => {
  it('5 % of S3 requests fail (503 SlowDown, reset, lost answer): six runs still equal the clean run', async () => {
    const proxy = fs.proxy!;
    const specs = [1, 2, 3, 4, 5, 6].map((n) => spec(`run=flaky-${n}`));
    const ids = specs.map(runId);
    // Besides the random 5 %: one clusters.parquet PUT fails 3 times in a row (the SDK's 3
    // attempts are spent: SQS redelivers the message) and one result GET of the aggregator fails
    // 3 times (the aggregator invocation fails: Lambda's retry replays the event).
    const forced = { put: clustersKey(ids[0], runTiles(specs[0])[5]), get: clustersKey(ids[1], runTiles(specs[1])[6]) };
    const forcedCount = { put: 0, get: 0 };
    proxy.rule = (method, key) => {
      if (method === 'PUT' && key === forced.put && forcedCount.put < 3) return (forcedCount.put++, 'slowdown');
      if (method === 'GET' && key === forced.get && forcedCount.get < 3) return (forcedCount.get++, 'reset');
      return null;
    };
    ids.forEach((id, k) => proxy.aliases.set(id, `flaky-${k + 1}`)); // same faults on every invocation
    proxy.reseed(42);
    proxy.rate = 0.05;
    const requestsBefore = proxy.requests;
    const injectedBefore = proxy.injected.length;
    const statsBefore = { ...fs.loop.stats };
    const logsBefore = fs.logs.length;
    try {
      for (const s of specs) await fs.submit(s);
      for (const id of ids) await fs.waitForManifest(id, 60_000);
    } finally {
      proxy.rate = 0;
      proxy.rule = null;
    }
    const requests = proxy.requests - requestsBefore;
    const injected = proxy.injected.slice(injectedBefore);
    const isForced = (f: { method: string; key: string }) => (f.method === 'PUT' && f.key === forced.put) || (f.method === 'GET' && f.key === forced.get);
    const random = injected.filter((f) => !isForced(f)).length;
    const byKind = (kind: ProxyFault) => injected.filter((f) => !isForced(f) && f.fault === kind).length;

    expect(forcedCount).toEqual({ put: 3, get: 3 });
    expect(random / requests).toBeGreaterThan(0.02);
    expect(random / requests).toBeLessThan(0.12);
    for (const kind of ['slowdown', 'reset', 'lost'] as const) expect(byKind(kind), kind).toBeGreaterThan(0);
    // The forced PUT failure reached SQS (a batch item failure) and the GET failure an aggregator retry.
    expect(fs.loop.stats.retried - statsBefore.retried).toBeGreaterThanOrEqual(1);
    expect(fs.logs.slice(logsBefore).some((line) => line.includes(`aggregator (attempt 1/3) on ${forced.get}`))).toBe(true);

    for (const id of ids) {
      expect(await fs.ledger.progress(id)).toMatchObject({ tiles: TILES, finished: TILES, failed: 0 });
      expect(digestRun(await fs.load(id))).toEqual(clean);
      // One manifest: PUT once, plus once more per answer the proxy lost (the SDK's retry of the same PUT).
      const lostManifestPuts = injected.filter((f) => f.method === 'PUT' && f.key === manifestKey(id) && f.fault === 'lost').length;
      expect(fs.manifestPuts(id)).toBe(1 + lostManifestPuts);
    }
    console.log(
      `flaky S3: ${requests} requests through the proxy, ${random} random faults (${((100 * random) / requests).toFixed(1)} %: ` +
        `${byKind('slowdown')} slowdown, ${byKind('reset')} reset, ${byKind('lost')} lost; plus 6 forced), ` +
        `${fs.loop.stats.retried - statsBefore.retried} SQS redeliveries, ${fs.loop.stats.aggregatorEvents - statsBefore.aggregatorEvents} aggregator events`,
    );
  });

  it('a message whose S3 write fails every time is dead-lettered and recorded as an error; the run completes', async () => {
    const proxy = fs.proxy!;
    const s = spec('run=poison');
    const id = runId(s);
    const poisoned = runTiles(s).find((t) => clean.status[tileKey(t)] === 'clusters')!;
    let attempts = 0;
    // Its one result object (format 2: clusters.parquet holds the members).
    proxy.rule = (method, key) => (method === 'PUT' && key === clustersKey(id, poisoned) ? (attempts++, 'slowdown') : null);
    const before = { ...fs.loop.stats };
    const seen = batches.length;
    try {
      await fs.submit(s);
      await fs.waitForManifest(id, 60_000);
    } finally {
      proxy.rule = null;
    }
    const isPoisoned = (body: string) => {
      const m = JSON.parse(body) as { run_id: string; tile: TileAddress };
      return m.run_id === id && tileKey(m.tile) === tileKey(poisoned);
    };
    const receives = batches.slice(seen).flat().filter((m) => isPoisoned(m.body)).map((m) => m.receiveCount);
    expect(receives).toEqual(Array.from({ length: TILE_MAX_RECEIVES }, (_, k) => k + 1));
    expect(attempts).toBe(3 * TILE_MAX_RECEIVES); // every receive × the SDK's 3 attempts
    // Dead-lettered once (the loop logs each dead letter's body).
    const deadLetters = fs.logs.filter((line) => line.startsWith('dead letter: ') && line.includes(`"run_id":"${id}","tile":{"z":${poisoned.z},"x":${poisoned.x},"y":${poisoned.y}}`));
    expect(deadLetters).toHaveLength(1);
    expect(fs.loop.stats.deadLetters - before.deadLetters).toBeGreaterThanOrEqual(1);
    const run = await fs.load(id);
    expect(run.manifest.errors).toEqual([{ ...poisoned, stage: 'dead-letter', message: expect.stringMatching(new RegExp(`failed ${TILE_MAX_RECEIVES} deliveries \\(the queue's maxReceiveCount\\) and was dead-lettered`)) }]);
    expect(fs.created).toContain(errorKey(id, poisoned));
    expect(fs.manifestPuts(id)).toBe(1);
    expect(digestRun(run)).toEqual(withErrors(clean, { [tileKey(poisoned)]: 'dead-letter' }));
    console.log(`poison: tile ${tileKey(poisoned)} received ${receives.length} times, ${attempts} PUT attempts, dead-lettered, run complete with 1 error`);
  });
});
