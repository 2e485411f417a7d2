// Weekly run of a watched area (sst.aws.Cron of sst.config.ts, one per area of watch.json): reads
// the area's GeoJSON from the results bucket (watch/{name}.geojson, uploaded at deploy), builds the
// run for the latest data (end = tomorrow UTC, start = end − weeks) and enqueues it. When its
// manifest lands, functions/diff.ts writes the diff against the previous run of the area.
import { allowedSources, ledgerFromEnv, resultsBucket, s3Client, sqsClient, tilesQueueUrl } from '../core/store/aws.ts';
import { prepareRun } from '../core/store/run-sources.ts';
import { Logger } from '../core/store/log.ts';
import { submitRun } from '../core/store/queue.ts';
import { getBytes } from '../core/store/result-store.ts';
import { watchRunRequest, type WatchEvent } from '../core/run/watch.ts';

const log = new Logger({ stage: 'watch' });

export async function handler(event: WatchEvent): Promise<{ run_id: string; sent: number }> {
  const bytes = await getBytes(s3Client(), resultsBucket(), event.area_key);
  if (!bytes) throw new Error(`watched area ${event.area_key} is missing from the results bucket`);
  const request = watchRunRequest(event, JSON.parse(new TextDecoder().decode(bytes)), new Date());
  const { spec } = await prepareRun(request, { allowed: allowedSources(), onAws: true });
  const submission = await submitRun(spec, { ledger: ledgerFromEnv(), sqs: sqsClient(), queueUrl: tilesQueueUrl() }, { maxTiles: Number(event.max_tiles ?? 10_000) });
  if (submission.failed.length > 0) throw new Error(`${submission.failed.length} tile messages could not be sent (first: ${submission.failed[0].message})`);
  log.info(`enqueued ${submission.sent} of ${submission.tiles} tiles for ${event.area_key}`, { run_id: submission.runId });
  return { run_id: submission.runId, sent: submission.sent };
}
