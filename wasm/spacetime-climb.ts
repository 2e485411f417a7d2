// AssemblyScript: the climbs of core/meanshift/standard-spacetime.ts (climbSpaceTime), the same
// arithmetic in the same order, so every mode, path box and count is bit-identical to the
// JavaScript it replaces (as wasm/standard-climb.ts is for the spatial climbs).
// `npm run build:wasm` compiles it into core/meanshift/spacetime-climb-wasm.ts (base64).
//
// The host owns the memory layout (setLayout): the alerts in climbing order, the index, the kernel
// tables, the row-sum cache, a list head per pixel of the box, the outputs, and last the node
// records. When the records outgrow the memory it grows (the host reads the outputs after).
// Math.exp comes from the host, so the exact evaluations match the JavaScript bit for bit.

import { crawl2, crawlBoost, handoff2, maxSteps, modelStop2, polishIterations, polishStop2, roundJs, stall2, trust, trust2 } from './climb-rules';
import { f64At, i32At, setF64 } from './memory';
export { setRules } from './climb-rules';

@external("env", "exp") declare function hostExp(x: f64): f64;

// ---- layout (byte offsets) ----
let orderPtr: usize = 0; // i32 × n: the alerts, in climbing order
let colPtr: usize = 0; // i32 × n: the alerts' columns, rows, days (by alert)
let rowPtr: usize = 0;
let dayPtr: usize = 0;
let prePtr: usize = 0; // i32: the index's prefix counts
let icolPtr: usize = 0; // i32 × n: the index's columns (by slot)
let unitPtr: usize = 0; // i32 × n: the index's time units (by slot)
let headPtr: usize = 0; // i32 per pixel of the box: first node record + 1 (0: none)
let wPtr: usize = 0; // f64 × (2R + 1): space weights
let wtPtr: usize = 0; // f64 × (2RT + 1): time weights
let wxPtr: usize = 0; // f64 scratch of exactAt: wx, wy (2R + 1), wt (2RT + 1)
let wyPtr: usize = 0;
let wtsPtr: usize = 0;
let sumsPtr: usize = 0; // f64 × ROW per cache slot: the row's key (NaN: empty), then its sums
let outPtr: usize = 0; // f64 × n each: modeX, modeY, modeT, pathMinX, pathMaxX, pathMinY, pathMaxY
let nodesPtr: usize = 0; // node records (NODE f64 each), up to the end of the memory

// ---- the box, the kernel, the rules ----
let n: i32 = 0;
let minC: i32 = 0;
let minR: i32 = 0;
let maxC: i32 = 0;
let maxR: i32 = 0;
let stride: i32 = 0;
let boxW: i32 = 0;
let R: i32 = 0;
let RT: i32 = 0;
let a: f64 = 0;
let sub: i32 = 0;
let su: f64 = 0;
let s: f64 = 0;
let step: i32 = 0;
let kMin: i32 = 0;
let kMax: i32 = 0;
let nK: i32 = 0;
let mask: i32 = 0;
let cap: i32 = 0;

// ---- counters ----
let built: i32 = 0;
let evaluations: i32 = 0;
let polishedCount: i32 = 0;

/**
 * Doubles of a cache slot: the row's key, then its sums Σ q·(1, u, e, uu, ue, ee, uuu, uue, uee,
 * eee). The key sits with its sums: a hit reads one place in memory, not two.
 */
const ROW: i32 = 11;
/**
 * Doubles of a node record: its model (19: m(c) − c (x, y, t), Dm (xx, xy, xt, yy, yt, tt), ½D²m
 * (xxx, xxy, xxt, xyy, xyt, xtt, yyy, yyt, ytt, ttt)), its time node, the next record of its pixel
 * + 1, whether its mode was polished, and the polished mode's offset (x, y, t). Record 0 is the
 * scratch node (rebuilt at each use once `cap` nodes are kept).
 */
const NODE: i32 = 25;
const K_AT: i32 = 19;
const NEXT_AT: i32 = 20;
const POLISHED_AT: i32 = 21;
const MODE_AT: i32 = 22;

export function setLayout(order: usize, col: usize, row: usize, day: usize, pre: usize, icol: usize, unit: usize, head: usize, w: usize, wt: usize, wx: usize, wy: usize, wts: usize, sums: usize, out: usize, nodes: usize): void {
  orderPtr = order;
  colPtr = col;
  rowPtr = row;
  dayPtr = day;
  prePtr = pre;
  icolPtr = icol;
  unitPtr = unit;
  headPtr = head;
  wPtr = w;
  wtPtr = wt;
  wxPtr = wx;
  wyPtr = wy;
  wtsPtr = wts;
  sumsPtr = sums;
  outPtr = out;
  nodesPtr = nodes;
  built = 0;
  evaluations = 0;
  polishedCount = 0;
}

