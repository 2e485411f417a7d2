import { crc32, deflateSync } from 'node:zlib';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { ALL_DAYS, allocAlerts, encodeGladTile, gladDecoder, MAX_GLAD_DAYS } from '../core/tiles/decode.ts';
import type { Alerts } from '../core/tiles/types.ts';
import { DATASETS, datasetDecoder, EVERY_DAY } from '../core/tiles/datasets.ts';

/** Every day of every encoding. */
const ALL_DAYS_WIDE = { startDays: EVERY_DAY.startDays, endDays: Math.max(EVERY_DAY.endDays, ALL_DAYS.endDays) };

const tile = { z: 12, x: 1355, y: 2045 };

/** A raw RGBA tile built by hand, so decoding is checked against the bytes, not against our encoder. */
function rawPng(pixels: { col: number; row: number; rgba: [number, number, number, number] }[], size = 256): Uint8Array {
  const png = new PNG({ width: size, height: size });
  png.data.fill(0);
  for (const p of pixels) png.data.set(p.rgba, 4 * (p.row * size + p.col));
  return new Uint8Array(PNG.sync.write(png));
}

function toList(a: Alerts) {
  return Array.from({ length: a.length }, (_, k) => [a.row[k], a.col[k], a.days[k], a.confidence[k]]);
}

describe('gladDecoder', () => {
  it('decodes days = 255*R + G and confidence = floor(B/100), row-major', () => {
    const img = rawPng([
      { col: 200, row: 3, rgba: [2, 10, 250, 255] }, // 520 days, conf 2
      { col: 5, row: 3, rgba: [0, 1, 99, 255] }, // 1 day, conf 0
      { col: 0, row: 255, rgba: [7, 254, 150, 0] }, // 2039 days, conf 1, alpha ignored
      { col: 9, row: 9, rgba: [0, 0, 255, 255] }, // days 0: not an alert
    ]);
    const a = gladDecoder.decode(img, ALL_DAYS, tile);
    expect(toList(a)).toEqual([
      [3, 5, 1, 0],
      [3, 200, 520, 2],
      [255, 0, 2039, 1],
    ]);
    expect(a.col).toBeInstanceOf(Int32Array);
    expect(a.days).toBeInstanceOf(Uint16Array);
  });

  it('keeps startDays <= days < endDays', () => {
    const img = rawPng([
      { col: 1, row: 0, rgba: [0, 99, 200, 255] },
      { col: 2, row: 0, rgba: [0, 100, 200, 255] },
      { col: 3, row: 0, rgba: [0, 199, 200, 255] },
      { col: 4, row: 0, rgba: [0, 200, 200, 255] },
    ]);
    const a = gladDecoder.decode(img, { startDays: 100, endDays: 200 }, tile);
    expect(Array.from(a.days)).toEqual([100, 199]);
  });

  it('decodes RGB PNGs without alpha', () => {
    const png = new PNG({ width: 256, height: 256 });
    png.data.fill(0);
    png.data.set([1, 3, 200, 255], 4 * (10 * 256 + 20));
    const rgb = new Uint8Array(PNG.sync.write(png, { colorType: 2 }));
    const a = gladDecoder.decode(rgb, ALL_DAYS, tile);
    expect(toList(a)).toEqual([[10, 20, 258, 2]]);
  });

  it('decodes palette PNGs through their palette', () => {
    // pngjs cannot write palette images: assemble one by hand (IHDR colour type 3, PLTE, IDAT, IEND).
    const chunk = (type: string, data: Buffer) => {
      const len = Buffer.alloc(4);
      len.writeUInt32BE(data.length);
      const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
      const crc = Buffer.alloc(4);
      crc.writeUInt32BE(crc32(td));
      return Buffer.concat([len, td, crc]);
    };
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(256, 0);
    ihdr.writeUInt32BE(256, 4);
    ihdr.set([8, 3, 0, 0, 0], 8);
    const plte = Buffer.from([0, 0, 0, 4, 2, 120]); // index 0 = no alert, index 1 = 4*255+2 days, conf 1
    const raw = Buffer.alloc(256 * 257); // each row: filter byte 0 + 256 indices
    raw[7 * 257 + 1 + 30] = 1;
    raw[200 * 257 + 1 + 0] = 1;
    const img = Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      chunk('IHDR', ihdr),
      chunk('PLTE', plte),
      chunk('IDAT', deflateSync(raw)),
      chunk('IEND', Buffer.alloc(0)),
    ]);
    const a = gladDecoder.decode(new Uint8Array(img), ALL_DAYS, tile);
    expect(toList(a)).toEqual([
      [7, 30, 1022, 1],
      [200, 0, 1022, 1],
    ]);
  });

  it('names the tile on garbage, truncation, wrong size and 16-bit', () => {
    const good = rawPng([{ col: 1, row: 1, rgba: [0, 5, 200, 255] }]);
    expect(() => gladDecoder.decode(new TextEncoder().encode('<html>nope</html>'), ALL_DAYS, tile)).toThrow(
      /^tile 12\/1355\/2045: not a PNG/,
    );
    expect(() => gladDecoder.decode(good.subarray(0, good.length - 40), ALL_DAYS, tile)).toThrow(
      /^tile 12\/1355\/2045: not a PNG or corrupt\/truncated/,
    );
    const small = rawPng([], 64);
    expect(() => gladDecoder.decode(small, ALL_DAYS, tile)).toThrow('tile 12/1355/2045: image is 64x64, expected 256x256');
    const png16 = new PNG({ width: 256, height: 256, bitDepth: 16 });
    png16.data.fill(0);
    const sixteen = new Uint8Array(PNG.sync.write(png16, { bitDepth: 16, colorType: 6 }));
    expect(() => gladDecoder.decode(sixteen, ALL_DAYS, tile)).toThrow('tile 12/1355/2045: 16-bit PNG is not supported');
  });
});

