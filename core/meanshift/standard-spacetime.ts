// The `standard` mean shift in space and time (`time_width`): every alert climbs the density of
// the FIXED alerts under K = exp(−d²/(2·width²) − Δt²/(2·T²)), d in px, Δt in days, T = time_width.
// Measuring time in px, τ = day·width/T, makes K an isotropic 3-D Gaussian of sigma `width` in
// (x, y, τ): this is standard.ts's algorithm one dimension up, with the same stopping rule (stop at
// a mode: Newton where log f is concave, handed to an exactly polished mode) and the same grouping
// (single linkage of modes closer than width/2, now in (x, y, τ); centre = the spatial part of the
// mean of the modes). See docs/clustering.md, "Space and time".
//
// Speed, as in standard.ts, from per-NODE quadratic models of the mean-shift map (value, first and
// second derivatives from one pass over the node's window), shared by every trajectory crossing
// the node. Nodes are pixel centres × a time lattice of at most 1 px of τ, like a pixel: every
// floor(T/width) days when T ≥ width, else every 1/⌈width/T⌉ day (a day is then more than 1 px of τ,
// and a quadratic model across a whole day would be poor). Time is counted in units of that
// lattice's day fraction, so node-to-alert offsets are integers and the truncated kernel is
// three fixed 1-D tables. A window's row sums depend on its column, time node and the row only,
// so they are cached and shared by the nodes above and below; alerts climb column by column. The
// climbs run in WebAssembly (wasm/spacetime-climb.ts: models, cache, steps, polish), bit-identical
// to the JavaScript they replaced; the index, the order and the linking are here.
// Trajectories are computed relative to their start pixel (time is absolute, the same in every
// frame), models relative to their node, windows summed in one canonical order (row, column, day):
// the same alert among the same alerts follows bit-identical steps in a tile and in the whole
// region, whatever the order of the alerts — what makes the halo union exact.

// The stopping constants are standard.ts's, in px of the scaled space.
import { CRAWL_BOOST, CRAWL_STEP, HANDOFF, meanOfModes, MODEL_STOP, POLISH_ITERATIONS, POLISH_STOP, STALL_STEP, TRUNCATION, TRUST } from './standard.ts';
import type { Climb } from './standard.ts';
import { SPACETIME_CLIMB } from './spacetime-climb-wasm.ts';
import { linkModes3 } from './link.ts';
import { ensureMemory, wasmBytes } from './wasm.ts';

/** Safety bound on steps per trajectory (bounded cost whatever the input). */
export const MAX_STEPS = 20000;
/**
 * Node models kept per alert (plus a constant): beyond, a model is rebuilt in a scratch slot at
 * each use instead of kept. A model depends on its node only, so results are the same, and memory
 * stays bounded whatever the input (measured: 1.5–1.9 models per alert on the bench tiles).
 */
const MODELS_PER_ALERT = 4;

/** Alerts on the lattice: integer pixel and day (Alerts fits). */
export interface SpaceTimeLattice {
  length: number;
  col: Int32Array;
  row: Int32Array;
  days: Uint16Array;
}

/** Where every climb ended (x, y px; t in τ px = day·width/T) and its trajectory's spatial box. */
export interface SpaceTimeClimb extends Climb {
  modeT: Float64Array;
  /** px of τ per day: width / time_width. */
  scale: number;
}

/** Alerts sorted by (row, col, day): cell (r, c) of the box holds slots pre[r·stride + c] .. pre[r·stride + c + 1]. */
interface Index {
  minC: number;
  minR: number;
  maxC: number;
  maxR: number;
  stride: number;
  pre: Int32Array;
  col: Int32Array;
  /** day·sub: the alert's time in lattice units. */
  unit: Int32Array;
  minDay: number;
  maxDay: number;
}

