// The `standard` mean shift: Gaussian kernel K(d) = exp(-d²/(2·width²)); every alert climbs the
// density of the FIXED alert set (y ← Σ K·p / Σ K) until it reaches its mode (Newton test where log f is concave, docs/clustering.md); modes
// closer than width/2 (single linkage) form one cluster whose centre is the mean of its modes.
//
// Speed comes from the alerts lying on the integer pixel lattice:
// - the kernel is truncated to a square window of half-side floor(TRUNCATION·width) pixels (the
//   weight left out is < 1e-6 of the kernel mass per axis; see docs/clustering.md);
// - m(y) is read from per-PIXEL quadratic models (value, first and second derivatives of the map at
//   the pixel centre, from one pass over its window): built once per pixel visited, shared by all
//   trajectories crossing it, a few flops per step (see climbLattice);
// - with windows centred on pixels the separable Gaussian is ONE fixed 1-D table, and its prefix
//   sums make a run of consecutive alerts in a window row cost 4 subtractions;
// - alerts are indexed by a row-major prefix-count raster (sorted columns and runs per row): no
//   per-point objects, no closures in the hot loops.
// Trajectories are computed RELATIVE to their start pixel and models relative to their pixel, so
// the same alert among the same alerts follows bit-identical steps whatever the coordinate frame
// (tile or whole region) and whatever the order of the alerts: that makes the halo union exact.
import type { Partition, Points } from './types.ts';

/**
 * Where log-density is concave and the Newton step to the mode is shorter than this (px), the climb
 * is handed to the exactly evaluated mode next to its pixel, if that lies within this of the
 * model's estimate.
 */
export const HANDOFF = 0.1;
/** Else a climb stops where log-density is concave and the model's Newton step is below this (px). */
export const MODEL_STOP = 1e-4;
/** Newton jumps are taken only when shorter than TRUST·width px (else the plain mean-shift step). */
export const TRUST = 0.2;
/** Where log-density is concave but the Newton step is longer than the trust region, a plain step below this (px) is a crawl. */
export const CRAWL_STEP = 0.01;
/** Where log-density is not concave and the plain step is below CRAWL_STEP, steps are this many times longer. */
export const CRAWL_BOOST = 32;
/** Where log-density is not concave, a climb stops only when its plain step is shorter than this (px): the flow has stalled. */
export const STALL_STEP = 1e-6;
/** Polishing a mode: exact Newton iterations, at most this many, until a step is below POLISH_STOP px. */
export const POLISH_ITERATIONS = 6;
export const POLISH_STOP = 1e-7;
/** Safety bound on steps per trajectory (never reached on the test tiles; see docs/clustering.md). */
export const MAX_STEPS = 20000;
/** Kernel truncation: the window's half-side in kernel widths. */
export const TRUNCATION = 5;

/** Integer alert coordinates (col = x, row = y), struct-of-arrays. */
interface Lattice {
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
  /** Total mean-shift steps over all alerts (for benchmarks). */
  steps: number;
  /** Pixel models built (one window pass each): the cost driver. */
  evaluations: number;
  /** Modes polished by exact evaluation (one window pass each, per distinct end pixel). */
  polished: number;
  /** Half-side of the square kernel window, px: a step only sees alerts within this of the position. */
  reach: number;
}

/**
 * Row-major index of the alerts over their bounding box. The alerts of row r, cols c0..c1 (box
 * coordinates) are sortedCol[pre[r·stride + c0] .. pre[r·stride + c1 + 1]); runOf[p] is the run of
 * horizontally consecutive alerts that slot p belongs to, so the runs meeting those columns are
 * runOf[first slot] .. runOf[last slot] (only `pre` is as large as the box).
 */
