// Sends message bodies to an SQS queue in batches of 10 (the SendMessageBatch limit), retrying the
// entries SQS reports as failed (and whole batches that throw) with exponential backoff.
import {
  SendMessageBatchCommand,
  type SendMessageBatchCommandOutput,
  type SendMessageBatchRequestEntry,
} from '@aws-sdk/client-sqs';
import { tileMessageBody } from '../run/messages.ts';
import { checkRunSize, eachRunTile, runId, runTileCount, tileInRun, tileIndex, type RunSpec } from '../run/params.ts';
import type { TileAddress } from '../tiles/types.ts';

/** The one SQS call this module needs (an SQSClient satisfies it). */
export interface BatchSender {
  send(command: SendMessageBatchCommand): Promise<SendMessageBatchCommandOutput>;
}

export interface EnqueueOptions {
  /** Attempts per entry, the first included. */
  maxAttempts?: number;
  /** Delay before the first retry; doubles each time. */
  backoffMs?: number;
  /** Batches in flight at once. */
  concurrency?: number;
  /** Called after each batch with the number of bodies sent so far. */
  onProgress?: (sent: number, total: number) => void;
  /** Refuse runs of more tiles than this (default DEFAULT_MAX_TILES of core/run/params.ts). */
  maxTiles?: number;
}

export interface EnqueueFailure {
  index: number;
  message: string;
}

export interface EnqueueResult {
  sent: number;
  /** Entries still failing after every attempt (index into the bodies). */
  failed: EnqueueFailure[];
}

const BATCH_SIZE = 10;
/** Tile messages built and sent at a time by submitRun (bounded memory, enough for the sender pool). */
const SUBMIT_CHUNK = 1000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Splits 0..n-1 into consecutive chunks of at most `size`. */
export function chunkIndexes(n: number, size = BATCH_SIZE): number[][] {
  const chunks: number[][] = [];
  for (let start = 0; start < n; start += size) {
    chunks.push(Array.from({ length: Math.min(size, n - start) }, (_, k) => start + k));
  }
  return chunks;
}

/** Sends one batch of indexes; resolves to the entries that still failed after all attempts. */
async function sendBatch(
  sqs: BatchSender,
  queueUrl: string,
  bodies: readonly string[],
  indexes: number[],
  maxAttempts: number,
  backoffMs: number,
): Promise<EnqueueFailure[]> {
  let pending = indexes;
  const lastError = new Map<number, string>();
  // SenderFault entries (a bad message) would fail again: they are given up at once.
  const givenUp: EnqueueFailure[] = [];
  for (let attempt = 1; attempt <= maxAttempts && pending.length > 0; attempt++) {
    if (attempt > 1) await sleep(backoffMs * 2 ** (attempt - 2));
    const entries: SendMessageBatchRequestEntry[] = pending.map((index) => ({
      Id: String(index),
      MessageBody: bodies[index],
    }));
    try {
      const output = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
      pending = [];
      for (const failure of output.Failed ?? []) {
        const index = Number(failure.Id);
        const message = `${failure.Code ?? 'error'}: ${failure.Message ?? 'entry failed'}`;
        if (failure.SenderFault) givenUp.push({ index, message });
        else {
          pending.push(index);
          lastError.set(index, message);
        }
      }
    } catch (error) {
      // The whole call failed (network, throttling): every pending entry is retried.
      const message = error instanceof Error ? error.message : String(error);
      for (const index of pending) lastError.set(index, message);
    }
  }
  return [...givenUp, ...pending.map((index) => ({ index, message: lastError.get(index) ?? 'not sent' }))];
}

/** Sends every body to the queue. Never throws for SQS errors: failures come back in `failed`. */
export async function enqueueBodies(
  sqs: BatchSender,
  queueUrl: string,
  bodies: readonly string[],
  options: EnqueueOptions = {},
): Promise<EnqueueResult> {
  const { maxAttempts = 5, backoffMs = 100, concurrency = 8, onProgress } = options;
  const chunks = chunkIndexes(bodies.length);
  const failed: EnqueueFailure[] = [];
  let done = 0;
  let next = 0;
  // A small pool of senders pulling chunks in order.
  const sender = async () => {
    while (next < chunks.length) {
      const chunk = chunks[next++];
      const failures = await sendBatch(sqs, queueUrl, bodies, chunk, maxAttempts, backoffMs);
      failed.push(...failures);
      done += chunk.length;
      onProgress?.(done - failed.length, bodies.length);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, chunks.length)) }, sender));
  failed.sort((a, b) => a.index - b.index);
  return { sent: bodies.length - failed.length, failed };
}

