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
//   transcription the final positions differ by ≤ 1.1e-10 px, what merely reordering the sums
//   produces (and far under the ≥1e-5 px margins to a rounding boundary seen on real-size tiles). A cut at 5-6 widths is NOT safe: the passes amplify tiny differences ~1e5
//   times and clusters change.
// - Neighbours come from a bucket grid built over the positions; points keep moving during a pass,
//   so the grid is queried with a slack and a point that drifts further than that slack from where
//   it was bucketed is moved to a short "escaped" list that every query scans too (the grid is
//   rebuilt when that list grows). A point moved this pass is therefore always found where it is now.
// - exp() comes from a table over d² times a short Taylor series (relative error < 3e-16, about
//   Math.exp's own; see gaussianTable).
// - The sums over neighbours run in WebAssembly SIMD (wasm/blurring-kernel.ts, two neighbours per
//   instruction, fused multiply-adds where the CPU has them): another summation order, same
//   precision.
import { BLURRING_KERNEL_RELAXED_SIMD, BLURRING_KERNEL_SIMD } from './blurring-wasm.ts';
import { ensureMemory, wasmBytes } from './wasm.ts';
import type { Partition, Points } from './types.ts';

/** Weights below 2^-53 (d²/2w² > 53·ln 2) are dropped; the kernel radius in widths is a hair more than this. */
export const TRUNCATION_SIGMAS = Math.sqrt(2 * 53 * Math.LN2);

/**
 * The kernel weight e^(-d²/2w²) as the wasm kernel computes it: table[k] = e^(-k·step/2w²) with
 * k = round(d²/step), times a degree-4 Taylor series of e^(-g/2w²) in the remainder g = d² - k·step.
 * step is a power of two with |g|/2w² <= 1/1024, so the series' relative error is < 1e-17 and the
 * product's < 3e-16 (about Math.exp's own). The table ends with a 0 that every d² beyond the cut
 * rounds to (d² is clamped to d2Max first).
 */
interface GaussianTable {
  width: number;
  step: number;
  table: Float64Array;
  /** Series coefficients: e^(-a·g) = 1 + g·(c1 + g·(c2 + g·(c3 + g·c4))), a = 1/2w². */
  c: [number, number, number, number];
  /** 1.5·2^52·step: adding it rounds d² to a multiple of step (half to even). */
  rounder: number;
  d2Max: number;
  /** Every d² below radius² gets its weight, every other 0. */
  radius: number;
}

export function gaussianTable(width: number): GaussianTable {
  const a = 1 / (2 * width * width);
  const step = 2 ** Math.floor(Math.log2((width * width) / 256));
  const kCut = Math.ceil((53 * Math.LN2) / (a * step) + 0.5);
  const table = Float64Array.from({ length: kCut + 1 }, (_, k) => (k < kCut ? Math.exp(-k * step * a) : 0));
  return {
    width,
    step,
    table,
    c: [-a, a ** 2 / 2, -(a ** 3) / 6, a ** 4 / 24],
    rounder: 1.5 * 2 ** 52 * step,
    d2Max: (kCut + 0.25) * step,
    radius: Math.sqrt((kCut - 0.5) * step),
  };
}

/** The weight at squared distance d², by the kernel's formula (without fused multiply-adds). */
export function tableWeight(g: GaussianTable, d2: number): number {
  const u = Math.min(d2, g.d2Max);
  const kStep = u + g.rounder - g.rounder; // u rounded to a multiple of step
  const rest = u - kStep;
  const t = g.table[kStep / g.step];
  const [c1, c2, c3, c4] = g.c;
  return t + t * rest * (c1 + rest * (c2 + rest * (c3 + rest * c4)));
}

/** How far (px) a point may drift from its bucketed position before it counts as escaped. */
const SLACK = 2;
/** Position parked in an escaped point's grid slot: weight exactly 0, and finite (0 · ∞ would be NaN). */
const FAR = 1e100;
/**
 * Rebuild the grid once max(128, n/64) points have escaped: a rebuild costs ~50 µs per 3,000
 * points, an escaped point one more candidate for every query (each pass starts with an empty list).
 */
