// AssemblyScript: the inner loop of core/meanshift/blurring.ts (one point's kernel-weighted sums),
// vectorised with 128-bit SIMD, two neighbours per step. `npm run build:wasm` compiles it into
// core/meanshift/blurring-wasm.ts (the bytes as base64, so bundlers need no wasm loader).
//
// The host (blurring.ts) owns the memory layout: it writes the exp table, the slot-ordered
// positions and the grid's cellStart into this module's memory and says where with setLayout /
// setGrid. The weight is the host's tableWeight formula (table · series); multiply-adds may be fused
// (relaxed SIMD: fused on CPUs with FMA, so never less precise), and the sums are accumulated in
// two lanes: both only change the last bits, like any other summation order. It is built twice:
// with relaxed SIMD, and with plain SIMD for runtimes without it (the host picks).

// The weight of a neighbour at squared distance d² (host: gaussianTable / tableWeight):
//   k = round(d² / step), g = d² - k·step (|g| <= step/2), t = table[k] = e^(-k·step / 2w²),
//   w = t + t·g·(c1 + g·(c2 + g·(c3 + g·c4)))   (Taylor series of e^(-g / 2w²)),
// where step is a power of two, so adding rounder = 1.5·2^52·step rounds d² to a multiple of step
// and leaves k in the low 32 bits of the sum. d² is clamped to d2Max, which rounds to the table's
// last entry, 0: beyond the cut (or at a parked escaped point) w = 0.

// Layout (byte offsets) and kernel constants, from setLayout.
let tablePtr: usize = 0;
let xsPtr: usize = 0;
let ysPtr: usize = 0;
let cellStartPtr: usize = 0;
let outPtr: usize = 0;
let c1: f64 = 0;
let c2: f64 = 0;
let c3: f64 = 0;
let c4: f64 = 0;
let rounder: f64 = 0;
let d2Max: f64 = 0;
let reach: f64 = 0;
let cellSize: f64 = 0; // a power of two, so · invCell is exactly / cellSize
let invCell: f64 = 0;
// The grid, from setGrid; escaped points live in slots extraStart .. extraEnd.
let minCx: i32 = 0;
let minCy: i32 = 0;
let cols: i32 = 0;
let rows: i32 = 0;
let extraStart: i32 = 0;
let extraEnd: i32 = 0;

export function setLayout(table: usize, xs: usize, ys: usize, cellStart: usize, out: usize, rch: f64, cell: f64): void {
  tablePtr = table;
  xsPtr = xs;
  ysPtr = ys;
  cellStartPtr = cellStart;
  outPtr = out;
  reach = rch;
  cellSize = cell;
  invCell = 1 / cell;
}

export function setWeights(k1: f64, k2: f64, k3: f64, k4: f64, rnd: f64, maxD2: f64): void {
  c1 = k1;
  c2 = k2;
  c3 = k3;
  c4 = k4;
  rounder = rnd;
  d2Max = maxD2;
}

export function setGrid(cx: i32, cy: i32, c: i32, r: i32, escapedStart: i32, escapedEnd: i32): void {
  minCx = cx;
  minCy = cy;
  cols = c;
  rows = r;
  extraStart = escapedStart;
  extraEnd = escapedEnd;
}

/** a·b + c: fused where the CPU has FMA (relaxed SIMD build), else multiply then add (plain SIMD build). */
// @ts-ignore: decorator
@inline function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f64x2.relaxed_madd(a, b, c);
  return f64x2.add(f64x2.mul(a, b), c);
}

