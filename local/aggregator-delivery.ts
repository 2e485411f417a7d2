// The S3-event-to-aggregator hand-off of the local loop: the bucket notification of sst.config.ts
// (which created objects invoke the aggregator) and Lambda's asynchronous invocation with its two
// retries. Fault tests route the events (duplicate, reorder, hold back); the scale run times them.
import { CLUSTERS_FILE, ERROR_FILE, RUNS_PREFIX } from '../core/run/keys.ts';
import type { S3EventPayload } from './emulators.ts';
import { invoke as invokeLambda, type LambdaHandler } from './lambda.ts';
import { s3EventOf } from './sqs-event.ts';

/** The bucket notification of sst.config.ts: which created objects invoke the aggregator. */
export function triggersAggregator(key: string): boolean {
  return key.startsWith(RUNS_PREFIX) && (key.endsWith(`/${CLUSTERS_FILE}`) || key.endsWith(`/${ERROR_FILE}`));
}

/** What announces created objects: s3rver, typed as far as the loop uses it. */
export interface S3EventSource {
  on(event: 'event', listener: (payload: S3EventPayload) => void): unknown;
  off(event: 'event', listener: (payload: S3EventPayload) => void): unknown;
}

export interface DeliveryHooks {
  /** How each payload reaches the aggregator (default: at once); fault tests duplicate, reorder or hold back. */
  route?: (payload: S3EventPayload, deliver: (payload: S3EventPayload) => void) => void;
  /** S3's notification latency to stand in for, ms (default 0). */
  delayMs?: number;
  /** Wall time of each successful aggregator invocation, ms. */
  onInvoked?: (ms: number) => void;
}

interface DeliveryCounts {
  aggregatorEvents: number;
  aggregatorErrors: number;
}

const ATTEMPTS = 3; // Lambda retries a failed asynchronous invocation twice.
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Invokes `aggregator` on every result object `source` announces; `stop` unsubscribes and waits for the invocations under way. */
export function deliverToAggregator(
  source: S3EventSource,
  aggregator: LambdaHandler,
  counts: DeliveryCounts,
  options: DeliveryHooks & { log: (line: string) => void },
): { stop(): Promise<void> } {
  const inFlight = new Set<Promise<void>>();
  const invoke = async (bucket: string, key: string, size: number) => {
    if (options.delayMs) await sleep(options.delayMs);
    const event = s3EventOf(bucket, key, size);
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      const started = performance.now();
      try {
        await invokeLambda('aggregator', aggregator, event);
        options.onInvoked?.(performance.now() - started);
        counts.aggregatorEvents++;
        return;
      } catch (error) {
        options.log(`aggregator (attempt ${attempt}/${ATTEMPTS}) on ${key}: ${(error as Error).message}`);
        if (attempt < ATTEMPTS) await sleep(500 * attempt);
      }
    }
    counts.aggregatorErrors++;
  };
  const deliver = (payload: S3EventPayload) => {
    for (const record of payload.Records) {
      if (!record.eventName.startsWith('ObjectCreated:') || !triggersAggregator(record.s3.object.key)) continue;
      const task = invoke(record.s3.bucket.name, record.s3.object.key, record.s3.object.size ?? 0).finally(() => inFlight.delete(task));
      inFlight.add(task);
    }
  };
  const route = options.route ?? ((payload, next) => next(payload));
  const onEvent = (payload: S3EventPayload) => route(payload, deliver);
  source.on('event', onEvent);
  return {
    async stop() {
      source.off('event', onEvent);
      await Promise.all(inFlight);
    },
  };
}
