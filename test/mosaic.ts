// Mosaic helpers of the halo tests (test/halo.test.ts, test/spacetime-halo.test.ts): a region of
// the synthetic world, clustered tile by tile with the halo (margin doubling as runTile does), and
// the comparison with the region clustered at once.
import { expect } from 'vitest';
import { MAX_HALO_MARGIN, clusterAlerts, firstNeighbours, initialHaloMargin } from '../core/meanshift/engine.ts';
import { NEIGHBOURS_ALL } from '../core/meanshift/types.ts';
import { renderWindow } from '../local/synthetic.ts';
import type { Alerts } from '../core/tiles/types.ts';
import type { ClusterParams } from '../core/meanshift/types.ts';

export const T = 256;

/** The alerts of a tiles×tiles region of the synthetic world, in region pixel coordinates. */
export function regionAlerts(seed: number, density: number, tiles: number, ax = 300, ay = 500): Alerts {
  const c = renderWindow({ z: 12, seed, density }, ax * T, ay * T, tiles * T, tiles * T);
  const idx: number[] = [];
  for (let i = 0; i < c.days.length; i++) if (c.days[i] > 0) idx.push(i);
  const w = tiles * T;
  return {
    length: idx.length,
    col: Int32Array.from(idx, (i) => i % w),
    row: Int32Array.from(idx, (i) => Math.floor(i / w)),
    days: Uint16Array.from(idx, (i) => c.days[i]),
    confidence: Uint8Array.from(idx, (i) => c.confidence[i]),
  };
}

export interface Found {
  members: number[]; // region alert indices, ascending
  col: number; // region coordinates
  row: number;
}

/** The region's pixel (0, 0) in the global pixel grid (regionAlerts' default anchor tile 300, 500). */
export interface Origin {
  col: number;
  row: number;
}
export const ANCHOR: Origin = { col: 300 * T, row: 500 * T };

/** The alerts at these indices (region coordinates). */
function alertsAt(alerts: Alerts, at: number[]): Alerts {
  return {
    length: at.length,
    col: Int32Array.from(at, (i) => alerts.col[i]),
    row: Int32Array.from(at, (i) => alerts.row[i]),
    days: Uint16Array.from(at, (i) => alerts.days[i]),
    confidence: Uint8Array.from(at, (i) => alerts.confidence[i]),
  };
}

