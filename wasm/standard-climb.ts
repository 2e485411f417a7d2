// AssemblyScript: the climbs of core/meanshift/standard.ts (latticeClimber), the same arithmetic in
// the same order, so every mode, path box and step count is bit-identical to the JavaScript it
// replaces. WebAssembly runs compiled from its first call: a one-tile process (`npm run tile`, a
// Lambda's first message) no longer climbs in the interpreter while V8 optimises the loop.
// `npm run build:wasm` compiles it into core/meanshift/standard-climb-wasm.ts (base64).
//
// The host owns the memory layout (setLayout*): the alerts, the lattice index (built here, by
// index()), the kernel tables, one slot per pixel of the alerts' box (zeroed), the outputs, and
// last the pixel models. Nothing else is allocated here: when the models outgrow the memory, it
// grows (the host then takes new views of it).
// Math.exp comes from the host, so the exact evaluations match the JavaScript bit for bit.

import { crawl2, crawlBoost, handoff2, maxSteps, modelStop2, polishIterations, polishStop2, roundJs, stall2, strideCap, trust, trust2 } from './climb-rules';
import { f64At, i32At, setF64, setI32 } from './memory';
export { setRules } from './climb-rules';

@external("env", "exp") declare function hostExp(x: f64): f64;

// ---- layout (byte offsets), from the host ----
let colPtr: usize = 0; // i32 × n: the alerts' columns
let rowPtr: usize = 0; // i32 × n: rows
let prePtr: usize = 0; // i32: prefix counts (row-major, `stride` a row)
let sortedColPtr: usize = 0; // i32 × n
let runOfPtr: usize = 0; // i32 × n
let runFirstPtr: usize = 0; // i32 × runs
let runLastPtr: usize = 0; // i32 × runs
let slotPtr: usize = 0; // i32 per pixel of the box: model record + 1 (0: not built)
let modelsPtr: usize = 0; // f64 × MODEL per built model: the last region, up to the end of the memory
let kernelPtr: usize = 0; // f64: w, P0, P1, P2, P3 (each nk + 1)
let scratchPtr: usize = 0; // f64: wx, wy, Q0, Q1, Q2 (each nk + 1), then exact (5)
let outPtr: usize = 0; // f64 × n each: modeX, modeY, pathMinX, pathMinY, pathMaxX, pathMaxY
let listPtr: usize = 0; // i32: the alerts to climb (while indexing: the alerts sorted by column)
let orderPtr: usize = 0; // i32 × n: the alert of each sorted slot
let countPtr: usize = 0; // i32 × (max(stride, rows) + 2): the counting sorts' scratch

// ---- the box, the kernel, the stopping rules ----
let minC: i32 = 0;
let minR: i32 = 0;
let maxC: i32 = 0;
let maxR: i32 = 0;
let stride: i32 = 0;
let boxW: i32 = 0;
let duplicates: bool = false;
let n: i32 = 0;
let R: i32 = 0;
let nk1: i32 = 0; // length of each kernel table: 2R + 2
let a: f64 = 0;

// ---- counters ----
let built: i32 = 0;
let polishedCount: i32 = 0;

/**
 * Doubles of a model record: v0x, v0y, Dm (xx, xy, yy), ½D²m (xxx, xxy, xyy, yyy), then whether
 * its pixel's mode was polished (0: not yet) and the polished mode's offset from the pixel.
 */
const MODEL: i32 = 12;

export function setLayout(col: usize, row: usize, pre: usize, sortedCol: usize, runOf: usize, runFirst: usize, runLast: usize, slot: usize, models: usize, kernel: usize, scratch: usize, out: usize, list: usize, order: usize, count: usize): void {
  orderPtr = order;
  countPtr = count;
  colPtr = col;
  rowPtr = row;
  prePtr = pre;
  sortedColPtr = sortedCol;
  runOfPtr = runOf;
  runFirstPtr = runFirst;
  runLastPtr = runLast;
  slotPtr = slot;
  modelsPtr = models;
  kernelPtr = kernel;
  scratchPtr = scratch;
  outPtr = out;
  listPtr = list;
  built = 0;
  polishedCount = 0;
}

