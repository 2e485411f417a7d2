import { describe, expect, it } from 'vitest';
import {
  lonLatBoxToTileBounds,
  lonLatToTile,
  MAX_LATITUDE,
  pixelAreaHa,
  pixelSizeMeters,
  pixelToLonLat,
  tileBounds,
  tileCount,
  tilesInBounds,
  indexInBounds,
  validateTile,
  validateTileBounds,
} from '../core/tiles/grid.ts';
import { parseRunSpec, runTileCount, runTiles, validateRunParams } from '../core/run/params.ts';

describe('tileBounds', () => {
  it('z=0 covers the whole web-mercator world', () => {
    const b = tileBounds({ z: 0, x: 0, y: 0 });
    expect(b.west).toBeCloseTo(-180, 12);
    expect(b.east).toBeCloseTo(180, 12);
    expect(b.north).toBeCloseTo(MAX_LATITUDE, 9);
    expect(b.south).toBeCloseTo(-MAX_LATITUDE, 9);
  });

  it('z=1 tile 1/1 starts at the equator and the prime meridian', () => {
    const b = tileBounds({ z: 1, x: 1, y: 1 });
    expect(b.west).toBeCloseTo(0, 12);
    expect(b.north).toBeCloseTo(0, 12);
    expect(b.east).toBeCloseTo(180, 12);
  });

  it('neighbouring tiles share edges', () => {
    const a = tileBounds({ z: 12, x: 1355, y: 2045 });
    const right = tileBounds({ z: 12, x: 1356, y: 2045 });
    const below = tileBounds({ z: 12, x: 1355, y: 2046 });
    expect(right.west).toBe(a.east);
    expect(below.north).toBe(a.south);
    expect(a.north).toBeGreaterThan(a.south);
  });
});

describe('validation', () => {
  it('names the wrong value', () => {
    expect(() => validateTile({ z: 12, x: 4096, y: 0 })).toThrow('x=4096 is out of range 0..4095 at z=12');
    expect(() => validateTile({ z: 12, x: 0, y: -1 })).toThrow('y=-1 is out of range 0..4095 at z=12');
    expect(() => validateTile({ z: 23, x: 0, y: 0 })).toThrow('z=23');
    expect(() => validateTile({ z: 1.5, x: 0, y: 0 })).toThrow('z=1.5');
    expect(() => validateTile({ z: 3, x: 1.5, y: 0 })).toThrow('x=1.5');
    expect(() => validateTile({ z: 22, x: 2 ** 22 - 1, y: 0 })).not.toThrow();
  });
});

describe('pixelToLonLat', () => {
  it('pixel centres sit half a pixel inside the tile corners', () => {
    const t = { z: 12, x: 1355, y: 2045 };
    const b = tileBounds(t);
    const nw = pixelToLonLat(t, -0.5, -0.5);
    expect(nw.lon).toBeCloseTo(b.west, 12);
    expect(nw.lat).toBeCloseTo(b.north, 12);
    const se = pixelToLonLat(t, 255.5, 255.5);
    expect(se.lon).toBeCloseTo(b.east, 12);
    expect(se.lat).toBeCloseTo(b.south, 12);
    const first = pixelToLonLat(t, 0, 0);
    expect(first.lon).toBeCloseTo(b.west + (b.east - b.west) / 512, 12);
  });

  it('halo pixels equal the neighbour tile pixels', () => {
    const t = { z: 12, x: 1355, y: 2045 };
    const viaHalo = pixelToLonLat(t, 256 + 10, -256 + 20);
    const direct = pixelToLonLat({ z: 12, x: 1356, y: 2044 }, 10, 20);
    expect(viaHalo.lon).toBeCloseTo(direct.lon, 12);
    expect(viaHalo.lat).toBeCloseTo(direct.lat, 12);
  });
});