interface LatticeIndex {
  minC: number;
  minR: number;
  maxC: number;
  maxR: number;
  stride: number;
  pre: Int32Array;
  sortedCol: Int32Array;
  /** The alert (index into the points) of each sorted slot. */
  order: Int32Array;
  runOf: Int32Array;
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
  // The alerts in row-major order, those of one pixel in index order: counting sorts by column,
  // then (stable) by row.
  const byCol = new Int32Array(n);
  const colStart = new Int32Array(stride + 1);
  for (let i = 0; i < n; i++) colStart[pts.col[i] - minC + 1]++;
  for (let c = 1; c <= stride; c++) colStart[c] += colStart[c - 1];
  for (let i = 0; i < n; i++) byCol[colStart[pts.col[i] - minC]++] = i;
  const order = new Int32Array(n);
  const rowStart = new Int32Array(rows + 1);
  for (let i = 0; i < n; i++) rowStart[pts.row[i] - minR + 1]++;
  for (let r = 1; r <= rows; r++) rowStart[r] += rowStart[r - 1];
  for (let t = 0; t < n; t++) {
    const i = byCol[t];
    order[rowStart[pts.row[i] - minR]++] = i;
  }
  // pre[k] = number of alerts in cells before cell k = r*stride + c: constant between occupied cells,
  // so written by runs (a prefix sum over the whole box cost ~3 ns a cell: 0.5 ms for a sparse tile's halo).
  const pre = new Int32Array(rows * stride);
  const sortedCol = new Int32Array(n);
  let duplicates = false;
  let from = 0; // pre[from..] not written yet
  for (let p = 0; p < n; p++) {
    const i = order[p];
    sortedCol[p] = pts.col[i];
    const k = (pts.row[i] - minR) * stride + (pts.col[i] - minC);
    if (k < from) {
      duplicates = true; // the pixel of the alert before
      continue;
    }
    if (k - from < 16) for (let j = from; j <= k; j++) pre[j] = p;
    else pre.fill(p, from, k + 1);
    from = k + 1;
  }
  pre.fill(n, from);
  // Runs of horizontally consecutive alerts, row by row.
  const runOf = new Int32Array(n);
  const first = new Int32Array(n), last = new Int32Array(n);
  let runs = 0;
  for (let r = 0; r < rows; r++) {
    const start = pre[r * stride], end = pre[r * stride + stride - 1];
    for (let p = start; p < end; p++) {
      const c = sortedCol[p];
      if (p > start && sortedCol[p - 1] >= c - 1) {
        last[runs - 1] = c;
      } else {
        first[runs] = c;
        last[runs] = c;
        runs++;
      }
      runOf[p] = runs - 1;
    }
  }
  return {
    minC, minR, maxC, maxR, stride, pre, sortedCol, order, runOf,
    runFirst: first.subarray(0, runs), runLast: last.subarray(0, runs), duplicates,
  };
}

/** The fixed kernel of one width: weights w[k] = exp(−a(k−R)²), k = 0..2R, and prefix sums of w·k^m. */
interface Kernel {
  R: number;
  a: number;
  w: Float64Array;
  P0: Float64Array;
  P1: Float64Array;
  P2: Float64Array;
  P3: Float64Array;
}

/** Half-side (px) of the square kernel window of a width: a step only sees alerts within it. */
function kernelRadius(width: number): number {
  return Math.max(1, Math.floor(TRUNCATION * width));
}

/** How far (px, Chebyshev) from a position the alerts a step sees can lie: the window of the nearest pixel centre. */
export function kernelReach(width: number): number {
  return kernelRadius(width) + 0.5;
}

function kernelTables(width: number): Kernel {
  const R = kernelRadius(width);
  const a = 1 / (2 * width * width);
  const nk = 2 * R + 1;
  const w = new Float64Array(nk);
  const P0 = new Float64Array(nk + 1), P1 = new Float64Array(nk + 1), P2 = new Float64Array(nk + 1), P3 = new Float64Array(nk + 1);
  for (let k = 0; k < nk; k++) {
    w[k] = Math.exp(-a * (k - R) * (k - R));
    P0[k + 1] = P0[k] + w[k];
    P1[k + 1] = P1[k] + w[k] * k;
    P2[k + 1] = P2[k] + w[k] * k * k;
    P3[k + 1] = P3[k] + w[k] * k * k * k;
  }
  return { R, a, w, P0, P1, P2, P3 };
}

/** Floats per pixel model: v0x, v0y (= m(c) − c), Dm (xx, xy, yy), ½D²m (xxx, xxy, xyy, yyy). */
const MODEL = 9;

/**
 * One pass over the window of pixel (c, r), in window-local offsets k, h = 0..2R: writes the
 * pixel's model to models[m .. m + MODEL) (NaN in models[m] when no alert is within reach).
 */
