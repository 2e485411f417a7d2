// SQS partial batch responses in the shape of Powertools' processPartialResponse: a record handler
// per record that throws to have that record retried; every other record of the batch is deleted.
// (sst.config.ts enables ReportBatchItemFailures on both queues.)
//
// Two additions for Lambda (docs/reliability.md, "Retries and deadlines"):
// - a deadline: records are taken only while the invocation has time left for one more
//   (context.getRemainingTimeInMillis()); the rest are returned as failures, untouched, instead of
//   being lost with the invocation when it times out;
// - a short back-off: a returned record would stay hidden for the queue's whole visibility timeout
//   (12 min on AWS). Its visibility is set instead to a short exponential delay with jitter
//   (ChangeMessageVisibility), never longer than the queue's own timeout.
import { ChangeMessageVisibilityBatchCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchItemFailure, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { errorText, type Logger } from './log.ts';
import { isTransient } from './transient.ts';

/** Handles one record; throwing sends the record back to the queue. `log` carries its message id. */
type RecordHandler = (record: SQSRecord, log: Logger) => Promise<void>;

/** First back-off of a failed record, s (doubles with each receive). */
export const BACKOFF_BASE_S = 5;
/** Longest back-off, s (also capped by the queue's visibility timeout). */
export const BACKOFF_MAX_S = 120;
/** Time kept in hand at the end of an invocation, ms: no record starts with less left. */
export const DEADLINE_RESERVE_MS = 15_000;

/**
 * Seconds a record that failed on its `receives`-th receive stays hidden: the exponential delay
 * BASE·2^(receives−1), capped, with "equal jitter" (half fixed, half random) so that records that
 * failed together do not all come back together.
 */
export function backoffSeconds(receives: number, random: () => number = Math.random, capS = BACKOFF_MAX_S): number {
  const exp = Math.min(capS, BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** Math.max(0, receives - 1));
  return Math.max(1, Math.round(exp / 2 + (exp / 2) * random()));
}

export interface BatchOptions {
  /** Milliseconds left in the invocation (Lambda's context.getRemainingTimeInMillis). */
  remainingMs?: () => number;
  /** Stop taking records when less than this is left (default DEADLINE_RESERVE_MS; grows with the slowest record seen). */
  reserveMs?: number;
  /** Where to shorten the visibility of failed records (none: the queue's visibility timeout applies). */
  visibility?: { sqs: Pick<SQSClient, 'send'>; queueUrl: string; random?: () => number };
}

/** The queue's visibility timeout, s, read once per queue and process (caps the back-off). */
const visibilityOf = new Map<string, Promise<number>>();
function queueVisibility(sqs: Pick<SQSClient, 'send'>, queueUrl: string): Promise<number> {
  let hit = visibilityOf.get(queueUrl);
  if (!hit) {
    hit = sqs
      .send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['VisibilityTimeout'] }))
      .then((out) => Number(out.Attributes?.VisibilityTimeout ?? BACKOFF_MAX_S))
      .catch(() => BACKOFF_MAX_S);
    visibilityOf.set(queueUrl, hit);
  }
  return hit;
}

/** Sets each failed record's visibility to its back-off (best effort: a failure only logs). */
async function backOff(records: { record: SQSRecord; seconds?: number }[], options: NonNullable<BatchOptions['visibility']>, log: Logger): Promise<void> {
  if (records.length === 0) return;
  const cap = await queueVisibility(options.sqs, options.queueUrl);
  for (let start = 0; start < records.length; start += 10) {
    const chunk = records.slice(start, start + 10);
    try {
      const out = await options.sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: options.queueUrl,
          Entries: chunk.map(({ record, seconds }, k) => ({
            Id: String(k),
            ReceiptHandle: record.receiptHandle,
            VisibilityTimeout: Math.min(cap, seconds ?? backoffSeconds(Number(record.attributes?.ApproximateReceiveCount ?? 1), options.random, cap)),
          })),
        }),
      );
      for (const failure of out.Failed ?? []) log.warn(`back-off not set for ${chunk[Number(failure.Id)]?.record.messageId}: ${failure.Message ?? failure.Code}`);
    } catch (error) {
      log.warn(`back-off not set (the queue's visibility timeout applies): ${errorText(error)}`);
    }
  }
}

/**
 * Runs the records one after another (clustering is CPU-bound and a batch is small) and returns
 * the failed ones as `batchItemFailures`. Unlike Powertools' default, a batch whose records all
 * fail is returned, not thrown: the response already retries every record.
 */
export async function processPartialBatch(event: SQSEvent, handle: RecordHandler, log: Logger, options: BatchOptions = {}): Promise<SQSBatchResponse> {
  const batchItemFailures: SQSBatchItemFailure[] = [];
  const backoffs: { record: SQSRecord; seconds?: number }[] = [];
  let slowest = 0;
  for (const record of event.Records ?? []) {
    const recordLog = log.with({ message_id: record.messageId });
    const left = options.remainingMs?.() ?? Infinity;
    if (left < Math.max(options.reserveMs ?? DEADLINE_RESERVE_MS, 1.5 * slowest)) {
      // Not started: back soon (1–2 s), at the cost of one receive instead of the whole batch's.
      recordLog.warn(`not started: ${Math.round(left)} ms left in the invocation; returned to the queue`);
      batchItemFailures.push({ itemIdentifier: record.messageId });
      backoffs.push({ record, seconds: 1 + Math.round(options.visibility?.random?.() ?? Math.random()) });
      continue;
    }
    const started = performance.now();
    try {
      await handle(record, recordLog);
    } catch (error) {
      // The handler's appended keys (run, tile) are on this line too.
      recordLog.log(isTransient(error) ? 'WARN' : 'ERROR', `will retry: ${errorText(error)}`);
      batchItemFailures.push({ itemIdentifier: record.messageId });
      backoffs.push({ record });
    }
    slowest = Math.max(slowest, performance.now() - started);
  }
  if (options.visibility) await backOff(backoffs, options.visibility, log);
  return { batchItemFailures };
}
