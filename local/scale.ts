// The harness of `npm run scale` (scripts/scale-run.ts) and test/scale.test.ts: a large run on the
// local stack, to check that the pipeline scales. A square region at z12 whose tiles are mostly
// missing (no alerts), some sparse, a few dense (PNG files only where there are alerts). Measured:
//   - wall time and tiles/s of the run (enqueue → manifest);
//   - RSS of the process (emulators + consumer threads + aggregator) sampled every second;
//   - the aggregator's wall time per S3 event (the loop's delivery, timed): flat cost = the
//     ledger does O(1) work per event;
//   - the ledger pages the manifest was built from (a Query per shard key; DynamoDB and dynalite
//     page a Query at 1 MB);
//   - reading the results back: streamed tile by tile (streamRunClusters) to an NDJSON file,
//     against loading the whole run at once (loadRun), with the heap each needs.
import { createWriteStream, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ledgerFromEnv, resultsBucket, s3Client, sqsClient, tilesQueueUrl } from '../core/store/aws.ts';
import { submitRun } from '../core/store/queue.ts';
import type { Ledger } from '../core/store/ledger.ts';
import { waitForManifest } from '../core/store/manifest-wait.ts';
import { loadManifest, loadRun, streamRunClusters } from '../core/store/result-store.ts';
import { validateRunParams, type RunSpec } from '../core/run/params.ts';
import { encodeGladTile } from '../core/tiles/decode.ts';
import { mulberry32, syntheticTile } from './synthetic.ts';
import { REQUEST_DEFAULTS } from '../core/run/request.ts';
import type { Manifest } from '../core/run/types.ts';
import type { TileAddress } from '../core/tiles/types.ts';
import { startEmulators, type Emulators } from './emulators.ts';
import { startLoop } from './loop.ts';
import { applyStackEnv, createStack, type StackInfo } from './stack.ts';
import { makeDir } from '../core/store/files.ts';
import { emptyUsage, meter, sumUsage, usageSince, type Usage, type UsageByActor } from '../core/store/meter.ts';
import { costOf, PRICES, PRICES_AS_OF, type Cost } from '../core/store/prices.ts';

const Z = 12;
/** Delay before an S3 event reaches the aggregator, ms (S3 notifications are asynchronous). */
const EVENT_DELAY_MS = 50;
export const X0 = 1200;
export const Y0 = 2000;

/** What kind of tile (x, y) is in the generated world: mostly empty, some sparse, a few dense. */
function tileKind(x: number, y: number, seed = 1): { kind: 'empty' | 'sparse' | 'dense'; density: number } {
  const u = mulberry32((seed * 2654435761) ^ (x * 73856093) ^ (y * 19349663))();
  if (u < 0.85) return { kind: 'empty', density: 0 };
  if (u < 0.97) return { kind: 'sparse', density: 300 };
  return { kind: 'dense', density: 3000 };
}

/** Writes the PNG of every non-empty tile of the region; returns how many of each kind. */
export function writeScaleTiles(dir: string, tiles: readonly TileAddress[], seed = 1): Record<'empty' | 'sparse' | 'dense', number> {
  const counts = { empty: 0, sparse: 0, dense: 0 };
  for (const tile of tiles) {
    const { kind, density } = tileKind(tile.x, tile.y, seed);
    counts[kind]++;
    if (kind === 'empty') continue;
    const alerts = syntheticTile({ ...tile, seed: seed + tile.x * 7919 + tile.y, density });
    if (alerts.length === 0) continue;
    const path = join(dir, String(tile.z), String(tile.x), `${tile.y}.png`);
    makeDir(dirname(path));
    writeFileSync(path, encodeGladTile(alerts));
  }
  return counts;
}

/** A square-ish region of `tiles` tiles at z12 (side × side, the last row possibly shorter is avoided: side² ≥ tiles). */
export function scaleSpec(tiles: number, tilesDir: string, x0 = X0, y0 = Y0): RunSpec {
  const side = Math.ceil(Math.sqrt(tiles));
  const rows = Math.ceil(tiles / side);
  return validateRunParams({
    z: Z,
    region: { kind: 'tiles', x0, y0, x1: x0 + side - 1, y1: y0 + rows - 1 },
    ...REQUEST_DEFAULTS,
    tiles_url: `file://${tilesDir}/{z}/{x}/{y}.png`,
    // The scale harness writes 2018-encoded tiles (encodeGladTile).
    dataset: 'glad-2018',
  });
}

