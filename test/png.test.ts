// core/tiles/png.ts against pngjs (what the tiles were decoded with before): the same RGBA for every
// colour type, bit depth, row filter and Adam7 interlacing a tile server may send; and what it refuses.
import { crc32 } from 'node:zlib';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { decodePng, encodePng } from '../core/tiles/png.ts';
import { buildPng } from './fault-tools.ts';

/** A deterministic pseudo-random image, mostly transparent like a tile, with runs of equal pixels. */
function sampleRgba(width: number, height: number, seed: number): Buffer {
  const data = Buffer.alloc(4 * width * height);
  let s = seed;
  const next = () => (s = (s * 1103515245 + 12345) >>> 0) >>> 16;
  for (let p = 0; p < width * height; p++) {
    if (next() % 3 !== 0) continue;
    data.set([next() & 255, next() & 255, next() & 255, next() & 255], 4 * p);
  }
  return data;
}

const pngjsRead = (png: Uint8Array) => PNG.sync.read(Buffer.from(png));

describe('decodePng', () => {
  for (const colorType of [0, 2, 4, 6] as const) {
    for (const filterType of [0, 1, 2, 3, 4, -1]) {
      it(`reads colour type ${colorType}, row filter ${filterType} exactly as pngjs does`, () => {
        const png = new PNG({ width: 37, height: 23 });
        sampleRgba(37, 23, colorType * 10 + filterType).copy(png.data);
        const bytes = new Uint8Array(PNG.sync.write(png, { colorType, filterType, inputHasAlpha: true }));
        const ours = decodePng(bytes);
        expect([ours.width, ours.height]).toEqual([37, 23]);
        expect(ours.data.equals(pngjsRead(bytes).data)).toBe(true);
        // The first rows only (a neighbour below the tile): the same bytes as the whole image's.
        for (const rows of [1, 5, 22]) {
          const top = decodePng(bytes, rows);
          expect([top.width, top.height]).toEqual([37, rows]);
          expect(top.data.equals(ours.data.subarray(0, 4 * 37 * rows))).toBe(true);
        }
        expect(decodePng(bytes, 23).data.equals(ours.data)).toBe(true);
      });
    }
  }

  // Palette images of 1, 2, 4 and 8 bits with a partial tRNS, plain and Adam7-interlaced
  // (pngjs writes neither, but reads both).
  for (const depth of [1, 2, 4, 8]) {
    for (const interlaced of [false, true]) {
      it(`reads ${depth}-bit palette images${interlaced ? ', interlaced' : ''} exactly as pngjs does`, () => {
        const [width, height] = [29, 13];
        const colours = 1 << depth;
        const index = (x: number, y: number) => (x * 7 + y * 3 + ((x * y) % 5)) % colours;
        const palette = Uint8Array.from({ length: 3 * colours }, (_, k) => (k * 37) & 255);
        const alpha = Uint8Array.from({ length: Math.ceil(colours / 2) }, (_, k) => (k * 91) & 255);
        const raw = packPasses(width, height, interlaced, (x, y) => [index(x, y)], depth);
        const bytes = withInterlace(buildPng({ width, height, bitDepth: depth, colorType: 3, raw, palette, alpha }), interlaced);
        expect(decodePng(bytes).data.equals(pngjsRead(bytes).data)).toBe(true);
      });
    }
  }

  it('reads interlaced RGBA and the tRNS colour of an RGB image as pngjs does', () => {
    const [width, height] = [19, 17];
    const rgba = sampleRgba(width, height, 5);
    const raw = packPasses(width, height, true, (x, y) => [...rgba.subarray(4 * (y * width + x), 4 * (y * width + x) + 4)], 8);
    const interlaced = withInterlace(buildPng({ width, height, bitDepth: 8, colorType: 6, raw }), true);
    expect(decodePng(interlaced).data.equals(pngjsRead(interlaced).data)).toBe(true);
    const rgbRaw = packPasses(width, height, false, (x, y) => (x === y ? [10, 20, 30] : [x, y, 7]), 8);
    const keyed = buildPng({ width, height, bitDepth: 8, colorType: 2, raw: rgbRaw, alpha: Uint8Array.from([0, 10, 0, 20, 0, 30]) });
    expect(decodePng(keyed).data.equals(pngjsRead(keyed).data)).toBe(true);
    expect([...decodePng(keyed).data.subarray(0, 4)]).toEqual([0, 0, 0, 0]);
  });

  it('refuses corrupt, truncated, 16-bit and over-long images with a reason', () => {
    const good = encodePng({ width: 8, height: 8, data: sampleRgba(8, 8, 1) });
    expect(() => decodePng(good.subarray(0, good.length - 20))).toThrow(/truncated/);
    const flipped = Uint8Array.from(good);
    flipped[45] ^= 1; // inside the IDAT data
    expect(() => decodePng(flipped)).toThrow(/bad CRC in IDAT chunk/);
    expect(() => decodePng(new TextEncoder().encode('<html>'))).toThrow('bad signature');
    expect(() => decodePng(buildPng({ width: 2, height: 2, bitDepth: 16, colorType: 6, raw: new Uint8Array(34) }))).toThrow('16-bit colour type 6 is not supported');
    // 2×2 RGBA holds 18 bytes; 1 MB of zeros behind the same header is refused, not inflated.
    expect(() => decodePng(buildPng({ width: 2, height: 2, bitDepth: 8, colorType: 6, raw: new Uint8Array(1 << 20) }))).toThrow();
    expect(() => decodePng(buildPng({ width: 2, height: 2, bitDepth: 8, colorType: 6, raw: new Uint8Array(10) }))).toThrow('image data too short');
  });

  it('inflates no more of a tall image than its first rows take, and the first rows are exact', () => {
    // 1,024 rows of noise: the first 64 come from a prefix of the compressed stream.
    const data = sampleRgba(256, 1024, 7);
    const bytes = encodePng({ width: 256, height: 1024, data });
    const top = decodePng(bytes, 64);
    expect(top.height).toBe(64);
    expect(top.data.equals(data.subarray(0, 4 * 256 * 64))).toBe(true);
    expect(decodePng(bytes).data.equals(data)).toBe(true);
    // The stream's last tenth made garbage (CRC fixed): the whole image fails, its first rows do not.
    const broken = Buffer.from(bytes);
    const idat = 8 + 25;
    const length = broken.readUInt32BE(idat);
    broken.fill(0xff, idat + 8 + Math.floor(length * 0.9), idat + 8 + length - 4);
    broken.writeUInt32BE(crc32(broken.subarray(idat + 4, idat + 8 + length)), idat + 8 + length);
    expect(() => decodePng(broken)).toThrow();
    expect(decodePng(broken, 64).data.equals(top.data)).toBe(true);
    expect(() => decodePng(bytes, 0)).toThrow(/rows/);
    expect(() => decodePng(bytes, 1025)).toThrow(/rows/);
  });

  it('encodePng round-trips through pngjs', () => {
    const data = sampleRgba(256, 256, 9);
    const bytes = encodePng({ width: 256, height: 256, data });
    expect(pngjsRead(bytes).data.equals(data)).toBe(true);
    expect(decodePng(bytes).data.equals(data)).toBe(true);
  });
});

