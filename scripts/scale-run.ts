// npm run scale [-- --tiles 10000 --workers N --json]
// A large run on the local stack, to check that the pipeline scales (local/scale.ts measures it):
// wall time and tiles/s, RSS, the aggregator's cost per event, the ledger's pages, the streamed read.
import '../local/quiet.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTiles } from '../core/run/params.ts';
import { cliCommand, positiveInt, runCli } from '../local/cli-options.ts';
import { costOf } from '../core/store/prices.ts';
import { measureRead, measureRun, minusScaled, perTile, PRICE_NOTE, scaleSpec, startScaleStack, usdPer100k, writeScaleTiles, X0, Y0, type RunFigures, type ScaleStack } from '../local/scale.ts';

/**
 * AWS usage per tile, empty tiles and tiles with clusters apart. Empty: measured on a run whose
 * tiles are all missing. With clusters: derived, (big run − its empty tiles × the empty run's
 * per-tile usage) / its tiles with clusters (so it carries the run's fixed costs: the run item,
 * the manifest, the ledger read that builds it). The big run's own mix gives usd_per_100k_tiles.
 */
function costFigures(big: RunFigures, empty: RunFigures) {
  const n = big.tiles;
  const withClusters = big.manifest.tiles_with_clusters;
  const emptyPer = perTile(empty.aws.total, empty.tiles);
  const clustersPer = perTile(minusScaled(big.aws.total, emptyPer, n - withClusters), Math.max(1, withClusters));
  const usd = (c: { total: number }) => Math.round(c.total * 1e5 * 1000) / 1000;
  return {
    prices: PRICE_NOTE,
    usd_per_100k_tiles: usdPer100k(big.aws.cost, n),
    mix: { tiles: n, empty: n - withClusters, with_clusters: withClusters },
    usd_per_100k_by_item: Object.fromEntries(Object.entries(big.aws.cost).map(([k, v]) => [k, Math.round((v / n) * 1e5 * 1000) / 1000])),
    per_tile: { all: perTile(big.aws.total, n), empty: emptyPer, with_clusters: clustersPer },
    usd_per_100k: { empty_tiles: usd(costOf(emptyPer)), tiles_with_clusters: usd(costOf(clustersPer)) },
    idle_receives: big.aws.idle_receives,
  };
}

async function main(): Promise<void> {
  const options = cliCommand('scale')
    .description('A large run on the local stack: wall time, tiles/s, RSS, aggregator cost per event, ledger pages, streamed read')
    .option('--tiles <n>', 'tiles of the big run (a square region at z12)', positiveInt('--tiles'), 10_000)
    .option('--small <n>', 'tiles of the separate small run', positiveInt('--small'), 100)
    .option('--empty <n>', 'tiles of the all-empty run (usage of an empty tile; default: as many as the big run, so the per-run costs cancel)', positiveInt('--empty'))
    .option('--workers <n>', 'consumer worker threads', positiveInt('--workers'), availableParallelism())
    .option('--json', 'print the figures as one JSON object')
    .parse()
    .opts<{ tiles: number; small: number; empty?: number; workers: number; json?: boolean }>();

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
    // Every tile missing (a folder with no tiles): what an empty tile costs.
    const emptySpec = scaleSpec(options.empty ?? options.tiles, join(dir, 'no-tiles'), X0 + 2000, Y0);
    log(`empty run: ${runTiles(emptySpec).length} tiles, all missing`);
    const emptyFigures = await measureRun(s, emptySpec, { empty: runTiles(emptySpec).length, sparse: 0, dense: 0 });
    const read = await measureRead(bigFigures.run_id, join(dir, 'clusters.ndjson'));
    const cost = costFigures(bigFigures, emptyFigures);
    const figures = { load_average: loadavg().map((v) => Math.round(v * 10) / 10), workers: options.workers, cost, small: smallFigures, big: bigFigures, empty: emptyFigures, read };
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
        `AWS usage per tile (${cost.mix.empty} empty, ${cost.mix.with_clusters} with clusters): empty ${JSON.stringify(cost.per_tile.empty)}`,
        `  with clusters ${JSON.stringify(cost.per_tile.with_clusters)}`,
        `  cost per 100,000 tiles of this mix: $${cost.usd_per_100k_tiles} (${JSON.stringify(cost.usd_per_100k_by_item)}); empty tiles $${cost.usd_per_100k.empty_tiles}, tiles with clusters $${cost.usd_per_100k.tiles_with_clusters} per 100,000`,
        `  ${cost.prices}`,
        `load average ${figures.load_average.join(' ')}`,
      ];
      console.log(lines.join('\n'));
    }
  } finally {
    await s?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await runCli('scale', () => main().then(() => 0));
