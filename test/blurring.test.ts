// blurringMeanShift must give the old system's clusters: same partition, same rounded centres.
// References: test/old-blurring.ts (plain untruncated transcription) and, on a few tiles, the old
// numpy code itself (test/numpy_old_blurring.py).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { blurredPositions, blurringMeanShift, gaussianTable, roundHalfEven, tableWeight, TRUNCATION_SIGMAS } from '../core/meanshift/blurring.ts';
import type { Partition, Points } from '../core/meanshift/types.ts';
import { moduleSource } from '../scripts/build-wasm.ts';
import { oldBlurringMeanShift } from './old-blurring.ts';
import { blobPoints as blobPointsOf, pointsOf, tilePoints } from './point-sets.ts';

const PYTHON = '/usr/bin/python3';
const hasNumpy = spawnSync(PYTHON, ['-c', 'import numpy'], { encoding: 'utf8' }).status === 0;

/** The blobs these tests were tuned on: 6 blobs of spread 2..10 px, 15% noise. */
const BLOBS = { blobs: 6, spreadMin: 2, spreadRange: 8, noise: 0.15 };
const blobPoints = (seed: number, count: number): Points => blobPointsOf(seed, count, BLOBS);

/** The centre each point ends in: comparing these compares partition and centres at once. */
function centreOfEach(p: Partition): string[] {
  return Array.from(p.labels, (l) => `${p.centres[l].x},${p.centres[l].y}`);
}

/** Same clusters as the transcription; returns the largest final position difference (px). */
function expectSameClusters(points: Points, width: number, iterations: number): number {
  const fast = blurringMeanShift(points, width, iterations);
  const old = oldBlurringMeanShift(points, width, iterations);
  expect(fast.centres.length).toBe(old.centres.length);
  expect(centreOfEach(fast)).toEqual(centreOfEach(old));
  // Labels are numbered the same way (row-major first appearance), so they match exactly too.
  expect(Array.from(fast.labels)).toEqual(Array.from(old.labels));
  // Unrounded positions agree to float64 noise: summing in another order alone moves them ~1e-10 px.
  const final = blurredPositions(points, width, iterations);
  let worst = 0;
  for (let i = 0; i < points.length; i++) {
    worst = Math.max(worst, Math.abs(final.x[i] - old.finalX[i]), Math.abs(final.y[i] - old.finalY[i]));
  }
  expect(worst).toBeLessThan(1e-7);
  return worst;
}

