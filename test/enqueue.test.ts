// core/store/queue.ts against a real SQS emulator (fauxqs), with a flaky wrapper around the real
// client to make SQS report failed entries and failed calls; submitRun with a real ledger (dynalite).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
  type SendMessageBatchCommandOutput,
} from '@aws-sdk/client-sqs';
import { startFauxqs, type FauxqsServer } from 'fauxqs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { chunkIndexes, enqueueBodies, submitRun, type BatchSender } from '../core/store/queue.ts';
import { Ledger } from '../core/store/ledger.ts';
import { errorOutcome } from '../core/run/manifest.ts';
import { runId, runTiles, validateRunParams } from '../core/run/params.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startEmulators } from '../local/emulators.ts';
import { createStack } from '../local/stack.ts';

let server: FauxqsServer;
let sqs: SQSClient;
let endpoint: string;

beforeAll(async () => {
  server = await startFauxqs({ port: 0, logger: false });
  endpoint = `http://127.0.0.1:${server.port}`;
  sqs = new SQSClient({ region: 'us-east-1', endpoint, credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
});
afterAll(async () => {
  sqs?.destroy();
  await server?.stop();
});

async function newQueue(name: string): Promise<string> {
  await sqs.send(new CreateQueueCommand({ QueueName: name }));
  return `${endpoint}/000000000000/${name}`;
}

/** Drains a queue and returns the bodies received. */
async function drain(queueUrl: string): Promise<string[]> {
  const bodies: string[] = [];
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    if (Messages.length === 0) return bodies;
    bodies.push(...Messages.map((m) => m.Body!));
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: Messages.map((m, k) => ({ Id: String(k), ReceiptHandle: m.ReceiptHandle! })),
      }),
    );
  }
}

/**
 * Wraps the real client: the first `failuresPerEntry` attempts of chosen entries are held back and
 * reported as failed; `throwFirstCalls` calls throw before reaching SQS. Records batch sizes.
 */
function flaky(options: { failEntries?: Set<string>; failuresPerEntry?: number; throwFirstCalls?: number; senderFault?: Set<string> }) {
  const attempts = new Map<string, number>();
  const batchSizes: number[] = [];
  let calls = 0;
  const sender: BatchSender = {
    async send(command: SendMessageBatchCommand): Promise<SendMessageBatchCommandOutput> {
      calls++;
      batchSizes.push(command.input.Entries!.length);
      if (calls <= (options.throwFirstCalls ?? 0)) throw new Error('socket hang up');
      const keep = [];
      const failed = [];
      for (const entry of command.input.Entries!) {
        const n = (attempts.get(entry.Id!) ?? 0) + 1;
        attempts.set(entry.Id!, n);
        if (options.senderFault?.has(entry.MessageBody!)) {
          failed.push({ Id: entry.Id!, Code: 'InvalidMessageContents', Message: 'bad body', SenderFault: true });
        } else if (options.failEntries?.has(entry.MessageBody!) && n <= (options.failuresPerEntry ?? 1)) {
          failed.push({ Id: entry.Id!, Code: 'ServiceUnavailable', Message: 'try again', SenderFault: false });
        } else keep.push(entry);
      }
      const output: SendMessageBatchCommandOutput = keep.length
        ? await sqs.send(new SendMessageBatchCommand({ QueueUrl: command.input.QueueUrl, Entries: keep }))
        : { Successful: [], Failed: [], $metadata: {} };
      return { ...output, Failed: [...(output.Failed ?? []), ...failed] };
    },
  };
  return { sender, batchSizes, calls: () => calls };
}

describe('chunkIndexes', () => {
  it('splits into consecutive chunks of at most 10', () => {
    const chunks = chunkIndexes(23);
    expect(chunks.map((c) => c.length)).toEqual([10, 10, 3]);
    expect(chunks.flat()).toEqual(Array.from({ length: 23 }, (_, k) => k));
    expect(chunkIndexes(0)).toEqual([]);
  });
});