/** Every tile with its halo, margin doubling as runTile does; owned clusters mapped back to the region. */
export function tileByTile(
  alerts: Alerts,
  params: ClusterParams,
  tiles: number,
  /** Absent: each tile's own, as runTile (initialHaloMargin with its alert count). */
  firstMargin?: number,
  origin: Origin = ANCHOR,
  maxMargin = MAX_HALO_MARGIN,
  /** 'engine': the neighbours the engine names first (as runTile); 'tile only': from the tile alone, then as asked. */
  firstRead: 'engine' | 'tile only' = 'engine',
) {
  const found: Found[] = [];
  const margins: number[] = [];
  /** Neighbours read per tile (8 = all; `standard` reads those it names, as runTile). */
  const neighboursRead: number[] = [];
  let incompleteAtMax = 0;
  const cellBit = (c: number, r: number) => 1 << (((r < 0 ? -1 : r >= T ? 1 : 0) + 1) * 3 + ((c < 0 ? -1 : c >= T ? 1 : 0) + 1));
  for (let ty = 0; ty < tiles; ty++) {
    for (let tx = 0; tx < tiles; tx++) {
      const own: number[] = [];
      for (let i = 0; i < alerts.length; i++) {
        const c = alerts.col[i] - tx * T, r = alerts.row[i] - ty * T;
        if (c >= 0 && c < T && r >= 0 && r < T) own.push(i);
      }
      let margin = firstMargin ?? initialHaloMargin(params, own.length);
      const first = firstNeighbours({ ...alertsAt(alerts, own), col: Int32Array.from(own, (i) => alerts.col[i] - tx * T), row: Int32Array.from(own, (i) => alerts.row[i] - ty * T) }, params);
      let loaded = firstRead === 'tile only' && first !== NEIGHBOURS_ALL ? cellBit(0, 0) : first;
      const memo = {};
      for (;;) {
        // The tile's alerts first, then its neighbours' (those read) within the margin, in tile coordinates.
        const pick: number[] = [];
        for (let pass = 0; pass < 2; pass++) {
          for (let i = 0; i < alerts.length; i++) {
            const c = alerts.col[i] - tx * T, r = alerts.row[i] - ty * T;
            if ((c >= 0 && c < T && r >= 0 && r < T) !== (pass === 0)) continue;
            if (c >= -margin && c < T + margin && r >= -margin && r < T + margin && (margin > T || (loaded & cellBit(c, r)) !== 0)) pick.push(i);
          }
        }
        const local: Alerts = {
          ...alertsAt(alerts, pick),
          col: Int32Array.from(pick, (i) => alerts.col[i] - tx * T),
          row: Int32Array.from(pick, (i) => alerts.row[i] - ty * T),
        };
        const tileOrigin = { col: origin.col + tx * T, row: origin.row + ty * T };
        const { clusters, complete, needs } = clusterAlerts(local, params, margin, tileOrigin, { loaded, memo });
        const missing = needs & NEIGHBOURS_ALL & ~loaded;
        if (!complete && missing !== 0 && margin <= T) {
          loaded |= missing; // the neighbours asked for, same margin
          continue;
        }
        if (complete || margin >= maxMargin) {
          if (!complete) incompleteAtMax++;
          margins.push(margin);
          let read = -1;
          for (let m = loaded; m !== 0; m &= m - 1) read++;
          neighboursRead.push(margin > T ? 8 : read);
          for (const c of clusters) {
            found.push({ members: Array.from(c.members, (k) => pick[k]).sort((a, b) => a - b), col: c.col + tx * T, row: c.row + ty * T });
          }
          break;
        }
        margin = Math.min(maxMargin, margin > 0 ? 2 * margin : 16);
        loaded = NEIGHBOURS_ALL;
      }
    }
  }
  return { found, margins, incompleteAtMax, neighboursRead };
}

/** The clusters of a labelling with at least minCount members (alert indices ascending), as Found. */
export function keptClusters(labels: Int32Array, centres: Array<{ x: number; y: number }>, minCount: number): Found[] {
  const groups = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const g = groups.get(labels[i]);
    if (g) g.push(i);
    else groups.set(labels[i], [i]);
  }
  return [...groups].filter(([, m]) => m.length >= minCount).map(([l, members]) => ({ members, col: centres[l].x, row: centres[l].y }));
}

/** How many tiles a cluster's members fall in (2 = straddles an edge, ≥3 = around a corner). */
export function tilesSpanned(alerts: Alerts, members: number[]): number {
  return new Set(members.map((i) => `${Math.floor(alerts.col[i] / T)},${Math.floor(alerts.row[i] / T)}`)).size;
}

export function expectSameClusters(alerts: Alerts, whole: Found[], union: Found[]) {
  const key = (f: Found) => f.members.join(',');
  const wholeByKey = new Map(whole.map((f) => [key(f), f]));
  const seen = new Set<string>();
  for (const f of union) {
    const k = key(f);
    expect(seen.has(k), `cluster of ${f.members.length} reported twice`).toBe(false);
    seen.add(k);
    const w = wholeByKey.get(k);
    expect(w, `tile cluster at (${f.col.toFixed(1)}, ${f.row.toFixed(1)}) with ${f.members.length} members is not a whole-region cluster`).toBeDefined();
    expect(Math.abs(w!.col - f.col)).toBeLessThan(1e-6);
    expect(Math.abs(w!.row - f.row)).toBeLessThan(1e-6);
  }
  for (const w of whole) {
    expect(seen.has(key(w)), `whole-region cluster at (${w.col.toFixed(1)}, ${w.row.toFixed(1)}) (${w.members.length} alerts) missing from the tiles`).toBe(true);
  }
  expect(union.length).toBe(whole.length);
  // Every alert is in at most one reported cluster.
  const all = union.flatMap((f) => f.members);
  expect(new Set(all).size).toBe(all.length);
  return {
    straddling: whole.filter((w) => tilesSpanned(alerts, w.members) >= 2).length,
    corners: whole.filter((w) => tilesSpanned(alerts, w.members) >= 3).length,
  };
}
