// Flat-kernel mean shift with scikit-learn's MeanShift(bandwidth=width) semantics (sklearn 1.2,
// sklearn/cluster/_mean_shift.py; defaults bin_seeding=False, cluster_all=True, max_iter=300):
//
//   1. every point is a seed; a seed repeatedly moves to the mean of the points within distance
//      <= bandwidth of it, until the shift is < 1e-3 · bandwidth or after max_iter iterations;
//   2. each final mean is a candidate centre whose "intensity" is the number of points within
//      the bandwidth of the PREVIOUS position (the set the final mean was computed from); seeds
//      ending on the exact same mean share one entry, the last seed (in input order) writing it;
//   3. candidates sorted by (intensity, x, y) descending; a candidate within <= bandwidth of an
//      earlier kept one is dropped;
//   4. every point is labelled with its nearest kept centre; exact ties are broken as sklearn's
//      KD tree breaks them (see sklearn-kdtree.ts).
//
// Points are (x, y) = (col, row), the column order sklearn receives, so the coordinate
// tie-break in step 3 compares x first. Space–time points have a third coordinate t (scaled
// days, sklearn's third column): distances, means and the tie-break then include it, and points
// go to their nearest kept centre with exact ties to the higher-ranked one (the tile rule of
// flat-halo.ts; sklearn's KD tree would pick by layout). For integer pixel coordinates every mean is an exact
// sum divided by a count, so the means are bit-identical to numpy's whatever the summation order.
import { SklearnKdTree } from './sklearn-kdtree.ts';
import type { Partition, Points } from './types.ts';

const MAX_ITER = 300;

export function flatMeanShift(points: Points, width: number): Partition {
  const { labels, centres } = flatMeanShiftTraced(points, width);
  return { labels, centres };
}

/**
 * What the halo check (flat-halo.ts) needs to know about a run besides its partition: where each
 * seed's trajectory went, and every candidate with its rank and whether it was kept.
 */
export interface FlatTrace {
  /** Per seed: rank of the candidate it ended on (index into `candidates`). */
  seedCandidate: Int32Array;
  /** Per seed: bounding box of the positions whose windows were summed (start included). */
  pathMinX: Float64Array;
  pathMinY: Float64Array;
  pathMaxX: Float64Array;
  pathMaxY: Float64Array;
  /** Per seed: farthest distance (with t) from its start of any trajectory position (the final mean included). */
  reach: Float64Array;
  /** Per seed: the same in space only (x, y): equal to `reach` for spatial points. */
  spaceReach: Float64Array;
  /** Candidates in rank order: sorted by (intensity, x, y) descending. */
  candidates: Candidate[];
  /** Per candidate rank: its index in `centres` when kept, else -1. */
  keptAs: Int32Array;
  /** Per centre (kept candidate): its rank. */
  centreRank: Int32Array;
}

/** flatMeanShift plus its trace; the partition is exactly flatMeanShift's. */
export function flatMeanShiftTraced(points: Points, width: number): Partition & { trace: FlatTrace } {
  if (!(width > 0) || !Number.isFinite(width)) throw new Error(`flat mean shift: width must be a positive number, got ${width}`);
  const n = points.length;
  const trace: FlatTrace = {
    seedCandidate: new Int32Array(n),
    pathMinX: new Float64Array(n),
    pathMinY: new Float64Array(n),
    pathMaxX: new Float64Array(n),
    pathMaxY: new Float64Array(n),
    reach: new Float64Array(n),
    spaceReach: new Float64Array(n),
    candidates: [],
    keptAs: new Int32Array(0),
    centreRank: new Int32Array(0),
  };
  if (n === 0) return { labels: new Int32Array(0), centres: [], trace };
  const grid = new PointGrid(points, width);
  const seedOf = new Array<Candidate | undefined>(n);
  const candidates = climbAllSeeds(points, grid, width, trace, seedOf);
  const { kept, keptAs, centreRank } = suppressNearDuplicates(candidates, width);
  for (let r = 0; r < candidates.length; r++) candidates[r].rank = r;
  for (let s = 0; s < n; s++) trace.seedCandidate[s] = seedOf[s] ? seedOf[s]!.rank : -1;
  trace.candidates = candidates;
  trace.keptAs = keptAs;
  trace.centreRank = centreRank;
  const labels = points.t ? nearestCentreLabelsByRank(points, trace, width) : nearestCentreLabels(points, kept);
  return { labels, centres: kept, trace };
}

