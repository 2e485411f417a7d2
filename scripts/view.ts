// npm run view -- RUN_ID tile ROW | cluster ROW | clusters --rows 82,3,184,6 | clusters --start 182 --end 185
// npm run view -- RUN_ID --html FILE
// Pictures (PNG) of a finished run's tiles and clusters, as the old ClusterViewer drew them, or the
// run's self-contained HTML report. Prints the paths written. Row ids are those of `npm run fetch`.
// Uses the linked resources under `sst shell`, else the running local stack, else the local state
// left in .local/state by an earlier `npm start` / `npm run dev` (emulators started just to read it).
import '../local/quiet.ts';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isRunId } from '../core/run/params.ts';
import { ClusterService, ClusterViewer, type SavedPicture } from '../core/results/service.ts';
import { cliCommand, runCli } from '../local/cli-options.ts';
import type { Emulators } from '../local/emulators.ts';
import { localDir, useStackOrLocalState } from '../local/stack-file.ts';

const ACTIONS = ['tile', 'cluster', 'clusters'] as const;

const program = cliCommand('view')
  .description("Draw a finished run's tiles and clusters as PNG pictures, or write its HTML report")
  .argument('<run_id>', 'run id (r-<16 hex digits>)')
  .argument('[action]', `what to draw: ${ACTIONS.join(' | ')}`)
  .argument('[row]', 'row id of the cluster (tile: the tile holding it)')
  .option('--rows <ids>', 'clusters: comma-separated row ids, e.g. 82,3,184,6')
  .option('--start <id>', 'clusters: first row id of a range')
  .option('--end <id>', 'clusters: end of the range (excluded, as in a Python slice)')
  .option('--html <file>', 'write the self-contained HTML report of the run to FILE')
  .option('--diff-from <old_run>', 'with --html: report what changed since OLD_RUN (new clusters red, grown orange, old hulls dashed)')
  .option('--out-dir <dir>', 'where pictures are written', join(localDir(), 'pictures'))
  .parse();

const [id, action, row] = program.args;
const options = program.opts<{ rows?: string; start?: string; end?: string; html?: string; diffFrom?: string; outDir: string }>();

/** A row id option/argument as a whole number ≥ 0, else a one-line error naming it. */
function rowId(name: string, value: string | undefined): number {
  if (value === undefined) throw new Error(`${name} is missing`);
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0) throw new Error(`${name} must be a row id (whole number ≥ 0), got "${value}"`);
  return n;
}

/** Checks the command line before any I/O. */
function validate(): void {
  if (!isRunId(id)) throw new Error(`"${id}" is not a run id (r-<16 hex digits>)`);
  if (!action && !options.html) throw new Error(`say what to draw (${ACTIONS.join(', ')}) or give --html FILE`);
  if (action && !(ACTIONS as readonly string[]).includes(action)) throw new Error(`unknown action "${action}"; actions: ${ACTIONS.join(', ')}`);
  if (action === 'clusters') {
    if (options.rows === undefined && options.start === undefined) throw new Error('clusters needs --rows 82,3,184 or --start N --end M');
    if (options.rows !== undefined && options.start !== undefined) throw new Error('give --rows or --start/--end, not both');
  } else if (action) {
    rowId('row', row);
  }
}

/** The pictures of the action: one, or for `clusters` one sheet per MAX_PANELS_PER_SHEET clusters. */
async function draw(viewer: ClusterViewer): Promise<SavedPicture[]> {
  if (action === 'tile') return [await viewer.tile(rowId('row', row))];
  if (action === 'cluster') return [viewer.cluster(rowId('row', row))];
  if (options.rows !== undefined) return viewer.clusterSheets({ rows: options.rows.split(',').map((v) => rowId('--rows', v)) });
  return viewer.clusterSheets({ start: rowId('--start', options.start), end: rowId('--end', options.end) });
}

let opened: Emulators | undefined;
await runCli('view', async () => {
  validate();
  opened = await useStackOrLocalState();
  const service = await new ClusterService({ runId: id }).fetch();
  if (options.html) {
    const diff = options.diffFrom === undefined ? undefined : await service.diff(options.diffFrom);
    writeFileSync(options.html, await service.report({ diff }));
    console.log(options.html);
  }
  if (action) {
    for (const picture of await draw(new ClusterViewer(service, { dir: options.outDir }))) console.log(picture.path);
  }
  await opened?.stop();
  return 0;
}, () => opened?.stop());
