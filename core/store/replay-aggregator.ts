// Replaying the aggregator events Lambda gave up on. S3 invokes the aggregator asynchronously; after
// the first attempt and 2 retries fail, Lambda's on-failure destination (sst.config.ts) puts an
// invocation record in the AggregatorFailures queue. Its documented shape (Lambda developer guide,
// "Capturing records of Lambda asynchronous invocations"):
//
//   { "version": "1.0", "timestamp": "…",
//     "requestContext": { "requestId": "…", "functionArn": "…", "condition": "RetriesExhausted", "approximateInvokeCount": 3 },
//     "requestPayload": { …the original S3 event… },
//     "responseContext": { "statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled" },
//     "responsePayload": { "errorMessage": "…", "errorType": "…" } }
//
// Each record's requestPayload goes through the aggregator handler again, in this process; the
// record is deleted only when that succeeds. Replaying twice changes nothing: the ledger records
// each tile once and the manifest is written once.
import { ChangeMessageVisibilityCommand, DeleteMessageCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { parseS3Event } from '../run/messages.ts';

export interface ReplayOptions {
  sqs: SQSClient;
  queueUrl: string;
  /** The aggregator's handler (functions/aggregator.ts), or a stand-in in tests. */
  handler: (event: unknown) => Promise<unknown>;
  /**
   * Seconds a received record stays hidden while this run works. Longer than the run, so that no
   * record comes back and is replayed twice by the same run (a record that does is skipped).
   */
  visibilityTimeout?: number;
  /** One line per record that is left in the queue. */
  log?: (line: string) => void;
}

export interface ReplaySummary {
  /** Distinct records received. */
  received: number;
  /** Replayed successfully and deleted. */
  replayed: number;
  /** Not an invocation record carrying an S3 event: left in the queue. */
  malformed: number;
  /** The handler failed again (e.g. DynamoDB still throttled): left in the queue. */
  failed: number;
}

/** The S3 event an invocation record carries, or why the record cannot be replayed. */
export function requestPayloadOf(body: string): { event: unknown } | { error: string } {
  let record: unknown;
  try {
    record = JSON.parse(body);
  } catch {
    return { error: 'not JSON' };
  }
  if (typeof record !== 'object' || record === null || !('requestPayload' in record)) {
    return { error: 'no requestPayload (not a Lambda invocation record)' };
  }
  const event = record.requestPayload;
  // The handler would log and drop an event that is not an S3 notification; here it stays visible.
  const { records, errors } = parseS3Event(event);
  if (errors.length > 0) return { error: errors[0] };
  if (records.length === 0) return { error: 'requestPayload has no S3 records' };
  return { event };
}

const DEFAULT_VISIBILITY_S = 15 * 60;

/**
 * Drains the failures queue once: every record received is replayed (deleted on success) or
 * reported and left. Stops at the first receive that brings no record not yet seen by this run.
 * What is left is made visible again at the end, for the next replay or for a look at the queue.
 */
export async function replayAggregatorFailures(options: ReplayOptions): Promise<ReplaySummary> {
  const { sqs, queueUrl, handler } = options;
  const log = options.log ?? ((line: string) => console.error(line));
  const summary: ReplaySummary = { received: 0, replayed: 0, malformed: 0, failed: 0 };
  /** Receipt handles of the records left, by message id (the latest receive's handle counts). */
  const left = new Map<string, string>();
  const seen = new Set<string>();
  for (;;) {
    const out = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        VisibilityTimeout: options.visibilityTimeout ?? DEFAULT_VISIBILITY_S,
      }),
    );
    const messages = out.Messages ?? [];
    for (const m of messages) if (left.has(m.MessageId!)) left.set(m.MessageId!, m.ReceiptHandle!);
    const fresh = messages.filter((m) => !seen.has(m.MessageId!));
    if (fresh.length === 0) break;
    for (const m of fresh) {
      const id = m.MessageId!;
      seen.add(id);
      summary.received++;
      const payload = requestPayloadOf(m.Body ?? '');
      if ('error' in payload) {
        summary.malformed++;
        left.set(id, m.ReceiptHandle!);
        log(`record ${id}: malformed, left in the queue: ${payload.error}`);
        continue;
      }
      try {
        await handler(payload.event);
      } catch (error) {
        summary.failed++;
        left.set(id, m.ReceiptHandle!);
        log(`record ${id}: replay failed, left in the queue: ${(error as Error).message.split('\n')[0]}`);
        continue;
      }
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle! }));
      summary.replayed++;
    }
  }
  for (const [id, receiptHandle] of left) {
    try {
      await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: 0 }));
    } catch (error) {
      // Best effort: the record is still in the queue and reappears after the visibility timeout.
      log(`record ${id}: could not make it visible again: ${(error as Error).message}`);
    }
  }
  return summary;
}
