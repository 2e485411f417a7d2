// Contracts of the mean-shift algorithms: points in, a partition out.

/** Points in pixel coordinates (x = col, y = row), struct-of-arrays for the hot loops. */
export interface Points {
  length: number;
  x: Float64Array;
  y: Float64Array;
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
}
