// `npm run view` and the results flags of `npm run fetch` as subprocesses against a running local
// stack (this test process hosts it and advertises it in its own GLAD_LOCAL_DIR/stack.json).
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'csv-parse/sync';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterService } from '../core/results/service.ts';
import { DATASETS } from '../core/tiles/datasets.ts';
import { writeSyntheticMosaic } from '../local/synthetic.ts';
import { startLocalStack, type LocalStack } from '../local/dev-stack.ts';

const root = resolve(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'view-cli-'));
const localDir = join(dir, 'local');
const run = promisify(execFile);
const params = {
  tileBounds: [1362, 2083, 1363, 2083] as [number, number, number, number],
  z: 12,
  start_date: '2015-01-01',
  end_date: '2021-01-01',
  width: 3,
  min_count: 15,
  algorithm: 'flat',
  tiles_url: `file://${dir}/tiles/{z}/{x}/{y}.png`,
};

/** Runs a CLI (async: this process serves the emulators the CLI talks to). */
async function cli(script: string, ...args: string[]) {
  try {
    const r = await run(join(root, 'node_modules/.bin/node'), [join(root, 'scripts', script), ...args], {
      cwd: root,
      env: { ...process.env, GLAD_LOCAL_DIR: localDir, PATH: `${join(root, 'node_modules/.bin')}:${process.env.PATH}` },
      timeout: 120_000,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

let stack: LocalStack;
let service: ClusterService;

beforeAll(async () => {
  await writeSyntheticMosaic(join(dir, 'tiles'), { z: 12, x0: 1362, y0: 2083, x1: 1363, y1: 2083, seed: 21, density: 2500, dataset: DATASETS['glad-l'] });
  stack = await startLocalStack({ dir: localDir, workers: 1, log: () => {}, visibilityTimeout: 5 });
  service = await new ClusterService(params).run({ pollMs: 200, timeoutMs: 120_000 });
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

const readPng = (path: string) => PNG.sync.read(readFileSync(path));

describe('npm run view', () => {
  it('draws a cluster, its tile, and several clusters, printing the paths', async () => {
    expect(service.records().length).toBeGreaterThan(3);
    const outDir = join(dir, 'pictures');
    const cluster = await cli('view.ts', service.runId, 'cluster', '2', '--out-dir', outDir);
    expect(cluster.stderr).toBe('');
    expect(cluster.code).toBe(0);
    const path = cluster.stdout.trim();
    expect(path).toBe(join(outDir, `${service.runId}-cluster-2.png`));
    expect(readPng(path).width).toBeGreaterThan(300);

    const tile = await cli('view.ts', service.runId, 'tile', '0', '--out-dir', outDir);
    expect(tile.code).toBe(0);
    const r0 = service.record(0);
    expect(tile.stdout.trim()).toBe(join(outDir, `${service.runId}-tile-${r0.z}-${r0.x}-${r0.y}.png`));
    expect(readPng(tile.stdout.trim()).width).toBe(256 * 2 + 16);

    const byRows = await cli('view.ts', service.runId, 'clusters', '--rows', '3,0,1', '--out-dir', outDir);
    const byRange = await cli('view.ts', service.runId, 'clusters', '--start', '0', '--end', '2', '--out-dir', outDir);
    expect([byRows.code, byRange.code]).toEqual([0, 0]);
    // Panels are 320 px + 8 px margins: 3 and 2 panels wide.
    expect(readPng(byRows.stdout.trim()).width).toBe(3 * 328 + 8);
    expect(readPng(byRange.stdout.trim()).width).toBe(2 * 328 + 8);
  });

  it('a range of any size is drawn on several sheets of at most 12 clusters (an end past the last row is clipped)', async () => {
    const count = service.records().length;
    expect(count).toBeGreaterThan(12);
    const outDir = join(dir, 'sheets');
    const r = await cli('view.ts', service.runId, 'clusters', '--start', '0', '--end', '4458', '--out-dir', outDir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const paths = r.stdout.trim().split('\n');
    expect(paths).toHaveLength(Math.ceil(count / 12));
    expect(readPng(paths[0]).width).toBe(12 * 328 + 8);
    expect(readPng(paths.at(-1)!).width).toBe(((count - 1) % 12 + 1) * 328 + 8);
    expect(paths[0]).toBe(join(outDir, `${service.runId}-clusters-0-11.png`));
  });

  it('writes the HTML report with --html', async () => {
    const file = join(dir, 'report.html');
    const r = await cli('view.ts', service.runId, '--html', file);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(file);
    const html = readFileSync(file, 'utf8');
    expect(html).toContain(service.runId);
    expect((html.match(/"row_id":/g) ?? []).length).toBe(service.records().length);
  });

  it('fails with one line on bad input', async () => {
    const cases: [string[], RegExp][] = [
      [['r-0123456789abcdef', 'cluster', '1'], /^view: unknown run id r-0123456789abcdef\n$/],
      [[service.runId, 'cluster', '99999'], /^view: no cluster with row id 99999; row ids are 0\.\.\d+ \(\d+ clusters\)\n$/],
      [[service.runId, 'cluster', 'x'], /^view: row must be a row id/],
      [[service.runId, 'clusters'], /^view: clusters needs --rows/],
      [[service.runId, 'clusters', '--start', '4', '--end', '2'], /^view: start=4 end=2/],
      [[service.runId], /^view: say what to draw/],
    ];
    // In parallel: each case is a fresh node process.
    const results = await Promise.all(cases.map(([args]) => cli('view.ts', ...args)));
    for (const [k, [, message]] of cases.entries()) {
      const r = results[k];
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect(existsSync(join(dir, 'pictures', `${service.runId}-cluster-99999.png`))).toBe(false);
  });
});

describe('npm run fetch: results flags', () => {
  it('sorts, limits and writes CSV by run id; the same run is found by its region and parameters', async () => {
    const r = await cli('fetch.ts', service.runId, '--format', 'csv', '--sort', 'area', '--desc', '--limit', '3');
    expect(r.code).toBe(0);
    const rows = parse(r.stdout, { columns: true }) as Record<string, string>[];
    expect(rows).toHaveLength(3);
    const expected = service.view({ sort: 'area', desc: true, limit: 3 });
    expect(rows.map((x) => Number(x.row_id))).toEqual(expected.map((x) => Number(x.row_id)));
    expect(rows[0].alerts).toBeUndefined();

    const byParams = await cli(
      'fetch.ts', '--tile-bounds', '1362,2083,1363,2083', '--z', '12', '--start', params.start_date, '--end', params.end_date,
      '--width', '3', '--min-count', '15', '--algorithm', 'flat', '--tiles-url', params.tiles_url, '--format', 'json',
    );
    expect(byParams.code).toBe(0);
    const all = JSON.parse(byParams.stdout) as { run_id: string }[];
    expect(all).toHaveLength(service.records().length);
    expect(new Set(all.map((x) => x.run_id))).toEqual(new Set([service.runId]));
  });

  it('writes GeoJSON without --full (stored hulls) and lists runs and errors', async () => {
    const geo = await cli('fetch.ts', service.runId, '--format', 'geojson', '--limit', '2');
    expect(geo.code).toBe(0);
    const fc = JSON.parse(geo.stdout);
    expect(fc.features.map((f: { geometry: { type: string } }) => f.geometry.type)).toEqual(['Polygon', 'Point', 'Polygon', 'Point']);
    expect(fc.features[0].properties.alerts).toBeUndefined();
    expect(fc.features[0].properties.hull).toBe('convex');
    const concave = await cli('fetch.ts', service.runId, '--format', 'geojson', '--limit', '2', '--hull', 'concave');
    expect(concave.code).toBe(0);
    expect(JSON.parse(concave.stdout).features[0].properties.hull).toBe('concave');

    const list = await cli('fetch.ts', '--list', '--format', 'json');
    expect(list.code).toBe(0);
    const runs = JSON.parse(list.stdout) as { run_id: string; state: string; tiles: number; clusters: number }[];
    const mine = runs.find((x) => x.run_id === service.runId)!;
    expect(mine).toMatchObject({ state: 'finished', tiles: 2, clusters: service.records().length });

    const errors = await cli('fetch.ts', service.runId, '--errors', '--format', 'json');
    expect(errors.code).toBe(0);
    expect(JSON.parse(errors.stdout)).toEqual([]);
  });

  it('streams csv, json and geojson byte for byte as the loaded output, to stdout and to --out', async () => {
    const outDir = mkdtempSync(join(dir, 'streamed-'));
    for (const args of [['--format', 'csv'], ['--format', 'json', '--full'], ['--format', 'geojson'], ['--format', 'geojson', '--hull', 'concave']]) {
      const [streamed, loaded] = await Promise.all([cli('fetch.ts', service.runId, ...args), cli('fetch.ts', service.runId, ...args, '--no-stream')]);
      expect([streamed.code, loaded.code], streamed.stderr + loaded.stderr).toEqual([0, 0]);
      expect(streamed.stdout.length).toBeGreaterThan(100);
      expect(streamed.stdout).toBe(loaded.stdout);
      const file = join(outDir, `${args.join('')}.out`);
      const written = await cli('fetch.ts', service.runId, ...args, '--out', file);
      expect(written.code).toBe(0);
      expect(written.stderr).toBe(`wrote clusters of run ${service.runId} to ${file}\n`);
      expect(readFileSync(file, 'utf8')).toBe(await service.export(args[1] as 'csv', { full: args.includes('--full'), hull: args.includes('concave') ? 'concave' : undefined }));
    }
    expect(readdirSync(outDir)).toHaveLength(4); // no temporary file left behind
  }, 180_000); // twelve CLI processes: 43 s alone on a loaded machine

  it('fails with one line on bad input', async () => {
    const cases: [string[], RegExp][] = [
      [[service.runId, '--sort', 'aera'], /^fetch: unknown column "aera"; columns: .*area/],
      [[service.runId, '--limit', 'ten'], /^fetch: --limit must be a whole number/],
      [['--xy', '1,2', '--z', '3', '--tiles-url', 'file:///none/{z}/{x}/{y}.png'], /^fetch: no finished run for these parameters \(run id r-[0-9a-f]{16}\)/],
      [['r-0123456789abcdef'], /^fetch: unknown run id r-0123456789abcdef$/],
      [['r-0123456789abcdef', '--format', 'csv'], /^fetch: unknown run id r-0123456789abcdef$/], // streamed path
      [[service.runId, '--errors', '--format', 'geojson'], /^fetch: --format geojson is not available here/],
      [[service.runId, '--hull', 'round'], /^fetch: unknown hull "round"; hulls: convex, concave$/],
      // An output directory that does not exist: streamed and loaded formats alike.
      [[service.runId, '--format', 'csv', '--out', '/missing/dir/x.csv'], /^fetch: cannot write \/missing\/dir\/x\.csv: no such directory \/missing\/dir$/],
      [[service.runId, '--format', 'geojson', '--out', '/missing/dir/x.geojson'], /^fetch: cannot write \/missing\/dir\/x\.geojson: no such directory \/missing\/dir$/],
      [[service.runId, '--format', 'table', '--out', '/missing/dir/x.txt'], /^fetch: cannot write \/missing\/dir\/x\.txt: no such directory \/missing\/dir$/],
    ];
    const results = await Promise.all(cases.map(([args]) => cli('fetch.ts', ...args)));
    for (const [k, [, message]] of cases.entries()) {
      const r = results[k];
      expect(r.code).toBe(1);
      expect(r.stderr.trim()).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});
