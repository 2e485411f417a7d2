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
// so they are cached and shared by the nodes above and below (rowCache); alerts climb column by column.
// Trajectories are computed relative to their start pixel (time is absolute, the same in every
// frame), models relative to their node, windows summed in one canonical order (row, column, day):
// the same alert among the same alerts follows bit-identical steps in a tile and in the whole
// region, whatever the order of the alerts — what makes the halo union exact.

// The stopping constants are standard.ts's, in px of the scaled space.
import { CRAWL_BOOST, CRAWL_STEP, HANDOFF, meanOfModes, MODEL_STOP, POLISH_ITERATIONS, POLISH_STOP, STALL_STEP, TRUNCATION, TRUST } from './standard.ts';
import type { Climb } from './standard.ts';

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

/** Floats per node model: m(c) − c (x, y, t), Dm (xx, xy, xt, yy, yt, tt), ½D²m (xxx, xxy, xxt, xyy, xyt, xtt, yyy, yyt, ytt, ttt). */
const MODEL = 19;

/** Floats per cached row sum: Σ q·(1, u, e, uu, ue, ee, uuu, uue, uee, eee) over one window row. */
const ROW = 10;

/**
 * Row sums of node windows, direct-mapped by (column c, time node, row j): the sums over the alerts
 * of row j depend on (c, time node, j) only, not on the node's row, so the models of nodes above
 * and below one another (trajectories crossing a clearing) share all but one of their rows. A hit
 * returns the same numbers the loop would compute (same alerts, same order): models are
 * bit-identical whatever was cached, only cheaper.
 */
interface RowCache {
  /** Slot key (NaN: empty). */
  key: Float64Array;
  sums: Float64Array;
  mask: number;
}

function rowCache(n: number): RowCache {
  // ~4 slots per alert, 2¹²–2¹⁷ (at most 11.5 MB): on the bench tile at 30,000 alerts, climbing
  // column by column, 1.10 M of the 2.69 M rows read are summed (1.05 M distinct rows).
  let size = 1 << 12;
  while (size < 4 * n && size < 1 << 17) size *= 2;
  return { key: new Float64Array(size).fill(NaN), sums: new Float64Array(ROW * size), mask: size - 1 };
}

/**
 * One pass over the window of node (c, r, time node kk = d0/step; nK time nodes): writes its model
 * to models[m .. m + MODEL) (NaN in models[m] when no alert is within reach). Local coordinates u, v
 * (px) and e (τ px) relative to the node; per row, sums over the row's alerts (cached), then over rows.
 */
