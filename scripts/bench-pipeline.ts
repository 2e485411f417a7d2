// npm run bench:pipeline [-- --size 10 --alerts 2000 --workers N --json]
// End-to-end throughput of the local pipeline, and its own overhead per tile:
//   1. runTile alone, serially in this process, on every tile of a SIZE×SIZE synthetic region
//      (decode + halo + mean shift: the clustering time);
//   2. the same tiles through the local stack with 1 consumer worker: overhead per tile =
//      (wall time − Σ clustering time) / tiles — messages, S3 writes, events, ledger, manifest;
//   3. the same tiles with N workers (default: one per core): tiles per second end to end.
// Runs 2 and 3 read the tiles through two paths (a symlink), so they are distinct runs.
import '../local/quiet.ts';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ledgerFromEnv, sqsClient, tilesQueueUrl } from '../core/store/aws.ts';
import { submitRun } from '../core/store/queue.ts';
import { REQUEST_DEFAULTS } from '../core/run/request.ts';
import { validateRunParams, runId, runTiles, type RunSpec } from '../core/run/params.ts';
import { tileSourceFromTemplate } from '../core/store/tile-sources.ts';
import { writeSyntheticMosaic } from '../local/synthetic.ts';
import { runTile } from '../core/clusters/tile-job.ts';
import { cliCommand, positiveInt, runCli, workersOption } from '../local/cli-options.ts';
import { startEmulators, type S3EventPayload } from '../local/emulators.ts';
import { startLoop } from '../local/loop.ts';
import { applyStackEnv, createStack } from '../local/stack.ts';

const options = cliCommand('bench:pipeline')
  .option('--size <n>', 'region is n×n tiles', positiveInt('--size'), 10)
  .option('--alerts <n>', 'mean synthetic alerts per tile', positiveInt('--alerts'), 2000)
  .option('--workers <n>', 'consumer workers of the throughput run', workersOption('bench:pipeline'), availableParallelism())
  .option('--json', 'print the figures as one JSON object')
  .parse()
  .opts<{ size: number; alerts: number; workers: number; json?: boolean }>();

const Z = 12;
const X0 = 1331;
const Y0 = 2162;
const dir = mkdtempSync(join(tmpdir(), 'glad-bench-pipeline-'));
const log = (line: string) => {
  if (!options.json) process.stderr.write(`${line}\n`);
};

function spec(tilesDir: string): RunSpec {
  return validateRunParams({
    z: Z,
    region: { kind: 'tiles', x0: X0, y0: Y0, x1: X0 + options.size - 1, y1: Y0 + options.size - 1 },
    ...REQUEST_DEFAULTS,
    tiles_url: `file://${tilesDir}/{z}/{x}/{y}.png`,
    // writeSyntheticMosaic's default: the 2018 encoding.
    dataset: 'glad-2018',
  });
}

