// Issue 9 phase 2: runs on today's alert data. Datasets and confidence in the run (id, manifest,
// tile JSON), `latest` pinned at submit against a local tile-cache stand-in, rasters as a run's
// source (the same clusters as the same alerts in PNG tiles, at the cluster level and through the
// whole pipeline), confidence counts in every export, the sources a stack allows, template
// validation after parsing (issue 12 item 6), and bad input as one line at submit time.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTile } from '../core/clusters/tile-job.ts';
import { exportClusters } from '../core/results/exports.ts';
import { runId, validateRunParams } from '../core/run/params.ts';
import { checkAllowedSources, prepareRun, type AllowedSources } from '../core/store/run-sources.ts';
import { fileTileSource } from '../core/store/tile-sources.ts';
import { openRaster, rasterAlertSource } from '../core/store/raster-source.ts';
import { DATASETS } from '../core/tiles/datasets.ts';
import { isoToDays } from '../core/tiles/dates.ts';
import { tileKey } from '../core/tiles/grid.ts';
import { validateTemplate } from '../core/tiles/tile-url.ts';
import type { TileAddress, TileSource } from '../core/tiles/types.ts';
import { dateConfTiff, encodeDatasetTile, syntheticDateConfRaster } from '../local/synthetic-encodings.ts';
import { syntheticTile } from '../local/synthetic.ts';
import { cleanEnv, runScript } from './run-script.ts';
import { startTileCacheServer, type TileCacheServer } from './tile-cache-server.ts';

const glad = DATASETS['glad-l'];
const world = { seed: 7, density: 2500 };
const BOUNDS = { z: 12, x0: 1331, y0: 2162, x1: 1332, y1: 2163 };
const inBounds = (t: TileAddress) => t.z === BOUNDS.z && t.x >= BOUNDS.x0 && t.x <= BOUNDS.x1 && t.y >= BOUNDS.y0 && t.y <= BOUNDS.y1;
const dir = mkdtempSync(join(tmpdir(), 'glad-sources-'));
const rasterPath = join(dir, 'aligned-3857.tif');
let server: TileCacheServer;
let version = 'v20240115';

/** The synthetic world as one dataset's PNG tiles (null outside BOUNDS or without alerts). */
function pngTile(dataset: typeof glad, tile: TileAddress): Uint8Array | null {
  if (!inBounds(tile)) return null;
  const alerts = syntheticTile({ ...tile, ...world });
  return alerts.length ? encodeDatasetTile(alerts, dataset) : null;
}

