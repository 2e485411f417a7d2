// Local file I/O for the results layer: pictures written to a folder, report assets and fonts read
// from disk. Kept here so that core/ outside core/store/ imports no node:fs (test/layout.test.ts).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';

const require = createRequire(import.meta.url);

/** Writes `bytes` to `path`, creating its folder first. */
export function writeFile(path: string, bytes: Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
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
