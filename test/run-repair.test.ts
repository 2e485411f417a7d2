// Items 1 and 2 of issue 12, against dynalite and s3rver with the real handlers:
// - a run whose every tile is counted but whose manifest was never written (the process died in
//   between) or was deleted is completed by a re-run (submitRun), by fetch (ClusterService), by a
//   later aggregator event and by the dead-letter handler — once, even past an expired lease;
// - `retryFailed` re-sends only the failed tiles, and their new outcomes replace the old ones in
//   the ledger and the manifest without counting anything twice;
// - a dead-lettered tile's error record carries the last error of its attempts.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DeleteObjectCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as aggregate } from '../functions/aggregator.ts';
import { handler as consume } from '../functions/consumer.ts';
import { handler as deadLetter } from '../functions/deadletter.ts';
import { errorKey, lastErrorKey, manifestKey } from '../core/run/keys.ts';
import { Ledger, MANIFEST_LEASE_MS } from '../core/store/ledger.ts';
import { tileMessageBody } from '../core/run/messages.ts';
import { clustersOutcome, errorOutcome } from '../core/run/manifest.ts';
import { runId, runTiles, validateRunParams, type RunSpec } from '../core/run/params.ts';
import { putTileError, putTileResult } from '../core/store/result-store.ts';
import { submitRun, type BatchSender } from '../core/store/queue.ts';
import { completeRun } from '../core/store/run-completion.ts';
import { waitForManifest } from '../core/store/manifest-wait.ts';
import { ClusterService } from '../core/results/service.ts';
import type { Manifest } from '../core/run/types.ts';
import type { TileAddress } from '../core/tiles/types.ts';
import { CREDENTIALS, REGION, setHandlerEnv, startDynalite, startS3rver, type Dynamo, type S3Emulator } from './pipeline-emulators.ts';

const BUCKET = 'repair-results';
const TABLE = 'repair-ledger';
let s3: S3Emulator;
let dynamo: Dynamo;
let client: S3Client;
let ledger: Ledger;
const puts: string[] = [];

beforeAll(async () => {
  [s3, dynamo] = await Promise.all([startS3rver([BUCKET]), startDynalite()]);
  await dynamo.createTable(TABLE);
  setHandlerEnv(s3, dynamo, { bucket: BUCKET, table: TABLE });
  s3.server.on('event', (event: { Records: { eventName: string; s3: { object: { key: string } } }[] }) => {
    if (event.Records[0].eventName.startsWith('ObjectCreated')) puts.push(event.Records[0].s3.object.key);
  });
  client = new S3Client({ endpoint: s3.endpoint, region: REGION, credentials: CREDENTIALS, forcePathStyle: true });
  ledger = new Ledger(dynamo.doc, TABLE);
});

afterAll(async () => {
  client?.destroy();
  await Promise.all([s3?.stop(), dynamo?.stop()]);
});

let runCounter = 0;
/** A fresh 2-tile run (a different min_count each time, so a different run id). */
function makeRun(tilesUrl = 'file:///nonexistent-repair/{z}/{x}/{y}.png'): { spec: RunSpec; id: string; tiles: TileAddress[] } {
  const spec = validateRunParams({ z: 12, region: { kind: 'tiles', x0: 100, y0: 50, x1: 101, y1: 50 }, tiles_url: tilesUrl, min_count: 100 + ++runCounter });
  return { spec, id: runId(spec), tiles: runTiles(spec) };
}

const totals = (alerts: number) => ({ clusters: 1, alerts, hectares: alerts / 10, first_date: '2020-01-01', last_date: '2020-02-01' });
const ok = (id: string, t: TileAddress, alerts: number) => clustersOutcome(t, `runs/${id}/tiles/${t.z}/${t.x}/${t.y}/clusters.parquet`, totals(alerts));

async function getJson(key: string): Promise<any> {
  try {
    const out = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    return JSON.parse(await out.Body!.transformToString());
  } catch (error) {
    if ((error as Error).name === 'NoSuchKey') return null;
    throw error;
  }
}
const settle = () => new Promise((resolve) => setTimeout(resolve, 50));
const manifestPuts = async (id: string) => {
  await settle();
  return puts.filter((k) => k === manifestKey(id)).length;
};

/** An SQS stand-in that keeps the bodies sent. */
function fakeQueue(): BatchSender & { bodies: string[] } {
  const bodies: string[] = [];
  return {
    bodies,
    async send(command: SendMessageBatchCommand) {
      const entries = command.input.Entries ?? [];
      bodies.push(...entries.map((e) => e.MessageBody!));
      return { Successful: entries.map((e) => ({ Id: e.Id!, MessageId: e.Id!, MD5OfMessageBody: '' })), Failed: [], $metadata: {} };
    },
  };
}
const results = () => ({ s3: client, bucket: BUCKET });

