// The exact, slow `standard` mean shift (test oracle), and the comparison of two clusterings used
// to check the fast code against it.
//
// The oracle is written INDEPENDENTLY of core/meanshift/standard.ts: it imports nothing from it and
// shares none of its devices (no kernel truncation, no lattice index, no pixel models, no stopping
// constant, no step cap in practice). Each alert follows the plain mean-shift iteration
// y ← Σ K(p−y)·p / Σ K(p−y), K = exp(−|p−y|²/(2·width²)) over ALL alerts, until a step is shorter
// than ORACLE_STOP = 1e-6 px (at most ORACLE_MAX_STEPS = 10⁶ steps, which throws: never reached).
// Grouping is brute-force single linkage of modes closer than width/2; centre = mean of the modes.
//
// Distances come from `ml-distance` (`distance.squaredEuclidean`, over [x, y] pairs: step lengths,
// candidate lists, linkage); the kernel sum writes the same squared distance inline. Either way it
// is different arithmetic from the fast code, which never forms a distance (it sums separable
// per-axis weights from a table, through pixel models).
//
// Speed without truncating: only the alerts within NEAR = 10 widths of the position are summed,
// and every step CHECKS that the ones left out cannot matter: each weighs < exp(−50) ≈ 2·10⁻²², so
// their total is < (count left out)·2·10⁻²², and the step asserts that this is below 10⁻¹⁷ of the
// weight summed — under the rounding of a double, i.e. the sum is the untruncated one to machine
// precision. When the bound does not hold, that step sums every alert.

import { distance } from 'ml-distance';

/** The oracle stops a climb at the first step shorter than this (px). */
export const ORACLE_STOP = 1e-6;
/** Practically no cap: reaching it throws. */
const ORACLE_MAX_STEPS = 1_000_000;
/** Alerts beyond NEAR widths are left out of a step only when provably negligible. */
const NEAR = 10;

/** Squared Euclidean distance of two points (ml-distance). */
export const squaredEuclidean = (p: readonly number[], q: readonly number[]): number => distance.squaredEuclidean(p as number[], q as number[]);

export interface ReferenceResult {
  modeX: Float64Array;
  modeY: Float64Array;
  labels: Int32Array;
  centres: Array<{ x: number; y: number }>;
  /** Steps per alert (the exact flow's length to convergence). */
  steps: Int32Array;
}

export function referenceStandard(xs: ArrayLike<number>, ys: ArrayLike<number>, width: number): ReferenceResult {
  const n = xs.length;
  const px = Float64Array.from(xs), py = Float64Array.from(ys);
  const modeX = new Float64Array(n), modeY = new Float64Array(n);
  const steps = new Int32Array(n);
  const twoW2 = 2 * width * width;
  const near = NEAR * width;
  const negligible = Math.exp(-(near * near) / twoW2);
  // Candidate list: the alerts within near + width of a list centre, rebuilt when the position has
  // moved more than `width` from it (so it holds every alert within `near` of the position).
  const list = new Int32Array(n);
  let listLength = 0;
  const gather = (cx: number, cy: number) => {
    const r2 = (near + width) * (near + width);
    listLength = 0;
    for (let j = 0; j < n; j++) if (squaredEuclidean([px[j], py[j]], [cx, cy]) <= r2) list[listLength++] = j;
  };
  for (let i = 0; i < n; i++) {
    let x = px[i], y = py[i];
    let lx = x, ly = y;
    gather(lx, ly);
    let s = 0;
    for (;;) {
      if (++s > ORACLE_MAX_STEPS) throw new Error(`oracle: alert ${i} not converged after ${ORACLE_MAX_STEPS} steps`);
      if ((x - lx) * (x - lx) + (y - ly) * (y - ly) > width * width) gather((lx = x), (ly = y));
      let sum = 0, sumX = 0, sumY = 0;
      for (let q = 0; q < listLength; q++) {
        const j = list[q];
        const ex = px[j] - x, ey = py[j] - y;
        const k = Math.exp(-(ex * ex + ey * ey) / twoW2);
        sum += k;
        sumX += k * px[j];
        sumY += k * py[j];
      }
      if (!((n - listLength) * negligible < 1e-17 * sum)) {
        sum = sumX = sumY = 0;
        for (let j = 0; j < n; j++) {
          const ex = px[j] - x, ey = py[j] - y;
          const k = Math.exp(-(ex * ex + ey * ey) / twoW2);
          sum += k;
          sumX += k * px[j];
          sumY += k * py[j];
        }
      }
      const nx = sumX / sum, ny = sumY / sum;
      const moved = Math.sqrt(squaredEuclidean([nx, ny], [x, y]));
      x = nx;
      y = ny;
      if (moved < ORACLE_STOP) break;
    }
    steps[i] = s;
    modeX[i] = x;
    modeY[i] = y;
  }
  const { labels, centres } = linkBruteForce(Array.from({ length: n }, (_, i) => [modeX[i], modeY[i]]), width);
  return { modeX, modeY, labels, centres, steps };
}

/**
 * Single linkage by brute force: union every pair of modes closer than width/2 (any dimension);
 * labels in order of first appearance; centre = the mean of the modes' first two coordinates.
 */
export function linkBruteForce(modes: number[][], width: number): { labels: Int32Array; centres: Array<{ x: number; y: number }> } {
  const n = modes.length;
  const parent = Int32Array.from({ length: n }, (_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i])));
  const link2 = (width / 2) * (width / 2);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      if (squaredEuclidean(modes[i], modes[j]) < link2) {
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
    c.x += modes[i][0];
    c.y += modes[i][1];
    c.m++;
  }
  return { labels, centres: centres.map((c) => ({ x: c.x / c.m, y: c.y / c.m })) };
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
