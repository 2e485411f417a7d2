// npm run dev — the offline stand-in for `sst dev`: emulators (S3, SQS, DynamoDB) on 127.0.0.1,
// the bucket, queues and ledger table, and the same handlers Lambda runs, driven by the local loop.
// Keeps running (Ctrl-C stops it); other terminals find it through .local/stack.json.
import '../local/quiet.ts';
import { availableParallelism } from 'node:os';
import { cliCommand, positiveInt, runCli, workersOption } from '../local/cli-options.ts';
import { startLocalStack } from '../local/dev-stack.ts';
import { findRunningStack, localDir } from '../local/stack-file.ts';
import { inUseMessage } from '../local/state-lock.ts';

const program = cliCommand('dev')
  .description('Run the local stack: emulators + the Lambda handlers, until Ctrl-C')
  .option('--workers <n>', 'consumer worker threads', workersOption('dev'), availableParallelism())
  .option('--visibility-timeout <s>', 'seconds before an unfinished message is retried', positiveInt('--visibility-timeout'), 30)
  .parse();
const options = program.opts<{ workers: number; visibilityTimeout: number }>();

await runCli('dev', async () => {
  const running = await findRunningStack();
  if (running) throw new Error(`${inUseMessage(localDir(), { pid: running.pid, command: running.command ?? 'npm run dev' })}: stop it first`);
  const local = await startLocalStack({ workers: options.workers, visibilityTimeout: options.visibilityTimeout });
  const { stack } = local;
  const shutdown = async (signal: string) => {
    console.error(`\n${signal}: stopping the local stack`);
    await local.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  // A closed terminal sends SIGHUP: stop as cleanly as on Ctrl-C.
  process.once('SIGHUP', () => void shutdown('SIGHUP'));
  // Announced once the signals are handled, so whoever waits for this line may stop it at once.
  console.error(
    [
      `local stack up (pid ${process.pid}, ${options.workers} consumer workers), state in ${localDir()}/state`,
      `  S3        ${stack.endpoints.s3}  bucket ${stack.names.bucket}`,
      `  SQS       ${stack.endpoints.sqs}  queue ${stack.names.queue}, dead letters ${stack.names.deadLetterQueue}`,
      `  DynamoDB  ${stack.endpoints.dynamodb}  table ${stack.names.table}`,
      `next, in another terminal: npm run enqueue -- --xy 1355,2040   then   npm run fetch -- RUN_ID`,
    ].join('\n'),
  );
});
