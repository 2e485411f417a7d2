import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ALL_DAYS, gladDecoder } from '../core/tiles/decode.ts';
import { isoToDays } from '../core/tiles/dates.ts';
import { MAX_REACH, renderWindow, syntheticTile, syntheticTilePng, writeSyntheticMosaic } from '../local/synthetic.ts';

const z = 12;

describe('syntheticTile', () => {
  it('is deterministic: same options, same bytes; another seed, another world', () => {
    const opts = { z, x: 1355, y: 2045, seed: 1, density: 3000 };
    const a = syntheticTilePng(opts);
    const b = syntheticTilePng({ ...opts });
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    const c = syntheticTilePng({ ...opts, seed: 2 });
    expect(Buffer.from(a).equals(Buffer.from(c))).toBe(false);
  });

  it('round-trips through the GLAD decoder', () => {
    const opts = { z, x: 1000, y: 2000, seed: 5, density: 3000 };
    const alerts = syntheticTile(opts);
    const decoded = gladDecoder.decode(syntheticTilePng(opts), ALL_DAYS, opts);
    expect(decoded.length).toBe(alerts.length);
    expect(Array.from(decoded.days)).toEqual(Array.from(alerts.days));
    expect(Array.from(decoded.col)).toEqual(Array.from(alerts.col));
  });

  it('dates lie in 2015..2020 and confidences are 1 or 2', () => {
    const a = syntheticTile({ z, x: 7, y: 9, seed: 3, density: 10000 });
    const last = isoToDays('2020-12-31');
    const conf = new Set<number>();
    for (let k = 0; k < a.length; k++) {
      expect(a.days[k]).toBeGreaterThanOrEqual(1);
      expect(a.days[k]).toBeLessThanOrEqual(last);
      conf.add(a.confidence[k]);
    }
    expect([...conf].sort()).toEqual([1, 2]);
  });

  for (const density of [1000, 3000, 10000, 30000]) {
    it(`mean density over a 5x5 mosaic is within ±15% of ${density}`, () => {
      let total = 0;
      for (let y = 100; y < 105; y++) for (let x = 200; x < 205; x++) total += syntheticTile({ z, x, y, seed: 11, density }).length;
      const mean = total / 25;
      expect(Math.abs(mean / density - 1)).toBeLessThan(0.15);
    });
  }

  it('zero density gives an empty tile; refuses impossible density and bad tiles', () => {
    expect(syntheticTile({ z, x: 1, y: 1, seed: 1, density: 0 }).length).toBe(0);
    expect(() => syntheticTile({ z, x: 1, y: 1, seed: 1, density: 60000 })).toThrow('density=60000');
    expect(() => syntheticTile({ z, x: 4096, y: 1, seed: 1, density: 10 })).toThrow('x=4096');
  });
});

describe('mosaic consistency', () => {
  it('tiles rendered one by one equal one big window over all their anchors', () => {
    // A window renders from every anchor within MAX_REACH of it; a single tile only from its 3x3
    // ring. Equality proves no feature reaches beyond the ring and tiles stitch without seams.
    const opts = { z, seed: 9, density: 10000 };
    const [x0, y0] = [300, 400];
    const big = renderWindow(opts, x0 * 256 - 300, y0 * 256 - 300, 2 * 256 + 600, 2 * 256 + 600);
    for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
      const t = syntheticTile({ ...opts, x: x0 + dx, y: y0 + dy });
      const grid = new Uint16Array(256 * 256);
      for (let k = 0; k < t.length; k++) grid[t.row[k] * 256 + t.col[k]] = t.days[k];
      let diff = 0;
      for (let r = 0; r < 256; r++) {
        for (let c = 0; c < 256; c++) {
          const bi = (300 + dy * 256 + r) * big.width + (300 + dx * 256 + c);
          if (grid[r * 256 + c] !== big.days[bi]) diff++;
        }
      }
      expect(diff).toBe(0);
    }
    expect(MAX_REACH).toBeLessThan(256);
  });

  it('clearings continue across tile edges as often as across interior lines', () => {
    // Share of alerts on one side of a line that have an alert right across it:
    // at a tile edge (col 255 | next tile col 0) vs an interior line (col 127 | col 128).
    let edgeHits = 0, edgeTotal = 0, midHits = 0, midTotal = 0;
    for (let y = 50; y < 56; y++) {
      for (let x = 60; x < 65; x++) {
        const grid = (tx: number) => {
          const a = syntheticTile({ z, x: tx, y, seed: 4, density: 10000 });
          const g = new Uint8Array(256 * 256);
          for (let k = 0; k < a.length; k++) g[a.row[k] * 256 + a.col[k]] = 1;
          return g;
        };
        const left = grid(x);
        const right = grid(x + 1);
        for (let r = 0; r < 256; r++) {
          if (left[r * 256 + 255]) { edgeTotal++; edgeHits += right[r * 256]; }
          if (left[r * 256 + 127]) { midTotal++; midHits += left[r * 256 + 128]; }
        }
      }
    }
    const edgeRate = edgeHits / edgeTotal;
    const midRate = midHits / midTotal;
    expect(edgeTotal).toBeGreaterThan(500);
    // Far above the ~15% chance level of independent tiles at this density, and close to the interior rate.
    expect(edgeRate).toBeGreaterThan(0.5);
    expect(Math.abs(edgeRate - midRate)).toBeLessThan(0.1);
  });
});

