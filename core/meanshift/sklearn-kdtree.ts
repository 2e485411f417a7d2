// Nearest-neighbour query that breaks exact distance ties the way scikit-learn 1.2 does.
//
// sklearn's NearestNeighbors(n_neighbors=1).kneighbors, which MeanShift uses to label points,
// answers from a KD tree (leaf_size 30) built with libstdc++'s std::nth_element, searched depth
// first; the first point found at the best distance wins. Which one is "first" when a point is
// exactly equidistant from two centres (common with small widths: modes land on whole pixels)
// depends on the tree layout, so this file rebuilds that exact tree: same node split (widest
// dimension, first on ties), same nth_element (introselect, median of three), same traversal.
// With at most 3 centres sklearn goes brute force instead: the lowest index wins.

const LEAF_SIZE = 30;

/** sklearn KD tree over 2-D points (x, y), for 1-nearest-neighbour queries. */
export class SklearnKdTree {
  private readonly xs: Float64Array;
  private readonly ys: Float64Array;
  private readonly idx: Int32Array;
  private readonly nNodes: number;
  private readonly start: Int32Array;
  private readonly end: Int32Array;
  /** Node bounding boxes: lower and upper corner. */
  private readonly loX: Float64Array;
  private readonly loY: Float64Array;
  private readonly hiX: Float64Array;
  private readonly hiY: Float64Array;
  private readonly brute: boolean;
  private best = -1;
  private bestD2 = Infinity;

  constructor(xs: Float64Array, ys: Float64Array) {
    const n = xs.length;
    this.xs = xs;
    this.ys = ys;
    this.idx = new Int32Array(n);
    for (let i = 0; i < n; i++) this.idx[i] = i;
    // NearestNeighbors picks brute force when n_neighbors (1) >= n_samples // 2.
    this.brute = n < 4;
    const levels = Math.floor(Math.log2(Math.max(1, (n - 1) / LEAF_SIZE)) + 1);
    this.nNodes = 2 ** levels - 1;
    this.start = new Int32Array(this.nNodes);
    this.end = new Int32Array(this.nNodes);
    this.loX = new Float64Array(this.nNodes);
    this.loY = new Float64Array(this.nNodes);
    this.hiX = new Float64Array(this.nNodes);
    this.hiY = new Float64Array(this.nNodes);
    if (n > 0) this.build(0, 0, n);
  }

  /** Layout of the points in tree order (sklearn's `tree.get_arrays()[1]`), for tests. */
  order(): Int32Array {
    return this.idx.slice();
  }

  private build(node: number, from: number, to: number): void {
    const { xs, ys, idx } = this;
    let lx = Infinity, ly = Infinity, hx = -Infinity, hy = -Infinity;
    for (let k = from; k < to; k++) {
      const x = xs[idx[k]], y = ys[idx[k]];
      lx = Math.min(lx, x);
      ly = Math.min(ly, y);
      hx = Math.max(hx, x);
      hy = Math.max(hy, y);
    }
    this.start[node] = from;
    this.end[node] = to;
    this.loX[node] = lx;
    this.loY[node] = ly;
    this.hiX[node] = hx;
    this.hiY[node] = hy;
    if (2 * node + 1 >= this.nNodes || to - from < 2) return; // leaf
    // Split on the dimension of largest spread (x on ties), at the middle index.
    const values = hy - ly > hx - lx ? ys : xs;
    const mid = from + Math.floor((to - from) / 2);
    nthElement(idx, from, mid, to, (a, b) => (values[a] === values[b] ? a < b : values[a] < values[b]));
    this.build(2 * node + 1, from, mid);
    this.build(2 * node + 2, mid, to);
  }

  /** Index of the nearest point to (qx, qy) by squared distance, sklearn's tie-break. */
  nearest(qx: number, qy: number): number {
    const n = this.idx.length;
    if (n === 0) return -1;
    this.best = -1;
    this.bestD2 = Infinity;
    if (this.brute) {
      for (let i = 0; i < n; i++) this.visit(qx, qy, i);
    } else {
      this.search(0, qx, qy, this.minD2(0, qx, qy));
    }
    return this.best;
  }

  private visit(qx: number, qy: number, i: number): void {
    const dx = qx - this.xs[i], dy = qy - this.ys[i];
    const d2 = dx * dx + dy * dy;
    if (d2 < this.bestD2) {
      this.bestD2 = d2;
      this.best = i;
    }
  }

  /** Squared distance from the query to the node's box (0 inside). */
  private minD2(node: number, qx: number, qy: number): number {
    const dx = Math.max(0, this.loX[node] - qx, qx - this.hiX[node]);
    const dy = Math.max(0, this.loY[node] - qy, qy - this.hiY[node]);
    return dx * dx + dy * dy;
  }

