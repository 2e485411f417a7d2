// npm run fetch -- RUN_ID [--format table|csv|json|geojson|parquet] [--out FILE] [--full]
// Reads a finished run (manifest + result Parquet files) and prints or writes its clusters.
// Uses the linked resources under `sst shell`, else the running local stack, else the local state
// left in .local/state by an earlier `npm start` / `npm run dev` (emulators started just to read it).
import '../local/quiet.ts';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { dynamoDocClient, ledgerTable, resultsBucket, s3Client } from '../core/aws.ts';
import { checkFormat, exportClusters } from '../core/exports.ts';
import { Ledger } from '../core/ledger.ts';
import { loadRun, RunNotFoundError } from '../core/load-run.ts';
import { isRunId } from '../core/run.ts';
import { startEmulators, type Emulators } from '../local/emulators.ts';
import { localDir, NO_STACK, useStack } from '../local/stack-file.ts';
import { DEFAULT_NAMES, stackEnv, queueUrl } from '../local/stack.ts';

const program = new Command()
  .name('fetch')
  .description("Print or write a finished run's clusters")
  .argument('<run_id>', 'run id printed by enqueue/start (r-<16 hex digits>)')
  .option('--format <format>', 'table | csv | json | geojson | parquet', 'table')
  .option('--out <file>', 'write to FILE instead of stdout')
  .option('--full', 'include each cluster\'s alerts (members)')
  .showHelpAfterError(false)
  .configureOutput({ outputError: (message, write) => write(message.split('\n')[0] + '\n') })
  .parse();

const [id] = program.args;
const options = program.opts<{ format: string; out?: string; full?: boolean }>();

/** Emulators on the persisted local state, when no stack is running (just to read results). */
async function openLocalState(): Promise<Emulators> {
  const stateDir = join(localDir(), 'state');
  if (!existsSync(join(stateDir, 's3', DEFAULT_NAMES.bucket))) throw new Error(NO_STACK);
  const emulators = await startEmulators({ dir: stateDir });
  const info = { endpoints: emulators.endpoints, names: DEFAULT_NAMES, visibilityTimeout: 30 };
  Object.assign(process.env, stackEnv({ ...info, queueUrl: queueUrl(info.endpoints.sqs, DEFAULT_NAMES.queue), deadLetterQueueUrl: queueUrl(info.endpoints.sqs, DEFAULT_NAMES.deadLetterQueue) }));
  return emulators;
}

let opened: Emulators | undefined;
try {
  if (!isRunId(id)) throw new Error(`"${id}" is not a run id (r-<16 hex digits>)`);
  const format = checkFormat(options.format);
  if (format === 'parquet' && !options.out) throw new Error('--format parquet writes a file: give --out FILE');
  try {
    await useStack();
  } catch (error) {
    if ((error as Error).message !== NO_STACK) throw error;
    opened = await openLocalState();
  }

  let run;
  try {
    run = await loadRun(id, s3Client(), { bucket: resultsBucket(), full: options.full });
  } catch (error) {
    if (!(error instanceof RunNotFoundError)) throw error;
    const progress = await new Ledger(dynamoDocClient(), ledgerTable()).progress(id);
    throw new Error(progress ? `run ${id} is not finished yet: ${progress.finished} of ${progress.tiles} tiles done` : `unknown run ${id}`);
  }

  const output = await exportClusters(run.clusters, format, { full: options.full });
  if (options.out) {
    writeFileSync(options.out, output);
    console.error(`wrote ${run.clusters.length} clusters of run ${id} to ${options.out}`);
  } else {
    process.stdout.write(typeof output === 'string' && !output.endsWith('\n') ? `${output}\n` : output);
  }
  await opened?.stop();
  process.exit(0);
} catch (error) {
  console.error(`fetch: ${(error as Error).message.split('\n')[0]}`);
  await opened?.stop().catch(() => undefined);
  process.exit(1);
}
