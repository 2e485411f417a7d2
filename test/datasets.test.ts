// Dataset decoders against HAND-COMPUTED pixels (not against our own encoder), then round trips.
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import {
  CONFIDENCE,
  DATASETS,
  DATASET_NAMES,
  EVERY_DAY,
  confidenceLevel,
  datasetByName,
  datasetDecoder,
  dateConfConfidence,
  dateConfDays,
  dayOffset,
  encodeDateConf,
  filterConfidence,
  pinTemplate,
} from '../core/tiles/datasets.ts';
import { daysToIso, isoToDays } from '../core/tiles/dates.ts';
import type { Alerts } from '../core/tiles/types.ts';
import { encodeDatasetTile } from '../local/synthetic-encodings.ts';
import { syntheticTile } from '../local/synthetic.ts';

const tile = { z: 12, x: 1355, y: 2045 };

function rawPng(pixels: { col: number; row: number; rgba: number[] }[], colorType: 2 | 6 = 6): Uint8Array {
  const png = new PNG({ width: 256, height: 256 });
  png.data.fill(0);
  for (const p of pixels) png.data.set(p.rgba, 4 * (p.row * 256 + p.col));
  // pngjs blends non-opaque pixels into white when writing RGB: make them opaque first.
  if (colorType === 2) for (let o = 3; o < png.data.length; o += 4) png.data[o] = 255;
  return new Uint8Array(PNG.sync.write(png, { colorType }));
}

/** [row, col, ISO date, confidence] per alert. */
function list(a: Alerts) {
  return Array.from({ length: a.length }, (_, k) => [a.row[k], a.col[k], daysToIso(a.days[k]), a.confidence[k]]);
}

describe('tile-cache decoders (GLAD-L, GLAD-S2, RADD)', () => {
  const decode = (img: Uint8Array, name = 'glad-l') => datasetDecoder(datasetByName(name)).decode(img, EVERY_DAY, tile);

  it('value 1 is 2015-01-01; day = 255·R + G since 2014-12-31; floor(B/100) 1 low, 2 high', () => {
    const img = rawPng([
      { col: 7, row: 0, rgba: [0, 1, 155, 255] }, // value 1 → 2015-01-01, low
      { col: 3, row: 1, rgba: [2, 10, 255, 255] }, // 2·255 + 10 = 520 → 2016-06-03 (2016 is leap), high
      { col: 9, row: 2, rgba: [1, 110, 201, 255] }, // 365 → 2015-12-31, high
    ]);
    for (const name of ['glad-l', 'glad-s2', 'radd']) {
      expect(list(decode(img, name))).toEqual([
        [0, 7, '2015-01-01', 1],
        [1, 3, '2016-06-03', 2],
        [2, 9, '2015-12-31', 2],
      ]);
    }
  });

  it('alpha 0 is no alert even with a date in RGB (the dynamic renderer masks by alpha); RGB-only PNGs keep theirs', () => {
    const pixels = [
      { col: 0, row: 0, rgba: [0, 5, 255, 0] }, // masked
      { col: 1, row: 0, rgba: [0, 0, 100, 255] }, // value 0: no alert (B = 100 is the empty pixel's blue)
      { col: 2, row: 0, rgba: [0, 5, 255, 255] },
    ];
    expect(list(decode(rawPng(pixels)))).toEqual([[0, 2, '2015-01-05', 2]]);
    // Colour type 2 has no alpha: pngjs reports 255, so every dated pixel is an alert.
    expect(list(decode(rawPng(pixels, 2)))).toEqual([
      [0, 0, '2015-01-05', 2],
      [0, 2, '2015-01-05', 2],
    ]);
  });

  it('keeps the day range and the minimum confidence', () => {
    const img = rawPng([
      { col: 0, row: 0, rgba: [0, 1, 155, 255] },
      { col: 1, row: 0, rgba: [0, 10, 255, 255] },
      { col: 2, row: 0, rgba: [0, 20, 155, 255] },
    ]);
    const d = datasetDecoder(DATASETS['glad-l'], 'high');
    expect(list(d.decode(img, EVERY_DAY, tile))).toEqual([[0, 1, '2015-01-10', 2]]);
    const range = { startDays: isoToDays('2015-01-05'), endDays: isoToDays('2015-01-20') };
    // [start, end): 2015-01-01 is before, 2015-01-20 is the (excluded) end.
    expect(list(datasetDecoder(DATASETS['glad-l']).decode(img, range, tile))).toEqual([[0, 1, '2015-01-10', 2]]);
  });
});

