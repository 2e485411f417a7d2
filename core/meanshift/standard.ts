// The `standard` mean shift: Gaussian kernel K(d) = exp(-d²/(2·width²)); every alert climbs the
// density of the FIXED alert set (y ← Σ K·p / Σ K) until its step is below STOP_STEP px; modes
// closer than width/2 (single linkage) form one cluster whose centre is the mean of its modes.
//
// Speed comes from the alerts lying on the integer pixel lattice:
// - the kernel is truncated to a square window of half-side TRUNCATION·width around the current
//   position (the weight left out is < 1e-4 of the kernel mass per axis; see docs/clustering.md);
// - the Gaussian is separable, so each step needs only two 1-D weight tables (3 exp() per axis,
//   the rest by the exact recurrence w(k+1) = w(k)·q, q ← q·exp(-2a));
// - alerts are indexed by a row-major prefix-count raster, so a window row's alerts are one
//   contiguous slice of a sorted column array (no per-point objects, no closures).
// Trajectories are computed RELATIVE to their start pixel, so the same alert surrounded by the
// same alerts follows bit-identical steps whatever the coordinate frame (tile or whole region):
// that is what makes the halo union equal to clustering the region at once.
import type { Partition, Points } from './types.ts';

/** A trajectory stops when its last step is shorter than this (px). */
export const STOP_STEP = 0.01;
/** Safety bound on steps per trajectory (plateau edges converge slowly; real tiles stay far below). */
export const MAX_STEPS = 5000;
/** Kernel truncation: the window's half-side in kernel widths. */
export const TRUNCATION = 4;

/** Integer alert coordinates (col = x, row = y), struct-of-arrays. */
export interface Lattice {
  length: number;
  col: Int32Array;
  row: Int32Array;
}

/** Where every alert's climb ended, and the box its whole trajectory stayed in (for the halo check). */
export interface Climb {
  modeX: Float64Array;
  modeY: Float64Array;
  pathMinX: Float64Array;
  pathMinY: Float64Array;
  pathMaxX: Float64Array;
  pathMaxY: Float64Array;
  /** Total mean-shift steps over all alerts, replayed ones included (for benchmarks). */
  steps: number;
  /** Exact steps (kernel sums) over all alerts: the cost driver. */
  evaluations: number;
  /** Half-side of the square kernel window, px: a step only sees alerts within this of the position. */
  reach: number;
}

/**
 * Row-major index of the alerts over their bounding box. The alerts of row r, cols c0..c1 (box
 * coordinates) are sortedCol[pre[r·stride + c0] .. pre[r·stride + c1 + 1]); the same row's runs of
 * consecutive alerts starting in c0..c1 are runs runPre[r·stride + c0] .. runPre[r·stride + c1 + 1].
 */
interface LatticeIndex {
  minC: number;
  minR: number;
  maxC: number;
  maxR: number;
  stride: number;
  pre: Int32Array;
  sortedCol: Int32Array;
  runPre: Int32Array;
  /** Absolute first and last column of each run. */
  runFirst: Int32Array;
  runLast: Int32Array;
  /** Some pixel holds several alerts: runs (which weigh each pixel once) are not used. */
  duplicates: boolean;
}

function indexLattice(pts: Lattice): LatticeIndex {
  const n = pts.length;
  let minC = Infinity, minR = Infinity, maxC = -Infinity, maxR = -Infinity;
  for (let i = 0; i < n; i++) {
    const c = pts.col[i], r = pts.row[i];
    if (c < minC) minC = c;
    if (c > maxC) maxC = c;
    if (r < minR) minR = r;
    if (r > maxR) maxR = r;
  }
  const stride = maxC - minC + 2;
  const rows = maxR - minR + 1;
  // pre[r*stride + c] = number of alerts before cell (r, c) in row-major order (duplicates count).
  const pre = new Int32Array(rows * stride);
  for (let i = 0; i < n; i++) pre[(pts.row[i] - minR) * stride + (pts.col[i] - minC) + 1]++;
  for (let k = 1; k < pre.length; k++) pre[k] += pre[k - 1];
  const sortedCol = new Int32Array(n);
  const taken = new Uint8Array(n);
  let duplicates = false;
  for (let i = 0; i < n; i++) {
    // Duplicate pixels take the next free slot of their cell (linear probe within the cell).
    let slot = pre[(pts.row[i] - minR) * stride + (pts.col[i] - minC)];
    while (taken[slot] !== 0) {
      slot++;
      duplicates = true;
    }
    taken[slot] = 1;
    sortedCol[slot] = pts.col[i];
  }
  // Runs of horizontally consecutive alerts, row by row.
  const runPre = new Int32Array(rows * stride);
  const first: number[] = [], last: number[] = [];
  for (let r = 0; r < rows; r++) {
    const end = pre[r * stride + stride - 1];
    for (let p = pre[r * stride]; p < end; p++) {
      const c = sortedCol[p];
      if (p > pre[r * stride] && sortedCol[p - 1] >= c - 1) {
        last[last.length - 1] = c;
      } else {
        first.push(c);
        last.push(c);
        runPre[r * stride + (c - minC) + 1]++;
      }
    }
  }
  for (let k = 1; k < runPre.length; k++) runPre[k] += runPre[k - 1];
  return {
    minC, minR, maxC, maxR, stride, pre, sortedCol, runPre,
    runFirst: Int32Array.from(first), runLast: Int32Array.from(last), duplicates,
  };
}