const maxEscaped = (n: number) => Math.max(128, Math.ceil(n / 64));

export function blurringMeanShift(points: Points, width: number, iterations: number): Partition {
  return groupByRoundedPixel(blurredPositions(points, width, iterations), rowMajorOrder(points));
}

/**
 * The final (unrounded) positions, in the caller's indexing: the passes without the grouping.
 * `variant` forces a build of the kernel (tests); by default relaxed SIMD where the runtime has it.
 */
export function blurredPositions(points: Points, width: number, iterations: number, variant?: KernelVariant): Points {
  if (!(width > 0) || !Number.isFinite(width)) throw new Error(`blurring mean shift: width must be a positive number, got ${width}`);
  if (!Number.isInteger(iterations) || iterations < 0) throw new Error(`blurring mean shift: iterations must be an integer >= 0, got ${iterations}`);
  const n = points.length;
  const order = rowMajorOrder(points);
  const state = new MovingPoints(points, order, width, kernel(variant));
  for (let pass = 0; pass < iterations; pass++) {
    state.startPass();
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

/** The compiled kernel (wasm/blurring-kernel.ts); one instance per build, shared by every call (calls are synchronous). */
interface KernelExports {
  memory: WebAssembly.Memory;
  setLayout(table: number, xs: number, ys: number, cellStart: number, out: number, reach: number, cellSize: number): void;
  setWeights(c1: number, c2: number, c3: number, c4: number, rounder: number, d2Max: number): void;
  setGrid(minCx: number, minCy: number, cols: number, rows: number, escapedStart: number, escapedEnd: number): void;
  sums(qx: number, qy: number): number;
}
/** The kernel's two builds: fused multiply-adds (relaxed SIMD, Node >= 22), or plain SIMD (older runtimes). */
type KernelVariant = 'relaxed-simd' | 'simd';
const KERNEL_BASE64: Record<KernelVariant, string> = { 'relaxed-simd': BLURRING_KERNEL_RELAXED_SIMD, simd: BLURRING_KERNEL_SIMD };
const kernels = new Map<KernelVariant, KernelExports>();
let bestVariant: KernelVariant | undefined;
function kernel(variant?: KernelVariant): KernelExports {
  bestVariant ??= WebAssembly.validate(wasmBytes(BLURRING_KERNEL_RELAXED_SIMD)) ? 'relaxed-simd' : 'simd';
  const v = variant ?? bestVariant;
  let k = kernels.get(v);
  if (!k) {
    k = new WebAssembly.Instance(new WebAssembly.Module(wasmBytes(KERNEL_BASE64[v]))).exports as unknown as KernelExports;
    kernels.set(v, k);
  }
  return k;
}
/** The weight table of the last width used (one width per run in practice). */
let lastTable: GaussianTable | undefined;


/**
 * Current positions of the points, held in grid-cell order for fast neighbour scans, in the
 * kernel's memory. Point k (in row-major update order) lives in slot slotOf[k]; an escaped point's
 * position lives in slot n + (its index in the escaped list).
 */
class MovingPoints {
  readonly n: number;
  private readonly k: KernelExports;
  private readonly cellSize: number;
  // Byte offsets in the kernel's memory: weight table | xs | ys | out (sx, sy) | cellStart.
  private readonly xsOff: number;
  private readonly ysOff: number;
  private readonly outOff: number;
  private readonly cellOff: number;
  private readonly capacity: number;
  // Views on the kernel's memory (re-taken after it grows).
  private xs!: Float64Array;
  private ys!: Float64Array;
  private out!: Float64Array;
  private readonly slotOf: Int32Array;
  private pointOfSlot: Int32Array;
  // Where each slot was bucketed, and scratch for rebuild() (allocated once).
  private readonly bucketX: Float64Array;
  private readonly bucketY: Float64Array;
  private readonly cellOf: Int32Array;
  private readonly cyOf: Int32Array;
  private spareSlots: Int32Array;
  private fill = new Int32Array(0);
  // Points that drifted more than SLACK from their bucket: their grid slot holds FAR (so cell
  // scans give it weight 0) and their position lives in slot n + i, scanned by every query.
  private readonly escapedAt: Int32Array; // slot -> list index, or -1
  private readonly escapedSlot: Int32Array;
  private escapedCount = 0;
  private grid = { minCx: 0, minCy: 0, cols: 0, rows: 0 };

  constructor(points: Points, order: Int32Array, width: number, k: KernelExports) {
    this.k = k;
    const n = (this.n = points.length);
    if (lastTable?.width !== width) lastTable = gaussianTable(width);
    const g = lastTable;
    const radius = g.radius;
    // 4-8 cells per radius keeps the scanned area close to the kernel disc; a power of two makes
    // the kernel's multiplications by 1/cellSize exact divisions.
    this.cellSize = Math.max(1, 2 ** Math.floor(Math.log2(radius / 4)));
    this.capacity = n + maxEscaped(n);
    this.xsOff = g.table.byteLength;
    this.ysOff = this.xsOff + 8 * this.capacity;
    this.outOff = this.ysOff + 8 * this.capacity;
    this.cellOff = this.outOff + 16;
    ensureMemory(this.k.memory, this.cellOff);
    this.takeViews();
    new Float64Array(this.k.memory.buffer, 0, g.table.length).set(g.table);
    // A point within the radius now is bucketed within radius ⊕ square(SLACK) ⊂ disc(radius + SLACK·√2).
    const reach = radius + SLACK * Math.SQRT2;
    this.k.setLayout(0, this.xsOff, this.ysOff, this.cellOff, this.outOff, reach, this.cellSize);
    this.k.setWeights(...g.c, g.rounder, g.d2Max);
    this.xs.fill(0);
    this.ys.fill(0);
    for (let k = 0; k < n; k++) {
      this.xs[k] = points.x[order[k]];
      this.ys[k] = points.y[order[k]];
    }
    this.slotOf = Int32Array.from({ length: n }, (_, k) => k);
    this.pointOfSlot = Int32Array.from({ length: n }, (_, k) => k);
    this.spareSlots = new Int32Array(n);
    this.bucketX = new Float64Array(n);
    this.bucketY = new Float64Array(n);
    this.cellOf = new Int32Array(n);
    this.cyOf = new Int32Array(n);
    this.escapedAt = new Int32Array(n).fill(-1);
    this.escapedSlot = new Int32Array(maxEscaped(n));
    if (n > 0) this.rebuild();
  }

  private takeViews(): void {
    const buf = this.k.memory.buffer;
    this.xs = new Float64Array(buf, this.xsOff, this.capacity);
    this.ys = new Float64Array(buf, this.ysOff, this.capacity);
    this.out = new Float64Array(buf, this.outOff, 2);
  }

  /** Where point k's current position is stored. */
  private at(k: number): number {
    const slot = this.slotOf[k], e = this.escapedAt[slot];
    return e < 0 ? slot : this.n + e;
  }
  /** Current position of point k (row-major index). */
  x(k: number): number {
    return this.xs[this.at(k)];
  }
  y(k: number): number {
    return this.ys[this.at(k)];
  }

  /** Empties the escaped list (which every query scans) with a rebuild: cheap once per pass. */
  startPass(): void {
    if (this.escapedCount > 0) this.rebuild();
  }

  /** Moves point k to the kernel-weighted mean of all current positions. */
  update(k: number): void {
    const i = this.at(k);
    const sw = this.k.sums(this.xs[i], this.ys[i]);
    // sw >= 1: the point itself is always counted (distance 0, weight 1).
    this.moveTo(this.slotOf[k], this.out[0] / sw, this.out[1] / sw);
  }

  private moveTo(slot: number, nx: number, ny: number): void {
    const e = this.escapedAt[slot];
    if (e >= 0) {
      this.xs[this.n + e] = nx;
      this.ys[this.n + e] = ny;
    } else if (Math.abs(nx - this.bucketX[slot]) <= SLACK && Math.abs(ny - this.bucketY[slot]) <= SLACK) {
      this.xs[slot] = nx;
      this.ys[slot] = ny;
    } else if (this.escapedCount < this.escapedSlot.length) {
      const i = this.escapedCount++;
      this.escapedAt[slot] = i;
      this.escapedSlot[i] = slot;
      this.xs[this.n + i] = nx;
      this.ys[this.n + i] = ny;
      this.xs[slot] = this.ys[slot] = FAR;
      const { minCx, minCy, cols, rows } = this.grid;
      this.k.setGrid(minCx, minCy, cols, rows, this.n, this.n + this.escapedCount);
    } else {
      this.xs[slot] = nx;
      this.ys[slot] = ny;
      this.rebuild();
    }
  }

  /** Re-buckets every point at its current position (counting sort by cell, row-major cells). */
  private rebuild(): void {
    const n = this.n, h = this.cellSize;
    const { xs, ys, bucketX, bucketY, cellOf } = this;
    for (let i = 0; i < this.escapedCount; i++) {
      const slot = this.escapedSlot[i];
      xs[slot] = xs[n + i];
      ys[slot] = ys[n + i];
      this.escapedAt[slot] = -1;
    }
    this.escapedCount = 0;
    // The old order goes to bucketX/Y (they are re-set to the new positions below).
    bucketX.set(xs.subarray(0, n));
    bucketY.set(ys.subarray(0, n));
    // Cell coordinates once per point (divisions are the costly part here).
    const cyOf = this.cyOf;
    let minCx = Infinity, minCy = Infinity, maxCx = -Infinity, maxCy = -Infinity;
    for (let s = 0; s < n; s++) {
      const cx = Math.floor(bucketX[s] / h), cy = Math.floor(bucketY[s] / h);
      cellOf[s] = cx;
      cyOf[s] = cy;
      if (cx < minCx) minCx = cx;
      if (cx > maxCx) maxCx = cx;
      if (cy < minCy) minCy = cy;
      if (cy > maxCy) maxCy = cy;
    }
    const cols = maxCx - minCx + 1, rows = maxCy - minCy + 1, cells = cols * rows;
    const bytes = this.cellOff + 4 * (cells + 1);
    if (bytes > this.k.memory.buffer.byteLength) {
      ensureMemory(this.k.memory, bytes);
      this.takeViews(); // xs, ys above are detached from here on
    }
    const cellStart = new Int32Array(this.k.memory.buffer, this.cellOff, cells + 1).fill(0);
    for (let s = 0; s < n; s++) {
      const c = (cyOf[s] - minCy) * cols + (cellOf[s] - minCx);
      cellOf[s] = c;
      cellStart[c + 1]++;
    }
    for (let c = 0; c < cells; c++) cellStart[c + 1] += cellStart[c];
    if (this.fill.length < cells) this.fill = new Int32Array(cells);
    const fill = this.fill;
    fill.set(cellStart.subarray(0, cells));
    const oldPointOfSlot = this.pointOfSlot, pointOfSlot = this.spareSlots, slotOf = this.slotOf;
    const newXs = this.xs, newYs = this.ys;
    for (let s = 0; s < n; s++) {
      const to = fill[cellOf[s]]++;
      const k = oldPointOfSlot[s];
      newXs[to] = bucketX[s];
      newYs[to] = bucketY[s];
      pointOfSlot[to] = k;
      slotOf[k] = to;
    }
    this.spareSlots = oldPointOfSlot;
    this.pointOfSlot = pointOfSlot;
    bucketX.set(newXs.subarray(0, n));
    bucketY.set(newYs.subarray(0, n));
    this.grid = { minCx, minCy, cols, rows };
    this.k.setGrid(minCx, minCy, cols, rows, n, n);
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