/** The kernel weights of two neighbours at (px, py). */
// @ts-ignore: decorator
@inline function weights(px: v128, py: v128, qx: v128, qy: v128, k1: v128, k2: v128, k3: v128, k4: v128, rnd: v128, maxD2: v128, table: usize): v128 {
  const dx = f64x2.sub(qx, px);
  const dy = f64x2.sub(qy, py);
  const d2 = f64x2.pmin(madd(dx, dx, f64x2.mul(dy, dy)), maxD2);
  const r = f64x2.add(d2, rnd);
  const g = f64x2.sub(d2, f64x2.sub(r, rnd));
  let t = v128.load64_zero(table + (<usize>i32x4.extract_lane(r, 0) << 3));
  t = v128.load64_lane(table + (<usize>i32x4.extract_lane(r, 2) << 3), t, 1);
  let p = madd(g, k4, k3);
  p = madd(g, p, k2);
  p = madd(g, p, k1);
  return madd(f64x2.mul(t, g), p, t);
}

/** Sums of w, w·x, w·y over the points within the radius of (qx, qy): sw returned, sx and sy stored at out. */
export function sums(qx: f64, qy: f64): f64 {
  const xs = xsPtr, ys = ysPtr, table = tablePtr;
  const qxv = f64x2.splat(qx), qyv = f64x2.splat(qy);
  const k1 = f64x2.splat(c1), k2 = f64x2.splat(c2), k3 = f64x2.splat(c3), k4 = f64x2.splat(c4);
  const rnd = f64x2.splat(rounder), maxD2 = f64x2.splat(d2Max);
  const lane0 = i64x2(-1, 0);
  let sw = f64x2.splat(0), sx = f64x2.splat(0), sy = f64x2.splat(0);
  // Grid rows overlapping [qy - reach, qy + reach], in each only the cells the disc can touch; then
  // one more "row": the escaped points (visited even if no grid row is).
  const gy0 = max<i32>(0, <i32>floor((qy - reach) * invCell) - minCy);
  const gy1 = min<i32>(rows - 1, <i32>floor((qy + reach) * invCell) - minCy);
  for (let gy = min<i32>(gy0, gy1 + 1); gy <= gy1 + 1; gy++) {
    let s: i32, end: i32;
    if (gy > gy1) {
      s = extraStart;
      end = extraEnd;
    } else {
      const top = <f64>(gy + minCy) * cellSize;
      const bottom = top + cellSize;
      const dyMin = qy < top ? top - qy : qy > bottom ? qy - bottom : 0;
      const half = sqrt<f64>(max<f64>(0, reach * reach - dyMin * dyMin));
      const gx0 = max<i32>(0, <i32>floor((qx - half) * invCell) - minCx);
      const gx1 = min<i32>(cols - 1, <i32>floor((qx + half) * invCell) - minCx);
      if (gx0 > gx1) continue;
      const row = cellStartPtr + (<usize>(gy * cols) << 2);
      s = load<i32>(row + (<usize>gx0 << 2));
      end = load<i32>(row + (<usize>(gx1 + 1) << 2));
    }
    for (; s + 1 < end; s += 2) {
      const px = v128.load(xs + (<usize>s << 3));
      const py = v128.load(ys + (<usize>s << 3));
      const w = weights(px, py, qxv, qyv, k1, k2, k3, k4, rnd, maxD2, table);
      sw = f64x2.add(sw, w);
      sx = madd(w, px, sx);
      sy = madd(w, py, sy);
    }
    if (s < end) {
      // Odd one out: lane 1 loads as 0 and its weight is masked.
      const px = v128.load64_zero(xs + (<usize>s << 3));
      const py = v128.load64_zero(ys + (<usize>s << 3));
      const w = v128.and(weights(px, py, qxv, qyv, k1, k2, k3, k4, rnd, maxD2, table), lane0);
      sw = f64x2.add(sw, w);
      sx = madd(w, px, sx);
      sy = madd(w, py, sy);
    }
  }
  store<f64>(outPtr, f64x2.extract_lane(sx, 0) + f64x2.extract_lane(sx, 1));
  store<f64>(outPtr, f64x2.extract_lane(sy, 0) + f64x2.extract_lane(sy, 1), 8);
  return f64x2.extract_lane(sw, 0) + f64x2.extract_lane(sw, 1);
}