export function setBox(count: i32, c0: i32, r0: i32, c1: i32, r1: i32, rowStride: i32, radius: i32, alpha: f64): void {
  n = count;
  minC = c0;
  minR = r0;
  maxC = c1;
  maxR = r1;
  stride = rowStride;
  boxW = c1 - c0 + 1;
  R = radius;
  nk1 = 2 * radius + 2;
  a = alpha;
}

/**
 * The lattice index of the alerts (see latticeClimber in standard.ts): the alerts in row-major order,
 * those of one pixel in index order (counting sorts by column, then stably by row); the prefix
 * counts `pre`; the sorted columns; the runs of horizontally consecutive alerts, row by row.
 * Notes whether a pixel holds several alerts. Returns the number of runs.
 */
export function index(): i32 {
  const rows = maxR - minR + 1;
  const byColPtr = listPtr;
  // By column.
  for (let c = 0; c <= stride; c++) setI32(countPtr, c, 0);
  for (let i = 0; i < n; i++) {
    const k = i32At(colPtr, i) - minC + 1;
    setI32(countPtr, k, i32At(countPtr, k) + 1);
  }
  for (let c = 1; c <= stride; c++) setI32(countPtr, c, i32At(countPtr, c) + i32At(countPtr, c - 1));
  for (let i = 0; i < n; i++) {
    const k = i32At(colPtr, i) - minC;
    const at = i32At(countPtr, k);
    setI32(byColPtr, at, i);
    setI32(countPtr, k, at + 1);
  }
  // Then by row, stably.
  for (let r = 0; r <= rows; r++) setI32(countPtr, r, 0);
  for (let i = 0; i < n; i++) {
    const k = i32At(rowPtr, i) - minR + 1;
    setI32(countPtr, k, i32At(countPtr, k) + 1);
  }
  for (let r = 1; r <= rows; r++) setI32(countPtr, r, i32At(countPtr, r) + i32At(countPtr, r - 1));
  for (let t = 0; t < n; t++) {
    const i = i32At(byColPtr, t);
    const k = i32At(rowPtr, i) - minR;
    const at = i32At(countPtr, k);
    setI32(orderPtr, at, i);
    setI32(countPtr, k, at + 1);
  }
  // pre[k] = the alerts in cells before cell k = r·stride + c: constant between occupied cells.
  duplicates = false;
  let from = 0; // pre[from..] not written yet
  for (let p = 0; p < n; p++) {
    const i = i32At(orderPtr, p);
    const c = i32At(colPtr, i);
    setI32(sortedColPtr, p, c);
    const k = (i32At(rowPtr, i) - minR) * stride + (c - minC);
    if (k < from) {
      duplicates = true; // the pixel of the alert before
      continue;
    }
    for (let j = from; j <= k; j++) setI32(prePtr, j, p);
    from = k + 1;
  }
  for (let j = from, end = rows * stride; j < end; j++) setI32(prePtr, j, n);
  // Runs of horizontally consecutive alerts, row by row.
  let runs = 0;
  for (let r = 0; r < rows; r++) {
    const start = i32At(prePtr, r * stride), end = i32At(prePtr, r * stride + stride - 1);
    for (let p = start; p < end; p++) {
      const c = i32At(sortedColPtr, p);
      if (p > start && i32At(sortedColPtr, p - 1) >= c - 1) {
        setI32(runLastPtr, runs - 1, c);
      } else {
        setI32(runFirstPtr, runs, c);
        setI32(runLastPtr, runs, c);
        runs++;
      }
      setI32(runOfPtr, p, runs - 1);
    }
  }
  return runs;
}

export function builtModels(): i32 {
  return built;
}

export function polishedModes(): i32 {
  return polishedCount;
}

