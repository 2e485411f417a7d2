// `npm run tile` as a subprocess (node 22 from node_modules/.bin) against a synthetic tile directory.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATASETS } from '../core/tiles/datasets.ts';
import { syntheticTile, writeSyntheticMosaic } from '../local/synthetic.ts';
import { tileBounds } from '../core/tiles/grid.ts';
import { isoToDays } from '../core/tiles/dates.ts';
import type { Cluster } from '../core/clusters/types.ts';

const root = resolve(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'tile-cli-'));
const TILES_URL = `${dir}/{z}/{x}/{y}.png`;

function tileCli(...args: string[]) {
  const r = spawnSync(join(root, 'node_modules/.bin/node'), [join(root, 'scripts/tile.ts'), ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, PATH: `${join(root, 'node_modules/.bin')}:${process.env.PATH}`, TILES_URL },
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  await writeSyntheticMosaic(dir, { z: 12, x0: 1354, y0: 2044, x1: 1356, y1: 2046, seed: 1, density: 3000, corrupt: [{ z: 12, x: 1356, y: 2046 }], dataset: DATASETS['glad-l'] });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base = { z: 12, x: 1355, y: 2045, start_date: '2016-06-01', end_date: '2016-12-01' };

describe('npm run tile: bad input', () => {
  const cases: [string, string, RegExp][] = [
    ['no argument', '', /^tile: missing request JSON/],
    ['invalid JSON', '{"z":12,', /^tile: invalid JSON/],
    ['missing z', JSON.stringify({ x: 1, y: 1 }), /^tile: z: required$/],
    ['non-integer y', JSON.stringify({ ...base, y: 2045.5 }), /^tile: y: must be an integer$/],
    ['x out of range', JSON.stringify({ ...base, x: 4096 }), /^tile: x=4096 is out of range 0..4095 at z=12$/],
    ['unparsable date', JSON.stringify({ ...base, start_date: '2016-13-01' }), /^tile: start_date: "2016-13-01" is not a valid/],
    ['end before start', JSON.stringify({ ...base, end_date: '2016-01-01' }), /^tile: end_date: must be after start_date/],
    ['width 0', JSON.stringify({ ...base, width: 0 }), /^tile: width: must be in 0.5..256$/],
    ['min_count 0', JSON.stringify({ ...base, min_count: 0 }), /^tile: min_count: must be an integer in 1..1000000$/],
    ['unknown algorithm', JSON.stringify({ ...base, algorithm: 'dbscan' }), /^tile: algorithm: "dbscan" is not one of/],
    ['unknown key', JSON.stringify({ ...base, colour: 'red' }), /^tile: unknown key\(s\): colour$/],
  ];
  for (const [name, arg, message] of cases) {
    it(`${name}: exit 1, one line on stderr, nothing on stdout`, () => {
      const r = arg === '' ? tileCli() : tileCli(arg);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(r.stderr.trimEnd()).toMatch(message);
    });
  }

  it('a corrupt tile: exit 1 naming the tile', () => {
    const r = tileCli(JSON.stringify({ ...base, x: 1356, y: 2046 }));
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd()).toMatch(/^tile: tile 12\/1356\/2046: not a PNG or corrupt\/truncated/);
  });
});

describe('npm run tile: output', () => {
  it('a missing tile prints one JSON object: the request with defaults, no clusters', () => {
    const r = tileCli(JSON.stringify({ z: 12, x: 100, y: 100 }));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    const out = JSON.parse(lines[0]);
    expect(out).toEqual({
      z: 12, x: 100, y: 100, start_date: '2015-01-01', end_date: '2030-01-01',
      width: 5, min_count: 25, iterations: 25, algorithm: 'standard', dataset: 'glad-l', nb_clusters: 0, tile_alerts: 0, clusters: [],
    });
  });

  for (const algorithm of ['standard', 'flat', 'blurring']) {
    it(`${algorithm}: clusters whose every alert is a real alert of the synthetic world`, () => {
      const request = { ...base, start_date: '2015-01-01', end_date: '2021-01-01', algorithm, min_count: 20 };
      const r = tileCli(JSON.stringify(request));
      // The corrupt neighbour 1356/2046 is read as missing, with a warning (blurring reads no neighbours).
      if (algorithm === 'blurring') expect(r.stderr).toBe('');
      else expect(r.stderr.trimEnd()).toMatch(/^tile: warning: neighbour ignored \(read as missing\): tile 12\/1356\/2046: not a PNG/);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(r.code).toBe(0);
      expect(r.stdout.trimEnd().split('\n')).toHaveLength(1);
      const out = JSON.parse(r.stdout);
      expect(Object.keys(out)).toEqual([
        'z', 'x', 'y', 'start_date', 'end_date', 'width', 'min_count', 'iterations', 'algorithm', 'dataset', 'nb_clusters', 'tile_alerts', 'clusters',
      ]);
      expect(out).toMatchObject({ ...request, width: 5, iterations: 25 });
      expect(out.nb_clusters).toBe(out.clusters.length);
      expect(out.nb_clusters).toBeGreaterThan(3);

      // The synthetic world as a lookup: global pixel -> ISO date.
      const world = new Map<string, number>();
      for (let ty = 2044; ty <= 2046; ty++) {
        for (let tx = 1354; tx <= 1356; tx++) {
          const a = syntheticTile({ z: 12, x: tx, y: ty, seed: 1, density: 3000 });
          for (let k = 0; k < a.length; k++) world.set(`${tx * 256 + a.col[k]},${ty * 256 + a.row[k]}`, a.days[k]);
        }
      }
      const b = tileBounds(base);
      let halo = 0;
      for (const c of out.clusters as Cluster[]) {
        expect(c.i).toBeGreaterThanOrEqual(0);
        expect(c.i).toBeLessThanOrEqual(255);
        expect(c.j).toBeGreaterThanOrEqual(0);
        expect(c.j).toBeLessThanOrEqual(255);
        expect(c.longitude).toBeGreaterThan(b.west);
        expect(c.longitude).toBeLessThan(b.east);
        expect(c.count).toBeGreaterThanOrEqual(20);
        expect(c.alerts).toHaveLength(c.count);
        for (const [row, col, date] of c.alerts) {
          // The corrupt tile 1356/2046 is read as missing, so no member may come from it.
          expect(col >= 256 && row >= 256).toBe(false);
          expect(world.get(`${1355 * 256 + col},${2045 * 256 + row}`)).toBe(isoToDays(date));
          if (col < 0 || col > 255 || row < 0 || row > 255) halo++;
        }
        const dates = c.alerts.map((a) => a[2]).sort();
        expect(c.min_date).toBe(dates[0]);
        expect(c.max_date).toBe(dates[dates.length - 1]);
      }
      // Clusters crossing the tile edge bring halo members along (the synthetic world has such clearings).
      if (algorithm === 'standard') expect(halo).toBeGreaterThan(0);
      if (algorithm === 'blurring') expect(halo).toBe(0);
    });
  }
});
