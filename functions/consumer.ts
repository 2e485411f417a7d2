// SQS consumer: one message = one tile of one run. Clusters the tile (runTile, with its halo); a
// tile with clusters becomes one object, clusters.parquet with its members (the aggregator counts it
// on its S3 event); a tile without clusters writes nothing to S3: the consumer records it in the
// ledger itself, and if that completes the run writes the manifest (completeRun, the same claim as
// the aggregator's). Bad messages and corrupt tiles become error records (never retried); a
// transient failure (tile server, S3 or DynamoDB unavailable) throws, and the partial batch response
// sends back only that record.
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { allowedSources, ledgerFromEnv, resultsBucket, s3Client, sqsClient, tilesQueueUrl } from '../core/store/aws.ts';
import type { Ledger } from '../core/store/ledger.ts';
import { emptyOutcome } from '../core/run/manifest.ts';
import { completeRun } from '../core/store/run-completion.ts';
import type { RunSpec } from '../core/run/params.ts';
import { DEADLINE_RESERVE_MS, processPartialBatch, type BatchOptions } from '../core/store/batch.ts';
import { budgetedEngine, tileBudget } from '../core/clusters/budget.ts';
import * as clusterEngine from '../core/meanshift/engine.ts';
import { errorText, Logger } from '../core/store/log.ts';
import { parseTileMessage } from '../core/run/messages.ts';
import { putLastError, putMessageError, putTileError, putTileResult, putUnroutable, type ResultStore } from '../core/store/result-store.ts';
import { alertSourceOf } from '../core/store/run-sources.ts';
import { runTile, tileReader, type ClusterEngine, type TileReader } from '../core/clusters/tile-job.ts';
import { isTransient } from '../core/store/transient.ts';
import type { TileAddress } from '../core/tiles/types.ts';

let store: ResultStore | undefined;
/** Made on the first empty tile (tiles with clusters need no ledger call here). */
let ledger: Ledger | undefined;
let backoff: { value: BatchOptions['visibility'] } | undefined;
const log = new Logger({ stage: 'tile' });
/** On Lambda a message may name only the stack's allowed sources, and never a local file. */
const onLambda = Boolean(process.env.AWS_LAMBDA_FUNCTION_NAME);

/** One message; throws only for what a retry may fix (after 3 receives the dead-letter handler records it). */
async function processRecord(results: ResultStore, record: SQSRecord, log: Logger, engine?: ClusterEngine, readers = new Map<string, TileReader>()): Promise<void> {
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
  let result;
  try {
    // A corrupt neighbour is read as missing (documented): say so in the log rather than silently.
    const onWarning = (warning: string) => log.warn(`warning: ${warning}`);
    // Tile sources and open rasters are kept across invocations of a warm Lambda (run-sources.ts).
    const source = await alertSourceOf(params, { onLambda, allowed: allowedSources() });
    // The batch's messages of one run share their reads: a neighbour of several tiles is read and
    // decoded once (enqueue sends a run's tiles row by row, so a batch holds neighbours).
    const key = JSON.stringify(params);
    let tiles = readers.get(key);
    if (!tiles) readers.set(key, (tiles = tileReader(params, source)));
    result = await runTile(tile, params, source, { onWarning, engine, tiles });
  } catch (error) {
    if (isTransient(error)) throw await remembered(results, runId, tile, record, error);
    log.error(errorText(error));
    await putTileError(results, { runId, tile, message: errorText(error), stage: 'tile', params, messageId: record.messageId });
    return;
  }
  try {
    if (result.clusters.length > 0) await putTileResult(results, runId, params, tile, result.clusters, result.tile_alerts);
    else await recordEmpty(results, runId, params, tile, result.tile_alerts, log);
  } catch (error) {
    throw await remembered(results, runId, tile, record, error);
  }
}

/**
 * An empty tile: recorded in the ledger once (first outcome wins, as for the aggregator's events),
 * no S3 object. The record that completes the run writes the manifest under the ledger's claim; while
 * another writer holds the claim, throws a transient error so the message comes back later (by then
 * the manifest is written, or a crashed writer's lease has run out).
 */
async function recordEmpty(results: ResultStore, runId: string, spec: RunSpec, tile: TileAddress, tileAlerts: number | undefined, log: Logger): Promise<void> {
  ledger ??= ledgerFromEnv();
  const recorded = await ledger.recordTile(runId, spec, emptyOutcome(tile, tileAlerts));
  if (!recorded.firstTime) log.info(`already recorded (${recorded.outcome.status})`);
  if (!recorded.runComplete) return;
  const completion = await completeRun({ ...results, ledger }, runId, { accounted: true });
  if (completion.state === 'held') throw Object.assign(new Error(`run ${runId}: manifest is being written by another invocation`), { transient: true });
  if (completion.state === 'written') {
    const m = completion.manifest;
    log.info(`manifest written (${m.tiles} tiles, ${m.tiles_failed} failed, ${m.totals.clusters} clusters)`);
  }
}

/**
 * Keeps the cause of a failed attempt next to the tile (lastErrorKey), so that if the message
 * is dead-lettered its error record says why (e.g. `getaddrinfo ENOTFOUND …`), not only
 * "failed N deliveries". Returns the error, to be thrown.
 */
async function remembered(results: ResultStore, runId: string, tile: TileAddress, record: SQSRecord, error: unknown): Promise<unknown> {
  await putLastError(results, runId, tile, errorText(error), Number(record.attributes?.ApproximateReceiveCount ?? 1));
  return error;
}

/** Where failed records get their short back-off: the tile queue (none when it is not linked). */
function visibility(): BatchOptions['visibility'] {
  try {
    return { sqs: sqsClient(), queueUrl: tilesQueueUrl() };
  } catch {
    return undefined;
  }
}

/**
 * Lambda entry point (SQS batch, partial batch responses enabled in sst.config.ts). Records are
 * taken while the invocation has time for one more; a tile's clustering passes must start before
 * the invocation's deadline less DEADLINE_RESERVE_MS (a runaway becomes an error record, see
 * core/clusters/budget.ts).
 */
export async function handler(event: SQSEvent, context?: Pick<Context, 'getRemainingTimeInMillis'>): Promise<SQSBatchResponse> {
  const results = (store ??= { s3: s3Client(), bucket: resultsBucket() });
  backoff ??= { value: visibility() };
  // A caller without Lambda's context (a bundle smoke test, a replay) has no deadline.
  const remainingMs = typeof context?.getRemainingTimeInMillis === 'function' ? () => context.getRemainingTimeInMillis() : undefined;
  const engine = (): ClusterEngine => {
    const deadline = remainingMs ? performance.now() + remainingMs() - DEADLINE_RESERVE_MS : Infinity;
    return budgetedEngine(clusterEngine, tileBudget({ deadline }));
  };
  // Tile reads shared by the batch's messages of a run (dropped with the batch).
  const readers = new Map<string, TileReader>();
  return processPartialBatch(event, (record, recordLog) => processRecord(results, record, recordLog, engine(), readers), log, {
    remainingMs,
    visibility: backoff.value,
  });
}
