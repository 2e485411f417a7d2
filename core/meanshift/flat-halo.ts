// Is a `flat` run on a tile + halo exact for the clusters the tile owns? (docs/clustering.md,
// "`flat` and the halo".) The halo is the box [-margin, 255 + margin]²; beyond it alerts may be
// missing. The check follows scikit-learn's three stages:
//
//  1. Seeds. A window wholly inside the box sees the same points as in the whole region, so a
//     trajectory whose windows all stay more than `width` inside is exact. Seeds beyond the box,
//     and seeds whose windows reached the edge, may end anywhere within REACH of their start, where
//     REACH is the longest trip of any seed of this run (the one assumption: the unseen seeds
//     just beyond the edge travel no farther than the seen ones). So every unknown or wrong
//     candidate lies in the band of depth width + 2·REACH along the edge; a candidate deeper in
//     is exact, position and intensity (the same seeds end on it, in the same row-major order).
//  2. Greedy suppression. A candidate is certainly removed when a certainly kept, higher-ranked
//     one is within the width; certainly kept when it is exact, more than a width from the band
//     and every higher-ranked candidate within the width is certainly removed; otherwise unknown.
//  3. Labels. An alert's nearest kept centre is certain when no unknown candidate nor the band is
//     as near as it.
//
// The tile's result is complete when no unknown candidate and no part of the band can be owned,
// and every alert whose nearest certain centre is owned is certain. Alerts beyond the box cannot
// join an owned centre: such an alert has a kept centre within REACH + width (its own candidate,
// or the kept one that removed it), and an owned certain centre is deeper than that.
//
// Space–time (`time_width`): points carry t = day·width/time_width and every distance is taken in
// (x, y, t). The halo cuts space only (every date of the tile's range is read), so edge distances
// stay spatial; a spatial distance never exceeds the space–time one, so each bound above still
// holds. The band is made of spatial trips (REACH in x, y); the alerts beyond the box are kept off
// owned centres by their space–time REACH + width, checked on its own.
import { flatMeanShiftTraced } from './flat.ts';
import type { FlatTrace } from './flat.ts';
import { SklearnKdTree } from './sklearn-kdtree.ts';
import { TILE_SIZE } from '../tiles/grid.ts';
import type { Alerts } from '../tiles/types.ts';
import type { ClusterParams, Partition, Points, TileBox, TileClustering } from './types.ts';

interface FlatHaloCheck {
  complete: boolean;
  /** Why not complete (the first reason found), '' when complete. */
  reason: string;
  /** Depth (px) of the band along the edge where candidates may be unknown or wrong. */
  band: number;
  /** Owned members exactly as far from another (lower-ranked) kept centre as from their own. */
  ties: number;
}

const UNKNOWN = 2, KEPT = 1, REMOVED = 0;

/**
 * `flat` (scikit-learn semantics: every point goes to its nearest kept centre) on a tile plus halo,
 * run in the global pixel frame. Complete when the halo check proves every owned cluster (centre,
 * decision to keep it, members) is the one the whole region would give.
 */
