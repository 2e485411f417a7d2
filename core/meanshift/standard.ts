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
import { linkModes } from './link.ts';
import { STANDARD_CLIMB } from './standard-climb-wasm.ts';
import { ensureMemory, wasmBytes } from './wasm.ts';
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

/** The alerts' bounding box (inclusive), and the index's row stride (a column more than the box). */
interface LatticeBox {
  minC: number;
  minR: number;
  maxC: number;
  maxR: number;
  stride: number;
  rows: number;
}

function latticeBox(pts: Lattice): LatticeBox {
  let minC = Infinity, minR = Infinity, maxC = -Infinity, maxR = -Infinity;
  for (let i = 0; i < pts.length; i++) {
    const c = pts.col[i], r = pts.row[i];
    if (c < minC) minC = c;
    if (c > maxC) maxC = c;
    if (r < minR) minR = r;
    if (r > maxR) maxR = r;
  }
  return { minC, minR, maxC, maxR, stride: maxC - minC + 2, rows: maxR - minR + 1 };
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
  const w = new Float64Array(nk + 1);
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

/** Doubles per pixel model in the kernel's memory (wasm/standard-climb.ts: MODEL). */
const MODEL = 12;

/** Most plain steps one stride takes (where log-density is concave; wasm/standard-climb.ts strideOf). */
const STRIDE_CAP = 64;

/** The climb kernel (wasm/standard-climb.ts). */
interface ClimbKernel {
  memory: WebAssembly.Memory;
  setLayout(col: number, row: number, pre: number, sortedCol: number, runOf: number, runFirst: number, runLast: number, slot: number, models: number, kernel: number, scratch: number, out: number, list: number, order: number, count: number): void;
  setBox(n: number, minC: number, minR: number, maxC: number, maxR: number, stride: number, R: number, a: number): void;
  /** Writes the lattice index of the alerts in the memory; returns the number of runs. */
  index(): number;
  setClosureLayout(flags: number, found: number, mask: number): void;
  near(count: number, closure: number, viaMask: boolean): number;
  setRules(handoff: number, modelStop: number, stall: number, trust: number, crawl: number, boost: number, strideCap: number, maxSteps: number, polishIterations: number, polishStop: number): void;
  builtModels(): number;
  polishedModes(): number;
  climb(count: number): number;
}

/**
 * One instance of the kernel per process, its memory lent to one climber at a time (climbs are
 * synchronous) and grown to the largest box climbed, never shrunk: a memory per climber made V8
 * count tens of MB of new external memory each pass, and collect garbage for it (three times as
 * many full collections, runTile 1.25× slower at 3,000 alerts).
 */
let kernel: ClimbKernel | undefined;
/** The climber holding the kernel's memory: its results are views into it. */
let holder: { climb: Climb; superseded: boolean } | undefined;

/** The kernel, its memory at least `bytes` long, taken from the climber that held it. */
function takeKernel(bytes: number): ClimbKernel {
  // Math.exp from here: the polish's exact evaluations then match JavaScript's bit for bit.
  kernel ??= new WebAssembly.Instance(new WebAssembly.Module(wasmBytes(STANDARD_CLIMB)), { env: { exp: Math.exp } }).exports as unknown as ClimbKernel;
  if (holder) {
    // The previous climber's results are still read (the halo's next pass reuses them): they move
    // out of the memory, and that climber can climb no more.
    const c = holder.climb;
    c.modeX = c.modeX.slice();
    c.modeY = c.modeY.slice();
    c.pathMinX = c.pathMinX.slice();
    c.pathMinY = c.pathMinY.slice();
    c.pathMaxX = c.pathMaxX.slice();
    c.pathMaxY = c.pathMaxY.slice();
    holder.superseded = true;
    holder = undefined;
  }
  ensureMemory(kernel.memory, bytes);
  return kernel;
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
 *
 * The climbs run in WebAssembly (wasm/standard-climb.ts: the models, the steps, the polish): compiled
 * from the first call, where a one-tile process spent most of its time climbing in the interpreter
 * before V8 optimised the loop. The index is built here, into the kernel's memory. A climber's
 * results are views into that memory until the next climber takes it; they are copied out then,
 * and the older climber can no longer climb (nor list alerts).
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
  /**
   * The alerts j outside the tile [0, 255]² with climbed[j] = 0 within `closure` px (Chebyshev) of
   * a seed, each once, marked 2 in `climbed`: through a mask of the seeds dilated by `closure`, or
   * by visiting each seed's box (standard-halo.ts, unclimbedNear, chooses).
   */
  near(seeds: ArrayLike<number>, closure: number, climbed: Uint8Array, viaMask: boolean): Int32Array;
}

/** `modelRoom`: how many models the memory has room for at first (tests make it grow with a small one). */
export function latticeClimber(pts: Lattice, width: number, modelRoom = 2 * pts.length + 1024): LatticeClimber {
  if (!(width > 0)) throw new Error(`width=${width} must be > 0`);
  const n = pts.length;
  const reach = kernelReach(width);
  if (n === 0) {
    const none = new Float64Array(0);
    const out: Climb = { modeX: none, modeY: none, pathMinX: none, pathMinY: none, pathMaxX: none, pathMaxY: none, steps: 0, evaluations: 0, polished: 0, reach };
    return { climb: out, climbAlerts: () => {}, box: { minC: 0, minR: 0, maxC: -1, maxR: -1 }, alertsIn: () => {}, near: () => new Int32Array(0) };
  }
  const kernel = kernelTables(width);
  const box = latticeBox(pts);
  const { minC, minR, maxC, maxR, stride, rows } = box;
  const pixels = (maxC - minC + 1) * rows;
  const nk1 = 2 * kernel.R + 2;
  // The kernel's memory: doubles (kernel tables; scratch and exact; outputs), 32-bit ints, and last
  // the models, room for twice as many as alerts to start with (the kernel grows the memory when
  // they need more; a model per pixel of the box at most). Room for every pixel up front cost
  // 25 MB at 3,000 alerts a tile, and V8 collected garbage for that much external memory.
  let bytes = 0;
  const take = (size: number) => ((bytes += size), bytes - size);
  const kernelAt = take(8 * 5 * nk1), scratchAt = take(8 * (5 * nk1 + 5)), outAt = take(8 * 6 * n);
  const colAt = take(4 * n), rowAt = take(4 * n), preAt = take(4 * rows * stride), sortedAt = take(4 * n), runOfAt = take(4 * n);
  const firstAt = take(4 * n), lastAt = take(4 * n), slotAt = take(4 * pixels), listAt = take(4 * n);
  const orderAt = take(4 * n), countAt = take(4 * (Math.max(stride, rows) + 2)), foundAt = take(4 * n);
  // The halo's closure (near): a flag per alert, two byte masks over the box (touched only there).
  const flagsAt = take(n), maskAt = take(2 * pixels);
  bytes = 8 * Math.ceil(bytes / 8); // the models are doubles
  const modelsAt = take(8 * MODEL * Math.max(1, Math.min(pixels, modelRoom)));
  const k = takeKernel(bytes);
  let buf = k.memory.buffer;
  const f64 = (at: number, length: number) => new Float64Array(buf, at, length);
  const i32 = (at: number, length: number) => new Int32Array(buf, at, length);
  // What an earlier climber left: no model built yet, the scratch's prefix sums start from 0.
  i32(slotAt, pixels).fill(0);
  f64(scratchAt, 5 * nk1 + 5).fill(0);
  [kernel.w, kernel.P0, kernel.P1, kernel.P2, kernel.P3].forEach((t, j) => f64(kernelAt + 8 * j * nk1, nk1).set(t));
  i32(colAt, n).set(pts.col.subarray(0, n));
  i32(rowAt, n).set(pts.row.subarray(0, n));
  k.setLayout(colAt, rowAt, preAt, sortedAt, runOfAt, firstAt, lastAt, slotAt, modelsAt, kernelAt, scratchAt, outAt, listAt, orderAt, countAt);
  k.setBox(n, minC, minR, maxC, maxR, stride, kernel.R, kernel.a);
  // The lattice index: row-major over the box, `stride` a row. The alerts of row r, columns c0..c1
  // (box coordinates) are sorted slots pre[r·stride + c0] .. pre[r·stride + c1 + 1] − 1, slot p
  // holding alert order[p] (wasm/standard-climb.ts: index).
  k.index();
  k.setClosureLayout(flagsAt, foundAt, maskAt);
  let pre = new Int32Array(0), order = new Int32Array(0);
  k.setRules(HANDOFF, MODEL_STOP, STALL_STEP, TRUST * width, CRAWL_STEP, CRAWL_BOOST, STRIDE_CAP, MAX_STEPS, POLISH_ITERATIONS, POLISH_STOP);
  const none = new Float64Array(0);
  const out: Climb = { modeX: none, modeY: none, pathMinX: none, pathMinY: none, pathMaxX: none, pathMaxY: none, steps: 0, evaluations: 0, polished: 0, reach };
  let list = new Int32Array(0);
  /** Views of the memory (again after the kernel grew it, which detaches the old ones). */
  const view = () => {
    buf = k.memory.buffer;
    out.modeX = f64(outAt, n);
    out.modeY = f64(outAt + 8 * n, n);
    out.pathMinX = f64(outAt + 16 * n, n);
    out.pathMinY = f64(outAt + 24 * n, n);
    out.pathMaxX = f64(outAt + 32 * n, n);
    out.pathMaxY = f64(outAt + 40 * n, n);
    pre = i32(preAt, rows * stride);
    order = i32(orderAt, n);
    list = i32(listAt, n);
  };
  view();
  const held = { climb: out, superseded: false };
  holder = held;
  const check = () => {
    if (held.superseded) throw new Error('latticeClimber: a newer climber holds the climb kernel');
  };

  function climbAlerts(alerts: ArrayLike<number>): void {
    check();
    for (let from = 0; from < alerts.length; from += n) {
      const count = Math.min(n, alerts.length - from);
      list.set(from === 0 && count === alerts.length ? alerts : Array.prototype.slice.call(alerts, from, from + count));
      out.steps += k.climb(count);
      if (k.memory.buffer !== buf) view();
    }
    out.evaluations = k.builtModels();
    out.polished = k.polishedModes();
  }

  function alertsIn(col0: number, col1: number, row0: number, row1: number, visit: (j: number) => void): void {
    check();
    const c0 = Math.max(col0, minC) - minC, c1 = Math.min(col1, maxC) - minC;
    if (c0 > c1) return;
    for (let r = Math.max(row0, minR); r <= Math.min(row1, maxR); r++) {
      const base = (r - minR) * stride;
      for (let p = pre[base + c0]; p < pre[base + c1 + 1]; p++) visit(order[p]);
    }
  }

  function near(seeds: ArrayLike<number>, closure: number, climbed: Uint8Array, viaMask: boolean): Int32Array {
    check();
    if (seeds.length > n || climbed.length !== n) throw new Error(`latticeClimber.near: ${seeds.length} seeds, ${climbed.length} flags for ${n} alerts`);
    list.set(seeds);
    new Uint8Array(buf, flagsAt, n).set(climbed);
    const count = k.near(seeds.length, closure, viaMask);
    const found = new Int32Array(buf, foundAt, count).slice();
    for (const j of found) climbed[j] = 2;
    return found;
  }

  return { climb: out, climbAlerts, box: { minC, minR, maxC, maxR }, alertsIn, near };
}

/** Every alert climbs to its mode (see latticeClimber). */
export function climbLattice(pts: Lattice, width: number, modelRoom?: number): Climb {
  const climber = latticeClimber(pts, width, modelRoom);
  climber.climbAlerts(Int32Array.from({ length: pts.length }, (_, i) => i));
  return climber.climb;
}

// ---------- cluster centres (the modes are linked in link.ts) ----------

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
