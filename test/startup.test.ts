// `npm run tile` is called in loops, so its start-up counts (docs/architecture.md, rule 5).
// scripts/tile.ts (a symlink to the JavaScript launcher scripts/tile.mjs) starts local/tile-cli.ts
// from an esbuild bundle kept in .cache/bundles/ and rebuilt when a source changes
// (local/bundle-cache.ts). A module-load hook in the child process lists every file it loads: on a
// file:// tile, empty or with alerts and a halo, no package from node_modules (no zod, turf, pngjs,
// AWS SDK or commander), and no .ts file at all (Node's TypeScript support stays unloaded);
// the bundle's chunks it loads hold the project modules named below (the build's chunks.json,
// esbuild's metafile). Then, on a copy of the sources: an edited source is rebuilt, never stale.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSyntheticMosaic } from '../local/synthetic.ts';
import { CHUNKS } from '../local/bundle-cache.ts';

const root = resolve(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'startup-'));
const hook = join(dir, 'list-loads.mjs');
const TILES_URL = `${pathToFileURL(join(dir, 'tiles')).href}/{z}/{x}/{y}.png`;

beforeAll(async () => {
  // Prints each file: URL the ES module loader loads (CommonJS packages go through it too when imported).
  writeFileSync(
    hook,
    "import { registerHooks } from 'node:module';\n" +
      "registerHooks({ load(url, context, next) { if (url.startsWith('file:')) process.stderr.write(`loaded ${url}\\n`); return next(url, context); } });\n",
  );
  await writeSyntheticMosaic(join(dir, 'tiles'), { z: 12, x0: 1354, y0: 2044, x1: 1356, y1: 2046, seed: 3, density: 3000 });
  // The first start after a change (a fresh clone: every time) builds the bundle, loading esbuild
  // from node_modules; the checks below are of the starts after it.
  const first = start(root, JSON.stringify({ z: 12, x: 1, y: 1 }));
  expect(first.status, first.stderr).toBe(0);
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Start {
  status: number | null;
  stdout: string;
  stderr: string;
  /** Files loaded, as paths. */
  loaded: string[];
}

/** `node scripts/tile.ts ARG` of the tree at `tree`, run from another folder. */
function start(tree: string, arg?: string): Start {
  const r = spawnSync(join(root, 'node_modules/.bin/node'), ['--import', pathToFileURL(hook).href, join(tree, 'scripts/tile.ts'), ...(arg === undefined ? [] : [arg])], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, TILES_URL },
    timeout: 60_000,
  });
  const lines = r.stderr.split('\n');
  const loaded = lines.filter((l) => l.startsWith('loaded ')).map((l) => fileURLToPath(l.slice('loaded '.length)));
  return { status: r.status, stdout: r.stdout, stderr: lines.filter((l) => l !== '' && !l.startsWith('loaded ')).join('\n'), loaded };
}

/** The bundle chunks a start loaded, each with the modules esbuild put in it (repository paths). */
function chunksLoaded(s: Start): Map<string, string[]> {
  const chunks = new Map<string, string[]>();
  for (const file of s.loaded.filter((f) => f.includes('/.cache/bundles/tile-cli/'))) {
    const inBuild = JSON.parse(readFileSync(join(dirname(file), CHUNKS), 'utf8')) as Record<string, string[]>;
    chunks.set(file, inBuild[file.slice(dirname(file).length + 1)]);
  }
  return chunks;
}

/** The build folder the entry chunk was loaded from (null: no bundle used). */
const buildOf = (s: Start) => s.loaded.find((f) => f.endsWith('/tile-cli.js'))?.split('/').at(-2) ?? null;
const tsLoaded = (s: Start, tree: string) => s.loaded.filter((f) => f.endsWith('.ts')).map((f) => f.slice(tree.length + 1)).sort();