interface Candidate {
  x: number;
  y: number;
  /** Third coordinate (0 for spatial points). */
  z: number;
  intensity: number;
  /** Position in the (intensity, x, y) descending order, set after sorting. */
  rank: number;
}

/** Step 1-2: hill-climb every seed; one candidate per distinct final mean (last writer wins). */
function climbAllSeeds(points: Points, grid: PointGrid, bandwidth: number, trace: FlatTrace, seedOf: Array<Candidate | undefined>): Candidate[] {
  const stopThresh = 1e-3 * bandwidth;
  const r2 = bandwidth * bandwidth;
  // Keyed by the exact final mean; a Map keeps first-insertion order, values are overwritten.
  const byMean = new Map<string, Candidate>();
  const ts = points.t ?? new Float64Array(points.length);
  for (let s = 0; s < points.length; s++) {
    const sx = points.x[s], sy = points.y[s], sz = ts[s];
    let mx = sx, my = sy, mz = sz;
    let within = 0;
    let minX = sx, minY = sy, maxX = sx, maxY = sy, reach2 = 0, spaceReach2 = 0;
    for (let completed = 0; ; completed++) {
      if (mx < minX) minX = mx;
      if (mx > maxX) maxX = mx;
      if (my < minY) minY = my;
      if (my > maxY) maxY = my;
      const sum = grid.sumWithin(mx, my, mz, r2);
      within = sum.count;
      if (within === 0) break; // cannot happen for data seeds, kept for sklearn parity
      const nx = sum.x / within, ny = sum.y / within, nz = sum.z / within;
      const dx = nx - mx, dy = ny - my, dz = nz - mz;
      mx = nx;
      my = ny;
      mz = nz;
      const spaceGone2 = (mx - sx) * (mx - sx) + (my - sy) * (my - sy);
      const gone2 = spaceGone2 + (mz - sz) * (mz - sz);
      if (gone2 > reach2) reach2 = gone2;
      if (spaceGone2 > spaceReach2) spaceReach2 = spaceGone2;
      if (Math.sqrt(dx * dx + dy * dy + dz * dz) < stopThresh || completed === MAX_ITER) break;
    }
    trace.pathMinX[s] = minX;
    trace.pathMinY[s] = minY;
    trace.pathMaxX[s] = maxX;
    trace.pathMaxY[s] = maxY;
    trace.reach[s] = Math.sqrt(reach2);
    trace.spaceReach[s] = Math.sqrt(spaceReach2);
    if (within === 0) continue;
    // +0 folds -0 into 0: Python's tuple keys treat them as equal.
    const key = points.t ? `${mx + 0},${my + 0},${mz + 0}` : `${mx + 0},${my + 0}`;
    let c = byMean.get(key);
    if (c) c.intensity = within;
    else byMean.set(key, (c = { x: mx + 0, y: my + 0, z: mz + 0, intensity: within, rank: -1 }));
    seedOf[s] = c;
  }
  return [...byMean.values()];
}

