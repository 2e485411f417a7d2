// The exact, slow `standard` mean shift (test helper): untruncated Gaussian kernel, plain O(n²)
// loops, the same stopping rule (step < STOP_STEP, at most MAX_STEPS) and the same grouping
// (single linkage of modes closer than width/2, centre = mean of the members' modes).
// Also: the comparison of two clusterings used to check the fast code against it.
import { MAX_STEPS, STOP_STEP } from '../core/meanshift/standard.ts';

export interface ReferenceResult {
  modeX: Float64Array;
  modeY: Float64Array;
  labels: Int32Array;
  centres: Array<{ x: number; y: number }>;
}

export function referenceStandard(xs: ArrayLike<number>, ys: ArrayLike<number>, width: number): ReferenceResult {
  const n = xs.length;
  const modeX = new Float64Array(n), modeY = new Float64Array(n);
  const inv = 1 / (2 * width * width);
  for (let i = 0; i < n; i++) {
    let x = xs[i], y = ys[i];
    for (let step = 0; step < MAX_STEPS; step++) {
      let s = 0, sx = 0, sy = 0;
      for (let j = 0; j < n; j++) {
        const dx = xs[j] - x, dy = ys[j] - y;
        const k = Math.exp(-(dx * dx + dy * dy) * inv);
        s += k;
        sx += k * xs[j];
        sy += k * ys[j];
      }
      const nx = sx / s, ny = sy / s;
      const moved = Math.hypot(nx - x, ny - y);
      x = nx;
      y = ny;
      if (moved < STOP_STEP) break;
    }
    modeX[i] = x;
    modeY[i] = y;
  }
  // Single linkage by brute force: union every pair closer than width/2.
  const parent = Int32Array.from({ length: n }, (_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i])));
  const link = width / 2;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      if (Math.hypot(modeX[i] - modeX[j], modeY[i] - modeY[j]) < link) {
        const a = find(i), b = find(j);
        if (a !== b) parent[Math.max(a, b)] = Math.min(a, b);
      }
    }
  }
  const labels = new Int32Array(n);
  const labelOf = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const r = find(i);
    if (!labelOf.has(r)) labelOf.set(r, labelOf.size);
    labels[i] = labelOf.get(r)!;
  }
  const centres = Array.from({ length: labelOf.size }, () => ({ x: 0, y: 0, m: 0 }));
  for (let i = 0; i < n; i++) {
    const c = centres[labels[i]];
    c.x += modeX[i];
    c.y += modeY[i];
    c.m++;
  }
  return { modeX, modeY, labels, centres: centres.map((c) => ({ x: c.x / c.m, y: c.y / c.m })) };
}

export interface Clustering {
  labels: Int32Array;
  centres: Array<{ x: number; y: number }>;
}

export interface Comparison {
  /** Alerts of the fast result (kept clusters, min_count applied). */
  n: number;
  /** Share of alerts on which both agree: both unclustered, or in clusters matched to each other. */
  agreement: number;
  clustersA: number;
  clustersB: number;
  /** One-to-one pairs (each is the other's majority overlap). */
  matched: number;
  /** Largest centre distance over matched pairs with identical members, px. */
  maxCentreDistance: number;
  /** Matched pairs whose member sets differ (their centres may legitimately move more). */
  matchedButDifferent: number;
  /** Largest centre distance over all matched pairs, px. */
  maxCentreDistanceAny: number;
}

/**
 * Compares two clusterings of the same alerts after dropping clusters smaller than minCount.
 * Clusters are paired when each is the other's majority overlap (one-to-one by construction);
 * an alert agrees when both leave it unclustered or both put it in a pair's two clusters.
 */
export function compareClusterings(a: Clustering, b: Clustering, minCount: number): Comparison {
  const n = a.labels.length;
  const kept = (c: Clustering) => {
    const size = new Int32Array(c.centres.length);
    for (const l of c.labels) size[l]++;
    return Int32Array.from(c.labels, (l) => (size[l] >= minCount ? l : -1));
  };
  const la = kept(a), lb = kept(b);
  // Overlap counts between kept clusters (sparse).
  const overlap = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    if (la[i] < 0 || lb[i] < 0) continue;
    const k = `${la[i]},${lb[i]}`;
    overlap.set(k, (overlap.get(k) ?? 0) + 1);
  }
  const bestOfA = new Map<number, [number, number]>(), bestOfB = new Map<number, [number, number]>();
  for (const [k, v] of overlap) {
    const [ca, cb] = k.split(',').map(Number);
    if (!bestOfA.has(ca) || bestOfA.get(ca)![1] < v) bestOfA.set(ca, [cb, v]);
    if (!bestOfB.has(cb) || bestOfB.get(cb)![1] < v) bestOfB.set(cb, [ca, v]);
  }
  const partner = new Map<number, number>();
  for (const [ca, [cb]] of bestOfA) if (bestOfB.get(cb)![0] === ca) partner.set(ca, cb);
  let agree = 0;
  for (let i = 0; i < n; i++) {
    if (la[i] < 0 ? lb[i] < 0 : partner.get(la[i]) === lb[i]) agree++;
  }
  const sizeA = new Map<number, number>(), sizeB = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    if (la[i] >= 0) sizeA.set(la[i], (sizeA.get(la[i]) ?? 0) + 1);
    if (lb[i] >= 0) sizeB.set(lb[i], (sizeB.get(lb[i]) ?? 0) + 1);
  }
  let maxCentreDistance = 0, maxCentreDistanceAny = 0, matchedButDifferent = 0;
  for (const [ca, cb] of partner) {
    const d = Math.hypot(a.centres[ca].x - b.centres[cb].x, a.centres[ca].y - b.centres[cb].y);
    maxCentreDistanceAny = Math.max(maxCentreDistanceAny, d);
    const same = overlap.get(`${ca},${cb}`) === sizeA.get(ca) && sizeA.get(ca) === sizeB.get(cb);
    if (same) maxCentreDistance = Math.max(maxCentreDistance, d);
    else matchedButDifferent++;
  }
  return {
    n,
    agreement: n === 0 ? 1 : agree / n,
    clustersA: sizeA.size,
    clustersB: sizeB.size,
    matched: partner.size,
    maxCentreDistance,
    matchedButDifferent,
    maxCentreDistanceAny,
  };
}
