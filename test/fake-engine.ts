// A stand-in clustering engine for runTile tests (the real one lives in core/meanshift/engine.ts):
// clusters = 8-connected components of alerts, centre = mean of members. Honest about halos:
// a component touching the halo edge may continue beyond it, so the pass is "incomplete".
import type { ClusterEngine } from '../core/clusters/tile-job.ts';
import type { Alerts } from '../core/tiles/types.ts';
import type { ClusterParams } from '../core/meanshift/types.ts';

export function componentEngine(initialMargin = 8, maxMargin = 512): ClusterEngine {
  return {
    MAX_HALO_MARGIN: maxMargin,
    initialHaloMargin: (params: ClusterParams) => (params.algorithm === 'blurring' ? 0 : initialMargin),
    clusterAlerts(alerts: Alerts, params: ClusterParams, margin: number) {
      const index = new Map<string, number>();
      for (let k = 0; k < alerts.length; k++) index.set(`${alerts.col[k]},${alerts.row[k]}`, k);
      const label = new Int32Array(alerts.length).fill(-1);
      const clusters = [];
      let complete = true;
      for (let s = 0; s < alerts.length; s++) {
        if (label[s] >= 0) continue;
        const members: number[] = [s];
        label[s] = s;
        for (let q = 0; q < members.length; q++) {
          const m = members[q];
          for (let dy = -1; dy <= 1; dy++) {
            for (let dx = -1; dx <= 1; dx++) {
              const n = index.get(`${alerts.col[m] + dx},${alerts.row[m] + dy}`);
              if (n !== undefined && label[n] < 0) {
                label[n] = s;
                members.push(n);
              }
            }
          }
        }
        let col = 0;
        let row = 0;
        let touchesEdge = false;
        for (const m of members) {
          col += alerts.col[m];
          row += alerts.row[m];
          const c = alerts.col[m];
          const r = alerts.row[m];
          if (margin > 0 && (c <= -margin || r <= -margin || c >= 255 + margin || r >= 255 + margin)) touchesEdge = true;
        }
        col /= members.length;
        row /= members.length;
        const owned = Math.round(col) >= 0 && Math.round(col) <= 255 && Math.round(row) >= 0 && Math.round(row) <= 255;
        if (!owned) continue;
        if (touchesEdge) complete = false;
        if (members.length >= params.min_count) clusters.push({ members: Int32Array.from(members), col, row });
      }
      return { clusters, complete };
    },
  };
}
