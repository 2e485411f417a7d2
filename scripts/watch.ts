// npm run watch -- --aoi FILE [--weeks N] [--end YYYY-MM-DD] [run parameters] [--json] [--html FILE]
// The weekly question in one command: runs the area for the latest data (end = tomorrow, so today's
// alerts count; start = end − N weeks with --weeks), waits for it, finds the previous run of the
// same area and parameters in the ledger, prints the diff summary (new clusters, new hectares,
// biggest new ones) and writes the report (new clusters red, grown orange, old hulls dashed).
// `--json` prints the diff manifest (what runs/RUN/diff.json holds). Needs a running stack
// (`npm run dev`) or `sst shell`; the diff itself is written by functions/diff.ts after the manifest.
import '../local/quiet.ts';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { allowedSources, ledgerFromEnv, resultsBucket, s3Client } from '../core/store/aws.ts';
import { ClusterService } from '../core/results/service.ts';
import { summaryText, type DiffManifest } from '../core/results/diff.ts';
import { loadDiffManifest, writeRunDiff } from '../core/results/run-diff.ts';
import { daysToIso, isoToDays } from '../core/tiles/dates.ts';
import { cliCommand, positiveInt, runCli } from '../local/cli-options.ts';
import { addRunOptions, addSizeOption, maxTilesOf, prepareRunOf, regionOf, runSpecOf, type RunOptions } from '../local/run-args.ts';
import { localDir, sstLinked, useStack } from '../local/stack-file.ts';
import { makeDir } from '../core/store/files.ts';

const program = addSizeOption(addRunOptions(
  cliCommand('watch').description('Run an area for the latest data and report what changed since its previous run'),
))
  .option('--weeks <n>', 'alerts of the last N weeks only (start = end − N weeks)')
  .option('--json', 'print the diff manifest as JSON')
  .option('--html <file>', 'where the report goes (default .local/reports/RUN.html)')
  .option('--wait-diff <seconds>', 'how long to wait for functions/diff.ts to write runs/RUN/diff.json', '60')
  .parse();

const options = program.opts<RunOptions & { weeks?: string; json?: boolean; html?: string; waitDiff: string; maxTiles?: string }>();

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

await runCli('watch', async () => {
  if (options.aoi === undefined) throw new Error('give the area: --aoi FILE');
  const region = regionOf(options)!;
  const end = options.end ?? daysToIso(isoToDays(new Date().toISOString().slice(0, 10)) + 1);
  const weeks = options.weeks === undefined ? undefined : positiveInt('--weeks')(options.weeks);
  const start = weeks === undefined ? options.start : daysToIso(isoToDays(end) - 7 * weeks);
  runSpecOf({ ...options, start, end }, region); // the pure checks, before the stack and the network
  const onAws = sstLinked();
  await useStack();
  // Sources resolved as for start and enqueue: the dataset's `latest` pinned to its release.
  const prepared = await prepareRunOf({ ...options, start, end }, region, { allowed: allowedSources(), onAws, maxTiles: maxTilesOf(options.maxTiles) });
  for (const note of prepared.notes) console.error(`note: ${note}`);
  const spec = prepared.spec;
  const service = new ClusterService({ spec });
  console.error(`run ${service.runId}: ${service.requestSize()} tiles, ${spec.start_date} → ${spec.end_date}`);
  await service.run({ maxTiles: maxTilesOf(options.maxTiles) });

  // The diff function writes diff.json after the manifest (as on AWS); wait for it, else write it here.
  const s3 = s3Client();
  const bucket = resultsBucket();
  let manifest: DiffManifest | null = null;
  const deadline = Date.now() + Number(options.waitDiff) * 1000;
  while (!(manifest = await loadDiffManifest(service.runId, s3, bucket)) && Date.now() < deadline) await sleep(500);
  manifest ??= await writeRunDiff(service.runId, { s3, bucket, ledger: ledgerFromEnv() });

  const diff = manifest.previous_run_id ? await service.diff(manifest.previous_run_id) : undefined;
  const html = options.html ?? join(localDir(), 'reports', `${service.runId}.html`);
  makeDir(join(html, '..'));
  writeFileSync(html, await service.report({ diff }));
  if (options.json) console.log(JSON.stringify(manifest, null, 2));
  else if (manifest.summary) process.stdout.write(summaryText(manifest.summary));
  else console.log(`${service.runId}: ${service.manifest?.totals.clusters ?? 0} clusters; ${manifest.note}`);
  console.error(`report: ${html}`);
  return 0;
});
