// The manifest-to-diff hand-off of the local loop: the bucket notification of sst.config.ts that
// invokes functions/diff.ts when a run's manifest.json is created, with Lambda's two retries.
import { MANIFEST_FILE, RUNS_PREFIX } from '../core/run/keys.ts';
import type { S3EventSource } from './aggregator-delivery.ts';
import type { S3EventPayload } from './emulators.ts';
import { invoke as invokeLambda, type LambdaHandler } from './lambda.ts';
import { s3EventOf } from './sqs-event.ts';

/** The bucket notification of sst.config.ts: which created objects invoke the diff function. */
export function triggersDiff(key: string): boolean {
  return key.startsWith(RUNS_PREFIX) && key.endsWith(`/${MANIFEST_FILE}`);
}

const ATTEMPTS = 3;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Invokes `diff` on every manifest `source` announces; `stop` unsubscribes and waits for the invocations under way. */
export function deliverToDiff(source: S3EventSource, diff: LambdaHandler, log: (line: string) => void): { stop(): Promise<void> } {
  const inFlight = new Set<Promise<void>>();
  const invoke = async (bucket: string, key: string, size: number) => {
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      try {
        await invokeLambda('diff', diff, s3EventOf(bucket, key, size));
        return;
      } catch (error) {
        log(`diff (attempt ${attempt}/${ATTEMPTS}) on ${key}: ${(error as Error).message}`);
        if (attempt < ATTEMPTS) await sleep(500 * attempt);
      }
    }
  };
  const onEvent = (payload: S3EventPayload) => {
    for (const record of payload.Records) {
      if (!record.eventName.startsWith('ObjectCreated:') || !triggersDiff(record.s3.object.key)) continue;
      const task = invoke(record.s3.bucket.name, record.s3.object.key, record.s3.object.size ?? 0).finally(() => inFlight.delete(task));
      inFlight.add(task);
    }
  };
  source.on('event', onEvent);
  return {
    async stop() {
      source.off('event', onEvent);
      await Promise.all(inFlight);
    },
  };
}
