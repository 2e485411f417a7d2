// npm run enqueue -- <region> [parameters] [--info]
// Records a run in the ledger and sends one message per tile (batches of 10, failed entries
// retried); prints the run id. Under `sst shell` it uses the linked resources, otherwise the local
// stack of `npm run dev` / `npm start` (found through .local/stack.json).
import '../local/quiet.ts';
import { ledgerFromEnv, sqsClient, tilesQueueUrl } from '../core/store/aws.ts';
import { submitRun } from '../core/store/queue.ts';
import { regionNotes, runId, runTileCount, type RunSpec } from '../core/run/params.ts';
import { cliCommand, runCli } from '../local/cli-options.ts';
import { addRunOptions, addSizeOption, maxTilesOf, regionOf, runLonLatBounds, runSpecOf, type RunOptions } from '../local/run-args.ts';
import { useStack } from '../local/stack-file.ts';
import { tileCount } from '../core/tiles/grid.ts';

/** What `--info` prints: the run that would be sent. */
function runInfo(spec: RunSpec, notes: string[] = []) {
  const { region, tiles_url, start_date, end_date, ...params } = spec;
  const { aoi, ...rest } = params;
  return {
    ...(notes.length > 0 ? { notes } : {}),
    run_id: runId(spec),
    tiles: runTileCount(spec),
    ...(aoi ? { box_tiles: tileCount(region), areas: aoi.areas.map((a) => a.name) } : {}),
    tile_bounds: region,
    lonlat_bounds: runLonLatBounds(spec),
    start_date,
    end_date,
    params: rest,
    tiles_url,
  };
}

const program = addSizeOption(addRunOptions(
  cliCommand('enqueue')
    .description('Send a clustering run (one message per tile) to the tile queue; prints the run id'),
))
  .option('--info', 'print what would run (tiles, bounds, dates, parameters) and send nothing')
  .parse();

const options = program.opts<RunOptions & { info?: boolean; maxTiles?: string }>();

await runCli('enqueue', async () => {
  const region = regionOf(options);
  if (!region) throw new Error('give a region: --tile-bounds, --bounds, --lonlat, --xy or --aoi');
  const spec = runSpecOf(options, region);
  const notes = regionNotes(region, spec);
  if (options.info) {
    // --info sends nothing, so it describes a run of any size (that is how to see one before raising the limit).
    console.log(JSON.stringify(runInfo(spec, notes), null, 2));
  } else {
    const connect = async () => {
      for (const note of notes) console.error(`note: ${note}`);
      await useStack();
      return { ledger: ledgerFromEnv(), sqs: sqsClient(), queueUrl: tilesQueueUrl() };
    };
    const submission = await submitRun(spec, connect, { maxTiles: maxTilesOf(options.maxTiles) });
    if (submission.failed.length > 0) {
      const first = submission.failed[0];
      throw new Error(`${submission.failed.length} of ${submission.sent + submission.failed.length} messages could not be sent (first: ${first.message})`);
    }
    if (submission.complete) console.error(`run ${submission.runId} is already complete (same parameters): nothing sent`);
    else {
      const resumed = submission.skipped > 0 ? ` (resumed: ${submission.skipped} tiles already finished)` : '';
      console.error(`sent ${submission.sent} of ${submission.tiles} tile messages${resumed}`);
    }
    console.log(submission.runId);
  }
  return 0;
});
