// S3-triggered diff: when a run's manifest lands (runs/{run}/manifest.json) and the run watches
// areas of interest, the diff against the previous run of the same area and parameters is written
// beside it (runs/{run}/diff.json and diff.geojson) and, when a topic is linked, published to SNS.
// Separate from the aggregator so that it stays thin; the local loop invokes it on the same event.
import { ledgerFromEnv, resultsBucket, s3Client } from '../core/store/aws.ts';
import { errorText, Logger } from '../core/store/log.ts';
import { decodeS3Key, parseManifestKey } from '../core/run/keys.ts';
import { parseS3Event } from '../core/run/messages.ts';
import { loadManifest } from '../core/store/result-store.ts';
import { diffNotifierFromEnv } from '../core/store/diff-store.ts';
import { writeRunDiff } from '../core/results/run-diff.ts';
import { isTransient } from '../core/store/transient.ts';

const log = new Logger({ stage: 'diff' });

/** Lambda entry point (S3 notification on manifest.json). Throws only on transient failures (Lambda retries). */
export async function handler(event: unknown): Promise<void> {
  const s3 = s3Client();
  const bucket = resultsBucket();
  const { records, errors } = parseS3Event(event);
  for (const error of errors) log.error(error);
  const failures: string[] = [];
  for (const record of records) {
    if (!record.eventName.startsWith('ObjectCreated')) continue;
    const runId = parseManifestKey(decodeS3Key(record.s3.object.key));
    if (!runId) continue;
    try {
      const manifest = await loadManifest(runId, s3, bucket);
      if (!manifest?.params.aoi) continue; // only runs of areas of interest are watched
      const out = await writeRunDiff(runId, { s3, bucket, ledger: ledgerFromEnv(), notify: diffNotifierFromEnv() });
      log.info(out.summary ? `diff vs ${out.previous_run_id}: ${out.summary.new} new, ${out.summary.grown} grown, ${out.summary.gone} gone` : `no diff: ${out.note}`, { run_id: runId });
    } catch (error) {
      if (isTransient(error)) failures.push(`${runId}: ${errorText(error)}`);
      else log.error(`diff failed: ${errorText(error)}`, { run_id: runId });
    }
  }
  if (failures.length > 0) throw new Error(`diff failed on ${failures.length} record(s): ${failures.join('; ')}`);
}