/** Scanlines (filter byte 0) of the image, in Adam7 pass order when interlaced; samples of `bits` bits. */
function packPasses(width: number, height: number, interlaced: boolean, samples: (x: number, y: number) => number[], bits: number): Uint8Array {
  const passes = interlaced
    ? [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]]
    : [[0, 0, 1, 1]];
  const out: number[] = [];
  for (const [x0, y0, dx, dy] of passes) {
    for (let y = y0; y < height; y += dy) {
      if (x0 >= width) break;
      out.push(0);
      let acc = 0, used = 0;
      for (let x = x0; x < width; x += dx) {
        for (const v of samples(x, y)) {
          acc = (acc << bits) | v;
          used += bits;
          if (used === 8) (out.push(acc), (acc = 0), (used = 0));
        }
      }
      if (used > 0) out.push(acc << (8 - used));
    }
  }
  return Uint8Array.from(out);
}

/** The same PNG with IHDR's interlace byte set (and its CRC redone). */
function withInterlace(png: Uint8Array, interlaced: boolean): Uint8Array {
  if (!interlaced) return png;
  const out = Uint8Array.from(png);
  out[8 + 8 + 12] = 1;
  const view = new DataView(out.buffer);
  view.setUint32(8 + 8 + 13, crc32(out.subarray(12, 12 + 4 + 13)));
  return out;
}
