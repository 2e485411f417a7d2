// Blurring mean shift exactly as the old (numpy) system ran it, fast enough for big tiles.
//
// The old algorithm (transcribed in test/old-blurring.ts): points start at the alerts in
// row-major order; each pass updates the points ONE AFTER ANOTHER, IN PLACE, each to the
// Gaussian-weighted mean (K(d) = exp(-d² / 2·width²)) of the CURRENT positions of all points, so
// points already moved in this pass count at their new place. After the last pass positions are
// rounded to the nearest pixel (np.round: half to even) and alerts sharing a pixel form a cluster
// whose centre is that pixel.
//
// What is changed, and why the clusters stay the same:
// - The kernel is cut at TRUNCATION_SIGMAS·width, where a weight drops below 2^-53, i.e. below
//   float64 resolution next to the point's own weight of 1. Measured against the untruncated
//   transcription the final positions differ by ~1e-12 px, well under the ~1e-10 px that merely
//   reordering the sums produces (and far under the ≥1e-5 px margins to a rounding boundary seen on
//   real-size tiles). A cut at 5-6 widths is NOT safe: the passes amplify tiny differences ~1e5
//   times and clusters change.
// - Neighbours come from a bucket grid built over the positions; points keep moving during a pass,
//   so the grid is queried with a slack and a point that drifts further than that slack from where
//   it was bucketed is moved to a short "escaped" list that every query scans too (the grid is
//   rebuilt when that list grows). A point moved this pass is therefore always found where it is now.
// - exp() comes from a table of e^-k/256 times a short Taylor series (relative error < 4e-16).
import type { Partition, Points } from './types.ts';

/** Kernel radius in widths: exp(-r²/2) < 2^-53 beyond it. */
export const TRUNCATION_SIGMAS = Math.sqrt(2 * 53 * Math.LN2);
/** How far (px) a point may drift from its bucketed position before it counts as escaped. */
const SLACK = 2;
/** Rebuild the grid once this many points have escaped. */
const MAX_ESCAPED = 32;

// e^-t = EXP_TABLE[k] · e^-(g/STEPS) with t·STEPS = k + g, 0 <= g < 1; the second factor is a
// degree-5 Taylor series in g (relative error of the product < 4e-16, about Math.exp's own).
const STEPS = 256;
const T_MAX = (TRUNCATION_SIGMAS * TRUNCATION_SIGMAS) / 2;
const EXP_TABLE = Float64Array.from({ length: Math.ceil(T_MAX * STEPS) + 2 }, (_, k) => Math.exp(-k / STEPS));
const C1 = -1 / STEPS, C2 = 1 / (2 * STEPS ** 2), C3 = -1 / (6 * STEPS ** 3), C4 = 1 / (24 * STEPS ** 4), C5 = -1 / (120 * STEPS ** 5);

/** e^-t for 0 <= t <= T_MAX (exported for its accuracy test). */
export function tableExp(t: number): number {
  const u = t * STEPS;
  const k = u | 0;
  const g = u - k;
  return EXP_TABLE[k] * (1 + g * (C1 + g * (C2 + g * (C3 + g * (C4 + g * C5)))));
}

export function blurringMeanShift(points: Points, width: number, iterations: number): Partition {
  return groupByRoundedPixel(blurredPositions(points, width, iterations), rowMajorOrder(points));
}

/** The final (unrounded) positions, in the caller's indexing: the passes without the grouping. */
export function blurredPositions(points: Points, width: number, iterations: number): Points {
  if (!(width > 0) || !Number.isFinite(width)) throw new Error(`blurring mean shift: width must be a positive number, got ${width}`);
  if (!Number.isInteger(iterations) || iterations < 0) throw new Error(`blurring mean shift: iterations must be an integer >= 0, got ${iterations}`);
  const n = points.length;
  const order = rowMajorOrder(points);
  const state = new MovingPoints(points, order, width);
  for (let pass = 0; pass < iterations; pass++) {
    for (let k = 0; k < n; k++) state.update(k);
  }
  const out: Points = { length: n, x: new Float64Array(n), y: new Float64Array(n) };
  for (let k = 0; k < n; k++) {
    out.x[order[k]] = state.x(k);
    out.y[order[k]] = state.y(k);
  }
  return out;
}

/** Point indices sorted by (row = y, col = x), stable: the order the old code visited alerts. */
function rowMajorOrder(points: Points): Int32Array {
  const idx = Array.from({ length: points.length }, (_, i) => i);
  idx.sort((a, b) => points.y[a] - points.y[b] || points.x[a] - points.x[b] || a - b);
  return Int32Array.from(idx);
}

/**
 * Current positions of the points, held in grid-cell order for fast neighbour scans.
 * Point k (in row-major update order) lives in slot slotOf[k].
 */