function buildModel(ix: Index, kn: Kernel, rc: RowCache, c: number, r: number, d0: number, kk: number, nK: number, models: Float64Array, m: number): void {
  const { minC, minR, maxC, maxR, stride, pre, col, unit } = ix;
  const { R, RT, a, w, wt, su } = kn;
  const { key, sums, mask } = rc;
  const jA = Math.max(r - R, minR), jB = Math.min(r + R, maxR);
  const cA = Math.max(c - R, minC) - minC, cB = Math.min(c + R, maxC) - minC;
  const key0 = (c - minC) * nK + kk, keyStride = (maxC - minC + 1) * nK;
  let S0 = 0, Su = 0, Sv = 0, Se = 0;
  let Suu = 0, Suv = 0, Sue = 0, Svv = 0, Sve = 0, See = 0;
  let Suuu = 0, Suuv = 0, Suue = 0, Suvv = 0, Suve = 0, Suee = 0, Svvv = 0, Svve = 0, Svee = 0, Seee = 0;
  for (let j = jA; j <= jB; j++) {
    const base = (j - minR) * stride;
    const q0 = pre[base + cA], q1 = pre[base + cB + 1];
    if (q0 === q1) continue;
    // Rows 8·i .. 8·i + 7 of one (column, time node) share a hashed block of 8 adjacent slots: a
    // window's 51 rows are ~7 memory blocks, not 51 scattered reads of an 11 MB table.
    const jj = j - minR, rowKey = key0 + jj * keyStride, blockKey = key0 + (jj >> 3) * keyStride;
    const h = (((Math.imul(blockKey | 0, 0x9e3779b1) ^ Math.imul((blockKey / 4294967296) | 0, 0x85ebca77)) << 3) | (jj & 7)) & mask;
    const o = ROW * h;
    let r0, ru, re, ruu, rue, ree, ruuu, ruue, ruee, reee;
    if (key[h] === rowKey) {
      r0 = sums[o];
      ru = sums[o + 1];
      re = sums[o + 2];
      ruu = sums[o + 3];
      rue = sums[o + 4];
      ree = sums[o + 5];
      ruuu = sums[o + 6];
      ruue = sums[o + 7];
      ruee = sums[o + 8];
      reee = sums[o + 9];
    } else {
      r0 = 0, ru = 0, re = 0, ruu = 0, rue = 0, ree = 0, ruuu = 0, ruue = 0, ruee = 0, reee = 0;
      for (let p = q0; p < q1; p++) {
        const de = unit[p] - d0;
        if (de < -RT || de > RT) continue;
        const u = col[p] - c, e = de * su;
        const q = w[u + R] * wt[de + RT];
        const qu = q * u, qe = q * e;
        r0 += q;
        ru += qu;
        re += qe;
        ruu += qu * u;
        rue += qu * e;
        ree += qe * e;
        ruuu += qu * u * u;
        ruue += qu * u * e;
        ruee += qu * e * e;
        reee += qe * e * e;
      }
      key[h] = rowKey;
      sums[o] = r0;
      sums[o + 1] = ru;
      sums[o + 2] = re;
      sums[o + 3] = ruu;
      sums[o + 4] = rue;
      sums[o + 5] = ree;
      sums[o + 6] = ruuu;
      sums[o + 7] = ruue;
      sums[o + 8] = ruee;
      sums[o + 9] = reee;
    }
    if (r0 === 0) continue;
    const v = j - r, wv = w[v + R];
    const a0 = wv * r0, au = wv * ru, ae = wv * re;
    S0 += a0;
    Su += au;
    Sv += a0 * v;
    Se += ae;
    Suu += wv * ruu;
    Suv += au * v;
    Sue += wv * rue;
    Svv += a0 * v * v;
    Sve += ae * v;
    See += wv * ree;
    Suuu += wv * ruuu;
    Suuv += wv * ruu * v;
    Suue += wv * ruue;
    Suvv += au * v * v;
    Suve += wv * rue * v;
    Suee += wv * ruee;
    Svvv += a0 * v * v * v;
    Svve += ae * v * v;
    Svee += wv * ree * v;
    Seee += wv * reee;
  }
  if (S0 === 0) {
    models[m] = NaN;
    return;
  }
  const mx = Su / S0, my = Sv / S0, mt = Se / S0;
  const xx = Suu / S0, xy = Suv / S0, xt = Sue / S0, yy = Svv / S0, yt = Sve / S0, tt = See / S0;
  // Third central moment κ_ijk = E[ijk] − μi·E[jk] − μj·E[ik] − μk·E[ij] + 2μiμjμk.
  const k3 = (e3: number, i: number, j: number, k: number, jk: number, ik: number, ij: number) =>
    e3 / S0 - i * jk - j * ik - k * ij + 2 * i * j * k;
  const b2 = 2 * a * a;
  models[m] = mx;
  models[m + 1] = my;
  models[m + 2] = mt;
  // Dm = 2a·Cov, ½D²m = 2a²·κ3 (derivatives of Σ K·p / Σ K for K = exp(−a·|p − y|²)).
  models[m + 3] = 2 * a * (xx - mx * mx);
  models[m + 4] = 2 * a * (xy - mx * my);
  models[m + 5] = 2 * a * (xt - mx * mt);
  models[m + 6] = 2 * a * (yy - my * my);
  models[m + 7] = 2 * a * (yt - my * mt);
  models[m + 8] = 2 * a * (tt - mt * mt);
  models[m + 9] = b2 * k3(Suuu, mx, mx, mx, xx, xx, xx);
  models[m + 10] = b2 * k3(Suuv, mx, mx, my, xy, xy, xx);
  models[m + 11] = b2 * k3(Suue, mx, mx, mt, xt, xt, xx);
  models[m + 12] = b2 * k3(Suvv, mx, my, my, yy, xy, xy);
  models[m + 13] = b2 * k3(Suve, mx, my, mt, yt, xt, xy);
  models[m + 14] = b2 * k3(Suee, mx, mt, mt, tt, xt, xt);
  models[m + 15] = b2 * k3(Svvv, my, my, my, yy, yy, yy);
  models[m + 16] = b2 * k3(Svve, my, my, mt, yt, yt, yy);
  models[m + 17] = b2 * k3(Svee, my, mt, mt, tt, yt, yt);
  models[m + 18] = b2 * k3(Seee, mt, mt, mt, tt, tt, tt);
}

