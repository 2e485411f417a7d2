// npm run scale [-- --tiles 10000 --workers N --json]
// A large run on the local stack, to check that the pipeline scales: a square region at z12 whose
// tiles are mostly missing (no alerts), some sparse, a few dense (local/synthetic.ts, written as
// PNG files only where there are alerts). Measured and printed:
//   - wall time and tiles/s of the run (enqueue → manifest);
//   - RSS of the process (emulators + consumer threads + aggregator) sampled every second;
//   - the aggregator's wall time per S3 event: median of the first 100 and the last 100 events of
//     the big run, and of a separate 100-tile run (flat cost = the ledger does O(1) work per event);
//   - the ledger pages the manifest was built from (a Query per shard key; DynamoDB and dynalite
//     page a Query at 1 MB);
//   - reading the results back: streamed tile by tile (core/store/result-reader.ts streamRunClusters) to an
//     NDJSON file, against loading the whole run at once (loadRun), with the heap each needs.
// The aggregator is driven here (not by local/loop.ts) so that each invocation can be timed; the
// consumers and the dead-letter handler run in the usual loop.
import '../local/quiet.ts';
import { EventEmitter } from 'node:events';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dynamoDocClient, ledgerTable, resultsBucket, s3Client, sqsClient, tilesQueueUrl } from '../core/store/aws.ts';
import { submitRun } from '../core/store/queue.ts';
import { Ledger } from '../core/store/ledger.ts';
import { loadManifest, loadRun, streamRunClusters } from '../core/store/result-reader.ts';
import { validateRunParams, runTiles, type RunSpec } from '../core/run/params.ts';
import { encodeGladTile } from '../core/tiles/decode.ts';
import { mulberry32, syntheticTile } from '../local/synthetic.ts';
import { REQUEST_DEFAULTS } from '../core/run/request.ts';
import type { Manifest } from '../core/run/types.ts';
import type { TileAddress } from '../core/tiles/types.ts';
import { cliCommand, positiveInt } from '../local/cli-options.ts';
import { startEmulators, type Emulators, type S3EventPayload } from '../local/emulators.ts';
import { HANDLERS, lambdaContext, loadHandler } from '../local/lambda.ts';
import { startLoop, triggersAggregator } from '../local/loop.ts';
import { s3EventOf } from '../local/sqs-event.ts';
import { applyStackEnv, createStack, type StackInfo } from '../local/stack.ts';

const Z = 12;
/** Delay before an S3 event reaches the aggregator, ms (see `deliver`). */
const EVENT_DELAY_MS = 50;
const X0 = 1200;
const Y0 = 2000;

/** What kind of tile (x, y) is in the generated world: mostly empty, some sparse, a few dense. */
export function tileKind(x: number, y: number, seed = 1): { kind: 'empty' | 'sparse' | 'dense'; density: number } {
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
    mkdirSync(dirname(path), { recursive: true });
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
}

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

