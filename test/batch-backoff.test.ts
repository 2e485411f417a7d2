// Items 15 and 16 of issue 12: a record returned as a failure comes back after a short back-off
// with jitter (ChangeMessageVisibility), not after the queue's 12-minute visibility timeout; and a
// batch stops taking records before the invocation's deadline, returning the rest as failures.
import type { SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { backoffSeconds, BACKOFF_MAX_S, processPartialBatch } from '../core/store/batch.ts';
import { Logger } from '../core/store/log.ts';
import { handler as consume } from '../functions/consumer.ts';

function record(id: string, receives = 1): SQSRecord {
  return {
    messageId: id, receiptHandle: `rh-${id}`, body: id,
    attributes: { ApproximateReceiveCount: String(receives), SentTimestamp: '0', SenderId: 't', ApproximateFirstReceiveTimestamp: '0' },
    messageAttributes: {}, md5OfBody: '', eventSource: 'aws:sqs', eventSourceARN: 'arn:aws:sqs:us-east-1:0:q', awsRegion: 'us-east-1',
  };
}
const quiet = new Logger({ stage: 'test' });

/** An SQS stand-in recording ChangeMessageVisibilityBatch entries; the queue's visibility is `visibility` s. */
function fakeSqs(visibility = 720) {
  const changes: { ReceiptHandle: string; VisibilityTimeout: number }[] = [];
  return {
    changes,
    async send(command: { constructor: { name: string }; input: any }): Promise<any> {
      if (command.constructor.name === 'GetQueueAttributesCommand') return { Attributes: { VisibilityTimeout: String(visibility) } };
      changes.push(...command.input.Entries.map((e: any) => ({ ReceiptHandle: e.ReceiptHandle, VisibilityTimeout: e.VisibilityTimeout })));
      return { Successful: [], Failed: [] };
    },
  };
}

describe('back-off of failed records', () => {
  it('doubles with each receive from 5 s, capped at 120 s, with equal jitter', () => {
    expect([1, 2, 3, 4, 5].map((n) => backoffSeconds(n, () => 0))).toEqual([3, 5, 10, 20, 40]);
    expect([1, 2, 3, 4, 5].map((n) => backoffSeconds(n, () => 0.999))).toEqual([5, 10, 20, 40, 80]);
    expect(backoffSeconds(12, () => 0.999)).toBe(BACKOFF_MAX_S);
    expect(backoffSeconds(3, () => 0.999, 8)).toBe(8); // never past the queue's own visibility
  });

  it('a failed record is made visible again after its back-off, not after the 12-minute visibility timeout', async () => {
    const sqs = fakeSqs(720);
    const response = await processPartialBatch(
      { Records: [record('ok'), record('throttled', 2)] },
      async (r) => {
        if (r.body === 'throttled') throw Object.assign(new Error('SlowDown'), { transient: true });
      },
      quiet,
      { visibility: { sqs: sqs as never, queueUrl: 'q', random: () => 0.5 } },
    );
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'throttled' }]);
    expect(sqs.changes).toEqual([{ ReceiptHandle: 'rh-throttled', VisibilityTimeout: 8 }]);
  });
});

describe('the invocation deadline', () => {
  it('stops taking records when the time left is below the reserve; the rest are failures, back within 2 s', async () => {
    const sqs = fakeSqs();
    let left = 60_000;
    const handled: string[] = [];
    const response = await processPartialBatch(
      { Records: ['a', 'b', 'c', 'd'].map((id) => record(id)) },
      async (r) => {
        handled.push(r.body);
        left -= 30_000; // each record takes 30 s of the invocation
      },
      quiet,
      { remainingMs: () => left, reserveMs: 15_000, visibility: { sqs: sqs as never, queueUrl: 'q', random: () => 0 } },
    );
    expect(handled).toEqual(['a', 'b']);
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'c' }, { itemIdentifier: 'd' }]);
    expect(sqs.changes.map((c) => c.VisibilityTimeout)).toEqual([1, 1]);
  });

  it('the consumer reads context.getRemainingTimeInMillis(): with 1 s left it starts no tile', async () => {
    process.env.SST_RESOURCE_Results ??= JSON.stringify({ name: 'unused' }); // no record reaches S3
    const response = await consume(
      { Records: [record('{"not":"read"}'), record('{"not":"read either"}')] },
      { getRemainingTimeInMillis: () => 1000 },
    );
    expect(response.batchItemFailures).toHaveLength(2);
  });
});
