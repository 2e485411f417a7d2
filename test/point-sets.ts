// Point sets shared by the mean-shift comparison tests (blurring, flat and standard tests).
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

// ---------- integer-pixel tiles for `standard` against its exact reference ----------

/** Distinct tile pixels, added by position (rounded; off-tile or taken ones ignored). */
function pixelSet() {
  const taken = new Set<number>();
  const col: number[] = [], row: number[] = [];
  const add = (c: number, r: number) => {
    c = Math.round(c);
    r = Math.round(r);
    if (c < 0 || c > 255 || r < 0 || r > 255 || taken.has(r * 256 + c)) return;
    taken.add(r * 256 + c);
    col.push(c);
    row.push(r);
  };
  return { add, col, row };
}

/** Alerts with other shapes than the synthetic world: uniform noise, dense squares, 1-px lines. */
export function shapesTile(seed: number): { col: number[]; row: number[] } {
  const rand = mulberry32(seed);
  const { add, col, row } = pixelSet();
  for (let k = 0; k < 250; k++) add(rand() * 256, rand() * 256);
  for (let b = 0; b < 4; b++) {
    const c0 = rand() * 220, r0 = rand() * 220, s = 4 + rand() * 14;
    for (let dr = 0; dr < s; dr++) for (let dc = 0; dc < s; dc++) if (rand() < 0.9) add(c0 + dc, r0 + dr);
  }
  for (let l = 0; l < 3; l++) {
    const c0 = rand() * 256, r0 = rand() * 256, ang = rand() * Math.PI, len = 30 + rand() * 120;
    for (let t = 0; t < len; t++) add(c0 + t * Math.cos(ang), r0 + t * Math.sin(ang));
  }
  return { col, row };
}

/** Uniform scattered alerts only (no clearing): the sparse case where climbs crawl. */
export function noiseTile(seed: number, count: number): { col: number[]; row: number[] } {
  const rand = mulberry32(seed);
  const taken = new Set<number>();
  const col: number[] = [], row: number[] = [];
  while (col.length < count) {
    const c = Math.floor(rand() * 256), r = Math.floor(rand() * 256);
    if (taken.has(r * 256 + c)) continue;
    taken.add(r * 256 + c);
    col.push(c);
    row.push(r);
  }
  return { col, row };
}

/** Two dense clearings joined by a thin (1-px) bridge, plus a little noise: a plateau between modes. */
export function bridgeTile(seed: number): { col: number[]; row: number[] } {
  const rand = mulberry32(seed);
  const { add, col, row } = pixelSet();
  for (const [cx, cy, rad] of [[70, 120, 9], [180, 130, 12]]) {
    for (let dr = -rad; dr <= rad; dr++) for (let dc = -rad; dc <= rad; dc++) if (dc * dc + dr * dr <= rad * rad && rand() < 0.85) add(cx + dc, cy + dr);
  }
  for (let t = 0; t <= 110; t++) add(70 + t, 120 + (10 * t) / 110 + Math.sin(t / 9));
  for (let k = 0; k < 60; k++) add(rand() * 256, rand() * 256);
  return { col, row };
}

/** A long road (a 1–2 px line across the tile, with gaps) and a few alerts beside it. */
export function roadTile(seed: number): { col: number[]; row: number[] } {
  const rand = mulberry32(seed);
  const { add, col, row } = pixelSet();
  for (let t = 0; t < 300; t++) {
    if (rand() < 0.1) continue;
    const c = 5 + t * 0.8, r = 20 + t * 0.7 + 6 * Math.sin(t / 40);
    add(c, r);
    if (rand() < 0.4) add(c, r + 1);
  }
  for (let k = 0; k < 40; k++) add(rand() * 256, rand() * 256);
  return { col, row };
}
