// The local stack on real emulators: resources exist, S3 emits object-created events, SQS moves a
// message to the dead-letter queue after MAX_RECEIVE_COUNT (TILE_MAX_RECEIVES) receives, and results (S3, DynamoDB) survive a restart on the same dir.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ChangeMessageVisibilityCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startEmulators, type S3EventPayload } from '../local/emulators.ts';
import { createStack, DEFAULT_NAMES, MAX_RECEIVE_COUNT, stackEnv } from '../local/stack.ts';

const dir = mkdtempSync(join(tmpdir(), 'glad-emulators-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const config = (endpoint: string) => ({ region: LOCAL_REGION, endpoint, credentials: LOCAL_CREDENTIALS });

describe('local emulators and stack', () => {
  it('serve the stack on loopback, emit S3 events, redrive after MAX_RECEIVE_COUNT receives, and persist', async () => {
    const first = await startEmulators({ dir });
    let stackQueueUrl: string;
    try {
      for (const endpoint of Object.values(first.endpoints)) expect(endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const stack = await createStack(first, { visibilityTimeout: 1 });
      stackQueueUrl = stack.queueUrl;
      // Creating twice is harmless (the dev loop does it on every start).
      await createStack(first, { visibilityTimeout: 1 });

      const env = stackEnv(stack);
      expect(JSON.parse(env.SST_RESOURCE_Results)).toEqual({ name: DEFAULT_NAMES.bucket });
      expect(env.AWS_ENDPOINT_URL_SQS).toBe(first.endpoints.sqs);

      // S3: a put is stored and announced as ObjectCreated with its key.
      const events: S3EventPayload[] = [];
      first.s3.on('event', (event: S3EventPayload) => events.push(event));
      const s3 = new S3Client(config(first.endpoints.s3));
      await s3.send(new PutObjectCommand({ Bucket: DEFAULT_NAMES.bucket, Key: 'runs/r1/manifest.json', Body: '{"a":1}' }));
      expect(events).toHaveLength(1);
      expect(events[0].Records[0].eventName).toBe('ObjectCreated:Put');
      expect(events[0].Records[0].s3.object.key).toBe('runs/r1/manifest.json');
      s3.destroy();

      // DynamoDB: the ledger table takes items keyed by pk/sk.
      const dynamo = new DynamoDBClient(config(first.endpoints.dynamodb));
      await dynamo.send(
        new PutItemCommand({ TableName: DEFAULT_NAMES.table, Item: { pk: { S: 'run#r1' }, sk: { S: 'run' }, n: { N: '7' } } }),
      );
      dynamo.destroy();

      // SQS: a message that is never deleted is received MAX_RECEIVE_COUNT times, then sits in the DLQ.
      const sqs = new SQSClient(config(first.endpoints.sqs));
      await sqs.send(new SendMessageCommand({ QueueUrl: stack.queueUrl, MessageBody: 'poison' }));
      const counts: string[] = [];
      for (let k = 0; k < MAX_RECEIVE_COUNT + 1; k++) {
        const { Messages = [] } = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl: stack.queueUrl, MaxNumberOfMessages: 10, MessageSystemAttributeNames: ['ApproximateReceiveCount'] }),
        );
        for (const m of Messages) {
          counts.push(m.Attributes!.ApproximateReceiveCount!);
          // Make it visible again at once instead of waiting for the visibility timeout.
          await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: stack.queueUrl, ReceiptHandle: m.ReceiptHandle!, VisibilityTimeout: 0 }));
        }
      }
      expect(counts).toEqual(Array.from({ length: MAX_RECEIVE_COUNT }, (_, k) => String(k + 1)));
      const dead = await sqs.send(new ReceiveMessageCommand({ QueueUrl: stack.deadLetterQueueUrl, MaxNumberOfMessages: 10 }));
      expect(dead.Messages?.map((m) => m.Body)).toEqual(['poison']);
      sqs.destroy();
    } finally {
      await first.stop();
    }

    // Restart on the same directory (new random ports): everything is still there.
    const second = await startEmulators({ dir });
    try {
      const stack = await createStack(second, { visibilityTimeout: 1 });
      expect(stack.queueUrl).not.toBe(stackQueueUrl!);
      const s3 = new S3Client(config(second.endpoints.s3));
      const object = await s3.send(new GetObjectCommand({ Bucket: DEFAULT_NAMES.bucket, Key: 'runs/r1/manifest.json' }));
      expect(JSON.parse(await object.Body!.transformToString())).toEqual({ a: 1 });
      s3.destroy();
      const dynamo = new DynamoDBClient(config(second.endpoints.dynamodb));
      const item = await dynamo.send(new GetItemCommand({ TableName: DEFAULT_NAMES.table, Key: { pk: { S: 'run#r1' }, sk: { S: 'run' } } }));
      expect(item.Item?.n).toEqual({ N: '7' });
      dynamo.destroy();
    } finally {
      await second.stop();
    }
  });
});

describe('s3rver PUTs are atomic (local/s3rver-atomic-put.ts)', () => {
  it('an object read the moment its PUT is answered or announced is whole, also while being overwritten', async () => {
    const emulators = await startEmulators();
    try {
      await createStack(emulators, { visibilityTimeout: 1 });
      const s3 = new S3Client(config(emulators.endpoints.s3));
      const Bucket = DEFAULT_NAMES.bucket;
      const body = (fill: number) => Buffer.alloc(8 << 20, fill); // 8 MiB: the file write lags the request
      const lengths: Promise<number>[] = [];
      const readLength = async (Key: string) => (await (await s3.send(new GetObjectCommand({ Bucket, Key }))).Body!.transformToByteArray()).length;
      emulators.s3.on('event', (event: S3EventPayload) => lengths.push(readLength(event.Records[0].s3.object.key)));
      for (let i = 0; i < 4; i++) {
        // A PUT and a reader racing on the same key: the reader sees the old or the new object, whole.
        const racing = i > 0 ? readLength('big.bin') : Promise.resolve(8 << 20);
        await s3.send(new PutObjectCommand({ Bucket, Key: 'big.bin', Body: body(i) }));
        lengths.push(racing, readLength('big.bin'));
      }
      const seen = await Promise.all(lengths);
      expect(seen.length).toBe(12);
      expect(seen.every((n) => n === 8 << 20)).toBe(true);
    } finally {
      await emulators.stop();
    }
  });
});

describe('s3rver after stop', () => {
  it('a request still logging after the server closed prints nothing (no winston "no transports" line)', async () => {
    const emulators = await startEmulators();
    await emulators.stop();
    // s3rver closes its logger with the server; a late request's log line would go to stderr.
    const printed: unknown[][] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => void printed.push(args);
    try {
      (emulators.s3 as unknown as { logger: { info(message: string): void } }).logger.info('<-- GET /late');
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      console.error = original;
    }
    expect(printed).toEqual([]);
  });
});