/**
 * 1-D Gaussian weights w[k - k0] = exp(-a·(k - d)²) for integer k in k0..k1, from 3 exp() calls:
 * neighbouring weights differ by the factor q(k) = exp(-a(2(k-d)+1)), and q(k+1) = q(k)·exp(-2a).
 */
function fillWeights(w: Float64Array, k0: number, k1: number, d: number, a: number, decay: number): void {
  const kc = Math.min(k1, Math.max(k0, Math.round(d)));
  const t = kc - d;
  const centre = Math.exp(-a * t * t);
  w[kc - k0] = centre;
  let v = centre;
  let q = Math.exp(-a * (2 * t + 1));
  for (let k = kc + 1; k <= k1; k++) {
    v *= q;
    q *= decay;
    w[k - k0] = v;
  }
  v = centre;
  q = Math.exp(-a * (1 - 2 * t));
  for (let k = kc - 1; k >= k0; k--) {
    v *= q;
    q *= decay;
    w[k - k0] = v;
  }
}

/** Tunables of the trajectory replay (exported so experiments can vary them; see docs/clustering.md). */
export const ACCEL = {
  /** Replay only once the exact step is shorter than this many widths (big steps are all exact). */
  from: 0.2,
  /** Longest replayed stretch between two exact steps, in widths... */
  maxJump: 0.4,
  /** ...and in pixels (the stopping rule is in absolute pixels, so wide kernels must not jump further). */
  maxJumpPx: 2,
};

/**
 * Every alert climbs the truncated Gaussian density of all alerts until its step is < STOP_STEP.
 *
 * Acceleration: the sums of one exact step also give the first two derivatives of the mean-shift
 * map m at the current point y: Dm = 2a·Cov and D²m = 4a²·(third central moments) of the
 * kernel-weighted window (a = 1/(2·width²)). Near a mode or on a plateau, where the plain
 * iteration crawls for hundreds of tiny steps, those steps are replayed on the quadratic model
 * m(y + z) ≈ m(y) + Dm·z + ½D²m[z, z] (a handful of flops each) until the model predicts the
 * stopping step or the replayed stretch reaches ACCEL.maxJump; then an exact step checks and
 * corrects it. The stopping decision is always made on an exact step.
 */
