// The clustering entry point of one tile: run the chosen mean shift on the tile's alerts plus its
// halo, keep the clusters this tile OWNS (centre rounds into 0..255) with at least min_count
// members, and say whether the halo was wide enough for them (`complete`).
//
// Ownership makes every cluster of a region belong to exactly one tile; `complete` makes the
// caller widen the halo (doubling, up to MAX_HALO_MARGIN) until each owned cluster is provably
// unaffected by the halo's outer edge. See docs/clustering.md for the argument.
import { blurringMeanShift } from './blurring.ts';
import { flatMeanShiftTraced } from './flat.ts';
import { breakTiesByRank, checkFlatHalo } from './flat-halo.ts';
import type { FlatHaloCheck } from './flat-halo.ts';
import { climbLattice, linkModes, meanOfModes } from './standard.ts';
import type { Partition } from './types.ts';
import { TILE_SIZE } from '../tiles/grid.ts';
import type { Alerts } from '../tiles/types.ts';
import type { ClusterParams } from './types.ts';

/** One owned cluster: members are indices into the alerts passed in; (col, row) its centre. */
export interface OwnedCluster {
  members: Int32Array;
  col: number;
  row: number;
}

export interface TileClusters {
  clusters: OwnedCluster[];
  /** false: an owned cluster may be cut by the halo's outer edge; retry with a wider margin. */
  complete: boolean;
}

/** Widest halo (px): the second ring of neighbour tiles. */
export const MAX_HALO_MARGIN = 512;

/** The first halo tried: kernel reach plus room for a typical clearing (64 px at width 5). */
export function initialHaloMargin(params: ClusterParams): number {
  if (params.algorithm === 'blurring') return 0;
  const wanted = params.algorithm === 'standard' ? 12.8 * params.width : 12 * params.width;
  return Math.min(MAX_HALO_MARGIN, Math.max(16, Math.ceil(wanted / 16) * 16));
}

/** Whether a centre (tile pixel coordinates) belongs to this tile. */
function owns(col: number, row: number): boolean {
  const i = Math.round(col), j = Math.round(row);
  return i >= 0 && i < TILE_SIZE && j >= 0 && j < TILE_SIZE;
}

/** Labels of the clusters kept for this tile (owned, ≥ min_count), and each label's members. */
function ownedClusters(labels: Int32Array, centres: Partition['centres'], minCount: number): Map<number, number[]> {
  const members = new Map<number, number[]>();
  const size = new Int32Array(centres.length);
  for (let i = 0; i < labels.length; i++) size[labels[i]]++;
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (size[l] < minCount || !owns(centres[l].x, centres[l].y)) continue;
    let list = members.get(l);
    if (!list) members.set(l, (list = []));
    list.push(i);
  }
  return members;
}

function toOwned(members: Map<number, number[]>, centres: Partition['centres']): OwnedCluster[] {
  return [...members].map(([l, m]) => ({ members: Int32Array.from(m), col: centres[l].x, row: centres[l].y }));
}

/** Distance (px) from a point to the outer edge of the halo region [-margin, 255 + margin]². */
function edgeDistance(col: number, row: number, margin: number): number {
  const lo = -margin, hi = TILE_SIZE - 1 + margin;
  return Math.min(col - lo, hi - col, row - lo, hi - row);
}

/**
 * Where the tile's pixel (0, 0) lies in the zoom level's global pixel grid (x·256, y·256). Only
 * `flat` uses it: its means are plain float sums divided by counts, whose last bit depends on
 * the coordinate frame, so every tile computes in the one global frame to agree with its
 * neighbours on borderline decisions (a point exactly one width away, equal means).
 */
export interface TileOrigin {
  col: number;
  row: number;
}

export function clusterAlerts(alerts: Alerts, params: ClusterParams, haloMargin: number, origin: TileOrigin = { col: 0, row: 0 }): TileClusters {
  if (!(haloMargin >= 0)) throw new Error(`haloMargin=${haloMargin} must be ≥ 0`);
  if (alerts.length === 0) return { clusters: [], complete: true };
  switch (params.algorithm) {
    case 'standard':
      return clusterStandard(alerts, params, haloMargin);
    case 'flat':
      return clusterFlatChecked(alerts, params, haloMargin, origin).tile;
    case 'blurring': {
      // No halo: the blurred points move together, so a tile is clustered on its own alerts.
      const partition = blurringMeanShift(pointsOf(alerts), params.width, params.iterations);
      return { clusters: toOwned(ownedClusters(partition.labels, partition.centres, params.min_count), partition.centres), complete: true };
    }
    default:
      throw new Error(`unknown algorithm ${String((params as ClusterParams).algorithm)}`);
  }
}

function pointsOf(alerts: Alerts) {
  return { length: alerts.length, x: Float64Array.from(alerts.col), y: Float64Array.from(alerts.row) };
}

