// The halo rule, proved on generated mosaics: clustering every tile of a region with its halo
// (doubling the margin while clusterAlerts says "incomplete", as runTile does) and keeping each
// tile's OWNED clusters gives exactly the clusters of the whole region clustered at once, in one
// coordinate frame, with the same engine: same members, same centres, each cluster once.
// (`flat` computes in the global pixel frame and gives exact label ties to the stronger centre,
// so its whole-region run does the same: see wholeRegion.)
import { describe, expect, it } from 'vitest';
import { MAX_HALO_MARGIN, initialHaloMargin } from '../core/meanshift/engine.ts';
import { flatMeanShift } from '../core/meanshift/flat.ts';
import { breakTiesByRank } from '../core/meanshift/flat-halo.ts';
import { linkModes } from '../core/meanshift/link.ts';
import { climbLattice, meanOfModes } from '../core/meanshift/standard.ts';
import { encodeGladTile } from '../core/tiles/decode.ts';
import { syntheticTile } from '../local/synthetic.ts';
import { runTile, tileOrigin } from '../core/clusters/tile-job.ts';
import type { Alerts, TileAddress } from '../core/tiles/types.ts';
import type { ClusterParams } from '../core/meanshift/types.ts';
import { ANCHOR, T, expectSameClusters, keptClusters, regionAlerts, tileByTile, type Found, type Origin } from './mosaic.ts';

/** How many whole-region `flat` labels the rank rule for exact ties changed (last wholeRegion call). */
let tieRelabels = 0;

/**
 * Region-at-once clustering with the same engines clusterAlerts uses. `flat`: scikit-learn's
 * MeanShift on the region in the global pixel frame (as every tile computes), then exact label ties
 * given to the stronger centre (the tiles' rule; sklearn's KD tree would pick by the layout of all
 * the region's centres).
 */
function wholeRegion(alerts: Alerts, params: ClusterParams, origin: Origin = ANCHOR): Found[] {
  let labels: Int32Array, centres: Array<{ x: number; y: number }>;
  if (params.algorithm === 'standard') {
    const climb = climbLattice(alerts, params.width);
    const linked = linkModes(climb.modeX, climb.modeY, alerts.length, params.width / 2);
    labels = linked.labels;
    centres = meanOfModes(climb.modeX, climb.modeY, labels, linked.count);
  } else {
    const pts = {
      length: alerts.length,
      x: Float64Array.from(alerts.col, (c) => c + origin.col),
      y: Float64Array.from(alerts.row, (r) => r + origin.row),
    };
    const p = flatMeanShift(pts, params.width);
    tieRelabels = breakTiesByRank(pts, p, params.width);
    labels = p.labels;
    centres = p.centres.map((c) => ({ x: c.x - origin.col, y: c.y - origin.row }));
  }
  return keptClusters(labels, centres, params.min_count);
}