export function setBox(count: i32, c0: i32, r0: i32, c1: i32, r1: i32, rowStride: i32, cacheMask: i32, nodeCap: i32): void {
  n = count;
  minC = c0;
  minR = r0;
  maxC = c1;
  maxR = r1;
  stride = rowStride;
  boxW = c1 - c0 + 1;
  mask = cacheMask;
  cap = nodeCap;
}

export function setKernel(radius: i32, timeRadius: i32, alpha: f64, units: i32, pxPerUnit: f64, pxPerDay: f64, nodeStep: i32, k0: i32, k1: i32): void {
  R = radius;
  RT = timeRadius;
  a = alpha;
  sub = units;
  su = pxPerUnit;
  s = pxPerDay;
  step = nodeStep;
  kMin = k0;
  kMax = k1;
  nK = k1 - k0 + 1;
}

export function modelEvaluations(): i32 {
  return evaluations;
}

export function polishedModes(): i32 {
  return polishedCount;
}

/** Double d of node record j. */
@inline function nodeAt(j: i32, d: i32): f64 {
  return f64At(nodesPtr, j * NODE + d);
}
@inline function setNode(j: i32, d: i32, v: f64): void {
  setF64(nodesPtr, j * NODE + d, v);
}

/** κ_ijk = E[ijk] − μi·E[jk] − μj·E[ik] − μk·E[ij] + 2μiμjμk (buildModel's k3). */
@inline function k3(e3: f64, S0: f64, i: f64, j: f64, k: f64, jk: f64, ik: f64, ij: f64): f64 {
  return e3 / S0 - i * jk - j * ik - k * ij + 2 * i * j * k;
}