function indexAlerts(pts: SpaceTimeLattice, sub: number): Index {
  const n = pts.length;
  let minC = Infinity, minR = Infinity, maxC = -Infinity, maxR = -Infinity, minDay = Infinity, maxDay = -Infinity;
  for (let i = 0; i < n; i++) {
    minC = Math.min(minC, pts.col[i]);
    maxC = Math.max(maxC, pts.col[i]);
    minR = Math.min(minR, pts.row[i]);
    maxR = Math.max(maxR, pts.row[i]);
    minDay = Math.min(minDay, pts.days[i]);
    maxDay = Math.max(maxDay, pts.days[i]);
  }
  const stride = maxC - minC + 2;
  const pre = new Int32Array((maxR - minR + 1) * stride);
  for (let i = 0; i < n; i++) pre[(pts.row[i] - minR) * stride + (pts.col[i] - minC) + 1]++;
  for (let k = 1; k < pre.length; k++) pre[k] += pre[k - 1];
  const col = new Int32Array(n), day = new Int32Array(n);
  const fill = pre.slice();
  for (let i = 0; i < n; i++) {
    const cell = (pts.row[i] - minR) * stride + (pts.col[i] - minC);
    // Several alerts on one pixel: kept sorted by day (insertion), so the order is canonical.
    let slot = fill[cell]++;
    while (slot > pre[cell] && day[slot - 1] > pts.days[i]) {
      day[slot] = day[slot - 1];
      col[slot] = col[slot - 1];
      slot--;
    }
    col[slot] = pts.col[i];
    day[slot] = pts.days[i];
  }
  return { minC, minR, maxC, maxR, stride, pre, col, unit: day.map((d) => d * sub), minDay, maxDay };
}

/**
 * Fixed kernel tables at integer offsets. Time is counted in units of 1/sub day: space
 * w[k] = exp(−a(k−R)²), time wt[e] = exp(−a((e−RT)·su)²), su = px of τ per unit.
 */
interface Kernel {
  R: number;
  /** Half-side of the time window, units. */
  RT: number;
  a: number;
  /** Units per day, and px of τ per unit. */
  sub: number;
  su: number;
  w: Float64Array;
  wt: Float64Array;
}

function kernelTables(width: number, timeWidth: number): Kernel {
  const R = Math.max(1, Math.floor(TRUNCATION * width));
  const sub = timeWidth >= width ? 1 : Math.ceil(width / timeWidth);
  const RT = Math.max(1, Math.floor(TRUNCATION * timeWidth * sub));
  const a = 1 / (2 * width * width);
  const su = width / timeWidth / sub;
  const w = Float64Array.from({ length: 2 * R + 1 }, (_, k) => Math.exp(-a * (k - R) * (k - R)));
  const wt = Float64Array.from({ length: 2 * RT + 1 }, (_, e) => Math.exp(-a * ((e - RT) * su) ** 2));
  return { R, RT, a, sub, su, w, wt };
}

/** Slots of the row-sum cache (wasm/spacetime-climb.ts): ~4 per alert, 2¹²–2¹⁷ (at most 11.5 MB). */
function cacheSlots(n: number): number {
  // On the bench tile at 30,000 alerts, climbing column by column, 1.10 M of the 2.69 M rows read
  // are summed (1.05 M distinct rows).
  let size = 1 << 12;
  while (size < 4 * n && size < 1 << 17) size *= 2;
  return size;
}

/** Doubles a row-sum cache slot takes (its key, then its sums), and a node record (wasm/spacetime-climb.ts: ROW, NODE). */
const ROW = 11;
const NODE = 25;

/** The climb kernel (wasm/spacetime-climb.ts). */
interface SpaceTimeKernel {
  memory: WebAssembly.Memory;
  setLayout(order: number, col: number, row: number, day: number, pre: number, icol: number, unit: number, head: number, w: number, wt: number, wx: number, wy: number, wts: number, sums: number, out: number, nodes: number): void;
  setBox(n: number, minC: number, minR: number, maxC: number, maxR: number, stride: number, cacheMask: number, nodeCap: number): void;
  setKernel(R: number, RT: number, a: number, sub: number, su: number, s: number, step: number, kMin: number, kMax: number): void;
  setRules(handoff: number, modelStop: number, stall: number, trust: number, crawl: number, boost: number, strideCap: number, maxSteps: number, polishIterations: number, polishStop: number): void;
  modelEvaluations(): number;
  polishedModes(): number;
  climb(): number;
}

