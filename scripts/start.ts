// npm start -- [<region> [parameters]] [--json]
// The whole job in one command: uses the running local stack (`npm run dev`) or starts one in this
// process, enqueues the run, shows progress (tiles done / failed, rate, ETA, read from the ledger),
// waits for the manifest, prints a summary with the largest clusters and writes the run's HTML
// report (.local/reports/RUN_ID.html). Without a region: a demo
// on a 4×4 region of synthetic tiles written to .local/demo-tiles/.
import '../local/quiet.ts';
import { createWriteStream, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { format } from 'node:util';
import cliProgress from 'cli-progress';
import { ledgerFromEnv, resultsBucket, s3Client, sqsClient, tilesQueueUrl } from '../core/store/aws.ts';
import { completeRun } from '../core/store/run-completion.ts';
import { submitRun } from '../core/store/queue.ts';
import type { Ledger } from '../core/store/ledger.ts';
import { waitForManifest } from '../core/store/manifest-wait.ts';
import { ClusterService } from '../core/results/service.ts';
import { writeSyntheticMosaic } from '../local/synthetic.ts';
import type { Manifest } from '../core/run/types.ts';
import { cliCommand, positiveInt, runCli, workersOption } from '../local/cli-options.ts';
import { startLocalStack, type LocalStack } from '../local/dev-stack.ts';
import { addRunOptions, addSizeOption, maxTilesOf, prepareRunOf, regionOf, type RunOptions } from '../local/run-args.ts';
import { allowedSources } from '../core/store/aws.ts';
import { DEFAULT_DATASET, datasetByName } from '../core/tiles/datasets.ts';
import { findRunningStack, localDir, sstLinked } from '../local/stack-file.ts';
import { inUseMessage } from '../local/state-lock.ts';
import { applyStackEnv } from '../local/stack.ts';
import { makeDir } from '../core/store/files.ts';

/** The demo: 4×4 tiles at z12 in Rondônia (Brazil), ~2,000 synthetic alerts a tile. */
const DEMO = { z: 12, x0: 1331, y0: 2162, x1: 1334, y1: 2165, seed: 1, density: 2000 };

const program = addSizeOption(
  addRunOptions(cliCommand('start').description('Run a whole clustering job on the local stack and summarise it (no region: a demo)')),
)
  .option('--json', 'print only the manifest, as one JSON object, on stdout')
  .option('--workers <n>', 'consumer worker threads of an in-process stack', workersOption('start'), availableParallelism())
  .option('--timeout <s>', 'give up after this many seconds', positiveInt('--timeout'))
  .option('--retry-failed', "send the run's failed tiles again (the manifest is rewritten with their new outcomes)")
  .parse();
const options = program.opts<RunOptions & { json?: boolean; workers: number; timeout?: number; maxTiles?: string; retryFailed?: boolean }>();

const say = (line: string) => process.stderr.write(`${line}\n`);
let local: LocalStack | undefined;

/** Handler logs (console.*) go to a file, so stdout stays ours and the progress bar stays whole. */
function redirectConsole(path: string): NodeJS.WritableStream {
  const stream = createWriteStream(path, { flags: 'w' });
  const write = (...args: unknown[]) => void stream.write(`${format(...args)}\n`);
  console.log = console.info = console.warn = console.error = console.debug = write;
  return stream;
}

/** Waits for the run's manifest behind a progress bar (tiles done, failed, rate, ETA). */
async function waitWithProgress(ledger: Ledger, runId: string, tiles: number): Promise<void> {
  const results = { s3: s3Client(), bucket: resultsBucket() };
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: 'tiles {bar} {value}/{total} | failed {failed} | {rate} tiles/s | ETA {remaining}',
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(tiles, 0, { failed: 0, rate: '0.0', remaining: '?' });
  const started = performance.now();
  try {
    await waitForManifest(ledger, runId, {
      timeoutMs: options.timeout ? options.timeout * 1000 : undefined,
      onProgress(progress) {
        const seconds = (performance.now() - started) / 1000;
        const rate = progress.finished / Math.max(seconds, 1e-3);
        const remaining = rate > 0 ? `${Math.ceil((progress.tiles - progress.finished) / rate)}s` : '?';
        bar.update(progress.finished, { failed: progress.failed, rate: rate.toFixed(1), remaining });
      },
      timeoutMessage: () => `timed out after ${options.timeout} s (run ${runId} continues in the stack)`,
      // Every tile counted and no manifest: the writer died (or holds its lease): write it / wait.
      complete: () => completeRun({ ...results, ledger }, runId),
    });
  } finally {
    bar.stop();
  }
}

function summary(manifest: Manifest, hullHectares: number, seconds: number | null): string {
  const t = manifest.totals;
  const lines = [
    `run ${manifest.run_id} ${seconds === null ? 'was complete already' : `complete in ${seconds.toFixed(1)} s`}: ${manifest.tiles} tiles ` +
      `(${manifest.tiles_with_clusters} with clusters, ${manifest.tiles_empty} empty, ${manifest.tiles_failed} failed)`,
    ...(t.region_alerts !== undefined ? [`alerts in the region ${t.region_alerts} (each tile's own, in the date window)`] : []),
    `clusters ${t.clusters}, alerts of the clusters ${t.alerts} (members may lie in tiles around the region), ` +
      `alert area ${t.hectares.toFixed(1)} ha (cluster hulls ${hullHectares.toFixed(1)} ha), dates ${t.first_date ?? '-'} .. ${t.last_date ?? '-'}`,
    `errors ${manifest.errors.length}`,
  ];
  for (const e of manifest.errors.slice(0, 5)) lines.push(`  error ${e.z}/${e.x}/${e.y} (${e.stage}): ${e.message}`);
  if (manifest.errors.length > 5) lines.push(`  … ${manifest.errors.length - 5} more errors in the manifest`);
  return lines.join('\n');
}

const onSignal = async () => {
  say('\ninterrupted: stopping');
  await local?.stop();
  process.exit(130);
};
process.once('SIGINT', () => void onSignal());
process.once('SIGTERM', () => void onSignal());
// A closed terminal sends SIGHUP: stop the in-process stack as on Ctrl-C (a re-run resumes the run).
process.once('SIGHUP', () => void onSignal());

await runCli('start', async () => {
  let region = regionOf(options);
  const localRoot = localDir();
  if (!region && !options.raster) {
    // The demo's tiles are written in the run's dataset encoding (default: the default dataset's),
    // so the demo exercises the decoder a real run uses.
    const dataset = datasetByName(options.dataset ?? DEFAULT_DATASET);
    const dir = join(localRoot, 'demo-tiles', dataset.name);
    const written = await writeSyntheticMosaic(dir, { ...DEMO, dataset });
    options.tilesUrl ??= `file://${dir}/{z}/{x}/{y}.png`;
    process.env.TILES_URL = options.tilesUrl;
    region = { kind: 'tiles', x0: DEMO.x0, y0: DEMO.y0, x1: DEMO.x1, y1: DEMO.y1 };
    say(
      `demo: no region given, so ${written.tiles} synthetic tiles (${written.alerts} alerts, seed ${DEMO.seed}, ${dataset.name} encoding) were written to ${dir};\n` +
        `      --dataset ${dataset.name} --tiles-url ${options.tilesUrl} --tile-bounds ${DEMO.x0},${DEMO.y0},${DEMO.x1},${DEMO.y1} --z ${DEMO.z}`,
    );
  }
  // Sources resolved at submit: `latest` pinned to its release, rasters opened and identified.
  const prepared = await prepareRunOf(options, region, { allowed: allowedSources(), onAws: sstLinked(), maxTiles: maxTilesOf(options.maxTiles) });
  for (const note of prepared.notes) say(`note: ${note}`);
  const spec = prepared.spec;
  let ledger!: Ledger;
  let started = 0;
  // The stack is found or started only once submitRun has accepted the run's size.
  const connect = async () => {
    makeDir(localRoot);
    if (sstLinked()) say('using the SST stack linked in this shell');
    else {
      const running = await findRunningStack();
      // Another `start`'s stack stops when that run ends: only a `dev` stack is shared.
      if (running?.command === 'npm start') {
        throw new Error(`${inUseMessage(localRoot, running)}: wait for it, or run \`npm run dev\` for a stack several commands share`);
      }
      if (running) {
        applyStackEnv(running);
        say(`using the local stack of pid ${running.pid} (${running.command ?? 'npm run dev'})`);
      } else {
        const logPath = join(localRoot, 'start.log');
        const output = redirectConsole(logPath);
        local = await startLocalStack({ workers: options.workers, output, log: (line) => output.write(`${line}\n`) });
        say(`local stack started in this process (${options.workers} consumer workers); handler logs in ${logPath}`);
      }
    }
    started = performance.now();
    ledger = ledgerFromEnv();
    return { ledger, sqs: sqsClient(), queueUrl: tilesQueueUrl(), results: { s3: s3Client(), bucket: resultsBucket() } };
  };
  const submission = await submitRun(spec, connect, { maxTiles: maxTilesOf(options.maxTiles), retryFailed: options.retryFailed });
  if (submission.failed.length > 0) throw new Error(`${submission.failed.length} tile messages could not be sent: ${submission.failed[0].message}`);
  say(
    submission.repaired
      ? `run ${submission.runId}: every tile was done but the manifest was missing: written now`
      : submission.complete
        ? `run ${submission.runId} was already complete (same parameters)${options.retryFailed ? ', with no failed tile to retry' : ''}`
        : submission.heldUntil !== null
          ? `run ${submission.runId}: every tile is done; its manifest is being written (lease until ${new Date(submission.heldUntil).toISOString()}): waiting`
          : `run ${submission.runId}: ${submission.tiles} tiles, ${submission.sent} sent` +
            `${submission.retried ? ` (${submission.retried} failed tiles retried)` : ''}` +
            `${submission.skipped ? `, ${submission.skipped} already done` : ''}`,
  );
  if (!submission.complete) await waitWithProgress(ledger, submission.runId, submission.tiles);
  const seconds = (performance.now() - started) / 1000;

  // One read of the finished run serves the summary, the manifest and the report.
  const service = await new ClusterService({ runId: submission.runId }).fetch();
  const manifest = service.manifest!;
  if (options.json) {
    process.stdout.write(`${JSON.stringify(manifest)}\n`);
  } else {
    const largest = await service.export('table', { sort: 'count', desc: true, limit: 10 });
    const hullHectares = service.records().reduce((sum, c) => sum + c.area_ha, 0);
    process.stdout.write(`${summary(manifest, hullHectares, submission.complete ? null : seconds)}\n\nlargest clusters:\n${largest}\n`);
    process.stdout.write(`\nall clusters: npm run fetch -- ${submission.runId} [--format csv|json|geojson|parquet --out FILE]\n`);
  }
  // The run's HTML report (map, table, details), so the result can be looked at, not only read.
  const reportPath = join(localRoot, 'reports', `${submission.runId}.html`);
  makeDir(join(localRoot, 'reports'));
  writeFileSync(reportPath, await service.report());
  if (options.json) say(`report: ${reportPath}`);
  else process.stdout.write(`report: ${reportPath}\n`);
  await local?.stop();
  // Exit codes (README): 0 every tile done, 1 the run could not be done (bad input, no stack, a
  // timeout…), 2 done but some tiles failed, 130 interrupted.
  if (manifest.tiles_failed > 0) {
    say(`start: ${manifest.tiles_failed} of ${manifest.tiles} tiles failed (exit code 2): npm run fetch -- ${manifest.run_id} --errors`);
    return 2;
  }
  return 0;
}, () => local?.stop());
