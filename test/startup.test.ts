// `npm run tile` is called in loops, so its start-up counts (docs/architecture.md, rule 5): on a
// file:// tile, empty or with alerts and a halo, it loads no package from node_modules — no zod,
// turf, pngjs, AWS SDK or commander — only the project's own modules. A module-load hook in the
// child process lists every file it loads.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSyntheticMosaic } from '../local/synthetic.ts';

const root = resolve(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'startup-'));
const hook = join(dir, 'list-loads.mjs');

beforeAll(async () => {
  // Prints each file: URL the ES module loader loads (CommonJS packages go through it too when imported).
  writeFileSync(
    hook,
    "import { registerHooks } from 'node:module';\n" +
      "registerHooks({ load(url, context, next) { if (url.startsWith('file:')) process.stderr.write(`loaded ${url}\\n`); return next(url, context); } });\n",
  );
  await writeSyntheticMosaic(join(dir, 'tiles'), { z: 12, x0: 1354, y0: 2044, x1: 1356, y1: 2046, seed: 3, density: 3000 });
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function loadedBy(request: object): { stdout: string; loaded: string[] } {
  const r = spawnSync(join(root, 'node_modules/.bin/node'), ['--import', pathToFileURL(hook).href, join(root, 'scripts/tile.ts'), JSON.stringify(request)], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, TILES_URL: `${pathToFileURL(join(dir, 'tiles')).href}/{z}/{x}/{y}.png` },
    timeout: 60_000,
  });
  expect(r.status, r.stderr).toBe(0);
  const loaded = r.stderr.split('\n').filter((l) => l.startsWith('loaded ')).map((l) => l.slice('loaded '.length));
  return { stdout: r.stdout, loaded };
}

describe('npm run tile loads no package from node_modules', () => {
  it('on a tile without alerts (no tile file): the request, the source and the job only', () => {
    const { stdout, loaded } = loadedBy({ z: 12, x: 1, y: 1 });
    expect(JSON.parse(stdout).nb_clusters).toBe(0);
    expect(loaded.some((u) => u.endsWith('/scripts/tile.ts'))).toBe(true);
    expect(loaded.filter((u) => u.includes('/node_modules/'))).toEqual([]);
    // Nor the clustering engine: a tile without alerts never clusters.
    expect(loaded.filter((u) => u.includes('/core/meanshift/') && !u.endsWith('/types.ts'))).toEqual([]);
  });

  it('on a 3,000-alert tile clustered with its halo', () => {
    const { stdout, loaded } = loadedBy({ z: 12, x: 1355, y: 2045 });
    expect(JSON.parse(stdout).nb_clusters).toBeGreaterThan(0);
    expect(loaded.some((u) => u.endsWith('/core/meanshift/standard.ts'))).toBe(true);
    expect(loaded.filter((u) => u.includes('/node_modules/'))).toEqual([]);
  });
});