describe('halo: union of owned tile clusters = clustering the region at once', () => {
  const standard: ClusterParams = { width: 5, min_count: 25, iterations: 25, algorithm: 'standard' };

  for (const [seed, density, tiles] of [
    [11, 3000, 4],
    [12, 10000, 3],
  ] as const) {
    it(`standard, ${tiles}×${tiles} tiles, density ${density}, seed ${seed}`, () => {
      const alerts = regionAlerts(seed, density, tiles);
      const whole = wholeRegion(alerts, standard);
      const { found, margins, incompleteAtMax, neighboursRead } = tileByTile(alerts, standard, tiles);
      const { straddling, corners } = expectSameClusters(alerts, whole, found);
      expect(incompleteAtMax).toBe(0);
      // The mosaic really exercises the halo: clusters across edges and corners, some retries.
      expect(straddling).toBeGreaterThan(0);
      console.log(`standard d=${density}: ${alerts.length} alerts, ${whole.length} clusters, ${straddling} across edges, ${corners} across corners; margins used ${JSON.stringify(margins)}; neighbours read ${JSON.stringify(neighboursRead)}`);
    }, 300_000);
  }

  it('standard, 2×2 tiles at 30,000 alerts per tile (clusters wider than the first halo)', () => {
    const alerts = regionAlerts(17, 30000, 2, 700, 900);
    const whole = wholeRegion(alerts, standard);
    const { found, margins, incompleteAtMax } = tileByTile(alerts, standard, 2);
    const { straddling } = expectSameClusters(alerts, whole, found);
    expect(incompleteAtMax).toBe(0);
    expect(straddling).toBeGreaterThan(0);
    console.log(`standard d=30000: ${alerts.length} alerts, ${whole.length} clusters, ${straddling} across edges; margins used ${JSON.stringify(margins)}`);
  }, 300_000);

  it('standard from a 16 px halo: the completeness check forces retries and the union stays exact', () => {
    const alerts = regionAlerts(15, 3000, 3, 1200, 340);
    const whole = wholeRegion(alerts, standard);
    for (const firstRead of ['engine', 'tile only'] as const) {
      const { found, margins, incompleteAtMax } = tileByTile(alerts, standard, 3, 16, ANCHOR, MAX_HALO_MARGIN, firstRead);
      expectSameClusters(alerts, whole, found);
      expect(incompleteAtMax).toBe(0);
      expect(margins.some((m) => m > 16)).toBe(true);
      console.log(`standard from 16 px, ${firstRead}: margins used ${JSON.stringify(margins)}`);
    }
  });

  it('standard, smaller width and min_count (many small clusters near edges)', () => {
    const params: ClusterParams = { width: 3, min_count: 5, iterations: 25, algorithm: 'standard' };
    const alerts = regionAlerts(13, 2000, 3, 900, 77);
    const whole = wholeRegion(alerts, params);
    const { found, incompleteAtMax } = tileByTile(alerts, params, 3);
    const { straddling } = expectSameClusters(alerts, whole, found);
    expect(incompleteAtMax).toBe(0);
    expect(straddling).toBeGreaterThan(0);
  });

  /** Alerts from pixel lists (days and confidence irrelevant to `standard`). */
  const fromPixels = (px: Array<[number, number]>): Alerts => ({
    length: px.length,
    col: Int32Array.from(px, ([c]) => c),
    row: Int32Array.from(px, ([, r]) => r),
    days: new Uint16Array(px.length).fill(1),
    confidence: new Uint8Array(px.length).fill(2),
  });

  it('standard: a road from a clearing far into the next tiles; the climbed closure follows it and the union stays exact', () => {
    // Only halo alerts near clusters a tile may own are climbed (core/meanshift/standard-halo.ts):
    // the closure must walk along the road, round after round, into the neighbours.
    const px: Array<[number, number]> = [];
    for (let r = -12; r <= 12; r++) for (let c = -12; c <= 12; c++) if (c * c + r * r <= 144) px.push([236 + c, 300 + r]);
    for (let c = 249; c <= 700; c++) for (let r = 299; r <= 301; r++) if ((c + r) % 5 !== 0) px.push([c, r]);
    // and a sparse, scattered field along the road's other side
    for (let k = 0; k < 400; k++) px.push([250 + ((k * 97) % 450), 320 + ((k * 61) % 40)]);
    const unique = [...new Map(px.map((p) => [`${p[0]},${p[1]}`, p])).values()];
    const alerts = fromPixels(unique);
    for (const params of [standard, { ...standard, width: 3, min_count: 5 }]) {
      const whole = wholeRegion(alerts, params);
      // From the neighbours the tile's alerts reach (as runTile), and from the tile alone: every
      // neighbour then comes through `needs`.
      for (const firstRead of ['engine', 'tile only'] as const) {
        const { found, margins, incompleteAtMax, neighboursRead } = tileByTile(alerts, params, 3, undefined, ANCHOR, MAX_HALO_MARGIN, firstRead);
        expectSameClusters(alerts, whole, found);
        expect(incompleteAtMax).toBe(0);
        expect(whole.length).toBeGreaterThan(0);
        // Tiles with clean edges read only the neighbours they need (empty tiles read none).
        expect(neighboursRead.filter((k) => k > 0 && k < 8).length).toBeGreaterThan(0);
        console.log(`standard road w=${params.width}, ${firstRead}: ${whole.length} clusters (largest ${Math.max(...whole.map((w) => w.members.length))}); margins used ${JSON.stringify(margins)}; neighbours read ${JSON.stringify(neighboursRead)}`);
      }
    }
  });

  it('standard: a clearing almost all in the halo, and one centred right on a tile edge', () => {
    const px: Array<[number, number]> = [];
    // centred at (262, 128): 6 px into the east neighbour, a sliver in tile (0, 1)
    for (let r = -15; r <= 15; r++) for (let c = -15; c <= 15; c++) if (c * c + r * r <= 225) px.push([262 + c, 128 + r]);
    // centred on the edge between rows 255 and 256 of the middle column
    for (let r = -10; r <= 10; r++) for (let c = -10; c <= 10; c++) if (c * c + r * r <= 100 && (c + 2 * r) % 7 !== 0) px.push([384 + c, 255.5 + r + 0.5]);
    const alerts = fromPixels(px);
    const whole = wholeRegion(alerts, standard);
    const { found, incompleteAtMax } = tileByTile(alerts, standard, 3);
    expectSameClusters(alerts, whole, found);
    expect(incompleteAtMax).toBe(0);
    expect(whole.length).toBe(2);
  });

  // `flat`: exact too. The check (core/meanshift/flat-halo.ts) follows scikit-learn's chain of
  // near-duplicate suppression up the ranks and the nearest-centre labels; see docs/clustering.md.
  const flat: ClusterParams = { width: 5, min_count: 25, iterations: 25, algorithm: 'flat' };
  for (const [seed, density, tiles] of [
    [14, 1000, 3],
    [18, 1000, 4],
    [14, 3000, 3],
    [11, 3000, 4],
    [22, 10000, 3],
    [31, 10000, 4],
  ] as const) {
    it(`flat, ${tiles}×${tiles} tiles, density ${density}, seed ${seed}`, () => {
      const alerts = regionAlerts(seed, density, tiles);
      const whole = wholeRegion(alerts, flat);
      const relabelled = tieRelabels;
      const start = performance.now();
      const { found, margins, incompleteAtMax } = tileByTile(alerts, flat, tiles);
      const ms = performance.now() - start;
      const { straddling, corners } = expectSameClusters(alerts, whole, found);
      expect(incompleteAtMax).toBe(0);
      expect(straddling).toBeGreaterThan(0);
      console.log(
        `flat d=${density} seed ${seed}: ${alerts.length} alerts, ${whole.length} clusters, ${straddling} across edges, ${corners} across corners; ` +
          `${relabelled} whole-region labels were exact ties given to the stronger centre; margins used ${JSON.stringify(margins)}; tiles ${ms.toFixed(0)} ms`,
      );
    }, 300_000);
  }

  it('flat, 2×2 tiles at 30,000 alerts per tile', () => {
    const alerts = regionAlerts(17, 30000, 2, 700, 900);
    const origin = { col: 700 * T, row: 900 * T };
    const whole = wholeRegion(alerts, flat, origin);
    const relabelled = tieRelabels;
    const { found, margins, incompleteAtMax } = tileByTile(alerts, flat, 2, initialHaloMargin(flat), origin);
    const { straddling } = expectSameClusters(alerts, whole, found);
    expect(incompleteAtMax).toBe(0);
    expect(straddling).toBeGreaterThan(0);
    console.log(
      `flat d=30000: ${alerts.length} alerts, ${whole.length} clusters, ${straddling} across edges; ` +
        `${relabelled} exact ties given to the stronger centre; margins used ${JSON.stringify(margins)}`,
    );
  }, 300_000);

  /** Whether two cluster lists are the same clusters (member sets). */
  const sameSets = (a: Found[], b: Found[]) => {
    const keys = new Set(a.map((f) => f.members.join(',')));
    return a.length === b.length && b.every((f) => keys.has(f.members.join(',')));
  };

  it('flat from a 16 px halo: the check forces retries and the union stays exact (accepting 16 px would not)', () => {
    const alerts = regionAlerts(22, 10000, 3);
    const whole = wholeRegion(alerts, flat);
    const { found, margins, incompleteAtMax } = tileByTile(alerts, flat, 3, 16);
    expectSameClusters(alerts, whole, found);
    expect(incompleteAtMax).toBe(0);
    expect(Math.min(...margins)).toBeGreaterThan(16);
    // The retries are needed: the first pass taken as final gives other clusters.
    expect(sameSets(whole, tileByTile(alerts, flat, 3, 16, ANCHOR, 16).found)).toBe(false);
    console.log(`flat from 16 px: margins used ${JSON.stringify(margins)}`);
  }, 300_000);

  it('flat along a long uniform strip: the suppression chain reaches 445 px past the tile and the margin grows to cover it', () => {
    // An 11 px wide strip from col 100 to 700: every interior candidate has the same intensity,
    // so scikit-learn keeps them greedily from the east end (x descending), one every ~6 px. Which
    // columns the first tile keeps depends on where the strip ends, far beyond a 64 px halo.
    const cols: number[] = [], rows: number[] = [];
    for (let row = 100; row <= 110; row++) {
      for (let col = 100; col <= 700; col++) {
        cols.push(col);
        rows.push(row);
      }
    }
    const n = cols.length;
    const alerts: Alerts = { length: n, col: Int32Array.from(cols), row: Int32Array.from(rows), days: new Uint16Array(n).fill(1), confidence: new Uint8Array(n).fill(2) };
    const whole = wholeRegion(alerts, flat);
    const { found, margins, incompleteAtMax } = tileByTile(alerts, flat, 3);
    expectSameClusters(alerts, whole, found);
    expect(incompleteAtMax).toBe(0);
    expect(margins[0]).toBe(512); // tile (0, 0) must see the strip's east end
    expect(sameSets(whole, tileByTile(alerts, flat, 3, 64, ANCHOR, 64).found)).toBe(false);
    console.log(`flat strip: ${whole.length} clusters; margins used ${JSON.stringify(margins)}`);
  });

  it('through runTile (PNG tiles, real halo gathering and margin doubling): same clusters as the region at once', async () => {
    const [x0, y0, tiles, seed, density] = [300, 500, 3, 16, 3000];
    const inRegion = (t: TileAddress) => t.x >= x0 && t.x < x0 + tiles && t.y >= y0 && t.y < y0 + tiles;
    // Tiles outside the region are missing, so the region at once is the right comparison.
    const source = {
      read: async (t: TileAddress) => (inRegion(t) ? encodeGladTile(syntheticTile({ ...t, seed, density })) : null),
    };
    const alerts = regionAlerts(seed, density, tiles, x0, y0);
    const whole = wholeRegion(alerts, standard);
    const pixelKey = (col: number, row: number) => `${col},${row}`;
    const wholeKeys = new Set(whole.map((w) => w.members.map((i) => pixelKey(alerts.col[i], alerts.row[i])).sort().join(';')));
    const seen: string[] = [];
    for (let ty = 0; ty < tiles; ty++) {
      for (let tx = 0; tx < tiles; tx++) {
        const result = await runTile({ z: 12, x: x0 + tx, y: y0 + ty }, { start_date: '2015-01-01', end_date: '2021-01-01', ...standard }, source);
        for (const rec of result.clusters) {
          seen.push(rec.alerts.map(([row, col]) => pixelKey(col + tx * T, row + ty * T)).sort().join(';'));
          expect(rec.i >= 0 && rec.i < T && rec.j >= 0 && rec.j < T).toBe(true);
        }
      }
    }
    expect(new Set(seen).size).toBe(seen.length);
    expect(whole.length).toBeGreaterThan(10);
    expect(seen.length).toBe(whole.length);
    for (const k of seen) expect(wholeKeys.has(k)).toBe(true);
  });

  it('flat through runTile (PNG tiles, global frame from the tile address): same clusters as the region at once', async () => {
    const [x0, y0, tiles, seed, density] = [300, 500, 3, 16, 3000];
    const inRegion = (t: TileAddress) => t.x >= x0 && t.x < x0 + tiles && t.y >= y0 && t.y < y0 + tiles;
    const source = {
      read: async (t: TileAddress) => (inRegion(t) ? encodeGladTile(syntheticTile({ ...t, seed, density })) : null),
    };
    const alerts = regionAlerts(seed, density, tiles, x0, y0);
    const whole = wholeRegion(alerts, flat, tileOrigin({ z: 12, x: x0, y: y0 }, MAX_HALO_MARGIN));
    const pixelKey = (col: number, row: number) => `${col},${row}`;
    const wholeKeys = new Set(whole.map((w) => w.members.map((i) => pixelKey(alerts.col[i], alerts.row[i])).sort().join(';')));
    const seen: string[] = [];
    for (let ty = 0; ty < tiles; ty++) {
      for (let tx = 0; tx < tiles; tx++) {
        const result = await runTile({ z: 12, x: x0 + tx, y: y0 + ty }, { start_date: '2015-01-01', end_date: '2021-01-01', ...flat }, source);
        for (const rec of result.clusters) seen.push(rec.alerts.map(([row, col]) => pixelKey(col + tx * T, row + ty * T)).sort().join(';'));
      }
    }
    expect(new Set(seen).size).toBe(seen.length);
    expect(whole.length).toBeGreaterThan(10);
    expect(seen.length).toBe(whole.length);
    for (const k of seen) expect(wholeKeys.has(k)).toBe(true);
  }, 300_000);

  // The antimeridian: the same synthetic 3×3 mosaic served at x = 2^z − 2, 2^z − 1, 0 (the region
  // wraps). The halo wraps in x, so the union of owned clusters is still the region at once.
  // `flat`'s frame (tileOrigin): tiles west of the line see the region P = 2^z·256 px east of where
  // tile 0 sees it, in one binade, so the arithmetic is the same; the whole region is taken in the
  // frame of its first tile, unwrapped.
  it.each(['standard', 'flat'] as const)('%s through runTile on a mosaic straddling the antimeridian: same clusters as the region at once', async (algorithm) => {
    const params = algorithm === 'standard' ? standard : flat;
    const [sx, y0, tiles, seed, density] = [300, 500, 3, 16, 3000];
    const columns = 2 ** 12;
    const x0 = columns - 2; // the region's tiles are x0, x0 + 1, 0
    const column = (x: number) => (x - x0 + columns) % columns; // 0, 1, 2 across the line
    const inRegion = (t: TileAddress) => column(t.x) < tiles && t.y >= y0 && t.y < y0 + tiles;
    const source = {
      read: async (t: TileAddress) => (inRegion(t) ? encodeGladTile(syntheticTile({ z: 12, x: sx + column(t.x), y: t.y, seed, density })) : null),
    };
    const alerts = regionAlerts(seed, density, tiles, sx, y0);
    const whole = wholeRegion(alerts, params, tileOrigin({ z: 12, x: x0, y: y0 }, MAX_HALO_MARGIN));
    const pixelKey = (col: number, row: number) => `${col},${row}`;
    const wholeKeys = new Set(whole.map((w) => w.members.map((i) => pixelKey(alerts.col[i], alerts.row[i])).sort().join(';')));
    const seen: string[] = [];
    let across = 0;
    for (let ty = 0; ty < tiles; ty++) {
      for (let tx = 0; tx < tiles; tx++) {
        const x = (x0 + tx) % columns;
        const result = await runTile({ z: 12, x, y: y0 + ty }, { start_date: '2015-01-01', end_date: '2021-01-01', ...params }, source);
        for (const rec of result.clusters) {
          const cols = rec.alerts.map(([, col]) => col + tx * T);
          if (cols.some((c) => c < 2 * T) && cols.some((c) => c >= 2 * T)) across++;
          seen.push(rec.alerts.map(([row, col]) => pixelKey(col + tx * T, row + ty * T)).sort().join(';'));
          expect(rec.i >= 0 && rec.i < T && rec.j >= 0 && rec.j < T).toBe(true);
          expect(Math.abs(rec.longitude)).toBeLessThanOrEqual(180);
        }
      }
    }
    expect(new Set(seen).size).toBe(seen.length);
    expect(whole.length).toBeGreaterThan(10);
    expect(across).toBeGreaterThan(0); // clusters really cross the antimeridian
    expect(seen.length).toBe(whole.length);
    for (const k of seen) expect(wholeKeys.has(k)).toBe(true);
  }, 300_000);

  // Opt-in wider campaign (HALO_CAMPAIGN=30 npx vitest run test/halo.test.ts): random widths,
  // min_counts, densities 500..30,000 and starting margins, each mosaic must come out equal.
  const campaign = Number(process.env.HALO_CAMPAIGN ?? 0);
  it.skipIf(!campaign)(`standard campaign of ${campaign} random 3×3 mosaics`, () => {
    for (let k = 0; k < campaign; k++) {
      const params: ClusterParams = {
        width: [5, 3, 8, 5, 2.5, 6][k % 6],
        min_count: [25, 5, 25, 10][k % 4],
        iterations: 25,
        algorithm: 'standard',
      };
      const alerts = regionAlerts(2000 + k, [1000, 3000, 10000, 30000, 500][k % 5], 3, 100 + 3 * k, 200 + 5 * k);
      const whole = wholeRegion(alerts, params);
      const { found, incompleteAtMax } = tileByTile(alerts, params, 3, k % 2 ? 16 : undefined, ANCHOR, MAX_HALO_MARGIN, k % 3 === 2 ? 'tile only' : 'engine');
      expectSameClusters(alerts, whole, found);
      expect(incompleteAtMax).toBe(0);
    }
  }, 1_800_000);

  it.skipIf(!campaign)(`flat campaign of ${campaign} random 3×3 mosaics`, () => {
    for (let k = 0; k < campaign; k++) {
      const params: ClusterParams = {
        width: [5, 3, 8, 5, 2.5, 6][k % 6],
        min_count: [25, 5, 25, 10][k % 4],
        iterations: 25,
        algorithm: 'flat',
      };
      const [ax, ay] = [100 + 3 * k, 200 + 5 * k];
      const alerts = regionAlerts(3000 + k, [1000, 3000, 10000, 30000, 500][k % 5], 3, ax, ay);
      const origin = { col: ax * T, row: ay * T };
      const whole = wholeRegion(alerts, params, origin);
      const { found, incompleteAtMax } = tileByTile(alerts, params, 3, k % 2 ? 16 : initialHaloMargin(params), origin);
      expectSameClusters(alerts, whole, found);
      expect(incompleteAtMax).toBe(0);
    }
  }, 3_600_000);
});
