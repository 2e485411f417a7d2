// The `flat` halo check and tie rule on hand-made cases (the mosaics are in test/halo.test.ts).
import { describe, expect, it } from 'vitest';
import { clusterAlerts, tileBox } from '../core/meanshift/engine.ts';
import { flatMeanShift, flatMeanShiftTraced } from '../core/meanshift/flat.ts';
import { breakTiesByRank, clusterFlat } from '../core/meanshift/flat-halo.ts';
import { syntheticTile } from '../local/synthetic.ts';
import type { Alerts } from '../core/tiles/types.ts';
import type { ClusterParams } from '../core/meanshift/types.ts';

const flat: ClusterParams = { width: 5, min_count: 25, iterations: 25, algorithm: 'flat' };

function alertsOf(xy: Array<[number, number]>): Alerts {
  const n = xy.length;
  return {
    length: n,
    col: Int32Array.from(xy, (p) => p[0]),
    row: Int32Array.from(xy, (p) => p[1]),
    days: new Uint16Array(n).fill(1),
    confidence: new Uint8Array(n).fill(2),
  };
}

/** The tile's owned clusters (the engine) and the halo check behind their `complete` flag. */
function clusterFlatChecked(alerts: Alerts, params: ClusterParams, margin: number, origin = { col: 0, row: 0 }) {
  return { tile: clusterAlerts(alerts, params, margin, origin), check: clusterFlat(alerts, params, tileBox(margin, origin)).check };
}

/** Every pixel of [c0, c1] × [r0, r1]. */
function block(c0: number, c1: number, r0: number, r1: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let r = r0; r <= r1; r++) for (let c = c0; c <= c1; c++) out.push([c, r]);
  return out;
}

describe('flatMeanShiftTraced', () => {
  it('gives flatMeanShift’s partition, and a trace consistent with it', () => {
    const t = syntheticTile({ seed: 5, z: 12, x: 40, y: 60, density: 3000 });
    const pts = { length: t.length, x: Float64Array.from(t.col), y: Float64Array.from(t.row) };
    const plain = flatMeanShift(pts, 5);
    const traced = flatMeanShiftTraced(pts, 5);
    expect(traced.labels).toEqual(plain.labels);
    expect(traced.centres).toEqual(plain.centres);
    const { candidates, keptAs, centreRank, seedCandidate, reach } = traced.trace;
    centreRank.forEach((r, l) => {
      expect(keptAs[r]).toBe(l);
      expect(candidates[r]).toMatchObject(plain.centres[l]);
    });
    for (let r = 1; r < candidates.length; r++) expect(candidates[r].intensity).toBeLessThanOrEqual(candidates[r - 1].intensity);
    for (let s = 0; s < pts.length; s++) {
      const c = candidates[seedCandidate[s]];
      expect(Math.hypot(c.x - pts.x[s], c.y - pts.y[s])).toBeLessThanOrEqual(reach[s] + 1e-9);
    }
  });
});

describe('breakTiesByRank', () => {
  it('gives a point exactly between two centres to the higher-ranked (lower index) one, and leaves the rest', () => {
    const pts = { length: 3, x: Float64Array.from([5, 1, 9]), y: Float64Array.from([0, 0, 0]) };
    const partition = { labels: Int32Array.from([1, 0, 1]), centres: [{ x: 0, y: 0 }, { x: 10, y: 0 }] };
    expect(breakTiesByRank(pts, partition, 5)).toBe(1);
    expect(Array.from(partition.labels)).toEqual([0, 0, 1]);
    expect(breakTiesByRank({ length: 0, x: new Float64Array(0), y: new Float64Array(0) }, { labels: new Int32Array(0), centres: [] }, 5)).toBe(0);
  });
});

describe('flat halo check', () => {
  it('an isolated blob deep inside the tile is complete at once', () => {
    const { tile, check } = clusterFlatChecked(alertsOf(block(120, 132, 120, 132)), flat, 64);
    expect(check.complete).toBe(true);
    expect(tile.clusters).toHaveLength(1);
    expect(tile.clusters[0].members).toHaveLength(169);
  });

  it('the band along the halo edge must not reach the tile', () => {
    expect(clusterFlatChecked(alertsOf(block(120, 132, 120, 132)), flat, 4).check.reason).toBe('the band reaches the tile');
  });

  it('a uniform strip running out of the halo leaves its owned candidates undecided until the halo holds its end', () => {
    const strip = block(100, 400, 100, 110);
    expect(clusterFlatChecked(alertsOf(strip), flat, 64).check.reason).toBe('an owned candidate is undecided');
    expect(clusterFlatChecked(alertsOf(strip), flat, 256).check.complete).toBe(true);
  });

  it('certain owned centres next to an undecided strip: their members may belong to it', () => {
    // A block (cols 240-250) and the start of a thin strip (cols 251-400) are owned and certain:
    // both outrank every strip candidate near them. The strip east of them is decided from its end,
    // unseen at 64 px, and one of its undecided candidates is as near as their own centre to some
    // of their members.
    const xy = [...block(240, 250, 99, 111), ...block(251, 400, 103, 107)];
    const near = clusterFlatChecked(alertsOf(xy), flat, 64);
    expect(near.check.reason).toBe('an owned member is as near an undecided candidate');
    expect(near.tile.clusters.map((c) => Math.round(c.col))).toEqual([246, 253]);
    expect(clusterFlatChecked(alertsOf(xy), flat, 256).check.complete).toBe(true);
  });

  it('computes in the global frame given by the origin, and reports centres in tile coordinates', () => {
    const xy = block(120, 132, 120, 132);
    const local = clusterFlatChecked(alertsOf(xy), flat, 64).tile.clusters;
    const global = clusterFlatChecked(alertsOf(xy), flat, 64, { col: 2989 * 256, row: 2049 * 256 }).tile.clusters;
    expect(global.map((c) => [c.col, c.row, c.members.length])).toEqual(local.map((c) => [c.col, c.row, c.members.length]));
  });
});