export function clusterFlat(alerts: Alerts, params: ClusterParams, box: TileBox): TileClustering & { check: FlatHaloCheck } {
  const { margin, origin } = box;
  // scikit-learn's result depends on the input order (equal means: the last seed sets the
  // intensity). Row-major order makes it canonical: any part of a region is then seen in the same
  // relative order as in the whole region (and as a decoded raster lists its pixels).
  const order = Int32Array.from({ length: alerts.length }, (_, i) => i).sort(
    (p, q) => alerts.row[p] - alerts.row[q] || alerts.col[p] - alerts.col[q] || p - q,
  );
  const sorted: Points = {
    length: alerts.length,
    x: Float64Array.from(order, (i) => alerts.col[i] + origin.col),
    y: Float64Array.from(order, (i) => alerts.row[i] + origin.row),
  };
  // Space–time: days scaled so that time_width days weigh like `width` px.
  if (params.time_width !== undefined) sorted.t = Float64Array.from(order, (i) => alerts.days[i] * (params.width / params.time_width!));
  const byRank = flatMeanShiftTraced(sorted, params.width);
  // Exact ties go to the stronger centre, not to sklearn's KD-tree pick (which depends on the
  // halo's extent): the same alert then gets the same centre in every tile that sees both.
  // (Space–time labels are given that way already, see flat.ts.)
  if (!sorted.t) breakTiesByRank(sorted, byRank, params.width);
  const halo = { x0: origin.col - margin, y0: origin.row - margin, x1: origin.col + TILE_SIZE - 1 + margin, y1: origin.row + TILE_SIZE - 1 + margin };
  const check = checkFlatHalo(sorted, byRank, byRank.trace, params.width, halo, (x, y) => box.owns(x - origin.col, y - origin.row), margin - 0.5);
  const labels = new Int32Array(alerts.length);
  for (let k = 0; k < order.length; k++) labels[order[k]] = byRank.labels[k];
  // Back to tile coordinates (exact: a difference of two nearby doubles).
  const centres = byRank.centres.map((c) => ({ x: c.x - origin.col, y: c.y - origin.row }));
  return { partition: { labels, centres }, complete: () => check.complete, check };
}

