import { describe, expect, it } from 'vitest';
import { daysToIso, isIsoDate, isoToDays } from '../core/tiles/dates.ts';

describe('dates', () => {
  it('day 0 is 2015-01-01 and day 1 is 2015-01-02', () => {
    expect(isoToDays('2015-01-01')).toBe(0);
    expect(isoToDays('2015-01-02')).toBe(1);
    expect(daysToIso(0)).toBe('2015-01-01');
  });

  it('counts the 2016 leap day', () => {
    expect(isoToDays('2016-01-01')).toBe(365);
    expect(isoToDays('2017-01-01')).toBe(365 + 366);
    expect(daysToIso(365 + 31 + 28)).toBe('2016-02-29');
  });

  it('round-trips every day of 2015..2030', () => {
    const last = isoToDays('2030-12-31');
    for (let d = 0; d <= last; d++) expect(isoToDays(daysToIso(d))).toBe(d);
  });

  it('gives the same date on a second call (the memo) as on the first, and still refuses fractions', () => {
    const first = Array.from({ length: 400 }, (_, k) => daysToIso(k * 17 - 300));
    const again = Array.from({ length: 400 }, (_, k) => daysToIso(k * 17 - 300));
    expect(again).toEqual(first);
    expect(first[0]).toBe('2014-03-07');
    expect(() => daysToIso(17.5)).toThrow('days=17.5');
    expect(() => daysToIso(Number.NaN)).toThrow('days=NaN');
  });

  it('handles dates before the epoch', () => {
    expect(isoToDays('2014-12-31')).toBe(-1);
    expect(daysToIso(-1)).toBe('2014-12-31');
  });

  it('rejects impossible and malformed dates, naming them', () => {
    expect(() => isoToDays('2016-02-30')).toThrow('"2016-02-30"');
    expect(() => isoToDays('2015-02-29')).toThrow('2015-02-29');
    expect(() => isoToDays('2016-13-01')).toThrow('2016-13-01');
    expect(() => isoToDays('2016-1-1')).toThrow('2016-1-1');
    expect(() => isoToDays('2016-01-01T00:00:00Z')).toThrow();
    expect(isIsoDate('2016-02-29')).toBe(true);
    expect(isIsoDate(20160229)).toBe(false);
    expect(() => daysToIso(1.5)).toThrow('days=1.5');
  });
});
