// Dead-letter subscriber: a tile message that failed 3 receives becomes the tile's error.json
// (stage `dead-letter`), so the aggregator counts the tile as failed and the run can complete.
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { resultsBucket, s3Client } from '../core/store/aws.ts';
import { processPartialBatch } from '../core/store/batch.ts';
import { Logger } from '../core/store/log.ts';
import { clustersKey } from '../core/run/keys.ts';
import { parseTileMessage, TILE_MAX_RECEIVES } from '../core/run/messages.ts';
import { objectExists, putMessageError, putTileError, putUnroutable, type ResultStore } from '../core/store/result-store.ts';

let store: ResultStore | undefined;
const log = new Logger({ stage: 'dead-letter' });

// The DLQ message's own ApproximateReceiveCount also counts the move and this receive (5 for
// a tile tried 3 times, locally), so the number said is the queue's redrive count.
const WHY = `message failed ${TILE_MAX_RECEIVES} deliveries (the queue's maxReceiveCount) and was dead-lettered`;

/** One dead letter; throws (to be retried) only when its record could not be written. */
async function processRecord(results: ResultStore, record: SQSRecord, log: Logger): Promise<void> {
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
  if (await objectExists(results, clustersKey(runId, tile))) return;
  const params = parsed.kind === 'ok' ? parsed.message.params : undefined;
  await putTileError(results, { runId, tile, message: WHY, stage: 'dead-letter', params, messageId: record.messageId });
}

export async function handler(event: SQSEvent): Promise<SQSBatchResponse> {
  const results = (store ??= { s3: s3Client(), bucket: resultsBucket() });
  return processPartialBatch(event, (record, recordLog) => processRecord(results, record, recordLog), log);
}
