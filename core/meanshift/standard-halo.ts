// `standard` on a tile plus halo, and its halo check.
//
// Only the alerts that can end in a cluster the tile may own are climbed: the tile's own alerts,
// then, round by round, every alert within CLOSURE of a climbed alert whose cluster may be owned
// (its centre near the tile), until no such alert is left unclimbed. The other halo alerts still
// count in the density (every window sees them) but are not climbed: their modes belong to the
// neighbours' clusters.
//
// Neighbours may be missing (runTile reads them on demand): an alert is "touched" when the kernel
// window of some point of its trajectory reaches a MISSING area — a neighbour not given, or beyond
// the margin — so its mode may differ from the whole-region one. The result is complete when no
// kept cluster has a touched member or a member whose closure reaches a missing area, and no
// touched alert ends within width/2 + width of a kept cluster's mode; else `needs` says which
// neighbours (or a wider margin) would settle it. See docs/clustering.md.
import { linkModes } from './link.ts';
import { kernelReach, latticeClimber, meanOfModes } from './standard.ts';
import { TILE_SIZE } from '../tiles/grid.ts';
import type { Alerts } from '../tiles/types.ts';
import { BEYOND_MARGIN, NEIGHBOURS_ALL } from './types.ts';
import type { ClusterParams, TileBox, TileClustering } from './types.ts';
import type { Climb, LatticeClimber } from './standard.ts';

const LAST = TILE_SIZE - 1;
/** Keys of the cells missingAreas buckets modes in: column + CELL_OFFSET + (row + CELL_OFFSET)·CELL_ROW. */
const CELL_OFFSET = 1 << 20;
const CELL_ROW = 1 << 22;

/** Chebyshev distance (px) from a point to the tile [0, 255]²; 0 inside. */
function tileDistance(col: number, row: number): number {
  return Math.max(0, -col, col - LAST, -row, row - LAST);
}

/**
 * The missing areas a box [x0, x1] × [y0, y1] (tile pixel coordinates) reaches: bits of the
 * neighbours not loaded that it overlaps, plus BEYOND_MARGIN when it reaches past the margin.
 */
function missingIn(x0: number, y0: number, x1: number, y1: number, loaded: number, margin: number): number {
  let mask = 0;
  if (x0 < -margin || y0 < -margin || x1 > LAST + margin || y1 > LAST + margin) mask |= BEYOND_MARGIN;
  if ((loaded & 0x1ff) === 0x1ff) return mask;
  for (let dy = -1; dy <= 1; dy++) {
    if (dy < 0 ? y0 >= 0 : dy > 0 ? y1 <= LAST : y1 < 0 || y0 > LAST) continue;
    for (let dx = -1; dx <= 1; dx++) {
      if (dx < 0 ? x0 >= 0 : dx > 0 ? x1 <= LAST : x1 < 0 || x0 > LAST) continue;
      const bit = 1 << ((dy + 1) * 3 + (dx + 1));
      if ((loaded & bit) === 0) mask |= bit;
    }
  }
  return mask;
}

/** Bit of the tile itself in a neighbour mask. */
const SELF = 1 << 4;

/**
 * How far (px, Chebyshev, start pixels) from a member of a cluster the tile may own halo alerts are
 * climbed: a kernel window (reach) plus a width of slack.
 */
function closureOf(width: number): number {
  return Math.ceil(kernelReach(width) + width);
}

/**
 * The neighbours the first pass reads (bit 4: the tile): those within CLOSURE of the tile's own
 * alerts. A pass without one of them would almost always ask for it: a tile alert is nearly always
 * a member of a cluster the tile may own, and a member whose closure box reaches an area not read
 * makes the result incomplete (`missingAreas`). Reading them first saves that pass; what the climbs
 * reach beyond is asked for in `needs`.
 */
export function neighboursInClosure(alerts: Alerts, width: number): number {
  const closure = closureOf(width);
  let mask = SELF;
  for (let i = 0; i < alerts.length && mask !== NEIGHBOURS_ALL; i++) {
    const c = alerts.col[i], r = alerts.row[i];
    if (tileDistance(c, r) !== 0) continue;
    mask |= missingIn(c - closure, r - closure, c + closure, r + closure, SELF, Infinity);
  }
  return mask;
}

/** What a pass keeps for the next pass of the same tile: its climbs (the tile's alerts come first). */
interface StandardMemo {
  col: Int32Array;
  row: Int32Array;
  nTile: number;
  climb: Climb;
  climbed: Uint8Array;
  /** The neighbours given in that pass. */
  loaded: number;
  /** The missing areas (BEYOND_MARGIN included) the windows of a climb read then. */
  reads(i: number): number;
}

/** Whether the first nTile alerts are the previous pass's tile alerts, in the same order. */
function sameTileAlerts(previous: StandardMemo, alerts: Alerts, nTile: number): boolean {
  for (let i = 0; i < nTile; i++) if (previous.col[i] !== alerts.col[i] || previous.row[i] !== alerts.row[i]) return false;
  return true;
}