  private search(node: number, qx: number, qy: number, lowerBound: number): void {
    if (lowerBound > this.bestD2) return;
    if (2 * node + 1 >= this.nNodes || this.end[node] - this.start[node] < 2) {
      for (let k = this.start[node]; k < this.end[node]; k++) this.visit(qx, qy, this.idx[k]);
      return;
    }
    const a = 2 * node + 1, b = a + 1;
    const da = this.minD2(a, qx, qy), db = this.minD2(b, qx, qy);
    if (da <= db) {
      this.search(a, qx, qy, da);
      this.search(b, qx, qy, db);
    } else {
      this.search(b, qx, qy, db);
      this.search(a, qx, qy, da);
    }
  }
}

type Less = (a: number, b: number) => boolean;

/**
 * libstdc++'s std::nth_element on arr[first, last) (introselect: median-of-three quickselect,
 * heap select when the depth limit runs out, insertion sort for the last <= 3 elements).
 * Reproduced step by step because the order it leaves inside each half is observable.
 */
function nthElement(arr: Int32Array, first: number, nth: number, last: number, less: Less): void {
  if (first === last || nth === last) return;
  let depthLimit = 2 * (31 - Math.clz32(last - first)); // 2 · std::__lg(n)
  while (last - first > 3) {
    if (depthLimit === 0) {
      heapSelect(arr, first, nth + 1, last, less);
      swap(arr, first, nth);
      return;
    }
    depthLimit--;
    const cut = partitionPivot(arr, first, last, less);
    if (cut <= nth) first = cut;
    else last = cut;
  }
  insertionSort(arr, first, last, less);
}

function swap(arr: Int32Array, i: number, j: number): void {
  const t = arr[i];
  arr[i] = arr[j];
  arr[j] = t;
}

function partitionPivot(arr: Int32Array, first: number, last: number, less: Less): number {
  const mid = first + Math.floor((last - first) / 2);
  moveMedianToFirst(arr, first, first + 1, mid, last - 1, less);
  // __unguarded_partition(first + 1, last, pivot = first)
  let lo = first + 1, hi = last;
  const pivot = arr[first];
  for (;;) {
    while (less(arr[lo], pivot)) lo++;
    hi--;
    while (less(pivot, arr[hi])) hi--;
    if (!(lo < hi)) return lo;
    swap(arr, lo, hi);
    lo++;
  }
}

function moveMedianToFirst(arr: Int32Array, result: number, a: number, b: number, c: number, less: Less): void {
  const va = arr[a], vb = arr[b], vc = arr[c];
  if (less(va, vb)) {
    if (less(vb, vc)) swap(arr, result, b);
    else if (less(va, vc)) swap(arr, result, c);
    else swap(arr, result, a);
  } else if (less(va, vc)) swap(arr, result, a);
  else if (less(vb, vc)) swap(arr, result, c);
  else swap(arr, result, b);
}

function insertionSort(arr: Int32Array, first: number, last: number, less: Less): void {
  if (first === last) return;
  for (let i = first + 1; i < last; i++) {
    const val = arr[i];
    if (less(val, arr[first])) {
      arr.copyWithin(first + 1, first, i);
      arr[first] = val;
    } else {
      let hole = i;
      while (less(val, arr[hole - 1])) {
        arr[hole] = arr[hole - 1];
        hole--;
      }
      arr[hole] = val;
    }
  }
}

function heapSelect(arr: Int32Array, first: number, middle: number, last: number, less: Less): void {
  makeHeap(arr, first, middle, less);
  for (let i = middle; i < last; i++) {
    if (less(arr[i], arr[first])) {
      // __pop_heap(first, middle, i)
      const value = arr[i];
      arr[i] = arr[first];
      adjustHeap(arr, first, 0, middle - first, value, less);
    }
  }
}

function makeHeap(arr: Int32Array, first: number, last: number, less: Less): void {
  const len = last - first;
  if (len < 2) return;
  for (let parent = Math.floor((len - 2) / 2); ; parent--) {
    adjustHeap(arr, first, parent, len, arr[first + parent], less);
    if (parent === 0) return;
  }
}

function adjustHeap(arr: Int32Array, first: number, holeIndex: number, len: number, value: number, less: Less): void {
  const topIndex = holeIndex;
  let secondChild = holeIndex;
  while (secondChild < Math.floor((len - 1) / 2)) {
    secondChild = 2 * (secondChild + 1);
    if (less(arr[first + secondChild], arr[first + secondChild - 1])) secondChild--;
    arr[first + holeIndex] = arr[first + secondChild];
    holeIndex = secondChild;
  }
  if ((len & 1) === 0 && secondChild === Math.floor((len - 2) / 2)) {
    secondChild = 2 * (secondChild + 1);
    arr[first + holeIndex] = arr[first + secondChild - 1];
    holeIndex = secondChild - 1;
  }
  // __push_heap(first, holeIndex, topIndex, value)
  let parent = Math.floor((holeIndex - 1) / 2);
  while (holeIndex > topIndex && less(arr[first + parent], value)) {
    arr[first + holeIndex] = arr[first + parent];
    holeIndex = parent;
    parent = Math.floor((holeIndex - 1) / 2);
  }
  arr[first + holeIndex] = value;
}
