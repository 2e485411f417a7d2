// The clustering entry point of one tile: run the chosen mean shift on the tile's alerts plus its
// halo, keep the clusters this tile OWNS (centre rounds into 0..255) with at least min_count
// members, and say whether the halo was wide enough for them (`complete`).
//
// Ownership makes every cluster of a region belong to exactly one tile; `complete` makes the
// caller widen the halo (doubling, up to MAX_HALO_MARGIN) until each owned cluster is provably
// unaffected by the halo's outer edge. Each algorithm checks its own halo (standard-halo.ts,
// flat-halo.ts). See docs/clustering.md for the argument.
import { blurringMeanShift } from './blurring.ts';
import { clusterFlat } from './flat-halo.ts';
import { clusterStandard, neighboursInClosure } from './standard-halo.ts';
import { clusterStandardSpaceTime } from './standard-spacetime-halo.ts';
import { TILE_SIZE } from '../tiles/grid.ts';
import type { Alerts } from '../tiles/types.ts';
import { BEYOND_MARGIN, NEIGHBOURS_ALL } from './types.ts';
import type { Algorithm, ClusterParams, ClusterTile, Partition, TileBox } from './types.ts';

/** One owned cluster: members are indices into the alerts passed in; (col, row) its centre. */
export interface OwnedCluster {
  members: Int32Array;
  col: number;
  row: number;
}

interface TileClusters {
  clusters: OwnedCluster[];
  /** false: an owned cluster may be cut by the halo's outer edge or a missing neighbour; retry. */
  complete: boolean;
  /** When not complete: the neighbours to add (bits as HaloPass.loaded), or BEYOND_MARGIN: widen the margin. */
  needs: number;
}

/** One pass of a tile: which neighbours are given, and the algorithm's state between passes. */
export interface HaloPass {
  /** Bit (dy + 1)·3 + (dx + 1) per neighbour given (default NEIGHBOURS_ALL). */
  loaded?: number;
  /** The same object for every pass of one tile. */
  memo?: Record<string, unknown>;
}

/** The algorithms, one signature each. */
const ALGORITHM_TABLE: Record<Algorithm, ClusterTile> = {
  standard: clusterStandard,
  // No halo: the blurred points move together, so a tile is clustered on its own alerts.
  blurring: (alerts, params) => ({
    partition: blurringMeanShift({ length: alerts.length, x: Float64Array.from(alerts.col), y: Float64Array.from(alerts.row) }, params.width, params.iterations),
    complete: () => true,
  }),
  flat: clusterFlat,
};

/**
 * With `time_width` (space–time clusters, clearing events): standard's space–time variant; flat
 * takes the time coordinate itself (flat-halo.ts); blurring has no time kernel.
 */
const SPACE_TIME_TABLE: Record<Algorithm, ClusterTile | undefined> = {
  standard: clusterStandardSpaceTime,
  blurring: undefined,
  flat: clusterFlat,
};

/** Widest halo (px): the second ring of neighbour tiles. */
export const MAX_HALO_MARGIN = 512;

/**
 * The first halo of `standard`, in widths (128 px at width 5): it climbs only the halo alerts near
 * clusters the tile may own (standard-halo.ts), so a wide halo costs little more than the lattice.
 * A sparse tile (under SPARSE_TILE alerts) starts from half of it: its clusters are small, and the
 * box it indexes then a quarter as large. Synthetic tiles, 10 of each: at 1,000 alerts 64 px sufficed
 * for every tile (10.3 against 14.3 ms a tile); at 2,000 and 3,000 the same time, 1 of 10 tiles
 * doubling at 3,000; at 5,000, 3 of 10 doubled (49 against 41 ms); at 10,000 every one.
 */
const STANDARD_FIRST_MARGIN = 25.6;
const SPARSE_TILE = 2000;

/**
 * The first halo tried for a tile with `tileAlerts` alerts: for `flat`, kernel reach plus room for a
 * typical clearing (64 px at width 5).
 */
export function initialHaloMargin(params: ClusterParams, tileAlerts = Infinity): number {
  if (params.algorithm === 'blurring') return 0;
  const spatialStandard = tileAlerts < SPARSE_TILE ? STANDARD_FIRST_MARGIN / 2 : STANDARD_FIRST_MARGIN;
  // Space–time `standard` climbs its whole halo (standard-spacetime-halo.ts): kernel reach plus room for a clearing.
  const perWidth = params.algorithm !== 'standard' ? 12 : params.time_width === undefined ? spatialStandard : 12.8;
  const wanted = perWidth * params.width;
  return Math.min(MAX_HALO_MARGIN, Math.max(16, Math.ceil(wanted / 16) * 16));
}

