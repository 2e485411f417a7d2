// The fast `standard` mean shift against the exact slow reference (test/reference-meanshift.ts),
// plus unit checks of its parts (mode linking, tiny configurations, input errors).
import { describe, expect, it } from 'vitest';
import { mulberry32, syntheticTile } from '../local/synthetic.ts';
import { linkModes, linkModes3 } from '../core/meanshift/link.ts';
import { climbLattice, standardMeanShift } from '../core/meanshift/standard.ts';
import { compareClusterings, referenceStandard } from './reference-meanshift.ts';
import { bridgeTile, noiseTile, roadTile, shapesTile } from './point-sets.ts';
import type { Comparison } from './reference-meanshift.ts';

function points(col: ArrayLike<number>, row: ArrayLike<number>) {
  return { length: col.length, x: Float64Array.from(col), y: Float64Array.from(row) };
}

/** Brute-force single linkage, labels canonicalised by first occurrence. */
function bruteLinks(x: Float64Array, y: Float64Array, link: number, t = new Float64Array(x.length)): Int32Array {
  const n = x.length;
  const label = Int32Array.from({ length: n }, (_, i) => i);
  let changed = true;
  while (changed) {
    changed = false;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        if (Math.hypot(x[i] - x[j], y[i] - y[j], t[i] - t[j]) < link && label[j] < label[i]) {
          label[i] = label[j];
          changed = true;
        }
      }
    }
  }
  const canon = new Map<number, number>();
  return Int32Array.from(label, (l) => {
    if (!canon.has(l)) canon.set(l, canon.size);
    return canon.get(l)!;
  });
}

describe('linkModes (single linkage of modes closer than width/2)', () => {
  it('equals brute-force single linkage and does not depend on the order of the modes', () => {
    const rand = mulberry32(5);
    for (let trial = 0; trial < 20; trial++) {
      // Clumps of near-identical modes (as converged trajectories give) plus scattered ones.
      const xs: number[] = [], ys: number[] = [];
      for (let c = 0; c < 15; c++) {
        const cx = rand() * 60, cy = rand() * 60, k = 1 + Math.floor(rand() * 20);
        for (let m = 0; m < k; m++) {
          xs.push(cx + (rand() - 0.5) * 0.05);
          ys.push(cy + (rand() - 0.5) * 0.05);
        }
      }
      for (let m = 0; m < 40; m++) {
        xs.push(rand() * 60);
        ys.push(rand() * 60);
      }
      const x = Float64Array.from(xs), y = Float64Array.from(ys);
      const link = 1 + rand() * 4;
      const got = linkModes(x, y, x.length, link);
      const want = bruteLinks(x, y, link);
      expect(Array.from(got.labels)).toEqual(Array.from(want));
      expect(got.count).toBe(Math.max(...want) + 1);
      // Reversed input: the same partition (same pairs together).
      const rev = linkModes(x.slice().reverse(), y.slice().reverse(), x.length, link).labels.slice().reverse();
      for (let i = 0; i < x.length; i++) {
        for (let j = i + 1; j < x.length; j += 7) expect(rev[i] === rev[j]).toBe(got.labels[i] === got.labels[j]);
      }
    }
  });

  // Clumps up to 5,000 px apart (~2,800² cells of side 2.5/√2 px) and up to 10⁶ px apart (past 2³¹
  // cells): the cells are hashed, so any spread within 2³⁰ cells of the origin is linked.
  for (const spread of [5000, 1e6]) {
    it(`equals brute force when the modes spread over a grid too large to count in (${spread} px: a map of cells)`, () => {
      const rand = mulberry32(9);
      const xs: number[] = [], ys: number[] = [];
      for (let c = 0; c < 30; c++) {
        const cx = rand() * spread, cy = rand() * spread, k = 1 + Math.floor(rand() * 8);
        for (let m = 0; m < k; m++) {
          xs.push(cx + (rand() - 0.5) * 6);
          ys.push(cy + (rand() - 0.5) * 6);
        }
      }
      const x = Float64Array.from(xs), y = Float64Array.from(ys);
      const got = linkModes(x, y, x.length, 2.5);
      const want = bruteLinks(x, y, 2.5);
      expect(Array.from(got.labels)).toEqual(Array.from(want));
      expect(got.count).toBeGreaterThan(30);
    });
  }

  it('links in a memory used before as in a fresh one (the cell table is cleared)', () => {
    const rand = mulberry32(13);
    const cloud = (n: number, spread: number) => [Float64Array.from({ length: n }, () => rand() * spread), Float64Array.from({ length: n }, () => rand() * spread)];
    const [bx, by] = cloud(3000, 80);
    const [sx, sy] = cloud(200, 30);
    for (const [x, y] of [[bx, by], [sx, sy], [bx, by]]) {
      expect(Array.from(linkModes(x, y, x.length, 1.5).labels)).toEqual(Array.from(bruteLinks(x, y, 1.5)));
    }
  });

  it('refuses a mode that is not finite, with a one-line error', () => {
    expect(() => linkModes(Float64Array.of(0, NaN), Float64Array.of(0, 0), 2, 2.5)).toThrow(/not finite/);
    expect(() => linkModes3(Float64Array.of(0, 0), Float64Array.of(0, 0), Float64Array.of(0, Infinity), 2, 2.5)).toThrow(/not finite/);
    expect(() => linkModes(Float64Array.of(0, 1e300), Float64Array.of(0, 0), 2, 2.5)).toThrow(/2\^30 cells/);
  });

  it('linkModes3 equals brute-force single linkage in (x, y, t), and the plane is t = 0', () => {
    const rand = mulberry32(21);
    for (let trial = 0; trial < 12; trial++) {
      const xs: number[] = [], ys: number[] = [], ts: number[] = [];
      // Clearings at one place in different eras, near-identical modes, scattered ones.
      for (let c = 0; c < 12; c++) {
        const cx = rand() * 40, cy = rand() * 40, ct = rand() * 30, k = 1 + Math.floor(rand() * 15);
        for (let m = 0; m < k; m++) {
          xs.push(cx + (rand() - 0.5) * 0.1);
          ys.push(cy + (rand() - 0.5) * 0.1);
          ts.push(ct + (rand() - 0.5) * 3);
        }
      }
      for (let m = 0; m < 60; m++) {
        xs.push(rand() * 40);
        ys.push(rand() * 40);
        ts.push(rand() * 30 - 10);
      }
      const [x, y, t] = [xs, ys, ts].map((v) => Float64Array.from(v));
      const link = 1 + rand() * 3;
      const got = linkModes3(x, y, t, x.length, link);
      expect(Array.from(got.labels)).toEqual(Array.from(bruteLinks(x, y, link, t)));
      expect(got.count).toBe(Math.max(...got.labels) + 1);
      // With every t equal, the plane's linkage.
      const flat = linkModes3(x, y, new Float64Array(x.length).fill(7), x.length, link).labels;
      expect(Array.from(flat)).toEqual(Array.from(linkModes(x, y, x.length, link).labels));
    }
  });

  it('links at distance just below the threshold, not at or above it', () => {
    const x = Float64Array.from([0, 2.4999, 10, 12.5]);
    const y = new Float64Array(4);
    expect(Array.from(linkModes(x, y, 4, 2.5).labels)).toEqual([0, 0, 1, 2]);
  });
});