// ---------------------------------------------------------------- a whole run

export interface RunSubmission {
  runId: string;
  spec: RunSpec;
  tiles: number;
  /** False when the ledger already knew the run (same parameters = same id). */
  created: boolean;
  /** The run already has its manifest: nothing was sent. */
  complete: boolean;
  /** Tiles already finished in the ledger, not sent again. */
  skipped: number;
  sent: number;
  failed: EnqueueFailure[];
}

/** The ledger calls a submission needs (core/store/ledger.ts's Ledger satisfies it). */
export interface RunLedger {
  createRun(runId: string, spec: RunSpec): Promise<boolean>;
  getRun(runId: string): Promise<{ manifest_key?: string } | null>;
  tiles(runId: string): AsyncIterable<TileAddress>;
}

export interface SubmitDeps {
  ledger: RunLedger;
  sqs: BatchSender;
  queueUrl: string;
}

/**
 * Records the run in the ledger, then sends one message per tile not finished yet. Submitting the
 * same run again therefore resumes it (e.g. after queued messages were lost) and does nothing to a
 * finished run; a tile sent twice is still counted once by the ledger.
 *
 * The size limit is checked here, once, for every submitter (enqueue, start, ClusterService.run).
 * `deps` may be a function: it is called only after that check, so a CLI can refuse an oversized
 * run before it looks for (or starts) a stack.
 */
export async function submitRun(
  spec: RunSpec,
  deps: SubmitDeps | (() => Promise<SubmitDeps>),
  options: EnqueueOptions = {},
): Promise<RunSubmission> {
  checkRunSize(spec, options.maxTiles);
  if (typeof deps === 'function') deps = await deps();
  const id = runId(spec);
  const total = runTileCount(spec);
  const created = await deps.ledger.createRun(id, spec);
  const base = { runId: id, spec, tiles: total, created };
  // Tiles finished already (a resumed run), one bit per tile by its index in the run.
  let finished: Uint8Array | null = null;
  let skipped = 0;
  if (!created) {
    const run = await deps.ledger.getRun(id);
    if (run?.manifest_key) return { ...base, complete: true, skipped: total, sent: 0, failed: [] };
    finished = new Uint8Array(Math.ceil(total / 8));
    for await (const tile of deps.ledger.tiles(id)) {
      if (!tileInRun(spec, tile)) continue;
      const index = tileIndex(spec, tile);
      if (!(finished[index >> 3] & (1 << (index & 7)))) skipped++;
      finished[index >> 3] |= 1 << (index & 7);
    }
  }
  // The tiles are streamed: bodies are built and sent SUBMIT_CHUNK at a time, so the memory of a
  // submission does not grow with the run (a run of millions of tiles is never listed whole).
  let sent = 0;
  let offset = 0; // position in the sequence of tiles sent (the failures' indexes)
  const failed: EnqueueFailure[] = [];
  let chunk: string[] = [];
  const flush = async () => {
    const onProgress = options.onProgress && ((n: number) => options.onProgress!(sent + n, total - skipped));
    const result = await enqueueBodies(deps.sqs, deps.queueUrl, chunk, { ...options, onProgress });
    sent += result.sent;
    for (const failure of result.failed) failed.push({ ...failure, index: failure.index + offset });
    offset += chunk.length;
    chunk = [];
  };
  let index = 0;
  for (const tile of eachRunTile(spec)) {
    const done = finished !== null && (finished[index >> 3] & (1 << (index & 7))) !== 0;
    index++;
    if (done) continue;
    chunk.push(tileMessageBody(spec, tile));
    if (chunk.length >= SUBMIT_CHUNK) await flush();
  }
  if (chunk.length > 0) await flush();
  return { ...base, complete: false, skipped, sent, failed };
}
