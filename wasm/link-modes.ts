// AssemblyScript: linkModes and linkModes3 of core/meanshift/link.ts — connected components of
// "mode i — mode j when their distance < link" in (x, y) or (x, y, t), labels 0..k-1 in order of each
// component's first mode. `npm run build:wasm` compiles it into core/meanshift/link-modes-wasm.ts.
//
// The graph is the JavaScript's, edge for edge: modes in one cell of side link/√2 (link/√3 in
// space and time; floor(x / cell), as there) are joined without a test, modes of cells up to two
// apart per axis when (Δx² + Δy² [+ Δt²]) < link².
// Components, hence labels, do not depend on the order in which edges are found, so a hash of the
// cells replaces the sorted grid. Here because the halo's closure links its modes every round: in a
// fresh process the JavaScript ran in the interpreter (~30 ms at 3,000 alerts a tile).

import { f64At, i32At, setF64, setI32 } from './memory';

// ---- layout (byte offsets, set by the host) ----
let xPtr: usize = 0; // f64 × n: the modes
let yPtr: usize = 0;
let tPtr: usize = 0; // f64 × n, in space and time only
let labelPtr: usize = 0; // i32 × n: the result (also the roots' labels while labelling)
let parentPtr: usize = 0; // i32 × n: union–find
let nextPtr: usize = 0; // i32 × n: the next mode of the same cell (−1: none)
let cellXPtr: usize = 0; // i32 × n (cells): the cell's grid column, row, first mode
let cellYPtr: usize = 0;
let cellTPtr: usize = 0;
let headPtr: usize = 0;
let boxPtr: usize = 0; // f64 × 6 per cell: its modes' bounding box x0, y0, t0, x1, y1, t1
let slotPtr: usize = 0; // i32 × slots: cell + 1 (0: empty), open addressing

export function setLayout(x: usize, y: usize, t: usize, label: usize, parent: usize, next: usize, cellX: usize, cellY: usize, cellT: usize, head: usize, box: usize, slot: usize): void {
  xPtr = x;
  yPtr = y;
  tPtr = t;
  cellTPtr = cellT;
  labelPtr = label;
  parentPtr = parent;
  nextPtr = next;
  cellXPtr = cellX;
  cellYPtr = cellY;
  headPtr = head;
  boxPtr = box;
  slotPtr = slot;
}

function find(i: i32): i32 {
  let p = i32At(parentPtr, i);
  while (p != i) {
    const g = i32At(parentPtr, p);
    setI32(parentPtr, i, g);
    i = g;
    p = i32At(parentPtr, i);
  }
  return i;
}

function union(i: i32, j: i32): void {
  const a = find(i), b = find(j);
  if (a < b) setI32(parentPtr, b, a);
  else if (b < a) setI32(parentPtr, a, b);
}

@inline function hash(cx: i32, cy: i32, ct: i32, mask: i32): i32 {
  return ((cx * <i32>0x9e3779b1) ^ (cy * <i32>0x85ebca77) ^ (ct * <i32>0xc2b2ae3d)) & mask;
}

@inline function isCell(c: i32, cx: i32, cy: i32, ct: i32): bool {
  return i32At(cellXPtr, c) == cx && i32At(cellYPtr, c) == cy && i32At(cellTPtr, c) == ct;
}

/** The cell at grid (cx, cy, ct), or −1. */
function cellAt(cx: i32, cy: i32, ct: i32, mask: i32): i32 {
  let h = hash(cx, cy, ct, mask);
  let c = i32At(slotPtr, h) - 1;
  while (c >= 0 && !isCell(c, cx, cy, ct)) {
    h = (h + 1) & mask;
    c = i32At(slotPtr, h) - 1;
  }
  return c;
}

/** Beyond this many cells from 0 a grid coordinate could overflow: the host refuses such modes. */
const GRID_LIMIT: f64 = 1073741824;

@inline function onGrid(f: f64): bool {
  return f > -GRID_LIMIT && f < GRID_LIMIT;
}

/** The gap between the boxes of cells c and d along axis k (0 when they overlap). */
@inline function gap(c: i32, d: i32, k: i32): f64 {
  return max(0, max(f64At(boxPtr, 6 * d + k) - f64At(boxPtr, 6 * c + 3 + k), f64At(boxPtr, 6 * c + k) - f64At(boxPtr, 6 * d + 3 + k)));
}

/**
 * Links the n modes (slots: a power of two ≥ 2n, zeroed by the host; `withTime`: modes have a t).
 * Returns the number of components, or −1 when a mode is not finite or lies more than 2³⁰ cells
 * from the origin.
 */