/** One instance per process; its memory holds one climb at a time (climbs are synchronous) and only grows. */
let kernel: SpaceTimeKernel | undefined;

/** The alerts' indices sorted by (column, row): two stable counting sorts, O(n + box). */
function columnMajor(pts: SpaceTimeLattice, minC: number, maxC: number, minR: number, maxR: number): Int32Array {
  const n = pts.length;
  const byRow = new Int32Array(n), order = new Int32Array(n);
  const count = new Int32Array(Math.max(maxC - minC, maxR - minR) + 2);
  for (let i = 0; i < n; i++) count[pts.row[i] - minR + 1]++;
  for (let k = 1; k < count.length; k++) count[k] += count[k - 1];
  for (let i = 0; i < n; i++) byRow[count[pts.row[i] - minR]++] = i;
  count.fill(0);
  for (let i = 0; i < n; i++) count[pts.col[i] - minC + 1]++;
  for (let k = 1; k < count.length; k++) count[k] += count[k - 1];
  for (let o = 0; o < n; o++) order[count[pts.col[byRow[o]] - minC]++] = byRow[o];
  return order;
}

/**
 * Every alert climbs the truncated space–time density of all alerts until it reaches a mode, by
 * standard.ts's rule (docs/clustering.md): the plain step from node models, Newton where log f is
 * concave, handed to the exactly polished mode of the end node when the Newton step is below
 * HANDOFF, crawls lengthened on nearly flat tops, MAX_STEPS as a safety bound.
 */
