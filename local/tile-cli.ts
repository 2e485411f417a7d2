// `npm run tile`'s command (scripts/tile.ts starts it from its bundle, local/bundle-cache.ts).
// Clusters one tile and prints exactly one JSON object: the request (defaults filled, dataset and
// confidence included), nb_clusters and the cluster records. Tiles come from TILES_URL, read in the
// dataset's encoding, else from the dataset's own address (`latest` pinned once, said on stderr).
//   npm run -s tile -- '{"z":12,"x":1355,"y":2045,"start_date":"2016-06-01","end_date":"2016-12-01"}'
//   npm run -s tile -- '{"z":12,"x":1355,"y":2045,"dataset":"integrated","confidence":"highest"}'
// Bad input or a failed tile: one line on stderr, nothing on stdout, exit 1.
import { parseTileRequest } from '../core/run/request.ts';
import { httpTimeoutMs, tileSourceFromTemplate } from '../core/store/tile-sources.ts';
import { resolveLatest } from '../core/store/latest.ts';
import { datasetByName } from '../core/tiles/datasets.ts';
import { defaultTilesUrl } from '../core/tiles/tile-url.ts';
import { runTile } from '../core/clusters/tile-job.ts';
import { runCli } from './cli-options.ts';

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
  const dataset = datasetByName(spec.dataset!);
  let template = defaultTilesUrl(process.env, dataset.tilesUrl);
  if (/^https?:\/\//i.test(template) && template.includes('/latest/')) {
    const pinned = await resolveLatest(template, httpTimeoutMs());
    template = pinned.template;
    if (pinned.version) process.stderr.write(`tile: note: ${dataset.name} "latest" is release ${pinned.version}\n`);
  }
  const source = tileSourceFromTemplate(template);
  const result = await runTile({ z, x, y }, spec, source, { onWarning: (m) => process.stderr.write(`tile: warning: ${m}\n`) });
  process.stdout.write(JSON.stringify(result) + '\n');
}

// `npm run -s tile … | head` closes stdout early: that is not an error worth a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
});

await runCli('tile', () => main(process.argv.slice(2)));
