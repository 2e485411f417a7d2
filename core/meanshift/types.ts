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