describe('blurringMeanShift: small cases', () => {
  it('returns an empty partition for no points', () => {
    const p = blurringMeanShift(pointsOf([]), 5, 25);
    expect(p.labels.length).toBe(0);
    expect(p.centres).toEqual([]);
  });

  it('keeps a single point where it is', () => {
    const p = blurringMeanShift(pointsOf([[7, -3]]), 5, 25);
    expect(Array.from(p.labels)).toEqual([0]);
    expect(p.centres).toEqual([{ x: 7, y: -3 }]);
  });

  it('two neighbours, one pass, by hand: the first moves, then the second toward its new place', () => {
    const width = 5;
    // Row-major order: (0,0) then (1,0). The first goes to w/(1+w) with w = K(1).
    const w1 = Math.exp(-1 / (2 * width * width));
    const x0 = w1 / (1 + w1);
    const w2 = Math.exp(-((1 - x0) ** 2) / (2 * width * width));
    const x1 = (x0 * w2 + 1) / (w2 + 1);
    // Caller order deliberately reversed: labels must come back in the caller's indexing.
    const p = blurringMeanShift(pointsOf([[1, 0], [0, 0]]), width, 1);
    expect(p.centres[p.labels[1]]).toEqual({ x: Math.round(x0), y: 0 });
    expect(p.centres[p.labels[0]]).toEqual({ x: Math.round(x1), y: 0 });
    expect(Math.round(x0)).not.toBe(Math.round(x1)); // 0.495… and 0.748…: still two clusters
    // Many passes: they meet at one pixel.
    const many = blurringMeanShift(pointsOf([[1, 0], [0, 0]]), width, 25);
    expect(many.centres.length).toBe(1);
  });

  it('zero iterations: every alert is its own cluster at its own pixel', () => {
    const pts = pointsOf([[3, 4], [4, 4], [10, 2]]);
    const p = blurringMeanShift(pts, 5, 0);
    expect(centreOfEach(p)).toEqual(['3,4', '4,4', '10,2']);
  });

  it('points further apart than the kernel cut never interact', () => {
    const gap = Math.ceil(TRUNCATION_SIGMAS * 2) + 1;
    const pts = pointsOf([[0, 0], [gap, 0], [0, gap]]);
    const p = blurringMeanShift(pts, 2, 25);
    expect(centreOfEach(p)).toEqual(['0,0', `${gap},0`, `0,${gap}`]);
  });

  it('a duplicate-free lattice block and a width under 1 px match the old algorithm', () => {
    const block: Array<[number, number]> = [];
    for (let y = 0; y < 12; y++) for (let x = 0; x < 15; x++) block.push([x, y]);
    expectSameClusters(pointsOf(block), 5, 25);
    expectSameClusters(pointsOf(block), 0.4, 25);
    expectSameClusters(pointsOf(block), 0.9, 10);
  });

  it('does not depend on the caller order', () => {
    const pts = blobPoints(5, 300);
    const reversed: Points = { length: pts.length, x: pts.x.slice().reverse(), y: pts.y.slice().reverse() };
    const a = centreOfEach(blurringMeanShift(pts, 5, 25));
    const b = centreOfEach(blurringMeanShift(reversed, 5, 25));
    expect(b.reverse()).toEqual(a);
  });

  it('rejects a bad width or iteration count', () => {
    const pts = pointsOf([[0, 0]]);
    expect(() => blurringMeanShift(pts, 0, 25)).toThrow(/width/);
    expect(() => blurringMeanShift(pts, Number.NaN, 25)).toThrow(/width/);
    expect(() => blurringMeanShift(pts, 5, -1)).toThrow(/iterations/);
    expect(() => blurringMeanShift(pts, 5, 2.5)).toThrow(/iterations/);
  });
});

describe('helpers', () => {
  it('roundHalfEven is numpy np.round', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4999, 2.5001, -0].map(roundHalfEven)).toEqual([0, 2, 2, 0, -2, -2, 2, 3, 0]);
    expect(Object.is(roundHalfEven(-0.4), 0)).toBe(true);
  });

  it('the weight table agrees with Math.exp to a few ulps up to the cut, and is exactly 0 beyond it', () => {
    for (const width of [0.4, 2, 5, 5.5, 9]) {
      const g = gaussianTable(width);
      const a = 1 / (2 * width * width);
      // exp(-53·ln 2) = 2^-53: below float64 resolution next to a point's own weight of 1.
      const d2Float = (53 * Math.LN2) / a;
      let worst = 0;
      for (let i = 0; i <= 100_000; i++) {
        const d2 = (d2Float * i) / 100_000;
        const t = d2 * a;
        // Relative error, allowing for the rounding of the exponent t itself (1 ulp of t moves
        // exp(-t) by t·2^-53 relative, in Math.exp's answer as in ours); at width 2 (a = 1/8) t is exact.
        worst = Math.max(worst, Math.abs(tableWeight(g, d2) - Math.exp(-t)) / Math.exp(-t) / (width === 2 ? 1 : Math.max(1, t)));
      }
      expect(worst).toBeLessThan(4e-16);
      // The cut sits a hair beyond 2^-53 (never cuts a weight above it) ...
      expect(g.radius).toBeGreaterThanOrEqual(TRUNCATION_SIGMAS * width);
      expect(g.radius).toBeLessThan(TRUNCATION_SIGMAS * width * 1.001);
      // ... and beyond it weights are 0, however far (the kernel clamps d² first).
      for (const d2 of [g.radius ** 2 + 1e-9, g.radius ** 2 + 1, 1e6, 1e200]) expect(tableWeight(g, d2)).toBe(0);
    }
  });
});