describe('standard mean shift: small cases', () => {
  it('a lone alert is its own mode; two adjacent alerts meet halfway', () => {
    const one = climbLattice({ length: 1, col: Int32Array.of(7), row: Int32Array.of(-3) }, 5);
    expect([one.modeX[0], one.modeY[0]]).toEqual([7, -3]);
    const two = climbLattice({ length: 2, col: Int32Array.of(0, 1), row: Int32Array.of(4, 4) }, 5);
    for (let i = 0; i < 2; i++) {
      expect(two.modeX[i]).toBeCloseTo(0.5, 2);
      expect(two.modeY[i]).toBeCloseTo(4, 9);
    }
  });

  it('two blobs far apart are two clusters centred on them', () => {
    const col: number[] = [], row: number[] = [];
    for (const [cx, cy] of [[20, 20], [80, 40]]) {
      for (let dy = -3; dy <= 3; dy++) for (let dx = -3; dx <= 3; dx++) {
        col.push(cx + dx);
        row.push(cy + dy);
      }
    }
    const p = standardMeanShift(points(col, row), 5);
    expect(p.centres.length).toBe(2);
    const sorted = [...p.centres].sort((a, b) => a.x - b.x);
    expect(sorted[0].x).toBeCloseTo(20, 1);
    expect(sorted[0].y).toBeCloseTo(20, 1);
    expect(sorted[1].x).toBeCloseTo(80, 1);
    expect(sorted[1].y).toBeCloseTo(40, 1);
    expect(new Set(p.labels.slice(0, 49)).size).toBe(1);
    expect(p.labels[0]).not.toBe(p.labels[49]);
  });

  it('rejects non-integer coordinates and a non-positive width', () => {
    expect(() => standardMeanShift(points([0.5], [1]), 5)).toThrow(/integer pixel coordinates/);
    expect(() => standardMeanShift(points([0], [1]), 0)).toThrow(/width=0/);
  });

  it('counts a duplicated pixel twice, like the reference', () => {
    const col = [0, 0, 3], row = [0, 0, 0];
    const fast = climbLattice({ length: 3, col: Int32Array.from(col), row: Int32Array.from(row) }, 5);
    const ref = referenceStandard(col, row, 5);
    for (let i = 0; i < 3; i++) expect(Math.abs(fast.modeX[i] - ref.modeX[i])).toBeLessThan(0.05);
  });
});





