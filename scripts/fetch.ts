// npm run fetch -- RUN_ID [--format table|csv|json|geojson|parquet] [--out FILE] [--full]
//                 [--sort COLUMN] [--desc] [--limit N] [--errors] [--hull convex|concave]
// npm run fetch -- <region> [parameters] ...   the finished run of these parameters (same id)
// npm run fetch -- --list                      every run: id, parameters, state, tiles, clusters, created
// Reads a finished run (manifest + result Parquet files) and prints or writes its clusters.
// csv, json and geojson without --sort/--limit are streamed: written tile by tile as the Parquet
// files are read, so a run of any size fits in memory. table, parquet and sorted or limited
// outputs load the whole run first.
// Uses the linked resources under `sst shell`, else the running local stack, else the local state
// left in .local/state by an earlier `npm start` / `npm run dev` (emulators started just to read it).
import '../local/quiet.ts';
import { createWriteStream, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { dirname } from 'node:path';
import * as aq from 'arquero';
import { checkFormat, HULLS, STREAM_FORMATS, toTableText, type Format, type HullKind, type StreamFormat } from '../core/results/exports.ts';
import { isRunId } from '../core/run/params.ts';
import { listRuns } from '../core/store/run-list.ts';
import { awsDeps, ClusterService } from '../core/results/service.ts';
import { cliCommand, runCli } from '../local/cli-options.ts';
import type { Emulators } from '../local/emulators.ts';
import { addRunOptions, prepareRunOf, regionOf, type RunOptions } from '../local/run-args.ts';
import { useStackOrLocalState } from '../local/stack-file.ts';

const program = addRunOptions(
  cliCommand('fetch')
    .description("Print or write a finished run's clusters (by run id, or by region and parameters), or list runs")
    .argument('[run_id]', 'run id printed by enqueue/start (r-<16 hex digits>); or give the run\'s region and parameters'),
)
  .option('--format <format>', 'table | csv | json | geojson | parquet', 'table')
  .option('--out <file>', 'write to FILE instead of stdout')
  .option('--full', 'include each cluster\'s alerts (members)')
  .option('--sort <column>', 'sort clusters by this column (e.g. area, count, min_date); loads the whole run')
  .option('--desc', 'sort descending')
  .option('--limit <n>', 'keep the first N clusters (after sorting); loads the whole run')
  .option('--hull <kind>', 'geojson/parquet hull: convex (default) | concave')
  .option('--errors', "list the run's failed tiles (tile, centre lat/lon, error, stage) instead of its clusters")
  .option('--list', 'list the runs the ledger knows')
  .option('--no-stream', 'csv/json/geojson: load the whole run before writing (default: streamed tile by tile; table, parquet, --sort and --limit always load it)')
  .parse();

const [id] = program.args;
type FetchOptions = RunOptions & {
  format: string; out?: string; stream: boolean; full?: boolean; hull?: string; sort?: string; desc?: boolean; limit?: string; errors?: boolean; list?: boolean;
};
const options = program.opts<FetchOptions>();

/** --limit as a whole number ≥ 0, or undefined. */
function limitOf(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0) throw new Error(`--limit must be a whole number ≥ 0, got "${value}"`);
  return n;
}

/** The service of the run named by id, or by region + parameters; exactly one of them. */
async function serviceOf(): Promise<ClusterService> {
  const region = regionOf(options);
  if (id !== undefined && region) throw new Error('give a run id or a region, not both');
  if (id !== undefined) {
    if (!isRunId(id)) throw new Error(`"${id}" is not a run id (r-<16 hex digits>)`);
    return new ClusterService({ runId: id });
  }
  if (!region && !options.raster) throw new Error('give a run id, a region (--tile-bounds, --bounds, --lonlat or --xy) with its parameters, or --list');
  // The same resolution as at submit (`latest` → today's release, rasters identified): the run of these parameters now.
  return new ClusterService({ spec: (await prepareRunOf(options, region)).spec });
}

/** Plain rows (runs, errors) in a text format. */
function rowsText(rows: object[], format: Format, noun: string): string {
  if (format === 'table') return toTableText(rows, { columns: rows.length ? Object.keys(rows[0]) : [], noun });
  if (format === 'json') return JSON.stringify(rows);
  if (format === 'csv') return rows.length ? aq.from(rows).toCSV() : '';
  throw new Error(`--format ${format} is not available here: use table, csv or json`);
}

