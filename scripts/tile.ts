// Clusters one tile and prints exactly one JSON object: the request (defaults filled), nb_clusters
// and the cluster records. Tiles come from TILES_URL (default: the old public GLAD tiles).
//   npm run -s tile -- '{"z":12,"x":1355,"y":2045,"start_date":"2016-06-01","end_date":"2016-12-01"}'
// Bad input or a failed tile: one line on stderr, nothing on stdout, exit 1.
import { parseTileRequest } from '../core/run/request.ts';
import { tileSourceFromTemplate } from '../core/store/tile-sources.ts';
import { defaultTilesUrl } from '../core/tiles/tile-url.ts';
import { runTile } from '../core/clusters/tile-job.ts';
import { runCli } from '../local/cli-options.ts';

const USAGE = `usage: npm run -s tile -- '{"z":12,"x":1355,"y":2045,"start_date":"2016-06-01","end_date":"2016-12-01"}'`;

async function main(argv: string[]): Promise<void> {
  if (argv.length !== 1) throw new Error(argv.length === 0 ? `missing request JSON; ${USAGE}` : `expected one JSON argument, got ${argv.length}; ${USAGE}`);
  let input: unknown;
  try {
    input = JSON.parse(argv[0]);
  } catch (err) {
    throw new Error(`invalid JSON: ${(err as Error).message}`);
  }
  const { z, x, y, ...spec } = parseTileRequest(input);
  const source = tileSourceFromTemplate(defaultTilesUrl());
  const result = await runTile({ z, x, y }, spec, source, { onWarning: (m) => process.stderr.write(`tile: warning: ${m}\n`) });
  process.stdout.write(JSON.stringify(result) + '\n');
}

// `npm run -s tile … | head` closes stdout early: that is not an error worth a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
});

await runCli('tile', () => main(process.argv.slice(2)));