describe('the WebAssembly kernel module', () => {
  it('core/meanshift/blurring-wasm.ts is what wasm/blurring-kernel.ts compiles to (npm run build:wasm)', async () => {
    const committed = readFileSync(new URL('../core/meanshift/blurring-wasm.ts', import.meta.url), 'utf8');
    expect(committed).toBe(await moduleSource());
  });

  it('the plain-SIMD fallback build (no fused multiply-adds) gives the same clusters as the transcription', () => {
    for (const pts of [tilePoints(31, 706, 808, 900), blobPoints(4, 500)]) {
      const old = oldBlurringMeanShift(pts, 5, 25);
      const final = blurredPositions(pts, 5, 25, 'simd');
      let worst = 0;
      for (let i = 0; i < pts.length; i++) {
        worst = Math.max(worst, Math.abs(final.x[i] - old.finalX[i]), Math.abs(final.y[i] - old.finalY[i]));
        expect(`${roundHalfEven(final.x[i])},${roundHalfEven(final.y[i])}`).toBe(`${old.centres[old.labels[i]].x},${old.centres[old.labels[i]].y}`);
      }
      expect(worst).toBeLessThan(1e-7);
    }
  });
});

describe('blurringMeanShift reproduces the old algorithm (plain transcription)', () => {
  const cases: Array<[string, () => Points, number, number]> = [
    ['synthetic tile, ~200 alerts', () => tilePoints(11, 700, 800, 300), 5, 25],
    ['synthetic tile, ~800 alerts', () => tilePoints(12, 701, 800, 800), 5, 25],
    ['synthetic tile, ~1,500 alerts', () => tilePoints(13, 702, 803, 1300), 5, 25],
    ['synthetic tile, ~2,000 alerts', () => tilePoints(14, 703, 805, 2000), 5, 25],
    ['synthetic tile, ~1,100 alerts, width 3, 40 passes', () => tilePoints(15, 704, 806, 1000), 3, 40],
    ['synthetic tile, ~700 alerts, width 9, 10 passes', () => tilePoints(16, 705, 807, 700), 9, 10],
    ['blobs and noise with halo, 600 alerts', () => blobPoints(1, 600), 5, 25],
    ['blobs and noise with halo, 900 alerts, width 2', () => blobPoints(2, 900), 2, 25],
    // Full-size tiles (the bench's ~3,000-alert tiles, z12): ~5 s each for the transcription.
    ['synthetic z12 tile, ~3,000 alerts', () => tilePoints(42, 2989, 2049, 3000, 12), 5, 25],
    ['synthetic z12 tile, ~3,000 alerts, densest', () => tilePoints(42, 2990, 2050, 3000, 12), 5, 25],
  ];
  for (const [name, make, width, iterations] of cases) {
    it(`${name} (width ${width}, ${iterations} passes)`, () => {
      const pts = make();
      expect(pts.length).toBeGreaterThan(100);
      const worst = expectSameClusters(pts, width, iterations);
      console.log(`blurring ${name}: ${pts.length} alerts, max position difference ${worst.toExponential(1)} px`);
    }, 180_000); // ~5 s quiet; the O(n² · passes) transcription took over 60 s on a loaded machine
  }
});

describe.skipIf(!hasNumpy)('blurringMeanShift reproduces the old numpy code itself', () => {
  for (const [name, make] of [
    ['synthetic tile, ~600 alerts', () => tilePoints(21, 900, 900, 600)],
    ['blobs and noise with halo, 500 alerts', () => blobPoints(3, 500)],
  ] as Array<[string, () => Points]>) {
    it(name, () => {
      const pts = make();
      const run = spawnSync(PYTHON, ['test/numpy_old_blurring.py'], {
        input: JSON.stringify({ x: Array.from(pts.x), y: Array.from(pts.y), width: 5, iterations: 25 }),
        encoding: 'utf8',
        maxBuffer: 1 << 26,
      });
      expect(run.status, run.stderr).toBe(0);
      const ref = JSON.parse(run.stdout) as { row: number[]; col: number[] };
      const numpyCentres = ref.row.map((r, i) => `${ref.col[i]},${r}`);
      expect(centreOfEach(blurringMeanShift(pts, 5, 25))).toEqual(numpyCentres);
    });
  }
});
