// npx sst shell --stage NAME -- npm run replay:aggregator
// Replays the aggregator events that failed all of Lambda's attempts: reads the AggregatorFailures
// queue (Lambda's on-failure destination; `sst shell` sets SST_RESOURCE_AggregatorFailures), runs
// the aggregator handler in this process on each record's original S3 event, deletes the records
// that succeed and leaves the others. Prints the counts as one JSON line on stdout (last line);
// exits 1 when a record was left in the queue. Safe to run again: each tile is counted once.
import '../local/quiet.ts';
import { aggregatorFailuresQueueUrl, sqsClient } from '../core/store/aws.ts';
import { replayAggregatorFailures } from '../core/store/replay-aggregator.ts';
import { handler } from '../functions/aggregator.ts';
import { runCli } from '../local/cli-options.ts';

await runCli('replay:aggregator', async () => {
  const queueUrl = aggregatorFailuresQueueUrl();
  const summary = await replayAggregatorFailures({ sqs: sqsClient(), queueUrl, handler });
  const left = summary.malformed + summary.failed;
  console.error(`replayed ${summary.replayed} of ${summary.received} record(s); left in the queue: ${summary.malformed} malformed, ${summary.failed} failed`);
  console.log(JSON.stringify(summary));
  return left > 0 ? 1 : 0;
});