function buildModel(ix: LatticeIndex, kernel: Kernel, c: number, r: number, models: Float64Array, m: number): void {
  const { minC, minR, maxC, maxR, stride, pre, sortedCol, runOf, runFirst, runLast, duplicates } = ix;
  const { R, a, w, P0, P1, P2, P3 } = kernel;
  const jA = Math.max(r - R, minR), jB = Math.min(r + R, maxR);
  const cA = Math.max(c - R, minC) - minC, cB = Math.min(c + R, maxC) - minC;
  const firstCol = cA + minC, lastCol = cB + minC, off = c - R;
  let s0 = 0, sX = 0, sY = 0, sXX = 0, sXY = 0, sYY = 0, sXXX = 0, sXXY = 0, sXYY = 0, sYYY = 0;
  for (let j = jA; j <= jB; j++) {
    const base = (j - minR) * stride;
    const q0 = pre[base + cA], q1 = pre[base + cB + 1];
    if (q0 === q1) continue;
    let rs = 0, rsx = 0, rsxx = 0, rsxxx = 0;
    // The runs of the window's first and last alerts, and those between.
    const r0 = runOf[q0], r1 = runOf[q1 - 1] + 1;
    if (!duplicates && 2 * (r1 - r0) < q1 - q0) {
      for (let q = r0; q < r1; q++) {
        const u = Math.max(runFirst[q], firstCol) - off;
        const v = Math.min(runLast[q], lastCol) - off + 1;
        rs += P0[v] - P0[u];
        rsx += P1[v] - P1[u];
        rsxx += P2[v] - P2[u];
        rsxxx += P3[v] - P3[u];
      }
    } else {
      for (let p = q0; p < q1; p++) {
        const k = sortedCol[p] - off;
        const wk = w[k] * k;
        const wkk = wk * k;
        rs += w[k];
        rsx += wk;
        rsxx += wkk;
        rsxxx += wkk * k;
      }
    }
    const h = j - (r - R);
    const wj = w[h];
    const wr = wj * rs;
    s0 += wr;
    sX += wj * rsx;
    sY += wr * h;
    sXX += wj * rsxx;
    sXY += wj * rsx * h;
    sYY += wr * h * h;
    sXXX += wj * rsxxx;
    sXXY += wj * rsxx * h;
    sXYY += wj * rsx * h * h;
    sYYY += wr * h * h * h;
  }
  if (s0 === 0) {
    models[m] = NaN;
  } else {
    // Weighted mean (window-local), covariance and third central moments from the raw moments:
    // Dm = 2a·Cov and ½D²m = 2a²·κ3 (derivatives of Σ K·p / Σ K for K = exp(−a·|p − y|²)).
    const mx = sX / s0, my = sY / s0;
    const exx = sXX / s0, exy = sXY / s0, eyy = sYY / s0;
    const b2 = 2 * a * a;
    models[m] = mx - R;
    models[m + 1] = my - R;
    models[m + 2] = 2 * a * (exx - mx * mx);
    models[m + 3] = 2 * a * (exy - mx * my);
    models[m + 4] = 2 * a * (eyy - my * my);
    models[m + 5] = b2 * (sXXX / s0 - 3 * mx * exx + 2 * mx * mx * mx);
    models[m + 6] = b2 * (sXXY / s0 - 2 * mx * exy - my * exx + 2 * mx * mx * my);
    models[m + 7] = b2 * (sXYY / s0 - 2 * my * exy - mx * eyy + 2 * mx * my * my);
    models[m + 8] = b2 * (sYYY / s0 - 3 * my * eyy + 2 * my * my * my);
  }
}

/** Most plain steps one stride takes (where log-density is concave). */
const STRIDE_CAP = 64;

/**
 * How many plain steps one stride takes: the plain step g is the gradient of log f times width²
 * (an Euler step of the gradient flow); strides of b·g with b·|λ|max(A) ≤ 1 stay on the flow's path
 * (no overshoot along any eigen-direction of the Hessian −A/width²), and never exceed the trust length.
 */
function strideOf(a11: number, a12: number, a22: number, g2: number, trust: number): number {
  const mean = (a11 + a22) / 2, half = Math.sqrt(((a11 - a22) / 2) ** 2 + a12 * a12);
  const lam = Math.max(Math.abs(mean + half), Math.abs(mean - half));
  const b = Math.min(STRIDE_CAP, 1 / lam, trust / Math.sqrt(g2));
  return b > 1 ? b : 1;
}

