// The exact, slow space–time `standard` mean shift (test oracle for time_width).
//
// Written INDEPENDENTLY of core/meanshift/standard-spacetime.ts (imports nothing from core/): no
// kernel truncation, no node models, no Newton, no polish. Each alert is a point (x, y, τ) with
// τ = day·width/timeWidth, so K = exp(−|p−y|²/(2·width²)) is the issue's
// exp(−d²/(2·width²) − Δt²/(2·timeWidth²)). Each alert follows the plain iteration
// y ← Σ K(p−y)·p / Σ K(p−y) over ALL alerts until a step is shorter than 1e-6 px (at most 10⁶
// steps, which throws). Grouping: brute-force single linkage of modes closer than width/2 in
// (x, y, τ); a cluster's centre is the spatial part of the mean of its modes.
//
// Distances (candidate lists, step lengths, linkage) are ml-distance's `squaredEuclidean`; the
// kernel sum writes the same squared distance inline (a call per term would make it 10× slower).
// Speed without truncating, as test/reference-meanshift.ts: only alerts within NEAR = 10 widths
// are summed, and each step checks that the ones left out (each < e⁻⁵⁰) total < 1e-17 of the sum,
// else it sums them all.
import { distance } from 'ml-distance';
import { linkBruteForce } from './reference-meanshift.ts';

const STOP = 1e-6;
const MAX_STEPS = 1_000_000;
const NEAR = 10;

export interface SpaceTimeReference {
  modeX: Float64Array;
  modeY: Float64Array;
  modeT: Float64Array;
  labels: Int32Array;
  centres: Array<{ x: number; y: number }>;
  steps: Int32Array;
}

export function referenceSpaceTime(cols: ArrayLike<number>, rows: ArrayLike<number>, days: ArrayLike<number>, width: number, timeWidth: number): SpaceTimeReference {
  const n = cols.length;
  const px = Float64Array.from(cols), py = Float64Array.from(rows);
  const pt = Float64Array.from(days, (d) => (d * width) / timeWidth);
  const modeX = new Float64Array(n), modeY = new Float64Array(n), modeT = new Float64Array(n);
  const steps = new Int32Array(n);
  const twoW2 = 2 * width * width;
  const near = NEAR * width;
  const negligible = Math.exp(-(near * near) / twoW2);
  const list = new Int32Array(n);
  let listLength = 0;
  const gather = (c: number[]) => {
    const r2 = (near + width) ** 2;
    listLength = 0;
    for (let j = 0; j < n; j++) if (distance.squaredEuclidean([px[j], py[j], pt[j]], c) <= r2) list[listLength++] = j;
  };
  const sums = (x: number, y: number, t: number, all: boolean) => {
    let s = 0, sx = 0, sy = 0, st = 0;
    const count = all ? n : listLength;
    for (let q = 0; q < count; q++) {
      const j = all ? q : list[q];
      const ex = px[j] - x, ey = py[j] - y, et = pt[j] - t;
      const k = Math.exp(-(ex * ex + ey * ey + et * et) / twoW2);
      s += k;
      sx += k * px[j];
      sy += k * py[j];
      st += k * pt[j];
    }
    return [s, sx, sy, st];
  };
  for (let i = 0; i < n; i++) {
    let y = [px[i], py[i], pt[i]];
    let centre = y;
    gather(centre);
    let s = 0;
    for (;;) {
      if (++s > MAX_STEPS) throw new Error(`space–time oracle: alert ${i} not converged after ${MAX_STEPS} steps`);
      if (distance.squaredEuclidean(y, centre) > width * width) gather((centre = y));
      let [w, sx, sy, st] = sums(y[0], y[1], y[2], false);
      if (!((n - listLength) * negligible < 1e-17 * w)) [w, sx, sy, st] = sums(y[0], y[1], y[2], true);
      const next = [sx / w, sy / w, st / w];
      const moved = Math.sqrt(distance.squaredEuclidean(next, y));
      y = next;
      if (moved < STOP) break;
    }
    steps[i] = s;
    [modeX[i], modeY[i], modeT[i]] = y;
  }
  const { labels, centres } = linkBruteForce(Array.from({ length: n }, (_, i) => [modeX[i], modeY[i], modeT[i]]), width);
  return { modeX, modeY, modeT, labels, centres, steps };
}
