// Dead-letter subscriber: a tile message that failed 3 receives becomes the tile's error.json
// (stage `dead-letter`), so the aggregator counts the tile as failed and the run can complete.
import type { SQSBatchItemFailure, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { resultsBucket, s3Client } from '../core/store/aws.ts';
import { clustersKey } from '../core/run/keys.ts';
import { parseTileMessage, TILE_MAX_RECEIVES } from '../core/run/messages.ts';
import { objectExists, putMessageError, putTileError, putUnroutable, type ResultStore } from '../core/store/result-store.ts';

let store: ResultStore | undefined;

export async function handler(event: SQSEvent): Promise<SQSBatchResponse> {
  store ??= { s3: s3Client(), bucket: resultsBucket() };
  const batchItemFailures: SQSBatchItemFailure[] = [];
  for (const record of event.Records ?? []) {
    // The DLQ message's own ApproximateReceiveCount also counts the move and this receive (5 for
    // a tile tried 3 times, locally), so the number said is the queue's redrive count.
    const why = `message failed ${TILE_MAX_RECEIVES} deliveries (the queue's maxReceiveCount) and was dead-lettered`;
    try {
      const parsed = parseTileMessage(record.body);
      if (parsed.kind === 'unroutable') await putUnroutable(store, record.messageId, `${why}; ${parsed.error}`, record.body, 'dead-letter');
      else if (parsed.kind === 'run-error') await putMessageError(store, parsed.runId, record.messageId, `${why}; ${parsed.error}`, record.body, 'dead-letter');
      else {
        const runId = parsed.kind === 'ok' ? parsed.message.run_id : parsed.runId;
        const tile = parsed.kind === 'ok' ? parsed.message.tile : parsed.tile;
        // A consumer may have written the result and then died before deleting the message: a
        // finished tile stays finished.
        if (await objectExists(store, clustersKey(runId, tile))) continue;
        const params = parsed.kind === 'ok' ? parsed.message.params : undefined;
        await putTileError(store, { runId, tile, message: why, stage: 'dead-letter', params, messageId: record.messageId });
      }
    } catch (error) {
      console.error(`dead letter ${record.messageId}: ${(error as Error).message} (will retry)`);
      batchItemFailures.push({ itemIdentifier: record.messageId });
    }
  }
  return { batchItemFailures };
}
