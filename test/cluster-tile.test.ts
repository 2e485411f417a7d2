// clusterAlerts: dispatch, ownership of clusters by their centre, min_count, the `complete` flag,
// input errors, and the margins it asks for.
import { describe, expect, it } from 'vitest';
import { MAX_HALO_MARGIN, clusterAlerts, initialHaloMargin } from '../core/meanshift/engine.ts';
import { blurringMeanShift } from '../core/meanshift/blurring.ts';
import { flatMeanShift } from '../core/meanshift/flat.ts';
import { syntheticTile } from '../local/synthetic.ts';
import type { Alerts } from '../core/tiles/types.ts';
import type { ClusterParams } from '../core/meanshift/types.ts';

const standard: ClusterParams = { width: 5, min_count: 25, iterations: 25, algorithm: 'standard' };

function alertsOf(cells: Array<[number, number]>): Alerts {
  return {
    length: cells.length,
    col: Int32Array.from(cells, (c) => c[0]),
    row: Int32Array.from(cells, (c) => c[1]),
    days: new Uint16Array(cells.length).fill(100),
    confidence: new Uint8Array(cells.length).fill(2),
  };
}

/** A filled disc of alerts centred on (cx, cy). */
function disc(cx: number, cy: number, radius: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let r = Math.floor(cy - radius); r <= cy + radius; r++) {
    for (let c = Math.floor(cx - radius); c <= cx + radius; c++) if ((c - cx) ** 2 + (r - cy) ** 2 <= radius * radius) out.push([c, r]);
  }
  return out;
}

const shift = (cells: Array<[number, number]>, dc: number, dr: number) => cells.map(([c, r]) => [c + dc, r + dr] as [number, number]);

describe('clusterAlerts ownership', () => {
  it('reports a cluster centred in the tile with its halo members, not one centred in the halo', () => {
    const inside = disc(252, 100, 6); // centre col 252: this tile; members reach col 258 (halo)
    const outside = disc(262, 180, 6); // centre col 262: the right neighbour's
    const { clusters, complete } = clusterAlerts(alertsOf([...inside, ...outside]), standard, 64);
    expect(complete).toBe(true);
    expect(clusters.length).toBe(1);
    const [c] = clusters;
    expect(c.col).toBeCloseTo(252, 1);
    expect(c.row).toBeCloseTo(100, 1);
    expect(c.members.length).toBe(inside.length);
    expect(Math.max(...Array.from(c.members, (i) => inside[i][0]))).toBeGreaterThan(255);
  });

  it('a cluster across a tile edge is reported by exactly one of the two tiles', () => {
    for (const centreCol of [254, 255, 255.4, 255.6, 256, 257]) {
      const blob = disc(centreCol, 128, 7); // global coordinates of a 2-tile strip
      const left = clusterAlerts(alertsOf(blob), standard, 64).clusters;
      const right = clusterAlerts(alertsOf(shift(blob, -256, 0)), standard, 64).clusters;
      expect(left.length + right.length, `centre col ${centreCol}`).toBe(1);
      const owner = left.length ? left[0].col : right[0].col + 256;
      expect(Math.round(owner) < 256 ? left.length : right.length).toBe(1);
    }
  });

  it('applies min_count', () => {
    const blob = disc(100, 100, 2.5); // 21 alerts
    expect(blob.length).toBeLessThan(25);
    expect(clusterAlerts(alertsOf(blob), standard, 64).clusters.length).toBe(0);
    expect(clusterAlerts(alertsOf(blob), { ...standard, min_count: blob.length }, 64).clusters.length).toBe(1);
    expect(clusterAlerts(alertsOf(blob), { ...standard, min_count: blob.length + 1 }, 64).clusters.length).toBe(0);
  });
});

