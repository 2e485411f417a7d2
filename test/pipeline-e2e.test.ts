// Whole runs end to end on the local stack: emulators on random loopback ports, the Lambda
// stand-in loop driving the real handlers (consumer in worker threads, aggregator on S3 events,
// dead-letter handler), runs submitted with core/store/queue.ts and read back with core/store/result-store.ts.
// The expected values come from calling runTile directly on the same generated tiles.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { DuckDBInstance } from '@duckdb/node-api';
import { ledgerFromEnv, resultsBucket, s3Client, sqsClient, tilesQueueUrl } from '../core/store/aws.ts';
import { submitRun } from '../core/store/queue.ts';
import { TILE_MAX_RECEIVES } from '../core/run/messages.ts';
import type { Ledger } from '../core/store/ledger.ts';
import { waitForManifest } from '../core/store/manifest-wait.ts';
import { loadRun } from '../core/store/result-store.ts';
import { tileMessageBody } from '../core/run/messages.ts';
import { runTiles, type RunSpec } from '../core/run/params.ts';
import { tileSourceFromTemplate } from '../core/store/tile-sources.ts';
import { writeSyntheticMosaic } from '../local/synthetic.ts';
import { runTile } from '../core/clusters/tile-job.ts';
import { gladDecoder } from '../core/tiles/decode.ts';
import { dayRange } from '../core/tiles/dates.ts';
import type { Cluster, StoredCluster } from '../core/clusters/types.ts';
import type { Manifest } from '../core/run/types.ts';
import { startLocalStack, type LocalStack } from '../local/dev-stack.ts';
import { testRunSpec, type TileRange } from './fault-tools.ts';

const dir = mkdtempSync(join(tmpdir(), 'glad-e2e-'));
const tilesDir = join(dir, 'tiles');
const TILES_URL = `file://${tilesDir}/{z}/{x}/{y}.png`;
// A 3×3 region plus a ring of neighbours (the consumer reads halos), low density for 2 cores.
const Z = 12;
const REGION = { x0: 1331, y0: 2162, x1: 1333, y1: 2164 };
const CORRUPT = { z: Z, x: 1336, y: 2162 };
const SEED = 3;
const DENSITY = 600;

let local: LocalStack;
let ledger: Ledger;
const logs: string[] = [];

function spec(region: TileRange, tilesUrl = TILES_URL, extra: Partial<RunSpec> = {}): RunSpec {
  return { ...testRunSpec(Z, region, tilesUrl), ...extra };
}

async function run(s: RunSpec): Promise<{ runId: string; manifest: Manifest; clusters: StoredCluster[] }> {
  const submission = await submitRun(s, { ledger, sqs: sqsClient(), queueUrl: tilesQueueUrl() });
  expect(submission.failed).toEqual([]);
  await waitForManifest(ledger, submission.runId, {
    timeoutMs: 50_000,
    pollMs: 100,
    timeoutMessage: (progress) => `run ${submission.runId} not complete after 50000 ms: ${JSON.stringify(progress)}; logs: ${logs.slice(-5).join(' | ')}`,
  });
  const loaded = await loadRun(submission.runId, s3Client(), { bucket: resultsBucket(), full: true });
  return { runId: submission.runId, ...loaded };
}