const median = (values: readonly number[]) => {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const mb = (bytes: number) => Math.round(bytes / 2 ** 20);

export interface RunFigures {
  run_id: string;
  tiles: number;
  kinds: Record<'empty' | 'sparse' | 'dense', number>;
  wall_s: number;
  tiles_per_s: number;
  rss_mb: { min: number; max: number; at_quarter: number; at_end: number };
  /** Main thread's V8 heap after a full GC (every 10 s; needs node --expose-gc), MB: live data, not garbage. */
  heap_after_gc_mb: { min: number; max: number; at_quarter: number; at_end: number } | null;
  /** Mean wall time of the consumer handler per message (clustering + Parquet + S3 writes), ms. */
  consumer_ms_per_tile: number;
  aggregator_events: number;
  aggregator_ms: { median_first_100: number; median_last_100: number; median_first_quarter: number; median_last_quarter: number; max: number };
  manifest: Pick<Manifest, 'tiles' | 'tiles_with_clusters' | 'tiles_empty' | 'tiles_failed' | 'totals' | 'errors'>;
  /** Messages the consumers handed back for a retry, and messages dead-lettered, during this run. */
  retried: number;
  dead_letters: number;
  /** Query pages over the run's tile items, shard by shard (DynamoDB/dynalite stop a page at 1 MB). */
  ledger_pages_1mb: number;
  ledger_tile_items: number;
  /** AWS requests, capacity units and Lambda time the run paid for (core/store/meter.ts), and their cost. */
  aws: RunUsage;
}

/**
 * Who a run pays for: the handlers, Lambda's SQS event sources (receives and deletes) and enqueue.
 * Not `other`: this harness watching progress and reading the manifest (a person watching a run
 * with `npm start` pays for that by the hour, not by the tile: docs/operations.md).
 */
export const RUN_ACTORS = ['enqueue', 'sqs-event-source', 'consumer', 'aggregator', 'deadletter', 'diff'] as const;
/** Receives that got no message: idle polling, which depends on time, not on tiles (left out of the cost per tile). */
const IDLE_RECEIVE = 'sqs:ReceiveMessage(empty)';

export interface RunUsage {
  /** Everything the run paid for, summed over RUN_ACTORS (idle receives left out). */
  total: Usage;
  idle_receives: number;
  by_actor: UsageByActor;
  cost: Cost;
}

/** Usage divided by `n` (per tile), rounded to 4 decimals. */
export function perTile(u: Usage, n: number): Usage {
  const r = (v: number) => Math.round((v / n) * 1e4) / 1e4;
  const out = emptyUsage();
  for (const [op, c] of Object.entries(u.requests)) out.requests[op] = r(c);
  out.rru = r(u.rru);
  out.wru = r(u.wru);
  out.messages_sent = r(u.messages_sent);
  for (const [h, l] of Object.entries(u.lambda)) out.lambda[h] = { invocations: r(l.invocations), billed_ms: r(l.billed_ms) };
  return out;
}

/** a − k·b, op by op (what is left of a run after its empty tiles' share). */
export function minusScaled(a: Usage, b: Usage, k: number): Usage {
  const out = structuredClone(a);
  for (const [op, c] of Object.entries(b.requests)) out.requests[op] = (out.requests[op] ?? 0) - k * c;
  out.rru -= k * b.rru;
  out.wru -= k * b.wru;
  out.messages_sent -= k * b.messages_sent;
  for (const [h, l] of Object.entries(b.lambda)) {
    const t = (out.lambda[h] ??= { invocations: 0, billed_ms: 0 });
    t.invocations -= k * l.invocations;
    t.billed_ms -= k * l.billed_ms;
  }
  return out;
}

export function runUsage(byActor: UsageByActor): RunUsage {
  const total = sumUsage(byActor, RUN_ACTORS);
  const idle = total.requests[IDLE_RECEIVE] ?? 0;
  delete total.requests[IDLE_RECEIVE];
  return { total, idle_receives: idle, by_actor: byActor, cost: costOf(total) };
}

/** Dollars per 100,000 tiles at PRICES, rounded to the cent's tenth. */
export function usdPer100k(cost: Cost, tiles: number): number {
  return Math.round((cost.total / tiles) * 1e5 * 1000) / 1000;
}

export const PRICE_NOTE = `us-east-1 list prices as of ${PRICES_AS_OF} (core/store/prices.ts): ${JSON.stringify(PRICES)}`;

export interface ScaleStack {
  emulators: Emulators;
  stack: StackInfo;
  ledger: Ledger;
  /** Wall time of each aggregator invocation, in arrival order, for the run being measured. */
  aggregatorMs: number[];
  /** The consumer loop's counters (messages, summed handler wall time, retries, dead letters). */
  loopStats: { messages: number; consumerMs: number; retried: number; deadLetters: number };
  log: (line: string) => void;
  stop(): Promise<void>;
}

/** Emulators + stack + the local loop, its aggregator invocations timed. */
export async function startScaleStack(options: { workers?: number; log?: (line: string) => void } = {}): Promise<ScaleStack> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const emulators = await startEmulators();
  const stack = await createStack(emulators, { visibilityTimeout: 60 });
  applyStackEnv(stack);
  const aggregatorMs: number[] = [];
  const aggregator = { delayMs: EVENT_DELAY_MS, onInvoked: (ms: number) => aggregatorMs.push(ms) };
  // Batches of 5, as the deployed event source (sst.config.ts): invocations per tile as on AWS.
  const loop = await startLoop(emulators, stack, { workers: options.workers, batchSize: 5, log, aggregator });
  await loop.ready;
  return {
    emulators,
    stack,
    ledger: ledgerFromEnv(),
    aggregatorMs,
    loopStats: loop.stats,
    log,
    async stop() {
      await loop.stop();
      await emulators.stop();
    },
  };
}