/** buildModel of standard-spacetime.ts: the model of node (c, r, time node kk; d0 units) into record j, not polished yet. */
function buildModel(c: i32, r: i32, d0: i32, kk: i32, j: i32): void {
  // The module's globals in locals: V8 reloads a global at each use, in the inner loop too.
  const unitL = unitPtr, icolL = icolPtr, wL = wPtr, wtL = wtPtr, preL = prePtr, sumsL = sumsPtr, rtL = RT, rL = R, suL = su, maskL = mask, strideL = stride, minRL = minR;
  const jA = max(r - rL, minRL), jB = min(r + rL, maxR);
  const cA = max(c - rL, minC) - minC, cB = min(c + rL, maxC) - minC;
  const key0 = <f64>((c - minC) * nK + kk), keyStride = <f64>((maxC - minC + 1) * nK);
  let S0: f64 = 0, Su: f64 = 0, Sv: f64 = 0, Se: f64 = 0;
  let Suu: f64 = 0, Suv: f64 = 0, Sue: f64 = 0, Svv: f64 = 0, Sve: f64 = 0, See: f64 = 0;
  let Suuu: f64 = 0, Suuv: f64 = 0, Suue: f64 = 0, Suvv: f64 = 0, Suve: f64 = 0, Suee: f64 = 0, Svvv: f64 = 0, Svve: f64 = 0, Svee: f64 = 0, Seee: f64 = 0;
  let block = -1, blockHash = 0;
  for (let y = jA; y <= jB; y++) {
    const base = (y - minRL) * strideL;
    const q0 = i32At(preL, base + cA), q1 = i32At(preL, base + cB + 1);
    if (q0 == q1) continue;
    // Rows 8·i .. 8·i + 7 of one (column, time node) share a hashed block of 8 adjacent slots.
    const jj = y - minRL;
    if (jj >> 3 != block) {
      block = jj >> 3;
      const bk = <i64>(key0 + <f64>block * keyStride);
      blockHash = (((<i32>bk) * <i32>0x9e3779b1) ^ ((<i32>(bk >> 32)) * <i32>0x85ebca77)) << 3;
    }
    const rowKey = key0 + <f64>jj * keyStride;
    const h = (blockHash | (jj & 7)) & maskL;
    const o = ROW * h;
    let r0: f64, ru: f64, re: f64, ruu: f64, rue: f64, ree: f64, ruuu: f64, ruue: f64, ruee: f64, reee: f64;
    if (f64At(sumsL, o) == rowKey) {
      r0 = f64At(sumsL, o + 1);
      ru = f64At(sumsL, o + 2);
      re = f64At(sumsL, o + 3);
      ruu = f64At(sumsL, o + 4);
      rue = f64At(sumsL, o + 5);
      ree = f64At(sumsL, o + 6);
      ruuu = f64At(sumsL, o + 7);
      ruue = f64At(sumsL, o + 8);
      ruee = f64At(sumsL, o + 9);
      reee = f64At(sumsL, o + 10);
    } else {
      // Two sums a lane (f64x2: the same products and sums as scalar code, in the same order).
      let s0: f64 = 0;
      let sA = f64x2.splat(0), sB = f64x2.splat(0), sC = f64x2.splat(0), sD = f64x2.splat(0), sE = f64x2.splat(0);
      for (let p = q0; p < q1; p++) {
        const de = i32At(unitL, p) - d0;
        if (de < -rtL || de > rtL) continue;
        const u = <f64>(i32At(icolL, p) - c), e = <f64>de * suL;
        const q = f64At(wL, i32At(icolL, p) - c + rL) * f64At(wtL, de + rtL);
        const ue = f64x2(u, e), ee = f64x2.splat(e);
        const P = f64x2.mul(f64x2.splat(q), ue); // qu, qe
        const Q = f64x2.mul(f64x2.splat(f64x2.extract_lane(P, 0)), ue); // qu·u, qu·e
        const W = f64x2.mul(P, ee); // qu·e, qe·e
        s0 += q;
        sA = f64x2.add(sA, P);
        sB = f64x2.add(sB, Q);
        sE = f64x2.add(sE, W);
        sC = f64x2.add(sC, f64x2.mul(f64x2.splat(f64x2.extract_lane(Q, 0)), ue)); // qu·u·u, qu·u·e
        sD = f64x2.add(sD, f64x2.mul(W, ee)); // qu·e·e, qe·e·e
      }
      r0 = s0;
      ru = f64x2.extract_lane(sA, 0);
      re = f64x2.extract_lane(sA, 1);
      ruu = f64x2.extract_lane(sB, 0);
      rue = f64x2.extract_lane(sB, 1);
      ree = f64x2.extract_lane(sE, 1);
      ruuu = f64x2.extract_lane(sC, 0);
      ruue = f64x2.extract_lane(sC, 1);
      ruee = f64x2.extract_lane(sD, 0);
      reee = f64x2.extract_lane(sD, 1);
      setF64(sumsL, o, rowKey);
      setF64(sumsL, o + 1, r0);
      setF64(sumsL, o + 2, ru);
      setF64(sumsL, o + 3, re);
      setF64(sumsL, o + 4, ruu);
      setF64(sumsL, o + 5, rue);
      setF64(sumsL, o + 6, ree);
      setF64(sumsL, o + 7, ruuu);
      setF64(sumsL, o + 8, ruue);
      setF64(sumsL, o + 9, ruee);
      setF64(sumsL, o + 10, reee);
    }
    if (r0 == 0) continue;
    const vi = y - r;
    const v = <f64>vi, wv = f64At(wL, vi + rL);
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
  setNode(j, POLISHED_AT, 0);
  if (S0 == 0) {
    setNode(j, 0, NaN);
    return;
  }
  const mx = Su / S0, my = Sv / S0, mt = Se / S0;
  const xx = Suu / S0, xy = Suv / S0, xt = Sue / S0, yy = Svv / S0, yt = Sve / S0, tt = See / S0;
  const b2 = 2 * a * a;
  setNode(j, 0, mx);
  setNode(j, 1, my);
  setNode(j, 2, mt);
  setNode(j, 3, 2 * a * (xx - mx * mx));
  setNode(j, 4, 2 * a * (xy - mx * my));
  setNode(j, 5, 2 * a * (xt - mx * mt));
  setNode(j, 6, 2 * a * (yy - my * my));
  setNode(j, 7, 2 * a * (yt - my * mt));
  setNode(j, 8, 2 * a * (tt - mt * mt));
  setNode(j, 9, b2 * k3(Suuu, S0, mx, mx, mx, xx, xx, xx));
  setNode(j, 10, b2 * k3(Suuv, S0, mx, mx, my, xy, xy, xx));
  setNode(j, 11, b2 * k3(Suue, S0, mx, mx, mt, xt, xt, xx));
  setNode(j, 12, b2 * k3(Suvv, S0, mx, my, my, yy, xy, xy));
  setNode(j, 13, b2 * k3(Suve, S0, mx, my, mt, yt, xt, xy));
  setNode(j, 14, b2 * k3(Suee, S0, mx, mt, mt, tt, xt, xt));
  setNode(j, 15, b2 * k3(Svvv, S0, my, my, my, yy, yy, yy));
  setNode(j, 16, b2 * k3(Svve, S0, my, my, mt, yt, yt, yy));
  setNode(j, 17, b2 * k3(Svee, S0, my, mt, mt, tt, yt, yt));
  setNode(j, 18, b2 * k3(Seee, S0, mt, mt, mt, tt, tt, tt));
}

/** offsetWeights of standard-spacetime.ts: out[k + half] = table[k + half]·g^k·h for k = lo..hi. */
function offsetWeights(table: usize, half: i32, g: f64, h: f64, lo: i32, hi: i32, out: usize): void {
  let p = h;
  for (let k = 0; k <= hi; k++) {
    if (k >= lo) setF64(out, k + half, f64At(table, k + half) * p);
    p *= g;
  }
  p = h / g;
  for (let k = -1; k >= lo; k--) {
    if (k <= hi) setF64(out, k + half, f64At(table, k + half) * p);
    p /= g;
  }
}

// exactAt's results and solveSpd's, in globals (no memory, no allocation).
let e0: f64 = 0, e1: f64 = 0, e2: f64 = 0, e3: f64 = 0, e4: f64 = 0, e5: f64 = 0, e6: f64 = 0, e7: f64 = 0, e8: f64 = 0;
let d0x: f64 = 0, d0y: f64 = 0, d0t: f64 = 0;

/** exactAt of standard-spacetime.ts: the map at node (c, r, d0 units) + (fx, fy, ft) into e0..e8; false when no alert is within reach. */
function exactAt(c: i32, r: i32, d0: i32, fx: f64, fy: f64, ft: f64): bool {
  const jA = max(r - R, minR), jB = min(r + R, maxR);
  const cA = max(c - R, minC) - minC, cB = min(c + R, maxC) - minC;
  let eA = RT + 1, eB = -RT - 1;
  for (let y = jA; y <= jB; y++) {
    const base = (y - minR) * stride;
    for (let p = i32At(prePtr, base + cA), q1 = i32At(prePtr, base + cB + 1); p < q1; p++) {
      const de = i32At(unitPtr, p) - d0;
      if (de < eA && de >= -RT) eA = de;
      if (de > eB && de <= RT) eB = de;
    }
  }
  offsetWeights(wPtr, R, hostExp(2 * a * fx), hostExp(-a * fx * fx), -R, R, wxPtr);
  offsetWeights(wPtr, R, hostExp(2 * a * fy), hostExp(-a * fy * fy), -R, R, wyPtr);
  offsetWeights(wtPtr, RT, hostExp(2 * a * su * ft), hostExp(-a * ft * ft), eA, eB, wtsPtr);
  let S0: f64 = 0, Su: f64 = 0, Sv: f64 = 0, Se: f64 = 0, Suu: f64 = 0, Suv: f64 = 0, Sue: f64 = 0, Svv: f64 = 0, Sve: f64 = 0, See: f64 = 0;
  for (let y = jA; y <= jB; y++) {
    const base = (y - minR) * stride;
    const vi = y - r;
    const v = <f64>vi, wv = f64At(wyPtr, vi + R);
    for (let p = i32At(prePtr, base + cA), q1 = i32At(prePtr, base + cB + 1); p < q1; p++) {
      const de = i32At(unitPtr, p) - d0;
      if (de < eA || de > eB) continue;
      const ui = i32At(icolPtr, p) - c;
      const u = <f64>ui, e = <f64>de * su;
      const q = wv * f64At(wxPtr, ui + R) * f64At(wtsPtr, de + RT);
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
  if (S0 == 0) return false;
  const mx = Su / S0, my = Sv / S0, mt = Se / S0;
  e0 = mx;
  e1 = my;
  e2 = mt;
  e3 = 2 * a * (Suu / S0 - mx * mx);
  e4 = 2 * a * (Suv / S0 - mx * my);
  e5 = 2 * a * (Sue / S0 - mx * mt);
  e6 = 2 * a * (Svv / S0 - my * my);
  e7 = 2 * a * (Sve / S0 - my * mt);
  e8 = 2 * a * (See / S0 - mt * mt);
  return true;
}

/** solveSpd of standard-spacetime.ts: A·δ = g by LDLᵀ into d0x, d0y, d0t; false when A is not positive definite. */
function solveSpd(a11: f64, a12: f64, a13: f64, a22: f64, a23: f64, a33: f64, g1: f64, g2: f64, g3: f64): bool {
  if (!(a11 > 0)) return false;
  const l21 = a12 / a11, l31 = a13 / a11;
  const d2 = a22 - l21 * a12;
  if (!(d2 > 0)) return false;
  const l32 = (a23 - l31 * a12) / d2;
  const d3 = a33 - l31 * a13 - l32 * l32 * d2;
  if (!(d3 > 0)) return false;
  const y2 = g2 - l21 * g1, y3 = g3 - l31 * g1 - l32 * y2;
  const x3 = y3 / d3, x2 = y2 / d2 - l32 * x3;
  d0t = x3;
  d0y = x2;
  d0x = g1 / a11 - l21 * x2 - l31 * x3;
  return true;
}

/** polish of standard-spacetime.ts: the mode next to node (c, r, k) of record j into its record (NaN: none). */
function polish(c: i32, r: i32, k: i32, j: i32): void {
  const d0 = k * step;
  let ox: f64 = 0, oy: f64 = 0, ot: f64 = 0;
  if (solveSpd(1 - nodeAt(j, 3), -nodeAt(j, 4), -nodeAt(j, 5), 1 - nodeAt(j, 6), -nodeAt(j, 7), 1 - nodeAt(j, 8), nodeAt(j, 0), nodeAt(j, 1), nodeAt(j, 2))) {
    ox = d0x;
    oy = d0y;
    ot = d0t;
  }
  const tLimit = 1.5 * max(<f64>1, <f64>step * su);
  let rx: f64 = NaN, ry: f64 = NaN, rt: f64 = NaN;
  for (let it = 0; it < polishIterations; it++) {
    if (!(Math.abs(ox) <= 1.5 && Math.abs(oy) <= 1.5 && Math.abs(ot) <= tLimit)) break;
    const px = roundJs(ox), py = roundJs(oy);
    const cc = c + <i32>px, rr = r + <i32>py;
    if (cc < minC || cc > maxC || rr < minR || rr > maxR) break;
    if (!exactAt(cc, rr, d0, ox - px, oy - py, ot)) break;
    const gx = px + e0 - ox, gy = py + e1 - oy, gt = e2 - ot;
    if (!solveSpd(1 - e3, -e4, -e5, 1 - e6, -e7, 1 - e8, gx, gy, gt)) break;
    ox += d0x;
    oy += d0y;
    ot += d0t;
    if (d0x * d0x + d0y * d0y + d0t * d0t < polishStop2) {
      rx = ox;
      ry = oy;
      rt = ot;
      break;
    }
  }
  setNode(j, POLISHED_AT, 1);
  setNode(j, MODE_AT, rx);
  setNode(j, MODE_AT + 1, ry);
  setNode(j, MODE_AT + 2, rt);
}

/** The climbs of climbSpaceTime, in the host's order; returns the steps taken. */
export function climb(): f64 {
  const perSu = 1 / su, perStep = 1 / <f64>step;
  let total: f64 = 0;
  let lastPixel = -1, lastK = 0, lastJ = -1;
  for (let o = 0; o < n; o++) {
    const i = i32At(orderPtr, o);
    const sx = i32At(colPtr, i), sy = i32At(rowPtr, i), sd = i32At(dayPtr, i);
    let dx: f64 = 0, dy: f64 = 0, dt: f64 = 0;
    let loX: f64 = 0, hiX: f64 = 0, loY: f64 = 0, hiY: f64 = 0;
    let steps: i32 = 0;
    for (;;) {
      const c = min(maxC, max(minC, sx + <i32>roundJs(dx)));
      const r = min(maxR, max(minR, sy + <i32>roundJs(dy)));
      const k = min(kMax, max(kMin, <i32>roundJs((<f64>(sd * sub) + dt * perSu) * perStep)));
      const pixel = (r - minR) * boxW + (c - minC);
      let j = lastJ;
      if (pixel != lastPixel || k != lastK) {
        j = i32At(headPtr, pixel) - 1;
        while (j >= 0 && <i32>nodeAt(j, K_AT) != k) j = <i32>nodeAt(j, NEXT_AT) - 1;
        if (j < 0) {
          if (built < cap) {
            j = ++built; // record 0 is the scratch node
            const end = nodesPtr + ((<usize>(j + 1) * NODE) << 3);
            if (end > (<usize>memory.size() << 16)) {
              if (memory.grow(max(1, <i32>(((<usize>j * NODE) << 3) >> 16))) < 0) unreachable();
            }
            setNode(j, K_AT, <f64>k);
            setNode(j, NEXT_AT, <f64>i32At(headPtr, pixel));
            store<i32>(headPtr + (<usize>pixel << 2), j + 1);
          } else {
            j = 0;
          }
          buildModel(c, r, k * step, k - kMin, j);
          evaluations++;
        }
        lastPixel = pixel;
        lastK = k;
        lastJ = j;
      }
      const v0 = nodeAt(j, 0);
      if (isNaN(v0)) break;
      const ox = <f64>(c - sx), oy = <f64>(r - sy), ot = (<f64>(k * step) - <f64>(sd * sub)) * su;
      const zx = dx - ox, zy = dy - oy, zt = dt - ot;
      const Txxx = nodeAt(j, 9), Txxy = nodeAt(j, 10), Txxt = nodeAt(j, 11), Txyy = nodeAt(j, 12), Txyt = nodeAt(j, 13);
      const Txtt = nodeAt(j, 14), Tyyy = nodeAt(j, 15), Tyyt = nodeAt(j, 16), Tytt = nodeAt(j, 17), Tttt = nodeAt(j, 18);
      const Dxx = nodeAt(j, 3), Dxy = nodeAt(j, 4), Dxt = nodeAt(j, 5), Dyy = nodeAt(j, 6), Dyt = nodeAt(j, 7), Dtt = nodeAt(j, 8);
      const zxx = zx * zx, zyy = zy * zy, ztt = zt * zt, zxy2 = 2 * zx * zy, zxt2 = 2 * zx * zt, zyt2 = 2 * zy * zt;
      const nx = ox + v0 + Dxx * zx + Dxy * zy + Dxt * zt + Txxx * zxx + Txyy * zyy + Txtt * ztt + Txxy * zxy2 + Txxt * zxt2 + Txyt * zyt2;
      const ny = oy + nodeAt(j, 1) + Dxy * zx + Dyy * zy + Dyt * zt + Txxy * zxx + Tyyy * zyy + Tytt * ztt + Txyy * zxy2 + Txyt * zxt2 + Tyyt * zyt2;
      const nt = ot + nodeAt(j, 2) + Dxt * zx + Dyt * zy + Dtt * zt + Txxt * zxx + Tyyt * zyy + Tttt * ztt + Txyt * zxy2 + Txtt * zxt2 + Tytt * zyt2;
      const gx = nx - dx, gy = ny - dy, gt = nt - dt;
      const g2 = gx * gx + gy * gy + gt * gt;
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
      } else if (solveSpd(a11, a12, a13, a22, a23, a33, gx, gy, gt)) {
        const ux = d0x, uy = d0y, ut = d0t;
        const u2 = ux * ux + uy * uy + ut * ut;
        if (u2 < handoff2) {
          if (nodeAt(j, POLISHED_AT) == 0) {
            polish(c, r, k, j);
            if (j != 0) polishedCount++;
          }
          const px = ox + nodeAt(j, MODE_AT), py = oy + nodeAt(j, MODE_AT + 1), pt = ot + nodeAt(j, MODE_AT + 2);
          const ex = px - dx - ux, ey = py - dy - uy, et = pt - dt - ut;
          if (ex * ex + ey * ey + et * et < handoff2) {
            dx = px;
            dy = py;
            dt = pt;
            loX = min(loX, ox - 2);
            hiX = max(hiX, ox + 2);
            loY = min(loY, oy - 2);
            hiY = max(hiY, oy + 2);
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
        const boost = g2 < crawl2 ? min(crawlBoost, trust / Math.sqrt(g2)) : 1;
        dx += gx * boost;
        dy += gy * boost;
        dt += gt * boost;
      }
      if (dx < loX) loX = dx;
      if (dx > hiX) hiX = dx;
      if (dy < loY) loY = dy;
      if (dy > hiY) hiY = dy;
      if (done || steps >= maxSteps) break;
    }
    total += <f64>steps;
    const fx = <f64>sx, fy = <f64>sy;
    setF64(outPtr, i, fx + dx);
    setF64(outPtr, n + i, fy + dy);
    setF64(outPtr, 2 * n + i, <f64>sd * s + dt);
    setF64(outPtr, 3 * n + i, fx + loX);
    setF64(outPtr, 4 * n + i, fx + hiX);
    setF64(outPtr, 5 * n + i, fy + loY);
    setF64(outPtr, 6 * n + i, fy + hiY);
  }
  return total;
}