describe('integrated decoder', () => {
  const d = datasetDecoder(DATASETS.integrated);
  it('confidence from alpha: 4 low, 8 high, 24 highest; alpha 0 is no alert even with B = 100', () => {
    const img = rawPng([
      { col: 0, row: 0, rgba: [0, 200, 255, 24] }, // 200 → 2015-07-19, highest (B says only "high")
      { col: 1, row: 0, rgba: [0, 5, 155, 4] },
      { col: 2, row: 0, rgba: [0, 5, 255, 8] },
      { col: 3, row: 0, rgba: [0, 1, 100, 0] }, // alpha 0: no alert
      { col: 4, row: 0, rgba: [0, 7, 255, 64] }, // an older per-system packing: falls back to B
    ]);
    expect(list(d.decode(img, EVERY_DAY, tile))).toEqual([
      [0, 0, '2015-07-19', 3],
      [0, 1, '2015-01-05', 1],
      [0, 2, '2015-01-05', 2],
      [0, 4, '2015-01-07', 2],
    ]);
    expect(list(datasetDecoder(DATASETS.integrated, 'highest').decode(img, EVERY_DAY, tile))).toEqual([[0, 0, '2015-07-19', 3]]);
  });
});

describe('DIST decoder', () => {
  it('value 1 is 2021-01-01 (day 0 2020-12-31); GFW\'s own example (3, 26, 255) is 2023-03-02, high', () => {
    const img = rawPng([
      { col: 0, row: 0, rgba: [0, 1, 155, 255] },
      { col: 1, row: 0, rgba: [3, 26, 255, 255] },
    ]);
    expect(list(datasetDecoder(DATASETS.dist).decode(img, EVERY_DAY, tile))).toEqual([
      [0, 0, '2021-01-01', 1],
      [0, 1, '2023-03-02', 2],
    ]);
  });
});

describe('glad-2018', () => {
  it('is the old decoder: value 1 is 2015-01-02, alpha ignored', () => {
    const img = rawPng([{ col: 0, row: 0, rgba: [0, 1, 250, 0] }]);
    expect(list(datasetDecoder(DATASETS['glad-2018']).decode(img, EVERY_DAY, tile))).toEqual([[0, 0, '2015-01-02', 2]]);
  });
});

describe('confidence', () => {
  it('is one scale: 1 low, 2 high, 3 highest', () => {
    expect(CONFIDENCE).toEqual({ low: 1, high: 2, highest: 3 });
    expect(confidenceLevel(DATASETS.integrated, 'highest')).toBe(3);
    expect(confidenceLevel(DATASETS.radd, 'low')).toBe(1);
  });

  it('asking for a level the dataset lacks is a clear error, at once', () => {
    expect(() => datasetDecoder(DATASETS.radd, 'highest')).toThrow('dataset radd has no "highest" confidence (its levels: low, high)');
    expect(() => confidenceLevel(DATASETS.dist, 'medium')).toThrow('confidence "medium" is not one of low, high, highest');
  });

  it('filterConfidence keeps the alerts at or above a level', () => {
    const a: Alerts = { length: 3, col: Int32Array.of(1, 2, 3), row: Int32Array.of(0, 0, 0), days: Uint16Array.of(5, 6, 7), confidence: Uint8Array.of(1, 3, 2) };
    expect(Array.from(filterConfidence(a, 2).col)).toEqual([2, 3]);
    expect(filterConfidence(a, 0)).toBe(a);
  });
});

describe('dataset table', () => {
  it('names every dataset; an unknown one lists them', () => {
    expect(DATASET_NAMES).toEqual(['glad-l', 'glad-s2', 'radd', 'integrated', 'dist', 'glad-2018']);
    expect(() => datasetByName('glad')).toThrow('unknown dataset "glad" (known: glad-l, glad-s2, radd, integrated, dist, glad-2018)');
    expect(() => datasetByName('toString')).toThrow('unknown dataset');
    for (const d of Object.values(DATASETS)) expect(d.resolvesLatest).toBe(d.tilesUrl.includes('/latest/'));
  });
});

