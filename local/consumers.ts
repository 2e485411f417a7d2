// The tile consumers of the local loop: one worker thread per core (clustering is CPU-bound), each
// a Lambda instance polling the tile queue (local/consumer-worker.ts), and the visibility heartbeat
// that keeps a living consumer's batch invisible.
import { Worker } from 'node:worker_threads';
import { ChangeMessageVisibilityBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { BatchReport, BatchStart, ConsumerWorkerData } from './consumer-worker.ts';
import { HANDLERS } from './lambda.ts';
import type { StackInfo } from './stack.ts';

interface ConsumerOptions {
  workers: number;
  /** Messages per consumer invocation (the event source mapping's batch size). */
  batchSize: number;
  /** The environment of the threads (the stack's endpoints and names). */
  env: Record<string, string>;
  log: (line: string) => void;
  /** Where the threads' console output goes (default: this process's stdout/stderr). */
  output?: NodeJS.WritableStream;
  /** Called when consumer `k` (0-based) got a batch, before its handler runs (for fault tests). */
  onBatchStart?: (k: number, messages: BatchStart['messages']) => void;
  /** Called after each batch of consumer `k`. */
  onBatch: (report: BatchReport) => void;
}

interface Consumers {
  /** Resolves once every thread has loaded its handler and starts polling. */
  ready: Promise<void>;
  kill(k: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Visibility heartbeat. On AWS a message cannot come back while its consumer works on it: the
 * visibility timeout (12 min) exceeds the Lambda timeout (120 s). Locally there is no timeout,
 * and a batch of heavy tiles can outlast the visibility: the message would be delivered again
 * meanwhile, dead-lettered after 3 receives and recorded as failed although it then succeeds
 * (test/faults-slow.test.ts). So while a consumer thread lives, its batch stays invisible; the
 * heartbeat runs on this thread because a consumer thread is blocked while it clusters. A killed
 * thread stops it: its messages come back after the visibility timeout, as on AWS.
 */
function heartbeats(stack: StackInfo, log: (line: string) => void) {
  const sqs = new SQSClient({});
  const timers = new Map<number, NodeJS.Timeout>();
  const stop = (k: number) => {
    clearInterval(timers.get(k));
    timers.delete(k);
  };
  return {
    start(k: number, messages: BatchStart['messages']) {
      stop(k);
      const extend = () =>
        sqs
          .send(
            new ChangeMessageVisibilityBatchCommand({
              QueueUrl: stack.queueUrl,
              Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.receiptHandle, VisibilityTimeout: stack.visibilityTimeout })),
            }),
          )
          .catch((error: Error) => log(`consumer-${k + 1}: visibility heartbeat: ${error.message}`));
      timers.set(k, setInterval(extend, (stack.visibilityTimeout * 1000) / 3));
    },
    stop,
    close() {
      for (const k of [...timers.keys()]) stop(k);
      sqs.destroy();
    },
  };
}

export function startConsumers(stack: StackInfo, options: ConsumerOptions): Consumers {
  const { log } = options;
  const heartbeat = heartbeats(stack, log);
  let readyWorkers = 0;
  let markReady = () => {};
  const ready = new Promise<void>((resolve) => (markReady = resolve));

  const spawn = (k: number) => {
    const data: ConsumerWorkerData = { queueUrl: stack.queueUrl, handlerPath: HANDLERS.consumer, batchSize: options.batchSize, name: `consumer-${k + 1}` };
    const piped = options.output !== undefined;
    const worker = new Worker(new URL('./consumer-worker.ts', import.meta.url), {
      workerData: data,
      env: { ...process.env, ...options.env },
      stdout: piped,
      stderr: piped,
    });
    if (options.output) {
      worker.stdout.pipe(options.output, { end: false });
      worker.stderr.pipe(options.output, { end: false });
    }
    worker.on('message', (report: BatchReport | BatchStart | { type: 'ready' }) => {
      if (report.type === 'ready') {
        if (++readyWorkers === options.workers) markReady();
      } else if (report.type === 'start') {
        heartbeat.start(k, report.messages);
        options.onBatchStart?.(k, report.messages);
      } else {
        heartbeat.stop(k);
        options.onBatch(report);
        if (report.error) log(`consumer-${k + 1}: ${report.error}`);
      }
    });
    worker.on('error', (error) => log(`consumer-${k + 1} crashed: ${error.stack ?? error.message}`));
    worker.on('exit', () => {
      if (workers[k] === worker) heartbeat.stop(k);
    });
    return worker;
  };
  const workers: Worker[] = [];
  for (let k = 0; k < options.workers; k++) workers.push(spawn(k));

  return {
    ready,
    async kill(k) {
      const victim = workers[k];
      if (!victim) throw new Error(`no consumer ${k} (there are ${workers.length})`);
      heartbeat.stop(k); // a dead Lambda extends nothing
      await victim.terminate();
      workers[k] = spawn(k);
    },
    async stop() {
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
      heartbeat.close();
    },
  };
}