/**
 * Writes text chunks as they come to FILE or stdout. Each write is awaited until flushed: that is
 * the backpressure, and stdout must be flushed before process.exit (a full pipe queues writes).
 * A file is written under a temporary name and renamed at the end, so a read that fails half way
 * leaves none. On stdout a final newline is added if the text lacks one (as for the loaded output).
 */
async function writeStream(chunks: AsyncIterable<string>, file: string | undefined): Promise<void> {
  const temporary = file && `${file}.partial-${process.pid}`;
  const out = temporary ? createWriteStream(temporary) : process.stdout;
  if (temporary) {
    // An error event without a listener is an uncaught trace; the writes' callbacks report it.
    out.on('error', () => undefined);
    await once(out, 'open').catch((error: Error) => {
      throw new Error(`cannot write ${file}: ${error.message}`);
    });
  }
  const write = (chunk: string) => new Promise<void>((resolve, reject) => out.write(chunk, (error) => (error ? reject(error) : resolve())));
  let last = '';
  try {
    for await (const chunk of chunks) {
      if (!chunk) continue;
      await write(chunk);
      last = chunk;
    }
    if (!temporary) {
      if (!last.endsWith('\n')) await write('\n');
      return;
    }
    out.end();
    await once(out, 'finish');
    renameSync(temporary, file);
  } catch (error) {
    if (temporary) {
      out.destroy();
      rmSync(temporary, { force: true });
    }
    throw error;
  }
}

/** Refuses an --out FILE whose directory is missing (or not a directory) before anything is read. */
function checkOutFile(file: string): void {
  const dir = dirname(file);
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw new Error(`cannot write ${file}: no such directory ${dir}`);
  }
  if (!isDir) throw new Error(`cannot write ${file}: ${dir} is not a directory`);
}

let opened: Emulators | undefined;
await runCli('fetch', async () => {
  const format = checkFormat(options.format);
  const limit = limitOf(options.limit);
  if (options.hull !== undefined && !(HULLS as readonly string[]).includes(options.hull)) {
    throw new Error(`unknown hull "${options.hull}"; hulls: ${HULLS.join(', ')}`);
  }
  if (format === 'parquet' && !options.out) throw new Error('--format parquet writes a file: give --out FILE');
  if (options.out) checkOutFile(options.out);
  const service = options.list ? null : await serviceOf();
  opened = await useStackOrLocalState();

  const hull = options.hull as HullKind | undefined;
  const streamed = service && !options.errors && options.stream && options.sort === undefined && limit === undefined &&
    (STREAM_FORMATS as readonly string[]).includes(format);
  let output: string | Uint8Array | null = null;
  let what: string;
  if (service && streamed) {
    await writeStream(service.exportStream(format as StreamFormat, { full: options.full, hull }), options.out);
    what = `clusters of run ${service.runId}`;
  } else if (!service) {
    const runs = await listRuns(awsDeps());
    output = rowsText(runs, format, 'runs');
    what = `${runs.length} runs`;
  } else {
    // Convex hulls (geojson, parquet) are stored in the clusters files; only --full and the
    // concave outline (drawn around the alerts) need the members files.
    const needMembers = Boolean(options.full) || options.hull === 'concave';
    await service.fetch({ full: needMembers });
    if (options.errors) {
      const errors = service.errors();
      output = rowsText(errors, format, 'failed tiles');
      what = `${errors.length} failed tiles of run ${service.runId}`;
    } else {
      output = await service.export(format, { full: options.full, hull, sort: options.sort, desc: options.desc, limit });
      what = `clusters of run ${service.runId}`;
    }
  }
  if (options.out) {
    if (output !== null) writeFileSync(options.out, output);
    console.error(`wrote ${what} to ${options.out}`);
  } else if (output !== null) {
    const text = typeof output === 'string' && !output.endsWith('\n') ? `${output}\n` : output;
    // Wait for the flush: a pipe that is full queues the rest, and process.exit would drop it.
    await new Promise<void>((resolve, reject) => process.stdout.write(text, (error) => (error ? reject(error) : resolve())));
  }
  await opened?.stop();
  return 0;
}, () => opened?.stop());
