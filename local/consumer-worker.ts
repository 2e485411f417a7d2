// A worker thread standing in for the tile consumer's Lambda + its SQS event source mapping:
// receive up to 10 messages, call functions/consumer.ts's handler with the SQS event Lambda would
// build, delete the successful messages and leave `batchItemFailures` to become visible again.
// Clustering is CPU-bound, so the dev loop runs one of these per core.
import './quiet.ts';
import { parentPort, workerData } from 'node:worker_threads';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import { meter, metered, type UsageByActor } from '../core/store/meter.ts';
import { invoke, lambdaContext, loadHandler } from './lambda.ts';
import { sqsEventOf } from './sqs-event.ts';

export interface ConsumerWorkerData {
  queueUrl: string;
  handlerPath: string;
  batchSize: number;
  name: string;
}

/**
 * Posted before the handler runs: the loop keeps the batch invisible while this thread lives
 * (a visibility heartbeat), and fault tests see which messages a worker holds.
 */
export interface BatchStart {
  type: 'start';
  messages: { messageId: string; receiptHandle: string; body: string; receiveCount: number }[];
}

/** What a worker reports to the loop after each batch. */
export interface BatchReport {
  type: 'batch';
  received: number;
  failed: number;
  /** Wall time of the handler call. */
  ms: number;
  /** CPU time of this thread since its previous report (polling, handler, deletes). */
  cpuMs: number;
  /** This thread's AWS requests and Lambda invocations since its previous report (core/store/meter.ts). */
  usage: UsageByActor;
  error?: string;
}

const data = workerData as ConsumerWorkerData;
const port = parentPort!;
let stopping = false;
port.on('message', (message) => {
  if (message === 'stop') stopping = true;
});

// The handler and the SDK read their configuration from process.env (set by the loop): no local special cases.
const handler = await loadHandler(data.handlerPath);
// The receives and deletes are what Lambda's SQS event source does on AWS (billed as SQS requests).
const sqs = metered(new SQSClient({}), 'sqs');
port.postMessage({ type: 'ready' });
let lastCpu = process.threadCpuUsage();
/** This thread's CPU ms since the previous call. */
function cpuSinceLast(): number {
  const used = process.threadCpuUsage(lastCpu);
  lastCpu = process.threadCpuUsage();
  return (used.user + used.system) / 1000;
}

while (!stopping) {
  let messages: Message[];
  try {
    ({ Messages: messages = [] } = await meter.as('sqs-event-source', () => sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: data.queueUrl,
        MaxNumberOfMessages: data.batchSize,
        WaitTimeSeconds: 1,
        MessageSystemAttributeNames: ['All'],
      }),
    )));
  } catch (error) {
    if (stopping) break;
    port.postMessage({ type: 'batch', received: 0, failed: 0, ms: 0, cpuMs: cpuSinceLast(), usage: meter.take(), error: `receive: ${(error as Error).message}` } satisfies BatchReport);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    continue;
  }
  if (messages.length === 0) continue;

  const event = sqsEventOf(messages, data.queueUrl);
  port.postMessage({
    type: 'start',
    messages: messages.map((m) => ({
      messageId: m.MessageId!,
      receiptHandle: m.ReceiptHandle!,
      body: m.Body ?? '',
      receiveCount: Number(m.Attributes?.ApproximateReceiveCount ?? 1),
    })),
  } satisfies BatchStart);
  const started = performance.now();
  let failedIds: Set<string>;
  let error: string | undefined;
  try {
    const response = (await invoke('consumer', handler, event, lambdaContext(data.name))) as { batchItemFailures?: { itemIdentifier: string }[] } | undefined;
    failedIds = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
  } catch (thrown) {
    // A thrown handler fails the whole batch, as on Lambda.
    failedIds = new Set(messages.map((m) => m.MessageId!));
    error = `handler: ${(thrown as Error).stack ?? thrown}`;
  }
  const ms = performance.now() - started;

  const done = messages.filter((m) => !failedIds.has(m.MessageId!));
  if (done.length > 0) {
    await meter.as('sqs-event-source', () => sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: data.queueUrl,
        Entries: done.map((m, k) => ({ Id: String(k), ReceiptHandle: m.ReceiptHandle! })),
      }),
    ));
  }
  port.postMessage({ type: 'batch', received: messages.length, failed: failedIds.size, ms, cpuMs: cpuSinceLast(), usage: meter.take(), error } satisfies BatchReport);
}
sqs.destroy();
// End the thread even if a handler's SDK client keeps idle sockets open (exits this worker only).
process.exit(0);
