// SQS partial batch responses in the shape of Powertools' processPartialResponse: a record handler
// per record that throws to have that record retried; every other record of the batch is deleted.
// (sst.config.ts enables ReportBatchItemFailures on both queues.)
import type { SQSBatchItemFailure, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { errorText, type Logger } from './log.ts';
import { isTransient } from './transient.ts';

/** Handles one record; throwing sends the record back to the queue. `log` carries its message id. */
type RecordHandler = (record: SQSRecord, log: Logger) => Promise<void>;

/**
 * Runs the records one after another (clustering is CPU-bound and a batch is small) and returns
 * the failed ones as `batchItemFailures`. Unlike Powertools' default, a batch whose records all
 * fail is returned, not thrown: the response already retries every record.
 */
export async function processPartialBatch(event: SQSEvent, handle: RecordHandler, log: Logger): Promise<SQSBatchResponse> {
  const batchItemFailures: SQSBatchItemFailure[] = [];
  for (const record of event.Records ?? []) {
    const recordLog = log.with({ message_id: record.messageId });
    try {
      await handle(record, recordLog);
    } catch (error) {
      // The handler's appended keys (run, tile) are on this line too.
      recordLog.log(isTransient(error) ? 'WARN' : 'ERROR', `will retry: ${errorText(error)}`);
      batchItemFailures.push({ itemIdentifier: record.messageId });
    }
  }
  return { batchItemFailures };
}
