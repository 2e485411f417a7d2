// Item 7 of issue 12: every clustering parameter has a documented range (docs/clustering.md,
// "Parameter ranges"); anything outside is refused with one line, by the tile request and by the
// run parameters alike, so no input can ask for unbounded memory or time.
import { describe, expect, it } from 'vitest';
import { PARAM_BOUNDS, parseTileRequest } from '../core/run/request.ts';
import { validateRunParams } from '../core/run/params.ts';
import { tileBudget } from '../core/clusters/budget.ts';

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
});
