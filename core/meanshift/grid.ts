// A uniform bucket grid over fixed points: the neighbours of a location within a radius are found
// by scanning only the cells the radius touches (compressed-row layout, no per-cell arrays).

import type { Points } from './types.ts';

export interface Grid {
  cellSize: number;
  /** Cell coordinates of the grid's first cell. */
  minCx: number;
  minCy: number;
  cols: number;
  rows: number;
  /** Points of cell c are order[cellStart[c] .. cellStart[c+1]). */
  cellStart: Int32Array;
  order: Int32Array;
}

export function buildGrid(points: Points, cellSize: number): Grid {
  const n = points.length;
  if (n === 0) {
    return { cellSize, minCx: 0, minCy: 0, cols: 0, rows: 0, cellStart: new Int32Array(1), order: new Int32Array(0) };
  }
  let minCx = Infinity, minCy = Infinity, maxCx = -Infinity, maxCy = -Infinity;
  const cellOf = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const cx = Math.floor(points.x[i] / cellSize), cy = Math.floor(points.y[i] / cellSize);
    if (cx < minCx) minCx = cx;
    if (cx > maxCx) maxCx = cx;
    if (cy < minCy) minCy = cy;
    if (cy > maxCy) maxCy = cy;
  }
  const cols = maxCx - minCx + 1, rows = maxCy - minCy + 1;
  const cellStart = new Int32Array(cols * rows + 1);
  for (let i = 0; i < n; i++) {
    const c = (Math.floor(points.y[i] / cellSize) - minCy) * cols + (Math.floor(points.x[i] / cellSize) - minCx);
    cellOf[i] = c;
    cellStart[c + 1]++;
  }
  for (let c = 0; c < cols * rows; c++) cellStart[c + 1] += cellStart[c];
  const fill = cellStart.slice(0, cols * rows);
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[fill[cellOf[i]]++] = i;
  return { cellSize, minCx, minCy, cols, rows, cellStart, order };
}

/** Calls visit(i) for every point i in the cells overlapping the square [x-r, x+r] × [y-r, y+r]. */
export function forEachCandidate(grid: Grid, x: number, y: number, r: number, visit: (i: number) => void): void {
  const { cellSize, minCx, minCy, cols, rows, cellStart, order } = grid;
  const cx0 = Math.max(0, Math.floor((x - r) / cellSize) - minCx);
  const cx1 = Math.min(cols - 1, Math.floor((x + r) / cellSize) - minCx);
  const cy0 = Math.max(0, Math.floor((y - r) / cellSize) - minCy);
  const cy1 = Math.min(rows - 1, Math.floor((y + r) / cellSize) - minCy);
  for (let cy = cy0; cy <= cy1; cy++) {
    const rowBase = cy * cols;
    for (let c = rowBase + cx0; c <= rowBase + cx1; c++) {
      for (let k = cellStart[c]; k < cellStart[c + 1]; k++) visit(order[k]);
    }
  }
}
