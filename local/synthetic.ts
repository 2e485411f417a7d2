// Deterministic synthetic GLAD tiles: a consistent world of clearings, roads and noise.
//
// The world at zoom z is built from features ANCHORED in tiles: every tile (the "anchor") owns a
// list of features drawn from a PRNG seeded by hash(seed, z, ax, ay, density). A feature may reach
// up to MAX_REACH px beyond its anchor tile, so a tile is rendered from the features of its own
// anchor and its 8 neighbours — which makes clearings and roads continue across tile edges, and
// the same (seed, z, x, y, density) always gives the same alerts and bytes.
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isoToDays } from '../core/tiles/dates.ts';
import { allocAlerts, encodeGladTile } from '../core/tiles/decode.ts';
import type { Dataset } from '../core/tiles/datasets.ts';
import { encodeDatasetTile } from './synthetic-encodings.ts';
import { TILE_SIZE, tilesInBounds, validateTile } from '../core/tiles/grid.ts';
import type { TileBounds } from '../core/tiles/grid.ts';
import type { Alerts, TileAddress, TileSource } from '../core/tiles/types.ts';
import { makeDir } from '../core/store/files.ts';

export interface SyntheticOptions extends TileAddress {
  /** World seed: same seed, same world. */
  seed: number;
  /** Target mean alert count per tile (e.g. 1000, 3000, 10000, 30000). */
  density: number;
}

/** How far (px) a feature may extend outside its anchor tile; < 256 so one ring of anchors suffices. */
export const MAX_REACH = 250;
/** Alert dates fall in 2015-01-02 .. 2020-12-31. */
const FIRST_DAY = 1;
const LAST_DAY = isoToDays('2020-12-31');
/** Densities above this share of a tile's pixels are refused (the tile would be solid). */
const MAX_COVER = 0.85;
const TILE_PIXELS = TILE_SIZE * TILE_SIZE;

// ---------- seeded randomness ----------

