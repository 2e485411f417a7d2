// AssemblyScript: linkModes of core/meanshift/standard.ts — connected components of "mode i — mode j
// when their distance < link", labels 0..k-1 in order of each component's first mode.
// `npm run build:wasm` compiles it into core/meanshift/link-modes-wasm.ts (base64).
//
// The graph is the JavaScript's, edge for edge: modes in one cell of side link/√2 (floor(x / cell),
// as there) are joined without a test, modes of cells up to two apart when (Δx² + Δy²) < link².
// Components, hence labels, do not depend on the order in which edges are found, so a hash of the
// cells replaces the sorted grid. Here because the halo's closure links its modes every round: in a
// fresh process the JavaScript ran in the interpreter (~30 ms at 3,000 alerts a tile).

// ---- layout (byte offsets, set by the host) ----
let xPtr: usize = 0; // f64 × n: the modes
let yPtr: usize = 0;
let labelPtr: usize = 0; // i32 × n: the result (also the roots' labels while labelling)
let parentPtr: usize = 0; // i32 × n: union–find
let nextPtr: usize = 0; // i32 × n: the next mode of the same cell (−1: none)
let cellXPtr: usize = 0; // i32 × n (cells): the cell's grid column, row, first mode
let cellYPtr: usize = 0;
let headPtr: usize = 0;
let boxPtr: usize = 0; // f64 × 4 per cell: its modes' bounding box x0, y0, x1, y1
let slotPtr: usize = 0; // i32 × slots: cell + 1 (0: empty), open addressing

export function setLayout(x: usize, y: usize, label: usize, parent: usize, next: usize, cellX: usize, cellY: usize, head: usize, box: usize, slot: usize): void {
  xPtr = x;
  yPtr = y;
  labelPtr = label;
  parentPtr = parent;
  nextPtr = next;
  cellXPtr = cellX;
  cellYPtr = cellY;
  headPtr = head;
  boxPtr = box;
  slotPtr = slot;
}

@inline function i32At(base: usize, k: i32): i32 {
  return load<i32>(base + (<usize>k << 2));
}
@inline function setI32(base: usize, k: i32, v: i32): void {
  store<i32>(base + (<usize>k << 2), v);
}
@inline function f64At(base: usize, k: i32): f64 {
  return load<f64>(base + (<usize>k << 3));
}
@inline function setF64(base: usize, k: i32, v: f64): void {
  store<f64>(base + (<usize>k << 3), v);
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

@inline function hash(cx: i32, cy: i32, mask: i32): i32 {
  return ((cx * <i32>0x9e3779b1) ^ (cy * <i32>0x85ebca77)) & mask;
}

/** The cell at grid (cx, cy), or −1. */
function cellAt(cx: i32, cy: i32, mask: i32): i32 {
  let h = hash(cx, cy, mask);
  let c = i32At(slotPtr, h) - 1;
  while (c >= 0 && (i32At(cellXPtr, c) != cx || i32At(cellYPtr, c) != cy)) {
    h = (h + 1) & mask;
    c = i32At(slotPtr, h) - 1;
  }
  return c;
}

/** Beyond this many cells from 0 a grid coordinate could overflow: the host refuses such modes. */
const GRID_LIMIT: f64 = 1073741824;

/**
 * Links the n modes (slots: a power of two ≥ 2n, zeroed by the host). Returns the number of
 * components, or −1 when a mode is not finite or lies more than 2³⁰ cells from the origin.
 */
export function link(n: i32, cell: f64, link2: f64, slots: i32): i32 {
  const mask = slots - 1;
  let cells: i32 = 0;
  for (let i = 0; i < n; i++) {
    const x = f64At(xPtr, i), y = f64At(yPtr, i);
    const fx = Math.floor(x / cell), fy = Math.floor(y / cell);
    if (!(fx > -GRID_LIMIT && fx < GRID_LIMIT && fy > -GRID_LIMIT && fy < GRID_LIMIT)) return -1;
    const cx = <i32>fx, cy = <i32>fy;
    setI32(parentPtr, i, i);
    let h = hash(cx, cy, mask);
    let c: i32 = -1;
    for (;;) {
      c = i32At(slotPtr, h) - 1;
      if (c < 0) {
        c = cells++;
        setI32(slotPtr, h, c + 1);
        setI32(cellXPtr, c, cx);
        setI32(cellYPtr, c, cy);
        setI32(headPtr, c, -1);
        setF64(boxPtr, 4 * c, x);
        setF64(boxPtr, 4 * c + 1, y);
        setF64(boxPtr, 4 * c + 2, x);
        setF64(boxPtr, 4 * c + 3, y);
        break;
      }
      if (i32At(cellXPtr, c) == cx && i32At(cellYPtr, c) == cy) break;
      h = (h + 1) & mask;
    }
    const head = i32At(headPtr, c);
    setI32(nextPtr, i, head);
    setI32(headPtr, c, i);
    // Same cell ⇒ distance < link (the cell's diagonal is link).
    if (head >= 0) union(head, i);
    if (x < f64At(boxPtr, 4 * c)) setF64(boxPtr, 4 * c, x);
    if (y < f64At(boxPtr, 4 * c + 1)) setF64(boxPtr, 4 * c + 1, y);
    if (x > f64At(boxPtr, 4 * c + 2)) setF64(boxPtr, 4 * c + 2, x);
    if (y > f64At(boxPtr, 4 * c + 3)) setF64(boxPtr, 4 * c + 3, y);
  }
  for (let c = 0; c < cells; c++) {
    const gx = i32At(cellXPtr, c), gy = i32At(cellYPtr, c);
    // Each unordered pair of cells once: the half-neighbourhood after c in row-major order.
    for (let oy = 0; oy <= 2; oy++) {
      for (let ox = -2; ox <= 2; ox++) {
        if (oy == 0 && ox <= 0) continue;
        const d = cellAt(gx + ox, gy + oy, mask);
        if (d < 0) continue;
        if (find(i32At(headPtr, c)) == find(i32At(headPtr, d))) continue;
        // Closest approach of the two cells' bounding boxes.
        const bx = max(0, max(f64At(boxPtr, 4 * d) - f64At(boxPtr, 4 * c + 2), f64At(boxPtr, 4 * c) - f64At(boxPtr, 4 * d + 2)));
        const by = max(0, max(f64At(boxPtr, 4 * d + 1) - f64At(boxPtr, 4 * c + 3), f64At(boxPtr, 4 * c + 1) - f64At(boxPtr, 4 * d + 3)));
        if (bx * bx + by * by >= link2) continue;
        let joined = false;
        for (let i = i32At(headPtr, c); i >= 0 && !joined; i = i32At(nextPtr, i)) {
          const xi = f64At(xPtr, i), yi = f64At(yPtr, i);
          for (let j = i32At(headPtr, d); j >= 0; j = i32At(nextPtr, j)) {
            const ex = xi - f64At(xPtr, j), ey = yi - f64At(yPtr, j);
            if (ex * ex + ey * ey < link2) {
              union(i, j);
              joined = true;
              break;
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
