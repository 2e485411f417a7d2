// flatMeanShift must give scikit-learn's MeanShift(bandwidth=width) result: same partition,
// same centres. The peer is test/sklearn_meanshift.py run by /usr/bin/python3 (skipped only when
// scikit-learn is missing there; CI installs it).
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { flatMeanShift } from '../core/meanshift/flat.ts';
import { SklearnKdTree } from '../core/meanshift/sklearn-kdtree.ts';
import type { Partition, Points } from '../core/meanshift/types.ts';
import { mulberry32 } from '../local/synthetic.ts';
import { blobPoints as blobPointsOf, pointsOf, tilePoints } from './point-sets.ts';

const PYTHON = '/usr/bin/python3';
const hasSklearn = spawnSync(PYTHON, ['-c', 'import sklearn.cluster'], { encoding: 'utf8' }).status === 0;

/** The blobs these tests were tuned on: 8 blobs of spread 1.5..7.5 px, 20% noise. */
const BLOBS = { blobs: 8, spreadMin: 1.5, spreadRange: 6, noise: 0.2 };
const blobPoints = (seed: number, count: number): Points => blobPointsOf(seed, count, BLOBS);

function runPeer<T>(request: object): T {
  const run = spawnSync(PYTHON, ['test/sklearn_meanshift.py'], { input: JSON.stringify(request), encoding: 'utf8', maxBuffer: 1 << 26 });
  if (run.status !== 0) throw new Error(`sklearn peer failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as T;
}

function sklearnMeanShift(points: Points, bandwidth: number): Partition {
  const out = runPeer<{ labels: number[]; centres: Array<[number, number]> }>({ x: Array.from(points.x), y: Array.from(points.y), bandwidth });
  return { labels: Int32Array.from(out.labels), centres: out.centres.map(([x, y]) => ({ x, y })) };
}

/** Same partition up to renumbering (a bijection of labels), matched centres within 1e-9. */
function expectSamePartition(mine: Partition, ref: Partition): void {
  expect(mine.labels.length).toBe(ref.labels.length);
  expect(mine.centres.length).toBe(ref.centres.length);
  const toRef = new Map<number, number>();
  const fromRef = new Map<number, number>();
  let mismatches = 0;
  for (let i = 0; i < mine.labels.length; i++) {
    const a = mine.labels[i], b = ref.labels[i];
    if (!toRef.has(a)) toRef.set(a, b);
    if (!fromRef.has(b)) fromRef.set(b, a);
    if (toRef.get(a) !== b || fromRef.get(b) !== a) mismatches++;
  }
  expect(mismatches).toBe(0);
  let worst = 0;
  for (const [a, b] of toRef) {
    worst = Math.max(worst, Math.abs(mine.centres[a].x - ref.centres[b].x), Math.abs(mine.centres[a].y - ref.centres[b].y));
  }
  expect(worst).toBeLessThanOrEqual(1e-9);
}

describe('flatMeanShift: small cases', () => {
  it('returns an empty partition for no points', () => {
    const p = flatMeanShift(pointsOf([]), 5);
    expect(p.labels.length).toBe(0);
    expect(p.centres).toEqual([]);
  });

  it('one point is one cluster centred on it', () => {
    const p = flatMeanShift(pointsOf([[3, -9]]), 5);
    expect(Array.from(p.labels)).toEqual([0]);
    expect(p.centres).toEqual([{ x: 3, y: -9 }]);
  });

  it('two points exactly one bandwidth apart share a cluster at their midpoint (distance <= bandwidth)', () => {
    const p = flatMeanShift(pointsOf([[0, 0], [3, 4]]), 5);
    expect(Array.from(p.labels)).toEqual([0, 0]);
    expect(p.centres).toEqual([{ x: 1.5, y: 2 }]);
  });

  it('two points just over a bandwidth apart stay apart; equal intensity sorts by (x, y) descending', () => {
    const p = flatMeanShift(pointsOf([[0, 0], [3, 4]]), 4.999);
    expect(p.centres).toEqual([{ x: 3, y: 4 }, { x: 0, y: 0 }]);
    expect(Array.from(p.labels)).toEqual([1, 0]);
  });

  it('the denser mode comes first and absorbs a weaker mode within a bandwidth', () => {
    // Three points at x = 0,1,2 (mode 1, intensity 3) and one at x = 6: within 5 of 1 → dropped.
    const p = flatMeanShift(pointsOf([[0, 0], [1, 0], [2, 0], [6, 0]]), 5);
    expect(p.centres[0].y).toBe(0);
    expect(Array.from(p.labels)).toEqual([0, 0, 0, 0]);
  });

  it('a lattice with a width under 1 px: every pixel is its own cluster', () => {
    const xy: Array<[number, number]> = [];
    for (let y = 0; y < 6; y++) for (let x = 0; x < 7; x++) xy.push([x, y]);
    const p = flatMeanShift(pointsOf(xy), 0.7);
    expect(p.centres.length).toBe(xy.length);
    for (let i = 0; i < xy.length; i++) expect(p.centres[p.labels[i]]).toEqual({ x: xy[i][0], y: xy[i][1] });
  });

  it('rejects a width that is not a positive number', () => {
    expect(() => flatMeanShift(pointsOf([[0, 0]]), 0)).toThrow(/width/);
    expect(() => flatMeanShift(pointsOf([[0, 0]]), Number.NaN)).toThrow(/width/);
    expect(() => flatMeanShift(pointsOf([[0, 0]]), -2)).toThrow(/width/);
  });
});

describe('SklearnKdTree', () => {
  it('breaks exact ties like a brute-force scan for up to 3 points (lowest index)', () => {
    const tree = new SklearnKdTree(Float64Array.from([0, 2, 1]), Float64Array.from([0, 0, 1]));
    expect(tree.nearest(1, 0)).toBe(0); // (0,0) and (2,0) and (1,1) all at distance 1
  });

  it('finds the true nearest point (checked against a scan)', () => {
    const rnd = mulberry32(7);
    const xs = Float64Array.from({ length: 500 }, () => rnd() * 100);
    const ys = Float64Array.from({ length: 500 }, () => rnd() * 100);
    const tree = new SklearnKdTree(xs, ys);
    for (let q = 0; q < 200; q++) {
      const qx = rnd() * 120 - 10, qy = rnd() * 120 - 10;
      let best = Infinity;
      for (let i = 0; i < 500; i++) best = Math.min(best, (qx - xs[i]) ** 2 + (qy - ys[i]) ** 2);
      const k = tree.nearest(qx, qy);
      expect((qx - xs[k]) ** 2 + (qy - ys[k]) ** 2).toBe(best);
    }
  });
});

describe.skipIf(!hasSklearn)('SklearnKdTree lays points out exactly as sklearn KDTree(leaf_size=30)', () => {
  it('on random point sets with many equal coordinates', () => {
    const sets = [40, 61, 62, 150, 500, 1200, 3000, 333].map((n, t) => {
      const rnd = mulberry32(100 + t);
      const span = t % 2 ? 8 : 300; // a small span makes many coordinate ties
      const xs = Float64Array.from({ length: n }, () => Math.floor(rnd() * span));
      const ys = Float64Array.from({ length: n }, () => Math.floor(rnd() * span));
      return { xs, ys };
    });
    const refs = runPeer<Array<{ order: number[] }>>(sets.map(({ xs, ys }) => ({ x: Array.from(xs), y: Array.from(ys), kdtree: true })));
    sets.forEach(({ xs, ys }, t) => expect(Array.from(new SklearnKdTree(xs, ys).order())).toEqual(refs[t].order));
  });
});

describe.skipIf(!hasSklearn)('flatMeanShift equals scikit-learn MeanShift', () => {
  const cases: Array<[string, () => Points, number]> = [
    ['synthetic tile, ~400 alerts', () => tilePoints(31, 600, 700, 400), 5],
    ['synthetic tile, ~1,500 alerts', () => tilePoints(32, 601, 700, 1500), 5],
    ['synthetic tile, ~3,000 alerts', () => tilePoints(33, 602, 701, 3000), 5],
    ['synthetic tile, ~1,200 alerts, width 2.5 (modes on whole pixels: exact label ties)', () => tilePoints(34, 603, 702, 1200), 2.5],
    ['synthetic tile, ~900 alerts, width 1.5', () => tilePoints(35, 604, 703, 900), 1.5],
    ['synthetic tile, ~800 alerts, width 9', () => tilePoints(36, 605, 704, 800), 9],
    ['blobs and noise with halo, 700 alerts, width 3.5', () => blobPoints(4, 700), 3.5],
    ['blobs and noise with halo, 250 alerts, width 0.8', () => blobPoints(5, 250), 0.8],
  ];
  it('on tiny sets (2..11 points: sklearn searches by brute force there)', () => {
    const sets = Array.from({ length: 12 }, (_, t) => {
      const rnd = mulberry32(200 + t);
      const seen = new Set<string>();
      const xy: Array<[number, number]> = [];
      while (xy.length < 2 + (t % 10)) {
        const p: [number, number] = [Math.floor(rnd() * 14), Math.floor(rnd() * 14)];
        if (!seen.has(`${p}`)) {
          seen.add(`${p}`);
          xy.push(p);
        }
      }
      return { pts: pointsOf(xy), width: [2, 3, 5, 4.5][t % 4] };
    });
    const refs = runPeer<Array<{ labels: number[]; centres: Array<[number, number]> }>>(
      sets.map(({ pts, width }) => ({ x: Array.from(pts.x), y: Array.from(pts.y), bandwidth: width })),
    );
    sets.forEach(({ pts, width }, t) => {
      const ref = { labels: Int32Array.from(refs[t].labels), centres: refs[t].centres.map(([x, y]) => ({ x, y })) };
      expectSamePartition(flatMeanShift(pts, width), ref);
    });
  });

  for (const [name, make, width] of cases) {
    it(`${name}`, () => {
      const pts = make();
      expect(pts.length).toBeGreaterThan(100);
      expectSamePartition(flatMeanShift(pts, width), sklearnMeanShift(pts, width));
    });
  }
});