describe('npm run tile starts from its bundle and loads no package from node_modules', () => {
  it('on a tile without alerts (no tile file): the request, the source and the job only', () => {
    const s = start(root, JSON.stringify({ z: 12, x: 1, y: 1 }));
    expect(s.status, s.stderr).toBe(0);
    expect(JSON.parse(s.stdout).nb_clusters).toBe(0);
    expect(s.loaded.filter((u) => u.includes('/node_modules/'))).toEqual([]);
    // The launcher and the freshness check are JavaScript, the rest is the bundle's.
    expect(tsLoaded(s, root)).toEqual([]);
    expect(s.loaded.map((f) => f.slice(root.length + 1)).filter((f) => !f.startsWith('.cache/'))).toEqual(['scripts/tile.mjs', 'local/bundle-fresh.mjs']);
    const modules = [...chunksLoaded(s).values()].flat();
    expect(modules).toContain('core/clusters/tile-job.ts');
    expect(modules).toContain('core/run/request.ts');
    // Nor the clustering engine: a tile without alerts never clusters.
    expect(modules.filter((m) => m.startsWith('core/meanshift/') && m !== 'core/meanshift/types.ts')).toEqual([]);
  });

  it('on a 3,000-alert tile clustered with its halo', () => {
    const s = start(root, JSON.stringify({ z: 12, x: 1355, y: 2045 }));
    expect(s.status, s.stderr).toBe(0);
    expect(JSON.parse(s.stdout).nb_clusters).toBeGreaterThan(0);
    expect(s.loaded.filter((u) => u.includes('/node_modules/'))).toEqual([]);
    expect(tsLoaded(s, root)).toEqual([]);
    expect([...chunksLoaded(s).values()].flat()).toContain('core/meanshift/standard.ts');
  });
});

describe('the bundle is never stale (a copy of the sources)', () => {
  const tree = join(dir, 'tree');
  const cli = join(tree, 'local/tile-cli.ts');
  const usageError = (s: Start) => {
    expect(s.status).toBe(1);
    return s.stderr;
  };

  beforeAll(() => {
    // Modification times kept: the copy's sources are older than its first build.
    // Symlinks as they are (scripts/tile.ts → tile.mjs of the copy, not of this tree).
    for (const d of ['core', 'local', 'scripts']) cpSync(join(root, d), join(tree, d), { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
    cpSync(join(root, 'package.json'), join(tree, 'package.json'), { preserveTimestamps: true });
    symlinkSync(join(root, 'node_modules'), join(tree, 'node_modules'));
  });

  /** Rewrites local/tile-cli.ts's "missing request JSON" message, then sets its mtime (s). */
  function edit(to: string, mtime: number): void {
    const text = readFileSync(cli, 'utf8').replace(/\? `[^`$]*; \$\{USAGE\}`/, `? \`${to}; \${USAGE}\``);
    expect(text).toContain(to);
    writeFileSync(cli, text);
    utimesSync(cli, mtime, mtime);
  }

  it('a fresh copy builds on its first start, then starts from the same build', () => {
    const first = start(tree);
    expect(usageError(first)).toMatch(/^tile: missing request JSON; usage/);
    expect(buildOf(first)).not.toBeNull();
    const second = start(tree);
    expect(usageError(second)).toMatch(/^tile: missing request JSON; usage/);
    expect(buildOf(second)).toBe(buildOf(first));
  });

  it('a source edited (same size, another mtime) is rebuilt', () => {
    const before = start(tree);
    edit('MISSING request JSON', Math.floor(Date.now() / 1000) - 60);
    const after = start(tree);
    expect(usageError(after)).toMatch(/^tile: MISSING request JSON; usage/);
    expect(buildOf(after)).not.toBe(buildOf(before));
    // …and that build is the fresh one from then on.
    expect(buildOf(start(tree))).toBe(buildOf(after));
  });

  it('a source edited (another size, the same mtime) is rebuilt', () => {
    // A whole second, which the manifest records exactly.
    const mtime = Math.floor(Date.now() / 1000) - 120;
    utimesSync(cli, mtime, mtime);
    expect(usageError(start(tree))).toMatch(/^tile: MISSING request JSON; usage/);
    edit('no request JSON given', mtime);
    expect(statSync(cli).mtimeMs).toBe(mtime * 1000);
    expect(usageError(start(tree))).toMatch(/^tile: no request JSON given; usage/);
  });

  it('a source edited just now: the next start builds again (it may have been read before the edit)', () => {
    edit('request JSON missing', Date.now() / 1000);
    const first = start(tree);
    expect(usageError(first)).toMatch(/^tile: request JSON missing; usage/);
    const next = start(tree);
    expect(buildOf(next)).not.toBe(buildOf(first));
  });

  it('without a usable cache folder: the .ts modules, the same output', () => {
    rmSync(join(tree, '.cache'), { recursive: true, force: true });
    writeFileSync(join(tree, '.cache'), 'not a folder');
    const s = start(tree, JSON.stringify({ z: 12, x: 1355, y: 2045 }));
    expect(s.status, s.stderr).toBe(0);
    expect(buildOf(s)).toBeNull();
    expect(tsLoaded(s, tree)).toContain('core/meanshift/standard.ts');
    expect(s.stdout).toBe(start(root, JSON.stringify({ z: 12, x: 1355, y: 2045 })).stdout);
    rmSync(join(tree, '.cache'));
    mkdirSync(join(tree, '.cache'));
  });
});