class MovingPoints {
  readonly n: number;
  private readonly radius: number;
  private readonly radius2: number;
  /** 1 / (2·width²): t = d² · invTwoVar is the kernel exponent. */
  private readonly invTwoVar: number;
  private readonly cellSize: number;
  // Slot-ordered positions and the positions they were bucketed at.
  private xs: Float64Array;
  private ys: Float64Array;
  private bucketX: Float64Array;
  private bucketY: Float64Array;
  private readonly slotOf: Int32Array;
  private pointOfSlot: Int32Array;
  // The grid (compressed rows: slots of cell c are cellStart[c] .. cellStart[c+1]).
  private minCx = 0;
  private minCy = 0;
  private cols = 0;
  private rows = 0;
  private cellStart = new Int32Array(1);
  // Points that drifted more than SLACK from their bucket: their slot in xs/ys holds +Infinity
  // (so cell scans skip it) and their position lives in a short list every query scans.
  private readonly escapedAt: Int32Array; // slot -> list index, or -1
  private readonly escapedSlot: Int32Array;
  private readonly escapedX: Float64Array;
  private readonly escapedY: Float64Array;
  private escapedCount = 0;

  constructor(points: Points, order: Int32Array, width: number) {
    const n = (this.n = points.length);
    this.radius = TRUNCATION_SIGMAS * width;
    this.radius2 = this.radius * this.radius;
    this.invTwoVar = 1 / (2 * width * width);
    // About 4 cells per radius keeps the scanned area close to the kernel disc.
    this.cellSize = Math.max(1, this.radius / 4);
    this.xs = new Float64Array(n);
    this.ys = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      this.xs[k] = points.x[order[k]];
      this.ys[k] = points.y[order[k]];
    }
    this.bucketX = new Float64Array(n);
    this.bucketY = new Float64Array(n);
    this.slotOf = Int32Array.from({ length: n }, (_, k) => k);
    this.pointOfSlot = Int32Array.from({ length: n }, (_, k) => k);
    this.escapedAt = new Int32Array(n).fill(-1);
    this.escapedSlot = new Int32Array(MAX_ESCAPED);
    this.escapedX = new Float64Array(MAX_ESCAPED);
    this.escapedY = new Float64Array(MAX_ESCAPED);
    if (n > 0) this.rebuild();
  }

  /** Current position of point k (row-major index). */
  x(k: number): number {
    const slot = this.slotOf[k], e = this.escapedAt[slot];
    return e < 0 ? this.xs[slot] : this.escapedX[e];
  }
  y(k: number): number {
    const slot = this.slotOf[k], e = this.escapedAt[slot];
    return e < 0 ? this.ys[slot] : this.escapedY[e];
  }

  /** Moves point k to the kernel-weighted mean of all current positions. */
  update(k: number): void {
    const slot = this.slotOf[k];
    const qx = this.x(k), qy = this.y(k);
    const { xs, ys, radius2, invTwoVar, cellSize, minCx, minCy, cols, rows, cellStart } = this;
    // A point within the radius now is bucketed within radius ⊕ square(SLACK) ⊂ disc(radius + SLACK·√2).
    const reach = this.radius + SLACK * Math.SQRT2;
    const expScale = invTwoVar * STEPS;
    let sw = 0, sx = 0, sy = 0;
    // Grid rows overlapping [qy - reach, qy + reach]; in each, only the cells the disc can touch.
    const gy0 = Math.max(0, Math.floor((qy - reach) / cellSize) - minCy);
    const gy1 = Math.min(rows - 1, Math.floor((qy + reach) / cellSize) - minCy);
    for (let gy = gy0; gy <= gy1; gy++) {
      const top = (gy + minCy) * cellSize, bottom = top + cellSize;
      const dyMin = qy < top ? top - qy : qy > bottom ? qy - bottom : 0;
      const half = Math.sqrt(Math.max(0, reach * reach - dyMin * dyMin));
      const gx0 = Math.max(0, Math.floor((qx - half) / cellSize) - minCx);
      const gx1 = Math.min(cols - 1, Math.floor((qx + half) / cellSize) - minCx);
      if (gx0 > gx1) continue;
      const end = cellStart[gy * cols + gx1 + 1];
      for (let s = cellStart[gy * cols + gx0]; s < end; s++) {
        const px = xs[s], py = ys[s];
        const dx = qx - px, dy = qy - py;
        const d2 = dx * dx + dy * dy;
        if (d2 > radius2) continue; // also skips escaped slots (+Infinity)
        // Inlined tableExp(d2 · invTwoVar).
        const u = d2 * expScale;
        const e = u | 0;
        const g = u - e;
        const w = EXP_TABLE[e] * (1 + g * (C1 + g * (C2 + g * (C3 + g * (C4 + g * C5)))));
        sw += w;
        sx += w * px;
        sy += w * py;
      }
    }
    const { escapedX, escapedY } = this;
    for (let i = 0; i < this.escapedCount; i++) {
      const px = escapedX[i], py = escapedY[i];
      const dx = qx - px, dy = qy - py;
      const d2 = dx * dx + dy * dy;
      if (d2 > radius2) continue;
      const w = tableExp(d2 * invTwoVar);
      sw += w;
      sx += w * px;
      sy += w * py;
    }
    // sw >= 1: the point itself is always counted (distance 0, weight 1).
    this.moveTo(slot, sx / sw, sy / sw);
  }

  private moveTo(slot: number, nx: number, ny: number): void {
    const e = this.escapedAt[slot];
    if (e >= 0) {
      this.escapedX[e] = nx;
      this.escapedY[e] = ny;
    } else if (Math.abs(nx - this.bucketX[slot]) <= SLACK && Math.abs(ny - this.bucketY[slot]) <= SLACK) {
      this.xs[slot] = nx;
      this.ys[slot] = ny;
    } else if (this.escapedCount < MAX_ESCAPED) {
      const i = this.escapedCount++;
      this.escapedAt[slot] = i;
      this.escapedSlot[i] = slot;
      this.escapedX[i] = nx;
      this.escapedY[i] = ny;
      this.xs[slot] = this.ys[slot] = Infinity;
    } else {
      this.xs[slot] = nx;
      this.ys[slot] = ny;
      this.rebuild();
    }
  }

  /** Re-buckets every point at its current position (counting sort by cell, row-major cells). */
  private rebuild(): void {
    for (let i = 0; i < this.escapedCount; i++) {
      const slot = this.escapedSlot[i];
      this.xs[slot] = this.escapedX[i];
      this.ys[slot] = this.escapedY[i];
      this.escapedAt[slot] = -1;
    }
    this.escapedCount = 0;
    const n = this.n, h = this.cellSize;
    let minCx = Infinity, minCy = Infinity, maxCx = -Infinity, maxCy = -Infinity;
    for (let s = 0; s < n; s++) {
      const cx = Math.floor(this.xs[s] / h), cy = Math.floor(this.ys[s] / h);
      if (cx < minCx) minCx = cx;
      if (cx > maxCx) maxCx = cx;
      if (cy < minCy) minCy = cy;
      if (cy > maxCy) maxCy = cy;
    }
    const cols = maxCx - minCx + 1, rows = maxCy - minCy + 1;
    const cellOf = new Int32Array(n);
    const cellStart = new Int32Array(cols * rows + 1);
    for (let s = 0; s < n; s++) {
      const c = (Math.floor(this.ys[s] / h) - minCy) * cols + (Math.floor(this.xs[s] / h) - minCx);
      cellOf[s] = c;
      cellStart[c + 1]++;
    }
    for (let c = 0; c < cols * rows; c++) cellStart[c + 1] += cellStart[c];
    const fill = cellStart.slice(0, cols * rows);
    const xs = new Float64Array(n), ys = new Float64Array(n), pointOfSlot = new Int32Array(n);
    for (let s = 0; s < n; s++) {
      const to = fill[cellOf[s]]++;
      xs[to] = this.xs[s];
      ys[to] = this.ys[s];
      pointOfSlot[to] = this.pointOfSlot[s];
      this.slotOf[this.pointOfSlot[s]] = to;
    }
    this.xs = xs;
    this.ys = ys;
    this.bucketX = xs.slice();
    this.bucketY = ys.slice();
    this.pointOfSlot = pointOfSlot;
    this.minCx = minCx;
    this.minCy = minCy;
    this.cols = cols;
    this.rows = rows;
    this.cellStart = cellStart;
  }
}

/** numpy's np.round: half to even; -0 folded into 0 (Python's tuple keys treat them as equal). */
export function roundHalfEven(v: number): number {
  let r = Math.round(v);
  if (r - v === 0.5 && r % 2 !== 0) r -= 1;
  return r + 0;
}

/**
 * Alerts sharing a rounded pixel are one cluster; clusters are numbered in row-major order of their
 * first member (the order the old code met them).
 */
function groupByRoundedPixel(final: Points, order: Int32Array): Partition {
  const labels = new Int32Array(final.length);
  const centres: Array<{ x: number; y: number }> = [];
  const clusterOf = new Map<string, number>();
  for (const i of order) {
    const rx = roundHalfEven(final.x[i]), ry = roundHalfEven(final.y[i]);
    const key = `${rx},${ry}`;
    let label = clusterOf.get(key);
    if (label === undefined) {
      label = centres.length;
      clusterOf.set(key, label);
      centres.push({ x: rx, y: ry });
    }
    labels[i] = label;
  }
  return { labels, centres };
}