export function link(n: i32, cell: f64, link2: f64, slots: i32, withTime: bool): i32 {
  const mask = slots - 1;
  let cells: i32 = 0;
  for (let i = 0; i < n; i++) {
    const x = f64At(xPtr, i), y = f64At(yPtr, i), t = withTime ? f64At(tPtr, i) : 0;
    const fx = Math.floor(x / cell), fy = Math.floor(y / cell), ft = Math.floor(t / cell);
    if (!(onGrid(fx) && onGrid(fy) && onGrid(ft))) return -1;
    const cx = <i32>fx, cy = <i32>fy, ct = <i32>ft;
    setI32(parentPtr, i, i);
    let h = hash(cx, cy, ct, mask);
    let c = i32At(slotPtr, h) - 1;
    while (c >= 0 && !isCell(c, cx, cy, ct)) {
      h = (h + 1) & mask;
      c = i32At(slotPtr, h) - 1;
    }
    if (c < 0) {
      c = cells++;
      setI32(slotPtr, h, c + 1);
      setI32(cellXPtr, c, cx);
      setI32(cellYPtr, c, cy);
      setI32(cellTPtr, c, ct);
      setI32(headPtr, c, -1);
      setF64(boxPtr, 6 * c, x);
      setF64(boxPtr, 6 * c + 1, y);
      setF64(boxPtr, 6 * c + 2, t);
      setF64(boxPtr, 6 * c + 3, x);
      setF64(boxPtr, 6 * c + 4, y);
      setF64(boxPtr, 6 * c + 5, t);
    }
    const head = i32At(headPtr, c);
    setI32(nextPtr, i, head);
    setI32(headPtr, c, i);
    // Same cell ⇒ distance < link (the cell's diagonal is link).
    if (head >= 0) union(head, i);
    if (x < f64At(boxPtr, 6 * c)) setF64(boxPtr, 6 * c, x);
    if (y < f64At(boxPtr, 6 * c + 1)) setF64(boxPtr, 6 * c + 1, y);
    if (t < f64At(boxPtr, 6 * c + 2)) setF64(boxPtr, 6 * c + 2, t);
    if (x > f64At(boxPtr, 6 * c + 3)) setF64(boxPtr, 6 * c + 3, x);
    if (y > f64At(boxPtr, 6 * c + 4)) setF64(boxPtr, 6 * c + 4, y);
    if (t > f64At(boxPtr, 6 * c + 5)) setF64(boxPtr, 6 * c + 5, t);
  }
  const tReach = withTime ? 2 : 0;
  for (let c = 0; c < cells; c++) {
    const gx = i32At(cellXPtr, c), gy = i32At(cellYPtr, c), gt = i32At(cellTPtr, c);
    // Each unordered pair of cells once: the cells after c in (t, y, x) order, two per axis.
    for (let ot = 0; ot <= tReach; ot++) {
      for (let oy = -2; oy <= 2; oy++) {
        for (let ox = -2; ox <= 2; ox++) {
          if (ot == 0 && (oy < 0 || (oy == 0 && ox <= 0))) continue;
          const d = cellAt(gx + ox, gy + oy, gt + ot, mask);
          if (d < 0) continue;
          if (find(i32At(headPtr, c)) == find(i32At(headPtr, d))) continue;
          // Closest approach of the two cells' bounding boxes.
          const bx = gap(c, d, 0), by = gap(c, d, 1), bt = gap(c, d, 2);
          if (bx * bx + by * by + bt * bt >= link2) continue;
          let joined = false;
          for (let i = i32At(headPtr, c); i >= 0 && !joined; i = i32At(nextPtr, i)) {
            const xi = f64At(xPtr, i), yi = f64At(yPtr, i), ti = withTime ? f64At(tPtr, i) : 0;
            for (let j = i32At(headPtr, d); j >= 0; j = i32At(nextPtr, j)) {
              const ex = xi - f64At(xPtr, j), ey = yi - f64At(yPtr, j);
              let e2 = ex * ex + ey * ey;
              if (withTime) {
                const et = ti - f64At(tPtr, j);
                e2 += et * et;
              }
              if (e2 < link2) {
                union(i, j);
                joined = true;
                break;
              }
            }
          }
        }
      }
    }
  }
  // Labels in order of each component's first mode (labelPtr holds a root's label + 1 meanwhile).
  for (let i = 0; i < n; i++) setI32(labelPtr, i, 0);
  let count: i32 = 0;
  for (let i = 0; i < n; i++) {
    const r = find(i);
    let l = i32At(labelPtr, r);
    if (l == 0) {
      l = ++count;
      setI32(labelPtr, r, l);
    }
    // r ≤ i: a root's entry is read before it is overwritten below (r == i is the root itself).
    setI32(labelPtr, i, l);
  }
  for (let i = 0; i < n; i++) setI32(labelPtr, i, i32At(labelPtr, i) - 1);
  return count;
}