describe('lonLatToTile and boxes', () => {
  it('finds the tile containing a point and round-trips pixel centres', () => {
    expect(lonLatToTile(2.3522, 48.8566, 12)).toEqual({ z: 12, x: 2074, y: 1409 }); // Paris
    const t = { z: 10, x: 300, y: 517 };
    const c = pixelToLonLat(t, 127.5, 127.5);
    expect(lonLatToTile(c.lon, c.lat, 10)).toEqual(t);
  });

  it('clamps latitude and longitude into the grid', () => {
    expect(lonLatToTile(180, 90, 3)).toEqual({ z: 3, x: 7, y: 0 });
    expect(lonLatToTile(-180, -90, 3)).toEqual({ z: 3, x: 0, y: 7 });
  });

  it('box edges on tile boundaries do not pull in the next tile', () => {
    const a = tileBounds({ z: 12, x: 1355, y: 2045 });
    const b = tileBounds({ z: 12, x: 1357, y: 2046 });
    const r = lonLatBoxToTileBounds({ west: a.west, north: a.north, east: b.east, south: b.south }, 12);
    expect(r).toEqual({ z: 12, x0: 1355, y0: 2045, x1: 1357, y1: 2046 });
    expect(tileCount(r)).toBe(6);
  });

  it('a whole-world box at z=2 is 16 tiles even with |lat| = 90', () => {
    const r = lonLatBoxToTileBounds({ west: -180, south: -90, east: 180, north: 90 }, 2);
    expect(r).toEqual({ z: 2, x0: 0, y0: 0, x1: 3, y1: 3 });
  });

  it('rejects inverted boxes', () => {
    expect(() => lonLatBoxToTileBounds({ west: 10, south: 0, east: 5, north: 1 }, 5)).toThrow('west=10');
  });
});

describe('tile lists', () => {
  it('lists tiles row by row and matches the count', () => {
    const b = { z: 5, x0: 3, y0: 7, x1: 5, y1: 8 };
    const list = tilesInBounds(b);
    expect(list).toHaveLength(tileCount(b));
    expect(list[0]).toEqual({ z: 5, x: 3, y: 7 });
    expect(list[1]).toEqual({ z: 5, x: 4, y: 7 });
    expect(list[5]).toEqual({ z: 5, x: 5, y: 8 });
    expect(new Set(list.map((t) => `${t.x},${t.y}`)).size).toBe(6);
  });

  it('rejects rows out of order and out-of-range bounds', () => {
    expect(() => tileCount({ z: 5, x0: 3, y0: 1, x1: 4, y1: 0 })).toThrow('y0=1 is greater than y1=0');
    expect(() => tilesInBounds({ z: 2, x0: 0, y0: 0, x1: 4, y1: 0 })).toThrow('x=4 is out of range 0..3 at z=2');
  });

  it('x0 > x1 wraps round the antimeridian, the same rule for grid bounds and run specs', () => {
    const b = { z: 5, x0: 30, y0: 2, x1: 1, y1: 3 };
    expect(() => validateTileBounds(b)).not.toThrow();
    expect(tileCount(b)).toBe(8);
    const list = tilesInBounds(b);
    expect(list.map((t) => `${t.x},${t.y}`)).toEqual(['30,2', '31,2', '0,2', '1,2', '30,3', '31,3', '0,3', '1,3']);
    expect(list.map((t) => indexInBounds(b, t))).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(indexInBounds(b, { z: 5, x: 29, y: 2 })).toBe(-1);
    expect(indexInBounds(b, { z: 5, x: 2, y: 2 })).toBe(-1);
    // A run's spec follows the same rule: it parses, and its tiles are the grid's.
    const spec = parseRunSpec({ ...validateRunParams({ z: 5, region: { kind: 'tile', x: 0, y: 0 }, tiles_url: 'https://t/{z}/{x}/{y}.png' }), region: b });
    expect(runTiles(spec)).toEqual(list);
    expect(runTileCount(spec)).toBe(8);
    expect(() => parseRunSpec({ ...spec, region: { ...b, y0: 4 } })).toThrow('y0=4 is greater than y1=3');
  });
});

describe('ground sizes', () => {
  it('z=0 pixel at the equator is 156543.03 m', () => {
    expect(pixelSizeMeters(0, 0)).toBeCloseTo(156543.03392, 4);
  });

  it('z=12 pixel at the equator is ~38.2 m, ~0.146 ha; shrinks with cos(lat)', () => {
    expect(pixelSizeMeters(0, 12)).toBeCloseTo(38.2185, 3);
    expect(pixelAreaHa(0, 12)).toBeCloseTo(0.14606, 4);
    expect(pixelSizeMeters(60, 12)).toBeCloseTo(38.2185 / 2, 3);
    expect(pixelAreaHa(60, 12)).toBeCloseTo(0.14606 / 4, 4);
  });
});