/** Scratch tables of exactAt: per-axis weights for a fractional offset and prefix sums of w·k^m (m = 0..2). */
interface Scratch {
  wx: Float64Array;
  wy: Float64Array;
  Q0: Float64Array;
  Q1: Float64Array;
  Q2: Float64Array;
}

function scratchTables(R: number): Scratch {
  const nk = 2 * R + 1;
  return { wx: new Float64Array(nk), wy: new Float64Array(nk), Q0: new Float64Array(nk + 1), Q1: new Float64Array(nk + 1), Q2: new Float64Array(nk + 1) };
}

/**
 * The map at a point off the lattice, without a model: y = (c + fx, r + fy), |fx|, |fy| ≤ ½, over
 * the window of pixel (c, r) (the same window a model of that pixel sees). Writes to out[0..4]:
 * m(y) − (c, r), and Dm(y) = 2a·Cov (xx, xy, yy). Returns false when no alert is within reach.
 * One window pass plus 2·(2R+1) exponentials: used only to polish a mode (see climbLattice).
 */
function exactAt(ix: LatticeIndex, kernel: Kernel, t: Scratch, c: number, r: number, fx: number, fy: number, out: Float64Array): boolean {
  const { minC, minR, maxC, maxR, stride, pre, sortedCol, runOf, runFirst, runLast, duplicates } = ix;
  const { R, a } = kernel;
  const { wx, wy, Q0, Q1, Q2 } = t;
  const nk = 2 * R + 1;
  for (let k = 0; k < nk; k++) {
    const u = k - R - fx, v = k - R - fy;
    wx[k] = Math.exp(-a * u * u);
    wy[k] = Math.exp(-a * v * v);
    Q0[k + 1] = Q0[k] + wx[k];
    Q1[k + 1] = Q1[k] + wx[k] * k;
    Q2[k + 1] = Q2[k] + wx[k] * k * k;
  }
  const jA = Math.max(r - R, minR), jB = Math.min(r + R, maxR);
  const cA = Math.max(c - R, minC) - minC, cB = Math.min(c + R, maxC) - minC;
  const firstCol = cA + minC, lastCol = cB + minC, off = c - R;
  let s0 = 0, sX = 0, sY = 0, sXX = 0, sXY = 0, sYY = 0;
  for (let j = jA; j <= jB; j++) {
    const base = (j - minR) * stride;
    const q0 = pre[base + cA], q1 = pre[base + cB + 1];
    if (q0 === q1) continue;
    let rs = 0, rsx = 0, rsxx = 0;
    const r0 = runOf[q0], r1 = runOf[q1 - 1] + 1;
    if (!duplicates && 2 * (r1 - r0) < q1 - q0) {
      for (let q = r0; q < r1; q++) {
        const u = Math.max(runFirst[q], firstCol) - off;
        const v = Math.min(runLast[q], lastCol) - off + 1;
        rs += Q0[v] - Q0[u];
        rsx += Q1[v] - Q1[u];
        rsxx += Q2[v] - Q2[u];
      }
    } else {
      for (let p = q0; p < q1; p++) {
        const k = sortedCol[p] - off;
        rs += wx[k];
        rsx += wx[k] * k;
        rsxx += wx[k] * k * k;
      }
    }
    const h = j - (r - R);
    const wr = wy[h] * rs;
    s0 += wr;
    sX += wy[h] * rsx;
    sY += wr * h;
    sXX += wy[h] * rsxx;
    sXY += wy[h] * rsx * h;
    sYY += wr * h * h;
  }
  if (s0 === 0) return false;
  const mx = sX / s0, my = sY / s0;
  out[0] = mx - R;
  out[1] = my - R;
  out[2] = 2 * a * (sXX / s0 - mx * mx);
  out[3] = 2 * a * (sXY / s0 - mx * my);
  out[4] = 2 * a * (sYY / s0 - my * my);
  return true;
}

/**
 * The mode next to pixel (c, r), from exact evaluations of the map (no model): Newton from the
 * model's estimate at the pixel centre until the step is < POLISH_STOP px. A function of the pixel
 * and the alerts around it only (so order- and frame-independent). NaN when the log-density is
 * not concave on the way, or the iteration leaves the pixel's neighbourhood.
 */
