// `npm run replay:aggregator` against the local emulators (s3rver, fauxqs, dynalite), as a child
// process with the SST_RESOURCE_* variables `sst shell` would set. The failures queue holds Lambda
// on-failure invocation records (the documented shape: requestContext, requestPayload = the original
// S3 event, responseContext, responsePayload) for a real tile result, plus records that cannot be
// replayed. Checks: the tile is counted once and its record deleted; malformed records and a record
// whose replay fails again are reported and left in the queue; replaying again changes nothing.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clustersKey, errorKey } from '../core/run/keys.ts';
import { Ledger } from '../core/store/ledger.ts';
import type { TileOutcome } from '../core/run/types.ts';
import { requestPayloadOf } from '../core/store/replay-aggregator.ts';
import { putTileError, putTileResult } from '../core/store/result-store.ts';
import { runId, runTiles, validateRunParams, type RunSpec } from '../core/run/params.ts';
import { fileTileSource } from '../core/store/tile-sources.ts';
import { writeSyntheticMosaic } from '../local/synthetic.ts';
import { runTile } from '../core/clusters/tile-job.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startEmulators, type Emulators } from '../local/emulators.ts';
import { s3EventOf } from '../local/sqs-event.ts';
import { createStack, queueUrl, stackEnv, type StackInfo } from '../local/stack.ts';
import { cleanEnv, runScript, type ScriptResult } from './run-script.ts';

const FAILURES = 'glad-aggregator-failures';

let emulators: Emulators;
let stack: StackInfo;
let failuresUrl: string;
let sqs: SQSClient;
let s3: S3Client;
let ledger: Ledger;
let tilesDir: string;
let spec: RunSpec;

/** What Lambda's on-failure destination sends for an event that failed 3 attempts. */
function invocationRecord(event: unknown): string {
  return JSON.stringify({
    version: '1.0',
    timestamp: new Date().toISOString(),
    requestContext: {
      requestId: 'e4b46cbf-b738-4a1c-8880-a18cdf61200e',
      functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:glad-clusters-test-AggregatorFunction:$LATEST',
      condition: 'RetriesExhausted',
      approximateInvokeCount: 3,
    },
    requestPayload: event,
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    responsePayload: { errorType: 'Error', errorMessage: 'aggregator failed on 1 record(s): throttled' },
  });
}

const send = (body: string) => sqs.send(new SendMessageCommand({ QueueUrl: failuresUrl, MessageBody: body }));

/** The bodies now visible in the failures queue (received without hiding them). */
async function queued(): Promise<string[]> {
  const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: failuresUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 0 }));
  return (out.Messages ?? []).map((m) => m.Body!).sort();
}

function replay(): Promise<ScriptResult> {
  // Only what `sst shell` would give: no AWS settings or SST links from the developer's shell.
  const env = { ...cleanEnv(), ...stackEnv(stack), SST_RESOURCE_AggregatorFailures: JSON.stringify({ url: failuresUrl }) };
  return runScript('replay-aggregator.ts', [], { env, timeoutMs: 60_000 });
}

/** The counts the script prints as its last stdout line. */
const summaryOf = (stdout: string) => JSON.parse(stdout.trim().split('\n').pop()!);

async function outcomes(id: string): Promise<TileOutcome[]> {
  const out: TileOutcome[] = [];
  for await (const outcome of ledger.tiles(id)) out.push(outcome);
  return out;
}

beforeAll(async () => {
  emulators = await startEmulators();
  stack = await createStack(emulators);
  const config = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
  sqs = new SQSClient({ ...config, endpoint: emulators.endpoints.sqs });
  await sqs.send(new CreateQueueCommand({ QueueName: FAILURES }));
  failuresUrl = queueUrl(emulators.endpoints.sqs, FAILURES);
  s3 = new S3Client({ ...config, endpoint: emulators.endpoints.s3, forcePathStyle: true });
  ledger = new Ledger(
    DynamoDBDocumentClient.from(new DynamoDBClient({ ...config, endpoint: emulators.endpoints.dynamodb }), { marshallOptions: { removeUndefinedValues: true } }),
    stack.names.table,
  );
  tilesDir = mkdtempSync(join(tmpdir(), 'glad-replay-'));
  await writeSyntheticMosaic(tilesDir, { z: 12, x0: 1360, y0: 2100, x1: 1361, y1: 2100, seed: 3, density: 1200 });
  spec = validateRunParams({
    z: 12,
    region: { kind: 'tiles', x0: 1360, y0: 2100, x1: 1361, y1: 2100 },
    tiles_url: `${pathToFileURL(tilesDir).href}/{z}/{x}/{y}.png`,
    dataset: 'glad-2018', // the mosaic's encoding
    width: 3,
    min_count: 10,
  });
}, 60_000);

