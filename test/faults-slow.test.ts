// A tile slower than the queue's visibility timeout. On AWS the consumer's 120 s timeout is far
// below the 12 min visibility, so a message never comes back while it is being processed; the
// local loop has no such timeout, and without its visibility heartbeat the message was delivered
// again meanwhile, dead-lettered after 3 receives and recorded as failed although it succeeded
// (seen on this machine: error.json first, then clusters.parquet written 3 times, manifest
// "1 failed"). Here each tile takes ≥ 8 s against a 3 s visibility timeout (a 1 s one was missed
// on a loaded machine: the heartbeat starts only when the worker reports its batch).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clustersKey } from '../core/run/keys.ts';
import { runId, runTiles, type RunSpec } from '../core/run/params.ts';
import { tileSourceFromTemplate } from '../core/store/tile-sources.ts';
import { runTile } from '../core/clusters/tile-job.ts';
import { tileKey } from '../core/tiles/grid.ts';
import type { BatchStart } from '../local/consumer-worker.ts';
import { digestRun, serveTiles, sleep, startFaultStack, startTileServer, syntheticWorld, testRunSpec, type FaultStack, type TileServer } from './fault-tools.ts';

const Z = 12;
const REGION = { x0: 1332, y0: 2163, x1: 1333, y1: 2163 };
const world = syntheticWorld(Z, REGION, { seed: 3, density: 600 });

let tiles: TileServer;
let fs: FaultStack;
const starts: BatchStart['messages'] = [];

const spec = (query: string): RunSpec => testRunSpec(Z, REGION, tiles.template(query));

beforeAll(async () => {
  tiles = await startTileServer(async (tile, { query }) => {
    await sleep(Number(query.get('slow') ?? 0));
    return serveTiles(world)(tile);
  });
  // 4 idle consumers ready to take any message that becomes visible again.
  fs = await startFaultStack({ workers: 4, batchSize: 1, visibilityTimeout: 3, onBatchStart: (_k, messages) => starts.push(...messages) });
});

afterAll(async () => {
  await fs?.stop();
  await tiles?.stop();
});

describe('a tile slower than the visibility timeout', () => {
  it('is processed once, not dead-lettered, and its clusters are in the manifest', async () => {
    const s = spec('slow=4000'); // own tile 4 s, then the halo 4 s: ≥ 8 s per tile
    const id = runId(s);
    const before = { ...fs.loop.stats };
    const started = Date.now();
    await fs.submit(s);
    await fs.waitForManifest(id, 40_000);
    const took = Date.now() - started;
    await sleep(4000); // anything redelivered would show up by now (visibility 3 s)

    const mine = starts.filter((m) => m.body.includes(id));
    expect(mine.map((m) => m.receiveCount)).toEqual([1, 1]);
    expect(fs.loop.stats.deadLetters - before.deadLetters).toBe(0);
    for (const tile of runTiles(s)) expect(fs.created.filter((key) => key === clustersKey(id, tile))).toHaveLength(1);
    const digest = digestRun(await fs.load(id));
    expect(digest.counts).toMatchObject({ tiles: 2, tiles_failed: 0 });
    // Same clusters as runTile on the same tiles (read without the delay).
    const fast = spec('slow=0');
    const source = tileSourceFromTemplate(fast.tiles_url!);
    for (const tile of runTiles(s)) {
      const want = (await runTile(tile, fast, source)).clusters;
      expect(want.length).toBeGreaterThan(0);
      expect(digest.clusters[tileKey(tile)].map((c) => [c.i, c.j, c.count, c.alerts])).toEqual(want.map((c) => [c.i, c.j, c.count, c.alerts]));
    }
    console.log(`slow tiles: 2 tiles of ≥ 3 s each against a 1 s visibility timeout, run done in ${took} ms, each message received once`);
  });
});