describe('writeSyntheticMosaic', () => {
  it('writes dir/{z}/{x}/{y}.png, omits empty tiles and corrupts on request', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'synth-'));
    try {
      const summary = await writeSyntheticMosaic(dir, {
        z, x0: 10, y0: 20, x1: 12, y1: 21, seed: 1, density: 1000, corrupt: [{ z, x: 11, y: 21 }],
      });
      expect(summary.tiles).toBe(6);
      expect(summary.written).toBe(6);
      expect(summary.corrupt).toBe(1);
      expect((await readdir(join(dir, '12'))).sort()).toEqual(['10', '11', '12']);
      const bytes = await readFile(join(dir, '12/10/20.png'));
      expect(Buffer.from(syntheticTilePng({ z, x: 10, y: 20, seed: 1, density: 1000 })).equals(bytes)).toBe(true);
      const bad = await readFile(join(dir, '12/11/21.png'));
      expect(() => gladDecoder.decode(new Uint8Array(bad), ALL_DAYS, { z, x: 11, y: 21 })).toThrow('tile 12/11/21');
      const empty = await writeSyntheticMosaic(join(dir, 'empty'), { z, x0: 0, y0: 0, x1: 1, y1: 0, seed: 1, density: 0 });
      expect(empty.written).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('npm run synth', () => {
  const root = resolve(import.meta.dirname, '..');
  const synth = (...args: string[]) =>
    spawnSync(join(root, 'node_modules/.bin/node'), [join(root, 'scripts/synth.ts'), ...args], { cwd: root, encoding: 'utf8' });

  it('writes the same tiles as the library and reports them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'synth-cli-'));
    try {
      const r = synth('--out', dir, '--z', '12', '--tile-bounds', '10,20,11,20', '--seed', '3', '--alerts', '2000', '--corrupt', '11,20');
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^wrote 2 of 2 tiles \(1 corrupt, \d+ alerts/);
      const bytes = await readFile(join(dir, '12/10/20.png'));
      expect(Buffer.from(syntheticTilePng({ z, x: 10, y: 20, seed: 3, density: 2000 })).equals(bytes)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('bad arguments: exit 1 with one line', () => {
    for (const [args, message] of [
      [['--out', '/tmp/x', '--z', '12', '--tile-bounds', '1,2,3'], /--tile-bounds must be 4 comma-separated integers/],
      [['--out', '/tmp/x', '--z', '12', '--tile-bounds', '5,0,4,0'], /^synth: x0=5 is greater than x1=4 \(for a region across the antimeridian/],
      [['--out', '/tmp/x', '--z', '12', '--tile-bounds', '0,0,0,0', '--alerts', '99999'], /^synth: density=99999 is out of range/],
    ] as [string[], RegExp][]) {
      const r = synth(...args);
      expect(r.status).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(r.stderr.trimEnd()).toMatch(message);
    }
  });
});