/** Step 3: densest first; drop candidates within the bandwidth of an already kept centre. */
function suppressNearDuplicates(candidates: Candidate[], bandwidth: number) {
  candidates.sort((a, b) => b.intensity - a.intensity || b.x - a.x || b.y - a.y || b.z - a.z);
  const r2 = bandwidth * bandwidth;
  const kept: Array<{ x: number; y: number }> = [];
  const keptAs = new Int32Array(candidates.length).fill(-1);
  const centreRank: number[] = [];
  const keptZ: number[] = [];
  // Kept centres in a hash grid of cell size = bandwidth: a conflicting one is in the 3x3 cells around.
  const cells = new Map<string, number[]>();
  for (let r = 0; r < candidates.length; r++) {
    const c = candidates[r];
    const cx = Math.floor(c.x / bandwidth), cy = Math.floor(c.y / bandwidth);
    let duplicate = false;
    for (let gy = cy - 1; gy <= cy + 1 && !duplicate; gy++) {
      for (let gx = cx - 1; gx <= cx + 1 && !duplicate; gx++) {
        for (const k of cells.get(`${gx},${gy}`) ?? []) {
          const dx = kept[k].x - c.x, dy = kept[k].y - c.y, dz = keptZ[k] - c.z;
          if (dx * dx + dy * dy + dz * dz <= r2) {
            duplicate = true;
            break;
          }
        }
      }
    }
    if (duplicate) continue;
    const key = `${cx},${cy}`;
    const list = cells.get(key);
    if (list) list.push(kept.length);
    else cells.set(key, [kept.length]);
    keptAs[r] = kept.length;
    centreRank.push(r);
    kept.push({ x: c.x, y: c.y });
    keptZ.push(c.z);
  }
  return { kept, keptAs, centreRank: Int32Array.from(centreRank) };
}

/** Step 4: nearest kept centre of every point, exact ties broken as sklearn's KD tree does. */
function nearestCentreLabels(points: Points, centres: Array<{ x: number; y: number }>): Int32Array {
  const tree = new SklearnKdTree(
    Float64Array.from(centres, (c) => c.x),
    Float64Array.from(centres, (c) => c.y),
  );
  const labels = new Int32Array(points.length);
  for (let i = 0; i < points.length; i++) labels[i] = tree.nearest(points.x[i], points.y[i]);
  return labels;
}

/**
 * Step 4 for space–time points: the nearest kept centre in (x, y, t), exact ties to the
 * higher-ranked one. A point's own candidate lies within its trajectory's reach, and that candidate
 * is kept or was dropped for a kept one within the bandwidth: so its nearest centre is within
 * reach + bandwidth, and only the centres of those cells are searched.
 */
function nearestCentreLabelsByRank(points: Points, trace: FlatTrace, bandwidth: number): Int32Array {
  const { candidates, centreRank } = trace;
  const t = points.t!;
  const cells = new Map<string, number[]>();
  for (let l = 0; l < centreRank.length; l++) {
    const c = candidates[centreRank[l]];
    const key = `${Math.floor(c.x / bandwidth)},${Math.floor(c.y / bandwidth)}`;
    const list = cells.get(key);
    if (list) list.push(l);
    else cells.set(key, [l]);
  }
  const labels = new Int32Array(points.length);
  for (let i = 0; i < points.length; i++) {
    const r = trace.reach[i] + bandwidth * (1 + 1e-9) + 1e-9;
    const gx0 = Math.floor((points.x[i] - r) / bandwidth), gx1 = Math.floor((points.x[i] + r) / bandwidth);
    const gy0 = Math.floor((points.y[i] - r) / bandwidth), gy1 = Math.floor((points.y[i] + r) / bandwidth);
    let best = -1, bestD2 = Infinity;
    for (let gy = gy0; gy <= gy1; gy++) {
      for (let gx = gx0; gx <= gx1; gx++) {
        for (const l of cells.get(`${gx},${gy}`) ?? []) {
          const c = candidates[centreRank[l]];
          const d2 = (points.x[i] - c.x) ** 2 + (points.y[i] - c.y) ** 2 + (t[i] - c.z) ** 2;
          if (d2 < bestD2 || (d2 === bestD2 && l < best)) {
            best = l;
            bestD2 = d2;
          }
        }
      }
    }
    if (best < 0) throw new Error(`flat mean shift: no centre within reach of point ${i}`);
    labels[i] = best;
  }
  return labels;
}

/**
 * Fixed points bucketed in a uniform grid, coordinates copied in cell order so the hot scans
 * read memory sequentially.
 */
class PointGrid {
  readonly cellSize: number;
  readonly minCx: number;
  readonly minCy: number;
  readonly cols: number;
  readonly rows: number;
  readonly cellStart: Int32Array;
  /** x, y and t of each slot (slots are in cell order; t is 0 for spatial points). */
  readonly xs: Float64Array;
  readonly ys: Float64Array;
  readonly ts: Float64Array;
  /** Whether the points have t (else the spatial loop, t being 0 everywhere). */
  readonly hasT: boolean;
  private readonly acc = { count: 0, x: 0, y: 0, z: 0 };