/**
 * The map at a point off the lattice, without a model: node (c, r, d0 units) plus (fx, fy, ft) px, over
 * the node's window. Writes m(y) − node (x, y, t) and Dm(y) (xx, xy, xt, yy, yt, tt) to out[0..8];
 * false when no alert is within reach. Used only to polish a mode.
 */
function exactAt(ix: Index, kn: Kernel, scratch: Scratch, c: number, r: number, d0: number, fx: number, fy: number, ft: number, out: Float64Array): boolean {
  const { minC, minR, maxC, maxR, stride, pre, col, unit } = ix;
  const { R, RT, a, su } = kn;
  const { wx, wy, wt } = scratch;
  const jA = Math.max(r - R, minR), jB = Math.min(r + R, maxR);
  const cA = Math.max(c - R, minC) - minC, cB = Math.min(c + R, maxC) - minC;
  // The units the window's alerts span (a first pass): weights are needed there only.
  let eA = RT + 1, eB = -RT - 1;
  for (let j = jA; j <= jB; j++) {
    const base = (j - minR) * stride;
    for (let p = pre[base + cA], q1 = pre[base + cB + 1]; p < q1; p++) {
      const de = unit[p] - d0;
      if (de < eA && de >= -RT) eA = de;
      if (de > eB && de <= RT) eB = de;
    }
  }
  // exp(−a(k − f)²) = w[k]·g^k·exp(−a·f²) with g = exp(2a·f): each axis's weights for a fractional
  // offset are products outward from k = 0 of its fixed table (relative error ~1e-13, no exp per k).
  offsetWeights(kn.w, R, Math.exp(2 * a * fx), Math.exp(-a * fx * fx), -R, R, wx);
  offsetWeights(kn.w, R, Math.exp(2 * a * fy), Math.exp(-a * fy * fy), -R, R, wy);
  offsetWeights(kn.wt, RT, Math.exp(2 * a * su * ft), Math.exp(-a * ft * ft), eA, eB, wt);
  let S0 = 0, Su = 0, Sv = 0, Se = 0, Suu = 0, Suv = 0, Sue = 0, Svv = 0, Sve = 0, See = 0;
  for (let j = jA; j <= jB; j++) {
    const base = (j - minR) * stride;
    const v = j - r, wv = wy[v + R];
    for (let p = pre[base + cA], q1 = pre[base + cB + 1]; p < q1; p++) {
      const de = unit[p] - d0;
      if (de < eA || de > eB) continue;
      const u = col[p] - c, e = de * su;
      const q = wv * wx[u + R] * wt[de + RT];
      S0 += q;
      Su += q * u;
      Sv += q * v;
      Se += q * e;
      Suu += q * u * u;
      Suv += q * u * v;
      Sue += q * u * e;
      Svv += q * v * v;
      Sve += q * v * e;
      See += q * e * e;
    }
  }
  if (S0 === 0) return false;
  const mx = Su / S0, my = Sv / S0, mt = Se / S0;
  out[0] = mx;
  out[1] = my;
  out[2] = mt;
  out[3] = 2 * a * (Suu / S0 - mx * mx);
  out[4] = 2 * a * (Suv / S0 - mx * my);
  out[5] = 2 * a * (Sue / S0 - mx * mt);
  out[6] = 2 * a * (Svv / S0 - my * my);
  out[7] = 2 * a * (Sve / S0 - my * mt);
  out[8] = 2 * a * (See / S0 - mt * mt);
  return true;
}