/**
 * `standard`. An alert is "touched" when the kernel window of some point of its trajectory
 * reaches past the halo edge (its mode may differ from the whole-region one). The result is
 * complete when no owned cluster has a touched member and no touched alert ends within
 * width/2 + width of an owned cluster's mode (a mode that might link to it in the whole region).
 */
function clusterStandard(alerts: Alerts, params: ClusterParams, margin: number): TileClusters {
  const n = alerts.length;
  const climb = climbLattice(alerts, params.width);
  const { labels, count } = linkModes(climb.modeX, climb.modeY, n, params.width / 2);
  const centres = meanOfModes(climb.modeX, climb.modeY, labels, count);
  const owned = ownedClusters(labels, centres, params.min_count);
  if (owned.size === 0) return { clusters: [], complete: true };

  const reach = climb.reach;
  const touched = (i: number) =>
    Math.min(
      edgeDistance(climb.pathMinX[i], climb.pathMinY[i], margin),
      edgeDistance(climb.pathMaxX[i], climb.pathMaxY[i], margin),
    ) < reach;
  let complete = true;
  const ownedModes: number[] = [];
  for (const members of owned.values()) {
    for (const i of members) {
      if (touched(i)) complete = false;
      ownedModes.push(i);
    }
  }
  if (complete) {
    // Touched alerts nearly linked to an owned cluster: bucket the owned modes by cell.
    const near = params.width / 2 + params.width;
    const cells = new Map<string, number[]>();
    const key = (x: number, y: number) => `${Math.floor(x / near)},${Math.floor(y / near)}`;
    for (const i of ownedModes) {
      const k = key(climb.modeX[i], climb.modeY[i]);
      const list = cells.get(k);
      if (list) list.push(i);
      else cells.set(k, [i]);
    }
    search: for (let i = 0; i < n; i++) {
      if (!touched(i)) continue;
      const cx = Math.floor(climb.modeX[i] / near), cy = Math.floor(climb.modeY[i] / near);
      for (let oy = -1; oy <= 1; oy++) {
        for (let ox = -1; ox <= 1; ox++) {
          for (const j of cells.get(`${cx + ox},${cy + oy}`) ?? []) {
            if (Math.hypot(climb.modeX[i] - climb.modeX[j], climb.modeY[i] - climb.modeY[j]) < near) {
              complete = false;
              break search;
            }
          }
        }
      }
    }
  }
  return { clusters: toOwned(owned, centres), complete };
}

/**
 * `flat` (scikit-learn semantics: every point goes to its nearest kept centre), run in the global
 * pixel frame. Complete when the halo check proves every owned cluster (centre, decision to keep
 * it, members) is the one the whole region would give (core/meanshift/flat-halo.ts).
 */
export function clusterFlatChecked(
  alerts: Alerts,
  params: ClusterParams,
  margin: number,
  origin: TileOrigin = { col: 0, row: 0 },
): { tile: TileClusters; check: FlatHaloCheck } {
  // scikit-learn's result depends on the input order (equal means: the last seed sets the
  // intensity). Row-major order makes it canonical: any part of a region is then seen in the same
  // relative order as in the whole region (and as a decoded raster lists its pixels).
  const order = Int32Array.from({ length: alerts.length }, (_, i) => i).sort(
    (p, q) => alerts.row[p] - alerts.row[q] || alerts.col[p] - alerts.col[q] || p - q,
  );
  const sorted = {
    length: alerts.length,
    x: Float64Array.from(order, (i) => alerts.col[i] + origin.col),
    y: Float64Array.from(order, (i) => alerts.row[i] + origin.row),
  };
  const byRank = flatMeanShiftTraced(sorted, params.width);
  // Exact ties go to the stronger centre, not to sklearn's KD-tree pick (which depends on the
  // halo's extent): the same alert then gets the same centre in every tile that sees both.
  breakTiesByRank(sorted, byRank, params.width);
  const box = { x0: origin.col - margin, y0: origin.row - margin, x1: origin.col + TILE_SIZE - 1 + margin, y1: origin.row + TILE_SIZE - 1 + margin };
  const check = checkFlatHalo(sorted, byRank, byRank.trace, params.width, box, (x, y) => owns(x - origin.col, y - origin.row), margin - 0.5);
  const labels = new Int32Array(alerts.length);
  for (let k = 0; k < order.length; k++) labels[order[k]] = byRank.labels[k];
  // Back to tile coordinates (exact: a difference of two nearby doubles).
  const centres = byRank.centres.map((c) => ({ x: c.x - origin.col, y: c.y - origin.row }));
  const owned = ownedClusters(labels, centres, params.min_count);
  return { tile: { clusters: toOwned(owned, centres), complete: check.complete }, check };
}
