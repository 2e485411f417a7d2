// Dead-letter subscriber: a tile message that failed TILE_MAX_RECEIVES receives becomes the tile's
// error.json (stage `dead-letter`, with the last error the consumer recorded), so the aggregator
// counts the tile as failed and the run can complete. A tile that had in fact finished writes no
// record and so triggers no aggregator event: this handler then completes the run itself if every
// tile is accounted and the manifest is missing (a process that died before writing it).
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { ledgerFromEnv, resultsBucket, s3Client } from '../core/store/aws.ts';
import { processPartialBatch } from '../core/store/batch.ts';
import { Logger } from '../core/store/log.ts';
import { clustersKey, lastErrorKey } from '../core/run/keys.ts';
import { parseTileMessage, TILE_MAX_RECEIVES } from '../core/run/messages.ts';
import { getBytes, objectExists, putMessageError, putTileError, putUnroutable, type ResultStore } from '../core/store/result-store.ts';
import { completeRun, type CompletionDeps } from '../core/store/run-completion.ts';

let store: CompletionDeps | undefined;
const log = new Logger({ stage: 'dead-letter' });

// The DLQ message's own ApproximateReceiveCount also counts the move and this receive (5 for
// a tile tried 3 times, locally), so the number said is the queue's redrive count.
const WHY = `message failed ${TILE_MAX_RECEIVES} deliveries (the queue's maxReceiveCount) and was dead-lettered`;

/** One dead letter; throws (to be retried) only when its record could not be written. */
async function processRecord(results: CompletionDeps, record: SQSRecord, log: Logger): Promise<void> {
  const parsed = parseTileMessage(record.body);
  if (parsed.kind === 'unroutable') {
    log.error(`unroutable message: ${WHY}; ${parsed.error}`);
    await putUnroutable(results, record.messageId, `${WHY}; ${parsed.error}`, record.body, 'dead-letter');
    return;
  }
  if (parsed.kind === 'run-error') {
    log.append({ run_id: parsed.runId });
    await putMessageError(results, parsed.runId, record.messageId, `${WHY}; ${parsed.error}`, record.body, 'dead-letter');
    return;
  }
  const runId = parsed.kind === 'ok' ? parsed.message.run_id : parsed.runId;
  const tile = parsed.kind === 'ok' ? parsed.message.tile : parsed.tile;
  log.append({ run_id: runId, tile });
  // A consumer may have written the result and then died before deleting the message: a
  // finished tile stays finished.
  if (await objectExists(results, clustersKey(runId, tile))) {
    const completion = await completeRun(results, runId);
    if (completion.state === 'written') log.info('manifest written (every tile was accounted, the manifest was missing)');
    if (completion.state === 'held') throw Object.assign(new Error(`run ${runId}: manifest is being written by another invocation`), { transient: true });
    return;
  }
  const params = parsed.kind === 'ok' ? parsed.message.params : undefined;
  const cause = await lastError(results, runId, tile);
  const message = cause ? `${WHY}; last error: ${cause}` : WHY;
  await putTileError(results, { runId, tile, message, stage: 'dead-letter', params, messageId: record.messageId });
}

/** The last error the consumer recorded for the tile (core/store/result-store.ts putLastError), if any. */
async function lastError(results: ResultStore, runId: string, tile: { z: number; x: number; y: number }): Promise<string | null> {
  const bytes = await getBytes(results.s3, results.bucket, lastErrorKey(runId, tile));
  if (!bytes) return null;
  try {
    const { message } = JSON.parse(new TextDecoder().decode(bytes)) as { message?: unknown };
    return typeof message === 'string' ? message.slice(0, 1000) : null;
  } catch {
    return null;
  }
}

export async function handler(event: SQSEvent): Promise<SQSBatchResponse> {
  const results = (store ??= { s3: s3Client(), bucket: resultsBucket(), ledger: ledgerFromEnv() });
  return processPartialBatch(event, (record, recordLog) => processRecord(results, record, recordLog), log);
}