/** The halo's box, inclusive, in the run's coordinates: alerts beyond it may exist unseen. */
interface HaloBox {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/**
 * `points` and `partition` are the run's input and output, `trace` its trace, `box` the halo's
 * box; `owns(x, y)` whether the tile owns a centre there, all such centres lying at least
 * `ownedDepth` inside the box (margin − ½: the owned square is [−½, 255½)²).
 */
function checkFlatHalo(
  points: Points,
  partition: Partition,
  trace: FlatTrace,
  width: number,
  box: HaloBox,
  owns: (x: number, y: number) => boolean,
  ownedDepth: number,
): FlatHaloCheck {
  const edge = (x: number, y: number) => Math.min(x - box.x0, box.x1 - x, y - box.y0, box.y1 - y);
  const n = points.length;
  const { candidates, seedCandidate, centreRank } = trace;
  const w2 = width * width;
  const pt = points.t ?? new Float64Array(n);
  const centreT = (l: number) => candidates[centreRank[l]].z;

  let reach = 0, spaceReach = 0;
  for (let s = 0; s < n; s++) {
    reach = Math.max(reach, trace.reach[s]);
    spaceReach = Math.max(spaceReach, trace.spaceReach[s]);
  }
  // Unknown candidates end within the spatial REACH of an unseen start or of a window at the edge.
  const band = width + 2 * spaceReach;
  const result = (complete: boolean, reason: string, ties = 0): FlatHaloCheck => ({ complete, reason, band, ties });
  // The band may hold unknown candidates: it must not reach what the tile owns. An alert beyond
  // the box has a kept centre within its (space–time) REACH + width: owned ones must be farther.
  if (band >= ownedDepth || width + reach >= ownedDepth) return result(false, 'the band reaches the tile');

  // 1. Exact candidates: deeper than the band, and (implied, checked anyway) only exact seeds.
  const exact = new Uint8Array(candidates.length);
  for (let r = 0; r < candidates.length; r++) exact[r] = edge(candidates[r].x, candidates[r].y) > band ? 1 : 0;
  for (let s = 0; s < n; s++) {
    const pathEdge = Math.min(edge(trace.pathMinX[s], trace.pathMinY[s]), edge(trace.pathMaxX[s], trace.pathMaxY[s]));
    if (pathEdge <= width && seedCandidate[s] >= 0) exact[seedCandidate[s]] = 0;
  }

  // 2. Decisions in rank order (everything already in `seen` ranks higher).
  const state = new Uint8Array(candidates.length);
  const seen = new CellGrid(width, box.x0, box.y0, box.x1, box.y1);
  const unknown = new CellGrid(width, box.x0, box.y0, box.x1, box.y1);
  for (let r = 0; r < candidates.length; r++) {
    const c = candidates[r];
    let s = UNKNOWN;
    if (exact[r]) {
      let removed = false, open = edge(c.x, c.y) <= band + width;
      seen.forNear(c.x, c.y, width, (k) => {
        const dx = candidates[k].x - c.x, dy = candidates[k].y - c.y, dz = candidates[k].z - c.z;
        if (dx * dx + dy * dy + dz * dz > w2) return; // same test as the suppression itself
        if (state[k] === KEPT) removed = true;
        else if (state[k] === UNKNOWN) open = true;
      });
      s = removed ? REMOVED : open ? UNKNOWN : KEPT;
    }
    // A certain decision is the local one by construction; anything else is a bug here.
    if ((s === KEPT) !== (trace.keptAs[r] >= 0) && s !== UNKNOWN) throw new Error(`flat halo: candidate ${r} decided ${s} but kept=${trace.keptAs[r]}`);
    state[r] = s;
    seen.add(r, c.x, c.y);
    if (s === UNKNOWN) {
      if (owns(c.x, c.y)) return result(false, 'an owned candidate is undecided');
      unknown.add(r, c.x, c.y);
    }
  }

  // 3. Labels. Certainly kept centres (indices into partition.centres): all in a grid, and in a KD
  // tree for nearest queries; the owned ones in a grid of their own.
  const { centres, labels } = partition;
  const certain = new CellGrid(width, box.x0, box.y0, box.x1, box.y1);
  const ownedCertain = new CellGrid(width, box.x0, box.y0, box.x1, box.y1);
  const certainIds: number[] = [];
  for (let l = 0; l < centres.length; l++) {
    if (state[centreRank[l]] !== KEPT) continue;
    certain.add(l, centres[l].x, centres[l].y);
    certainIds.push(l);
    if (owns(centres[l].x, centres[l].y)) ownedCertain.add(l, centres[l].x, centres[l].y);
  }
  const tree = new SklearnKdTree(
    Float64Array.from(certainIds, (l) => centres[l].x),
    Float64Array.from(certainIds, (l) => centres[l].y),
  );
  const d2To = (i: number, x: number, y: number, t: number) => sq(points.x[i] - x) + sq(points.y[i] - y) + sq(pt[i] - t);
  let ties = 0;
  for (let i = 0; i < n; i++) {
    const l = labels[i];
    const px = points.x[i], py = points.y[i];
    if (state[centreRank[l]] === KEPT) {
      if (!owns(centres[l].x, centres[l].y)) continue; // truly nearest is l or an unknown one: never owned
      const d2 = d2To(i, centres[l].x, centres[l].y, centreT(l)), d = radius(d2);
      if (edge(px, py) - band <= d) return result(false, 'an owned member is as near the band');
      let open = false;
      unknown.forNear(px, py, d, (k) => {
        if (d2To(i, candidates[k].x, candidates[k].y, candidates[k].z) <= d2) open = true;
      });
      if (open) return result(false, 'an owned member is as near an undecided candidate');
      certain.forNear(px, py, d, (k) => {
        if (k !== l && d2To(i, centres[k].x, centres[k].y, centreT(k)) === d2) ties++;
      });
    } else if (certainIds.length > 0) {
      // Labelled with an undecided centre: its true centre might be its nearest certain one.
      let best: number;
      if (!points.t) {
        const near = certainIds[tree.nearest(px, py)];
        best = d2To(i, centres[near].x, centres[near].y, 0);
      } else {
        // Space–time: the spatially nearest certain centre may be years away; search outward
        // until a centre lies within the radius searched (then it is the nearest).
        const near = certainIds[tree.nearest(px, py)];
        best = d2To(i, centres[near].x, centres[near].y, centreT(near));
        for (let r = width; ; r *= 2) {
          // Every centre within r in space is seen: if the best lies within r, it is the nearest.
          certain.forNear(px, py, r, (k) => {
            best = Math.min(best, d2To(i, centres[k].x, centres[k].y, centreT(k)));
          });
          if (best <= r * r) break;
        }
      }
      let owned = false;
      ownedCertain.forNear(px, py, radius(best), (k) => {
        if (d2To(i, centres[k].x, centres[k].y, centreT(k)) <= best) owned = true;
      });
      if (owned) return result(false, 'an alert of an undecided centre may belong to an owned one');
    }
  }
  return result(true, '', ties);
}

/**
 * Relabels, in place, every point exactly as near another kept centre as its own with the
 * highest-ranked of them (the lowest centre index: centres are in rank order). scikit-learn lets
 * its KD tree pick, and which one it picks depends on every centre of the input, so a tile, its
 * halo and the whole region would each pick differently; this rule depends only on the tied centres
 * themselves. Returns how many labels changed.
 */
export function breakTiesByRank(points: Points, partition: Partition, width: number): number {
  const { centres, labels } = partition;
  if (centres.length === 0) return 0;
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const c of centres) {
    x0 = Math.min(x0, c.x);
    y0 = Math.min(y0, c.y);
    x1 = Math.max(x1, c.x);
    y1 = Math.max(y1, c.y);
  }
  const grid = new CellGrid(width, x0, y0, x1, y1);
  centres.forEach((c, l) => grid.add(l, c.x, c.y));
  let changed = 0;
  for (let i = 0; i < points.length; i++) {
    const px = points.x[i], py = points.y[i], l = labels[i];
    const d2 = sq(px - centres[l].x) + sq(py - centres[l].y);
    let best = l;
    grid.forNear(px, py, radius(d2), (k) => {
      if (k < best && sq(px - centres[k].x) + sq(py - centres[k].y) === d2) best = k;
    });
    if (best !== l) {
      labels[i] = best;
      changed++;
    }
  }
  return changed;
}

