// SQS consumer: one message = one tile of one run. Clusters the tile (runTile, with its halo) and
// writes members.parquet then clusters.parquet. Bad messages and corrupt tiles become error
// records (never retried); a transient failure (tile server or S3 unavailable) throws, and the
// partial batch response sends back only that record.
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { allowedSources, resultsBucket, s3Client } from '../core/store/aws.ts';
import { processPartialBatch } from '../core/store/batch.ts';
import { errorText, Logger } from '../core/store/log.ts';
import { parseTileMessage } from '../core/run/messages.ts';
import { putMessageError, putTileError, putTileResult, putUnroutable, type ResultStore } from '../core/store/result-store.ts';
import { alertSourceOf } from '../core/store/run-sources.ts';
import { runTile } from '../core/clusters/tile-job.ts';
import { isTransient } from '../core/store/transient.ts';

let store: ResultStore | undefined;
const log = new Logger({ stage: 'tile' });
/** On Lambda a message may name only the stack's allowed sources, and never a local file. */
const onLambda = Boolean(process.env.AWS_LAMBDA_FUNCTION_NAME);

/** One message; throws only for what a retry may fix (after 3 receives the dead-letter handler records it). */
async function processRecord(results: ResultStore, record: SQSRecord, log: Logger): Promise<void> {
  const parsed = parseTileMessage(record.body);
  if (parsed.kind === 'unroutable') {
    log.error(`unroutable message: ${parsed.error}`, { stage: 'message' });
    await putUnroutable(results, record.messageId, parsed.error, record.body, 'message');
    return;
  }
  if (parsed.kind === 'run-error') {
    log.append({ run_id: parsed.runId, stage: 'message' });
    log.error(parsed.error);
    await putMessageError(results, parsed.runId, record.messageId, parsed.error, record.body, 'message');
    return;
  }
  if (parsed.kind === 'tile-error') {
    log.append({ run_id: parsed.runId, tile: parsed.tile, stage: 'message' });
    log.error(parsed.error);
    await putTileError(results, { runId: parsed.runId, tile: parsed.tile, message: parsed.error, stage: 'message', messageId: record.messageId });
    return;
  }

  const { run_id: runId, tile, params } = parsed.message;
  log.append({ run_id: runId, tile });
  let clusters;
  try {
    // A corrupt neighbour is read as missing (documented): say so in the log rather than silently.
    const onWarning = (warning: string) => log.warn(`warning: ${warning}`);
    // Tile sources and open rasters are kept across invocations of a warm Lambda (run-sources.ts).
    const source = await alertSourceOf(params, { onLambda, allowed: allowedSources() });
    clusters = (await runTile(tile, params, source, { onWarning })).clusters;
  } catch (error) {
    if (isTransient(error)) throw error;
    log.error(errorText(error));
    await putTileError(results, { runId, tile, message: errorText(error), stage: 'tile', params, messageId: record.messageId });
    return;
  }
  await putTileResult(results, runId, params, tile, clusters);
}

/** Lambda entry point (SQS batch, partial batch responses enabled in sst.config.ts). */
export async function handler(event: SQSEvent): Promise<SQSBatchResponse> {
  const results = (store ??= { s3: s3Client(), bucket: resultsBucket() });
  return processPartialBatch(event, (record, recordLog) => processRecord(results, record, recordLog), log);
}
