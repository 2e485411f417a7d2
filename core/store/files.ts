// Local file I/O for the results layer: pictures written to a folder, report assets and fonts read
// from disk. Kept here so that core/ outside core/store/ imports no node:fs (test/layout.test.ts).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';

const require = createRequire(import.meta.url);

/**
 * Creates the folder and its missing parents, one level at a time. Node's own recursive mkdir
 * never returns for a path under /proc (mkdir answers ENOENT and it retries forever at 100% CPU);
 * here that is one error naming the level that cannot be made.
 */
export function makeDir(path: string): void {
  const full = resolve(path);
  if (existsSync(full)) return;
  const parent = dirname(full);
  if (parent !== full) makeDir(parent);
  try {
    mkdirSync(full);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return;
    throw new Error(`cannot create the folder ${full}: ${code ?? (error as Error).message}`);
  }
}

/** Writes `bytes` to `path`, creating its folder first. */
export function writeFile(path: string, bytes: Uint8Array): void {
  makeDir(dirname(path));
  writeFileSync(path, bytes);
}

/** A text file (e.g. a page asset beside a module: `readAsset(new URL('page.js', import.meta.url))`). */
export function readAsset(path: string | URL): string {
  return readFileSync(path, 'utf8');
}

/** A text file of an installed package, e.g. `readPackageAsset('leaflet/dist/leaflet.js')`. */
export function readPackageAsset(specifier: string): string {
  return readFileSync(require.resolve(specifier), 'utf8');
}

export function fileExists(path: string): boolean {
  return existsSync(path);
}
