// Contracts of the mean-shift algorithms: points in, a partition out; and of the engine's table:
// a tile's alerts and halo in, a partition and whether the halo was wide enough out.
import type { Alerts } from '../tiles/types.ts';

/** Points in pixel coordinates (x = col, y = row), struct-of-arrays for the hot loops. */
export interface Points {
  length: number;
  x: Float64Array;
  y: Float64Array;
  /**
   * A third coordinate, in px like x and y (space–time `flat`: day·width/time_width); absent: 0.
   * Distances are then Euclidean in (x, y, t); centres stay spatial.
   */
  t?: Float64Array;
}

/**
 * Every point gets a cluster label 0..centres.length-1 (these algorithms have no noise label);
 * centres[k] is cluster k's centre. Filtering by min_count happens after.
 */
export interface Partition {
  labels: Int32Array;
  centres: Array<{ x: number; y: number }>;
}

export const ALGORITHMS = ['standard', 'blurring', 'flat'] as const;

export type Algorithm = (typeof ALGORITHMS)[number];

/** Clustering parameters (request fields other than the tile and dates). */
export interface ClusterParams {
  /** Kernel width in pixels (Gaussian sigma for standard/blurring, radius for flat). */
  width: number;
  /** Minimum alerts in a kept cluster. */
  min_count: number;
  /** Passes of `blurring`; ignored by the other algorithms. */
  iterations: number;
  algorithm: Algorithm;
  /**
   * Time scale in days (absent: space only, today's clustering). When set, the kernel also weighs
   * the days between alerts: `standard` K = exp(−d²/(2·width²) − Δt²/(2·time_width²)), `flat` a
   * ball of radius width in (x, y, day·width/time_width); a cluster is a clearing event.
   * `blurring` refuses it.
   */
  time_width?: number;
}

/** The tile being clustered and its halo, in tile pixel coordinates. */
export interface TileBox {
  /** Alerts up to this many px beyond the tile's edges are given; farther ones may exist unseen. */
  margin: number;
  /** The tile's pixel (0, 0) in the zoom level's global pixel grid (`flat` computes there). */
  origin: { col: number; row: number };
  /** Whether the tile owns a cluster centred at (col, row): the engine's ownership rule. */
  owns(col: number, row: number): boolean;
  /**
   * Which of the 8 neighbours' alerts (within the margin) are given: bit (dy + 1)·3 + (dx + 1) for
   * the neighbour at (dx, dy); NEIGHBOURS_ALL when all are. An algorithm that cannot work with some
   * missing treats them as empty; `standard` reports which it needs (TileClustering.needs).
   */
  loaded: number;
  /** State an algorithm keeps between the passes of one tile (runTile passes the same object). */
  memo: Record<string, unknown>;
}

/** Every neighbour given (bits 0..8; bit 4, the tile itself, always set). */
export const NEIGHBOURS_ALL = 0x1ff;
/** Not a neighbour: "the result may depend on alerts beyond the margin" (widen it). */
export const BEYOND_MARGIN = 1 << 9;

/** One algorithm's clustering of a tile plus halo. */
export interface TileClustering {
  /** Labels of the alerts given; centres in tile pixel coordinates. */
  partition: Partition;
  /**
   * Whether the kept clusters (owned, ≥ min_count; members as alert indices) are the ones the
   * whole region would give, whatever lies beyond the halo. false: retry with a wider margin.
   */
  complete(kept: Iterable<number[]>): boolean;
  /**
   * When not complete: which neighbours (bits as TileBox.loaded) not given would settle it, plus
   * BEYOND_MARGIN when alerts beyond the margin matter. Absent: every neighbour, then the margin.
   */
  needs?(kept: Iterable<number[]>): number;
}

/** The one signature of every algorithm in the engine's table. */
export type ClusterTile = (alerts: Alerts, params: ClusterParams, box: TileBox) => TileClustering;