/** Waits until no message is queued or in flight and no aggregator call is pending. */
async function settle(): Promise<void> {
  const deadline = Date.now() + 30_000;
  let quietSince = Date.now();
  let last = JSON.stringify(local.loop.stats);
  while (Date.now() < deadline) {
    const { Attributes = {} } = await sqsClient().send(
      new GetQueueAttributesCommand({ QueueUrl: tilesQueueUrl(), AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
    );
    const now = JSON.stringify(local.loop.stats);
    if (now !== last || Attributes.ApproximateNumberOfMessages !== '0' || Attributes.ApproximateNumberOfMessagesNotVisible !== '0') {
      quietSince = Date.now();
      last = now;
    }
    if (Date.now() - quietSince > 500) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('the local stack did not settle in 30 s');
}

/** The clusters runTile finds for every tile of a run (the reference), each with its tile's status. */
async function reference(s: RunSpec): Promise<Cluster[][]> {
  const source = tileSourceFromTemplate(s.tiles_url!);
  const perTile: Cluster[][] = [];
  for (const tile of runTiles(s)) perTile.push((await runTile(tile, s, source)).clusters);
  return perTile;
}

const byTileAndCentre = (a: Cluster, b: Cluster) => a.z - b.z || a.x - b.x || a.y - b.y || a.i - b.i || a.j - b.j || a.count - b.count;
const essentials = (c: Cluster) => ({
  z: c.z, x: c.x, y: c.y, i: c.i, j: c.j, col: c.col, row: c.row, count: c.count,
  longitude: c.longitude, latitude: c.latitude, area_ha: c.area_ha, min_date: c.min_date, max_date: c.max_date,
  alerts: c.alerts.length,
});

beforeAll(async () => {
  await writeSyntheticMosaic(tilesDir, { z: Z, x0: REGION.x0 - 1, y0: REGION.y0 - 1, x1: REGION.x1 + 4, y1: REGION.y1 + 1, seed: SEED, density: DENSITY, corrupt: [CORRUPT] });
  // Short visibility timeout: a retried message comes back after 2 s instead of 30.
  local = await startLocalStack({ dir, workers: 2, visibilityTimeout: 2, log: (line) => logs.push(line) });
  ledger = ledgerFromEnv();
});

afterAll(async () => {
  await local?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('pipeline end to end on the local stack', () => {
  let threeByThree: Awaited<ReturnType<typeof run>>;
  let expected: Cluster[][];

  it('a 3×3 run fetches exactly the union of runTile results, with exact manifest counts', async () => {
    const s = spec(REGION);
    [threeByThree, expected] = await Promise.all([run(s), reference(s)]);
    const { manifest, clusters } = threeByThree;

    const want = expected.flat().sort(byTileAndCentre);
    expect(want.length).toBeGreaterThan(0);
    expect(clusters.every((c) => c.run_id === threeByThree.runId)).toBe(true);
    expect([...clusters].sort(byTileAndCentre).map(essentials)).toEqual(want.map(essentials));

    const withClusters = expected.filter((c) => c.length > 0).length;
    expect(manifest.tiles).toBe(9);
    expect(manifest.tiles_with_clusters).toBe(withClusters);
    expect(manifest.tiles_empty).toBe(9 - withClusters);
    expect(manifest.tiles_failed).toBe(0);
    expect(manifest.results).toHaveLength(withClusters);
    expect(manifest.totals.clusters).toBe(want.length);
    expect(manifest.totals.alerts).toBe(want.reduce((sum, c) => sum + c.count, 0));
    expect(manifest.totals.hectares).toBeCloseTo(want.reduce((sum, c) => sum + c.alert_area_ha, 0), 5);
    expect(manifest.totals.first_date).toBe(want.map((c) => c.min_date).sort()[0]);
    expect(manifest.totals.last_date).toBe(want.map((c) => c.max_date).sort().at(-1));
    // Alerts inside the region (each tile's own, in the date window), apart from the alerts of the
    // region's clusters, whose members may lie in neighbouring tiles outside the region.
    const source = tileSourceFromTemplate(s.tiles_url!);
    let inRegion = 0;
    for (const tile of runTiles(s)) {
      const bytes = await source.read(tile);
      if (bytes) inRegion += gladDecoder.decode(bytes, dayRange(s), tile).length;
    }
    expect(inRegion).toBeGreaterThan(0);
    expect(manifest.totals.region_alerts).toBe(inRegion);
  });

  it('DuckDB reads the Parquet files back with the same numbers', async () => {
    const s3 = s3Client();
    const files: string[] = [];
    for (const [k, key] of threeByThree.manifest.results.entries()) {
      const out = await s3.send(new GetObjectCommand({ Bucket: resultsBucket(), Key: key }));
      const file = join(dir, `clusters-${k}.parquet`);
      writeFileSync(file, await out.Body!.transformToByteArray());
      files.push(file);
    }
    const db = await DuckDBInstance.create(':memory:');
    const connection = await db.connect();
    const list = files.map((f) => `'${f}'`).join(', ');
    const totals = await connection.runAndReadAll(
      `SELECT count(*)::INTEGER AS clusters, sum(count)::INTEGER AS alerts, sum(alert_area_ha) AS hectares, min(min_date) AS first, max(max_date) AS last, count(DISTINCT run_id)::INTEGER AS runs FROM read_parquet([${list}])`,
    );
    const [row] = totals.getRowObjectsJson();
    const m = threeByThree.manifest.totals;
    expect(row.clusters).toBe(m.clusters);
    expect(row.alerts).toBe(m.alerts);
    expect(Number(row.hectares)).toBeCloseTo(m.hectares, 5);
    expect([row.first, row.last, row.runs]).toEqual([m.first_date, m.last_date, 1]);
    // Result format 2: the members are list columns of the clusters file (one object per tile).
    const members = await connection.runAndReadAll(`SELECT count(*)::INTEGER AS n FROM (SELECT unnest(member_row) FROM read_parquet([${list}]))`);
    expect(members.getRowObjectsJson()[0].n).toBe(m.alerts);
    const lengths = await connection.runAndReadAll(`SELECT count(*)::INTEGER AS n FROM read_parquet([${list}]) WHERE len(member_row) <> count OR len(member_date) <> count`);
    expect(lengths.getRowObjectsJson()[0].n).toBe(0);
    const centres = await connection.runAndReadAll(`SELECT z, x, y, i, j, count FROM read_parquet([${list}]) ORDER BY z, x, y, i, j, count`);
    const want = expected.flat().sort(byTileAndCentre).map((c) => [c.z, c.x, c.y, c.i, c.j, c.count]);
    expect(centres.getRowsJson()).toEqual(want);
    connection.closeSync();
  });

  it('a corrupt tile yields an error row and the run still completes', async () => {
    const s = spec({ x0: CORRUPT.x - 1, y0: CORRUPT.y, x1: CORRUPT.x, y1: CORRUPT.y });
    const [result, want] = await Promise.all([run(s), reference({ ...s, region: { ...s.region, x1: CORRUPT.x - 1 } })]);
    expect(result.manifest.tiles).toBe(2);
    expect(result.manifest.tiles_failed).toBe(1);
    expect(result.manifest.errors).toHaveLength(1);
    expect(result.manifest.errors[0]).toMatchObject({ z: CORRUPT.z, x: CORRUPT.x, y: CORRUPT.y });
    expect(result.manifest.errors[0].message.length).toBeGreaterThan(0);
    // The good tile's clusters are all there.
    expect(result.clusters.map(essentials).sort((a, b) => a.i - b.i || a.j - b.j)).toEqual(
      want.flat().map(essentials).sort((a, b) => a.i - b.i || a.j - b.j),
    );
  });

  it('a message delivered twice is counted once', async () => {
    const s = spec({ x0: REGION.x0, y0: REGION.y0, x1: REGION.x0 + 1, y1: REGION.y0 }, TILES_URL, { min_count: 11 });
    const [first] = runTiles(s);
    await settle();
    const before = { ...local.loop.stats };
    // The duplicate goes in first, so both copies race through the consumers and the aggregator.
    await sqsClient().send(new SendMessageCommand({ QueueUrl: tilesQueueUrl(), MessageBody: tileMessageBody(s, first) }));
    const result = await run(s);
    // Wait until all 3 messages were consumed and their 3 result events aggregated.
    const deadline = Date.now() + 30_000;
    while (local.loop.stats.aggregatorEvents - before.aggregatorEvents < 3 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(local.loop.stats.messages - before.messages).toBe(3);
    expect(local.loop.stats.aggregatorEvents - before.aggregatorEvents).toBe(3);

    const progress = await ledger.progress(result.runId);
    expect(progress).toMatchObject({ tiles: 2, finished: 2, failed: 0 });
    const recorded = [];
    for await (const tile of ledger.tiles(result.runId)) recorded.push(tile);
    expect(recorded).toHaveLength(2);
    const want = (await reference(s)).flat();
    expect(result.manifest.tiles).toBe(2);
    expect(result.manifest.totals.clusters).toBe(want.length);
    expect(result.manifest.totals.alerts).toBe(want.reduce((sum, c) => sum + c.count, 0));
    expect(result.clusters).toHaveLength(want.length);
  });

  it('a tile that keeps failing is dead-lettered after TILE_MAX_RECEIVES receives and recorded as failed', async () => {
    // A loopback port nobody listens on: every read is a transient failure, retried by SQS.
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    const s = spec({ x0: REGION.x0, y0: REGION.y0, x1: REGION.x0, y1: REGION.y0 }, `http://127.0.0.1:${port}/{z}/{x}/{y}.png`);
    await settle();
    const before = { ...local.loop.stats };
    const result = await run(s);
    expect(result.manifest.tiles_failed).toBe(1);
    expect(result.manifest.errors[0]).toMatchObject({ z: Z, x: REGION.x0, y: REGION.y0, stage: 'dead-letter' });
    expect(local.loop.stats.retried - before.retried).toBe(TILE_MAX_RECEIVES);
    expect(local.loop.stats.deadLetters - before.deadLetters).toBe(1);
  });
});
