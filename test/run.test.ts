import { describe, expect, it } from 'vitest';
import { canonicalJson, parseRunSpec, runId, runTiles, tileIndex, validateRunParams, isRunId } from '../core/run/params.ts';
import { lonLatBoxToTileBounds, tileBounds } from '../core/tiles/grid.ts';

const URL = 'https://tiles.example/{z}/{x}/{y}.png';
const base = { z: 10, region: { kind: 'tiles', x0: 341, y0: 539, x1: 343, y1: 540 }, tiles_url: URL };

describe('validateRunParams', () => {
  it('fills the clustering defaults of a tile request', () => {
    const p = validateRunParams(base);
    expect(p).toMatchObject({ width: 5, min_count: 25, iterations: 25, algorithm: 'standard', start_date: '2015-01-01' });
  });

  it.each([
    [{ ...base, z: 23 }, /^z: /],
    [{ ...base, width: 0 }, /^width: must be in 0.5..256/],
    [{ ...base, algorithm: 'kmeans' }, /algorithm/],
    [{ ...base, start_date: '2020-01-01', end_date: '2019-01-01' }, /end_date: must be after start_date/],
    [{ ...base, start_date: '2020-02-30' }, /not a valid YYYY-MM-DD/],
    [{ ...base, tiles_url: 'https://x/{z}/{x}.png' }, /lacks \{y\}/],
    [{ ...base, region: { kind: 'circle' } }, /^region.kind: must be one of/],
    [{ ...base, region: { kind: 'tiles', x0: 5, y0: 0, x1: 4, y1: 0 } }, /x0=5 is greater than x1=4/],
    [{ ...base, region: { kind: 'tile', x: 1024, y: 0 } }, /x=1024 is out of range 0..1023/],
    [{ ...base, extra: 1 }, /unknown key\(s\): extra/],
  ])('rejects bad input with one line: %j', (input, message) => {
    expect(() => validateRunParams(input)).toThrow(message);
  });
});

describe('validateRunParams resolves the region', () => {
  it('resolves every region form to tile bounds at z', () => {
    const p = validateRunParams(base);
    expect(p.region).toEqual({ z: 10, x0: 341, y0: 539, x1: 343, y1: 540 });
    const tile = tileBounds({ z: 10, x: 342, y: 540 });
    const centre = { lon: (tile.west + tile.east) / 2, lat: (tile.north + tile.south) / 2 };
    const point = validateRunParams({ ...base, region: { kind: 'point', ...centre } });
    expect(point.region).toEqual({ z: 10, x0: 342, y0: 540, x1: 342, y1: 540 });
    const one = validateRunParams({ ...base, region: { kind: 'tile', x: 342, y: 540 } });
    expect(one.region).toEqual({ z: 10, x0: 342, y0: 540, x1: 342, y1: 540 });
    const box = { west: -60, south: -10, east: -59.5, north: -9.5 };
    const bbox = validateRunParams({ ...base, region: { kind: 'bbox', ...box } });
    expect(bbox.region).toEqual(lonLatBoxToTileBounds(box, 10));
  });
});

describe('runId', () => {
  it('is r- and 16 hex digits, safe in keys', () => {
    const id = runId(validateRunParams(base));
    expect(id).toMatch(/^r-[0-9a-f]{16}$/);
    expect(isRunId(id)).toBe(true);
    expect(isRunId('r-../../etc')).toBe(false);
  });

  it('is the same for the same run however its region and keys are written', () => {
    const a = validateRunParams(base);
    const b = validateRunParams({ tiles_url: URL, region: { y1: 540, x1: 343, y0: 539, x0: 341, kind: 'tiles' }, z: 10, width: 5 });
    expect(runId(a)).toBe(runId(b));
    const point = validateRunParams({ ...base, region: { kind: 'tile', x: 342, y: 540 } });
    const tile = tileBounds({ z: 10, x: 342, y: 540 });
    const samePoint = validateRunParams({ ...base, region: { kind: 'point', lon: tile.west + 0.001, lat: tile.south + 0.001 } });
    expect(runId(point)).toBe(runId(samePoint));
    // The spec hashes to the same id after a trip through a message.
    expect(runId(parseRunSpec(JSON.parse(JSON.stringify(a))))).toBe(runId(a));
  });

  it('changes when any parameter changes', () => {
    const id = runId(validateRunParams(base));
    const variants = [
      { ...base, z: 11, region: { kind: 'tiles', x0: 341, y0: 539, x1: 343, y1: 540 } },
      { ...base, region: { kind: 'tiles', x0: 341, y0: 539, x1: 343, y1: 541 } },
      { ...base, start_date: '2016-01-01' },
      { ...base, end_date: '2029-01-01' },
      { ...base, width: 6 },
      { ...base, min_count: 3 },
      { ...base, iterations: 3 },
      { ...base, algorithm: 'flat' },
      { ...base, tiles_url: 'https://other/{z}/{x}/{y}.png' },
    ];
    const ids = variants.map((v) => runId(validateRunParams(v)));
    expect(new Set([id, ...ids]).size).toBe(variants.length + 1);
  });
});

describe('runTiles, tileIndex', () => {
  it('lists every tile of the region once, row by row, and numbers them 0..n-1', () => {
    const spec = validateRunParams(base);
    const tiles = runTiles(spec);
    expect(tiles).toHaveLength(6);
    expect(tiles[0]).toEqual({ z: 10, x: 341, y: 539 });
    expect(tiles[3]).toEqual({ z: 10, x: 341, y: 540 });
    expect(tiles.map((t) => tileIndex(spec, t))).toEqual([0, 1, 2, 3, 4, 5]);
    expect(() => tileIndex(spec, { z: 10, x: 344, y: 539 })).toThrow(/outside the run's region/);
  });
});

describe('parseRunSpec and canonicalJson', () => {
  it('round-trips a spec and rejects a broken one', () => {
    const spec = validateRunParams(base);
    expect(parseRunSpec(JSON.parse(JSON.stringify(spec)))).toEqual(spec);
    expect(() => parseRunSpec({ ...spec, region: { ...spec.region, x1: 5000 } })).toThrow(/^params\.region/);
    expect(() => parseRunSpec({ ...spec, width: -1 })).toThrow(/^params\.width/);
  });

  it('sorts keys at every level', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { f: 1, e: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[1,{"e":2,"f":1}]},"b":1}');
  });
});
