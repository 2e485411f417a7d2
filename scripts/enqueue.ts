// npm run enqueue -- <region> [parameters] [--info]
// Records a run in the ledger and sends one message per tile (batches of 10, failed entries
// retried); prints the run id. Under `sst shell` it uses the linked resources, otherwise the local
// stack of `npm run dev` / `npm start` (found through .local/stack.json).
import '../local/quiet.ts';
import { allowedSources, ledgerFromEnv, resultsBucket, s3Client, sqsClient, tilesQueueUrl } from '../core/store/aws.ts';
import { submitRun } from '../core/store/queue.ts';
import { checkRunSize, regionNotes, runId, runTileCount, type RunSpec } from '../core/run/params.ts';
import { cliCommand, runCli } from '../local/cli-options.ts';
import { addRunOptions, addSizeOption, maxTilesOf, prepareRunOf, regionOf, runLonLatBounds, runSpecOf, type RunOptions } from '../local/run-args.ts';
import { sstLinked, useStack } from '../local/stack-file.ts';
import { tileCount } from '../core/tiles/grid.ts';

/** What `--info` prints: the run that would be sent. */
function runInfo(spec: RunSpec, notes: string[] = []) {
  const { region, tiles_url, rasters, dataset, version, confidence, start_date, end_date, aoi, ...params } = spec;
  return {
    ...(notes.length > 0 ? { notes } : {}),
    run_id: runId(spec),
    tiles: runTileCount(spec),
    ...(aoi ? { box_tiles: tileCount(region), areas: aoi.areas.map((a) => a.name) } : {}),
    tile_bounds: region,
    lonlat_bounds: runLonLatBounds(spec),
    start_date,
    end_date,
    params,
    dataset,
    ...(version !== undefined ? { version } : {}),
    ...(confidence !== undefined ? { confidence } : {}),
    ...(rasters !== undefined ? { rasters } : { tiles_url }),
  };
}

const program = addSizeOption(addRunOptions(
  cliCommand('enqueue')
    .description('Send a clustering run (one message per tile) to the tile queue; prints the run id'),
))
  .option('--info', 'print what would run (tiles, bounds, dates, parameters) and send nothing')
  .option('--retry-failed', "send the run's failed tiles again (the manifest is rewritten with their new outcomes)")
  .parse();

const options = program.opts<RunOptions & { info?: boolean; maxTiles?: string; retryFailed?: boolean }>();

await runCli('enqueue', async () => {
  const region = regionOf(options);
  if (!region && !options.raster) throw new Error('give a region: --tile-bounds, --bounds, --lonlat, --xy or --aoi (or --raster: its bounds)');
  // A deployed stack (`sst shell`): decided before useStack, which sets the same variables for a local one.
  const onAws = sstLinked();
  if (!options.info && !options.raster) {
    // The pure checks, then the stack, then the network (pinning `latest`): a missing stack is said
    // before a request that may fail offline.
    checkRunSize(runSpecOf(options, region!), maxTilesOf(options.maxTiles));
    await useStack();
  }
  // Sources resolved at submit: `latest` pinned, rasters checked; on AWS only the stack's sources.
  const allowed = allowedSources();
  const prepared = await prepareRunOf(options, region, { allowed, onAws, maxTiles: options.info ? undefined : maxTilesOf(options.maxTiles) });
  const spec = prepared.spec;
  const notes = [...prepared.notes, ...(region ? regionNotes(region, spec) : [])];
  if (options.info) {
    // --info sends nothing, so it describes a run of any size (that is how to see one before raising the limit).
    const tiles = runTileCount(spec);
    const maxTiles = maxTilesOf(options.maxTiles);
    const n = (v: number) => v.toLocaleString('en-US');
    if (tiles > maxTiles) notes.push(`${n(tiles)} tiles is over the limit of ${n(maxTiles)}: sending it needs --max-tiles ${tiles}`);
    console.log(JSON.stringify(runInfo(spec, notes), null, 2));
  } else {
    const connect = async () => {
      for (const note of notes) console.error(`note: ${note}`);
      await useStack();
      return { ledger: ledgerFromEnv(), sqs: sqsClient(), queueUrl: tilesQueueUrl(), results: { s3: s3Client(), bucket: resultsBucket() } };
    };
    const submission = await submitRun(spec, connect, { maxTiles: maxTilesOf(options.maxTiles), retryFailed: options.retryFailed });
    if (submission.failed.length > 0) {
      const first = submission.failed[0];
      throw new Error(`${submission.failed.length} of ${submission.sent + submission.failed.length} messages could not be sent (first: ${first.message})`);
    }
    if (submission.repaired) console.error(`run ${submission.runId}: every tile was done but the manifest was missing: written now`);
    else if (submission.complete) console.error(`run ${submission.runId} is already complete (same parameters): nothing sent`);
    else if (submission.heldUntil !== null) {
      console.error(`run ${submission.runId}: every tile is done; its manifest is being written (lease until ${new Date(submission.heldUntil).toISOString()}): nothing sent`);
    } else {
      const resumed = submission.skipped > 0 ? ` (resumed: ${submission.skipped} tiles already finished)` : '';
      const retried = submission.retried > 0 ? ` (${submission.retried} failed tiles retried)` : '';
      console.error(`sent ${submission.sent} of ${submission.tiles} tile messages${retried}${resumed}`);
    }
    console.log(submission.runId);
  }
  return 0;
});