/**
 * The unclimbed alerts outside the tile within `closure` px (Chebyshev, start pixels) of a seed,
 * each once, marked queued (2) in `climbed`. Seeds near one another share most of their boxes:
 * past a few, one pass over a mask of the seeds dilated by `closure` costs less than visiting each
 * box's alerts (at 30,000 alerts a tile, the boxes visited 9.1M alerts to find 21,752). The search
 * runs in the climb kernel (wasm/standard-climb.ts, near), over its index of the alerts.
 * `density`: alerts per px² around the tile; `via` forces one way (tests).
 */
export function unclimbedNear(
  seeds: number[],
  alerts: Alerts,
  closure: number,
  climbed: Uint8Array,
  climber: LatticeClimber,
  density: number,
  via: 'cheaper' | 'boxes' | 'mask' = 'cheaper',
): Int32Array {
  if (seeds.length === 0) return new Int32Array(0);
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const i of seeds) {
    const c = alerts.col[i], r = alerts.row[i];
    if (c < x0) x0 = c;
    if (c > x1) x1 = c;
    if (r < y0) y0 = r;
    if (r > y1) y1 = r;
  }
  const w = x1 - x0 + 1 + 2 * closure, h = y1 - y0 + 1 + 2 * closure;
  const side = 2 * closure + 1;
  // Work: the alerts in each seed's box, or the mask's pixels (built, dilated along rows, then
  // columns) and the alerts in its box once.
  const boxesWork = 2 * seeds.length * side * side * density;
  const maskWork = (3 + density) * w * h;
  const viaMask = via === 'mask' || (via === 'cheaper' && boxesWork > maskWork);
  return climber.near(seeds, closure, climbed, viaMask);
}

/** The union of two ascending lists of distinct indices, ascending. */
function mergeSorted(a: Int32Array, b: Int32Array): Int32Array {
  const out = new Int32Array(a.length + b.length);
  for (let i = 0, j = 0, k = 0; k < out.length; k++) out[k] = j >= b.length || (i < a.length && a[i] < b[j]) ? a[i++] : b[j++];
  return out;
}