/** out[k + half] = table[k + half]·g^k·h for k = lo..hi (by products outward from k = 0). */
function offsetWeights(table: Float64Array, half: number, g: number, h: number, lo: number, hi: number, out: Float64Array): void {
  for (let k = 0, p = h; k <= hi; k++, p *= g) if (k >= lo) out[k + half] = table[k + half] * p;
  for (let k = -1, p = h / g; k >= lo; k--, p /= g) if (k <= hi) out[k + half] = table[k + half] * p;
}

/** Scratch tables of exactAt: per-axis weights for a fractional offset. */
interface Scratch {
  wx: Float64Array;
  wy: Float64Array;
  wt: Float64Array;
}

/**
 * Solves A·δ = g for the symmetric A (a11, a12, a13, a22, a23, a33) by LDLᵀ into out[0..2];
 * false when A is not positive definite (a pivot ≤ 0: log f not locally concave).
 */
function solveSpd(a11: number, a12: number, a13: number, a22: number, a23: number, a33: number, g1: number, g2: number, g3: number, out: Float64Array): boolean {
  if (!(a11 > 0)) return false;
  const l21 = a12 / a11, l31 = a13 / a11;
  const d2 = a22 - l21 * a12;
  if (!(d2 > 0)) return false;
  const l32 = (a23 - l31 * a12) / d2;
  const d3 = a33 - l31 * a13 - l32 * l32 * d2;
  if (!(d3 > 0)) return false;
  const y2 = g2 - l21 * g1, y3 = g3 - l31 * g1 - l32 * y2;
  const x3 = y3 / d3, x2 = y2 / d2 - l32 * x3;
  out[2] = x3;
  out[1] = x2;
  out[0] = g1 / a11 - l21 * x2 - l31 * x3;
  return true;
}

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
  const out: SpaceTimeClimb = {
    modeX: new Float64Array(n),
    modeY: new Float64Array(n),
    modeT: new Float64Array(n),
    pathMinX: new Float64Array(n),
    pathMinY: new Float64Array(n),
    pathMaxX: new Float64Array(n),
    pathMaxY: new Float64Array(n),
    steps: 0,
    evaluations: 0,
    polished: 0,
    reach: kn.R + 0.5,
    scale: s,
  };
  if (n === 0) return out;
  const ix = indexAlerts(pts, sub);
  const { minC, minR, maxC, maxR } = ix;
  // Time nodes every `step` units (at most 1 px of τ), indexed k = kMin..kMax.
  const step = Math.max(1, Math.floor((timeWidth * sub) / width));
  const kMin = Math.floor((ix.minDay * sub) / step), kMax = Math.ceil((ix.maxDay * sub) / step);
  const boxW = maxC - minC + 1;
  // Node models, built on demand: model j belongs to time node nodeK[j] of its pixel; a pixel's
  // models form a list (head per pixel, next per model): a trajectory meets few per pixel.
  const head = new Int32Array(boxW * (maxR - minR + 1)).fill(-1);
  // Slot `cap` is the scratch slot (a model rebuilt at each use once `cap` models are kept).
  const cap = Math.max(1, modelCap);
  let nodeK = new Int32Array(Math.min(cap, Math.max(1024, 2 * n)) + 1), next = new Int32Array(nodeK.length), polishedOf = new Int32Array(nodeK.length);
  const rc = rowCache(n);
  const nK = kMax - kMin + 1;
  const scratch: Scratch = { wx: new Float64Array(2 * kn.R + 1), wy: new Float64Array(2 * kn.R + 1), wt: new Float64Array(2 * kn.RT + 1) };
  let models = new Float64Array(MODEL * nodeK.length);
  let built = 0, evaluations = 0;
  // Polished modes, 3 numbers each; the first 3 are the scratch slot's.
  const polished: number[] = [NaN, NaN, NaN];
  const exact = new Float64Array(9);
  const delta = new Float64Array(3);

  /** The mode next to node (c, r, k): exact Newton from the model's estimate (NaN: not found). */
  const polish = (c: number, r: number, k: number, models: Float64Array, m: number): [number, number, number] => {
    const d0 = k * step;
    let ox = 0, oy = 0, ot = 0;
    if (solveSpd(1 - models[m + 3], -models[m + 4], -models[m + 5], 1 - models[m + 6], -models[m + 7], 1 - models[m + 8], models[m], models[m + 1], models[m + 2], delta)) {
      ox = delta[0];
      oy = delta[1];
      ot = delta[2];
    }
    const tLimit = 1.5 * Math.max(1, step * su);
    for (let it = 0; it < POLISH_ITERATIONS; it++) {
      if (!(Math.abs(ox) <= 1.5 && Math.abs(oy) <= 1.5 && Math.abs(ot) <= tLimit)) break;
      const px = Math.round(ox), py = Math.round(oy);
      const cc = c + px, rr = r + py;
      if (cc < minC || cc > maxC || rr < minR || rr > maxR) break;
      if (!exactAt(ix, kn, scratch, cc, rr, d0, ox - px, oy - py, ot, exact)) break;
      const gx = px + exact[0] - ox, gy = py + exact[1] - oy, gt = exact[2] - ot;
      if (!solveSpd(1 - exact[3], -exact[4], -exact[5], 1 - exact[6], -exact[7], 1 - exact[8], gx, gy, gt, delta)) break;
      ox += delta[0];
      oy += delta[1];
      ot += delta[2];
      if (delta[0] ** 2 + delta[1] ** 2 + delta[2] ** 2 < POLISH_STOP * POLISH_STOP) return [ox, oy, ot];
    }
    return [NaN, NaN, NaN];
  };

  const handoff2 = HANDOFF * HANDOFF;
  const modelStop2 = MODEL_STOP * MODEL_STOP;
  const stall2 = STALL_STEP * STALL_STEP;
  const trust = TRUST * width, trust2 = trust * trust;
  const crawl2 = CRAWL_STEP * CRAWL_STEP;
  const perSu = 1 / su, perStep = 1 / step;
  let totalSteps = 0;

  // Climbs column by column, down each column: the next alert's start node is usually the one
  // below, whose window shares all but one row sum with this one's (rowCache). Each climb is
  // independent of the others (models depend on their node only), so the order changes speed only.
  const order = columnMajor(pts, minC, maxC, minR, maxR);
  let lastPixel = -1, lastK = 0, lastJ = -1;
  for (let o = 0; o < n; o++) {
    const i = order[o];
    const sx = pts.col[i], sy = pts.row[i], sd = pts.days[i];
    // Position relative to the start alert: x, y in px (frame-independent), t in τ px.
    let dx = 0, dy = 0, dt = 0;
    let loX = 0, hiX = 0, loY = 0, hiY = 0;
    let steps = 0;
    for (;;) {
      const c = Math.min(maxC, Math.max(minC, sx + Math.round(dx)));
      const r = Math.min(maxR, Math.max(minR, sy + Math.round(dy)));
      const k = Math.min(kMax, Math.max(kMin, Math.round((sd * sub + dt * perSu) * perStep)));
      const pixel = (r - minR) * boxW + (c - minC);
      // Most steps stay on the node of the step before (steps of 0.01–0.1 px on flat tops).
      let j = lastJ;
      if (pixel !== lastPixel || k !== lastK) {
        j = head[pixel];
        while (j >= 0 && nodeK[j] !== k) j = next[j];
        if (j < 0) {
          if (built < cap) {
            j = built++;
            if (j === nodeK.length - 1) {
              // Grow (the last slot is the scratch one: moved up, it is rebuilt anyway).
              const size = Math.min(cap, 2 * j) + 1;
              const grow = <A extends Int32Array | Float64Array>(from: A, to: A) => (to.set(from.subarray(0, to.length)), to);
              nodeK = grow(nodeK, new Int32Array(size));
              next = grow(next, new Int32Array(size));
              polishedOf = grow(polishedOf, new Int32Array(size));
              models = grow(models, new Float64Array(MODEL * size));
            }
            nodeK[j] = k;
            next[j] = head[pixel];
            head[pixel] = j;
            polishedOf[j] = -1;
          } else {
            j = nodeK.length - 1;
            polishedOf[j] = 0;
            polished[0] = NaN;
          }
          buildModel(ix, kn, rc, c, r, k * step, k - kMin, nK, models, j * MODEL);
          evaluations++;
        }
        lastPixel = pixel;
        lastK = k;
        lastJ = j;
      }
      const m = j * MODEL;
      if (models[m] !== models[m]) break; // NaN: no alert within reach (safety)
      // z = y − node; m(y) = node + (m(c) − c) + Dm·z + ½D²m[z, z].
      const ox = c - sx, oy = r - sy, ot = (k * step - sd * sub) * su;
      const zx = dx - ox, zy = dy - oy, zt = dt - ot;
      const Txxx = models[m + 9], Txxy = models[m + 10], Txxt = models[m + 11], Txyy = models[m + 12], Txyt = models[m + 13];
      const Txtt = models[m + 14], Tyyy = models[m + 15], Tyyt = models[m + 16], Tytt = models[m + 17], Tttt = models[m + 18];
      const Dxx = models[m + 3], Dxy = models[m + 4], Dxt = models[m + 5], Dyy = models[m + 6], Dyt = models[m + 7], Dtt = models[m + 8];
      // Per output i: the quadratic form Σ_jk T_ijk z_j z_k and the Jacobian row D_ij + 2 Σ_k T_ijk z_k.
      const zxx = zx * zx, zyy = zy * zy, ztt = zt * zt, zxy2 = 2 * zx * zy, zxt2 = 2 * zx * zt, zyt2 = 2 * zy * zt;
      const nx = ox + models[m] + Dxx * zx + Dxy * zy + Dxt * zt + Txxx * zxx + Txyy * zyy + Txtt * ztt + Txxy * zxy2 + Txxt * zxt2 + Txyt * zyt2;
      const ny = oy + models[m + 1] + Dxy * zx + Dyy * zy + Dyt * zt + Txxy * zxx + Tyyy * zyy + Tytt * ztt + Txyy * zxy2 + Txyt * zxt2 + Tyyt * zyt2;
      const nt = ot + models[m + 2] + Dxt * zx + Dyt * zy + Dtt * zt + Txxt * zxx + Tyyt * zyy + Tttt * ztt + Txyt * zxy2 + Txtt * zxt2 + Tytt * zyt2;
      const gx = nx - dx, gy = ny - dy, gt = nt - dt;
      const g2 = gx * gx + gy * gy + gt * gt;
      // A = I − Dm(y): positive definite ⇔ log f locally concave (standard.ts explains the rule).
      const a11 = 1 - (Dxx + 2 * (Txxx * zx + Txxy * zy + Txxt * zt));
      const a12 = -(Dxy + 2 * (Txxy * zx + Txyy * zy + Txyt * zt));
      const a13 = -(Dxt + 2 * (Txxt * zx + Txyt * zy + Txtt * zt));
      const a22 = 1 - (Dyy + 2 * (Txyy * zx + Tyyy * zy + Tyyt * zt));
      const a23 = -(Dyt + 2 * (Txyt * zx + Tyyt * zy + Tytt * zt));
      const a33 = 1 - (Dtt + 2 * (Txtt * zx + Tytt * zy + Tttt * zt));
      steps++;
      let done = g2 < stall2;
      if (done) {
        dx = nx;
        dy = ny;
        dt = nt;
      } else if (solveSpd(a11, a12, a13, a22, a23, a33, gx, gy, gt, delta)) {
        const ux = delta[0], uy = delta[1], ut = delta[2];
        const u2 = ux * ux + uy * uy + ut * ut;
        if (u2 < handoff2) {
          let p = polishedOf[j];
          if (p < 0) {
            p = polishedOf[j] = polished.length;
            polished.push(...polish(c, r, k, models, m));
          } else if (p === 0 && polished[0] !== polished[0]) {
            [polished[0], polished[1], polished[2]] = polish(c, r, k, models, m); // the scratch slot's node
          }
          const px = ox + polished[p], py = oy + polished[p + 1], pt = ot + polished[p + 2];
          const ex = px - dx - ux, ey = py - dy - uy, et = pt - dt - ut;
          if (ex * ex + ey * ey + et * et < handoff2) {
            dx = px;
            dy = py;
            dt = pt;
            // The polish read windows of pixels up to 2 px from this node: the box covers them.
            loX = Math.min(loX, ox - 2);
            hiX = Math.max(hiX, ox + 2);
            loY = Math.min(loY, oy - 2);
            hiY = Math.max(hiY, oy + 2);
            done = true;
          }
        }
        if (done) {
          // handed to the polished mode
        } else if (u2 <= trust2) {
          dx += ux;
          dy += uy;
          dt += ut;
          done = u2 < modelStop2;
        } else if (g2 < crawl2) {
          const scale = trust / Math.sqrt(u2);
          dx += ux * scale;
          dy += uy * scale;
          dt += ut * scale;
        } else {
          dx = nx;
          dy = ny;
          dt = nt;
        }
      } else {
        const boost = g2 < crawl2 ? Math.min(CRAWL_BOOST, trust / Math.sqrt(g2)) : 1;
        dx += gx * boost;
        dy += gy * boost;
        dt += gt * boost;
      }
      if (dx < loX) loX = dx;
      if (dx > hiX) hiX = dx;
      if (dy < loY) loY = dy;
      if (dy > hiY) hiY = dy;
      if (done || steps >= MAX_STEPS) break;
    }
    totalSteps += steps;
    out.modeX[i] = sx + dx;
    out.modeY[i] = sy + dy;
    out.modeT[i] = sd * s + dt;
    out.pathMinX[i] = sx + loX;
    out.pathMaxX[i] = sx + hiX;
    out.pathMinY[i] = sy + loY;
    out.pathMaxY[i] = sy + hiY;
  }
  out.steps = totalSteps;
  out.evaluations = evaluations;
  out.polished = polished.length / 3 - 1;
  return out;
}

