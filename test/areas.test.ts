// Areas of interest (core/tiles/areas.ts and the AOI region of core/run/params.ts): validation with
// one-line errors, the documented repairs, holes, several features and their names, the antimeridian,
// the tiles a run covers (those the areas touch, not their box), the alert filter, and the corridor figure.
import { describe, expect, it } from 'vitest';
import { aoiTiles, areasAtPixels, areaNames, parseAreas } from '../core/tiles/areas.ts';
import { parseRunSpec, regionNotes, runId, runTileCount, runTiles, tileIndex, tileInRun, validateRunParams } from '../core/run/params.ts';
import { tileCount, tileBounds } from '../core/tiles/grid.ts';
import { parseTileMessage, tileMessageBody } from '../core/run/messages.ts';

const sq = (w: number, s: number, e: number, n: number) => [[w, s], [e, s], [e, n], [w, n], [w, s]];
const poly = (...rings: number[][][]) => ({ type: 'Polygon', coordinates: rings });
const URL = 'file:///t/{z}/{x}/{y}.png';
const spec = (geojson: unknown, z = 12) => validateRunParams({ z, region: { kind: 'aoi', geojson }, tiles_url: URL });

/** A sinuous river corridor polygon: centre line lon0 → lon0 + length, `width` degrees wide. */
function corridor(lon0: number, lat0: number, length: number, amp: number, width: number, n = 400) {
  const centre: number[][] = [];
  for (let k = 0; k <= n; k++) {
    const t = k / n;
    centre.push([lon0 + length * t, lat0 + amp * Math.sin(t * 6 * Math.PI) + 0.3 * amp * Math.sin(t * 17 * Math.PI)]);
  }
  const left: number[][] = [];
  const right: number[][] = [];
  for (let k = 0; k <= n; k++) {
    const a = centre[Math.max(0, k - 1)];
    const b = centre[Math.min(n, k + 1)];
    const [dx, dy] = [b[0] - a[0], b[1] - a[1]];
    const l = Math.hypot(dx, dy);
    const [nx, ny] = [(-dy / l) * (width / 2), (dx / l) * (width / 2)];
    left.push([centre[k][0] + nx, centre[k][1] + ny]);
    right.push([centre[k][0] - nx, centre[k][1] - ny]);
  }
  return poly([...left, ...right.reverse(), left[0]]);
}