/** Every tile counted in the ledger, and a manifest writer that died holding a lease that expired. */
async function stuckRun() {
  const run = makeRun();
  await ledger.createRun(run.id, run.spec);
  const last = await Promise.all(run.tiles.map((t, k) => ledger.recordTile(run.id, run.spec, ok(run.id, t, 10 + k))));
  expect(last.some((r) => r.runComplete)).toBe(true);
  for (const t of run.tiles) await putTileResult(results(), run.id, run.spec, t, []);
  expect(await ledger.claimManifest(run.id, 'died', new Date(Date.now() - MANIFEST_LEASE_MS - 1))).toBe('claimed');
  return run;
}

let messageCounter = 0;
function sqsRecord(body: string, receives = 1): SQSRecord {
  const messageId = `repair-${++messageCounter}`;
  return {
    messageId, receiptHandle: `rh-${messageId}`, body,
    attributes: { ApproximateReceiveCount: String(receives), SentTimestamp: '0', SenderId: 'test', ApproximateFirstReceiveTimestamp: '0' },
    messageAttributes: {}, md5OfBody: '', eventSource: 'aws:sqs', eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:glad-tiles', awsRegion: REGION,
  };
}
const s3Event = (key: string) => ({ Records: [{ eventName: 'ObjectCreated:Put', s3: { bucket: { name: BUCKET }, object: { key, sequencer: '01' } } }] });

describe('a run stuck without its manifest', () => {
  it('a re-run (submitRun) writes the missing manifest once, past an expired lease, and sends nothing', async () => {
    const { spec, id } = await stuckRun();
    const queue = fakeQueue();
    const first = await submitRun(spec, { ledger, sqs: queue, queueUrl: 'q', results: results() });
    expect(first).toMatchObject({ complete: true, repaired: true, sent: 0 });
    const second = await submitRun(spec, { ledger, sqs: queue, queueUrl: 'q', results: results() });
    expect(second).toMatchObject({ complete: true, repaired: false, sent: 0 });
    expect(queue.bodies).toEqual([]);
    expect(await manifestPuts(id)).toBe(1);
    expect((await getJson(manifestKey(id))) as Manifest).toMatchObject({ tiles: 2, tiles_with_clusters: 2, totals: { alerts: 21 } });
  });

  it('a live lease: the re-run says so, and waiting with completeRun writes it once the lease expires', async () => {
    const { spec, id } = makeRun();
    await ledger.createRun(id, spec);
    for (const t of runTiles(spec)) await ledger.recordTile(id, spec, ok(id, t, 5));
    expect(await ledger.claimManifest(id, 'alive', new Date(Date.now() - MANIFEST_LEASE_MS + 400))).toBe('claimed');
    const submission = await submitRun(spec, { ledger, sqs: fakeQueue(), queueUrl: 'q', results: results() });
    expect(submission).toMatchObject({ complete: false, sent: 0 });
    expect(submission.heldUntil).toBeGreaterThan(Date.now());
    const progress = await waitForManifest(ledger, id, { pollMs: 50, timeoutMs: 5000, complete: () => completeRun({ ...results(), ledger }, id) });
    expect(progress.manifest_key).toBe(manifestKey(id));
    expect(await manifestPuts(id)).toBe(1);
  });

  it('fetch (ClusterService) writes the missing manifest instead of saying "not finished: 2 of 2 tiles done"', async () => {
    const { id } = await stuckRun();
    const service = new ClusterService({ runId: id }, { s3: client, bucket: BUCKET, ledger, sqs: fakeQueue(), queueUrl: 'q' });
    await service.fetch({ full: false });
    expect(service.manifest).toMatchObject({ run_id: id, tiles: 2 });
    expect(await manifestPuts(id)).toBe(1);
  });

  it('a deleted manifest.json while the ledger says complete: re-run and fetch write it again (no "already complete" + "not finished")', async () => {
    const { spec, id } = await stuckRun();
    await completeRun({ ...results(), ledger }, id);
    await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: manifestKey(id) }));
    const submission = await submitRun(spec, { ledger, sqs: fakeQueue(), queueUrl: 'q', results: results() });
    expect(submission).toMatchObject({ complete: true, repaired: true });
    await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: manifestKey(id) }));
    const service = new ClusterService({ runId: id }, { s3: client, bucket: BUCKET, ledger, sqs: fakeQueue(), queueUrl: 'q' });
    await service.fetch({ full: false });
    expect(service.manifest).toMatchObject({ run_id: id, tiles: 2 });
    expect(await manifestPuts(id)).toBe(3);
  });

  it('a later aggregator event writes a deleted manifest again', async () => {
    const { spec, id, tiles } = makeRun();
    for (const t of tiles) await putTileError(results(), { runId: id, tile: t, message: 'boom', stage: 'tile', params: spec });
    for (const t of tiles) await aggregate(s3Event(errorKey(id, t)));
    expect(await getJson(manifestKey(id))).toMatchObject({ tiles_failed: 2 });
    await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: manifestKey(id) }));
    await aggregate(s3Event(errorKey(id, tiles[0]))); // e.g. a duplicate delivery, or a replay
    expect(await getJson(manifestKey(id))).toMatchObject({ tiles_failed: 2 });
    expect(await manifestPuts(id)).toBe(2);
  });

  it('the dead-letter handler, finding the tile finished, writes the missing manifest', async () => {
    const { spec, id, tiles } = await stuckRun();
    const response = await deadLetter({ Records: [sqsRecord(tileMessageBody(spec, tiles[1]), 5)] });
    expect(response.batchItemFailures).toEqual([]);
    expect(await getJson(errorKey(id, tiles[1]))).toBeNull();
    expect(await getJson(manifestKey(id))).toMatchObject({ run_id: id, tiles: 2 });
  });
});