function polish(ix: LatticeIndex, kernel: Kernel, scratch: Scratch, exact: Float64Array, models: Float64Array, c: number, r: number, m: number): [number, number] {
  const { minC, minR, maxC, maxR } = ix;
  let ox = 0, oy = 0;
  {
    const a11 = 1 - models[m + 2], a12 = -models[m + 3], a22 = 1 - models[m + 4];
    const det = a11 * a22 - a12 * a12;
    if (a11 > 0 && det > 0) {
      ox = (a22 * models[m] - a12 * models[m + 1]) / det;
      oy = (a11 * models[m + 1] - a12 * models[m]) / det;
    }
  }
  for (let it = 0; it < POLISH_ITERATIONS; it++) {
    if (!(Math.abs(ox) <= 1.5 && Math.abs(oy) <= 1.5)) break;
    const px = Math.round(ox), py = Math.round(oy);
    const cc = c + px, rr = r + py;
    if (cc < minC || cc > maxC || rr < minR || rr > maxR) break;
    if (!exactAt(ix, kernel, scratch, cc, rr, ox - px, oy - py, exact)) break;
    const gx = px + exact[0] - ox, gy = py + exact[1] - oy;
    const a11 = 1 - exact[2], a12 = -exact[3], a22 = 1 - exact[4];
    const det = a11 * a22 - a12 * a12;
    if (!(a11 > 0 && det > 0)) break;
    const ux = (a22 * gx - a12 * gy) / det, uy = (a11 * gy - a12 * gx) / det;
    ox += ux;
    oy += uy;
    if (ux * ux + uy * uy < POLISH_STOP * POLISH_STOP) return [ox, oy];
  }
  return [NaN, NaN];
}

/**
 * Every alert climbs the truncated Gaussian density of all alerts until it reaches a mode (the stopping rule in docs/clustering.md).
 *
 * The mean-shift map m(y) = Σ K(p−y)·p / Σ K(p−y) is evaluated through pixel MODELS: for a pixel
 * centre c, one pass over its window (half-side R = floor(TRUNCATION·width), integer offsets, so
 * the weights are one fixed table) gives m(c) and its first two derivatives, Dm = 2a·Cov and
 * D²m = 4a²·(third central moments) of the kernel-weighted window (a = 1/(2·width²)). A step from
 * y uses the model of the nearest pixel centre c (|y − c| ≤ 0.5 px per axis):
 * m(y) ≈ m(c) + Dm·z + ½D²m[z, z], z = y − c — exact (but for truncation) at a start pixel;
 * elsewhere 99% of readings are within 4e-3 px of the untruncated map (docs/clustering.md).
 * Models are built on first use and shared by every trajectory that crosses the pixel, so the
 * cost is one window pass per pixel visited (not per step) plus a few flops per step.
 * A model depends only on the pixel and the alerts around it, not on which trajectory asked first,
 * and all arithmetic is relative to integer offsets: the result is independent of the order of the
 * alerts and of the coordinate frame (what makes the halo union exact).
 */
/** Climbs alerts one at a time, on demand, sharing the pixel models between climbs. */
export interface LatticeClimber {
  /** The results: entries of alert i are valid once it was climbed. */
  readonly climb: Climb;
  /** Climbs each alert of the list (indices into the points). */
  climbAlerts(list: ArrayLike<number>): void;
  /** The alerts' bounding box (inclusive; empty when there are none). */
  readonly box: { minC: number; minR: number; maxC: number; maxR: number };
  /** Calls visit(j) for every alert j with col0 ≤ col_j ≤ col1 and row0 ≤ row_j ≤ row1. */
  alertsIn(col0: number, col1: number, row0: number, row1: number, visit: (j: number) => void): void;
}

