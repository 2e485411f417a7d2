// Space–time clustering (`time_width`, issue 10 §2): clearing events, not just places.
// - generated tiles where two clearings share a place years apart: two events with time_width 90,
//   one cluster without; a clearing growing over 60 days: one event;
// - `standard` space–time against an independent exact oracle (test/reference-spacetime.ts):
//   identical membership; order and frame independence;
// - `flat` space–time against scikit-learn's MeanShift on (x, y, day·width/time_width);
// - the parameter: validation, run ids unchanged without it, CLIs, the engine's dispatch, runTile.
// The halo union on mosaics is test/spacetime-halo.test.ts.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { clusterAlerts } from '../core/meanshift/engine.ts';
import { flatMeanShift } from '../core/meanshift/flat.ts';
import { climbSpaceTime, standardSpaceTime } from '../core/meanshift/standard-spacetime.ts';
import type { ClusterParams, Partition, Points } from '../core/meanshift/types.ts';
import { parseTileRequest } from '../core/run/request.ts';
import { canonicalJson, parseRunSpec, runId, validateRunParams } from '../core/run/params.ts';
import { parseTileMessage, tileMessageBody } from '../core/run/messages.ts';
import { runTile } from '../core/clusters/tile-job.ts';
import type { Alerts } from '../core/tiles/types.ts';
import { mulberry32, syntheticTile, syntheticTileSource } from '../local/synthetic.ts';
import { runSpecOf } from '../local/run-args.ts';
import { referenceSpaceTime } from './reference-spacetime.ts';
import { compareClusterings } from './reference-meanshift.ts';

const PYTHON = '/usr/bin/python3';
const hasSklearn = spawnSync(PYTHON, ['-c', 'import sklearn.cluster'], { encoding: 'utf8' }).status === 0;

const standard: ClusterParams = { width: 5, min_count: 25, iterations: 25, algorithm: 'standard' };

function alertsOf(col: number[], row: number[], days: number[]): Alerts {
  return { length: col.length, col: Int32Array.from(col), row: Int32Array.from(row), days: Uint16Array.from(days), confidence: new Uint8Array(col.length).fill(2) };
}

/**
 * A disc of alerts at one place cleared in two eras `years` apart, each growing outward over up
 * to `grow` days; `split` says which pixels the later era takes: interleaved (a checkerboard: the
 * very same place) or a second disc shifted by 0.3 radius over the first (pixels not yet cleared).
 * Plus scattered single alerts. era[i] is 0 or 1 (−1: noise).
 */
function twoErasTile(seed: number, radius: number, split: 'interleaved' | 'overlapping', noise = 30) {
  const rand = mulberry32(seed);
  const cx = 40 + Math.floor(rand() * 176), cy = 40 + Math.floor(rand() * 176);
  const years = 2 + Math.floor(rand() * 4);
  const start = [200 + Math.floor(rand() * 700), 0];
  start[1] = start[0] + years * 365 + Math.floor(rand() * 60);
  const grow = 20 + Math.floor(rand() * 40);
  const taken = new Set<number>();
  const col: number[] = [], row: number[] = [], days: number[] = [], era: number[] = [];
  const add = (c: number, r: number, d: number, e: number) => {
    if (c < 0 || c > 255 || r < 0 || r > 255 || taken.has(r * 256 + c)) return;
    taken.add(r * 256 + c);
    col.push(c), row.push(r), days.push(d), era.push(e);
  };
  const shift = split === 'overlapping' ? Math.round(0.3 * radius) : 0;
  for (const e of split === 'overlapping' ? [0, 1] : [0]) {
    const ox = cx + e * shift;
    for (let r = cy - radius; r <= cy + radius; r++) {
      for (let c = ox - radius; c <= ox + radius; c++) {
        const rho = Math.hypot(c - ox, r - cy) / radius;
        if (rho > 1) continue;
        const which = split === 'interleaved' ? (c + r) % 2 : e;
        add(c, r, start[which] + Math.round(rho * grow + rand() * 6), which);
      }
    }
  }
  for (let k = 0; k < noise; k++) add(Math.floor(rand() * 256), Math.floor(rand() * 256), 1 + Math.floor(rand() * 2190), -1);
  return { alerts: alertsOf(col, row, days), era, years };
}

