// `standard` on a tile plus halo, and its halo check. An alert is "touched" when the kernel window
// of some point of its trajectory reaches past the halo edge (its mode may differ from the
// whole-region one). The result is complete when no kept cluster has a touched member and no
// touched alert ends within width/2 + width of a kept cluster's mode (a mode that might link to
// it in the whole region). See docs/clustering.md.
import { climbLattice, linkModes, meanOfModes } from './standard.ts';
import { TILE_SIZE } from '../tiles/grid.ts';
import type { Alerts } from '../tiles/types.ts';
import type { ClusterParams, TileBox, TileClustering } from './types.ts';

/** Distance (px) from a point to the outer edge of the halo region [-margin, 255 + margin]². */
function edgeDistance(col: number, row: number, margin: number): number {
  const lo = -margin, hi = TILE_SIZE - 1 + margin;
  return Math.min(col - lo, hi - col, row - lo, hi - row);
}

export function clusterStandard(alerts: Alerts, params: ClusterParams, box: TileBox): TileClustering {
  const n = alerts.length;
  const margin = box.margin;
  const climb = climbLattice(alerts, params.width);
  const { labels, count } = linkModes(climb.modeX, climb.modeY, n, params.width / 2);
  const centres = meanOfModes(climb.modeX, climb.modeY, labels, count);

  const complete = (kept: Iterable<number[]>): boolean => {
    const reach = climb.reach;
    const touched = (i: number) =>
      Math.min(
        edgeDistance(climb.pathMinX[i], climb.pathMinY[i], margin),
        edgeDistance(climb.pathMaxX[i], climb.pathMaxY[i], margin),
      ) < reach;
    const keptModes: number[] = [];
    for (const members of kept) {
      for (const i of members) {
        if (touched(i)) return false;
        keptModes.push(i);
      }
    }
    if (keptModes.length === 0) return true;
    // Touched alerts nearly linked to a kept cluster: bucket the kept modes by cell.
    const near = params.width / 2 + params.width;
    const cells = new Map<string, number[]>();
    const key = (x: number, y: number) => `${Math.floor(x / near)},${Math.floor(y / near)}`;
    for (const i of keptModes) {
      const k = key(climb.modeX[i], climb.modeY[i]);
      const list = cells.get(k);
      if (list) list.push(i);
      else cells.set(k, [i]);
    }
    for (let i = 0; i < n; i++) {
      if (!touched(i)) continue;
      const cx = Math.floor(climb.modeX[i] / near), cy = Math.floor(climb.modeY[i] / near);
      for (let oy = -1; oy <= 1; oy++) {
        for (let ox = -1; ox <= 1; ox++) {
          for (const j of cells.get(`${cx + ox},${cy + oy}`) ?? []) {
            if (Math.hypot(climb.modeX[i] - climb.modeX[j], climb.modeY[i] - climb.modeY[j]) < near) return false;
          }
        }
      }
    }
    return true;
  };
  return { partition: { labels, centres }, complete };
}
