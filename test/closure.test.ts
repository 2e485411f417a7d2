// The closure's search (core/meanshift/standard-halo.ts, unclimbedNear): the unclimbed alerts
// outside the tile within CLOSURE (Chebyshev) of a seed, each once — by visiting each seed's box or
// through one dilated mask of the seeds — against a brute-force scan of every pair.
import { describe, expect, it } from 'vitest';
import { neighboursInClosure, unclimbedNear } from '../core/meanshift/standard-halo.ts';
import { latticeClimber } from '../core/meanshift/standard.ts';
import { allocAlerts } from '../core/tiles/decode.ts';

function randomAlerts(n: number, seed: number, lo: number, hi: number) {
  let s = seed >>> 0;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const alerts = { ...allocAlerts(n), length: n };
  for (let i = 0; i < n; i++) {
    alerts.col[i] = lo + Math.floor(rand() * (hi - lo + 1));
    alerts.row[i] = lo + Math.floor(rand() * (hi - lo + 1));
  }
  const climbed = new Uint8Array(n);
  for (let i = 0; i < n; i++) climbed[i] = alerts.col[i] >= 0 && alerts.col[i] <= 255 && alerts.row[i] >= 0 && alerts.row[i] <= 255 ? 1 : rand() < 0.2 ? 1 : 0;
  return { alerts, climbed, rand };
}

function bruteForce(seeds: number[], alerts: { col: Int32Array; row: Int32Array; length: number }, closure: number, climbed: Uint8Array): number[] {
  const out: number[] = [];
  for (let j = 0; j < alerts.length; j++) {
    if (climbed[j] !== 0) continue;
    const c = alerts.col[j], r = alerts.row[j];
    if (c >= 0 && c <= 255 && r >= 0 && r <= 255) continue;
    if (seeds.some((i) => Math.abs(alerts.col[i] - c) <= closure && Math.abs(alerts.row[i] - r) <= closure)) out.push(j);
  }
  return out;
}

describe('unclimbedNear: the alerts a closure round adds', () => {
  for (const via of ['boxes', 'mask', 'cheaper'] as const) {
    for (const [n, nSeeds, closure] of [[3000, 4, 31], [20000, 600, 31], [8000, 150, 7], [6000, 40, 3]] as const) {
      it(`${via}: ${n} alerts, ${nSeeds} seeds, closure ${closure} px: the brute-force set, each once, marked queued`, () => {
        const { alerts, climbed, rand } = randomAlerts(n, n + nSeeds + closure, -128, 383);
        // Seeds are climbed alerts (a candidate's members), near the tile's edges.
        const seeds: number[] = [];
        for (let i = 0; seeds.length < nSeeds && i < n; i++) {
          const c = alerts.col[i], r = alerts.row[i];
          if (climbed[i] === 1 && Math.min(Math.abs(c), Math.abs(c - 255), Math.abs(r), Math.abs(r - 255)) < 40 && rand() < 0.5) seeds.push(i);
        }
        expect(seeds.length).toBe(nSeeds);
        const expected = bruteForce(seeds, alerts, closure, climbed);
        expect(expected.length).toBeGreaterThan(0);
        const before = climbed.slice();
        const found = unclimbedNear(seeds, alerts, closure, climbed, latticeClimber(alerts, 5), n / 512 / 512, via);
        expect([...found].sort((a, b) => a - b)).toEqual(expected);
        for (let j = 0; j < n; j++) expect(climbed[j]).toBe(expected.includes(j) ? 2 : before[j]);
        // A second call finds nothing new: they are queued.
        expect(unclimbedNear(seeds, alerts, closure, climbed, latticeClimber(alerts, 5), n / 512 / 512, via)).toHaveLength(0);
      });
    }
  }
});

describe('neighboursInClosure: the neighbours the first pass reads', () => {
  const at = (px: Array<[number, number]>) => ({ ...allocAlerts(px.length), length: px.length, col: Int32Array.from(px, ([c]) => c), row: Int32Array.from(px, ([, r]) => r) });
  const bit = (dx: number, dy: number) => 1 << ((dy + 1) * 3 + (dx + 1));
  // Width 5: CLOSURE = ⌈25.5 + 5⌉ = 31 px (Chebyshev) from an alert's pixel.
  it('the tile alone when no alert is within CLOSURE of an edge; halo alerts do not count', () => {
    expect(neighboursInClosure(at([[128, 128], [31, 224], [-3, 100], [300, 300]]), 5)).toBe(bit(0, 0));
  });
  it('the side, and the corner too when an alert is within CLOSURE of both edges', () => {
    expect(neighboursInClosure(at([[30, 128]]), 5)).toBe(bit(0, 0) | bit(-1, 0));
    expect(neighboursInClosure(at([[128, 225]]), 5)).toBe(bit(0, 0) | bit(0, 1));
    expect(neighboursInClosure(at([[5, 250]]), 5)).toBe(bit(0, 0) | bit(-1, 0) | bit(0, 1) | bit(-1, 1));
  });
  it('all nine once alerts reach every edge and corner', () => {
    expect(neighboursInClosure(at([[0, 0], [255, 255], [0, 255], [255, 0]]), 5)).toBe(0x1ff);
  });
  it('a wider kernel reaches farther', () => {
    expect(neighboursInClosure(at([[45, 128]]), 5)).toBe(bit(0, 0));
    expect(neighboursInClosure(at([[45, 128]]), 8)).toBe(bit(0, 0) | bit(-1, 0));
  });
});