  constructor(points: Points, cellSize: number) {
    const n = points.length;
    this.cellSize = cellSize;
    let minCx = Infinity, minCy = Infinity, maxCx = -Infinity, maxCy = -Infinity;
    const cellX = new Int32Array(n), cellY = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const gx = Math.floor(points.x[i] / cellSize), gy = Math.floor(points.y[i] / cellSize);
      cellX[i] = gx;
      cellY[i] = gy;
      if (gx < minCx) minCx = gx;
      if (gx > maxCx) maxCx = gx;
      if (gy < minCy) minCy = gy;
      if (gy > maxCy) maxCy = gy;
    }
    if (n === 0) minCx = minCy = maxCx = maxCy = 0;
    this.minCx = minCx;
    this.minCy = minCy;
    this.cols = maxCx - minCx + 1;
    this.rows = maxCy - minCy + 1;
    const cells = this.cols * this.rows;
    const cellStart = new Int32Array(cells + 1);
    const cellOf = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      cellOf[i] = (cellY[i] - minCy) * this.cols + (cellX[i] - minCx);
      cellStart[cellOf[i] + 1]++;
    }
    for (let c = 0; c < cells; c++) cellStart[c + 1] += cellStart[c];
    const fill = cellStart.slice(0, cells);
    this.xs = new Float64Array(n);
    this.ys = new Float64Array(n);
    this.ts = new Float64Array(n);
    this.hasT = points.t !== undefined;
    for (let i = 0; i < n; i++) {
      const slot = fill[cellOf[i]]++;
      this.xs[slot] = points.x[i];
      this.ys[slot] = points.y[i];
      if (points.t) this.ts[slot] = points.t[i];
    }
    this.cellStart = cellStart;
  }

  /**
   * Count and coordinate sums of the points with (qx-x)² + (qy-y)² (+ (qz-t)²) <= r2 — sklearn's
   * KD-tree test (squared distance against radius², same operation order; for spatial points the
   * added 0 changes nothing). Returns a reused object.
   */
  sumWithin(qx: number, qy: number, qz: number, r2: number): { count: number; x: number; y: number; z: number } {
    const r = Math.sqrt(r2) * (1 + 1e-12); // cell range only; the exact test is below
    const { cellSize, minCx, minCy, cols, rows, cellStart, xs, ys, ts } = this;
    const cx0 = Math.max(0, Math.floor((qx - r) / cellSize) - minCx);
    const cx1 = Math.min(cols - 1, Math.floor((qx + r) / cellSize) - minCx);
    const cy0 = Math.max(0, Math.floor((qy - r) / cellSize) - minCy);
    const cy1 = Math.min(rows - 1, Math.floor((qy + r) / cellSize) - minCy);
    let count = 0, sx = 0, sy = 0, sz = 0;
    for (let cy = cy0; cy <= cy1; cy++) {
      // Cells of one grid row are contiguous in slot order: scan them as one run.
      const from = cellStart[cy * cols + cx0], to = cellStart[cy * cols + cx1 + 1];
      if (!this.hasT) {
        // Spatial points: the same loop without t (a quarter faster; t would add exact zeros).
        for (let k = from; k < to; k++) {
          const dx = qx - xs[k], dy = qy - ys[k];
          if (dx * dx + dy * dy <= r2) {
            count++;
            sx += xs[k];
            sy += ys[k];
          }
        }
        continue;
      }
      for (let k = from; k < to; k++) {
        const dx = qx - xs[k], dy = qy - ys[k], dz = qz - ts[k];
        if (dx * dx + dy * dy + dz * dz <= r2) {
          count++;
          sx += xs[k];
          sy += ys[k];
          sz += ts[k];
        }
      }
    }
    const acc = this.acc;
    acc.count = count;
    acc.x = sx;
    acc.y = sy;
    acc.z = sz;
    return acc;
  }
}