export function climbSpaceTime(pts: SpaceTimeLattice, width: number, timeWidth: number, modelCap = MODELS_PER_ALERT * pts.length + 65536): SpaceTimeClimb {
  if (!(width > 0)) throw new Error(`width=${width} must be > 0`);
  if (!(timeWidth > 0)) throw new Error(`time_width=${timeWidth} must be > 0`);
  const n = pts.length;
  const kn = kernelTables(width, timeWidth);
  const { sub, su } = kn;
  const s = width / timeWidth;
  const none = new Float64Array(0);
  const out: SpaceTimeClimb = {
    modeX: none,
    modeY: none,
    modeT: none,
    pathMinX: none,
    pathMinY: none,
    pathMaxX: none,
    pathMaxY: none,
    steps: 0,
    evaluations: 0,
    polished: 0,
    reach: kn.R + 0.5,
    scale: s,
  };
  if (n === 0) return out;
  const ix = indexAlerts(pts, sub);
  const { minC, minR, maxC, maxR, stride } = ix;
  // Time nodes every `step` units (at most 1 px of τ), indexed k = kMin..kMax.
  const step = Math.max(1, Math.floor((timeWidth * sub) / width));
  const kMin = Math.floor((ix.minDay * sub) / step), kMax = Math.ceil((ix.maxDay * sub) / step);
  const pixels = (maxC - minC + 1) * (maxR - minR + 1);
  const slots = cacheSlots(n);
  // Node records: the first is the scratch one (rebuilt at each use once `cap` nodes are kept).
  const cap = Math.max(1, modelCap);
  // The kernel's memory: doubles (tables, cache, outputs), 32-bit ints, and last the node records,
  // room for min(cap, max(1024, 2n)) at first: the kernel grows the memory when they need more.
  let bytes = 0;
  const take = (size: number) => ((bytes += size), bytes - size);
  const wAt = take(8 * kn.w.length), wtAt = take(8 * kn.wt.length), wxAt = take(8 * kn.w.length), wyAt = take(8 * kn.w.length), wtsAt = take(8 * kn.wt.length);
  const sumsAt = take(8 * ROW * slots), outAt = take(8 * 7 * n);
  const orderAt = take(4 * n), colAt = take(4 * n), rowAt = take(4 * n), dayAt = take(4 * n), preAt = take(4 * ix.pre.length), icolAt = take(4 * n), unitAt = take(4 * n), headAt = take(4 * pixels);
  bytes += bytes % 8;
  const nodesAt = take(8 * NODE * (Math.min(cap, Math.max(1024, 2 * n)) + 1));
  // Math.exp from here: the polish's exact evaluations then match JavaScript's bit for bit.
  kernel ??= new WebAssembly.Instance(new WebAssembly.Module(wasmBytes(SPACETIME_CLIMB)), { env: { exp: Math.exp } }).exports as unknown as SpaceTimeKernel;
  const k = kernel;
  ensureMemory(k.memory, bytes);
  const f64 = (at: number, length: number) => new Float64Array(k.memory.buffer, at, length);
  const i32 = (at: number, length: number) => new Int32Array(k.memory.buffer, at, length);
  f64(wAt, kn.w.length).set(kn.w);
  f64(wtAt, kn.wt.length).set(kn.wt);
  // What an earlier climb left: an empty cache, no node at any pixel.
  const sums = f64(sumsAt, ROW * slots);
  for (let h = 0; h < slots; h++) sums[ROW * h] = NaN;
  i32(headAt, pixels).fill(0);
  // Climbs column by column, down each column: the next alert's start node is usually the one
  // below, whose window shares all but one row sum with this one's (the cache). Each climb is
  // independent of the others (models depend on their node only), so the order changes speed only.
  i32(orderAt, n).set(columnMajor(pts, minC, maxC, minR, maxR));
  i32(colAt, n).set(pts.col.subarray(0, n));
  i32(rowAt, n).set(pts.row.subarray(0, n));
  i32(dayAt, n).set(pts.days.subarray(0, n));
  i32(preAt, ix.pre.length).set(ix.pre);
  i32(icolAt, n).set(ix.col);
  i32(unitAt, n).set(ix.unit);
  k.setLayout(orderAt, colAt, rowAt, dayAt, preAt, icolAt, unitAt, headAt, wAt, wtAt, wxAt, wyAt, wtsAt, sumsAt, outAt, nodesAt);
  k.setBox(n, minC, minR, maxC, maxR, stride, slots - 1, cap);
  k.setKernel(kn.R, kn.RT, kn.a, sub, su, s, step, kMin, kMax);
  k.setRules(HANDOFF, MODEL_STOP, STALL_STEP, TRUST * width, CRAWL_STEP, CRAWL_BOOST, 0, MAX_STEPS, POLISH_ITERATIONS, POLISH_STOP); // no strides in space and time
  out.steps = k.climb();
  // The results leave the memory (the next climb reuses it).
  out.modeX = f64(outAt, n).slice();
  out.modeY = f64(outAt + 8 * n, n).slice();
  out.modeT = f64(outAt + 16 * n, n).slice();
  out.pathMinX = f64(outAt + 24 * n, n).slice();
  out.pathMaxX = f64(outAt + 32 * n, n).slice();
  out.pathMinY = f64(outAt + 40 * n, n).slice();
  out.pathMaxY = f64(outAt + 48 * n, n).slice();
  out.evaluations = k.modelEvaluations();
  out.polished = k.polishedModes();
  return out;
}


/** Space–time `standard`: labels, and centres as the spatial part of the mean of each cluster's modes. */
export function standardSpaceTime(pts: SpaceTimeLattice, width: number, timeWidth: number) {
  const climb = climbSpaceTime(pts, width, timeWidth);
  const { labels, count } = linkModes3(climb.modeX, climb.modeY, climb.modeT, pts.length, width / 2);
  return { climb, labels, centres: meanOfModes(climb.modeX, climb.modeY, labels, count) };
}
