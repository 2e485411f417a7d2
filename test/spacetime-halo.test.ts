// The halo rule for clearing events (time_width): clustering every tile of a mosaic with its halo
// (margin doubling as runTile does) and keeping each tile's owned events gives exactly the events
// of the whole region clustered at once, with the same engine: same members, same centres, each
// once. The synthetic world's clearings and roads continue across tile edges, each with its own
// dates, so events cross edges and corners. See docs/clustering.md, "Space and time".
import { describe, expect, it } from 'vitest';
import { initialHaloMargin } from '../core/meanshift/engine.ts';
import { flatMeanShift } from '../core/meanshift/flat.ts';
import { standardSpaceTime } from '../core/meanshift/standard-spacetime.ts';
import type { Alerts } from '../core/tiles/types.ts';
import type { ClusterParams } from '../core/meanshift/types.ts';
import { ANCHOR, expectSameClusters, keptClusters, regionAlerts, tileByTile, type Found, type Origin } from './mosaic.ts';

/** The region's events at once: standard space–time, or flat on (x, y, τ) in the global frame. */
function wholeRegion(alerts: Alerts, params: ClusterParams, origin: Origin = ANCHOR): Found[] {
  let labels: Int32Array, centres: Array<{ x: number; y: number }>;
  if (params.algorithm === 'standard') {
    ({ labels, centres } = standardSpaceTime(alerts, params.width, params.time_width!));
  } else {
    const p = flatMeanShift(
      {
        length: alerts.length,
        x: Float64Array.from(alerts.col, (c) => c + origin.col),
        y: Float64Array.from(alerts.row, (r) => r + origin.row),
        t: Float64Array.from(alerts.days, (d) => d * (params.width / params.time_width!)),
      },
      params.width,
    );
    labels = p.labels;
    centres = p.centres.map((c) => ({ x: c.x - origin.col, y: c.y - origin.row }));
  }
  return keptClusters(labels, centres, params.min_count);
}

/** Pairs of events whose centres lie within two widths: one place, several events. */
function samePlacePairs(events: Found[], width: number): number {
  let pairs = 0;
  for (let i = 0; i < events.length; i++) {
    for (let j = i + 1; j < events.length; j++) {
      if (Math.hypot(events[i].col - events[j].col, events[i].row - events[j].row) < 2 * width) pairs++;
    }
  }
  return pairs;
}

describe('halo with time_width: union of owned tile events = the region at once', () => {
  const cases: Array<[string, ClusterParams, number, number, number, number?]> = [
    ['standard, time_width 90, 4×4 tiles, 3,000/tile', { width: 5, min_count: 25, iterations: 25, algorithm: 'standard', time_width: 90 }, 11, 3000, 4],
    ['standard, time_width 30, 3×3 tiles, 10,000/tile', { width: 5, min_count: 25, iterations: 25, algorithm: 'standard', time_width: 30 }, 12, 10000, 3],
    ['standard, time_width 365, width 3, min_count 5, 3×3 tiles, 2,000/tile', { width: 3, min_count: 5, iterations: 25, algorithm: 'standard', time_width: 365 }, 13, 2000, 3],
    ['standard, time_width 90, 3×3 from a 16 px halo (retries)', { width: 5, min_count: 25, iterations: 25, algorithm: 'standard', time_width: 90 }, 15, 3000, 3, 16],
    ['standard, time_width 90, 2×2 tiles, 30,000/tile', { width: 5, min_count: 25, iterations: 25, algorithm: 'standard', time_width: 90 }, 17, 30000, 2],
    ['flat, time_width 90, 3×3 tiles, 3,000/tile', { width: 5, min_count: 25, iterations: 25, algorithm: 'flat', time_width: 90 }, 14, 3000, 3],
    ['flat, time_width 30, 3×3 tiles, 10,000/tile', { width: 5, min_count: 25, iterations: 25, algorithm: 'flat', time_width: 30 }, 22, 10000, 3],
  ];
  for (const [what, params, seed, density, tiles, firstMargin] of cases) {
    it(what, () => {
      const alerts = regionAlerts(seed, density, tiles);
      const whole = wholeRegion(alerts, params);
      const { found, margins, incompleteAtMax } = tileByTile(alerts, params, tiles, firstMargin ?? initialHaloMargin(params));
      const { straddling, corners } = expectSameClusters(alerts, whole, found);
      expect(incompleteAtMax).toBe(0);
      expect(straddling).toBeGreaterThan(0);
      if (firstMargin !== undefined) expect(margins.some((m) => m > firstMargin)).toBe(true);
      const places = samePlacePairs(whole, params.width);
      console.log(`${what}: ${alerts.length} alerts, ${whole.length} events, ${straddling} across edges, ${corners} across corners, ${places} pairs of events at one place; margins ${JSON.stringify(margins)}`);
    }, 600_000);
  }
});

// Opt-in: SPACETIME_CAMPAIGN=N npx vitest run test/spacetime-halo.test.ts -t campaign — N random 3×3
// mosaics (standard and flat by turns, widths 2.5–8, time_width 7–1000 days, min_count 5–25,
// 500–30,000 alerts per tile, from a 16 px halo or the initial one).
const campaign = Number(process.env.SPACETIME_CAMPAIGN ?? 0);
describe.skipIf(!(campaign > 0))('halo with time_width: campaign', () => {
  for (let k = 0; k < campaign; k++) {
    const algorithm = k % 2 ? 'flat' : 'standard';
    const params: ClusterParams = {
      width: [2.5, 3, 4, 5, 6.5, 8][k % 6],
      min_count: [5, 10, 25][k % 3],
      iterations: 25,
      algorithm,
      time_width: [7, 30, 90, 365, 1000][k % 5],
    };
    const density = [500, 1000, 3000, 10000, 30000][(k * 3) % 5];
    it(`#${k} ${algorithm} width ${params.width} time_width ${params.time_width} min_count ${params.min_count}, ${density}/tile`, () => {
      const alerts = regionAlerts(4000 + k, density, 3, 150 + 7 * k, 250 + 3 * k);
      const whole = wholeRegion(alerts, params);
      const { found, margins, incompleteAtMax } = tileByTile(alerts, params, 3, k % 4 < 2 ? 16 : initialHaloMargin(params));
      const { straddling } = expectSameClusters(alerts, whole, found);
      expect(incompleteAtMax).toBe(0);
      console.log(`campaign #${k}: ${alerts.length} alerts, ${whole.length} events, ${straddling} across edges; margins ${JSON.stringify(margins)}`);
    }, 900_000);
  }
});