/**
 * Connected components of "mode i — mode j when their (x, y, t) distance < link": deterministic
 * and independent of the order of the modes; labels 0..k-1 in order of each component's first
 * mode. Buckets of side link/√3 are cliques (diagonal = link, cells half-open), so only pairs of
 * cells within two cells per axis are tested, and only until one link joins them.
 */
export function linkModes3(modeX: Float64Array, modeY: Float64Array, modeT: Float64Array, n: number, link: number): { labels: Int32Array; count: number } {
  const parent = Int32Array.from({ length: n }, (_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]];
    return i;
  };
  const union = (i: number, j: number) => {
    const a = find(i), b = find(j);
    if (a !== b) parent[Math.max(a, b)] = Math.min(a, b);
  };
  const cell = link / Math.sqrt(3);
  const gx = new Float64Array(n), gy = new Float64Array(n), gt = new Float64Array(n);
  let x0 = Infinity, y0 = Infinity, t0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (let i = 0; i < n; i++) {
    gx[i] = Math.floor(modeX[i] / cell);
    gy[i] = Math.floor(modeY[i] / cell);
    gt[i] = Math.floor(modeT[i] / cell);
    x0 = Math.min(x0, gx[i]);
    x1 = Math.max(x1, gx[i]);
    y0 = Math.min(y0, gy[i]);
    y1 = Math.max(y1, gy[i]);
    t0 = Math.min(t0, gt[i]);
  }
  // Numeric cell keys, with a spare column and row so that neighbours never wrap into another row.
  const nx = x1 - x0 + 5, ny = y1 - y0 + 5;
  const keyOf = (cx: number, cy: number, ct: number) => ((ct - t0 + 2) * ny + (cy - y0 + 2)) * nx + (cx - x0 + 2);
  const cells = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const key = keyOf(gx[i], gy[i], gt[i]);
    const list = cells.get(key);
    if (list) {
      union(list[0], i); // same cell ⇒ distance < link
      list.push(i);
    } else cells.set(key, [i]);
  }
  // Bounding box of each cell's modes, to skip pairs of cells that cannot link.
  const box = new Map<number, Float64Array>();
  for (const [key, list] of cells) {
    const b = Float64Array.of(Infinity, Infinity, Infinity, -Infinity, -Infinity, -Infinity);
    for (const i of list) {
      b[0] = Math.min(b[0], modeX[i]);
      b[1] = Math.min(b[1], modeY[i]);
      b[2] = Math.min(b[2], modeT[i]);
      b[3] = Math.max(b[3], modeX[i]);
      b[4] = Math.max(b[4], modeY[i]);
      b[5] = Math.max(b[5], modeT[i]);
    }
    box.set(key, b);
  }
  const gap = (a: Float64Array, b: Float64Array, k: number) => Math.max(0, b[k] - a[k + 3], a[k] - b[k + 3]);
  const link2 = link * link;
  for (const [key, list] of cells) {
    const i0 = list[0], bi = box.get(key)!;
    for (let ot = 0; ot <= 2; ot++) {
      for (let oy = -2; oy <= 2; oy++) {
        for (let ox = -2; ox <= 2; ox++) {
          if (ot === 0 && (oy < 0 || (oy === 0 && ox <= 0))) continue; // each pair of cells once
          const otherKey = keyOf(gx[i0] + ox, gy[i0] + oy, gt[i0] + ot);
          const other = cells.get(otherKey);
          if (!other || find(i0) === find(other[0])) continue;
          const bj = box.get(otherKey)!;
          if (gap(bi, bj, 0) ** 2 + gap(bi, bj, 1) ** 2 + gap(bi, bj, 2) ** 2 >= link2) continue;
          search: for (const i of list) {
            for (const j of other) {
              const ex = modeX[i] - modeX[j], ey = modeY[i] - modeY[j], et = modeT[i] - modeT[j];
              if (ex * ex + ey * ey + et * et < link2) {
                union(i, j);
                break search;
              }
            }
          }
        }
      }
    }
  }
  const labels = new Int32Array(n);
  const labelOfRoot = new Int32Array(n).fill(-1);
  let count = 0;
  for (let i = 0; i < n; i++) {
    const root = find(i);
    if (labelOfRoot[root] < 0) labelOfRoot[root] = count++;
    labels[i] = labelOfRoot[root];
  }
  return { labels, count };
}

/** Space–time `standard`: labels, and centres as the spatial part of the mean of each cluster's modes. */
export function standardSpaceTime(pts: SpaceTimeLattice, width: number, timeWidth: number) {
  const climb = climbSpaceTime(pts, width, timeWidth);
  const { labels, count } = linkModes3(climb.modeX, climb.modeY, climb.modeT, pts.length, width / 2);
  return { climb, labels, centres: meanOfModes(climb.modeX, climb.modeY, labels, count) };
}