describe('enqueueBodies', () => {
  it('delivers every body exactly once, in batches of at most 10', async () => {
    const queueUrl = await newQueue('plain');
    const bodies = Array.from({ length: 37 }, (_, k) => JSON.stringify({ k }));
    const wrapper = flaky({});
    const progress: number[] = [];
    const result = await enqueueBodies(wrapper.sender, queueUrl, bodies, { onProgress: (sent) => progress.push(sent) });
    expect(result).toEqual({ sent: 37, failed: [] });
    expect(Math.max(...wrapper.batchSizes)).toBe(10);
    expect(wrapper.batchSizes.reduce((a, b) => a + b, 0)).toBe(37);
    expect(progress.at(-1)).toBe(37);
    expect((await drain(queueUrl)).sort()).toEqual([...bodies].sort());
  });

  it('retries failed entries and failed calls until they go through', async () => {
    const queueUrl = await newQueue('flaky');
    const bodies = Array.from({ length: 25 }, (_, k) => `body-${k}`);
    const wrapper = flaky({ failEntries: new Set(['body-3', 'body-17', 'body-24']), failuresPerEntry: 2, throwFirstCalls: 1 });
    const result = await enqueueBodies(wrapper.sender, queueUrl, bodies, { backoffMs: 1, concurrency: 1 });
    expect(result).toEqual({ sent: 25, failed: [] });
    // 3 first batches (one throws and is redone) + 2 retries for each batch holding a failing entry.
    expect(wrapper.calls()).toBeGreaterThan(3);
    expect((await drain(queueUrl)).sort()).toEqual([...bodies].sort());
  });

  it('reports entries that never go through, and sender faults without retrying them', async () => {
    const queueUrl = await newQueue('broken');
    const bodies = Array.from({ length: 12 }, (_, k) => `b${k}`);
    const wrapper = flaky({ failEntries: new Set(['b1']), failuresPerEntry: 99, senderFault: new Set(['b11']) });
    const result = await enqueueBodies(wrapper.sender, queueUrl, bodies, { backoffMs: 1, maxAttempts: 3 });
    expect(result.sent).toBe(10);
    expect(result.failed.map((f) => f.index)).toEqual([1, 11]);
    expect(result.failed[0].message).toMatch(/ServiceUnavailable/);
    expect(result.failed[1].message).toMatch(/InvalidMessageContents/);
    // b1 was tried 3 times (2 batch calls after its first), b11 once: 2 first calls + 2 retries.
    expect(wrapper.calls()).toBe(4);
    expect((await drain(queueUrl)).sort()).toEqual(bodies.filter((b) => b !== 'b1' && b !== 'b11').sort());
  });
});