await runCli('bench:pipeline', async () => {
  const tilesDir = join(dir, 'tiles');
  const mosaic = await writeSyntheticMosaic(tilesDir, { z: Z, x0: X0 - 1, y0: Y0 - 1, x1: X0 + options.size, y1: Y0 + options.size, seed: 1, density: options.alerts });
  symlinkSync(tilesDir, join(dir, 'tiles-again'));
  const tiles = options.size * options.size;
  log(`${options.size}×${options.size} tiles at z${Z}, ~${options.alerts} alerts a tile (${mosaic.alerts} alerts written incl. the halo ring)`);

  // 1. Clustering alone (measured before and after the pipeline runs: the mean is used, as the
  //    machine's load may change in between).
  const serial = spec(tilesDir);
  const source = tileSourceFromTemplate(serial.tiles_url!);
  let clusters = 0;
  const clusterCpu: number[] = [];
  const clusterAlone = async () => {
    let ms = 0;
    clusters = 0;
    const cpuBefore = process.threadCpuUsage();
    for (const tile of runTiles(serial)) {
      const started = performance.now();
      clusters += (await runTile(tile, serial, source)).nb_clusters;
      ms += performance.now() - started;
    }
    const cpu = process.threadCpuUsage(cpuBefore);
    clusterCpu.push((cpu.user + cpu.system) / 1e6);
    return ms;
  };
  // Warm-up (JIT) on a few tiles, as a worker's first batches warm up too.
  for (const tile of runTiles(serial).slice(0, 10)) await runTile(tile, serial, source);
  const clusterBefore = await clusterAlone();
  log(`runTile alone: ${(clusterBefore / 1000).toFixed(2)} s for ${tiles} tiles (${(clusterBefore / tiles).toFixed(1)} ms a tile, ${clusters} clusters)`);

  // 2 and 3: through the local stack.
  const emulators = await startEmulators({ dir: join(dir, 'state') });
  const stack = await createStack(emulators, { visibilityTimeout: 60 });
  applyStackEnv(stack);
  const ledger = ledgerFromEnv();
  const quiet = (line: string) => log(`  loop: ${line}`);
  /** One run through the loop; wall and CPU counted from when the workers are ready. */
  const endToEnd = async (s: RunSpec, workers: number) => {
    // Handlers' own console output is not part of the figures.
    const { log: consoleLog, warn } = console;
    console.log = console.warn = () => undefined;
    const loop = await startLoop(emulators, stack, { workers, log: quiet, output: process.stderr });
    await loop.ready;
    // CPU of this thread (emulators, aggregator, dead letters, enqueue) + the consumer threads.
    const cpuBefore = process.threadCpuUsage();
    const started = performance.now();
    // Done when s3rver announces the manifest (no polling: it would add to the measured CPU).
    const manifestKey = `runs/${runId(s)}/manifest.json`;
    const manifestWritten = new Promise<void>((resolve) => {
      const onEvent = (event: S3EventPayload) => {
        if (event.Records.some((r) => r.s3.object.key === manifestKey)) {
          emulators.s3.off('event', onEvent);
          resolve();
        }
      };
      emulators.s3.on('event', onEvent);
    });
    await submitRun(s, { ledger, sqs: sqsClient(), queueUrl: tilesQueueUrl() });
    await manifestWritten;
    const wallMs = performance.now() - started;
    const cpu = process.threadCpuUsage(cpuBefore);
    await loop.stop();
    Object.assign(console, { log: consoleLog, warn });
    const mainCpuS = (cpu.user + cpu.system) / 1e6;
    return { wallMs, mainCpuS, consumerCpuS: loop.stats.consumerCpuMs / 1000, cpuS: mainCpuS + loop.stats.consumerCpuMs / 1000 };
  };
  const one = await endToEnd(spec(tilesDir), 1);
  log(`end to end, 1 worker: ${(one.wallMs / 1000).toFixed(2)} s (${(tiles / (one.wallMs / 1000)).toFixed(1)} tiles/s)`);
  const many = await endToEnd(spec(join(dir, 'tiles-again')), options.workers);
  log(`end to end, ${options.workers} workers: ${(many.wallMs / 1000).toFixed(2)} s (${(tiles / (many.wallMs / 1000)).toFixed(1)} tiles/s)`);
  await emulators.stop();
  const clusterAfter = await clusterAlone();
  log(`runTile alone again: ${(clusterAfter / 1000).toFixed(2)} s (${(clusterAfter / tiles).toFixed(1)} ms a tile)`);
  const clusterMs = (clusterBefore + clusterAfter) / 2;
  const overheadMs = (one.wallMs - clusterMs) / tiles;
  log(`pipeline overhead (1-worker wall − mean Σ runTile) / tiles: ${overheadMs.toFixed(1)} ms a tile`);
  const meanClusterCpu = (clusterCpu[0] + clusterCpu[1]) / 2;
  const overheadCpuMs = ((one.cpuS - meanClusterCpu) / tiles) * 1000;
  log(
    `pipeline CPU overhead (CPU of the main thread + consumer threads − runTile's CPU) / tiles: ${overheadCpuMs.toFixed(1)} ms a tile ` +
      `(main thread: emulators, aggregator, ledger ${((one.mainCpuS / tiles) * 1000).toFixed(1)} ms; ` +
      `consumer beyond runTile ${(((one.consumerCpuS - meanClusterCpu) / tiles) * 1000).toFixed(1)} ms)`,
  );
  log(`load average during the bench: ${loadavg()[0].toFixed(2)} on ${availableParallelism()} cores (other work skews these figures)`);

  const figures = {
    tiles,
    alerts_per_tile: options.alerts,
    cluster_ms_per_tile: +(clusterMs / tiles).toFixed(1),
    load_average: +loadavg()[0].toFixed(2),
    one_worker: { wall_s: +(one.wallMs / 1000).toFixed(2), tiles_per_s: +(tiles / (one.wallMs / 1000)).toFixed(1) },
    overhead_ms_per_tile: +overheadMs.toFixed(1),
    overhead_cpu_ms_per_tile: +overheadCpuMs.toFixed(1),
    main_thread_cpu_ms_per_tile: +((one.mainCpuS / tiles) * 1000).toFixed(1),
    workers: options.workers,
    many_workers: { wall_s: +(many.wallMs / 1000).toFixed(2), tiles_per_s: +(tiles / (many.wallMs / 1000)).toFixed(1) },
  };
  if (options.json) process.stdout.write(`${JSON.stringify(figures)}\n`);
  rmSync(dir, { recursive: true, force: true });
  return 0;
}, () => rmSync(dir, { recursive: true, force: true }));
