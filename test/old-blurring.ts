// Plain transcription of the old system's blurring mean shift (numpy), the reference the fast
// version in core/meanshift/blurring.ts must reproduce. Untruncated, O(n² · iterations), float64:
//
//   X = alerts.astype(float)            # (row, col) pairs in row-major order
//   for it in range(iterations):
//       for i, x in enumerate(X):
//           dist = np.sqrt(((x - X)**2).sum(1))
//           weight = np.exp(-0.5 * (dist / width)**2)
//           X[i] = (np.expand_dims(weight, 1) * X).sum(0) / weight.sum()
//   clusters = group alerts by tuple(np.round(X[i]))
import type { Partition, Points } from '../core/meanshift/types.ts';

/** numpy's np.round: half to even. */
function roundHalfEven(v: number): number {
  let r = Math.round(v);
  if (r - v === 0.5 && r % 2 !== 0) r -= 1;
  return r + 0; // -0 -> 0, as Python's tuple keys treat them equal
}

export function oldBlurringMeanShift(points: Points, width: number, iterations: number): Partition & { finalX: Float64Array; finalY: Float64Array } {
  const n = points.length;
  // Row-major order, as the old code received alerts (stable sort on (row, col)).
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => points.y[a] - points.y[b] || points.x[a] - points.x[b] || a - b);
  const row = new Float64Array(n);
  const col = new Float64Array(n);
  order.forEach((orig, k) => {
    row[k] = points.y[orig];
    col[k] = points.x[orig];
  });
  const weight = new Float64Array(n);
  for (let it = 0; it < iterations; it++) {
    for (let i = 0; i < n; i++) {
      const r = row[i], c = col[i];
      for (let j = 0; j < n; j++) {
        const dist = Math.sqrt((r - row[j]) ** 2 + (c - col[j]) ** 2);
        weight[j] = Math.exp(-0.5 * (dist / width) ** 2);
      }
      let sumW = 0, sumR = 0, sumC = 0;
      for (let j = 0; j < n; j++) {
        sumW += weight[j];
        sumR += weight[j] * row[j];
        sumC += weight[j] * col[j];
      }
      row[i] = sumR / sumW;
      col[i] = sumC / sumW;
    }
  }
  // Group by rounded pixel; clusters numbered by first appearance in row-major order.
  const labels = new Int32Array(n);
  const centres: Array<{ x: number; y: number }> = [];
  const clusterOf = new Map<string, number>();
  const finalX = new Float64Array(n);
  const finalY = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const ry = roundHalfEven(row[k]), rx = roundHalfEven(col[k]);
    const key = `${ry},${rx}`;
    let label = clusterOf.get(key);
    if (label === undefined) {
      label = centres.length;
      clusterOf.set(key, label);
      centres.push({ x: rx, y: ry });
    }
    labels[order[k]] = label;
    finalX[order[k]] = col[k];
    finalY[order[k]] = row[k];
  }
  return { labels, centres, finalX, finalY };
}
