// Clusters one tile and prints exactly one JSON object: the request (defaults filled, dataset and
// confidence included), nb_clusters and the cluster records. Tiles come from TILES_URL, read in the
// dataset's encoding, else from the dataset's own address (`latest` pinned once, said on stderr).
//   npm run -s tile -- '{"z":12,"x":1355,"y":2045,"start_date":"2016-06-01","end_date":"2016-12-01"}'
//   npm run -s tile -- '{"z":12,"x":1355,"y":2045,"dataset":"integrated","confidence":"highest"}'
// Bad input or a failed tile: one line on stderr, nothing on stdout, exit 1.
// It is called in loops, so it starts from a bundle of local/tile-cli.ts (rebuilt when a source
// changes, local/bundle-cache.ts), and this launcher is JavaScript, run through the symlink
// scripts/tile.ts: a start that loads no .ts file spares Node's TypeScript support (~35 ms).
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { bundleDir, freshEntry } from '../local/bundle-fresh.mjs';

const root = resolve(import.meta.dirname, '..');
const entry = 'local/tile-cli.ts';
const fresh = freshEntry(root, bundleDir(root, entry));
if (fresh) await import(pathToFileURL(fresh).href);
else await (await import('../local/bundle-cache.ts')).importBundled(root, entry);