/** The kept clusters' member lists (owned: centre in the tile; ≥ min_count). */
function kept(alerts: Alerts, params: ClusterParams): number[][] {
  return clusterAlerts(alerts, params, 0).clusters.map((c) => Array.from(c.members));
}

describe('clearing events: two clearings at one place, years apart', () => {
  for (const split of ['interleaved', 'overlapping'] as const) {
    for (const seed of [1, 2, 3, 4]) {
      it(`standard, ${split}, seed ${seed}: one cluster without time_width, two events with time_width 90`, () => {
        const { alerts, era, years } = twoErasTile(seed, 8 + seed, split);
        const eraSize = [0, 1].map((e) => era.filter((v) => v === e).length);
        expect(Math.min(...eraSize)).toBeGreaterThanOrEqual(standard.min_count);
        // Space only: one place, one cluster holding both eras.
        const place = kept(alerts, standard);
        expect(place).toHaveLength(1);
        for (const e of [0, 1]) expect(place[0].filter((i) => era[i] === e)).toHaveLength(eraSize[e]);
        // Space and time: each era is one event on its own.
        const events = kept(alerts, { ...standard, time_width: 90 });
        expect(events, `${years} years apart`).toHaveLength(2);
        // Each holds every alert of one era and none of the other (a scattered alert may join).
        for (const members of events) {
          const eras = [...new Set(members.map((i) => era[i]).filter((e) => e >= 0))];
          expect(eras).toHaveLength(1);
          expect(members.filter((i) => era[i] === eras[0])).toHaveLength(eraSize[eras[0]]);
        }
      });
    }
  }

  for (const seed of [5, 6, 7]) {
    it(`flat, interleaved, seed ${seed}: one cluster without time_width, two events with time_width 90`, () => {
      // A flat ball of radius `width` sees a clearing of radius ≤ 4 whole.
      const flat: ClusterParams = { width: 5, min_count: 10, iterations: 25, algorithm: 'flat' };
      const { alerts, era } = twoErasTile(seed, 4, 'interleaved', 0);
      const place = kept(alerts, flat);
      expect(place).toHaveLength(1);
      expect(place[0]).toHaveLength(alerts.length);
      const events = kept(alerts, { ...flat, time_width: 90 });
      expect(events).toHaveLength(2);
      for (const members of events) expect(new Set(members.map((i) => era[i])).size).toBe(1);
      expect(events[0].length + events[1].length).toBe(alerts.length);
    });
  }
});

describe('clearing events: one clearing growing over 60 days', () => {
  for (const seed of [11, 12, 13, 14]) {
    it(`is one event with time_width 90 (seed ${seed}), and splits when time_width is much shorter than its growth`, () => {
      const rand = mulberry32(seed);
      const cx = 60 + Math.floor(rand() * 136), cy = 60 + Math.floor(rand() * 136), radius = 10 + Math.floor(rand() * 6);
      const start = 300 + Math.floor(rand() * 1500);
      const col: number[] = [], row: number[] = [], days: number[] = [];
      for (let r = cy - radius; r <= cy + radius; r++) {
        for (let c = cx - radius; c <= cx + radius; c++) {
          const rho = Math.hypot(c - cx, r - cy) / radius;
          if (rho > 1 || rand() > 0.9) continue;
          col.push(c), row.push(r), days.push(start + Math.round(rho * 60));
        }
      }
      const alerts = alertsOf(col, row, days);
      const events = kept(alerts, { ...standard, time_width: 90 });
      expect(events).toHaveLength(1);
      expect(events[0]).toHaveLength(alerts.length);
      const span = Math.max(...events[0].map((i) => days[i])) - Math.min(...events[0].map((i) => days[i]));
      expect(span).toBeGreaterThanOrEqual(55);
      // The same clearing seen with a 2-day time scale is many short events: the kernel does weigh time.
      expect(kept(alerts, { ...standard, min_count: 1, time_width: 2 }).length).toBeGreaterThan(1);
    });
  }
});