/** A radius surely covering every point at squared distance <= d2 (sqrt may round down). */
function radius(d2: number): number {
  return Math.sqrt(d2) * (1 + 1e-12) + 1e-9;
}

function sq(v: number): number {
  return v * v;
}

/**
 * Items bucketed by position in square cells over a bounding box, for "everything within r"
 * queries. Items beyond the box go to its border cells, and queries are clamped the same way, so
 * nothing within r is ever missed (callers test exact distances on what they get).
 */
class CellGrid {
  private readonly size: number;
  private readonly cx0: number;
  private readonly cy0: number;
  private readonly cols: number;
  private readonly rows: number;
  private readonly cells: Array<number[] | undefined>;

  constructor(size: number, x0: number, y0: number, x1: number, y1: number) {
    this.size = size;
    this.cx0 = Math.floor(x0 / size);
    this.cy0 = Math.floor(y0 / size);
    this.cols = Math.max(1, Math.floor(x1 / size) - this.cx0 + 1);
    this.rows = Math.max(1, Math.floor(y1 / size) - this.cy0 + 1);
    this.cells = new Array(this.cols * this.rows);
  }

  private col(x: number): number {
    return Math.min(this.cols - 1, Math.max(0, Math.floor(x / this.size) - this.cx0));
  }

  private row(y: number): number {
    return Math.min(this.rows - 1, Math.max(0, Math.floor(y / this.size) - this.cy0));
  }

  add(item: number, x: number, y: number): void {
    const k = this.row(y) * this.cols + this.col(x);
    const list = this.cells[k];
    if (list) list.push(item);
    else this.cells[k] = [item];
  }

  /** Calls fn for every item in the cells overlapping the square of half-side r around (x, y). */
  forNear(x: number, y: number, r: number, fn: (item: number) => void): void {
    r = r * (1 + 1e-12) + 1e-9; // a hair wider: callers test exact distances themselves
    const c0 = this.col(x - r), c1 = this.col(x + r), r0 = this.row(y - r), r1 = this.row(y + r);
    for (let cy = r0; cy <= r1; cy++) {
      for (let cx = c0; cx <= c1; cx++) {
        const list = this.cells[cy * this.cols + cx];
        if (list) for (let k = 0; k < list.length; k++) fn(list[k]);
      }
    }
  }
}
