// Grouping modes: single linkage — modes closer than `link` (a chain of them) form one cluster.
// Connected components of the graph "mode i — mode j when their distance < link", deterministic and
// independent of the order of the modes; labels 0..k-1 in order of each component's first mode.
// Cells of side link/√2 (link/√3 in space and time) are cliques (a cell's diagonal is `link`), so
// only pairs of different cells within two cells per axis are tested, skipped when already joined
// or when their modes' bounding boxes are too far apart. The cells are hashed, so the modes may
// spread over any area within 2³⁰ cells of the origin. In WebAssembly (wasm/link-modes.ts): the
// halo's closure links every round, and in a fresh process JavaScript ran it in the interpreter.
import { LINK_MODES } from './link-modes-wasm.ts';
import { ensureMemory, wasmBytes } from './wasm.ts';

/** The linking kernel (wasm/link-modes.ts). */
interface LinkKernel {
  memory: WebAssembly.Memory;
  setLayout(x: number, y: number, t: number, label: number, parent: number, next: number, cellX: number, cellY: number, cellT: number, head: number, box: number, slot: number): void;
  link(n: number, cell: number, link2: number, slots: number, withTime: boolean): number;
}

/** One instance per process; its memory holds one linking at a time and only grows. */
let kernel: LinkKernel | undefined;

/** The components of the modes (modeT undefined: in the plane). */
function components(modeX: Float64Array, modeY: Float64Array, modeT: Float64Array | undefined, n: number, link: number): { labels: Int32Array; count: number } {
  const labels = new Int32Array(n);
  if (n === 0) return { labels, count: 0 };
  const cell = link / Math.sqrt(modeT ? 3 : 2);
  let slots = 16;
  while (slots < 2 * n) slots *= 2;
  let bytes = 0;
  const take = (size: number) => ((bytes += size), bytes - size);
  const xAt = take(8 * n), yAt = take(8 * n), tAt = take(modeT ? 8 * n : 0), boxAt = take(48 * n);
  const labelAt = take(4 * n), parentAt = take(4 * n), nextAt = take(4 * n), headAt = take(4 * n);
  const cellXAt = take(4 * n), cellYAt = take(4 * n), cellTAt = take(4 * n), slotAt = take(4 * slots);
  kernel ??= new WebAssembly.Instance(new WebAssembly.Module(wasmBytes(LINK_MODES))).exports as unknown as LinkKernel;
  const k = kernel;
  ensureMemory(k.memory, bytes);
  const buf = k.memory.buffer;
  new Float64Array(buf, xAt, n).set(modeX.subarray(0, n));
  new Float64Array(buf, yAt, n).set(modeY.subarray(0, n));
  if (modeT) new Float64Array(buf, tAt, n).set(modeT.subarray(0, n));
  new Int32Array(buf, slotAt, slots).fill(0);
  k.setLayout(xAt, yAt, tAt, labelAt, parentAt, nextAt, cellXAt, cellYAt, cellTAt, headAt, boxAt, slotAt);
  const count = k.link(n, cell, link * link, slots, modeT !== undefined);
  if (count < 0) throw new RangeError(`linking modes: a mode is not finite or lies over 2^30 cells (${cell} px) from the origin`);
  labels.set(new Int32Array(buf, labelAt, n));
  return { labels, count };
}

/** Clusters of modes in (x, y): the modes of `standard`, linked at width/2. */
export function linkModes(modeX: Float64Array, modeY: Float64Array, n: number, link: number): { labels: Int32Array; count: number } {
  return components(modeX, modeY, undefined, n, link);
}

/** Clusters of modes in (x, y, t): space–time `standard` (t in px of τ), linked at width/2. */
export function linkModes3(modeX: Float64Array, modeY: Float64Array, modeT: Float64Array, n: number, link: number): { labels: Int32Array; count: number } {
  return components(modeX, modeY, modeT, n, link);
}
