// The halo rule, proved on generated mosaics: clustering every tile of a region with its halo
// (doubling the margin while clusterAlerts says "incomplete", as runTile does) and keeping each
// tile's OWNED clusters gives exactly the clusters of the whole region clustered at once, in one
// coordinate frame, with the same engine: same members, same centres, each cluster once.
import { describe, expect, it } from 'vitest';
import { MAX_HALO_MARGIN, clusterAlerts, initialHaloMargin } from '../core/cluster-tile.ts';
import { flatMeanShift } from '../core/meanshift/flat.ts';
import { climbLattice, linkModes, meanOfModes } from '../core/meanshift/standard.ts';
import { encodeGladTile } from '../core/decode.ts';
import { renderWindow, syntheticTile } from '../core/synthetic.ts';
import { runTile } from '../core/tile-job.ts';
import type { Alerts, ClusterParams, TileAddress } from '../core/types.ts';

const T = 256;

/** The alerts of a tiles×tiles region of the synthetic world, in region pixel coordinates. */
function regionAlerts(seed: number, density: number, tiles: number, ax = 300, ay = 500): Alerts {
  const c = renderWindow({ z: 12, seed, density }, ax * T, ay * T, tiles * T, tiles * T);
  const idx: number[] = [];
  for (let i = 0; i < c.days.length; i++) if (c.days[i] > 0) idx.push(i);
  const w = tiles * T;
  return {
    length: idx.length,
    col: Int32Array.from(idx, (i) => i % w),
    row: Int32Array.from(idx, (i) => Math.floor(i / w)),
    days: Uint16Array.from(idx, (i) => c.days[i]),
    confidence: Uint8Array.from(idx, (i) => c.confidence[i]),
  };
}

interface Found {
  members: number[]; // region alert indices, ascending
  col: number; // region coordinates
  row: number;
}

/** Region-at-once clustering with the same engines clusterAlerts uses. */
function wholeRegion(alerts: Alerts, params: ClusterParams): Found[] {
  let labels: Int32Array, centres: Array<{ x: number; y: number }>;
  if (params.algorithm === 'standard') {
    const climb = climbLattice(alerts, params.width);
    const linked = linkModes(climb.modeX, climb.modeY, alerts.length, params.width / 2);
    labels = linked.labels;
    centres = meanOfModes(climb.modeX, climb.modeY, labels, linked.count);
  } else {
    const p = flatMeanShift({ length: alerts.length, x: Float64Array.from(alerts.col), y: Float64Array.from(alerts.row) }, params.width);
    labels = p.labels;
    centres = p.centres;
  }
  const groups = new Map<number, number[]>();
  for (let i = 0; i < alerts.length; i++) {
    const g = groups.get(labels[i]);
    if (g) g.push(i);
    else groups.set(labels[i], [i]);
  }
  return [...groups]
    .filter(([, m]) => m.length >= params.min_count)
    .map(([l, members]) => ({ members, col: centres[l].x, row: centres[l].y }));
}

/** Every tile with its halo, margin doubling as runTile does; owned clusters mapped back to the region. */
function tileByTile(alerts: Alerts, params: ClusterParams, tiles: number, firstMargin = initialHaloMargin(params)) {
  const found: Found[] = [];
  const margins: number[] = [];
  let incompleteAtMax = 0;
  for (let ty = 0; ty < tiles; ty++) {
    for (let tx = 0; tx < tiles; tx++) {
      let margin = firstMargin;
      for (;;) {
        // The tile's alerts and its neighbours' within the margin, in tile coordinates.
        const pick: number[] = [];
        for (let i = 0; i < alerts.length; i++) {
          const c = alerts.col[i] - tx * T, r = alerts.row[i] - ty * T;
          if (c >= -margin && c < T + margin && r >= -margin && r < T + margin) pick.push(i);
        }
        const local: Alerts = {
          length: pick.length,
          col: Int32Array.from(pick, (i) => alerts.col[i] - tx * T),
          row: Int32Array.from(pick, (i) => alerts.row[i] - ty * T),
          days: Uint16Array.from(pick, (i) => alerts.days[i]),
          confidence: Uint8Array.from(pick, (i) => alerts.confidence[i]),
        };
        const { clusters, complete } = clusterAlerts(local, params, margin);
        if (complete || margin >= MAX_HALO_MARGIN) {
          if (!complete) incompleteAtMax++;
          margins.push(margin);
          for (const c of clusters) {
            found.push({ members: Array.from(c.members, (k) => pick[k]).sort((a, b) => a - b), col: c.col + tx * T, row: c.row + ty * T });
          }
          break;
        }
        margin = Math.min(MAX_HALO_MARGIN, margin > 0 ? 2 * margin : 16);
      }
    }
  }
  return { found, margins, incompleteAtMax };
}

/** How many tiles a cluster's members fall in (2 = straddles an edge, ≥3 = around a corner). */
function tilesSpanned(alerts: Alerts, members: number[]): number {
  return new Set(members.map((i) => `${Math.floor(alerts.col[i] / T)},${Math.floor(alerts.row[i] / T)}`)).size;
}