afterAll(async () => {
  sqs?.destroy();
  s3?.destroy();
  await emulators?.stop();
  if (tilesDir) rmSync(tilesDir, { recursive: true, force: true });
});

describe('requestPayloadOf', () => {
  it('takes the S3 event out of an invocation record; names what is wrong with anything else', () => {
    const event = s3EventOf('b', 'runs/r-0123456789abcdef/tiles/12/1/2/clusters.parquet', 10);
    expect(requestPayloadOf(invocationRecord(event))).toEqual({ event });
    expect(requestPayloadOf('{not json')).toEqual({ error: 'not JSON' });
    expect(requestPayloadOf(JSON.stringify({ version: '1.0' }))).toEqual({ error: 'no requestPayload (not a Lambda invocation record)' });
    expect(requestPayloadOf(invocationRecord({}))).toEqual({ error: 'requestPayload has no S3 records' });
    expect(requestPayloadOf(invocationRecord({ Records: [{ eventName: 'ObjectCreated:Put' }] }))).toHaveProperty('error');
  });
});

describe('npm run replay:aggregator (emulators)', () => {
  const id = () => runId(spec);
  const tile = () => runTiles(spec)[0];
  const key = () => clustersKey(id(), tile());
  let counted: TileOutcome[];

  it('replays a failed event: the tile is counted once, its record deleted; bad records are reported and stay', async () => {
    const store = { s3, bucket: stack.names.bucket };
    await ledger.createRun(id(), spec); // as enqueue does before sending the tile messages
    const result = await runTile(tile(), spec, fileTileSource(spec.tiles_url!));
    expect(result.nb_clusters).toBeGreaterThan(0);
    await putTileResult(store, id(), spec, tile(), result.clusters);
    // An error record of a run the ledger has never heard of, without params: its replay fails again
    // (transient: "no run item in the ledger yet"), like a replay while DynamoDB is still throttled.
    const orphan = { runId: 'r-00000000000000aa', tile: { z: 12, x: 1, y: 1 }, message: 'boom', stage: 'tile' };
    await putTileError(store, orphan);

    const good = invocationRecord(s3EventOf(stack.names.bucket, key(), 100));
    const bad = ['{not json', JSON.stringify({ version: '1.0', requestContext: { condition: 'RetriesExhausted' } }), invocationRecord({ Records: [{ s3: {} }] })];
    const failing = invocationRecord(s3EventOf(stack.names.bucket, errorKey(orphan.runId, orphan.tile), 100));
    for (const body of [good, ...bad, failing]) await send(body);

    const run = await replay();
    expect(run.code, run.stderr).toBe(1); // something was left in the queue
    expect(summaryOf(run.stdout)).toEqual({ received: 5, replayed: 1, malformed: 3, failed: 1 });
    expect(run.stderr.match(/malformed, left in the queue/g)).toHaveLength(3);
    expect(run.stderr).toMatch(/replay failed, left in the queue: aggregator failed on 1 record\(s\).*no run item in the ledger yet/);

    expect(await ledger.progress(id())).toEqual({ tiles: 2, finished: 1, failed: 0, manifest_key: null });
    counted = await outcomes(id());
    expect(counted).toHaveLength(1);
    expect(counted[0]).toMatchObject({ ...tile(), status: 'clusters', result_key: key(), clusters: result.nb_clusters });
    expect(await ledger.getRun(orphan.runId)).toBeNull();

    // The replayed record is gone; the others are back in the queue at once.
    expect(await queued()).toEqual([...bad, failing].sort());
  }, 90_000);

  it('replaying the same event again changes nothing', async () => {
    await send(invocationRecord(s3EventOf(stack.names.bucket, key(), 100)));
    const run = await replay();
    expect(summaryOf(run.stdout)).toEqual({ received: 5, replayed: 1, malformed: 3, failed: 1 });
    expect(run.stdout).toMatch(/already recorded \(clusters\)/);
    expect(await ledger.progress(id())).toEqual({ tiles: 2, finished: 1, failed: 0, manifest_key: null });
    expect(await outcomes(id())).toEqual(counted);
    expect(await queued()).toHaveLength(4);
  }, 90_000);
});