/** mulberry32: a tiny, fast, well-mixed 32-bit PRNG returning floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Mixes integers into one 32-bit seed (murmur3 finaliser per value). */
function hashInts(...values: number[]): number {
  let h = 0x9e3779b9;
  for (const v of values) {
    h ^= Math.imul((v | 0) ^ Math.floor(v / 4294967296), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

// ---------- features ----------

/** A wobbly ellipse: blobs (aspect ≈ 1) and elongated patches (aspect 2..5). */
interface Clearing {
  kind: 'clearing';
  cx: number; // global pixel coordinates
  cy: number;
  a: number; // semi-axes, px
  b: number;
  cos: number;
  sin: number;
  wobble: [number, number, number][]; // [harmonic, amplitude, phase]
  startDay: number;
  growDays: number;
  fill: number; // share of interior pixels that are alerts
  confidence: number;
  salt: number;
}

/** A thin polyline (a road being cut), alerts dated along its length. */
interface Road {
  kind: 'road';
  points: [number, number][];
  halfWidth: number;
  startDay: number;
  growDays: number;
  fill: number;
  salt: number;
}

interface Noise {
  kind: 'noise';
  gx: number;
  gy: number;
  day: number;
  confidence: number;
}

type Feature = Clearing | Road | Noise;

/** The total feature area to draw so that the UNION covers `target` px (random overlaps eat some). */
function areaBudget(target: number): number {
  return -TILE_PIXELS * Math.log(1 - target / TILE_PIXELS);
}

/** Features anchored in one tile; deterministic in (seed, z, ax, ay, density). */
function anchorFeatures(seed: number, z: number, ax: number, ay: number, density: number): Feature[] {
  const rand = mulberry32(hashInts(seed, z, ax, ay, Math.round(density)));
  const between = (lo: number, hi: number) => lo + (hi - lo) * rand();
  const ox = ax * TILE_SIZE;
  const oy = ay * TILE_SIZE;
  const budget = areaBudget(density);
  const features: Feature[] = [];
  // Bigger clearings where deforestation is dense; a few up to ~60 px across.
  const maxRadius = Math.max(10, Math.min(30, Math.sqrt(density) / 3));
  const clamp = (v: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, v));

  // Clearings: ~78% of the budget (fill < 1 leaves holes, so draw the area /fill).
  // The feature that would overshoot a budget is kept with probability (what is left)/(its area),
  // so the expected area drawn equals the budget even when features are large compared with it.
  const fitsBudget = (spent: number, area: number, target: number) =>
    spent + area <= target || rand() < (target - spent) / area;

  let spent = 0;
  while (spent < 0.78 * budget) {
    const r = 1.5 + (maxRadius - 1.5) * rand() ** 3; // mostly small, few large
    const elongated = rand() < 0.3;
    const aspect = elongated ? between(2, 5) : between(1, 1.5);
    const angle = between(0, Math.PI);
    const fill = between(0.8, 1);
    const wobble: [number, number, number][] = [2, 3, 5].map((k) => [k, between(0, 0.12), between(0, 2 * Math.PI)]);
    const growDays = Math.round(between(14, 240)); // grows over weeks to months
    const a = Math.min(MAX_REACH / 2, r * Math.sqrt(aspect));
    const area = Math.PI * r * r * fill;
    if (!fitsBudget(spent, area, 0.78 * budget)) break;
    spent += area;
    features.push({
      kind: 'clearing',
      cx: ox + between(0, TILE_SIZE),
      cy: oy + between(0, TILE_SIZE),
      a,
      b: r / Math.sqrt(aspect),
      cos: Math.cos(angle),
      sin: Math.sin(angle),
      wobble,
      startDay: Math.round(between(FIRST_DAY, LAST_DAY - growDays)),
      growDays,
      fill,
      confidence: rand() < 0.8 ? 2 : 1,
      salt: Math.floor(rand() * 2 ** 31),
    });
  }

  // Roads: ~10% of the budget, 1..3 px wide, up to ~300 px long, bending a little.
  spent = 0;
  const roadReach = MAX_REACH - 3; // keeps the painted width inside MAX_REACH
  while (spent < 0.1 * budget) {
    const halfWidth = [0.5, 1, 1.5][Math.floor(rand() * 3)];
    const segments = 1 + Math.floor(rand() * 3);
    let px = ox + between(0, TILE_SIZE);
    let py = oy + between(0, TILE_SIZE);
    let heading = between(0, 2 * Math.PI);
    const points: [number, number][] = [[px, py]];
    let length = 0;
    for (let s = 0; s < segments; s++) {
      const step = between(30, 110);
      heading += between(-0.6, 0.6);
      const nx = clamp(px + step * Math.cos(heading), ox - roadReach, ox + TILE_SIZE + roadReach);
      const ny = clamp(py + step * Math.sin(heading), oy - roadReach, oy + TILE_SIZE + roadReach);
      length += Math.hypot(nx - px, ny - py);
      [px, py] = [nx, ny];
      points.push([px, py]);
    }
    const fill = between(0.6, 0.95);
    const growDays = Math.round(between(30, 365));
    const area = length * (2 * halfWidth + 0.5) * fill;
    if (!fitsBudget(spent, area, 0.1 * budget)) break;
    spent += area;
    features.push({
      kind: 'road',
      points,
      halfWidth,
      startDay: Math.round(between(FIRST_DAY, LAST_DAY - growDays)),
      growDays,
      fill,
      salt: Math.floor(rand() * 2 ** 31),
    });
  }

  // Scattered noise: the remaining ~12%, single pixels with uniform dates.
  const noise = Math.round(0.12 * budget);
  for (let k = 0; k < noise; k++) {
    features.push({
      kind: 'noise',
      gx: ox + Math.floor(rand() * TILE_SIZE),
      gy: oy + Math.floor(rand() * TILE_SIZE),
      day: Math.round(between(FIRST_DAY, LAST_DAY)),
      confidence: rand() < 0.5 ? 2 : 1,
    });
  }
  return features;
}

// ---------- rendering ----------

/** A raster window in global pixel coordinates; days 0 = no alert. */
interface Canvas {
  gx0: number;
  gy0: number;
  width: number;
  height: number;
  days: Uint16Array;
  confidence: Uint8Array;
}

/** Per-pixel hash in [0, 1): decides holes and date jitter independently of rendering order. */
function pixelNoise(salt: number, gx: number, gy: number): number {
  return hashInts(salt, gx, gy) / 4294967296;
}

/** Paints one alert; where features overlap, the earliest date wins (order-independent). */
function paint(c: Canvas, gx: number, gy: number, day: number, confidence: number): void {
  const i = (gy - c.gy0) * c.width + (gx - c.gx0);
  const d = Math.max(FIRST_DAY, Math.min(LAST_DAY, day));
  if (c.days[i] === 0 || d < c.days[i]) {
    c.days[i] = d;
    c.confidence[i] = confidence;
  }
}

function drawClearing(c: Canvas, f: Clearing): void {
  const reach = Math.ceil(f.a * 1.4) + 1;
  const xMin = Math.max(c.gx0, Math.floor(f.cx - reach));
  const xMax = Math.min(c.gx0 + c.width - 1, Math.ceil(f.cx + reach));
  const yMin = Math.max(c.gy0, Math.floor(f.cy - reach));
  const yMax = Math.min(c.gy0 + c.height - 1, Math.ceil(f.cy + reach));
  for (let gy = yMin; gy <= yMax; gy++) {
    for (let gx = xMin; gx <= xMax; gx++) {
      const dx = gx + 0.5 - f.cx;
      const dy = gy + 0.5 - f.cy;
      const u = (dx * f.cos + dy * f.sin) / f.a; // ellipse frame
      const v = (-dx * f.sin + dy * f.cos) / f.b;
      const rho = Math.hypot(u, v);
      const theta = Math.atan2(v, u);
      let edge = 1;
      for (const [k, amp, phase] of f.wobble) edge += amp * Math.sin(k * theta + phase);
      if (rho > edge) continue;
      const h = pixelNoise(f.salt, gx, gy);
      if (h >= f.fill) continue;
      // Grows outward from the centre over growDays, ±1 week of jitter.
      const day = f.startDay + Math.round((rho / edge) * f.growDays + (h / f.fill - 0.5) * 14);
      paint(c, gx, gy, day, f.confidence);
    }
  }
}

function drawRoad(c: Canvas, f: Road): void {
  let walked = 0;
  const total = f.points.slice(1).reduce((s, p, k) => s + Math.hypot(p[0] - f.points[k][0], p[1] - f.points[k][1]), 0);
  for (let s = 1; s < f.points.length; s++) {
    const [x0, y0] = f.points[s - 1];
    const [x1, y1] = f.points[s];
    const len = Math.hypot(x1 - x0, y1 - y0) || 1;
    const pad = f.halfWidth + 1;
    const xMin = Math.max(c.gx0, Math.floor(Math.min(x0, x1) - pad));
    const xMax = Math.min(c.gx0 + c.width - 1, Math.ceil(Math.max(x0, x1) + pad));
    const yMin = Math.max(c.gy0, Math.floor(Math.min(y0, y1) - pad));
    const yMax = Math.min(c.gy0 + c.height - 1, Math.ceil(Math.max(y0, y1) + pad));
    for (let gy = yMin; gy <= yMax; gy++) {
      for (let gx = xMin; gx <= xMax; gx++) {
        const px = gx + 0.5 - x0;
        const py = gy + 0.5 - y0;
        const t = Math.max(0, Math.min(1, (px * (x1 - x0) + py * (y1 - y0)) / (len * len)));
        const dist = Math.hypot(px - t * (x1 - x0), py - t * (y1 - y0));
        if (dist > f.halfWidth + 0.25) continue;
        const h = pixelNoise(f.salt, gx, gy);
        if (h >= f.fill) continue;
        // Cut progressively from the first point: date follows the distance along the road.
        const along = (walked + t * len) / (total || 1);
        paint(c, gx, gy, f.startDay + Math.round(along * f.growDays + (h / f.fill) * 5), 2);
      }
    }
    walked += len;
  }
}

function drawFeature(c: Canvas, f: Feature): void {
  if (f.kind === 'clearing') drawClearing(c, f);
  else if (f.kind === 'road') drawRoad(c, f);
  else if (f.gx >= c.gx0 && f.gx < c.gx0 + c.width && f.gy >= c.gy0 && f.gy < c.gy0 + c.height) {
    paint(c, f.gx, f.gy, f.day, f.confidence);
  }
}

function validateSynthetic(opts: SyntheticOptions): void {
  validateTile(opts);
  if (!Number.isInteger(opts.seed)) throw new Error(`seed=${opts.seed} must be an integer`);
  const max = Math.floor(MAX_COVER * TILE_PIXELS);
  if (!Number.isFinite(opts.density) || opts.density < 0 || opts.density > max) {
    throw new Error(`density=${opts.density} is out of range 0..${max} alerts per tile`);
  }
}

/**
 * Renders a window of the world (global pixel coordinates at zoom z) from every anchor tile whose
 * features can reach it. Exported so tests can check that tile-by-tile rendering equals one big window.
 */
export function renderWindow(
  opts: { z: number; seed: number; density: number },
  gx0: number,
  gy0: number,
  width: number,
  height: number,
): Canvas {
  const c: Canvas = { gx0, gy0, width, height, days: new Uint16Array(width * height), confidence: new Uint8Array(width * height) };
  if (opts.density <= 0) return c;
  const maxTile = 2 ** opts.z - 1;
  const ax0 = Math.max(0, Math.floor((gx0 - MAX_REACH) / TILE_SIZE));
  const ax1 = Math.min(maxTile, Math.floor((gx0 + width - 1 + MAX_REACH) / TILE_SIZE));
  const ay0 = Math.max(0, Math.floor((gy0 - MAX_REACH) / TILE_SIZE));
  const ay1 = Math.min(maxTile, Math.floor((gy0 + height - 1 + MAX_REACH) / TILE_SIZE));
  for (let ay = ay0; ay <= ay1; ay++) {
    for (let ax = ax0; ax <= ax1; ax++) {
      for (const f of anchorFeatures(opts.seed, opts.z, ax, ay, opts.density)) drawFeature(c, f);
    }
  }
  return c;
}

/** The alerts of one synthetic tile, row-major, col/row in 0..255. */
export function syntheticTile(opts: SyntheticOptions): Alerts {
  validateSynthetic(opts);
  const c = renderWindow(opts, opts.x * TILE_SIZE, opts.y * TILE_SIZE, TILE_SIZE, TILE_SIZE);
  let n = 0;
  for (let i = 0; i < TILE_PIXELS; i++) if (c.days[i] > 0) n++;
  const out = allocAlerts(n);
  let k = 0;
  for (let i = 0; i < TILE_PIXELS; i++) {
    if (c.days[i] === 0) continue;
    out.col[k] = i % TILE_SIZE;
    out.row[k] = (i / TILE_SIZE) | 0;
    out.days[k] = c.days[i];
    out.confidence[k] = c.confidence[i];
    k++;
  }
  out.length = n;
  return out;
}

/** The synthetic tile as GLAD PNG bytes. */
export function syntheticTilePng(opts: SyntheticOptions): Uint8Array {
  return encodeGladTile(syntheticTile(opts));
}

/** An in-memory TileSource over the synthetic world (tiles without alerts are missing). */
export function syntheticTileSource(world: { seed: number; density: number }): TileSource {
  return {
    async read(tile) {
      const alerts = syntheticTile({ ...tile, ...world });
      return alerts.length > 0 ? encodeGladTile(alerts) : null;
    },
  };
}

export interface MosaicOptions extends TileBounds {
  seed: number;
  density: number;
  /** Tiles written as corrupt bytes (a truncated PNG) to exercise error paths. */
  corrupt?: TileAddress[];
  /** The dataset whose PNG encoding the tiles have (default: the 2018 tiles' encoding). */
  dataset?: Dataset;
}

export interface MosaicFile {
  tile: TileAddress;
  /** Relative path `{z}/{x}/{y}.png`. */
  path: string;
  bytes: Uint8Array;
  corrupt: boolean;
  alerts: number;
}

/** The files of a mosaic (pure): tiles without alerts are omitted (a missing tile = no alerts). */
export function* syntheticMosaicFiles(opts: MosaicOptions): Generator<MosaicFile> {
  const corrupt = new Set((opts.corrupt ?? []).map((t) => `${t.z}/${t.x}/${t.y}`));
  const encode = (alerts: Alerts) => (opts.dataset ? encodeDatasetTile(alerts, opts.dataset) : encodeGladTile(alerts));
  for (const tile of tilesInBounds(opts)) {
    const path = `${tile.z}/${tile.x}/${tile.y}.png`;
    const alerts = syntheticTile({ ...tile, seed: opts.seed, density: opts.density });
    if (corrupt.has(`${tile.z}/${tile.x}/${tile.y}`)) {
      const png = encode(alerts);
      yield { tile, path, bytes: png.subarray(0, Math.max(16, png.length >> 1)), corrupt: true, alerts: alerts.length };
    } else if (alerts.length > 0) {
      yield { tile, path, bytes: encode(alerts), corrupt: false, alerts: alerts.length };
    }
  }
}

export interface MosaicSummary {
  tiles: number;
  written: number;
  corrupt: number;
  alerts: number;
}

/** Writes a mosaic as `dir/{z}/{x}/{y}.png` (the one I/O helper here, for scripts and tests). */
export async function writeSyntheticMosaic(dir: string, opts: MosaicOptions): Promise<MosaicSummary> {
  const summary: MosaicSummary = { tiles: tilesInBounds(opts).length, written: 0, corrupt: 0, alerts: 0 };
  for (const file of syntheticMosaicFiles(opts)) {
    const full = join(dir, file.path);
    makeDir(dirname(full));
    await writeFile(full, file.bytes);
    summary.written++;
    if (file.corrupt) summary.corrupt++;
    else summary.alerts += file.alerts;
  }
  return summary;
}