describe('standard space–time equals the exact oracle', () => {
  // [what, alerts, width, time_width, min_count]
  const cases: Array<[string, () => Alerts, number, number, number]> = [
    ['synthetic tile, 763 alerts', () => syntheticTile({ seed: 42, z: 12, x: 2989, y: 2049, density: 800 }), 5, 90, 25],
    ['synthetic tile, 1,505 alerts', () => syntheticTile({ seed: 7, z: 12, x: 100, y: 200, density: 1500 }), 5, 90, 25],
    ['synthetic tile, width 3, time_width 30', () => syntheticTile({ seed: 8, z: 12, x: 300, y: 400, density: 1000 }), 3, 30, 10],
    ['synthetic tile, time_width 365', () => syntheticTile({ seed: 9, z: 12, x: 500, y: 600, density: 1200 }), 5, 365, 25],
    ['synthetic tile, time_width 7 (a day is 0.7 px of time)', () => syntheticTile({ seed: 10, z: 12, x: 50, y: 60, density: 600 }), 5, 7, 5],
    ['synthetic tile, width 8, time_width 1 (a day is 8 px of time)', () => syntheticTile({ seed: 11, z: 12, x: 51, y: 61, density: 800 }), 8, 1, 5],
    ['the bench tile, 3,002 alerts (12/2989/2049, seed 42)', () => syntheticTile({ seed: 42, z: 12, x: 2989, y: 2049, density: 3000 }), 5, 90, 25],
    ['two eras at one place, interleaved', () => twoErasTile(21, 12, 'interleaved', 200).alerts, 5, 90, 25],
    ['two eras at one place, overlapping', () => twoErasTile(22, 12, 'overlapping', 200).alerts, 5, 60, 10],
  ];
  for (const [what, make, width, timeWidth, minCount] of cases) {
    it(`${what}: identical members, centres within 0.01 px`, () => {
      const alerts = make();
      const fast = standardSpaceTime(alerts, width, timeWidth);
      const ref = referenceSpaceTime(alerts.col, alerts.row, alerts.days, width, timeWidth);
      const cmp = compareClusterings(fast, ref, minCount);
      expect(cmp.clustersA).toBeGreaterThan(0);
      expect(cmp.agreement).toBe(1);
      expect(cmp.matchedButDifferent).toBe(0);
      expect(cmp.matched).toBe(cmp.clustersA);
      expect(cmp.matched).toBe(cmp.clustersB);
      expect(cmp.maxCentreDistance).toBeLessThan(0.01);
      console.log(`${what}: ${alerts.length} alerts, ${cmp.matched} clusters, worst centre ${cmp.maxCentreDistance.toExponential(1)} px; oracle up to ${Math.max(...ref.steps)} steps`);
    }, 300_000);
  }

  it('does not depend on the order of the alerts nor on the coordinate frame', () => {
    const a = syntheticTile({ seed: 5, z: 12, x: 700, y: 800, density: 3000 });
    const base = standardSpaceTime(a, 5, 90);
    const rand = mulberry32(99);
    const order = Int32Array.from({ length: a.length }, (_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    const dx = 3 * 256, dy = -2 * 256;
    const moved = alertsOf(Array.from(order, (i) => a.col[i] + dx), Array.from(order, (i) => a.row[i] + dy), Array.from(order, (i) => a.days[i]));
    const other = standardSpaceTime(moved, 5, 90);
    expect(other.climb.evaluations).toBe(base.climb.evaluations);
    expect(other.climb.steps).toBe(base.climb.steps);
    // Same partition: alert order[k] of `a` is alert k of `moved`.
    const pairs = new Map<number, number>();
    for (let k = 0; k < order.length; k++) {
      const mine = base.labels[order[k]], theirs = other.labels[k];
      if (!pairs.has(mine)) pairs.set(mine, theirs);
      expect(pairs.get(mine)).toBe(theirs);
      expect(other.climb.modeT[k]).toBe(base.climb.modeT[order[k]]);
    }
    expect(new Set(pairs.values()).size).toBe(pairs.size);
    for (const [mine, theirs] of pairs) {
      expect(other.centres[theirs].x - dx).toBeCloseTo(base.centres[mine].x, 9);
      expect(other.centres[theirs].y - dy).toBeCloseTo(base.centres[mine].y, 9);
    }
  });

  it('keeps at most its cap of node models, with the same result beyond it (models are rebuilt, not kept)', () => {
    const a = syntheticTile({ seed: 6, z: 12, x: 900, y: 950, density: 1500 });
    const kept = climbSpaceTime(a, 5, 90);
    for (const cap of [1, 200]) {
      const capped = climbSpaceTime(a, 5, 90, cap);
      expect(capped.evaluations).toBeGreaterThan(kept.evaluations); // rebuilt past the cap
      expect(Array.from(capped.modeX)).toEqual(Array.from(kept.modeX));
      expect(Array.from(capped.modeY)).toEqual(Array.from(kept.modeY));
      expect(Array.from(capped.modeT)).toEqual(Array.from(kept.modeT));
      expect(capped.steps).toBe(kept.steps);
    }
  });

  it('has bounded work on adversarial input: one pixel column of alerts every day for years', () => {
    const col: number[] = [], row: number[] = [], days: number[] = [];
    for (let d = 1; d <= 2000; d++) col.push(100), row.push(100 + (d % 7)), days.push(d);
    const t0 = performance.now();
    const { climb } = standardSpaceTime(alertsOf(col, row, days), 5, 90);
    expect(climb.steps).toBeLessThan(2000 * 200);
    expect(performance.now() - t0).toBeLessThan(20_000);
  });
});

describe.skipIf(!hasSklearn)('flat space–time equals scikit-learn MeanShift on (x, y, day·width/time_width)', () => {
  function sklearn(points: Points, bandwidth: number): Partition & { centreT: number[] } {
    const request = { x: Array.from(points.x), y: Array.from(points.y), t: Array.from(points.t!), bandwidth };
    const run = spawnSync(PYTHON, ['test/sklearn_meanshift.py'], { input: JSON.stringify(request), encoding: 'utf8', maxBuffer: 1 << 26 });
    if (run.status !== 0) throw new Error(`sklearn peer failed: ${run.stderr}`);
    const out = JSON.parse(run.stdout) as { labels: number[]; centres: number[][] };
    return { labels: Int32Array.from(out.labels), centres: out.centres.map(([x, y]) => ({ x, y })), centreT: out.centres.map((c) => c[2]) };
  }
  const cases: Array<[string, () => Alerts, number, number]> = [
    ['synthetic tile, ~800 alerts, time_width 90', () => syntheticTile({ seed: 42, z: 12, x: 2989, y: 2049, density: 800 }), 5, 90],
    ['synthetic tile, ~1,500 alerts, time_width 30', () => syntheticTile({ seed: 7, z: 12, x: 100, y: 200, density: 1500 }), 5, 30],
    ['synthetic tile, ~1,000 alerts, width 3, time_width 365', () => syntheticTile({ seed: 8, z: 12, x: 300, y: 400, density: 1000 }), 3, 365],
    ['two eras at one place', () => twoErasTile(31, 10, 'interleaved', 100).alerts, 5, 90],
  ];
  for (const [what, make, width, timeWidth] of cases) {
    it(`${what}: same partition (but exact label ties), centres within 1e-9 px`, () => {
      const a = make();
      const points: Points = {
        length: a.length,
        x: Float64Array.from(a.col),
        y: Float64Array.from(a.row),
        t: Float64Array.from(a.days, (d) => d * (width / timeWidth)),
      };
      const mine = flatMeanShift(points, width), ref = sklearn(points, width);
      expect(mine.centres.length).toBe(ref.centres.length);
      expect(mine.centres.length).toBeGreaterThan(1);
      // Centres come in the same (intensity, x, y, t) order in both.
      let worst = 0;
      for (let l = 0; l < ref.centres.length; l++) worst = Math.max(worst, Math.abs(mine.centres[l].x - ref.centres[l].x), Math.abs(mine.centres[l].y - ref.centres[l].y));
      expect(worst).toBeLessThanOrEqual(1e-9);
      // Labels equal, except where an alert is exactly as near both centres (we give it the
      // higher-ranked one, sklearn's KD tree the one its layout meets first).
      let ties = 0;
      for (let i = 0; i < a.length; i++) {
        if (mine.labels[i] === ref.labels[i]) continue;
        const d2 = (l: number) => (points.x[i] - ref.centres[l].x) ** 2 + (points.y[i] - ref.centres[l].y) ** 2 + (points.t![i] - ref.centreT[l]) ** 2;
        expect(Math.abs(d2(mine.labels[i]) - d2(ref.labels[i])), `alert ${i} labelled ${mine.labels[i]}, sklearn ${ref.labels[i]}`).toBeLessThan(1e-9);
        expect(mine.labels[i]).toBeLessThan(ref.labels[i]); // the higher-ranked of the tied centres
        ties++;
      }
      expect(ties).toBeLessThanOrEqual(a.length / 100);
      console.log(`flat space–time, ${what}: ${a.length} alerts, ${ref.centres.length} centres, ${ties} exact ties labelled differently`);
    }, 120_000);
  }
});

describe('the time_width parameter', () => {
  it('is optional: absent, a request, a run and its id are today’s', () => {
    expect('time_width' in parseTileRequest({ z: 12, x: 1, y: 2 })).toBe(false);
    const params = { z: 12, region: { kind: 'tile', x: 1, y: 2 }, tiles_url: 'https://h/{z}/{x}/{y}.png' };
    const spec = validateRunParams(params);
    expect('time_width' in spec).toBe(false);
    expect(canonicalJson(spec)).not.toContain('time_width');
    // With it, another run, which the message round trip keeps.
    const timed = validateRunParams({ ...params, time_width: 90 });
    expect(timed.time_width).toBe(90);
    expect(runId(timed)).not.toBe(runId(spec));
    expect(runId({ ...timed, time_width: undefined })).toBe(runId(spec));
    const parsed = parseTileMessage(tileMessageBody(timed, { z: 12, x: 1, y: 2 }));
    expect(parsed.kind).toBe('ok');
    if (parsed.kind === 'ok') expect(parsed.message.params.time_width).toBe(90);
    expect(parseRunSpec(JSON.parse(JSON.stringify(timed))).time_width).toBe(90);
    expect(parseTileRequest({ z: 12, x: 1, y: 2, time_width: 90 }).time_width).toBe(90);
  });

  it('is a whole number of days in 1..3650, refused by blurring, with one-line errors', () => {
    for (const bad of [0, 3651, 1.5, -90, '90', null]) {
      expect(() => parseTileRequest({ z: 12, x: 1, y: 2, time_width: bad })).toThrow(/^time_width: must be an integer in 1\.\.3650$/);
    }
    expect(() => parseTileRequest({ z: 12, x: 1, y: 2, time_width: 90, algorithm: 'blurring' })).toThrow(/^time_width: blurring has no time kernel: use standard or flat$/);
    expect(() => validateRunParams({ z: 12, region: { kind: 'tile', x: 1, y: 2 }, tiles_url: 'https://h/{z}/{x}/{y}.png', time_width: 4000 })).toThrow(/^time_width: must be an integer in 1\.\.3650$/);
    expect(parseTileRequest({ z: 12, x: 1, y: 2, time_width: 1 }).time_width).toBe(1);
    expect(parseTileRequest({ z: 12, x: 1, y: 2, time_width: 3650, algorithm: 'flat' }).time_width).toBe(3650);
  });

  it('comes from --time-width on the run CLIs', () => {
    const region = { kind: 'tile' as const, x: 1, y: 2 };
    expect(runSpecOf({ timeWidth: '90', tilesUrl: 'https://h/{z}/{x}/{y}.png' }, region).time_width).toBe(90);
    expect('time_width' in runSpecOf({ tilesUrl: 'https://h/{z}/{x}/{y}.png' }, region)).toBe(false);
    expect(() => runSpecOf({ timeWidth: 'soon', tilesUrl: 'https://h/{z}/{x}/{y}.png' }, region)).toThrow(/^--time-width must be a decimal number, got "soon"$/);
    expect(() => runSpecOf({ timeWidth: '0', tilesUrl: 'https://h/{z}/{x}/{y}.png' }, region)).toThrow(/^time_width: must be an integer in 1\.\.3650$/);
  });

  it('the engine refuses it for blurring and dispatches standard and flat to their space–time variants', () => {
    const a = syntheticTile({ seed: 3, z: 12, x: 40, y: 50, density: 2000 });
    expect(() => clusterAlerts(a, { ...standard, algorithm: 'blurring', time_width: 90 }, 0)).toThrow(/^time_width: blurring has no time kernel/);
    expect(() => clusterAlerts(a, { ...standard, time_width: 0 }, 0)).toThrow(/time_width=0/);
    for (const algorithm of ['standard', 'flat'] as const) {
      const space = clusterAlerts(a, { ...standard, algorithm }, 64);
      const spaceTime = clusterAlerts(a, { ...standard, algorithm, time_width: 90 }, 64);
      const key = (r: typeof space) => r.clusters.map((c) => Array.from(c.members).join(',')).sort().join(';');
      expect(key(spaceTime)).not.toBe(key(space));
      // An explicit undefined is "absent".
      expect(key(clusterAlerts(a, { ...standard, algorithm, time_width: undefined }, 64))).toBe(key(space));
    }
  });

  it('runTile echoes it and clusters in space and time with it, and is unchanged without it', async () => {
    const source = syntheticTileSource({ seed: 4, density: 3000 });
    const tile = { z: 12, x: 1200, y: 1300 };
    const spec = { ...standard, start_date: '2015-01-01', end_date: '2021-01-01' };
    const space = await runTile(tile, spec, source);
    expect('time_width' in space).toBe(false);
    const alerts = syntheticTile({ ...tile, seed: 4, density: 3000 });
    expect(space.tile_alerts).toBe(alerts.length);
    const timed = await runTile(tile, { ...spec, time_width: 90 }, source);
    expect(timed.time_width).toBe(90);
    expect(timed.nb_clusters).toBeGreaterThan(0);
    const members = (r: typeof space) => r.clusters.map((c) => c.alerts.map((t) => t.join(':')).sort().join(';')).sort();
    expect(members(timed)).not.toEqual(members(space));
    // Every event spans fewer days than the place it is part of may (a sanity check on dates).
    const span = (c: (typeof space)['clusters'][number]) => {
      const d = c.alerts.map(([, , date]) => Date.parse(date));
      return (Math.max(...d) - Math.min(...d)) / 86_400_000;
    };
    expect(Math.max(...timed.clusters.map(span))).toBeLessThan(Math.max(...space.clusters.map(span)));
  });
});
