// The dead-letter queue's event source mapping of the local loop: receive, call
// functions/deadletter.ts, delete what it recorded (its batch item failures stay for a retry).
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse } from 'aws-lambda';
import { metered, meter } from '../core/store/meter.ts';
import { invoke, type LambdaHandler } from './lambda.ts';
import { sqsEventOf } from './sqs-event.ts';

/** Polls `queueUrl` until stopped; `onDone` gets the body of each message the handler recorded. */
export function drainDeadLetters(queueUrl: string, deadletter: LambdaHandler, options: { log: (line: string) => void; onDone: (body: string) => void }): { stop(): Promise<void> } {
  // Lambda's event source polls and deletes on AWS too: its requests are the `sqs-event-source`'s.
  const sqs = metered(new SQSClient({}), 'sqs');
  let stopping = false;
  const poll = async () => {
    while (!stopping) {
      try {
        const { Messages = [] } = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageSystemAttributeNames: ['All'] }),
        );
        if (Messages.length === 0) continue;
        const response = (await invoke('deadletter', deadletter, sqsEventOf(Messages, queueUrl))) as SQSBatchResponse | undefined;
        const failed = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
        const done = Messages.filter((m) => !failed.has(m.MessageId!));
        for (const m of done) options.onDone(m.Body ?? '');
        if (done.length > 0) {
          await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: done.map((m, k) => ({ Id: String(k), ReceiptHandle: m.ReceiptHandle! })) }));
        }
      } catch (error) {
        if (stopping) return;
        options.log(`deadletter: ${(error as Error).message}`);
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  };
  const polling = meter.as('sqs-event-source', poll);
  return {
    async stop() {
      stopping = true;
      await polling;
      sqs.destroy();
    },
  };
}
