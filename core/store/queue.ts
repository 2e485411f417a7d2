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
import type { Ledger } from './ledger.ts';
import type { ResultStore } from './result-store.ts';
import { completeRun } from './run-completion.ts';

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
  /** Re-send the run's failed tiles (`--retry-failed`); their new outcomes replace the old ones. */
  retryFailed?: boolean;
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
  /** The run has its manifest (written now if every tile was accounted and it was missing): nothing was sent. */
  complete: boolean;
  /** The manifest was missing with every tile accounted, and this submission wrote it. */
  repaired: boolean;
  /** Every tile is accounted but another writer holds the manifest lease until this time (ms): wait. */
  heldUntil: number | null;
  /** Tiles already finished in the ledger, not sent again. */
  skipped: number;
  /** Failed tiles re-sent by `retryFailed` (their old outcomes were taken out of the ledger). */
  retried: number;
  sent: number;
  failed: EnqueueFailure[];
}

export interface SubmitDeps {
  ledger: Ledger;
  sqs: BatchSender;
  queueUrl: string;
  /** The results bucket: lets a re-run write a missing manifest (core/store/run-completion.ts). */
  results?: ResultStore;
}

/**
 * Records the run in the ledger, then sends one message per tile not finished yet. Submitting the
 * same run again therefore resumes it (e.g. after queued messages were lost) and does nothing to a
 * finished run; a tile sent twice is still counted once by the ledger. A run whose tiles are all
 * accounted but whose manifest is missing (a process died before writing it, or it was deleted)
 * gets it written here when `deps.results` is given. With `retryFailed`, the failed tiles are
 * reopened in the ledger (Ledger.reopenFailed) and sent again; a new manifest follows.
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
  const base = { runId: id, spec, tiles: total, created, repaired: false, heldUntil: null, retried: 0 };
  // Tiles finished already (a resumed run), one bit per tile by its index in the run.
  let finished: Uint8Array | null = null;
  const bit = (index: number) => [index >> 3, 1 << (index & 7)] as const;
  let skipped = 0;
  let retried = 0;
  if (!created) {
    finished = new Uint8Array(Math.ceil(total / 8));
    const failedTiles: TileAddress[] = [];
    for await (const tile of deps.ledger.tiles(id)) {
      if (!tileInRun(spec, tile)) continue;
      const [byte, mask] = bit(tileIndex(spec, tile));
      if (!(finished[byte] & mask)) skipped++;
      finished[byte] |= mask;
      if (tile.status === 'failed') failedTiles.push({ z: tile.z, x: tile.x, y: tile.y });
    }
    if (options.retryFailed && failedTiles.length > 0) {
      if ((await deps.ledger.reopenFailed(id, spec, failedTiles)) === 'held') {
        throw new Error(`run ${id}: its manifest is being written right now; retry the failed tiles in a few minutes`);
      }
      for (const tile of failedTiles) {
        const [byte, mask] = bit(tileIndex(spec, tile));
        finished[byte] &= ~mask;
      }
      skipped -= failedTiles.length;
      retried = failedTiles.length;
    } else {
      const run = await deps.ledger.getRun(id);
      if (run?.manifest_key || skipped >= total) {
        const done = { ...base, complete: true, skipped: total, sent: 0, failed: [] };
        if (!deps.results) return run?.manifest_key ? done : { ...done, complete: false };
        const completion = await completeRun({ ...deps.results, ledger: deps.ledger }, id);
        if (completion.state === 'done') return done;
        if (completion.state === 'written') return { ...done, repaired: true };
        if (completion.state === 'held') return { ...done, complete: false, heldUntil: completion.until };
        // 'incomplete': the manifest was deleted by a retry in flight; send what is missing.
      }
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
    const [byte, mask] = bit(index++);
    if (finished !== null && (finished[byte] & mask) !== 0) continue;
    chunk.push(tileMessageBody(spec, tile));
    if (chunk.length >= SUBMIT_CHUNK) await flush();
  }
  if (chunk.length > 0) await flush();
  return { ...base, complete: false, skipped, retried, sent, failed };
}