/** Enqueues one run, waits for its manifest while sampling RSS, and returns the figures. */
export async function measureRun(s: ScaleStack, spec: RunSpec, kinds: RunFigures['kinds'], timeoutMs = 3_600_000): Promise<RunFigures> {
  s.aggregatorMs.length = 0;
  const rss: { finished: number; rss: number }[] = [];
  const heap: { finished: number; heap: number }[] = [];
  let finished = 0;
  let ticks = 0;
  const sample = setInterval(() => {
    rss.push({ finished, rss: process.memoryUsage.rss() });
    if (global.gc && ++ticks % 10 === 0) {
      global.gc();
      heap.push({ finished, heap: process.memoryUsage().heapUsed });
    }
  }, 1000);
  const started = performance.now();
  const consumerBefore = { ...s.loopStats };
  const usageBefore = meter.snapshot();
  try {
    const submission = await meter.as('enqueue', () => submitRun(spec, { ledger: s.ledger, sqs: sqsClient(), queueUrl: tilesQueueUrl() }));
    if (submission.failed.length > 0) throw new Error(`${submission.failed.length} messages not sent: ${submission.failed[0].message}`);
    const runId = submission.runId;
    let lastLog = 0;
    await waitForManifest(s.ledger, runId, {
      timeoutMs: timeoutMs - (performance.now() - started),
      onProgress(progress) {
        finished = progress.finished;
        if (performance.now() - lastLog > 10_000) {
          lastLog = performance.now();
          s.log(`  ${finished}/${submission.tiles} tiles, ${((performance.now() - started) / 1000).toFixed(0)} s, rss ${mb(process.memoryUsage.rss())} MB`);
        }
      },
      timeoutMessage: () => `run ${runId} not complete after ${timeoutMs} ms (${finished}/${submission.tiles})`,
    });
    const wall = (performance.now() - started) / 1000;
    // The consumers report their requests after each batch (its deletes included), which can come
    // after the manifest: wait until every message is done and reported (at most 10 s).
    for (let waited = 0; waited < 10_000; waited += 50) {
      const done = s.loopStats.messages - consumerBefore.messages - (s.loopStats.retried - consumerBefore.retried);
      if (done >= submission.tiles) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await new Promise((resolve) => setTimeout(resolve, 200)); // a duplicate aggregator event in flight
    const aws = runUsage(usageSince(usageBefore, meter.snapshot()));
    rss.push({ finished, rss: process.memoryUsage.rss() });
    if (global.gc) {
      global.gc();
      heap.push({ finished, heap: process.memoryUsage().heapUsed });
    }
    const manifest = (await loadManifest(runId, s3Client(), resultsBucket()))!;
    // Pages of the tile items at DynamoDB's own 1 MB page size (what the aggregator's Query gets):
    // at least one per shard, since each shard is its own partition key.
    let pages = 0;
    let items = 0;
    for await (const page of s.ledger.tilePages(runId)) {
      pages++;
      items += page.length;
    }
    const times = s.aggregatorMs;
    const quarter = Math.max(1, Math.floor(times.length / 4));
    const tiles = manifest.tiles;
    const quarterSample = rss.find((r) => r.finished >= tiles / 4) ?? rss[0];
    const heapQuarter = heap.find((h) => h.finished >= tiles / 4) ?? heap[0];
    const { tiles_with_clusters, tiles_empty, tiles_failed, totals, errors } = manifest;
    return {
      run_id: runId,
      tiles,
      kinds,
      wall_s: Math.round(wall * 10) / 10,
      tiles_per_s: Math.round((tiles / wall) * 10) / 10,
      rss_mb: {
        min: mb(Math.min(...rss.map((r) => r.rss))),
        max: mb(Math.max(...rss.map((r) => r.rss))),
        at_quarter: mb(quarterSample.rss),
        at_end: mb(rss[rss.length - 1].rss),
      },
      heap_after_gc_mb:
        heap.length === 0
          ? null
          : {
              min: mb(Math.min(...heap.map((h) => h.heap))),
              max: mb(Math.max(...heap.map((h) => h.heap))),
              at_quarter: mb(heapQuarter.heap),
              at_end: mb(heap[heap.length - 1].heap),
            },
      consumer_ms_per_tile: round1((s.loopStats.consumerMs - consumerBefore.consumerMs) / Math.max(1, s.loopStats.messages - consumerBefore.messages)),
      aggregator_events: times.length,
      aggregator_ms: {
        median_first_100: round1(median(times.slice(0, 100))),
        median_last_100: round1(median(times.slice(-100))),
        median_first_quarter: round1(median(times.slice(0, quarter))),
        median_last_quarter: round1(median(times.slice(-quarter))),
        max: round1(Math.max(...times)),
      },
      manifest: { tiles, tiles_with_clusters, tiles_empty, tiles_failed, totals, errors },
      retried: s.loopStats.retried - consumerBefore.retried,
      dead_letters: s.loopStats.deadLetters - consumerBefore.deadLetters,
      ledger_pages_1mb: pages,
      ledger_tile_items: items,
      aws,
    };
  } finally {
    clearInterval(sample);
  }
}

const round1 = (v: number) => Math.round(v * 10) / 10;

interface ReadFigures {
  clusters: number;
  stream_s: number;
  /** Largest live heap (after GC, every 200 tiles) over the baseline while streaming, MB. */
  stream_heap_peak_mb: number;
  load_all_s: number;
  /** Live heap (after GC) over the baseline holding the whole run, MB. */
  load_all_heap_mb: number;
}

/** Reads a run back twice: streamed to an NDJSON file, then all at once; live heap over the baseline (GC'd, with --expose-gc). */
export async function measureRead(runId: string, outFile: string): Promise<ReadFigures> {
  const s3 = s3Client();
  const bucket = resultsBucket();
  const manifest = (await loadManifest(runId, s3, bucket))!;
  global.gc?.();
  const base = process.memoryUsage().heapUsed;
  let peak = 0;
  let rows = 0;
  let tilesRead = 0;
  let started = performance.now();
  const out = createWriteStream(outFile);
  for await (const tile of streamRunClusters(manifest, s3, { bucket, full: true })) {
    for (const cluster of tile) {
      if (!out.write(`${JSON.stringify(cluster)}\n`)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
      rows++;
    }
    if (++tilesRead % 200 === 0) {
      global.gc?.();
      peak = Math.max(peak, process.memoryUsage().heapUsed - base);
    }
  }
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
  const streamS = (performance.now() - started) / 1000;
  global.gc?.();
  const base2 = process.memoryUsage().heapUsed;
  started = performance.now();
  const loaded = await loadRun(runId, s3, { bucket, full: true });
  const loadS = (performance.now() - started) / 1000;
  global.gc?.();
  const held = process.memoryUsage().heapUsed - base2;
  if (loaded.clusters.length !== rows) throw new Error(`streamed ${rows} clusters, loadRun gave ${loaded.clusters.length}`);
  return { clusters: rows, stream_s: round1(streamS), stream_heap_peak_mb: mb(peak), load_all_s: round1(loadS), load_all_heap_mb: mb(held) };
}
