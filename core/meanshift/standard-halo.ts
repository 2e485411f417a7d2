// `standard` on a tile plus halo, and its halo check.
//
// Only the alerts that can end in a cluster the tile may own are climbed: the tile's own alerts,
// then, round by round, every alert within CLOSURE of a climbed alert whose cluster may be owned
// (its centre or one of its modes near the tile), until no such alert is left unclimbed. The other
// halo alerts still count in the density (every window sees them) but are not climbed: their
// modes belong to the neighbours' clusters. An alert is "touched" when the kernel window of some
// point of its trajectory reaches past the halo edge (its mode may differ from the whole-region
// one). The result is complete when no kept cluster has a touched member or a member within CLOSURE
// of the halo edge, and no touched alert ends within width/2 + width of a kept cluster's mode.
// See docs/clustering.md ("Why the union equals the region clustered at once").
import { latticeClimber, linkModes, meanOfModes } from './standard.ts';
import { TILE_SIZE } from '../tiles/grid.ts';
import type { Alerts } from '../tiles/types.ts';
import type { ClusterParams, TileBox, TileClustering } from './types.ts';

/** Distance (px) from a point to the outer edge of the halo region [-margin, 255 + margin]². */
function edgeDistance(col: number, row: number, margin: number): number {
  const lo = -margin, hi = TILE_SIZE - 1 + margin;
  return Math.min(col - lo, hi - col, row - lo, hi - row);
}

/** Distance (px, Chebyshev) from a point to the tile [0, 255]²; 0 inside. */
function tileDistance(col: number, row: number): number {
  return Math.max(0, -col, col - (TILE_SIZE - 1), -row, row - (TILE_SIZE - 1));
}

export function clusterStandard(alerts: Alerts, params: ClusterParams, box: TileBox): TileClustering {
  const n = alerts.length;
  const { margin } = box;
  const width = params.width;
  const climber = latticeClimber(alerts, width);
  const climb = climber.climb;
  const reach = climb.reach;
  // Halo alerts within this of a member of a possibly owned cluster are climbed too: a kernel
  // window (reach) plus a width of slack.
  const closure = Math.ceil(reach + width);
  // A cluster may be owned when its centre lies within this of the tile (members still to be
  // found are halo alerts, which move it outwards; a width of slack for the rest).
  const near = width;

  const climbed = new Uint8Array(n);
  const expanded = new Uint8Array(n);
  let pending: number[] = [];
  for (let i = 0; i < n; i++) {
    if (tileDistance(alerts.col[i], alerts.row[i]) === 0) pending.push(i);
  }
  let subset: Int32Array = new Int32Array(0);
  let labels: Int32Array = new Int32Array(0);
  let centres: Array<{ x: number; y: number }> = [];
  for (;;) {
    for (const i of pending) {
      climbed[i] = 1;
      climber.climbAlert(i);
    }
    // Clusters among the climbed alerts (sorted by index: the result does not depend on the rounds).
    subset = Int32Array.from({ length: n }, (_, i) => i).filter((i) => climbed[i] === 1);
    const mx = new Float64Array(subset.length), my = new Float64Array(subset.length);
    subset.forEach((i, k) => ((mx[k] = climb.modeX[i]), (my[k] = climb.modeY[i])));
    const linked = linkModes(mx, my, subset.length, width / 2);
    labels = linked.labels;
    centres = meanOfModes(mx, my, labels, linked.count);
    const candidate = new Uint8Array(linked.count);
    centres.forEach((c, l) => (candidate[l] = tileDistance(c.x, c.y) <= near ? 1 : 0));
    // Next round: the unclimbed neighbours of candidates' members not yet expanded.
    const next = new Set<number>();
    for (let k = 0; k < subset.length; k++) {
      const i = subset[k];
      if (candidate[labels[k]] === 0 || expanded[i] === 1) continue;
      expanded[i] = 1;
      // Well inside the tile, the box holds only tile alerts: all climbed already.
      const c = alerts.col[i], r = alerts.row[i];
      if (c >= closure && r >= closure && c + closure < TILE_SIZE && r + closure < TILE_SIZE) continue;
      climber.alertsNear(alerts.col[i], alerts.row[i], closure, (j) => {
        if (climbed[j] === 0) next.add(j);
      });
    }
    if (next.size === 0) break;
    pending = [...next].sort((a, b) => a - b);
  }

  // Every alert gets a label: the climbed ones their cluster's, the others one each (a halo
  // alert alone, centred on itself: outside the tile, so never owned).
  const allLabels = new Int32Array(n);
  const allCentres = centres.slice();
  let k = 0;
  for (let i = 0; i < n; i++) {
    if (climbed[i] === 1) {
      allLabels[i] = labels[k++];
    } else {
      allLabels[i] = allCentres.length;
      allCentres.push({ x: alerts.col[i], y: alerts.row[i] });
    }
  }

  const complete = (kept: Iterable<number[]>): boolean => {
    const touched = (i: number) =>
      climbed[i] === 1 &&
      Math.min(edgeDistance(climb.pathMinX[i], climb.pathMinY[i], margin), edgeDistance(climb.pathMaxX[i], climb.pathMaxY[i], margin)) < reach;
    const keptModes: number[] = [];
    for (const members of kept) {
      for (const i of members) {
        // A member whose closure reaches past the halo edge may have unseen alerts joining it.
        if (touched(i) || edgeDistance(alerts.col[i], alerts.row[i], margin) <= closure) return false;
        keptModes.push(i);
      }
    }
    if (keptModes.length === 0) return true;
    // Touched alerts nearly linked to a kept cluster: bucket the kept modes by cell.
    const link = width / 2 + width;
    const cells = new Map<string, number[]>();
    const key = (x: number, y: number) => `${Math.floor(x / link)},${Math.floor(y / link)}`;
    for (const i of keptModes) {
      const cell = key(climb.modeX[i], climb.modeY[i]);
      const list = cells.get(cell);
      if (list) list.push(i);
      else cells.set(cell, [i]);
    }
    for (const i of subset) {
      if (!touched(i)) continue;
      const cx = Math.floor(climb.modeX[i] / link), cy = Math.floor(climb.modeY[i] / link);
      for (let oy = -1; oy <= 1; oy++) {
        for (let ox = -1; ox <= 1; ox++) {
          for (const j of cells.get(`${cx + ox},${cy + oy}`) ?? []) {
            if (Math.hypot(climb.modeX[i] - climb.modeX[j], climb.modeY[i] - climb.modeY[j]) < link) return false;
          }
        }
      }
    }
    return true;
  };
  return { partition: { labels: allLabels, centres: allCentres }, complete };
}