export function climbLattice(pts: Lattice, width: number): Climb {
  if (!(width > 0)) throw new Error(`width=${width} must be > 0`);
  const n = pts.length;
  const reach = TRUNCATION * width;
  const out: Climb = {
    modeX: new Float64Array(n),
    modeY: new Float64Array(n),
    pathMinX: new Float64Array(n),
    pathMinY: new Float64Array(n),
    pathMaxX: new Float64Array(n),
    pathMaxY: new Float64Array(n),
    steps: 0,
    evaluations: 0,
    reach,
  };
  if (n === 0) return out;
  const { minC, minR, maxC, maxR, stride, pre, sortedCol, runPre, runFirst, runLast, duplicates } = indexLattice(pts);
  const a = 1 / (2 * width * width);
  const decay = Math.exp(-2 * a);
  const span = 2 * Math.ceil(reach) + 3;
  const wx = new Float64Array(span);
  const wy = new Float64Array(span);
  const p0 = new Float64Array(span + 1), p1 = new Float64Array(span + 1), p2 = new Float64Array(span + 1);
  const p3 = new Float64Array(span + 1);
  const stop2 = STOP_STEP * STOP_STEP;
  const accelFrom2 = (ACCEL.from * width) ** 2;
  const maxJump = Math.min(ACCEL.maxJump * width, ACCEL.maxJumpPx);
  let totalSteps = 0, totalEvals = 0;

  for (let i = 0; i < n; i++) {
    const sx = pts.col[i], sy = pts.row[i];
    // Position relative to the start pixel (frame-independent arithmetic).
    let dx = 0, dy = 0;
    let loX = 0, hiX = 0, loY = 0, hiY = 0;
    let steps = 0;
    for (;;) {
      const kx0 = Math.ceil(dx - reach), kx1 = Math.floor(dx + reach);
      const ky0 = Math.ceil(dy - reach), ky1 = Math.floor(dy + reach);
      fillWeights(wx, kx0, kx1, dx, a, decay);
      fillWeights(wy, ky0, ky1, dy, a, decay);
      // Clamp the window to the alerts' bounding box (outside it there is nothing to add).
      const jA = Math.max(ky0, minR - sy), jB = Math.min(ky1, maxR - sy);
      const cA = Math.max(kx0 + sx, minC) - minC, cB = Math.min(kx1 + sx, maxC) - minC;
      // Weighted sums in window-local coordinates (k = col offset, h = row offset from the corner).
      let s = 0, sX = 0, sY = 0, sXX = 0, sXY = 0, sYY = 0, sXXX = 0, sXXY = 0, sXYY = 0, sYYY = 0;
      if (cA <= cB) {
        // Prefix sums of w, w·k, w·k² along the window row: a run of alerts costs 3 subtractions.
        const nk = kx1 - kx0 + 1;
        for (let k = 0; k < nk; k++) {
          const wv = wx[k];
          p0[k + 1] = p0[k] + wv;
          p1[k + 1] = p1[k] + wv * k;
          p2[k + 1] = p2[k] + wv * k * k;
          p3[k + 1] = p3[k] + wv * k * k * k;
        }
        const off = sx + kx0;
        const firstCol = cA + minC, lastCol = cB + minC;
        for (let j = jA; j <= jB; j++) {
          const base = (j + sy - minR) * stride;
          const q0 = pre[base + cA], q1 = pre[base + cB + 1];
          if (q0 === q1) continue;
          let rs = 0, rsx = 0, rsxx = 0, rsxxx = 0;
          // Runs starting in the window, plus the run that enters it from the left.
          let r0 = runPre[base + cA];
          const r1 = runPre[base + cB + 1];
          if (r0 > runPre[base] && runLast[r0 - 1] >= firstCol) r0--;
          if (!duplicates && 2 * (r1 - r0) < q1 - q0) {
            for (let q = r0; q < r1; q++) {
              const u = Math.max(runFirst[q], firstCol) - off;
              const v = Math.min(runLast[q], lastCol) - off + 1;
              rs += p0[v] - p0[u];
              rsx += p1[v] - p1[u];
              rsxx += p2[v] - p2[u];
              rsxxx += p3[v] - p3[u];
            }
          } else {
            for (let p = q0; p < q1; p++) {
              const k = sortedCol[p] - off;
              const wv = wx[k];
              const wk = wv * k;
              rs += wv;
              rsx += wk;
              const wkk = wk * k;
              rsxx += wkk;
              rsxxx += wkk * k;
            }
          }
          const h = j - ky0;
          const wj = wy[h];
          const wr = wj * rs;
          s += wr;
          sX += wj * rsx;
          sY += wr * h;
          sXX += wj * rsxx;
          sXXX += wj * rsxxx;
          sXXY += wj * rsxx * h;
          sXYY += wj * rsx * h * h;
          sYYY += wr * h * h * h;
          sXY += wj * rsx * h;
          sYY += wr * h * h;
        }
      }
      steps++;
      totalEvals++;
      if (s === 0) break; // no alert within reach (cannot happen from a start pixel; kept for safety)
      const mx = sX / s, my = sY / s;
      const nx = mx + kx0, ny = my + ky0;
      const ex = nx - dx, ey = ny - dy;
      dx = nx;
      dy = ny;
      if (dx < loX) loX = dx;
      if (dx > hiX) hiX = dx;
      if (dy < loY) loY = dy;
      if (dy > hiY) hiY = dy;
      const e2 = ex * ex + ey * ey;
      if (e2 < stop2 || steps >= MAX_STEPS) break;
      if (e2 >= accelFrom2) continue;
      // Replay the next steps from the Jacobian M = 2a·Cov (see above).
      // The map around the exact point y: m(y + z) ≈ m(y) + M·z + Q(z, z), with M = 2a·Cov and
      // Q = 2a²·(third central moments) — the first two derivatives of m for a Gaussian kernel.
      const cxx = sXX / s - mx * mx, cxy = sXY / s - mx * my, cyy = sYY / s - my * my;
      const mxx = 2 * a * cxx, mxy = 2 * a * cxy, myy = 2 * a * cyy;
      const b2 = 2 * a * a;
      const qxxx = b2 * (sXXX / s - 3 * mx * (sXX / s) + 2 * mx * mx * mx);
      const qxxy = b2 * (sXXY / s - 2 * mx * (sXY / s) - my * (sXX / s) + 2 * mx * mx * my);
      const qxyy = b2 * (sXYY / s - 2 * my * (sXY / s) - mx * (sYY / s) + 2 * mx * my * my);
      const qyyy = b2 * (sYYY / s - 3 * my * (sYY / s) + 2 * my * my * my);
      // Replay z(t+1) = v0 + M·z(t) + Q(z(t)) from z(1) = v0 (where the exact step just took us).
      const baseX = dx - ex, baseY = dy - ey;
      let zx = ex, zy = ey, travel = 0;
      while (steps < MAX_STEPS) {
        const zxx = zx * zx, zxy = zx * zy, zyy = zy * zy;
        const nzx = ex + mxx * zx + mxy * zy + qxxx * zxx + 2 * qxxy * zxy + qxyy * zyy;
        const nzy = ey + mxy * zx + myy * zy + qxxy * zxx + 2 * qxyy * zxy + qyyy * zyy;
        const vx = nzx - zx, vy = nzy - zy;
        const v2 = vx * vx + vy * vy;
        if (v2 < stop2) break; // the model predicts the stopping step: take it exactly
        travel += Math.sqrt(v2);
        if (travel > maxJump) break;
        zx = nzx;
        zy = nzy;
        dx = baseX + zx;
        dy = baseY + zy;
        steps++;
        if (dx < loX) loX = dx;
        if (dx > hiX) hiX = dx;
        if (dy < loY) loY = dy;
        if (dy > hiY) hiY = dy;
      }
    }
    totalSteps += steps;
    out.modeX[i] = sx + dx;
    out.modeY[i] = sy + dy;
    out.pathMinX[i] = sx + loX;
    out.pathMaxX[i] = sx + hiX;
    out.pathMinY[i] = sy + loY;
    out.pathMaxY[i] = sy + hiY;
  }
  out.steps = totalSteps;
  out.evaluations = totalEvals;
  return out;
}

