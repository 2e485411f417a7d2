import { describe, expect, it } from 'vitest';
import { parseTileRequest, REQUEST_DEFAULTS } from '../core/run/request.ts';
import { validateRunParams } from '../core/run/params.ts';

const base = { z: 12, x: 1355, y: 2045, start_date: '2016-06-01', end_date: '2016-12-01' };

describe('parseTileRequest', () => {
  it('fills defaults in a fixed key order', () => {
    const r = parseTileRequest(base);
    expect(r).toEqual({ ...base, width: 5, min_count: 25, iterations: 25, algorithm: 'standard', dataset: 'glad-l' });
    expect(Object.keys(r)).toEqual(['z', 'x', 'y', 'start_date', 'end_date', 'width', 'min_count', 'iterations', 'algorithm', 'dataset']);
  });

  it('defaults the dates to 2015-01-01 .. 2030-01-01', () => {
    const r = parseTileRequest({ z: 3, x: 1, y: 2 });
    expect(r.start_date).toBe(REQUEST_DEFAULTS.start_date);
    expect(r.end_date).toBe('2030-01-01');
  });

  it('keeps explicit parameters', () => {
    const r = parseTileRequest({ ...base, width: 2.5, min_count: 1, iterations: 3, algorithm: 'blurring' });
    expect([r.width, r.min_count, r.iterations, r.algorithm]).toEqual([2.5, 1, 3, 'blurring']);
  });

  const bad: [string, unknown, string][] = [
    ['missing z', { x: 1, y: 1 }, 'z: required'],
    ['non-integer x', { ...base, x: 1.5 }, 'x: must be an integer'],
    ['string y', { ...base, y: '5' }, 'y: must be an integer'],
    ['x out of range', { ...base, x: 4096 }, 'x=4096 is out of range 0..4095 at z=12'],
    ['negative y', { ...base, y: -1 }, 'y: must be >= 0'],
    ['z too big', { ...base, z: 23 }, 'z: must be in 0..22'],
    ['impossible date', { ...base, start_date: '2016-02-30' }, 'start_date: "2016-02-30" is not a valid YYYY-MM-DD date'],
    ['date as number', { ...base, end_date: 20161201 }, 'end_date: must be a YYYY-MM-DD string'],
    ['end before start', { ...base, end_date: '2016-06-01' }, 'end_date: must be after start_date (2016-06-01)'],
    ['zero width', { ...base, width: 0 }, 'width: must be in 0.5..256'],
    ['min_count 0', { ...base, min_count: 0 }, 'min_count: must be an integer in 1..1000000'],
    ['fractional iterations', { ...base, iterations: 2.5 }, 'iterations: must be an integer in 1..1000'],
    ['unknown algorithm', { ...base, algorithm: 'kmeans' }, 'algorithm: "kmeans" is not one of standard, blurring, flat'],
    ['unknown key', { ...base, widht: 3 }, 'unknown key(s): widht'],
    ['not an object', [1, 2], 'request: must be a JSON object'],
    ['null', null, 'request: must be a JSON object'],
  ];
  for (const [name, input, message] of bad) {
    it(`rejects ${name} with one line`, () => {
      let err: Error | undefined;
      try {
        parseTileRequest(input);
      } catch (e) {
        err = e as Error;
      }
      expect(err?.message).toBe(message);
      expect(err?.message).not.toContain('\n');
    });
  }

  it('shares its field rules with the run parameters (zod there): same problems, same lines', () => {
    const run = { z: 12, region: { kind: 'tile', x: 1355, y: 2045 }, tiles_url: 'https://h/{z}/{x}/{y}.png' };
    const shared = ['impossible date', 'date as number', 'end before start', 'zero width', 'min_count 0', 'fractional iterations', 'unknown algorithm', 'unknown key'];
    const fieldCases = bad.filter(([name]) => shared.includes(name));
    expect(fieldCases).toHaveLength(shared.length);
    for (const [, input, message] of fieldCases) {
      const { z: _z, x: _x, y: _y, ...fields } = input as Record<string, unknown>;
      expect(() => validateRunParams({ ...run, ...fields })).toThrow(message);
    }
    expect(() => validateRunParams({ ...run, confidence: 'medium' })).toThrow('confidence: "medium" is not one of low, high, highest');
    expect(() => parseTileRequest({ ...base, confidence: 'medium' })).toThrow('confidence: "medium" is not one of low, high, highest');
  });

  it('keeps an optional field absent and refuses a confidence the dataset lacks', () => {
    expect('confidence' in parseTileRequest(base)).toBe(false);
    expect(parseTileRequest({ ...base, dataset: 'integrated', confidence: 'highest' }).confidence).toBe('highest');
    expect(() => parseTileRequest({ ...base, confidence: 'highest' })).toThrow(/^confidence: /);
    expect(() => parseTileRequest({ ...base, dataset: 'modis' })).toThrow(/^dataset: unknown dataset "modis" \(known: glad-l, /);
    expect(() => parseTileRequest({ ...base, width: null })).toThrow('width: must be in 0.5..256');
  });
});