export function latticeClimber(pts: Lattice, width: number): LatticeClimber {
  if (!(width > 0)) throw new Error(`width=${width} must be > 0`);
  const n = pts.length;
  const kernel = kernelTables(width);
  const out: Climb = {
    modeX: new Float64Array(n),
    modeY: new Float64Array(n),
    pathMinX: new Float64Array(n),
    pathMinY: new Float64Array(n),
    pathMaxX: new Float64Array(n),
    pathMaxY: new Float64Array(n),
    steps: 0,
    evaluations: 0,
    polished: 0,
    reach: kernelReach(width),
  };
  if (n === 0) return { climb: out, climbAlerts: () => {}, box: { minC: 0, minR: 0, maxC: -1, maxR: -1 }, alertsIn: () => {} };
  const ix = indexLattice(pts);
  const { minC, minR, maxC, maxR } = ix;
  // Pixel models, built on demand: slot[pixel] − 1 indexes MODEL-sized records in `models` (0: not
  // built; no fill pass over the box, which is mostly never visited).
  const boxW = maxC - minC + 1;
  const slot = new Int32Array(boxW * (maxR - minR + 1));
  const state = { models: new Float64Array(MODEL * Math.max(1024, n)), built: 0 };
  // Polished modes, one per pixel where a Newton-stopped climb ended: offset from that pixel (NaN: none).
  const polishedAt = new Map<number, number>();
  const polished: number[] = [];
  const scratch = scratchTables(kernel.R);
  const exact = new Float64Array(5);
  const handoff2 = HANDOFF * HANDOFF;
  const modelStop2 = MODEL_STOP * MODEL_STOP;
  const stall2 = STALL_STEP * STALL_STEP;
  const trust = TRUST * width, trust2 = trust * trust;
  const crawl2 = CRAWL_STEP * CRAWL_STEP;


  /**
   * Climbs the alerts of `list`, one after the other, in one call: a cold process runs its first
   * tile mostly before the optimising compiler steps in, and a loop inside one call is compiled (on
   * the stack) after a few alerts, where a call per alert waits for thousands of calls.
   */
  function climbAlerts(list: ArrayLike<number>): void {
    // Hot-loop state in locals (not closure slots), written back at the end.
    let models = state.models;
    let built = state.built;
    for (let t = 0; t < list.length; t++) {
      const i = list[t];
      const sx = pts.col[i], sy = pts.row[i];
      // Position relative to the start pixel (frame-independent arithmetic).
      let dx = 0, dy = 0;
      // The path's box; −0, a double from the first alert on (from 0, V8 speculates on small
      // integers and drops the compiled loop at the first fractional box).
      let loX = -0, hiX = -0, loY = -0, hiY = -0;
      let steps = 0;
      for (;;) {
        const rx = Math.round(dx), ry = Math.round(dy);
        // The nearest pixel centre, kept inside the alerts' bounding box (positions are means of alerts).
        const c = Math.min(maxC, Math.max(minC, sx + rx)), r = Math.min(maxR, Math.max(minR, sy + ry));
        const pixel = (r - minR) * boxW + (c - minC);
        let m = slot[pixel] - 1;
        if (m < 0) {
          m = built * MODEL;
          if (m + MODEL > models.length) {
            const grown = new Float64Array(2 * models.length);
            grown.set(models);
            models = grown;
          }
          buildModel(ix, kernel, c, r, models, m);
          slot[pixel] = m + 1;
          built++;
        }
        if (models[m] !== models[m]) break; // NaN: no alert within reach of this pixel (safety)
        // z = y − c in pixel units, then m(y) = c + (m(c) − c) + Dm·z + ½D²m[z, z].
        const zx = dx - (c - sx), zy = dy - (r - sy);
        const zxx = zx * zx, zxy = zx * zy, zyy = zy * zy;
        const txxx = models[m + 5], txxy = models[m + 6], txyy = models[m + 7], tyyy = models[m + 8];
        const nx = c - sx + models[m] + models[m + 2] * zx + models[m + 3] * zy + txxx * zxx + 2 * txxy * zxy + txyy * zyy;
        const ny = r - sy + models[m + 1] + models[m + 3] * zx + models[m + 4] * zy + txxy * zxx + 2 * txyy * zxy + tyyy * zyy;
        // g = m(y) − y, the plain mean-shift step; A = I − Dm(y) (symmetric): −A/width² is the Hessian
        // of log f at y, so A positive definite ⇔ log f is locally concave (y is near a mode, not on a
        // plateau, ridge or saddle). There the Newton step δ = A⁻¹g points at the fixed point of the
        // linearised map: |δ| is the distance left to the mode, which |g| underestimates by 1/(1 − λ).
        const gx = nx - dx, gy = ny - dy;
        const a11 = 1 - (models[m + 2] + 2 * (txxx * zx + txxy * zy));
        const a12 = -(models[m + 3] + 2 * (txxy * zx + txyy * zy));
        const a22 = 1 - (models[m + 4] + 2 * (txyy * zx + tyyy * zy));
        const det = a11 * a22 - a12 * a12;
        steps++;
        // The flow has stalled (the plain step is below STALL_STEP): stop, as the exact flow does.
        let done = gx * gx + gy * gy < stall2;
        if (done) {
          dx = nx;
          dy = ny;
        } else if (a11 > 0 && det > 0) {
          const ux = (a22 * gx - a12 * gy) / det, uy = (a11 * gy - a12 * gx) / det;
          const u2 = ux * ux + uy * uy;
          if (u2 < handoff2) {
            // Within HANDOFF of the model's mode: hand the climb to the exact mode next to this
            // pixel (polished once per pixel) when it agrees with the model's estimate.
            let k = polishedAt.get(pixel);
            if (k === undefined) {
              k = polished.length;
              polishedAt.set(pixel, k);
              polished.push(...polish(ix, kernel, scratch, exact, models, c, r, m));
            }
            const px = c - sx + polished[k], py = r - sy + polished[k + 1];
            const ex = px - dx - ux, ey = py - dy - uy;
            if (ex * ex + ey * ey < handoff2) {
              dx = px;
              dy = py;
              // The polish read the windows of pixels up to 2 px from this one: the box (which the
              // halo check holds against the kernel reach) covers them.
              if (c - sx - 2 < loX) loX = c - sx - 2;
              if (c - sx + 2 > hiX) hiX = c - sx + 2;
              if (r - sy - 2 < loY) loY = r - sy - 2;
              if (r - sy + 2 > hiY) hiY = r - sy + 2;
              done = true;
            }
          }
          if (done) {
            // handed to the polished mode
          } else if (u2 <= trust2) {
            // Newton: jump to the linearised fixed point (the model's own mode when |δ| is tiny).
            dx += ux;
            dy += uy;
            done = u2 < modelStop2;
          } else if (gx * gx + gy * gy < crawl2) {
            // A crawl up a wide, nearly flat top (the flow would take thousands of steps): move
            // TRUST·width along the Newton direction (an ascent direction of log f where it is concave).
            const scale = trust / Math.sqrt(u2);
            dx += ux * scale;
            dy += uy * scale;
          } else {
            // Concave, the mode farther than the trust length: plain steps crawl at rate λ(Dm) ≈ 1 on
            // a wide top; a stride of b plain steps follows the same gradient path (strideOf).
            const b = strideOf(a11, a12, a22, gx * gx + gy * gy, trust);
            dx += gx * b;
            dy += gy * b;
          }
        } else {
          const g2 = gx * gx + gy * gy;
          // Not concave here: the plain step, the exact flow's, lengthened CRAWL_BOOST times (at most
          // to TRUST·width) while it crawls across a nearly flat top, a discretisation of the same path.
          // (Curvature-bounded strides here changed 2 of 3,002 members on the bench tile: near saddles
          // and ridges the flow is ill-conditioned, so the plain step is kept.)
          const b = g2 < crawl2 ? Math.min(CRAWL_BOOST, trust / Math.sqrt(g2)) : 1;
          dx += gx * b;
          dy += gy * b;
        }
        if (dx < loX) loX = dx;
        if (dx > hiX) hiX = dx;
        if (dy < loY) loY = dy;
        if (dy > hiY) hiY = dy;
        if (done || steps >= MAX_STEPS) break;
      }
      out.steps += steps;
      out.modeX[i] = sx + dx;
      out.modeY[i] = sy + dy;
      out.pathMinX[i] = sx + loX;
      out.pathMaxX[i] = sx + hiX;
      out.pathMinY[i] = sy + loY;
      out.pathMaxY[i] = sy + hiY;
    }
    state.models = models;
    state.built = built;
    out.evaluations = built;
    out.polished = polished.length / 2;
  }

  function alertsIn(col0: number, col1: number, row0: number, row1: number, visit: (j: number) => void): void {
    const { stride, pre, order } = ix;
    const c0 = Math.max(col0, minC) - minC, c1 = Math.min(col1, maxC) - minC;
    if (c0 > c1) return;
    for (let r = Math.max(row0, minR); r <= Math.min(row1, maxR); r++) {
      const base = (r - minR) * stride;
      for (let p = pre[base + c0]; p < pre[base + c1 + 1]; p++) visit(order[p]);
    }
  }

  return { climb: out, climbAlerts, box: { minC, minR, maxC, maxR }, alertsIn };
}

