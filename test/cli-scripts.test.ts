// The CLIs as a user runs them (child processes, their own .local dir via GLAD_LOCAL_DIR):
// `start --json` on a small generated region, `enqueue --info`, `fetch` after the stack is gone
// (it reopens the persisted state), the two-terminal flow `dev` + `enqueue` + `fetch`, and one-line
// errors with a non-zero exit for bad input.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATASETS } from '../core/tiles/datasets.ts';
import { writeSyntheticMosaic } from '../local/synthetic.ts';
import type { Manifest } from '../core/run/types.ts';
import { cleanEnv, root, runScript, type ScriptResult } from './run-script.ts';

const dir = mkdtempSync(join(tmpdir(), 'glad-cli-'));
const localDir = join(dir, 'local');
const tilesUrl = `file://${join(dir, 'tiles')}/{z}/{x}/{y}.png`;
const REGION = ['--z', '12', '--tile-bounds', '1331,2162,1332,2163', '--tiles-url', tilesUrl, '--min-count', '10'];

type Result = ScriptResult;

function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  // No SST links and no AWS settings from the developer's shell: the scripts must find the local stack.
  return { ...cleanEnv(), GLAD_LOCAL_DIR: localDir, ...extra };
}

const run = (script: string, args: string[], timeoutMs = 90_000): Promise<Result> => runScript(script, args, { env: env(), timeoutMs });

/** Exit 1 and exactly one line on stderr matching `pattern`. */
function expectOneLineError(result: Result, pattern: RegExp): void {
  expect(result.code).toBe(1);
  expect(result.stdout).toBe('');
  const lines = result.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
}