describe('--retry-failed', () => {
  it('re-sends only the failed tiles; their new outcomes replace the old ones, nothing counted twice', async () => {
    const { spec, id, tiles } = makeRun();
    await ledger.createRun(id, spec);
    await ledger.recordTile(id, spec, ok(id, tiles[0], 7));
    await ledger.recordTile(id, spec, errorOutcome(tiles[1], 'getaddrinfo ENOTFOUND tiles.example', 'dead-letter'));
    expect(await completeRun({ ...results(), ledger }, id)).toMatchObject({ state: 'written' });
    expect(await getJson(manifestKey(id))).toMatchObject({ tiles_failed: 1, totals: { alerts: 7 } });

    // Without the flag: complete, nothing sent.
    const plain = await submitRun(spec, { ledger, sqs: fakeQueue(), queueUrl: 'q', results: results() });
    expect(plain).toMatchObject({ complete: true, sent: 0 });

    const queue = fakeQueue();
    const retry = await submitRun(spec, { ledger, sqs: queue, queueUrl: 'q', results: results() }, { retryFailed: true });
    expect(retry).toMatchObject({ complete: false, retried: 1, sent: 1, skipped: 1 });
    expect(queue.bodies.map((b) => JSON.parse(b).tile)).toEqual([tiles[1]]);
    expect(await ledger.progress(id)).toEqual({ tiles: 2, finished: 1, failed: 0, manifest_key: null });

    // The retried tile succeeds; a late replay of its old error record changes nothing.
    const recorded = await ledger.recordTile(id, spec, ok(id, tiles[1], 30));
    expect(recorded).toMatchObject({ firstTime: true, runComplete: true });
    await ledger.recordTile(id, spec, errorOutcome(tiles[1], 'getaddrinfo ENOTFOUND tiles.example', 'dead-letter'));
    expect(await ledger.progress(id)).toMatchObject({ tiles: 2, finished: 2, failed: 0 });
    expect(await completeRun({ ...results(), ledger }, id)).toMatchObject({ state: 'written' });
    const manifest: Manifest = await getJson(manifestKey(id));
    expect(manifest).toMatchObject({ tiles: 2, tiles_with_clusters: 2, tiles_failed: 0, errors: [], totals: { clusters: 2, alerts: 37 } });
    expect(await ledger.progress(id)).toMatchObject({ finished: 2, failed: 0, manifest_key: manifestKey(id) });
  });
});

describe('the cause of a dead letter', () => {
  it("the consumer keeps the last transient error; the dead-letter record carries it", async () => {
    // A port nobody listens on: every read is a refused connection (transient).
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise((resolve) => server.close(resolve));
    const { spec, id, tiles } = makeRun(`http://127.0.0.1:${port}/{z}/{x}/{y}.png`);
    const body = tileMessageBody(spec, tiles[0]);
    const response = await consume({ Records: [sqsRecord(body, 3)] });
    expect(response.batchItemFailures).toHaveLength(1);
    expect(await getJson(lastErrorKey(id, tiles[0]))).toMatchObject({ message: expect.stringMatching(/ECONNREFUSED/), receives: 3 });
    await deadLetter({ Records: [sqsRecord(body, 5)] });
    const record = await getJson(errorKey(id, tiles[0]));
    expect(record.stage).toBe('dead-letter');
    expect(record.message).toMatch(/dead-lettered; last error: tile 12\/100\/50: GET http:\/\/127\.0\.0\.1:\d+\/12\/100\/50\.png failed: .*ECONNREFUSED/);
  });
});
