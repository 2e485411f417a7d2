// The start of a bundled script (`npm run tile`, local/bundle-cache.ts): is the last build of its
// bundle fresh? JavaScript, not TypeScript: the launcher (scripts/tile.mjs) imports it, and a start
// that loads no .ts file at all spares Node's TypeScript support (~35 ms of each start,
// docs/measurements.md). Types: bundle-fresh.d.mts.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';

/** esbuild's options; stored in the manifest, so changing them makes the bundle stale. */
export const OPTIONS = {
  bundle: true,
  // The engine, imported only when a tile has alerts, stays a chunk of its own.
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node22',
  // Packages stay run-time imports, resolved from node_modules as without a bundle (the AWS SDK,
  // turf: loaded on demand only); the inputs are then the project's own files.
  packages: 'external',
  // Stack traces and error messages name the project's functions as the sources do.
  keepNames: true,
};

/** The cache folder of the bundle of `entry` (a repository path, e.g. local/tile-cli.ts). */
export function bundleDir(root, entry) {
  return join(root, '.cache', 'bundles', basename(entry).replace(/\.ts$/, ''));
}

/** An input's repository path, size and mtime (ms) now, or null when it is gone. */
export function stamp(root, path) {
  const s = statSync(join(root, path), { throwIfNoEntry: false });
  return s ? [path, s.size, s.mtimeMs] : null;
}

/** The entry chunk of the current build in `dir` when no input changed since it was built, else null. */
export function freshEntry(root, dir) {
  let m;
  try {
    m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  } catch {
    return null;
  }
  if (m.options !== JSON.stringify(OPTIONS)) return null;
  for (const [path, size, mtimeMs] of m.inputs) {
    const now = stamp(root, path);
    if (!now || now[1] !== size || now[2] !== mtimeMs) return null;
  }
  const entry = join(dir, m.build, m.entry);
  return existsSync(entry) ? entry : null;
}
