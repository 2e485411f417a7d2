// SQS consumer: one message = one tile of one run. Clusters the tile (runTile, with its halo) and
// writes members.parquet then clusters.parquet. Bad messages and corrupt tiles become error
// records (never retried); transient failures go back to SQS through batchItemFailures only for
// their own record (partial batch response).
import type { SQSBatchItemFailure, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { resultsBucket, s3Client } from '../core/store/aws.ts';
import { parseTileMessage } from '../core/run/messages.ts';
import { putMessageError, putTileError, putTileResult, putUnroutable, type ResultStore } from '../core/store/result-writer.ts';
import { tileSourceFromTemplate } from '../core/store/tile-sources.ts';
import { runTile } from '../core/clusters/tile-job.ts';
import { tileKey } from '../core/tiles/grid.ts';
import { isTransient } from '../core/store/transient.ts';
import type { TileSource } from '../core/tiles/types.ts';

/** What happened to one record: finished (result or error record written) or to be retried. */
type RecordOutcome = 'done' | 'retry';

let store: ResultStore | undefined;
const sources = new Map<string, TileSource>();

/** One tile source per template, kept across invocations of a warm Lambda (reuses connections). */
function sourceFor(template: string): TileSource {
  let source = sources.get(template);
  if (!source) {
    source = tileSourceFromTemplate(template);
    sources.set(template, source);
  }
  return source;
}

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

async function processRecord(record: SQSRecord, results: ResultStore): Promise<RecordOutcome> {
  const parsed = parseTileMessage(record.body);
  if (parsed.kind === 'unroutable') {
    await putUnroutable(results, record.messageId, parsed.error, record.body, 'message');
    return 'done';
  }
  if (parsed.kind === 'run-error') {
    console.error(`run ${parsed.runId}: message ${record.messageId}: ${parsed.error}`);
    await putMessageError(results, parsed.runId, record.messageId, parsed.error, record.body, 'message');
    return 'done';
  }
  if (parsed.kind === 'tile-error') {
    console.error(`run ${parsed.runId} tile ${tileKey(parsed.tile)}: ${parsed.error}`);
    await putTileError(results, { runId: parsed.runId, tile: parsed.tile, message: parsed.error, stage: 'message', messageId: record.messageId });
    return 'done';
  }

  const { run_id: runId, tile, params } = parsed.message;
  let clusters;
  try {
    // A corrupt neighbour is read as missing (documented): say so in the log rather than silently.
    const onWarning = (warning: string) => console.warn(`run ${runId} tile ${tileKey(tile)}: warning: ${warning}`);
    clusters = (await runTile(tile, params, sourceFor(params.tiles_url), { onWarning })).clusters;
  } catch (error) {
    if (isTransient(error)) {
      console.warn(`run ${runId} tile ${tileKey(tile)}: transient failure, will retry: ${errorText(error)}`);
      return 'retry';
    }
    console.error(`run ${runId} tile ${tileKey(tile)}: ${errorText(error)}`);
    await putTileError(results, { runId, tile, message: errorText(error), stage: 'tile', params, messageId: record.messageId });
    return 'done';
  }
  await putTileResult(results, runId, params, tile, clusters);
  return 'done';
}

/** Lambda entry point (SQS batch, partial batch responses enabled in sst.config.ts). */
export async function handler(event: SQSEvent): Promise<SQSBatchResponse> {
  store ??= { s3: s3Client(), bucket: resultsBucket() };
  const batchItemFailures: SQSBatchItemFailure[] = [];
  // Sequential: clustering is CPU-bound and a Lambda has few cores; a batch is small.
  for (const record of event.Records ?? []) {
    try {
      if ((await processRecord(record, store)) === 'retry') batchItemFailures.push({ itemIdentifier: record.messageId });
    } catch (error) {
      // Writing a result or error record failed (S3 down, throttled, denied): retry this record
      // only; after 3 receives SQS dead-letters it and the dead-letter handler records it.
      console.error(`message ${record.messageId}: ${errorText(error)} (will retry)`);
      batchItemFailures.push({ itemIdentifier: record.messageId });
    }
  }
  return { batchItemFailures };
}
