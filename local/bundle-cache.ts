// Scripts called in loops (`npm run tile`) start from a JavaScript bundle of their code: Node then
// loads no TypeScript at all on a start (docs/measurements.md, "Start-up", 2026-11-30). The bundle
// is built by esbuild into .cache/bundles/NAME/ at the repository root, next to a manifest listing
// its inputs (esbuild's metafile) with their sizes and modification times. Each start stats them
// (well under 1 ms, bundle-fresh.mjs) and rebuilds here when one changed, so the bundle is never
// stale; a fresh clone builds on its first run. Without esbuild, or when the build or the cache
// fails, the .ts entry is imported as it is.
import { mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { bundleDir, freshEntry, OPTIONS, stamp, type BundleManifest } from './bundle-fresh.mjs';

/** A build folder's CHUNKS file: each chunk and the inputs in it (a test checks what a start loads). */
export const CHUNKS = 'chunks.json';

/** An input modified this close to the build's start (ms) may have been read before the change. */
const RACY_MS = 1000;
/** Older builds are removed after this long (ms): a process started before may still import a chunk. */
const OLD_BUILD_MS = 10 * 60_000;

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