describe('bad AOI files: one line each', () => {
  const cases: [string, unknown, RegExp][] = [
    ['not GeoJSON', [1, 2], /^aoi: not a GeoJSON object$/],
    ['a Point', { type: 'Point', coordinates: [0, 0] }, /^aoi: GeoJSON type "Point" is not an area/],
    ['a LineString feature', { type: 'FeatureCollection', features: [{ type: 'Feature', properties: {}, geometry: { type: 'LineString', coordinates: [[0, 0], [1, 1]] } }] }, /^aoi: feature 0 is a LineString; only Polygon and MultiPolygon/],
    ['empty collection', { type: 'FeatureCollection', features: [] }, /^aoi: the FeatureCollection has no features$/],
    ['unclosed ring', poly([[0, 0], [1, 0], [1, 1], [0, 1]]), /^aoi: area "0" exterior ring is not closed/],
    ['self-intersecting (bow tie)', poly([[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]), /^aoi: area "0" intersects itself near \[0\.5, 0\.5\] \(1 crossing\)/],
    ['too few positions', poly([[0, 0], [1, 0], [0, 0]]), /^aoi: area "0" exterior ring has fewer than 4 positions$/],
    ['projected coordinates', poly(sq(500000, 9000000, 510000, 9010000)), /^aoi: area "0" exterior ring position 0 \[500000, 9000000\] is not a lon\/lat in degrees/],
    ['a ring across the antimeridian', poly([[179, 0], [-179, 0], [-179, 1], [179, 1], [179, 0]]), /^aoi: area "0" exterior ring has an edge spanning more than 180° of longitude: cut the area at the antimeridian into a MultiPolygon/],
    ['beyond web-mercator', poly(sq(0, 86, 1, 88)), /^aoi: area "0" lies beyond latitude ±85\.0511/],
    ['duplicate names', { type: 'FeatureCollection', features: [1, 2].map(() => ({ type: 'Feature', properties: { name: 'x' }, geometry: poly(sq(0, 0, 1, 1)) })) }, /^aoi: two areas are named "x"/],
    ['too large', poly([...Array.from({ length: 6000 }, (_, k) => [Math.cos((k / 6000) * 2 * Math.PI) + 0.1234567, Math.sin((k / 6000) * 2 * Math.PI) + 0.1234567]), [1.1234567, 0.1234567]]), /^aoi: [\d,]+ characters of coordinates, over 100,000 .*simplify/],
  ];
  for (const [what, input, message] of cases) {
    it(what, () => {
      let error: Error | undefined;
      try {
        spec(input);
      } catch (e) {
        error = e as Error;
      }
      expect(error?.message).toMatch(message);
      expect(error?.message).not.toContain('\n');
    });
  }
});

describe('normalisation and names', () => {
  it('documented repairs: rounded to 6 decimals, repeated positions and altitude dropped, rings rewound; same area → same run id', () => {
    const a = parseAreas(poly([[0, 0, 5], [0, 1, 5], [0, 1, 5], [1, 1, 5], [1, 0, 5], [0, 0, 5]])); // clockwise, with a repeat
    expect(a.areas[0].polygons[0][0]).toEqual([[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]);
    const b = parseAreas(poly([[0.0000001, 0], [1, 0], [1, 1], [0, 1], [0.0000001, 0]]));
    expect(runId(spec(a.areas[0] && poly(a.areas[0].polygons[0][0])))).toBe(runId(spec(poly(b.areas[0].polygons[0][0]))));
    expect(runId(spec(poly(sq(0, 0, 1, 1))))).not.toBe(runId(spec(poly(sq(0, 0, 1, 1.5)))));
  });
  it('names: feature id, else its "name" property, else its index', () => {
    const fc = { type: 'FeatureCollection', features: [
      { type: 'Feature', id: 'park-7', properties: { name: 'ignored' }, geometry: poly(sq(0, 0, 1, 1)) },
      { type: 'Feature', properties: { name: 'Concession' }, geometry: poly(sq(2, 0, 3, 1)) },
      { type: 'Feature', properties: {}, geometry: poly(sq(4, 0, 5, 1)) },
    ] };
    expect(parseAreas(fc).areas.map((a) => a.name)).toEqual(['park-7', 'Concession', '2']);
  });
});

describe('an AOI run keeps its sources', () => {
  it('dataset, confidence, release and rasters are in the spec as for a box (they decide the decoding and the run id)', () => {
    const geojson = poly(sq(-63, -10, -62.9, -9.9));
    const aoi = validateRunParams({ z: 12, region: { kind: 'aoi', geojson }, tiles_url: URL, dataset: 'integrated', confidence: 'high', version: 'v20250101' });
    expect(aoi).toMatchObject({ dataset: 'integrated', confidence: 'high', version: 'v20250101', tiles_url: URL });
    const box = validateRunParams({ z: 12, region: { kind: 'bbox', west: -63, south: -10, east: -62.9, north: -9.9 }, tiles_url: URL, dataset: 'integrated', confidence: 'high', version: 'v20250101' });
    const { region: _a, aoi: _areas, ...aoiSources } = aoi;
    const { region: _b, ...boxSources } = box;
    expect(aoiSources).toEqual(boxSources);
    expect(runId(aoi)).not.toBe(runId({ ...aoi, dataset: 'glad-l' }));
  });
});

describe('the tiles of an AOI run', () => {
  it('holes are respected: tiles wholly inside a hole are not in the run, nor are its alerts', () => {
    const outer = sq(-60, -10, -59, -9);
    const hole = sq(-59.8, -9.8, -59.2, -9.2);
    const withHole = spec(poly(outer, hole));
    const without = spec(poly(outer));
    expect(runTileCount(without)).toBe(156); // touching counts: the 1° box lies on tile edges
    expect(runTileCount(withHole)).toBe(120);
    const inHole = runTiles(without).find((t) => { const b = tileBounds(t); return b.west > -59.7 && b.east < -59.3 && b.south > -9.7 && b.north < -9.3; })!;
    expect(tileInRun(withHole, inHole)).toBe(false);
    const aoi = withHole.aoi!;
    const edge = runTiles(withHole).find((t) => { const b = tileBounds(t); return b.west < -59.8 && b.east > -59.8 && b.south > -9.7 && b.north < -9.3; })!;
    const test = areasAtPixels(aoi, edge, 0);
    const inside = [0, 255].map((col) => test(col, 128).length);
    expect(inside).toEqual([1, 0]); // the west edge of the tile is in the area, the east edge in the hole
  });
  it('several features: the union of their tiles, each tile once, indexes 0..n-1 in row order', () => {
    const s = spec({ type: 'FeatureCollection', features: [
      { type: 'Feature', id: 'a', properties: {}, geometry: poly(sq(-60, -10, -59.95, -9.95)) },
      { type: 'Feature', id: 'b', properties: {}, geometry: poly(sq(-59.96, -10, -59.9, -9.95)) }, // overlaps a
    ] });
    const tiles = runTiles(s);
    expect(new Set(tiles.map((t) => `${t.x}/${t.y}`)).size).toBe(tiles.length);
    tiles.forEach((t, i) => expect(tileIndex(s, t)).toBe(i));
    expect(() => tileIndex(s, { z: 12, x: 0, y: 0 })).toThrow(/outside the run's region/);
    expect(areaNames(s.aoi!, [1, 0, 1])).toBe('["a","b"]');
  });
  it('a MultiPolygon split at the antimeridian: the tiles on both sides, the range wraps', () => {
    const s = spec({ type: 'MultiPolygon', coordinates: [[sq(179.9, 0, 180, 0.1)], [sq(-180, 0, -179.9, 0.1)]] });
    const xs = [...new Set(runTiles(s).map((t) => t.x))].sort((a, b) => a - b);
    expect(xs).toEqual([0, 1, 4094, 4095]);
    expect(s.region.x0).toBe(4094);
    expect(s.region.x1).toBe(1);
    expect(regionNotes({ kind: 'aoi', geojson: null }, s).join(' ')).toMatch(/aoi: 1 area \(0\) touch \d+ tiles .*crosses the antimeridian/);
  });
  it('the spec travels in tile messages and parses back (message size well under the SQS limit)', () => {
    const s = spec(corridor(-65, -5, 3, 0.2, 0.05));
    const body = tileMessageBody(s, runTiles(s)[0]);
    const parsed = parseTileMessage(body);
    expect(parsed.kind).toBe('ok');
    expect(parseRunSpec(JSON.parse(body).params)).toEqual(s);
  });
  it('figure: a 2,000-tile river corridor costs the tiles it touches, not its box', () => {
    const started = performance.now();
    const s = spec(corridor(-65, -5, 24, 3, 0.18));
    const ms = performance.now() - started;
    const tiles = runTileCount(s);
    const box = tileCount(s.region);
    console.log(`corridor: ${tiles} tiles touched, ${box} in its box (${(box / tiles).toFixed(1)}×), tile set in ${Math.round(ms)} ms`);
    expect(tiles).toBe(1988);
    expect(box).toBe(25025);
    expect(aoiTiles(s.aoi!, 12)).toBe(aoiTiles(s.aoi!, 12)); // cached: the consumer pays once per process
  }, 30_000);
});