/** Emulators + stack + consumer loop, with the aggregator invoked (and timed) here. */
export async function startScaleStack(options: { workers?: number; log?: (line: string) => void } = {}): Promise<ScaleStack> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const emulators = await startEmulators();
  const stack = await createStack(emulators, { visibilityTimeout: 60 });
  applyStackEnv(stack);
  // The loop gets an event source that never fires: the aggregator is driven below instead.
  const loop = await startLoop({ s3: new EventEmitter() as unknown as Emulators['s3'] }, stack, { workers: options.workers, log });
  await loop.ready;
  const aggregator = await loadHandler(HANDLERS.aggregator);
  const aggregatorMs: number[] = [];
  const inFlight = new Set<Promise<void>>();
  const deliver = async (bucket: string, key: string, size: number) => {
    // S3 delivers notifications asynchronously (typically well under a second after the PUT).
    await new Promise((resolve) => setTimeout(resolve, EVENT_DELAY_MS));
    const event = s3EventOf(bucket, key, size);
    for (let attempt = 1; attempt <= 3; attempt++) {
      const started = performance.now();
      try {
        await aggregator(event, lambdaContext('aggregator'));
        aggregatorMs.push(performance.now() - started);
        return;
      } catch (error) {
        log(`aggregator (attempt ${attempt}/3) on ${key}: ${(error as Error).message}`);
        await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
      }
    }
  };
  const onEvent = (payload: S3EventPayload) => {
    for (const r of payload.Records) {
      if (!r.eventName.startsWith('ObjectCreated:') || !triggersAggregator(r.s3.object.key)) continue;
      const task = deliver(r.s3.bucket.name, r.s3.object.key, r.s3.object.size ?? 0).finally(() => inFlight.delete(task));
      inFlight.add(task);
    }
  };
  emulators.s3.on('event', onEvent);
  return {
    emulators,
    stack,
    ledger: new Ledger(dynamoDocClient(), ledgerTable()),
    aggregatorMs,
    loopStats: loop.stats,
    log,
    async stop() {
      emulators.s3.off('event', onEvent);
      await loop.stop();
      await Promise.all(inFlight);
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
  try {
    const submission = await submitRun(spec, { ledger: s.ledger, sqs: sqsClient(), queueUrl: tilesQueueUrl() });
    if (submission.failed.length > 0) throw new Error(`${submission.failed.length} messages not sent: ${submission.failed[0].message}`);
    const runId = submission.runId;
    let lastLog = 0;
    for (;;) {
      const progress = await s.ledger.progress(runId);
      finished = progress?.finished ?? 0;
      if (progress?.manifest_key) break;
      if (performance.now() - started > timeoutMs) throw new Error(`run ${runId} not complete after ${timeoutMs} ms (${finished}/${submission.tiles})`);
      if (performance.now() - lastLog > 10_000) {
        lastLog = performance.now();
        s.log(`  ${finished}/${submission.tiles} tiles, ${((performance.now() - started) / 1000).toFixed(0)} s, rss ${mb(process.memoryUsage.rss())} MB`);
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const wall = (performance.now() - started) / 1000;
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
    };
  } finally {
    clearInterval(sample);
  }
}

const round1 = (v: number) => Math.round(v * 10) / 10;

export interface ReadFigures {
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

// ---------------------------------------------------------------- CLI

async function main(): Promise<void> {
  const options = cliCommand('scale')
    .description('A large run on the local stack: wall time, tiles/s, RSS, aggregator cost per event, ledger pages, streamed read')
    .option('--tiles <n>', 'tiles of the big run (a square region at z12)', positiveInt('--tiles'), 10_000)
    .option('--small <n>', 'tiles of the separate small run', positiveInt('--small'), 100)
    .option('--workers <n>', 'consumer worker threads', positiveInt('--workers'), availableParallelism())
    .option('--json', 'print the figures as one JSON object')
    .parse()
    .opts<{ tiles: number; small: number; workers: number; json?: boolean }>();

  const dir = mkdtempSync(join(tmpdir(), 'glad-scale-'));
  const log = (line: string) => process.stderr.write(`${line}\n`);
  let s: ScaleStack | undefined;
  try {
    const tilesDir = join(dir, 'tiles');
    const small = scaleSpec(options.small, tilesDir, X0 + 1000, Y0);
    const big = scaleSpec(options.tiles, tilesDir);
    const started = performance.now();
    const smallKinds = writeScaleTiles(tilesDir, runTiles(small));
    const bigKinds = writeScaleTiles(tilesDir, runTiles(big));
    global.gc?.(); // the generator's garbage is not the pipeline's memory
    log(`tiles written in ${((performance.now() - started) / 1000).toFixed(1)} s: big run ${JSON.stringify(bigKinds)}, small run ${JSON.stringify(smallKinds)}`);

    s = await startScaleStack({ workers: options.workers, log });
    // A short warm-up run first (JIT, connections), so the small and big runs compare like with like.
    const warmUp = scaleSpec(25, tilesDir, X0 + 1000, Y0 + 100);
    await measureRun(s, warmUp, writeScaleTiles(tilesDir, runTiles(warmUp)));
    log(`big run: ${runTiles(big).length} tiles, ${options.workers} consumer workers`);
    const bigFigures = await measureRun(s, big, bigKinds);
    // The small run after the big one: same stack, ledger and bucket already holding 10,000 tiles.
    log(`small run: ${runTiles(small).length} tiles`);
    const smallFigures = await measureRun(s, small, smallKinds);
    const read = await measureRead(bigFigures.run_id, join(dir, 'clusters.ndjson'));
    const figures = { load_average: loadavg().map((v) => Math.round(v * 10) / 10), workers: options.workers, small: smallFigures, big: bigFigures, read };
    if (options.json) {
      console.log(JSON.stringify(figures));
    } else {
      const b = bigFigures;
      const lines = [
        `big run ${b.run_id}: ${b.tiles} tiles (${b.kinds.empty} empty, ${b.kinds.sparse} sparse, ${b.kinds.dense} dense)`,
        `  wall ${b.wall_s} s, ${b.tiles_per_s} tiles/s; consumer handler ${b.consumer_ms_per_tile} ms per tile (mean wall, ${figures.workers} threads)`,
        `  manifest: ${b.manifest.tiles_with_clusters} with clusters, ${b.manifest.tiles_empty} empty, ${b.manifest.tiles_failed} failed; ${b.manifest.totals.clusters} clusters, ${b.manifest.totals.alerts} alerts`,
        `  consumer retries ${b.retried}, dead letters ${b.dead_letters}${b.manifest.errors.length ? `; errors: ${b.manifest.errors.slice(0, 3).map((e) => `${e.z}/${e.x}/${e.y} [${e.stage}] ${e.message}`).join(' | ')}` : ''}`,
        `  RSS: min ${b.rss_mb.min} MB, max ${b.rss_mb.max} MB (at 1/4 of the tiles ${b.rss_mb.at_quarter} MB, at the end ${b.rss_mb.at_end} MB)`,
        b.heap_after_gc_mb
          ? `  main-thread heap after GC: min ${b.heap_after_gc_mb.min} MB, max ${b.heap_after_gc_mb.max} MB (at 1/4 ${b.heap_after_gc_mb.at_quarter} MB, at the end ${b.heap_after_gc_mb.at_end} MB)`
          : '  (run with node --expose-gc for the heap after GC)',
        `  aggregator ms/event (median): first 100 ${b.aggregator_ms.median_first_100}, last 100 ${b.aggregator_ms.median_last_100}; first quarter ${b.aggregator_ms.median_first_quarter}, last quarter ${b.aggregator_ms.median_last_quarter}; max ${b.aggregator_ms.max} (${b.aggregator_events} events)`,
        `  ledger: ${b.ledger_tile_items} tile items in ${b.ledger_pages_1mb} Query pages of ≤ 1 MB`,
        `small run ${smallFigures.run_id} (after the big one): ${smallFigures.tiles} tiles, ${smallFigures.wall_s} s; aggregator ms/event median ${smallFigures.aggregator_ms.median_first_100} (${smallFigures.aggregator_events} events)`,
        `read back ${read.clusters} clusters (with members): streamed to NDJSON in ${read.stream_s} s, live heap at most +${read.stream_heap_peak_mb} MB; loadRun (all at once) ${read.load_all_s} s, live heap +${read.load_all_heap_mb} MB`,
        `load average ${figures.load_average.join(' ')}`,
      ];
      console.log(lines.join('\n'));
    }
  } finally {
    await s?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    await main();
    process.exit(0);
  } catch (error) {
    console.error(`scale: ${(error as Error).message.split('\n')[0]}`);
    process.exit(1);
  }
}