/**
 * The neighbours to read before the first pass (bit (dy + 1)·3 + (dx + 1); bit 4 is the tile):
 * spatial `standard` says which it needs (standard-halo.ts), starting with those within its closure
 * of the tile's alerts; the others need them all.
 */
export function firstNeighbours(alerts: Alerts, params: ClusterParams): number {
  return params.algorithm === 'standard' && params.time_width === undefined ? neighboursInClosure(alerts, params.width) : NEIGHBOURS_ALL;
}

/** Whether a centre (tile pixel coordinates) belongs to this tile. */
function owns(col: number, row: number): boolean {
  const i = Math.round(col), j = Math.round(row);
  return i >= 0 && i < TILE_SIZE && j >= 0 && j < TILE_SIZE;
}

/** The box of a tile with a halo of `margin` px, its pixel (0, 0) at `origin` in the global pixel grid. */
export function tileBox(margin: number, origin: { col: number; row: number } = { col: 0, row: 0 }, loaded = NEIGHBOURS_ALL, memo: Record<string, unknown> = {}): TileBox {
  return { margin, origin, owns, loaded, memo };
}

/** Labels of the clusters kept for this tile (owned, ≥ min_count), and each label's members. */
function ownedClusters(labels: Int32Array, centres: Partition['centres'], minCount: number): Map<number, number[]> {
  const members = new Map<number, number[]>();
  const size = new Int32Array(centres.length);
  for (let i = 0; i < labels.length; i++) size[labels[i]]++;
  const kept = Uint8Array.from(centres, (c, l) => (size[l] >= minCount && owns(c.x, c.y) ? 1 : 0));
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (kept[l] === 0) continue;
    let list = members.get(l);
    if (!list) members.set(l, (list = []));
    list.push(i);
  }
  return members;
}

/**
 * The clusters a tile owns among `alerts` (the tile's and its halo's, tile pixel coordinates).
 * `origin`: the tile's pixel (0, 0) in the zoom level's global pixel grid (x·256, y·256). Only
 * `flat` uses it: its means are plain float sums divided by counts, whose last bit depends on
 * the coordinate frame, so every tile computes in the one global frame to agree with its
 * neighbours on borderline decisions (a point exactly one width away, equal means).
 */
export function clusterAlerts(
  alerts: Alerts,
  params: ClusterParams,
  haloMargin: number,
  origin = { col: 0, row: 0 },
  pass: HaloPass = {},
): TileClusters {
  if (!(haloMargin >= 0)) throw new Error(`haloMargin=${haloMargin} must be ≥ 0`);
  if (alerts.length === 0) return { clusters: [], complete: true, needs: 0 };
  const spaceTime = params.time_width !== undefined;
  if (spaceTime && !(params.time_width! > 0 && Number.isFinite(params.time_width))) throw new Error(`time_width=${params.time_width} must be a positive number of days`);
  const table = spaceTime ? SPACE_TIME_TABLE : ALGORITHM_TABLE;
  const cluster = Object.hasOwn(table, params.algorithm) ? table[params.algorithm] : undefined;
  if (!cluster) throw new Error(Object.hasOwn(table, params.algorithm) ? `time_width: ${params.algorithm} has no time kernel (use standard or flat)` : `unknown algorithm ${String(params.algorithm)}`);
  const loaded = pass.loaded ?? NEIGHBOURS_ALL;
  const { partition, complete, needs } = cluster(alerts, params, tileBox(haloMargin, origin, loaded, pass.memo ?? {}));
  const { centres } = partition;
  const kept = ownedClusters(partition.labels, centres, params.min_count);
  const done = complete(kept.values());
  return {
    clusters: [...kept].map(([l, m]) => ({ members: Int32Array.from(m), col: centres[l].x, row: centres[l].y })),
    complete: done,
    // Without a finer answer from the algorithm: every neighbour not given, then a wider margin.
    needs: done ? 0 : needs ? needs(kept.values()) : (NEIGHBOURS_ALL & ~loaded) || BEYOND_MARGIN,
  };
}