/** Every alert climbs to its mode (see latticeClimber). */
export function climbLattice(pts: Lattice, width: number): Climb {
  const climber = latticeClimber(pts, width);
  climber.climbAlerts(Int32Array.from({ length: pts.length }, (_, i) => i));
  return climber.climb;
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

/** Grids of mode cells up to this many cells may be counted in arrays (a 512 px halo at width 5: 84,000). */
const DENSE_CELLS = 1 << 20;

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
  // Modes sorted by cell (row-major), then by index: a counting sort when the grid is small enough
  // to count in, else a comparison sort.
  const key = new Float64Array(n);
  for (let i = 0; i < n; i++) key[i] = (cy[i] - minCy) * cols + (cx[i] - minCx);
  // (Counting costs the grid's size: worth it when the modes are many for their grid.)
  const dense = cols * rows <= Math.min(DENSE_CELLS, 8 * n);
  let order: Int32Array;
  if (dense) {
    const start = new Int32Array(cols * rows + 1);
    for (let i = 0; i < n; i++) start[key[i] + 1]++;
    for (let c = 1; c <= cols * rows; c++) start[c] += start[c - 1];
    order = new Int32Array(n);
    for (let i = 0; i < n; i++) order[start[key[i]]++] = i;
  } else if (cols * rows <= 2 ** 31 && n < 2097152) {
    // key·2²¹ + index stays below 2⁵³: one native numeric sort, no comparator.
    const packed = new Float64Array(n);
    for (let i = 0; i < n; i++) packed[i] = key[i] * 2097152 + i;
    packed.sort();
    order = new Int32Array(n);
    for (let k = 0; k < n; k++) order[k] = packed[k] % 2097152;
  } else {
    order = Int32Array.from({ length: n }, (_, i) => i).sort((p, q) => key[p] - key[q] || p - q);
  }
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
  // The cell number of a key, plus one (0: empty), in an array over the grid when it was counted.
  const denseIndex = dense ? new Int32Array(cols * rows) : undefined;
  /** The cell of a key, or −1: from the grid array, else by binary search of the sorted keys. */
  const cellOf = (k: number): number => {
    if (denseIndex) return denseIndex[k] - 1;
    let lo = 0, hi = nCells - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (cellKeys[mid] < k) lo = mid + 1;
      else if (cellKeys[mid] > k) hi = mid - 1;
      else return mid;
    }
    return -1;
  };
  for (let c = 0; c < nCells; c++) {
    if (denseIndex) denseIndex[cellKeys[c]] = c + 1;
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
    boxes[4 * c] = x0;
    boxes[4 * c + 1] = y0;
    boxes[4 * c + 2] = x1;
    boxes[4 * c + 3] = y1;
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
        const d = cellOf(ny * cols + nx);
        if (d < 0) continue;
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

/** Centres are snapped to multiples of this (px): an exact power of two, see meanOfModes. */
const CENTRE_QUANTUM = 2 ** -20;
const snap = (v: number) => Math.round(v / CENTRE_QUANTUM) * CENTRE_QUANTUM;

/**
 * Cluster centres: the mean of each cluster's modes, snapped to multiples of 2⁻²⁰ px. A mean's last
 * bits depend on the frame and on the order of the sum; converged modes of a symmetric clearing sit
 * EXACTLY on a half pixel, where those bits decide the owner (round(255.5) vs round(−0.5)) and two
 * frames could disagree. Snapping is exact arithmetic (power-of-two scaling) and commutes with
 * integer shifts of the frame, so both frames see 255.5 and −0.5 exactly and round them alike.
 */
export function meanOfModes(modeX: Float64Array, modeY: Float64Array, labels: Int32Array, count: number): Array<{ x: number; y: number }> {
  const sx = new Float64Array(count), sy = new Float64Array(count), m = new Float64Array(count);
  for (let i = 0; i < labels.length; i++) {
    sx[labels[i]] += modeX[i];
    sy[labels[i]] += modeY[i];
    m[labels[i]]++;
  }
  return Array.from({ length: count }, (_, k) => ({ x: snap(sx[k] / m[k]), y: snap(sy[k] / m[k]) }));
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
