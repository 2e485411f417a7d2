// Delivery faults on the local stack (real handlers, fauxqs, s3rver, dynalite): a consumer killed
// mid-batch, every message delivered three times in shuffled order with aggregator events
// duplicated and reordered, and the last tiles of a run recorded concurrently by several
// aggregators in worker threads. Each run must end equal to a clean run of the same tiles.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueBodies } from '../core/store/queue.ts';
import { clustersKey } from '../core/run/keys.ts';
import { runMessageBodies } from '../core/run/messages.ts';
import { runId, runTiles, type RunSpec } from '../core/run/params.ts';
import { tileSourceFromTemplate } from '../core/store/tile-sources.ts';
import { runTile } from '../core/clusters/tile-job.ts';
import { tileKey } from '../core/tiles/grid.ts';
import type { TileAddress } from '../core/tiles/types.ts';
import type { BatchStart } from '../local/consumer-worker.ts';
import type { S3EventPayload } from '../local/emulators.ts';
import {
  cleanRun,
  digestRun,
  resultOf,
  seeded,
  serveTiles,
  shuffled,
  sleep,
  startAggregatorPool,
  startFaultStack,
  startTileServer,
  syntheticWorld,
  testRunSpec,
  waitFor,
  type FaultStack,
  type RunDigest,
  type TileServer,
} from './fault-tools.ts';

const Z = 12;
// 4 × 3 tiles (plus their ring of neighbours, read for the halo) of a low-density synthetic world.
const REGION = { x0: 1331, y0: 2162, x1: 1334, y1: 2164 };
const TILES = (REGION.x1 - REGION.x0 + 1) * (REGION.y1 - REGION.y0 + 1);
const world = syntheticWorld(Z, REGION, { seed: 3, density: 600 });

let tiles: TileServer;
let fs: FaultStack;
let clean: RunDigest;
let cleanRunId: string;
const batches: { k: number; messages: BatchStart['messages'] }[] = [];

/** The run's parameters; the query changes the run id, never the tiles (`slow` delays each answer). */
const spec = (query: string): RunSpec => testRunSpec(Z, REGION, tiles.template(query));

const runOf = (body: string) => (JSON.parse(body) as { run_id: string }).run_id;
const tileOf = (body: string) => (JSON.parse(body) as { tile: TileAddress }).tile;

beforeAll(async () => {
  tiles = await startTileServer(async (tile, { query }) => {
    const slow = Number(query.get('slow') ?? 0);
    if (slow > 0) await sleep(slow);
    return serveTiles(world)(tile);
  });
  fs = await startFaultStack({ workers: 2, batchSize: 4, visibilityTimeout: 5, onBatchStart: (k, messages) => batches.push({ k, messages }) });
  // The clean run every faulty run is compared with.
  ({ runId: cleanRunId, digest: clean } = await cleanRun(fs, spec('run=clean')));
});

afterAll(async () => {
  await fs?.stop();
  await tiles?.stop();
});

