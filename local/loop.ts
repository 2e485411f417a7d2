// The Lambda stand-in of the local stack. It drives the very handlers sst.config.ts deploys:
//   - tile queue → functions/consumer.ts, in worker threads (one per core: clustering is CPU-bound);
//   - s3rver object-created events under runs/ ending in clusters.parquet or error.json
//     → functions/aggregator.ts (the same filter as the bucket notification), with Lambda's 2 retries;
//   - dead-letter queue (fauxqs moves a message there after 3 receives) → functions/deadletter.ts.
// Handlers find the emulators through process.env only (AWS_ENDPOINT_URL_*, SST_RESOURCE_*).
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { ChangeMessageVisibilityBatchCommand, DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { CLUSTERS_FILE, ERROR_FILE, RUNS_PREFIX } from '../core/run/keys.ts';
import type { BatchReport, BatchStart, ConsumerWorkerData } from './consumer-worker.ts';
import type { Emulators, S3EventPayload } from './emulators.ts';
import { HANDLERS, lambdaContext, loadHandler } from './lambda.ts';
import { s3EventOf, sqsEventOf } from './sqs-event.ts';
import { stackEnv, type StackInfo } from './stack.ts';

/** The bucket notification of sst.config.ts: which created objects invoke the aggregator. */
export function triggersAggregator(key: string): boolean {
  return key.startsWith(RUNS_PREFIX) && (key.endsWith(`/${CLUSTERS_FILE}`) || key.endsWith(`/${ERROR_FILE}`));
}

export interface LoopOptions {
  /** Consumer worker threads (default: one per core, at least 1). */
  workers?: number;
  /** Messages per consumer invocation (the event source mapping's batch size). */
  batchSize?: number;
  /** One line per notable event (handler errors, dead letters). */
  log?: (line: string) => void;
  /** Where the consumer workers' console output goes (default: this process's stdout/stderr). */
  output?: NodeJS.WritableStream;
  /** Called when consumer `k` (0-based) got a batch, before its handler runs (for fault tests). */
  onBatchStart?: (k: number, messages: BatchStart['messages']) => void;
}

export interface LoopStats {
  /** Consumer invocations and the messages they got. */
  batches: number;
  messages: number;
  /** Messages left to be retried (batch item failures or a thrown handler). */
  retried: number;
  /** Summed wall time of consumer handler calls, ms. */
  consumerMs: number;
  /** CPU time of the consumer threads (polling, handlers, deletes) up to their last batch, ms. */
  consumerCpuMs: number;
  aggregatorEvents: number;
  aggregatorErrors: number;
  deadLetters: number;
}

export interface Loop {
  stats: LoopStats;
  /** Resolves once every consumer worker has loaded its handler and starts polling. */
  ready: Promise<void>;
  /**
   * Terminates consumer `k` at once — no cleanup, no deletes, like a Lambda instance killed
   * mid-batch — and starts a fresh one in its place. Its messages come back after the visibility timeout.
   */
  killConsumer(k: number): Promise<void>;
  stop(): Promise<void>;
}

const AGGREGATOR_ATTEMPTS = 3; // Lambda retries a failed asynchronous invocation twice.

export async function startLoop(emulators: Pick<Emulators, 's3'>, stack: StackInfo, options: LoopOptions = {}): Promise<Loop> {
  const log = options.log ?? ((line: string) => console.error(line));
  const env = stackEnv(stack);
  // The aggregator and dead-letter handlers run on this thread: they read the same env.
  Object.assign(process.env, env);
  const stats: LoopStats = { batches: 0, messages: 0, retried: 0, consumerMs: 0, consumerCpuMs: 0, aggregatorEvents: 0, aggregatorErrors: 0, deadLetters: 0 };

  // Consumers.
  const workerCount = Math.max(1, options.workers ?? availableParallelism());
  let readyWorkers = 0;
  let markReady = () => {};
  const ready = new Promise<void>((resolve) => (markReady = resolve));

  // Visibility heartbeat. On AWS a message cannot come back while its consumer works on it: the
  // visibility timeout (12 min) exceeds the Lambda timeout (120 s). Locally there is no timeout,
  // and a batch of heavy tiles can outlast the visibility: the message would be delivered again
  // meanwhile, dead-lettered after 3 receives and recorded as failed although it then succeeds
  // (test/faults-slow.test.ts). So while a consumer thread lives, its batch stays invisible; the
  // heartbeat runs here because a consumer thread is blocked while it clusters. A killed thread
  // stops it: its messages come back after the visibility timeout, as on AWS.
  const heartbeatSqs = new SQSClient({});
  const heartbeats = new Map<number, NodeJS.Timeout>();
  const startHeartbeat = (k: number, messages: BatchStart['messages']) => {
    stopHeartbeat(k);
    const extend = () =>
      heartbeatSqs
        .send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: stack.queueUrl,
            Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.receiptHandle, VisibilityTimeout: stack.visibilityTimeout })),
          }),
        )
        .catch((error: Error) => log(`consumer-${k + 1}: visibility heartbeat: ${error.message}`));
    heartbeats.set(k, setInterval(extend, (stack.visibilityTimeout * 1000) / 3));
  };
  const stopHeartbeat = (k: number) => {
    clearInterval(heartbeats.get(k));
    heartbeats.delete(k);
  };

  const spawn = (k: number) => {
    const data: ConsumerWorkerData = {
      queueUrl: stack.queueUrl,
      handlerPath: HANDLERS.consumer,
      batchSize: options.batchSize ?? 10,
      name: `consumer-${k + 1}`,
    };
    const piped = options.output !== undefined;
    const worker = new Worker(new URL('./consumer-worker.ts', import.meta.url), {
      workerData: data,
      env: { ...process.env, ...env },
      stdout: piped,
      stderr: piped,
    });
    if (options.output) {
      worker.stdout.pipe(options.output, { end: false });
      worker.stderr.pipe(options.output, { end: false });
    }
    worker.on('message', (report: BatchReport | BatchStart | { type: 'ready' }) => {
      if (report.type === 'ready') {
        if (++readyWorkers === workerCount) markReady();
        return;
      }
      if (report.type === 'start') {
        startHeartbeat(k, report.messages);
        options.onBatchStart?.(k, report.messages);
        return;
      }
      stopHeartbeat(k);
      stats.batches++;
      stats.messages += report.received;
      stats.retried += report.failed;
      stats.consumerMs += report.ms;
      stats.consumerCpuMs += report.cpuMs;
      if (report.error) log(`consumer-${k + 1}: ${report.error}`);
    });
    worker.on('error', (error) => log(`consumer-${k + 1} crashed: ${error.stack ?? error.message}`));
    worker.on('exit', () => {
      if (workers[k] === worker) stopHeartbeat(k);
    });
    return worker;
  };
  const workers: Worker[] = [];
  for (let k = 0; k < workerCount; k++) workers.push(spawn(k));

  // Aggregator, on S3 events.
  const aggregator = await loadHandler(HANDLERS.aggregator);
  const inFlight = new Set<Promise<void>>();
  const deliver = async (bucket: string, key: string, size: number) => {
    const event = s3EventOf(bucket, key, size);
    for (let attempt = 1; attempt <= AGGREGATOR_ATTEMPTS; attempt++) {
      try {
        await aggregator(event, lambdaContext('aggregator'));
        stats.aggregatorEvents++;
        return;
      } catch (error) {
        log(`aggregator (attempt ${attempt}/${AGGREGATOR_ATTEMPTS}) on ${key}: ${(error as Error).message}`);
        if (attempt < AGGREGATOR_ATTEMPTS) await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
      }
    }
    stats.aggregatorErrors++;
  };
  const onS3Event = (payload: S3EventPayload) => {
    for (const record of payload.Records) {
      if (!record.eventName.startsWith('ObjectCreated:') || !triggersAggregator(record.s3.object.key)) continue;
      const task = deliver(record.s3.bucket.name, record.s3.object.key, record.s3.object.size ?? 0).finally(() => inFlight.delete(task));
      inFlight.add(task);
    }
  };
  emulators.s3.on('event', onS3Event);

  // Dead letters.
  const deadletter = await loadHandler(HANDLERS.deadletter);
  const sqs = new SQSClient({});
  let stopping = false;
  const drainDeadLetters = async () => {
    while (!stopping) {
      try {
        const { Messages = [] } = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: stack.deadLetterQueueUrl,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: 1,
            MessageSystemAttributeNames: ['All'],
          }),
        );
        if (Messages.length === 0) continue;
        const response = (await deadletter(sqsEventOf(Messages, stack.deadLetterQueueUrl), lambdaContext('deadletter'))) as
          | { batchItemFailures?: { itemIdentifier: string }[] }
          | undefined;
        const failed = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
        const done = Messages.filter((m) => !failed.has(m.MessageId!));
        stats.deadLetters += done.length;
        for (const m of done) log(`dead letter: ${m.Body?.slice(0, 200)}`);
        if (done.length > 0) {
          await sqs.send(
            new DeleteMessageBatchCommand({
              QueueUrl: stack.deadLetterQueueUrl,
              Entries: done.map((m, k) => ({ Id: String(k), ReceiptHandle: m.ReceiptHandle! })),
            }),
          );
        }
      } catch (error) {
        if (stopping) return;
        log(`deadletter: ${(error as Error).message}`);
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  };
  const deadLetterLoop = drainDeadLetters();

  return {
    stats,
    ready,
    async killConsumer(k) {
      const victim = workers[k];
      if (!victim) throw new Error(`no consumer ${k} (there are ${workers.length})`);
      stopHeartbeat(k); // a dead Lambda extends nothing
      await victim.terminate();
      workers[k] = spawn(k);
    },
    async stop() {
      stopping = true;
      for (const worker of workers) worker.postMessage('stop');
      // A worker finishes its current batch; one stuck in a handler is terminated after 10 s.
      await Promise.all(
        workers.map(
          (worker) =>
            new Promise<void>((resolve) => {
              const timer = setTimeout(() => void worker.terminate(), 10_000);
              worker.once('exit', () => {
                clearTimeout(timer);
                resolve();
              });
            }),
        ),
      );
      emulators.s3.off('event', onS3Event);
      await deadLetterLoop;
      await Promise.all(inFlight);
      for (const k of [...heartbeats.keys()]) stopHeartbeat(k);
      sqs.destroy();
      heartbeatSqs.destroy();
    },
  };
}
