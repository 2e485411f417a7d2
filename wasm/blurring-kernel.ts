// AssemblyScript: the inner loop of core/meanshift/blurring.ts (one point's kernel-weighted sums),
// vectorised with 128-bit SIMD, two neighbours per step. `npm run build:wasm` compiles it into
// core/meanshift/blurring-wasm.ts (the bytes as base64, so bundlers need no wasm loader).
//
// The host (blurring.ts) owns the memory layout: it writes the exp table, the slot-ordered
// positions and the grid's cellStart into this module's memory and says where with setLayout /
// setGrid. The weight is the host's tableExp formula (table · series); multiply-adds may be fused
// (relaxed SIMD: fused on CPUs with FMA, so never less precise), and the sums are accumulated in
// two lanes: both only change the last bits, like any other summation order.

// e^-t = table[k] · (1 + g·(C1 + g·(C2 + g·(C3 + g·C4)))), t·STEPS = k + g, k = round(t·STEPS).
const STEPS: f64 = 512;
const C1: f64 = -1 / STEPS;
const C2: f64 = 1 / (2 * STEPS * STEPS);
const C3: f64 = -1 / (6 * STEPS * STEPS * STEPS);
const C4: f64 = 1 / (24 * STEPS * STEPS * STEPS * STEPS);
/** Adding 1.5·2^52 rounds to an integer held in the low 32 bits of the double. */
const ROUNDER: f64 = 6755399441055744.0;

// Layout (byte offsets) and kernel constants, from setLayout.
let tablePtr: usize = 0;
let xsPtr: usize = 0;
let ysPtr: usize = 0;
let cellStartPtr: usize = 0;
let outPtr: usize = 0;
let expScale: f64 = 0; // STEPS / (2·width²): u = d²·expScale
let uMax: f64 = 0; // u is clamped to it, which rounds to the table's final 0: beyond the cut w = 0
let reach: f64 = 0;
let cellSize: f64 = 0;
// The grid, from setGrid; escaped points live in slots extraStart .. extraEnd.
let minCx: i32 = 0;
let minCy: i32 = 0;
let cols: i32 = 0;
let rows: i32 = 0;
let extraStart: i32 = 0;
let extraEnd: i32 = 0;

export function setLayout(table: usize, xs: usize, ys: usize, cellStart: usize, out: usize, scale: f64, umax: f64, rch: f64, cell: f64): void {
  tablePtr = table;
  xsPtr = xs;
  ysPtr = ys;
  cellStartPtr = cellStart;
  outPtr = out;
  expScale = scale;
  uMax = umax;
  reach = rch;
  cellSize = cell;
}

export function setGrid(cx: i32, cy: i32, c: i32, r: i32, escapedStart: i32, escapedEnd: i32): void {
  minCx = cx;
  minCy = cy;
  cols = c;
  rows = r;
  extraStart = escapedStart;
  extraEnd = escapedEnd;
}

/** The kernel weights of two neighbours at (px, py): 0 beyond the cut (table entry 0). */
// @ts-ignore: decorator
@inline function weights(px: v128, py: v128, qx: v128, qy: v128, scale: v128, umax: v128, table: usize): v128 {
  const dx = f64x2.sub(qx, px);
  const dy = f64x2.sub(qy, py);
  const d2 = f64x2.relaxed_madd(dx, dx, f64x2.mul(dy, dy));
  const u = f64x2.pmin(f64x2.mul(d2, scale), umax);
  const r = f64x2.add(u, f64x2.splat(ROUNDER));
  const g = f64x2.sub(u, f64x2.sub(r, f64x2.splat(ROUNDER))); // in [-0.5, 0.5]
  let t = v128.load64_zero(table + (<usize>i32x4.extract_lane(r, 0) << 3));
  t = v128.load64_lane(table + (<usize>i32x4.extract_lane(r, 2) << 3), t, 1);
  let p = f64x2.relaxed_madd(g, f64x2.splat(C4), f64x2.splat(C3));
  p = f64x2.relaxed_madd(g, p, f64x2.splat(C2));
  p = f64x2.relaxed_madd(g, p, f64x2.splat(C1));
  p = f64x2.relaxed_madd(g, p, f64x2.splat(1));
  return f64x2.mul(t, p);
}

/** Sums of w, w·x, w·y over the points within the radius of (qx, qy): sw returned, sx and sy stored at out. */
export function sums(qx: f64, qy: f64): f64 {
  const xs = xsPtr, ys = ysPtr, table = tablePtr;
  const qxv = f64x2.splat(qx), qyv = f64x2.splat(qy);
  const scale = f64x2.splat(expScale), umax = f64x2.splat(uMax);
  const lane0 = i64x2(-1, 0);
  let sw = f64x2.splat(0), sx = f64x2.splat(0), sy = f64x2.splat(0);
  // Grid rows overlapping [qy - reach, qy + reach], in each only the cells the disc can touch; then
  // one more "row": the escaped points.
  const gy0 = max<i32>(0, <i32>floor((qy - reach) / cellSize) - minCy);
  const gy1 = min<i32>(rows - 1, <i32>floor((qy + reach) / cellSize) - minCy);
  for (let gy = gy0; gy <= gy1 + 1; gy++) {
    let s: i32, end: i32;
    if (gy > gy1) {
      s = extraStart;
      end = extraEnd;
    } else {
      const top = <f64>(gy + minCy) * cellSize;
      const bottom = top + cellSize;
      const dyMin = qy < top ? top - qy : qy > bottom ? qy - bottom : 0;
      const half = sqrt<f64>(max<f64>(0, reach * reach - dyMin * dyMin));
      const gx0 = max<i32>(0, <i32>floor((qx - half) / cellSize) - minCx);
      const gx1 = min<i32>(cols - 1, <i32>floor((qx + half) / cellSize) - minCx);
      if (gx0 > gx1) continue;
      const row = cellStartPtr + (<usize>(gy * cols) << 2);
      s = load<i32>(row + (<usize>gx0 << 2));
      end = load<i32>(row + (<usize>(gx1 + 1) << 2));
    }
    for (; s + 1 < end; s += 2) {
      const px = v128.load(xs + (<usize>s << 3));
      const py = v128.load(ys + (<usize>s << 3));
      const w = weights(px, py, qxv, qyv, scale, umax, table);
      sw = f64x2.add(sw, w);
      sx = f64x2.relaxed_madd(w, px, sx);
      sy = f64x2.relaxed_madd(w, py, sy);
    }
    if (s < end) {
      // Odd one out: lane 1 loads as 0 and its weight is masked.
      const px = v128.load64_zero(xs + (<usize>s << 3));
      const py = v128.load64_zero(ys + (<usize>s << 3));
      const w = v128.and(weights(px, py, qxv, qyv, scale, umax, table), lane0);
      sw = f64x2.add(sw, w);
      sx = f64x2.relaxed_madd(w, px, sx);
      sy = f64x2.relaxed_madd(w, py, sy);
    }
  }
  store<f64>(outPtr, f64x2.extract_lane(sx, 0) + f64x2.extract_lane(sx, 1));
  store<f64>(outPtr, f64x2.extract_lane(sy, 0) + f64x2.extract_lane(sy, 1), 8);
  return f64x2.extract_lane(sw, 0) + f64x2.extract_lane(sw, 1);
}