// ---------- grouping: single linkage of modes closer than width/2 ----------

function find(parent: Int32Array, i: number): number {
  while (parent[i] !== i) {
    parent[i] = parent[parent[i]];
    i = parent[i];
  }
  return i;
}

function union(parent: Int32Array, i: number, j: number): void {
  const a = find(parent, i), b = find(parent, j);
  if (a !== b) parent[a < b ? b : a] = a < b ? a : b;
}

/**
 * Connected components of the graph "mode i — mode j when their distance < link": deterministic and
 * independent of the order of the modes. Labels are 0..k-1 in order of each component's first mode.
 * A bucket grid of side link/√2 makes every cell a clique (its diagonal is exactly `link`), so only
 * pairs of different cells within two cells of each other need distance tests, and those are skipped
 * when the cells are already joined or their modes' bounding boxes are too far apart.
 */
export function linkModes(modeX: Float64Array, modeY: Float64Array, n: number, link: number): { labels: Int32Array; count: number } {
  const parent = new Int32Array(n);
  for (let i = 0; i < n; i++) parent[i] = i;
  const labels = new Int32Array(n);
  if (n === 0) return { labels, count: 0 };
  const cell = link / Math.SQRT2;
  let minCx = Infinity, minCy = Infinity, maxCx = -Infinity, maxCy = -Infinity;
  const cx = new Int32Array(n), cy = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    cx[i] = Math.floor(modeX[i] / cell);
    cy[i] = Math.floor(modeY[i] / cell);
    if (cx[i] < minCx) minCx = cx[i];
    if (cx[i] > maxCx) maxCx = cx[i];
    if (cy[i] < minCy) minCy = cy[i];
    if (cy[i] > maxCy) maxCy = cy[i];
  }
  const cols = maxCx - minCx + 1, rows = maxCy - minCy + 1;
  // Cells are stored sparsely: sort modes by cell key, then walk the occupied cells.
  const key = new Float64Array(n);
  for (let i = 0; i < n; i++) key[i] = (cy[i] - minCy) * cols + (cx[i] - minCx);
  const order = Int32Array.from({ length: n }, (_, i) => i).sort((p, q) => key[p] - key[q] || p - q);
  const cellKeys: number[] = [];
  const cellStart: number[] = [];
  for (let k = 0; k < n; k++) {
    if (k === 0 || key[order[k]] !== key[order[k - 1]]) {
      cellKeys.push(key[order[k]]);
      cellStart.push(k);
    }
  }
  cellStart.push(n);
  const nCells = cellKeys.length;
  const boxes = new Float64Array(4 * nCells);
  const cellIndex = new Map<number, number>();
  for (let c = 0; c < nCells; c++) {
    cellIndex.set(cellKeys[c], c);
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    const first = order[cellStart[c]];
    for (let k = cellStart[c]; k < cellStart[c + 1]; k++) {
      const i = order[k];
      union(parent, first, i); // same cell ⇒ distance < link
      if (modeX[i] < x0) x0 = modeX[i];
      if (modeX[i] > x1) x1 = modeX[i];
      if (modeY[i] < y0) y0 = modeY[i];
      if (modeY[i] > y1) y1 = modeY[i];
    }
    boxes.set([x0, y0, x1, y1], 4 * c);
  }
  const link2 = link * link;
  for (let c = 0; c < nCells; c++) {
    const gx = cellKeys[c] % cols, gy = Math.floor(cellKeys[c] / cols);
    // Each unordered pair of cells once: the half-neighbourhood after c in row-major order.
    for (let oy = 0; oy <= 2; oy++) {
      for (let ox = -2; ox <= 2; ox++) {
        if (oy === 0 && ox <= 0) continue;
        const nx = gx + ox, ny = gy + oy;
        if (nx < 0 || nx >= cols || ny >= rows) continue;
        const d = cellIndex.get(ny * cols + nx);
        if (d === undefined) continue;
        const ra = order[cellStart[c]], rb = order[cellStart[d]];
        if (find(parent, ra) === find(parent, rb)) continue;
        // Closest approach of the two cells' bounding boxes.
        const bx = Math.max(0, boxes[4 * d] - boxes[4 * c + 2], boxes[4 * c] - boxes[4 * d + 2]);
        const by = Math.max(0, boxes[4 * d + 1] - boxes[4 * c + 3], boxes[4 * c + 1] - boxes[4 * d + 3]);
        if (bx * bx + by * by >= link2) continue;
        search: for (let p = cellStart[c]; p < cellStart[c + 1]; p++) {
          const i = order[p];
          for (let q = cellStart[d]; q < cellStart[d + 1]; q++) {
            const j = order[q];
            const ex = modeX[i] - modeX[j], ey = modeY[i] - modeY[j];
            if (ex * ex + ey * ey < link2) {
              union(parent, i, j);
              break search;
            }
          }
        }
      }
    }
  }
  const labelOfRoot = new Int32Array(n).fill(-1);
  let count = 0;
  for (let i = 0; i < n; i++) {
    const r = find(parent, i);
    if (labelOfRoot[r] < 0) labelOfRoot[r] = count++;
    labels[i] = labelOfRoot[r];
  }
  return { labels, count };
}

