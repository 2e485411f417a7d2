// Point sets shared by the mean-shift comparison tests (blurring.test.ts, flat.test.ts).
import type { Points } from '../core/meanshift/types.ts';
import { mulberry32, syntheticTile } from '../local/synthetic.ts';

export function pointsOf(xy: Array<[number, number]>): Points {
  return { length: xy.length, x: Float64Array.from(xy, (p) => p[0]), y: Float64Array.from(xy, (p) => p[1]) };
}

/** The alerts of one synthetic tile (zoom z, 11 unless given) as pixel points. */
export function tilePoints(seed: number, x: number, y: number, density: number, z = 11): Points {
  const a = syntheticTile({ seed, z, x, y, density });
  return { length: a.length, x: Float64Array.from(a.col), y: Float64Array.from(a.row) };
}

/** How blobPoints scatters: blob count, each blob's spread (spreadMin + U[0,1) * spreadRange px), share of noise. */
export interface BlobShape {
  blobs: number;
  spreadMin: number;
  spreadRange: number;
  noise: number;
}

/** Gaussian blobs plus noise, unique integer pixels, some outside 0..255 like a halo. */
export function blobPoints(seed: number, count: number, shape: BlobShape): Points {
  const rnd = mulberry32(seed);
  const seen = new Set<string>();
  const xy: Array<[number, number]> = [];
  const blobs = Array.from({ length: shape.blobs }, () => [rnd() * 300 - 22, rnd() * 300 - 22, shape.spreadMin + rnd() * shape.spreadRange]);
  while (xy.length < count) {
    let x: number, y: number;
    if (rnd() < shape.noise) {
      x = Math.floor(rnd() * 300 - 22);
      y = Math.floor(rnd() * 300 - 22);
    } else {
      const [cx, cy, s] = blobs[Math.floor(rnd() * blobs.length)];
      const r = s * Math.sqrt(-2 * Math.log(1 - rnd())), a = 2 * Math.PI * rnd();
      x = Math.round(cx + r * Math.cos(a));
      y = Math.round(cy + r * Math.sin(a));
    }
    const key = `${x},${y}`;
    if (seen.has(key)) continue;
    seen.add(key);
    xy.push([x, y]);
  }
  return pointsOf(xy);
}