describe('delivery faults', () => {
  it('the clean run equals runTile on every tile', async () => {
    const s = spec('run=clean');
    const source = tileSourceFromTemplate(s.tiles_url!);
    let withClusters = 0;
    for (const tile of runTiles(s)) {
      const want = (await runTile(tile, s, source)).clusters;
      const got = clean.clusters[tileKey(tile)] ?? [];
      expect(got.map((c) => [c.i, c.j, c.count, c.min_date, c.max_date, c.alerts])).toEqual(want.map((c) => [c.i, c.j, c.count, c.min_date, c.max_date, c.alerts]));
      if (want.length > 0) withClusters++;
    }
    expect(withClusters).toBeGreaterThan(3);
    expect(clean.counts).toEqual({ tiles: TILES, tiles_with_clusters: withClusters, tiles_empty: TILES - withClusters, tiles_failed: 0 });
    expect(fs.manifestPuts(cleanRunId)).toBe(1);
  });

  it('a consumer killed mid-batch: its messages come back after the visibility timeout and finish', async () => {
    const s = spec('run=kill&slow=100'); // 100 ms per tile read: a batch of 4 tiles takes ~1 s
    const id = runId(s);
    const seenBefore = batches.length;
    const submitted = fs.submit(s);
    let victim: (typeof batches)[number] | undefined;
    await waitFor('a batch of the run', () => {
      victim = batches.slice(seenBefore).find((b) => b.messages.length >= 2 && b.messages.every((m) => runOf(m.body) === id));
      return victim !== undefined;
    }, 20_000, 5);
    const victimTiles = victim!.messages.map((m) => tileOf(m.body));
    const written = () => victimTiles.filter((t) => fs.created.includes(clustersKey(id, t))).length;
    await waitFor('the first tile of the batch to be written', () => written() >= 1, 20_000, 5);
    await fs.loop.killConsumer(victim!.k); // worker.terminate(): no catch, no finally, no delete
    const writtenAtKill = written();
    await submitted;
    await fs.waitForManifest(id);

    // Killed in the middle: some tiles of the batch were written, some not.
    expect(writtenAtKill).toBeGreaterThanOrEqual(1);
    expect(writtenAtKill).toBeLessThan(victimTiles.length);
    // Every message of the killed batch came back (receive count ≥ 2) and was handled.
    const ids = new Set(victim!.messages.map((m) => m.messageId));
    const again = batches.filter((b) => b !== victim).flatMap((b) => b.messages).filter((m) => ids.has(m.messageId));
    expect(new Set(again.map((m) => m.messageId))).toEqual(ids);
    expect(again.every((m) => m.receiveCount >= 2)).toBe(true);
    // The tiles finished before the kill were written twice and counted once.
    const rewritten = victimTiles.filter((t) => fs.created.filter((key) => key === clustersKey(id, t)).length >= 2);
    expect(rewritten.length).toBeGreaterThanOrEqual(writtenAtKill);
    expect(await fs.ledger.progress(id)).toMatchObject({ tiles: TILES, finished: TILES, failed: 0 });
    expect(fs.manifestPuts(id)).toBe(1);
    expect(digestRun(await fs.load(id))).toEqual(clean);
    console.log(`kill: batch of ${victimTiles.length}, ${writtenAtKill} written at the kill, ${again.length} redelivered`);
  });

  it('every message delivered 3 times in shuffled order, aggregator events tripled and reordered', async () => {
    const s = spec('run=triple');
    const id = runId(s);
    const random = seeded(7);
    const bodies = runMessageBodies(s);
    // Each result event reaches the aggregator 3 times, each after a random delay of 0–1.5 s; the
    // copies of the first object created wait until another object's event has been delivered, so
    // the order is shuffled however far apart the tiles finish (random delays alone kept it once,
    // when the tiles finished more than the delays apart).
    let pending = 0;
    let deliveries = 0;
    const delivered: string[] = [];
    let firstKey: string | undefined;
    let held: Array<() => void> | undefined = [];
    fs.route = (payload, deliver) => {
      if (resultOf(payload)?.runId !== id) return deliver(payload);
      const key = payload.Records[0].s3.object.key;
      firstKey ??= key;
      for (let copy = 0; copy < 3; copy++) {
        pending++;
        const arrive = () => {
          pending--;
          deliveries++;
          delivered.push(key);
          deliver(payload);
          if (key !== firstKey && held) {
            const release = held;
            held = undefined;
            for (const go of release) go();
          }
        };
        setTimeout(() => (key === firstKey && held ? held.push(arrive) : arrive()), Math.floor(random() * 1500));
      }
    };
    const before = { ...fs.loop.stats };
    const seenBefore = batches.length;
    try {
      await fs.ledger.createRun(id, s);
      const sent = await enqueueBodies(fs.sqs, fs.stack.queueUrl, shuffled([...bodies, ...bodies, ...bodies], random));
      expect(sent).toEqual({ sent: 3 * TILES, failed: [] });
      await fs.waitForManifest(id);
      // Let every delayed copy reach the aggregator and finish.
      await waitFor('every copy of every event', () => {
        const handled = fs.loop.stats.aggregatorEvents + fs.loop.stats.aggregatorErrors - before.aggregatorEvents - before.aggregatorErrors;
        return pending === 0 && handled >= deliveries;
      });
    } finally {
      fs.route = (payload, deliver) => deliver(payload);
    }

    const received = new Set(batches.slice(seenBefore).flatMap((b) => b.messages).filter((m) => runOf(m.body) === id).map((m) => m.messageId));
    expect(received.size).toBe(3 * TILES);
    const created = fs.created.filter((key) => resultOf({ Records: [{ eventName: 'ObjectCreated:Put', s3: { bucket: { name: fs.bucket }, object: { key } } }] })?.runId === id);
    expect(delivered).toHaveLength(3 * created.length);
    // The aggregator saw the events in another order than they were created.
    const firstSeen = (keys: string[]) => [...new Set(keys)];
    expect(firstSeen(delivered)).not.toEqual(firstSeen(created));
    expect(fs.loop.stats.aggregatorErrors - before.aggregatorErrors).toBe(0);
    let recorded = 0;
    for await (const _tile of fs.ledger.tiles(id)) recorded++;
    expect(recorded).toBe(TILES);
    expect(await fs.ledger.progress(id)).toMatchObject({ tiles: TILES, finished: TILES, failed: 0 });
    expect(fs.manifestPuts(id)).toBe(1);
    expect(digestRun(await fs.load(id))).toEqual(clean);
    console.log(`triple: ${received.size} messages, ${created.length} result objects, ${delivered.length} aggregator deliveries, 1 manifest`);
  });

  it('the last tiles finishing concurrently in several aggregators give exactly one manifest', async () => {
    const pool = await startAggregatorPool(4);
    const HELD = 4;
    try {
      for (const n of [1, 2, 3]) {
        const s = spec(`run=race-${n}`);
        const id = runId(s);
        const seen = new Set<string>();
        const early = new Set<string>();
        const held: S3EventPayload[] = [];
        const invocations: Promise<void>[] = [];
        let released = false;
        // This run's events go to the pool: the first tiles as they come, the last HELD tiles held
        // back until every tile is written, then all at once, 3 copies each, over 4 threads.
        // (A late duplicate — a message redelivered under load — goes straight to the pool.)
        fs.route = (payload, deliver) => {
          const result = resultOf(payload);
          if (result?.runId !== id) return deliver(payload);
          seen.add(result.tile);
          if (seen.size <= TILES - HELD) early.add(result.tile);
          if (early.has(result.tile) || released) invocations.push(pool.invoke(payload, invocations.length));
          else held.push(payload);
          if (seen.size === TILES && !released) {
            released = true;
            held.flatMap((p) => [p, p, p]).forEach((p, k) => invocations.push(pool.invoke(p, k)));
          }
        };
        try {
          await fs.submit(s);
          await waitFor('the held events to be released', () => released);
          const outcomes = await Promise.allSettled(invocations);
          expect(outcomes.filter((o) => o.status === 'rejected')).toEqual([]);
        } finally {
          fs.route = (payload, deliver) => deliver(payload);
        }
        expect(new Set(held.map((p) => resultOf(p)!.tile)).size).toBe(HELD);
        expect(await fs.ledger.progress(id)).toMatchObject({ tiles: TILES, finished: TILES, manifest_key: `runs/${id}/manifest.json` });
        expect(fs.manifestPuts(id)).toBe(1);
        expect(digestRun(await fs.load(id))).toEqual(clean);
      }
      const contended = pool.failures.filter((f) => /manifest is being written by another invocation/.test(f)).length;
      expect(pool.failures.length).toBe(contended); // the only failures are "held" claims, each retried
      console.log(`race: 3 runs, ${pool.invocations} aggregator invocations on ${pool.size} threads, ${contended} found the manifest claim held and retried, 3 manifests`);
    } finally {
      await pool.stop();
    }
  });
});
