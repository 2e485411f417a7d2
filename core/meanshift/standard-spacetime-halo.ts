// Space–time `standard` on a tile plus halo, and its halo check: standard-halo.ts's argument with
// modes in (x, y, τ). The halo cuts space only (every day of the run's range is read), so an alert
// is "touched" when the spatial window of some point of its trajectory reaches past the halo edge.
// Complete when no kept cluster has a touched member and no touched alert ends within
// width/2 + width (in x, y, τ) of a kept cluster's mode. See docs/clustering.md, "Space and time".
import { linkModes3 } from './link.ts';
import { climbSpaceTime } from './standard-spacetime.ts';
import { meanOfModes } from './standard.ts';
import { TILE_SIZE } from '../tiles/grid.ts';
import type { Alerts } from '../tiles/types.ts';
import type { ClusterParams, TileBox, TileClustering } from './types.ts';

/** Distance (px) from a point to the outer edge of the halo region [-margin, 255 + margin]². */
function edgeDistance(col: number, row: number, margin: number): number {
  const lo = -margin, hi = TILE_SIZE - 1 + margin;
  return Math.min(col - lo, hi - col, row - lo, hi - row);
}

export function clusterStandardSpaceTime(alerts: Alerts, params: ClusterParams, box: TileBox): TileClustering {
  const n = alerts.length;
  const { width } = params;
  const climb = climbSpaceTime(alerts, width, params.time_width!);
  const { modeX, modeY, modeT } = climb;
  const { labels, count } = linkModes3(modeX, modeY, modeT, n, width / 2);
  const centres = meanOfModes(modeX, modeY, labels, count);

  const complete = (kept: Iterable<number[]>): boolean => {
    const touched = (i: number) =>
      Math.min(edgeDistance(climb.pathMinX[i], climb.pathMinY[i], box.margin), edgeDistance(climb.pathMaxX[i], climb.pathMaxY[i], box.margin)) < climb.reach;
    const keptModes: number[] = [];
    for (const members of kept) {
      for (const i of members) {
        if (touched(i)) return false;
        keptModes.push(i);
      }
    }
    if (keptModes.length === 0) return true;
    // Touched alerts whose mode is nearly linked to a kept cluster: kept modes bucketed by cell.
    const near = width / 2 + width;
    const key = (x: number, y: number, t: number) => `${x},${y},${t}`;
    const cells = new Map<string, number[]>();
    for (const i of keptModes) {
      const k = key(Math.floor(modeX[i] / near), Math.floor(modeY[i] / near), Math.floor(modeT[i] / near));
      const list = cells.get(k);
      if (list) list.push(i);
      else cells.set(k, [i]);
    }
    for (let i = 0; i < n; i++) {
      if (!touched(i)) continue;
      const cx = Math.floor(modeX[i] / near), cy = Math.floor(modeY[i] / near), ct = Math.floor(modeT[i] / near);
      for (let ot = -1; ot <= 1; ot++) {
        for (let oy = -1; oy <= 1; oy++) {
          for (let ox = -1; ox <= 1; ox++) {
            for (const j of cells.get(key(cx + ox, cy + oy, ct + ot)) ?? []) {
              if (Math.hypot(modeX[i] - modeX[j], modeY[i] - modeY[j], modeT[i] - modeT[j]) < near) return false;
            }
          }
        }
      }
    }
    return true;
  };
  return { partition: { labels, centres }, complete };
}