beforeAll(async () => {
  writeFileSync(rasterPath, new Uint8Array(dateConfTiff(syntheticDateConfRaster({ ...BOUNDS, ...world }, glad))));
  server = await startTileCacheServer({
    get version() {
      return version;
    },
    tile: (name, tile) => (name === 'umd_glad_landsat_alerts' ? pngTile(glad, tile) : null),
  });
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const cacheUrl = () => `${server.url}/umd_glad_landsat_alerts/latest/default/{z}/{x}/{y}.png`;

describe('tile URL templates are checked after parsing (issue 12 item 6)', () => {
  it('refuses placeholders outside the path, fragments, and a query on a local or s3 template', () => {
    for (const bad of ['file:///etc/passwd#{z}/{x}/{y}', 'https://h/t.png?{z}{x}{y}', 'http://h/x#{z}{x}{y}', 'https://{z}.h/{x}/{y}.png', '/dir/{z}/{x}/{y}.png?a=1']) {
      expect(() => validateTemplate(bad), bad).toThrow(/must be in the path|fragment|query/);
    }
    const base = { z: 12, region: { kind: 'tile', x: 1, y: 1 } };
    expect(() => validateRunParams({ ...base, tiles_url: 'file:///etc/passwd#{z}/{x}/{y}' })).toThrow(/^tiles_url: .*fragment/);
    expect(() => validateRunParams({ ...base, tiles_url: 'https://h/t.png?z={z}&x={x}&y={y}' })).toThrow(/must be in the path/);
    // A fixed query on http(s) with the placeholders in the path is fine (a key, a signed URL, a cache buster).
    expect(validateRunParams({ ...base, tiles_url: 'https://h/{z}/{x}/{y}.png?k=1' }).tiles_url).toContain('?k=1');
    // DIST's own address needs its query, and may keep it on a mirror.
    expect(validateRunParams({ ...base, dataset: 'dist', tiles_url: 'https://m/{z}/{x}/{y}.png?start_date=2020-12-31' }).tiles_url).toContain('?start_date');
    expect(validateRunParams({ ...base, dataset: 'dist', tiles_url: DATASETS.dist.tilesUrl }).dataset).toBe('dist');
  });

  it('never quotes the bytes of a non-image local file', async () => {
    const tiles = join(dir, 'secret');
    execFileSync('mkdir', ['-p', join(tiles, '12', '5')]);
    writeFileSync(join(tiles, '12', '5', '6.png'), 'root:x:0:0:root:/root:/bin/bash\n');
    const err: Error = await fileTileSource(`${tiles}/{z}/{x}/{y}.png`).read({ z: 12, x: 5, y: 6 }).then(() => new Error('read'), (e) => e);
    expect(err.message).toMatch(/is not a PNG \(\d+ bytes\)$/);
    expect(err.message).not.toContain('root');
  });
});

describe('datasets and confidence in the run', () => {
  const base = { z: 12, region: { kind: 'tile', x: 1331, y: 2162 }, tiles_url: 'https://t/{z}/{x}/{y}.png' };
  it('default glad-l; dataset and confidence change the run id; each error is one line', () => {
    const spec = validateRunParams(base);
    expect(spec.dataset).toBe('glad-l');
    const ids = new Set([spec, validateRunParams({ ...base, dataset: 'glad-2018' }), validateRunParams({ ...base, confidence: 'high' }), validateRunParams({ ...base, dataset: 'integrated', confidence: 'highest' })].map(runId));
    expect(ids.size).toBe(4);
    expect(() => validateRunParams({ ...base, dataset: 'modis' })).toThrow(/^dataset: unknown dataset "modis" \(known: glad-l, glad-s2, radd, integrated, dist, glad-2018\)$/);
    expect(() => validateRunParams({ ...base, confidence: 'highest' })).toThrow(/^confidence: dataset glad-l has no "highest" confidence \(its levels: low, high\)$/);
    expect(() => validateRunParams({ ...base, confidence: 'certain' })).toThrow(/^confidence: "certain" is not one of low, high, highest$/);
  });
});

describe('latest pinned at submit (local tile-cache stand-in)', () => {
  it('pins the release into the spec and the run id; a new release is a new run', async () => {
    const first = await prepareRun({ z: 12, region: { kind: 'tile', x: 1331, y: 2162 }, tiles_url: cacheUrl() });
    expect(first.spec.version).toBe('v20240115');
    expect(first.spec.tiles_url).toBe(`${server.url}/umd_glad_landsat_alerts/v20240115/default/{z}/{x}/{y}.png`);
    expect(first.notes.join()).toMatch(/release v20240115/);
    version = 'v20240122';
    try {
      const second = await prepareRun({ z: 12, region: { kind: 'tile', x: 1331, y: 2162 }, tiles_url: cacheUrl() });
      expect(second.spec.version).toBe('v20240122');
      expect(runId(second.spec)).not.toBe(runId(first.spec));
    } finally {
      version = 'v20240115';
    }
  });

  it('a pinned glad-l run clusters the tiles with the right dates (value 1 = 2015-01-01)', async () => {
    const { spec } = await prepareRun({ z: 12, region: { kind: 'tile', x: 1331, y: 2162 }, tiles_url: cacheUrl(), min_count: 15 });
    const { tileSourceFromTemplate } = await import('../core/store/tile-sources.ts');
    const tile = { z: 12, x: 1331, y: 2162 };
    const result = await runTile(tile, spec, tileSourceFromTemplate(spec.tiles_url!));
    expect(result.dataset).toBe('glad-l');
    expect(result.nb_clusters).toBeGreaterThan(3);
    const truth = new Map<string, number>();
    for (const t of [tile, { ...tile, x: 1332 }, { ...tile, y: 2163 }, { ...tile, x: 1332, y: 2163 }]) {
      const a = syntheticTile({ ...t, ...world });
      for (let k = 0; k < a.length; k++) truth.set(`${(t.x - tile.x) * 256 + a.col[k]},${(t.y - tile.y) * 256 + a.row[k]}`, a.days[k]);
    }
    for (const c of result.clusters) for (const [row, col, date] of c.alerts) expect(truth.get(`${col},${row}`)).toBe(isoToDays(date));
  });
});

describe('rasters as a run source', () => {
  it('an aligned raster gives exactly the clusters the same alerts give as PNG tiles (runTile, real engine)', async () => {
    const raster = await openRaster(rasterPath);
    const fromRaster = rasterAlertSource([raster], glad);
    const pngs: TileSource = { read: async (t) => pngTile(glad, t) };
    const spec = { ...validateRunParams({ z: 12, region: { kind: 'tile', x: 1331, y: 2162 }, tiles_url: 'file:///x/{z}/{x}/{y}.png', min_count: 15 }) };
    for (const tile of [{ z: 12, x: 1331, y: 2162 }, { z: 12, x: 1332, y: 2163 }]) {
      const a = await runTile(tile, spec, pngs);
      const b = await runTile(tile, spec, fromRaster);
      expect(a.nb_clusters, tileKey(tile)).toBeGreaterThan(2);
      expect(b).toEqual(a);
      // Every cluster's members are counted by confidence (the synthetic world has low and high).
      for (const c of a.clusters) expect(c.count_low + c.count_high + c.count_highest).toBe(c.count);
      expect(a.clusters.some((c) => c.count_low > 0 && c.count_high > 0)).toBe(true);
    }
    // A minimum confidence keeps only those alerts, from rasters as from tiles.
    const high = { ...spec, confidence: 'high' as const };
    const hi = await runTile({ z: 12, x: 1331, y: 2162 }, high, rasterAlertSource([raster], glad, 'high'));
    expect(hi).toEqual(await runTile({ z: 12, x: 1331, y: 2162 }, high, pngs));
    for (const c of hi.clusters) expect(c.count_low).toBe(0);
    await raster.close();
  });

  it('submit: the region defaults to the rasters\' bounds, the identity is in the run id, zoom advice is a note', async () => {
    const { spec, notes } = await prepareRun({ z: 12, region: null, rasters: [rasterPath] });
    expect(spec.region).toEqual(BOUNDS);
    expect(spec.rasters).toEqual([{ url: rasterPath, size: expect.any(Number), mtime: expect.any(String) }]);
    expect(spec.tiles_url).toBeUndefined();
    expect(notes.join()).toMatch(/rasters' bounds/);
    const coarse = await prepareRun({ z: 10, region: null, rasters: [rasterPath] });
    expect(coarse.notes.join()).toMatch(/z=10 pixels are 4\.0× coarser than the raster's .* z=12 matches it/);
    // A changed file (another mtime) is another run.
    const touched = join(dir, 'touched.tif');
    execFileSync('cp', [rasterPath, touched]);
    const a = await prepareRun({ z: 12, region: null, rasters: [touched] });
    execFileSync('touch', ['-d', '2001-01-01', touched]);
    const b = await prepareRun({ z: 12, region: null, rasters: [touched] });
    expect(runId(b.spec)).not.toBe(runId(a.spec));
  });

  it('bad input is one line at submit time', async () => {
    const png = join(dir, 'tile.png');
    writeFileSync(png, pngTile(glad, { z: 12, x: 1331, y: 2162 })!);
    const cases: [Parameters<typeof prepareRun>[0], RegExp, Parameters<typeof prepareRun>[1]?][] = [
      [{ z: 12, region: null, rasters: [png] }, /tile\.png: not a TIFF/],
      [{ z: 12, region: { kind: 'tile', x: 0, y: 0 }, rasters: [rasterPath] }, /^region is outside the rasters \(they cover lon/],
      [{ z: 12, region: null, rasters: [rasterPath], dataset: 'nope' }, /^unknown dataset "nope"/],
      [{ z: 12, region: null, rasters: [rasterPath], confidence: 'highest' }, /^confidence: dataset glad-l has no "highest" confidence/],
      [{ z: 12, region: { kind: 'tile', x: 1, y: 1 }, tiles_url: 'file:///etc/passwd#{z}/{x}/{y}' }, /^tiles_url: .*fragment/],
      [{ z: 12, region: null, rasters: [rasterPath] }, /raster .* is a local path: on AWS a raster must be s3:\/\/ or https:\/\//, { onAws: true }],
    ];
    for (const [request, pattern, options] of cases) {
      const err: Error = await prepareRun(request, options).then(() => new Error('accepted'), (e) => e);
      expect(err.message).toMatch(pattern);
      expect(err.message).not.toContain('\n');
    }
  });

  it('enqueue refuses a bad raster, dataset or confidence with one line, before looking for a stack', async () => {
    const localDir = mkdtempSync(join(tmpdir(), 'glad-src-cli-'));
    try {
      const env = { ...cleanEnv(), GLAD_LOCAL_DIR: localDir };
      const cases: [string[], RegExp][] = [
        [['--raster', join(dir, 'nothing.tif')], /^enqueue: raster .*nothing\.tif: no such file/],
        [['--xy', '1,2', '--dataset', 'modis'], /^enqueue: unknown dataset "modis"/],
        [['--xy', '1,2', '--confidence', 'highest'], /^enqueue: confidence: dataset glad-l has no "highest" confidence/],
        [['--xy', '1,2', '--tiles-url', 'file:///etc/passwd#{z}/{x}/{y}'], /^enqueue: tiles_url: .*fragment/],
      ];
      const results = await Promise.all(cases.map(([args]) => runScript('enqueue.ts', args, { env })));
      results.forEach((r, k) => {
        expect(r.code, cases[k][0].join(' ')).toBe(1);
        expect(r.stdout).toBe('');
        expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
        expect(r.stderr.trimEnd()).toMatch(cases[k][1]);
      });
    } finally {
      rmSync(localDir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('allowed sources of a deployed stack (issue 12 item 14)', () => {
  const allowed: AllowedSources = { tileBuckets: ['tiles'], rasterBuckets: ['lake'], hosts: ['tiles.globalforestwatch.org'], datasets: ['glad-l', 'integrated'] };
  const spec = (extra: object) => validateRunParams({ z: 12, region: { kind: 'tile', x: 1, y: 1 }, ...extra });
  it('refuses local files, other buckets, hosts and datasets', () => {
    expect(() => checkAllowedSources(spec({ tiles_url: DATASETS['glad-l'].tilesUrl }), allowed)).not.toThrow();
    expect(() => checkAllowedSources(spec({ tiles_url: 's3://tiles/{z}/{x}/{y}.png' }), allowed)).not.toThrow();
    expect(() => checkAllowedSources(spec({ rasters: [{ url: 's3://lake/a.tif', size: 1 }] }), allowed)).not.toThrow();
    expect(() => checkAllowedSources(spec({ tiles_url: 'file:///t/{z}/{x}/{y}.png' }), allowed)).toThrow(/local path/);
    expect(() => checkAllowedSources(spec({ tiles_url: 's3://other/{z}/{x}/{y}.png' }), allowed)).toThrow(/bucket other is not allowed/);
    expect(() => checkAllowedSources(spec({ rasters: [{ url: 's3://tiles/a.tif', size: 1 }] }), allowed)).toThrow(/raster bucket tiles is not allowed/);
    expect(() => checkAllowedSources(spec({ tiles_url: 'https://evil.example/{z}/{x}/{y}.png' }), allowed)).toThrow(/host evil\.example is not allowed/);
    expect(() => checkAllowedSources(spec({ tiles_url: 's3://tiles/{z}/{x}/{y}.png', dataset: 'radd' }), allowed)).toThrow(/dataset radd is not allowed/);
  });
});

describe('confidence counts in every export', () => {
  it('table, csv, json and geojson carry count_low, count_high and count_highest', async () => {
    const spec = validateRunParams({ z: 12, region: { kind: 'tile', x: 1331, y: 2162 }, tiles_url: 'file:///x/{z}/{x}/{y}.png', min_count: 15 });
    const result = await runTile({ z: 12, x: 1331, y: 2162 }, spec, { read: async (t) => pngTile(glad, t) });
    const rows = result.clusters.map((c, k) => ({ ...c, run_id: 'r-0000000000000000', row_id: k }));
    const first = rows[0];
    const csv = String(await exportClusters(rows, 'csv'));
    const header = csv.split('\n')[0].split(',');
    for (const name of ['count_low', 'count_high', 'count_highest']) expect(header).toContain(name);
    const json = JSON.parse(String(await exportClusters(rows, 'json')));
    expect(json[0]).toMatchObject({ count_low: first.count_low, count_high: first.count_high, count_highest: 0 });
    const geojson = JSON.parse(String(await exportClusters(rows, 'geojson')));
    expect(geojson.features[0].properties).toMatchObject({ count_low: first.count_low, count_high: first.count_high });
    const table = String(await exportClusters(rows, 'table', { full: true }));
    expect(table).toMatch(/count_low/);
  });
});

describe('end to end on the local loop (npm start, child processes)', () => {
  it('a glad-l run through the tile-cache stand-in (latest pinned) and the same alerts from a raster give the same clusters', async () => {
    const localDir = mkdtempSync(join(tmpdir(), 'glad-src-e2e-'));
    const env = { ...cleanEnv(), GLAD_LOCAL_DIR: localDir };
    const region = ['--z', '12', '--tile-bounds', `${BOUNDS.x0},${BOUNDS.y0},${BOUNDS.x1},${BOUNDS.y1}`, '--min-count', '15', '--workers', '1'];
    try {
      const tiles = await runScript('start.ts', [...region, '--tiles-url', cacheUrl(), '--json'], { env, timeoutMs: 120_000 });
      expect(tiles.code, tiles.stderr).toBe(0);
      const m1 = JSON.parse(tiles.stdout);
      expect(m1.params).toMatchObject({ dataset: 'glad-l', version: 'v20240115', tiles_url: `${server.url}/umd_glad_landsat_alerts/v20240115/default/{z}/{x}/{y}.png` });
      expect(m1.tiles_failed).toBe(0);
      expect(m1.totals.clusters).toBeGreaterThan(5);
      expect(tiles.stderr).toMatch(/release v20240115 \(pinned for this run\)/);
      const raster = await runScript('start.ts', [...region, '--raster', rasterPath, '--json'], { env, timeoutMs: 120_000 });
      expect(raster.code, raster.stderr).toBe(0);
      const m2 = JSON.parse(raster.stdout);
      expect(m2.params.rasters).toEqual([expect.objectContaining({ url: rasterPath })]);
      expect(m2.params.tiles_url).toBeUndefined();
      expect(m2.run_id).not.toBe(m1.run_id);
      expect(m2.totals).toEqual(m1.totals);
      // One after the other: a state folder serves one process at a time (local/state-lock.ts).
      const a = await runScript('fetch.ts', [m1.run_id, '--format', 'json'], { env });
      const b = await runScript('fetch.ts', [m2.run_id, '--format', 'json'], { env });
      expect(a.code, a.stderr).toBe(0);
      const strip = (text: string) => JSON.parse(text).map(({ run_id: _r, ...rest }: Record<string, unknown>) => rest);
      expect(strip(b.stdout)).toEqual(strip(a.stdout));
      expect(strip(a.stdout)[0]).toHaveProperty('count_low');
    } finally {
      rmSync(localDir, { recursive: true, force: true });
    }
  }, 240_000);
});
