// npm run diff -- OLD_RUN NEW_RUN [--format table|csv|json|geojson|parquet] [--out FILE] [--summary]
// What changed between two finished runs: the new run's clusters with status new | grown | shrunk |
// same and their deltas, plus the old run's clusters that are gone (rule: docs/results.md).
// Uses the linked resources under `sst shell`, else the running local stack, else the local state.
import '../local/quiet.ts';
import { writeFileSync } from 'node:fs';
import { checkFormat } from '../core/results/exports.ts';
import { exportDiff, summaryText } from '../core/results/diff.ts';
import { isRunId } from '../core/run/params.ts';
import { ClusterService } from '../core/results/service.ts';
import { cliCommand, runCli } from '../local/cli-options.ts';
import type { Emulators } from '../local/emulators.ts';
import { useStackOrLocalState } from '../local/stack-file.ts';

const program = cliCommand('diff')
  .description('What changed between two finished runs of the same area (new, grown, shrunk, same, gone)')
  .argument('<old_run>', 'the earlier run id')
  .argument('<new_run>', 'the later run id')
  .option('--format <format>', 'table | csv | json | geojson | parquet', 'table')
  .option('--out <file>', 'write to FILE instead of stdout')
  .option('--summary', 'print only the summary (new clusters, new hectares, biggest new ones)')
  .parse();

const [oldRun, newRun] = program.args;
const options = program.opts<{ format: string; out?: string; summary?: boolean }>();

let opened: Emulators | undefined;
await runCli('diff', async () => {
  for (const id of [oldRun, newRun]) if (!isRunId(id)) throw new Error(`"${id}" is not a run id (r-<16 hex digits>)`);
  const format = checkFormat(options.format);
  if (format === 'parquet' && !options.out) throw new Error('--format parquet writes a file: give --out FILE');
  opened = await useStackOrLocalState();
  const diff = await new ClusterService({ runId: newRun }).diff(oldRun);
  const output = options.summary ? (format === 'json' ? JSON.stringify(diff.summary) : summaryText(diff.summary)) : exportDiff(diff, format);
  if (options.out) {
    writeFileSync(options.out, output);
    console.error(`wrote the diff of ${oldRun} → ${newRun} (${diff.rows.length} rows) to ${options.out}`);
  } else {
    const text = typeof output === 'string' && !output.endsWith('\n') ? `${output}\n` : output;
    await new Promise<void>((resolve, reject) => process.stdout.write(text, (error) => (error ? reject(error) : resolve())));
  }
  if (!options.out && format !== 'json' && !options.summary) console.error(summaryText(diff.summary).trimEnd());
  await opened?.stop();
  return 0;
}, () => opened?.stop());