/** Cluster centres: the mean of each cluster's modes. */
export function meanOfModes(modeX: Float64Array, modeY: Float64Array, labels: Int32Array, count: number): Array<{ x: number; y: number }> {
  const sx = new Float64Array(count), sy = new Float64Array(count), m = new Float64Array(count);
  for (let i = 0; i < labels.length; i++) {
    sx[labels[i]] += modeX[i];
    sy[labels[i]] += modeY[i];
    m[labels[i]]++;
  }
  return Array.from({ length: count }, (_, k) => ({ x: sx[k] / m[k], y: sy[k] / m[k] }));
}

/** The `standard` algorithm on points with integer coordinates (pixel centres). */
export function standardMeanShift(points: Points, width: number): Partition {
  const n = points.length;
  const col = new Int32Array(n), row = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    col[i] = points.x[i];
    row[i] = points.y[i];
    if (col[i] !== points.x[i] || row[i] !== points.y[i]) {
      throw new Error(`standard mean shift needs integer pixel coordinates; point ${i} is (${points.x[i]}, ${points.y[i]})`);
    }
  }
  const climb = climbLattice({ length: n, col, row }, width);
  const { labels, count } = linkModes(climb.modeX, climb.modeY, n, width / 2);
  return { labels, centres: meanOfModes(climb.modeX, climb.modeY, labels, count) };
}