export function clusterStandard(alerts: Alerts, params: ClusterParams, box: TileBox): TileClustering {
  const n = alerts.length;
  const { margin, loaded } = box;
  const width = params.width;
  const climber = latticeClimber(alerts, width);
  const climb = climber.climb;
  const reach = climb.reach;
  // Halo alerts within this of a member of a possibly owned cluster are climbed too.
  const closure = closureOf(width);
  // A cluster may be owned when its centre lies within this of the tile (members still to be
  // found are halo alerts, which move it outwards; a width of slack for the rest).
  const near = width;
  /** The missing areas the windows of alert i's trajectory read. */
  const readsMissing = (i: number) =>
    missingIn(climb.pathMinX[i] - reach, climb.pathMinY[i] - reach, climb.pathMaxX[i] + reach, climb.pathMaxY[i] + reach, loaded, margin);

  const { minC, minR, maxC, maxR } = climber.box;
  const density = n / ((maxC - minC + 1) * (maxR - minR + 1));

  // The tile's alerts come first (runTile gathers them so). A climb of the previous pass that read
  // nothing beyond the margin and no neighbour given since saw the same alerts: reuse it.
  let nTile = 0;
  while (nTile < n && tileDistance(alerts.col[nTile], alerts.row[nTile]) === 0) nTile++;
  const climbed = new Uint8Array(n);
  const previous = box.memo.standard as StandardMemo | undefined;
  const reusable = previous !== undefined && previous.nTile === nTile && sameTileAlerts(previous, alerts, nTile);
  const changed = BEYOND_MARGIN | (reusable ? loaded & ~previous.loaded : 0);
  const reused: number[] = [], toClimb: number[] = [];
  for (let i = 0; i < n; i++) {
    if (tileDistance(alerts.col[i], alerts.row[i]) !== 0) continue;
    if (reusable && i < nTile && previous.climbed[i] === 1 && (previous.reads(i) & changed) === 0) {
      const was = previous.climb;
      climb.modeX[i] = was.modeX[i];
      climb.modeY[i] = was.modeY[i];
      climb.pathMinX[i] = was.pathMinX[i];
      climb.pathMinY[i] = was.pathMinY[i];
      climb.pathMaxX[i] = was.pathMaxX[i];
      climb.pathMaxY[i] = was.pathMaxY[i];
      climbed[i] = 1;
      reused.push(i);
    } else {
      toClimb.push(i);
    }
  }

  let pending: Int32Array = Int32Array.from(toClimb);
  const expanded = new Uint8Array(n);
  // The climbed alerts, in index order (the result does not depend on the rounds).
  let subset: Int32Array = Int32Array.from(reused);
  let labels: Int32Array = new Int32Array(0);
  let centres: Array<{ x: number; y: number }> = [];
  let candidate = new Uint8Array(0);
  for (;;) {
    for (const i of pending) climbed[i] = 1;
    climber.climbAlerts(pending);
    // Clusters among the climbed alerts.
    subset = mergeSorted(subset, pending);
    const m = subset.length;
    const mx = new Float64Array(m), my = new Float64Array(m);
    for (let k = 0; k < m; k++) {
      mx[k] = climb.modeX[subset[k]];
      my[k] = climb.modeY[subset[k]];
    }
    const linked = linkModes(mx, my, m, width / 2);
    labels = linked.labels;
    centres = meanOfModes(mx, my, labels, linked.count);
    candidate = new Uint8Array(linked.count);
    for (let l = 0; l < linked.count; l++) candidate[l] = tileDistance(centres[l].x, centres[l].y) <= near ? 1 : 0;
    if (m === n) break; // every alert climbed: nothing left to add
    // Next round: the unclimbed alerts within CLOSURE of candidates' members not yet expanded.
    const seeds: number[] = [];
    for (let k = 0; k < m; k++) {
      const i = subset[k];
      if (candidate[labels[k]] === 0 || expanded[i] === 1) continue;
      expanded[i] = 1;
      // Only the part of the box outside the tile can hold unclimbed alerts (the tile's are all climbed).
      const c = alerts.col[i], r = alerts.row[i];
      if (c - closure < 0 || r - closure < 0 || c + closure > LAST || r + closure > LAST) seeds.push(i);
    }
    const next = unclimbedNear(seeds, alerts, closure, climbed, climber, density);
    if (next.length === 0) break;
    pending = next.sort(); // numeric: a typed array
  }

  // For the next pass: this pass's climbs, and what each read that was missing (asked then).
  const memo: StandardMemo = { col: alerts.col, row: alerts.row, nTile, climb, climbed, loaded, reads: readsMissing };
  box.memo.standard = memo;

  // Every alert gets a label: the climbed ones their cluster's, the others one label together (halo
  // alerts in no cluster the tile may own; its centre is nowhere, so it is never owned).
  const allLabels = new Int32Array(n);
  const unowned = centres.length;
  const allCentres = [...centres, { x: NaN, y: NaN }];
  for (let i = 0, k = 0; i < n; i++) allLabels[i] = climbed[i] === 1 ? labels[k++] : unowned;

  /**
   * The missing areas that make the clusters the tile may own uncertain (0: complete): every
   * candidate, kept or not — one cut by a missing neighbour may look too small or off the tile.
   */
  let needed: number | undefined;
  const needs = (): number => (needed ??= missingAreas());
  const missingAreas = (): number => {
    let mask = 0;
    const keptModes: number[] = [];
    const touchedAlerts: number[] = [];
    for (let k = 0; k < subset.length; k++) {
      const i = subset[k];
      const touched = readsMissing(i);
      if (candidate[labels[k]] === 0) {
        if (touched !== 0) touchedAlerts.push(i);
        continue;
      }
      // A touched member, or one whose closure reaches areas not seen (alerts there could join).
      const c = alerts.col[i], r = alerts.row[i];
      mask |= touched | missingIn(c - closure, r - closure, c + closure, r + closure, loaded, margin);
      keptModes.push(i);
    }
    // Touched alerts of other clusters whose missing areas are not named yet (usually none once
    // every neighbour is in).
    const open = touchedAlerts.filter((i) => (mask | readsMissing(i)) !== mask);
    if (keptModes.length === 0 || open.length === 0) return mask;
    // Touched alerts nearly linked to a kept cluster: bucket by cell the kept modes near the box of
    // those touched alerts' modes (usually a few alerts, far from most kept modes).
    const link = width / 2 + width;
    let bx0 = Infinity, by0 = Infinity, bx1 = -Infinity, by1 = -Infinity;
    for (const i of open) {
      bx0 = Math.min(bx0, climb.modeX[i] - link);
      bx1 = Math.max(bx1, climb.modeX[i] + link);
      by0 = Math.min(by0, climb.modeY[i] - link);
      by1 = Math.max(by1, climb.modeY[i] + link);
    }
    const cells = new Map<number, number[]>();
    // Cells of side `link` as one number (modes lie within a few tiles of this one).
    const key = (cx: number, cy: number) => (cy + CELL_OFFSET) * CELL_ROW + (cx + CELL_OFFSET);
    for (const i of keptModes) {
      const x = climb.modeX[i], y = climb.modeY[i];
      if (x < bx0 || x > bx1 || y < by0 || y > by1) continue;
      const cell = key(Math.floor(x / link), Math.floor(y / link));
      const list = cells.get(cell);
      if (list) list.push(i);
      else cells.set(cell, [i]);
    }
    for (const i of open) {
      const touched = readsMissing(i);
      if ((mask | touched) === mask) continue;
      const cx = Math.floor(climb.modeX[i] / link), cy = Math.floor(climb.modeY[i] / link);
      search: for (let oy = -1; oy <= 1; oy++) {
        for (let ox = -1; ox <= 1; ox++) {
          for (const j of cells.get(key(cx + ox, cy + oy)) ?? []) {
            if (Math.hypot(climb.modeX[i] - climb.modeX[j], climb.modeY[i] - climb.modeY[j]) < link) {
              mask |= touched;
              break search;
            }
          }
        }
      }
    }
    return mask;
  };
  return { partition: { labels: allLabels, centres: allCentres }, complete: () => needs() === 0, needs };
}