describe('date_conf values', () => {
  const lake = dayOffset('2014-12-31');
  const iso = (v: number, offset = lake) => daysToIso(dateConfDays(v, offset));
  it("match gfw-data-api symbology.py's own examples", () => {
    expect([iso(20001), dateConfConfidence(20001)]).toEqual(['2015-01-01', 1]);
    expect([iso(30055), dateConfConfidence(30055)]).toEqual(['2015-02-24', 2]);
    expect([iso(21847), dateConfConfidence(21847)]).toEqual(['2020-01-21', 1]);
    expect([iso(40001), dateConfConfidence(40001)]).toEqual(['2015-01-01', 3]);
    // "18030 and 50389 are bogus values"; 0 is no data; day 0 renders as no alert.
    for (const v of [0, 18030, 50389, 20000]) expect(dateConfDays(v, lake)).toBe(-1);
  });

  it('DIST rasters count from 2020-12-31', () => {
    expect(iso(20001, dayOffset('2020-12-31'))).toBe('2021-01-01');
  });

  it('encodeDateConf is the inverse', () => {
    expect(encodeDateConf(isoToDays('2015-02-24'), 2, lake)).toBe(30055);
    expect(() => encodeDateConf(isoToDays('2014-12-31'), 1, lake)).toThrow('does not fit date_conf');
  });
});

describe('synthetic encodings round trip', () => {
  it('every dataset decodes what encodeDatasetTile wrote', () => {
    const base = syntheticTile({ ...tile, seed: 3, density: 2000 });
    for (const name of DATASET_NAMES) {
      const dataset = DATASETS[name];
      // Shift into the dataset's dates, and give integrated a few "highest".
      const a: Alerts = { ...base, days: base.days.map((d) => d + (name === 'dist' ? 2191 : 0)), confidence: base.confidence.slice() };
      if (name === 'integrated') for (let k = 0; k < a.length; k += 7) a.confidence[k] = 3;
      const back = datasetDecoder(dataset).decode(encodeDatasetTile(a, dataset), EVERY_DAY, tile);
      expect(back.length).toBe(a.length);
      expect(Array.from(back.days)).toEqual(Array.from(a.days));
      expect(Array.from(back.confidence)).toEqual(Array.from(a.confidence));
      expect(Array.from(back.col)).toEqual(Array.from(a.col));
    }
    expect(() => encodeDatasetTile({ ...base, confidence: base.confidence.map(() => 3) }, DATASETS.radd)).toThrow('not a level of radd');
  });
});

describe('pinTemplate', () => {
  const t = 'https://tiles.globalforestwatch.org/umd_glad_landsat_alerts/latest/default/{z}/{x}/{y}.png';
  it('puts the version of the redirect in place of latest (relative or absolute Location)', () => {
    expect(pinTemplate(t, '/umd_glad_landsat_alerts/v20240115/default/0/0/0.png')).toEqual({
      template: 'https://tiles.globalforestwatch.org/umd_glad_landsat_alerts/v20240115/default/{z}/{x}/{y}.png',
      version: 'v20240115',
    });
    const dist = `${DATASETS.dist.tilesUrl}`;
    expect(pinTemplate(dist, 'https://tiles.globalforestwatch.org/umd_glad_dist_alerts/v20250510/dynamic/0/0/0.png?start_date=2020-12-31').template).toBe(
      'https://tiles.globalforestwatch.org/umd_glad_dist_alerts/v20250510/dynamic/{z}/{x}/{y}.png?start_date=2020-12-31',
    );
  });
  it('refuses a redirect without a version in its place', () => {
    expect(() => pinTemplate(t, '/login')).toThrow('names no version in its place');
    expect(() => pinTemplate(t, '/umd_glad_landsat_alerts/latest/default/0/0/0.png')).toThrow('names no version');
    expect(() => pinTemplate('https://h/{z}/{x}/{y}.png', '/x')).toThrow('has no /latest/');
  });
});