describe('decoding a window of a tile (what a halo takes of a neighbour)', () => {
  it('is the whole tile\'s alerts in the window, for every decoder, at any column alignment', () => {
    // Alerts everywhere, in every dataset's encoding (random R, G; B; alpha from 1).
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const pixels: { col: number; row: number; rgba: [number, number, number, number] }[] = [];
    for (let k = 0; k < 6000; k++) pixels.push({ col: Math.floor(rnd() * 256), row: Math.floor(rnd() * 256), rgba: [Math.floor(rnd() * 8), 1 + Math.floor(rnd() * 254), Math.floor(rnd() * 3) * 100, [4, 8, 24, 255][Math.floor(rnd() * 4)]] });
    const png = rawPng(pixels);
    const windows = [
      { col0: 0, col1: 255, row0: 0, row1: 63 },
      { col0: 192, col1: 255, row0: 0, row1: 255 },
      { col0: 3, col1: 9, row0: 100, row1: 101 },
      { col0: 250, col1: 255, row0: 250, row1: 255 },
      { col0: 0, col1: 0, row0: 0, row1: 0 },
      { col0: 17, col1: 130, row0: 5, row1: 200 },
    ];
    const decoders = [gladDecoder, ...(['glad-l', 'integrated', 'dist'] as const).map((d) => datasetDecoder(DATASETS[d]))];
    for (const decoder of decoders) {
      const whole = toList(decoder.decode(png, ALL_DAYS_WIDE, tile));
      expect(whole.length).toBeGreaterThan(1000);
      for (const w of windows) {
        const expected = whole.filter(([row, col]) => col >= w.col0 && col <= w.col1 && row >= w.row0 && row <= w.row1);
        expect(toList(decoder.decode(png, ALL_DAYS_WIDE, tile, w))).toEqual(expected);
      }
    }
  });
});

describe('encodeGladTile', () => {
  it('is the inverse of the decoder', () => {
    const a = allocAlerts(4);
    const rows = [0, 0, 128, 255];
    const cols = [0, 255, 64, 17];
    const days = [1, 254, 255, MAX_GLAD_DAYS];
    const conf = [0, 1, 2, 2];
    rows.forEach((r, k) => {
      a.row[k] = r;
      a.col[k] = cols[k];
      a.days[k] = days[k];
      a.confidence[k] = conf[k];
    });
    a.length = 4;
    const back = gladDecoder.decode(encodeGladTile(a), ALL_DAYS, tile);
    expect(toList(back)).toEqual(rows.map((r, k) => [r, cols[k], days[k], conf[k]]));
  });

  it('refuses alerts it cannot encode', () => {
    const a = allocAlerts(1);
    a.length = 1;
    a.col[0] = 256;
    a.days[0] = 3;
    expect(() => encodeGladTile(a)).toThrow('outside the tile');
    a.col[0] = 0;
    a.confidence[0] = 3;
    expect(() => encodeGladTile(a)).toThrow('confidence=3');
  });
});