describe('standard mean shift = the fully converged exact reference (identical members, centres within 0.01 px)', () => {
  const results: Array<{ name: string; c: Comparison }> = [];

  function check(name: string, col: ArrayLike<number>, row: ArrayLike<number>, width: number, minCount: number) {
    const ref = referenceStandard(col, row, width);
    const fast = standardMeanShift(points(col, row), width);
    const c = compareClusterings(fast, ref, minCount);
    results.push({ name, c });
    // Identical membership: every kept cluster of either side has a partner with the same members.
    expect(c.agreement, name).toBe(1);
    expect([c.clustersA, c.clustersB, c.matchedButDifferent], name).toEqual([c.matched, c.matched, 0]);
    expect(c.maxCentreDistance, name).toBeLessThanOrEqual(0.01);
  }

  it('synthetic GLAD tiles, densities 300..1500, width 5', () => {
    let seed = 100;
    for (const density of [300, 600, 900, 1200, 1500]) {
      for (let k = 0; k < 3; k++) {
        seed++;
        const a = syntheticTile({ seed, z: 13, x: 4000 + k, y: 3000, density });
        check(`synthetic seed=${seed} d=${density} n=${a.length}`, a.col, a.row, 5, 25);
      }
    }
  }, 300_000);

  it('synthetic GLAD tiles, 10 more seeds at ~1,000 alerts', () => {
    for (let seed = 300; seed < 310; seed++) {
      const a = syntheticTile({ seed, z: 13, x: 77, y: 88, density: 1000 });
      check(`synthetic seed=${seed} d=1000 n=${a.length}`, a.col, a.row, 5, 25);
    }
  }, 300_000);

  it('other shapes (noise, dense squares, lines) and widths 3, 5, 8', () => {
    for (let seed = 1; seed <= 9; seed++) {
      const { col, row } = shapesTile(seed);
      const width = [3, 5, 8][seed % 3];
      check(`shapes seed=${seed} w=${width} n=${col.length}`, col, row, width, width === 3 ? 10 : 25);
    }
  }, 300_000);

  it('synthetic tiles at ~3,000 alerts', () => {
    for (const seed of [201, 202]) {
      const a = syntheticTile({ seed, z: 12, x: 1111, y: 2222, density: 3000 });
      check(`synthetic seed=${seed} d=3000 n=${a.length}`, a.col, a.row, 5, 25);
    }
  }, 300_000);

  it('the bench tile with scattered noise (3,002 alerts): sparse climbs reach their modes', () => {
    // With a 0.01 px step rule some noise alerts stopped early here and a cluster lost members.
    const a = syntheticTile({ seed: 42, z: 12, x: 2989, y: 2049, density: 3000 });
    check(`bench tile 12/2989/2049 seed=42 n=${a.length}`, a.col, a.row, 5, 25);
  }, 300_000);

  it('sparse and plateau tiles: noise only, two clusters joined by a thin bridge, a long road', () => {
    for (const [seed, count] of [[1, 300], [2, 800], [3, 1500]]) {
      const { col, row } = noiseTile(seed, count);
      check(`noise seed=${seed} n=${col.length}`, col, row, 5, 3);
    }
    for (const seed of [1, 2]) {
      const { col, row } = bridgeTile(seed);
      check(`bridge seed=${seed} n=${col.length}`, col, row, 5, 25);
    }
    for (const seed of [1, 2]) {
      const { col, row } = roadTile(seed);
      check(`road seed=${seed} n=${col.length} w=5`, col, row, 5, 10);
      check(`road seed=${seed} n=${col.length} w=3`, col, row, 3, 10);
    }
    const worst = (f: (c: Comparison) => number, best: 'min' | 'max') =>
      results.map((r) => f(r.c)).reduce((p, q) => (best === 'min' ? Math.min(p, q) : Math.max(p, q)));
    console.log(
      `${results.length} tiles vs the fully converged reference: worst agreement ${worst((c) => c.agreement, 'min').toFixed(4)}, ` +
        `worst centre distance ${worst((c) => c.maxCentreDistance, 'max').toFixed(3)} px (identical members), ` +
        `${worst((c) => c.maxCentreDistanceAny, 'max').toFixed(3)} px (any matched pair), ` +
        `${results.reduce((s, r) => s + r.c.matchedButDifferent, 0)} matched pairs with different members out of ${results.reduce((s, r) => s + r.c.matched, 0)}`,
    );
  }, 300_000);
});
