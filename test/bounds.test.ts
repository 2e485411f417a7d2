// Item 7 of issue 12: every clustering parameter has a documented range (docs/clustering.md,
// "Parameter ranges"); anything outside is refused with one line, by the tile request and by the
// run parameters alike, so no input can ask for unbounded memory or time.
import { describe, expect, it } from 'vitest';
import { PARAM_BOUNDS, parseTileRequest } from '../core/run/request.ts';
import { validateRunParams } from '../core/run/params.ts';
import { budgetedEngine, tileBudget } from '../core/clusters/budget.ts';
import type { ClusterEngine } from '../core/clusters/tile-job.ts';

const tile = { z: 12, x: 1, y: 1 };
const run = { z: 12, region: { kind: 'tile', x: 1, y: 1 }, tiles_url: 'https://h/{z}/{x}/{y}.png' };

describe('parameter ranges', () => {
  it.each([
    ['width 0.005 (flat used 24 GB)', { width: 0.005 }, /^width: must be in 0\.5\.\.256/],
    ['width 1e-155 (standard gave one cluster)', { width: 1e-155 }, /^width: must be in 0\.5\.\.256/],
    ['width 257', { width: 257 }, /^width: must be in 0\.5\.\.256/],
    ['width Infinity', { width: Infinity }, /^width: /],
    ['iterations 1e9 (blurring ran forever)', { iterations: 1e9 }, /^iterations: must be an integer in 1\.\.1000/],
    ['iterations 1001', { iterations: 1001 }, /^iterations: must be an integer in 1\.\.1000/],
    ['min_count 2e6', { min_count: 2_000_000 }, /^min_count: must be an integer in 1\.\.1000000/],
  ])('refuses %s with one line, in a tile request and in run params', (_name, bad, message) => {
    expect(() => parseTileRequest({ ...tile, ...bad })).toThrow(message);
    expect(() => validateRunParams({ ...run, ...bad })).toThrow(message);
  });

  it('accepts both ends of every range', () => {
    for (const key of ['width', 'min_count', 'iterations'] as const) {
      for (const value of [PARAM_BOUNDS[key].min, PARAM_BOUNDS[key].max]) {
        expect(parseTileRequest({ ...tile, [key]: value })[key]).toBe(value);
      }
    }
  });
});

describe('per-tile budget', () => {
  it('refuses, before clustering, a pass whose alerts exceed the cap, and a pass started after the deadline', () => {
    const now = { t: 0 };
    const budget = tileBudget({ maxAlerts: 1000, deadline: 100, clock: () => now.t });
    expect(() => budget({ margin: 16, alerts: 1000 })).not.toThrow();
    expect(() => budget({ margin: 32, alerts: 1001 })).toThrow(/1,001 alerts in the halo of 32 px: more than the budget of 1,000/);
    now.t = 101;
    expect(() => budget({ margin: 16, alerts: 10 })).toThrow(/time budget/);
  });

  it('the budgeted engine hands every argument of a pass and the engine\'s other answers through unchanged', () => {
    const calls: unknown[][] = [];
    const inner: ClusterEngine = {
      clusterAlerts: (...args) => (calls.push(args), { clusters: [], complete: true }),
      initialHaloMargin: (_params, tileAlerts) => (tileAlerts ?? 0) + 1,
      MAX_HALO_MARGIN: 99,
      firstNeighbours: () => 0b10011,
    };
    const engine = budgetedEngine(inner, tileBudget());
    const params = { width: 5, min_count: 25, iterations: 25, algorithm: 'standard' as const };
    const alerts = { length: 0, col: new Int32Array(0), row: new Int32Array(0), days: new Uint16Array(0), confidence: new Uint8Array(0) };
    const pass = { loaded: 0b10011, memo: {} };
    engine.clusterAlerts(alerts, params, 64, { col: 7, row: 8 }, pass);
    expect(calls).toEqual([[alerts, params, 64, { col: 7, row: 8 }, pass]]);
    expect(calls[0][4]).toBe(pass);
    expect(engine.initialHaloMargin(params, 41)).toBe(42);
    expect(engine.firstNeighbours?.(alerts, params)).toBe(0b10011);
    expect(engine.MAX_HALO_MARGIN).toBe(99);
  });
});