describe('clusterAlerts complete flag', () => {
  it('is true for a compact cluster far from the halo edge, false when it reaches the edge', () => {
    const blob = disc(128, 128, 8);
    expect(clusterAlerts(alertsOf(blob), standard, 64).complete).toBe(true);
    // A clearing centred in the tile (col ≈ 253.5) whose alerts reach col 271 = the edge of a 16-px halo.
    const near: Array<[number, number]> = [];
    for (let r = 124; r <= 132; r++) for (let c = 236; c <= 271; c++) near.push([c, r]);
    const cut = clusterAlerts(alertsOf(near), standard, 16);
    expect(cut.clusters.length).toBe(1);
    expect(cut.complete).toBe(false);
    expect(clusterAlerts(alertsOf(near), standard, 64).complete).toBe(true);
  });

  it('is false for a long road crossing the whole halo', () => {
    const road: Array<[number, number]> = [];
    for (let c = -64; c <= 319; c++) road.push([c, 128], [c, 129]);
    const r = clusterAlerts(alertsOf(road), standard, 64);
    expect(r.clusters.length).toBeGreaterThan(0);
    expect(r.complete).toBe(false);
  });

  it('is true with no alerts and with no owned cluster', () => {
    expect(clusterAlerts(alertsOf([]), standard, 0)).toEqual({ clusters: [], complete: true, needs: 0 });
    expect(clusterAlerts(alertsOf(disc(300, 128, 6)), standard, 64)).toEqual({ clusters: [], complete: true, needs: 0 });
  });
});

describe('clusterAlerts dispatch and parameters', () => {
  const tile = syntheticTile({ seed: 3, z: 12, x: 10, y: 20, density: 1500 });
  const pts = { length: tile.length, x: Float64Array.from(tile.col), y: Float64Array.from(tile.row) };

  /** Kept clusters of a partition as sorted member lists. */
  function kept(labels: Int32Array, minCount: number): string[] {
    const groups = new Map<number, number[]>();
    labels.forEach((l, i) => (groups.get(l) ?? groups.set(l, []).get(l)!).push(i));
    return [...groups.values()].filter((m) => m.length >= minCount).map((m) => m.join(',')).sort();
  }

  it('flat and blurring give their own partitions, filtered by min_count (all centres are in the tile)', () => {
    for (const algorithm of ['flat', 'blurring'] as const) {
      const params: ClusterParams = { ...standard, algorithm };
      const own = clusterAlerts(tile, params, 0);
      const partition = algorithm === 'flat' ? flatMeanShift(pts, 5) : blurringMeanShift(pts, 5, 25);
      expect(own.clusters.map((c) => Array.from(c.members).join(',')).sort()).toEqual(kept(partition.labels, 25));
      expect(own.clusters.length).toBeGreaterThan(0);
    }
  });

  it('standard, flat and blurring disagree somewhere (the dispatch is real)', () => {
    const sig = (algorithm: ClusterParams['algorithm']) =>
      JSON.stringify(clusterAlerts(tile, { ...standard, algorithm }, 0).clusters.map((c) => c.members.length).sort());
    expect(new Set([sig('standard'), sig('flat'), sig('blurring')]).size).toBeGreaterThan(1);
  });

  it('asks for a halo that covers the kernel reach (none for blurring), within the maximum', () => {
    expect(initialHaloMargin({ ...standard, algorithm: 'blurring' })).toBe(0);
    // standard climbs only the halo alerts near clusters it may own: a wide first halo is cheap.
    expect(initialHaloMargin(standard)).toBe(128);
    // A sparse tile starts from half (64 px at width 5); space–time and flat do not depend on it.
    expect(initialHaloMargin(standard, 1999)).toBe(64);
    expect(initialHaloMargin(standard, 2000)).toBe(128);
    expect(initialHaloMargin({ ...standard, time_width: 90 }, 10)).toBe(initialHaloMargin({ ...standard, time_width: 90 }));
    expect(initialHaloMargin({ ...standard, algorithm: 'flat' }, 10)).toBe(initialHaloMargin({ ...standard, algorithm: 'flat' }));
    expect(initialHaloMargin({ ...standard, width: 2 })).toBeGreaterThanOrEqual(4 * 2);
    expect(initialHaloMargin({ ...standard, width: 100 })).toBe(MAX_HALO_MARGIN);
    expect(initialHaloMargin({ ...standard, algorithm: 'flat' })).toBeGreaterThanOrEqual(2 * 5);
  });

  it('rejects a negative margin and an unknown algorithm', () => {
    expect(() => clusterAlerts(tile, standard, -1)).toThrow(/haloMargin=-1/);
    expect(() => clusterAlerts(tile, { ...standard, algorithm: 'fancy' as never }, 0)).toThrow(/unknown algorithm fancy/);
  });
});