function expectSameClusters(alerts: Alerts, whole: Found[], union: Found[]) {
  const key = (f: Found) => f.members.join(',');
  const wholeByKey = new Map(whole.map((f) => [key(f), f]));
  const seen = new Set<string>();
  for (const f of union) {
    const k = key(f);
    expect(seen.has(k), `cluster of ${f.members.length} reported twice`).toBe(false);
    seen.add(k);
    const w = wholeByKey.get(k);
    expect(w, `tile cluster at (${f.col.toFixed(1)}, ${f.row.toFixed(1)}) with ${f.members.length} members is not a whole-region cluster`).toBeDefined();
    expect(Math.abs(w!.col - f.col)).toBeLessThan(1e-6);
    expect(Math.abs(w!.row - f.row)).toBeLessThan(1e-6);
  }
  for (const w of whole) {
    expect(seen.has(key(w)), `whole-region cluster at (${w.col.toFixed(1)}, ${w.row.toFixed(1)}) (${w.members.length} alerts) missing from the tiles`).toBe(true);
  }
  expect(union.length).toBe(whole.length);
  // Every alert is in at most one reported cluster.
  const all = union.flatMap((f) => f.members);
  expect(new Set(all).size).toBe(all.length);
  return {
    straddling: whole.filter((w) => tilesSpanned(alerts, w.members) >= 2).length,
    corners: whole.filter((w) => tilesSpanned(alerts, w.members) >= 3).length,
  };
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
      const { found, margins, incompleteAtMax } = tileByTile(alerts, standard, tiles);
      const { straddling, corners } = expectSameClusters(alerts, whole, found);
      expect(incompleteAtMax).toBe(0);
      // The mosaic really exercises the halo: clusters across edges and corners, some retries.
      expect(straddling).toBeGreaterThan(0);
      console.log(`standard d=${density}: ${alerts.length} alerts, ${whole.length} clusters, ${straddling} across edges, ${corners} across corners; margins used ${JSON.stringify(margins)}`);
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
    const { found, margins, incompleteAtMax } = tileByTile(alerts, standard, 3, 16);
    expectSameClusters(alerts, whole, found);
    expect(incompleteAtMax).toBe(0);
    expect(margins.some((m) => m > 16)).toBe(true);
    console.log(`standard from 16 px: margins used ${JSON.stringify(margins)}`);
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

  // Denser `flat` mosaics are NOT tile-decomposable exactly: scikit-learn's near-duplicate
  // suppression walks chains of candidates (each within a bandwidth of a stronger one) that can
  // cross a whole clearing and the halo, and exact nearest-centre ties are broken by a KD tree over
  // all centres. So measure, and require most of the region to come out the same.
  for (const [seed, density] of [
    [14, 3000],
    [21, 3000],
    [22, 10000],
  ] as const) {
    it(`flat, 3×3 tiles, density ${density}, seed ${seed}: most clusters identical (documented limitation)`, () => {
      const params: ClusterParams = { width: 5, min_count: 25, iterations: 25, algorithm: 'flat' };
      const alerts = regionAlerts(seed, density, 3);
      const whole = wholeRegion(alerts, params);
      const { found, incompleteAtMax } = tileByTile(alerts, params, 3);
      const key = (f: Found) => f.members.join(',');
      const foundKeys = new Set(found.map(key));
      const same = whole.filter((w) => foundKeys.has(key(w)));
      const clustered = whole.reduce((n, w) => n + w.members.length, 0);
      const sameAlerts = same.reduce((n, w) => n + w.members.length, 0);
      // No alert is reported twice, even where the results differ.
      const all = found.flatMap((f) => f.members);
      expect(new Set(all).size).toBe(all.length);
      expect(sameAlerts / clustered).toBeGreaterThan(0.9); // measured: 97.8%, 98.2% (3k), 91.2% (10k)
      console.log(
        `flat d=${density} seed ${seed}: ${same.length}/${whole.length} region clusters reported identically ` +
          `(${((100 * sameAlerts) / clustered).toFixed(2)}% of clustered alerts), ${found.length} reported, ${incompleteAtMax} tiles incomplete at max`,
      );
    }, 300_000);
  }

  it('flat, 3×3 tiles, density 1000', () => {
    const params: ClusterParams = { width: 5, min_count: 25, iterations: 25, algorithm: 'flat' };
    const alerts = regionAlerts(14, 1000, 3);
    const whole = wholeRegion(alerts, params);
    const { found, incompleteAtMax } = tileByTile(alerts, params, 3);
    const { straddling } = expectSameClusters(alerts, whole, found);
    expect(incompleteAtMax).toBe(0);
    expect(straddling).toBeGreaterThan(0);
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
        const result = await runTile(
          { z: 12, x: x0 + tx, y: y0 + ty, start_date: '2015-01-01', end_date: '2021-01-01', ...standard },
          source,
        );
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
      const { found, incompleteAtMax } = tileByTile(alerts, params, 3, k % 2 ? 16 : initialHaloMargin(params));
      expectSameClusters(alerts, whole, found);
      expect(incompleteAtMax).toBe(0);
    }
  }, 1_800_000);
});
