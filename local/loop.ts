// The Lambda stand-in of the local stack. It drives the very handlers sst.config.ts deploys:
//   - tile queue → functions/consumer.ts, in worker threads (local/consumers.ts);
//   - s3rver object-created events under runs/ ending in clusters.parquet or error.json
//     → functions/aggregator.ts, with Lambda's 2 retries (local/aggregator-delivery.ts);
//   - dead-letter queue (fauxqs moves a message there after 3 receives) → functions/deadletter.ts
//     (local/deadletter-drain.ts).
// Handlers find the emulators through process.env only (AWS_ENDPOINT_URL_*, SST_RESOURCE_*).
import { availableParallelism } from 'node:os';
import { deliverToAggregator, type DeliveryHooks, type S3EventSource } from './aggregator-delivery.ts';
import type { BatchStart } from './consumer-worker.ts';
import { startConsumers } from './consumers.ts';
import { drainDeadLetters } from './deadletter-drain.ts';
import { deliverToDiff } from './diff-delivery.ts';
import { HANDLERS, loadHandler } from './lambda.ts';
import { meter } from '../core/store/meter.ts';
import { stackEnv, type StackInfo } from './stack.ts';

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
  /** How S3 events reach the aggregator (fault tests route them, the scale run times them). */
  aggregator?: DeliveryHooks;
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

/** Starts the loop on the stack's queues and on s3rver's object-created notifications. */
export async function startLoop(emulators: { s3: S3EventSource }, stack: StackInfo, options: LoopOptions = {}): Promise<Loop> {
  const log = options.log ?? ((line: string) => console.error(line));
  const env = stackEnv(stack);
  // The aggregator and dead-letter handlers run on this thread: they read the same env.
  Object.assign(process.env, env);
  const stats: LoopStats = { batches: 0, messages: 0, retried: 0, consumerMs: 0, consumerCpuMs: 0, aggregatorEvents: 0, aggregatorErrors: 0, deadLetters: 0 };

  const consumers = startConsumers(stack, {
    workers: Math.max(1, options.workers ?? availableParallelism()),
    batchSize: options.batchSize ?? 10,
    env,
    log,
    output: options.output,
    onBatchStart: options.onBatchStart,
    onBatch(report) {
      stats.batches++;
      stats.messages += report.received;
      stats.retried += report.failed;
      stats.consumerMs += report.ms;
      stats.consumerCpuMs += report.cpuMs;
      meter.add(report.usage); // the thread's AWS requests, counted on this thread's meter
    },
  });
  const aggregator = deliverToAggregator(emulators.s3, await loadHandler(HANDLERS.aggregator), stats, { ...options.aggregator, log });
  // A run's manifest.json → functions/diff.ts (diff of an area run against its previous run).
  const diffs = deliverToDiff(emulators.s3, await loadHandler(HANDLERS.diff), log);
  const deadLetters = drainDeadLetters(stack.deadLetterQueueUrl, await loadHandler(HANDLERS.deadletter), {
    log,
    onDone(body) {
      stats.deadLetters++;
      log(`dead letter: ${body.slice(0, 200)}`);
    },
  });

  return {
    stats,
    ready: consumers.ready,
    killConsumer: (k) => consumers.kill(k),
    async stop() {
      await consumers.stop();
      await deadLetters.stop();
      await aggregator.stop();
      await diffs.stop();
    },
  };
}
