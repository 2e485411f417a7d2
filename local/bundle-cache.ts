// Scripts called in loops (`npm run tile`) start from a JavaScript bundle of their code: Node then
// strips the types of the small launcher only, not of every .ts module at each start
// (docs/measurements.md, "Start-up", 2026-11-30). The bundle is built by esbuild into
// .cache/bundles/NAME/ at the repository root, next to a manifest listing its inputs (esbuild's
// metafile) with their sizes and modification times. Each start stats them (well under 1 ms) and
// rebuilds when one changed, so the bundle is never stale; a fresh clone builds on its first run.
// Without esbuild, or when the build or the cache fails, the .ts entry is imported as it is.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';

/** esbuild's options; stored in the manifest, so changing them makes the bundle stale. */
const OPTIONS = {
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
} as const;

/** An input's repository path, size and mtime (ms) when the bundle was built. */
type InputStamp = [path: string, size: number, mtimeMs: number];

interface BundleManifest {
  options: string;
  /** Folder of this build under the bundle's cache folder. */
  build: string;
  /** The entry chunk, in the build folder. */
  entry: string;
  inputs: InputStamp[];
}

/** A build folder's CHUNKS file: each chunk and the inputs in it (a test checks what a start loads). */
export const CHUNKS = 'chunks.json';

/** An input modified this close to the build's start (ms) may have been read before the change. */
const RACY_MS = 1000;
/** Older builds are removed after this long (ms): a process started before may still import a chunk. */
const OLD_BUILD_MS = 10 * 60_000;

/** The cache folder of the bundle of `entry` (a repository path, e.g. local/tile-cli.ts). */
export function bundleDir(root: string, entry: string): string {
  return join(root, '.cache', 'bundles', basename(entry).replace(/\.ts$/, ''));
}

/** The manifest of the current build, or null. */
function readManifest(dir: string): BundleManifest | null {
  try {
    return JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as BundleManifest;
  } catch {
    return null;
  }
}

function stamp(root: string, path: string): InputStamp | null {
  const s = statSync(join(root, path), { throwIfNoEntry: false });
  return s ? [path, s.size, s.mtimeMs] : null;
}

/** The entry chunk of the current build when no input changed since it was built, else null. */
function freshEntry(root: string, dir: string): string | null {
  const m = readManifest(dir);
  if (!m || m.options !== JSON.stringify(OPTIONS)) return null;
  for (const [path, size, mtimeMs] of m.inputs) {
    const now = stamp(root, path);
    if (!now || now[1] !== size || now[2] !== mtimeMs) return null;
  }
  const entry = join(dir, m.build, m.entry);
  return existsSync(entry) ? entry : null;
}

/**
 * Builds the bundle into a new folder, then points the manifest at it (each step a rename, so a
 * process starting meanwhile sees the old build or the new one, whole). Returns the entry chunk.
 */
async function rebuild(root: string, entry: string, dir: string): Promise<string> {
  const { build } = await import('esbuild');
  const started = Date.now();
  const id = `${started.toString(36)}-${process.pid}`;
  const building = join(dir, `.${id}`);
  mkdirSync(dir, { recursive: true });
  const result = await build({ ...OPTIONS, entryPoints: [join(root, entry)], outdir: building, absWorkingDir: root, metafile: true, logLevel: 'silent' });
  const outputs = Object.entries(result.metafile.outputs);
  const chunks = Object.fromEntries(outputs.map(([file, o]) => [relative(building, join(root, file)), Object.keys(o.inputs)]));
  writeFileSync(join(building, CHUNKS), JSON.stringify(chunks));
  renameSync(building, join(dir, id));

  const inputs = Object.keys(result.metafile.inputs).map((p) => stamp(root, p));
  const manifest: BundleManifest = {
    options: JSON.stringify(OPTIONS),
    build: id,
    entry: relative(building, join(root, outputs.find(([, o]) => o.entryPoint !== undefined)![0])),
    inputs: inputs.filter((s) => s !== null),
  };
  // An input changed while (or just before) esbuild read it may be in the bundle as it was: this
  // run uses the build, the next one rebuilds (no manifest says the build is fresh).
  if (inputs.every((s) => s !== null && s[2] < started - RACY_MS)) {
    writeFileSync(join(dir, `.manifest-${id}`), JSON.stringify(manifest));
    renameSync(join(dir, `.manifest-${id}`), join(dir, 'manifest.json'));
  }
  for (const old of readdirSync(dir)) {
    if (old === id || old === 'manifest.json') continue;
    const s = statSync(join(dir, old), { throwIfNoEntry: false });
    if (s && s.mtimeMs < started - OLD_BUILD_MS) rmSync(join(dir, old), { recursive: true, force: true });
  }
  return join(dir, id, manifest.entry);
}

/**
 * Imports `entry` (a repository path of a module that runs on import) from its bundle, rebuilt
 * first if an input changed; from the .ts module itself when no bundle can be had.
 */
export async function importBundled(root: string, entry: string): Promise<void> {
  const dir = bundleDir(root, entry);
  let file = freshEntry(root, dir);
  if (!file) {
    try {
      file = await rebuild(root, entry, dir);
    } catch {
      file = join(root, entry);
    }
  }
  await import(pathToFileURL(file).href);
}