beforeAll(async () => {
  await writeSyntheticMosaic(join(dir, 'tiles'), { z: 12, x0: 1330, y0: 2161, x1: 1333, y1: 2164, seed: 5, density: 600, dataset: DATASETS['glad-l'] });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('CLI scripts', () => {
  let manifest: Manifest;

  it('start --json runs a region on an in-process stack and prints the manifest as one JSON object', async () => {
    const result = await run('start.ts', [...REGION, '--json', '--workers', '2']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim().split('\n')).toHaveLength(1);
    manifest = JSON.parse(result.stdout);
    expect(manifest.run_id).toMatch(/^r-[0-9a-f]{16}$/);
    expect(manifest.tiles).toBe(4);
    expect(manifest.tiles_with_clusters + manifest.tiles_empty + manifest.tiles_failed).toBe(4);
    expect(manifest.tiles_failed).toBe(0);
    expect(manifest.totals.clusters).toBeGreaterThan(0);
    expect(result.stderr).toMatch(/local stack started in this process/);
    // It ends by writing the run's HTML report and naming it (on stderr: stdout is the manifest).
    const reportPath = /report: (\S+\.html)/.exec(result.stderr)?.[1];
    expect(reportPath).toBe(join(localDir, 'reports', `${manifest.run_id}.html`));
    const html = readFileSync(reportPath!, 'utf8');
    expect(html).toContain(manifest.run_id);
    expect(html).not.toMatch(/<script[^>]+src=/); // self-contained
    // The stack is gone with the process, its stack file too.
    expect(existsSync(join(localDir, 'stack.json'))).toBe(false);
  });

  it('enqueue --info names the same run without sending anything', async () => {
    const result = await run('enqueue.ts', [...REGION, '--info']);
    expect(result.code, result.stderr).toBe(0);
    const info = JSON.parse(result.stdout);
    expect(info.run_id).toBe(manifest.run_id);
    expect(info.tiles).toBe(4);
    expect(info.tile_bounds).toEqual({ z: 12, x0: 1331, y0: 2162, x1: 1332, y1: 2163 });
    expect(info.lonlat_bounds.west).toBeLessThan(info.lonlat_bounds.east);
    expect(info.lonlat_bounds.south).toBeLessThan(info.lonlat_bounds.north);
    expect(info.params).toMatchObject({ min_count: 10, width: 5, algorithm: 'standard' });
  });

  it('fetch --format json reads the persisted results: one object per cluster, alerts only with --full', async () => {
    const plain = await run('fetch.ts', [manifest.run_id, '--format', 'json']);
    expect(plain.code, plain.stderr).toBe(0);
    const rows = JSON.parse(plain.stdout) as Record<string, unknown>[];
    expect(rows).toHaveLength(manifest.totals.clusters);
    for (const key of ['run_id', 'z', 'x', 'y', 'col', 'row', 'i', 'j', 'longitude', 'latitude', 'count', 'area', 'area_ha', 'alert_area_ha', 'min_date', 'max_date']) {
      expect(rows[0]).toHaveProperty(key);
    }
    expect(rows.every((r) => r.run_id === manifest.run_id && !('alerts' in r))).toBe(true);
    expect(rows.reduce((sum, r) => sum + (r.count as number), 0)).toBe(manifest.totals.alerts);

    const full = await run('fetch.ts', [manifest.run_id, '--format', 'json', '--full']);
    const fullRows = JSON.parse(full.stdout) as { count: number; alerts: unknown[] }[];
    expect(fullRows.every((r) => r.alerts.length === r.count)).toBe(true);

    const table = await run('fetch.ts', [manifest.run_id]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/count/);
  });

  it('dev keeps a stack running that enqueue, fetch and start in other processes use', async () => {
    const dev: ChildProcess = spawn(process.execPath, [join(root, 'scripts', 'dev.ts'), '--workers', '2'], { cwd: root, env: env() });
    let devErr = '';
    dev.stderr!.on('data', (d) => (devErr += d));
    const exited = new Promise<number | null>((resolve) => dev.on('close', resolve));
    try {
      const deadline = Date.now() + 20_000;
      while (!existsSync(join(localDir, 'stack.json')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      const stack = JSON.parse(readFileSync(join(localDir, 'stack.json'), 'utf8'));
      expect(stack.pid).toBe(dev.pid);
      expect(stack.endpoints.s3).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

      // Same params as the start run: already complete in the persisted ledger, nothing sent.
      const again = await run('enqueue.ts', REGION);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout.trim()).toBe(manifest.run_id);
      expect(again.stderr).toMatch(/already complete/);

      // A new run (other dates): enqueued, then fetched once the dev loop has finished it.
      const args = [...REGION, '--start', '2016-01-01'];
      const sent = await run('enqueue.ts', args);
      expect(sent.code, sent.stderr).toBe(0);
      const runId = sent.stdout.trim();
      expect(runId).toMatch(/^r-[0-9a-f]{16}$/);
      expect(sent.stderr).toMatch(/sent 4 of 4 tile messages/);
      let fetched: Result | undefined;
      for (let k = 0; k < 60; k++) {
        fetched = await run('fetch.ts', [runId, '--format', 'json']);
        if (fetched.code === 0) break;
        expect(fetched.stderr).toMatch(/not finished yet|no manifest/);
        await new Promise((r) => setTimeout(r, 500));
      }
      expect(fetched!.code, fetched!.stderr).toBe(0);
      const rows = JSON.parse(fetched!.stdout) as { min_date: string; run_id: string }[];
      expect(rows.every((r) => r.run_id === runId && r.min_date >= '2016-01-01')).toBe(true);

      // start finds the running stack instead of starting its own.
      const started = await run('start.ts', [...args, '--json']);
      expect(started.code, started.stderr).toBe(0);
      expect(started.stderr).toMatch(new RegExp(`using the local stack of pid ${dev.pid}`));
      expect(JSON.parse(started.stdout).run_id).toBe(runId);
    } finally {
      dev.kill('SIGINT');
    }
    expect(await exited, devErr).toBe(0);
    expect(existsSync(join(localDir, 'stack.json'))).toBe(false);
  }, 120_000);

  it('bad input: one line on stderr and exit 1', async () => {
    expectOneLineError(await run('enqueue.ts', ['--xy', '1,2,3']), /^enqueue: --xy must be X,Y/);
    expectOneLineError(await run('enqueue.ts', ['--bounds', '1,2,3,4', '--xy', '1,2']), /^enqueue: give one region/);
    expectOneLineError(await run('enqueue.ts', ['--xy', '1,2', '--z', '40']), /^enqueue: --z must be an integer in 0\.\.22/);
    expectOneLineError(await run('enqueue.ts', ['--xy', '1,2', '--start', '2020-02-30']), /^enqueue: .*2020-02-30/);
    expectOneLineError(await run('enqueue.ts', ['--xy', '1,2', '--algorithm', 'magic']), /^enqueue: .*algorithm/);
    expectOneLineError(await run('enqueue.ts', []), /^enqueue: give a region/);
    expectOneLineError(await run('enqueue.ts', ['--xy', '1,2']), /^enqueue: no local stack: run `npm run dev` or `npm start`$/);
    expectOneLineError(await run('enqueue.ts', ['--nope']), /^enqueue: unknown option '--nope'$/);
    expectOneLineError(await run('fetch.ts', ['r-123']), /^fetch: "r-123" is not a run id/);
    expectOneLineError(await run('fetch.ts', ['r-0000000000000000']), /^fetch: unknown run (id )?r-0000000000000000$/);
    expectOneLineError(await run('fetch.ts', ['r-0000000000000000', '--format', 'xml']), /^fetch: unknown format "xml"/);
    expectOneLineError(await run('start.ts', ['--tile-bounds', '5,5,1,1']), /^start: /);
    // The size limit holds for `start` too, before any stack is started.
    expectOneLineError(await run('start.ts', ['--bounds', '-70,-20,-50,0']), /^start: region has 53,357 tiles, over the limit of 10,000: pass --max-tiles 53357/);
  }, 120_000);
});
