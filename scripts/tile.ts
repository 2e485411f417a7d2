// Clusters one tile and prints exactly one JSON object: the request (defaults filled), nb_clusters
// and the cluster records. Tiles come from TILES_URL (default: the old public GLAD tiles).
//   npm run -s tile -- '{"z":12,"x":1355,"y":2045,"start_date":"2016-06-01","end_date":"2016-12-01"}'
// Bad input or a failed tile: one line on stderr, nothing on stdout, exit 1.
import { parseTileRequest } from '../core/run/request.ts';
import { tileSourceFromTemplate } from '../core/store/tile-sources.ts';
import { defaultTilesUrl } from '../core/tiles/tile-url.ts';
import { runTile } from '../core/clusters/tile-job.ts';

const USAGE = `usage: npm run -s tile -- '{"z":12,"x":1355,"y":2045,"start_date":"2016-06-01","end_date":"2016-12-01"}'`;

/** One line on stderr and a failing exit code (set, not forced, so stderr is flushed). */
function fail(message: string): void {
  process.stderr.write(`tile: ${message.split('\n')[0]}\n`);
  process.exitCode = 1;
}

async function main(argv: string[]): Promise<void> {
  if (argv.length !== 1) return fail(argv.length === 0 ? `missing request JSON; ${USAGE}` : `expected one JSON argument, got ${argv.length}; ${USAGE}`);
  let input: unknown;
  try {
    input = JSON.parse(argv[0]);
  } catch (err) {
    return fail(`invalid JSON: ${(err as Error).message}`);
  }
  let request;
  try {
    request = parseTileRequest(input);
  } catch (err) {
    return fail((err as Error).message);
  }
  try {
    const source = tileSourceFromTemplate(defaultTilesUrl());
    const { z, x, y, ...spec } = request;
    const result = await runTile({ z, x, y }, spec, source, {
      onWarning: (m) => process.stderr.write(`tile: warning: ${m}\n`),
    });
    process.stdout.write(JSON.stringify(result) + '\n');
  } catch (err) {
    fail((err as Error).message);
  }
}

// `npm run -s tile … | head` closes stdout early: that is not an error worth a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
});

await main(process.argv.slice(2));