/** Kernel table t (0: w, 1–4: P0–P3) at k. */
@inline function kt(t: i32, k: i32): f64 {
  return f64At(kernelPtr, t * nk1 + k);
}
/** Scratch table t (0: wx, 1: wy, 2–4: Q0–Q2) at k. */
@inline function st(t: i32, k: i32): f64 {
  return f64At(scratchPtr, t * nk1 + k);
}
@inline function setSt(t: i32, k: i32, v: f64): void {
  setF64(scratchPtr, t * nk1 + k, v);
}
/** exact[k]: after the five scratch tables. */
@inline function exactSlot(k: i32): i32 {
  return 5 * nk1 + k;
}

/** buildModel of standard.ts: the model of pixel (c, r) into the record at m (a double index), not polished yet. */
function buildModel(c: i32, r: i32, m: i32): void {
  setF64(modelsPtr, m + 9, 0);
  const jA = max(r - R, minR), jB = min(r + R, maxR);
  const cA = max(c - R, minC) - minC, cB = min(c + R, maxC) - minC;
  const firstCol = cA + minC, lastCol = cB + minC, off = c - R;
  let s0: f64 = 0, sX: f64 = 0, sY: f64 = 0, sXX: f64 = 0, sXY: f64 = 0, sYY: f64 = 0, sXXX: f64 = 0, sXXY: f64 = 0, sXYY: f64 = 0, sYYY: f64 = 0;
  for (let j = jA; j <= jB; j++) {
    const base = (j - minR) * stride;
    const q0 = i32At(prePtr, base + cA), q1 = i32At(prePtr, base + cB + 1);
    if (q0 == q1) continue;
    let rs: f64 = 0, rsx: f64 = 0, rsxx: f64 = 0, rsxxx: f64 = 0;
    const r0 = i32At(runOfPtr, q0), r1 = i32At(runOfPtr, q1 - 1) + 1;
    if (!duplicates && 2 * (r1 - r0) < q1 - q0) {
      for (let q = r0; q < r1; q++) {
        const u = max(i32At(runFirstPtr, q), firstCol) - off;
        const v = min(i32At(runLastPtr, q), lastCol) - off + 1;
        rs += kt(1, v) - kt(1, u);
        rsx += kt(2, v) - kt(2, u);
        rsxx += kt(3, v) - kt(3, u);
        rsxxx += kt(4, v) - kt(4, u);
      }
    } else {
      for (let p = q0; p < q1; p++) {
        const k = i32At(sortedColPtr, p) - off;
        const wk = kt(0, k) * <f64>k;
        const wkk = wk * <f64>k;
        rs += kt(0, k);
        rsx += wk;
        rsxx += wkk;
        rsxxx += wkk * <f64>k;
      }
    }
    const h = <f64>(j - (r - R));
    const wj = kt(0, j - (r - R));
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
  if (s0 == 0) {
    setF64(modelsPtr, m, NaN);
  } else {
    const mx = sX / s0, my = sY / s0;
    const exx = sXX / s0, exy = sXY / s0, eyy = sYY / s0;
    const b2 = 2 * a * a;
    const fR = <f64>R;
    setF64(modelsPtr, m, mx - fR);
    setF64(modelsPtr, m + 1, my - fR);
    setF64(modelsPtr, m + 2, 2 * a * (exx - mx * mx));
    setF64(modelsPtr, m + 3, 2 * a * (exy - mx * my));
    setF64(modelsPtr, m + 4, 2 * a * (eyy - my * my));
    setF64(modelsPtr, m + 5, b2 * (sXXX / s0 - 3 * mx * exx + 2 * mx * mx * mx));
    setF64(modelsPtr, m + 6, b2 * (sXXY / s0 - 2 * mx * exy - my * exx + 2 * mx * mx * my));
    setF64(modelsPtr, m + 7, b2 * (sXYY / s0 - 2 * my * exy - mx * eyy + 2 * mx * my * my));
    setF64(modelsPtr, m + 8, b2 * (sYYY / s0 - 3 * my * eyy + 2 * my * my * my));
  }
}

/** strideOf of standard.ts. */
function strideOf(a11: f64, a12: f64, a22: f64, g2: f64): f64 {
  const d = (a11 - a22) / 2;
  const mean = (a11 + a22) / 2, half = Math.sqrt(d * d + a12 * a12);
  const lam = max(Math.abs(mean + half), Math.abs(mean - half));
  const b = min(min(strideCap, 1 / lam), trust / Math.sqrt(g2));
  return b > 1 ? b : 1;
}

/** exactAt of standard.ts: the map at (c + fx, r + fy) into exact[0..4]; false when no alert is within reach. */
function exactAt(c: i32, r: i32, fx: f64, fy: f64): bool {
  const nk = 2 * R + 1;
  for (let k = 0; k < nk; k++) {
    const u = <f64>(k - R) - fx, v = <f64>(k - R) - fy;
    const wxk = hostExp(-a * u * u);
    setSt(0, k, wxk);
    setSt(1, k, hostExp(-a * v * v));
    setSt(2, k + 1, st(2, k) + wxk);
    setSt(3, k + 1, st(3, k) + wxk * <f64>k);
    setSt(4, k + 1, st(4, k) + wxk * <f64>k * <f64>k);
  }
  const jA = max(r - R, minR), jB = min(r + R, maxR);
  const cA = max(c - R, minC) - minC, cB = min(c + R, maxC) - minC;
  const firstCol = cA + minC, lastCol = cB + minC, off = c - R;
  let s0: f64 = 0, sX: f64 = 0, sY: f64 = 0, sXX: f64 = 0, sXY: f64 = 0, sYY: f64 = 0;
  for (let j = jA; j <= jB; j++) {
    const base = (j - minR) * stride;
    const q0 = i32At(prePtr, base + cA), q1 = i32At(prePtr, base + cB + 1);
    if (q0 == q1) continue;
    let rs: f64 = 0, rsx: f64 = 0, rsxx: f64 = 0;
    const r0 = i32At(runOfPtr, q0), r1 = i32At(runOfPtr, q1 - 1) + 1;
    if (!duplicates && 2 * (r1 - r0) < q1 - q0) {
      for (let q = r0; q < r1; q++) {
        const u = max(i32At(runFirstPtr, q), firstCol) - off;
        const v = min(i32At(runLastPtr, q), lastCol) - off + 1;
        rs += st(2, v) - st(2, u);
        rsx += st(3, v) - st(3, u);
        rsxx += st(4, v) - st(4, u);
      }
    } else {
      for (let p = q0; p < q1; p++) {
        const k = i32At(sortedColPtr, p) - off;
        const wxk = st(0, k);
        rs += wxk;
        rsx += wxk * <f64>k;
        rsxx += wxk * <f64>k * <f64>k;
      }
    }
    const hi = j - (r - R);
    const h = <f64>hi;
    const wyh = st(1, hi);
    const wr = wyh * rs;
    s0 += wr;
    sX += wyh * rsx;
    sY += wr * h;
    sXX += wyh * rsxx;
    sXY += wyh * rsx * h;
    sYY += wr * h * h;
  }
  if (s0 == 0) return false;
  const mx = sX / s0, my = sY / s0;
  const fR = <f64>R;
  setF64(scratchPtr, exactSlot(0), mx - fR);
  setF64(scratchPtr, exactSlot(1), my - fR);
  setF64(scratchPtr, exactSlot(2), 2 * a * (sXX / s0 - mx * mx));
  setF64(scratchPtr, exactSlot(3), 2 * a * (sXY / s0 - mx * my));
  setF64(scratchPtr, exactSlot(4), 2 * a * (sYY / s0 - my * my));
  return true;
}

/** polish of standard.ts: the mode next to pixel (c, r) into the record at m (slots 10, 11; NaN: none). */
function polish(c: i32, r: i32, m: i32): void {
  let ox: f64 = 0, oy: f64 = 0;
  {
    const a11 = 1 - f64At(modelsPtr, m + 2), a12 = -f64At(modelsPtr, m + 3), a22 = 1 - f64At(modelsPtr, m + 4);
    const det = a11 * a22 - a12 * a12;
    if (a11 > 0 && det > 0) {
      const v0 = f64At(modelsPtr, m), v1 = f64At(modelsPtr, m + 1);
      ox = (a22 * v0 - a12 * v1) / det;
      oy = (a11 * v1 - a12 * v0) / det;
    }
  }
  let rx: f64 = NaN, ry: f64 = NaN;
  for (let it = 0; it < polishIterations; it++) {
    if (!(Math.abs(ox) <= 1.5 && Math.abs(oy) <= 1.5)) break;
    const px = roundJs(ox), py = roundJs(oy);
    const cc = c + <i32>px, rr = r + <i32>py;
    if (cc < minC || cc > maxC || rr < minR || rr > maxR) break;
    if (!exactAt(cc, rr, ox - px, oy - py)) break;
    const gx = px + f64At(scratchPtr, exactSlot(0)) - ox, gy = py + f64At(scratchPtr, exactSlot(1)) - oy;
    const a11 = 1 - f64At(scratchPtr, exactSlot(2)), a12 = -f64At(scratchPtr, exactSlot(3)), a22 = 1 - f64At(scratchPtr, exactSlot(4));
    const det = a11 * a22 - a12 * a12;
    if (!(a11 > 0 && det > 0)) break;
    const ux = (a22 * gx - a12 * gy) / det, uy = (a11 * gy - a12 * gx) / det;
    ox += ux;
    oy += uy;
    if (ux * ux + uy * uy < polishStop2) {
      rx = ox;
      ry = oy;
      break;
    }
  }
  setF64(modelsPtr, m + 9, 1);
  setF64(modelsPtr, m + 10, rx);
  setF64(modelsPtr, m + 11, ry);
}

/** climbAlerts of standard.ts: climbs the `count` alerts of the list; returns the steps taken. */
export function climb(count: i32): f64 {
  let total: f64 = 0;
  for (let t = 0; t < count; t++) {
    const i = i32At(listPtr, t);
    const sx = i32At(colPtr, i), sy = i32At(rowPtr, i);
    let dx: f64 = 0, dy: f64 = 0;
    let loX: f64 = -0.0, hiX: f64 = -0.0, loY: f64 = -0.0, hiY: f64 = -0.0;
    let steps: i32 = 0;
    for (;;) {
      const rx = roundJs(dx), ry = roundJs(dy);
      // Positions stay within the alerts' box (means of alerts): the clamp only guards rounding.
      const c = min(maxC, max(minC, sx + <i32>rx)), r = min(maxR, max(minR, sy + <i32>ry));
      const pixel = (r - minR) * boxW + (c - minC);
      let m = i32At(slotPtr, pixel) - 1;
      if (m < 0) {
        m = built * MODEL;
        // Room for as many models again (at most one per pixel of the box: bounded).
        if (modelsPtr + ((<usize>m + MODEL) << 3) > (<usize>memory.size() << 16)) {
          if (memory.grow(max(1, <i32>((<usize>m << 3) >> 16))) < 0) unreachable();
        }
        buildModel(c, r, m);
        store<i32>(slotPtr + (<usize>pixel << 2), m + 1);
        built++;
      }
      const v0x = f64At(modelsPtr, m);
      if (isNaN(v0x)) break;
      const ox = <f64>(c - sx), oy = <f64>(r - sy);
      const zx = dx - ox, zy = dy - oy;
      const zxx = zx * zx, zxy = zx * zy, zyy = zy * zy;
      const d11 = f64At(modelsPtr, m + 2), d12 = f64At(modelsPtr, m + 3), d22 = f64At(modelsPtr, m + 4);
      const txxx = f64At(modelsPtr, m + 5), txxy = f64At(modelsPtr, m + 6), txyy = f64At(modelsPtr, m + 7), tyyy = f64At(modelsPtr, m + 8);
      const nx = ox + v0x + d11 * zx + d12 * zy + txxx * zxx + 2 * txxy * zxy + txyy * zyy;
      const ny = oy + f64At(modelsPtr, m + 1) + d12 * zx + d22 * zy + txxy * zxx + 2 * txyy * zxy + tyyy * zyy;
      const gx = nx - dx, gy = ny - dy;
      const a11 = 1 - (d11 + 2 * (txxx * zx + txxy * zy));
      const a12 = -(d12 + 2 * (txxy * zx + txyy * zy));
      const a22 = 1 - (d22 + 2 * (txyy * zx + tyyy * zy));
      const det = a11 * a22 - a12 * a12;
      steps++;
      let done = gx * gx + gy * gy < stall2;
      if (done) {
        dx = nx;
        dy = ny;
      } else if (a11 > 0 && det > 0) {
        const ux = (a22 * gx - a12 * gy) / det, uy = (a11 * gy - a12 * gx) / det;
        const u2 = ux * ux + uy * uy;
        if (u2 < handoff2) {
          if (f64At(modelsPtr, m + 9) == 0) {
            polish(c, r, m);
            polishedCount++;
          }
          const px = ox + f64At(modelsPtr, m + 10), py = oy + f64At(modelsPtr, m + 11);
          const ex = px - dx - ux, ey = py - dy - uy;
          if (ex * ex + ey * ey < handoff2) {
            dx = px;
            dy = py;
            // The polish read the windows of pixels up to 2 px from this one.
            if (ox - 2 < loX) loX = ox - 2;
            if (ox + 2 > hiX) hiX = ox + 2;
            if (oy - 2 < loY) loY = oy - 2;
            if (oy + 2 > hiY) hiY = oy + 2;
            done = true;
          }
        }
        if (done) {
          // handed to the polished mode
        } else if (u2 <= trust2) {
          dx += ux;
          dy += uy;
          done = u2 < modelStop2;
        } else if (gx * gx + gy * gy < crawl2) {
          const scale = trust / Math.sqrt(u2);
          dx += ux * scale;
          dy += uy * scale;
        } else {
          const b = strideOf(a11, a12, a22, gx * gx + gy * gy);
          dx += gx * b;
          dy += gy * b;
        }
      } else {
        const g2 = gx * gx + gy * gy;
        const b = g2 < crawl2 ? min(crawlBoost, trust / Math.sqrt(g2)) : 1;
        dx += gx * b;
        dy += gy * b;
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
    setF64(outPtr, 2 * n + i, fx + loX);
    setF64(outPtr, 3 * n + i, fy + loY);
    setF64(outPtr, 4 * n + i, fx + hiX);
    setF64(outPtr, 5 * n + i, fy + hiY);
  }
  return total;
}

// ---- the halo's closure (standard-halo.ts, unclimbedNear) ----
let flagsPtr: usize = 0; // u8 × n: 0 not climbed, 1 climbed, 2 queued
let foundPtr: usize = 0; // i32 × n: the alerts found
let maskPtr: usize = 0; // u8 × 2 per pixel of the box: the seeds' mask and its dilation along rows
let foundCount: i32 = 0;

export function setClosureLayout(flags: usize, found: usize, mask: usize): void {
  flagsPtr = flags;
  foundPtr = found;
  maskPtr = mask;
}

/** The tile's last pixel: tile pixel coordinates are 0..LAST. */
const LAST: i32 = 255;

/** Marks queued (2) and lists each unclimbed alert in [x0, x1] × [y0, y1] (box coordinates clipped here) with mask 1 (or any, when maskW is 0). */
function visit(x0: i32, x1: i32, y0: i32, y1: i32, mx0: i32, my0: i32, maskW: i32): void {
  const c0 = max(x0, minC) - minC, c1 = min(x1, maxC) - minC;
  if (c0 > c1) return;
  for (let r = max(y0, minR), rEnd = min(y1, maxR); r <= rEnd; r++) {
    const base = (r - minR) * stride;
    for (let p = i32At(prePtr, base + c0), q = i32At(prePtr, base + c1 + 1); p < q; p++) {
      const j = i32At(orderPtr, p);
      if (load<u8>(flagsPtr + j) != 0) continue;
      if (maskW > 0 && load<u8>(maskPtr + <usize>((r - my0) * maskW + (i32At(colPtr, j) - mx0))) == 0) continue;
      store<u8>(flagsPtr + j, 2);
      setI32(foundPtr, foundCount++, j);
    }
  }
}

/** visit() on the parts of [x0, x1] × [y0, y1] outside the tile (the tile's alerts are all climbed). */
function visitOutsideTile(x0: i32, x1: i32, y0: i32, y1: i32, mx0: i32, my0: i32, maskW: i32): void {
  if (y0 < 0) visit(x0, x1, y0, min(y1, -1), mx0, my0, maskW);
  if (y1 > LAST) visit(x0, x1, max(y0, LAST + 1), y1, mx0, my0, maskW);
  const r0 = max(y0, 0), r1 = min(y1, LAST);
  if (r0 > r1) return;
  if (x0 < 0) visit(x0, min(x1, -1), r0, r1, mx0, my0, maskW);
  if (x1 > LAST) visit(max(x0, LAST + 1), x1, r0, r1, mx0, my0, maskW);
}

/**
 * 1-D dilation by `radius` of a byte grid of `lines` lines of `len` cells (cell k of line l at
 * l·lineStep + k·step), from `src` into `dst`: 1 where some cell within radius along the line is 1.
 */
function dilate(src: usize, dst: usize, lines: i32, len: i32, lineStep: i32, step: i32, radius: i32): void {
  for (let l = 0; l < lines; l++) {
    const base = l * lineStep;
    let last = -2 * radius - 2; // the last set cell at or before k + radius (none yet)
    for (let k = 0; k < len + radius; k++) {
      if (k < len && load<u8>(src + <usize>(base + k * step)) == 1) last = k;
      const at = k - radius;
      if (at >= 0) store<u8>(dst + <usize>(base + at * step), at - last <= radius ? 1 : 0);
    }
  }
}

/**
 * The unclimbed alerts outside the tile within `closure` px (Chebyshev, start pixels) of the
 * `count` seeds in the list, each once, marked queued (2); returns how many (listed in `found`).
 * `viaMask`: one pass over a mask of the seeds dilated by `closure` (rows, then columns), clipped to
 * the alerts' box (seeds and alerts lie in it, so nothing is lost); else each seed's box.
 */
export function near(count: i32, closure: i32, viaMask: bool): i32 {
  foundCount = 0;
  if (count == 0) return 0;
  if (!viaMask) {
    for (let t = 0; t < count; t++) {
      const i = i32At(listPtr, t);
      const c = i32At(colPtr, i), r = i32At(rowPtr, i);
      visitOutsideTile(c - closure, c + closure, r - closure, r + closure, 0, 0, 0);
    }
    return foundCount;
  }
  let x0 = maxC, y0 = maxR, x1 = minC, y1 = minR;
  for (let t = 0; t < count; t++) {
    const i = i32At(listPtr, t);
    const c = i32At(colPtr, i), r = i32At(rowPtr, i);
    x0 = min(x0, c);
    x1 = max(x1, c);
    y0 = min(y0, r);
    y1 = max(y1, r);
  }
  x0 = max(minC, x0 - closure);
  y0 = max(minR, y0 - closure);
  x1 = min(maxC, x1 + closure);
  y1 = min(maxR, y1 + closure);
  const w = x1 - x0 + 1, h = y1 - y0 + 1;
  const seedMask = maskPtr, rowsMask = maskPtr + <usize>(w * h);
  memory.fill(seedMask, 0, <usize>(w * h));
  for (let t = 0; t < count; t++) {
    const i = i32At(listPtr, t);
    store<u8>(seedMask + <usize>((i32At(rowPtr, i) - y0) * w + (i32At(colPtr, i) - x0)), 1);
  }
  dilate(seedMask, rowsMask, h, w, w, 1, closure);
  dilate(rowsMask, seedMask, w, h, 1, w, closure); // the columns, back into the first grid
  visitOutsideTile(x0, x1, y0, y1, x0, y0, w);
  return foundCount;
}