describe('submitRun (ledger in dynalite, queue in fauxqs)', () => {
  it('sends every tile of a new run, only unfinished tiles of a known run, nothing for a finished run', async () => {
    const emulators = await startEmulators();
    try {
      const stack = await createStack(emulators, { visibilityTimeout: 30 });
      const ledger = new Ledger(
        DynamoDBDocumentClient.from(new DynamoDBClient({ region: LOCAL_REGION, endpoint: emulators.endpoints.dynamodb, credentials: LOCAL_CREDENTIALS })),
        stack.names.table,
      );
      const client = new SQSClient({ region: LOCAL_REGION, endpoint: emulators.endpoints.sqs, credentials: LOCAL_CREDENTIALS });
      const spec = validateRunParams({ z: 12, region: { kind: 'tiles', x0: 10, y0: 20, x1: 12, y1: 21 }, tiles_url: 'https://t/{z}/{x}/{y}.png' });
      const deps = { ledger, sqs: client, queueUrl: stack.queueUrl };
      const received = async () => {
        const bodies: string[] = [];
        for (;;) {
          const { Messages = [] } = await client.send(new ReceiveMessageCommand({ QueueUrl: stack.queueUrl, MaxNumberOfMessages: 10 }));
          if (Messages.length === 0) return bodies.map((b) => JSON.parse(b) as { run_id: string; tile: { x: number; y: number } });
          bodies.push(...Messages.map((m) => m.Body!));
          await client.send(new DeleteMessageBatchCommand({ QueueUrl: stack.queueUrl, Entries: Messages.map((m, k) => ({ Id: String(k), ReceiptHandle: m.ReceiptHandle! })) }));
        }
      };

      const first = await submitRun(spec, deps);
      expect(first).toMatchObject({ runId: runId(spec), tiles: 6, created: true, complete: false, skipped: 0, sent: 6, failed: [] });
      expect((await ledger.getRun(first.runId))?.tiles).toBe(6);
      const sent = await received();
      expect(sent.map((m) => `${m.tile.x},${m.tile.y}`).sort()).toEqual(['10,20', '10,21', '11,20', '11,21', '12,20', '12,21']);
      expect(new Set(sent.map((m) => m.run_id))).toEqual(new Set([first.runId]));

      // Two tiles finish; submitting again sends the four others.
      const tiles = runTiles(spec);
      await ledger.recordTile(first.runId, spec, errorOutcome(tiles[0], 'corrupt', 'tile'));
      await ledger.recordTile(first.runId, spec, errorOutcome(tiles[4], 'corrupt', 'tile'));
      const resumed = await submitRun(spec, deps);
      expect(resumed).toMatchObject({ created: false, complete: false, skipped: 2, sent: 4 });
      const resent = (await received()).map((m) => `${m.tile.x},${m.tile.y}`).sort();
      // runTiles is row by row: tiles[0] = 10,20 and tiles[4] = 11,21 are the finished ones.
      expect(resent).toEqual(['10,21', '11,20', '12,20', '12,21']);

      // A run with its manifest sends nothing.
      expect(await ledger.claimManifest(first.runId, 'test')).toBe('claimed');
      await ledger.finishManifest(first.runId, 'test', 'runs/x/manifest.json', new Date().toISOString());
      const finished = await submitRun(spec, deps);
      expect(finished).toMatchObject({ complete: true, sent: 0, skipped: 6 });
      expect(await received()).toEqual([]);

      // Over the size limit: refused with the count and the flag, before the ledger or the queue is touched.
      const big = validateRunParams({ z: 12, region: { kind: 'tiles', x0: 0, y0: 0, x1: 9, y1: 9 }, tiles_url: 'https://t/{z}/{x}/{y}.png' });
      await expect(submitRun(big, deps, { maxTiles: 99 })).rejects.toThrow('region has 100 tiles, over the limit of 99: pass --max-tiles 100');
      expect(await ledger.getRun(runId(big))).toBeNull();
      expect(await received()).toEqual([]);
      expect((await submitRun(big, deps, { maxTiles: 100 })).sent).toBe(100);
      client.destroy();
    } finally {
      await emulators.stop();
    }
  });
});

describe('submitRun streams the tiles of a huge run', () => {
  it('sends the first batches of a 10-million-tile run at once, in bounded memory, and resumes by tile index', async () => {
    const spec = validateRunParams({ z: 14, region: { kind: 'tiles', x0: 0, y0: 0, x1: 9999, y1: 999 }, tiles_url: 'https://tiles.example/{z}/{x}/{y}.png' });
    let received = 0;
    let firstBody = '';
    const hang = new Promise<never>(() => {});
    // A queue that takes 5,000 messages, then never answers again (the test looks at what got there).
    const sqs: BatchSender = {
      async send(command) {
        const entries = (command as SendMessageBatchCommand).input.Entries ?? [];
        if (received >= 5000) return hang;
        if (!firstBody) firstBody = entries[0].MessageBody!;
        received += entries.length;
        return { Successful: entries.map((e) => ({ Id: e.Id!, MessageId: e.Id!, MD5OfMessageBody: '' })), Failed: [] } as never;
      },
    };
    // A known run with its first two tiles finished: they are not sent again.
    const ledger = {
      createRun: async () => false,
      getRun: async () => ({}),
      async *tiles() {
        yield { z: 14, x: 0, y: 0 };
        yield { z: 14, x: 1, y: 0 };
      },
    };
    globalThis.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    const started = performance.now();
    // The ledger here only answers the three calls a resumed submission makes.
    void submitRun(spec, { ledger: ledger as unknown as Ledger, sqs, queueUrl: 'http://queue' }, { maxTiles: 20_000_000, backoffMs: 1 });
    while (received < 5000 && performance.now() - started < 20_000) await new Promise((r) => setTimeout(r, 20));
    const grown = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
    console.log(`10,000,000-tile run: 5,000 messages sent after ${(performance.now() - started).toFixed(0)} ms, heap +${grown.toFixed(0)} MiB`);
    expect(received).toBeGreaterThanOrEqual(5000);
    expect(performance.now() - started).toBeLessThan(5000);
    expect(grown).toBeLessThan(200);
    expect(JSON.parse(firstBody).tile).toEqual({ z: 14, x: 2, y: 0 });
  }, 30_000);
});
