// GLAD tile decoding (PNG -> Alerts) and its inverse encoder (Alerts -> PNG, for synthetic tiles and tests).
//
// GLAD encoding, per pixel: days since 2015-01-01 = 255*R + G (255, as the old tiles were encoded,
// not 256); confidence = floor(B / 100); a pixel is an alert when days > 0. Alpha is ignored.
import { decodePng, encodePng } from './png.ts';
import { TILE_SIZE, tileKey } from './grid.ts';
import type { AlertDecoder, Alerts, DayRange, PixelWindow, TileAddress } from './types.ts';

/** Largest day number the encoding can hold (R = G = 255 would be 65280; G stays < 255). */
export const MAX_GLAD_DAYS = 255 * 255 + 254;
/** Largest confidence floor(B/100) can express with 8-bit B. */
const MAX_GLAD_CONFIDENCE = 2;

/** An empty Alerts of a given capacity (trimmed by `sliceAlerts`). */
export function allocAlerts(capacity: number): Alerts {
  return {
    length: 0,
    col: new Int32Array(capacity),
    row: new Int32Array(capacity),
    days: new Uint16Array(capacity),
    confidence: new Uint8Array(capacity),
  };
}

/** Alerts with arrays trimmed to `length` (subarray views, no copy). */
export function sliceAlerts(a: Alerts, length: number): Alerts {
  return {
    length,
    col: a.col.subarray(0, length),
    row: a.row.subarray(0, length),
    days: a.days.subarray(0, length),
    confidence: a.confidence.subarray(0, length),
  };
}

/** PNG colour types (IHDR byte 9). */
const PALETTE = 3;
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** What a body that is not a PNG starts with, when it is text (an HTML error page, JSON…): for the message. */
function describeNonPng(image: Uint8Array): string {
  if (image.length === 0) return 'empty, 0 bytes';
  const head = new TextDecoder('utf-8', { fatal: false }).decode(image.subarray(0, 60));
  // Printable text only (no control characters: the message goes to logs and error records).
  if (/^[\x20-\x7e\t\r\n]+$/.test(head)) return `${image.length} bytes starting ${JSON.stringify(head.replace(/\s+/g, ' ').trim().slice(0, 40))}`;
  return `bad signature, ${image.length} bytes`;
}

/**
 * Checks the PNG header (IHDR, the first chunk) before decoding: size, bit depth and colour type.
 * Decoding allocates width × height × 4 bytes, so a header claiming 60000×60000 would exhaust
 * memory (the process was killed, measured) and 4096×4096 costs ~200 MB: refuse from the header.
 */
function checkHeader(image: Uint8Array, where: string): void {
  if (image.length < 8 || PNG_SIGNATURE.some((b, i) => image[i] !== b)) throw new Error(`${where}: not a PNG (${describeNonPng(image)})`);
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const type = String.fromCharCode(...image.subarray(12, 16));
  if (image.length < 33 || type !== 'IHDR' || view.getUint32(8) !== 13) throw new Error(`${where}: not a PNG or corrupt/truncated (no IHDR header, ${image.length} bytes)`);
  const width = view.getUint32(16);
  const height = view.getUint32(20);
  if (width !== TILE_SIZE || height !== TILE_SIZE) throw new Error(`${where}: image is ${width}x${height}, expected ${TILE_SIZE}x${TILE_SIZE}`);
  const depth = image[24];
  // Rescaling non-8-bit samples (16-bit -> 8-bit, 1/2/4-bit grey -> 0..255) would silently change
  // R/G/B and thus days: refuse rather than return wrong dates. Palette images
  // (any depth) are fine: their indices are looked up into 8-bit colours.
  if (image[25] !== PALETTE && depth !== 8) throw new Error(`${where}: ${depth}-bit PNG is not supported (GLAD tiles are 8-bit RGB(A))`);
}

/**
 * Reads a PNG into 8-bit RGBA (its first `rows` rows), or throws an Error naming the tile (shared
 * by the dataset decoders).
 */
export function readRgba(image: Uint8Array, tile: TileAddress, rows = TILE_SIZE): Buffer {
  const where = `tile ${tileKey(tile)}`;
  checkHeader(image, where);
  let png;
  try {
    png = decodePng(image, rows);
  } catch (err) {
    throw new Error(`${where}: not a PNG or corrupt/truncated (${(err as Error).message})`);
  }
  // Checked from the header already; kept as a guard on what the decoder actually produced.
  if (png.width !== TILE_SIZE || png.height !== rows) {
    throw new Error(`${where}: image is ${png.width}x${png.height}, expected ${TILE_SIZE}x${rows}`);
  }
  return png.data;
}

/** Scratch of the decoders: pixel indices of one tile (decoding is synchronous, so one buffer serves all). */
const HITS = new Int32Array(TILE_SIZE * TILE_SIZE);

/** The rows of a tile a decoder must read for a window (all 256 without one). */
export function rowsFor(window?: PixelWindow): number {
  return window ? window.row1 + 1 : TILE_SIZE;
}

/**
 * The pixels of a tile's RGBA (its first rows, or all of them) that are not all zero
 * (R = G = B = A = 0 is no alert in every encoding), in `window` (default: all), row-major, as
 * indices in a shared scratch array, pixels[0..count): most pixels are empty, and a 32-bit read
 * tells, four pixels a test.
 */
export function nonEmptyPixels(rgba: Uint8Array, window?: PixelWindow): { pixels: Int32Array; count: number } {
  const size = Math.min(rgba.length >> 2, TILE_SIZE * TILE_SIZE);
  const words = rgba.byteOffset % 4 === 0 ? new Uint32Array(rgba.buffer, rgba.byteOffset, size) : new Uint32Array(rgba.slice(0, 4 * size).buffer);
  const row0 = window?.row0 ?? 0, row1 = Math.min(window?.row1 ?? TILE_SIZE - 1, size / TILE_SIZE - 1);
  const col0 = window?.col0 ?? 0, col1 = window?.col1 ?? TILE_SIZE - 1;
  // Whole rows are one run of words; else a run per row.
  const wholeRows = col0 === 0 && col1 === TILE_SIZE - 1;
  const runs = wholeRows ? 1 : row1 - row0 + 1;
  const runLength = wholeRows ? (row1 - row0 + 1) * TILE_SIZE : col1 - col0 + 1;
  let count = 0;
  for (let k = 0; k < runs; k++) {
    let p = (row0 + k) * TILE_SIZE + col0;
    const end = p + runLength;
    // Four pixels a test: most groups are empty.
    for (; p + 4 <= end; p += 4) {
      if ((words[p] | words[p + 1] | words[p + 2] | words[p + 3]) === 0) continue;
      if (words[p] !== 0) HITS[count++] = p;
      if (words[p + 1] !== 0) HITS[count++] = p + 1;
      if (words[p + 2] !== 0) HITS[count++] = p + 2;
      if (words[p + 3] !== 0) HITS[count++] = p + 3;
    }
    for (; p < end; p++) if (words[p] !== 0) HITS[count++] = p;
  }
  return { pixels: HITS, count };
}

/** The GLAD decoder: alerts with startDays ≤ days < endDays, in row-major order (row, then col). */
export const gladDecoder: AlertDecoder = {
  decode(image: Uint8Array, range: DayRange, tile: TileAddress, window?: PixelWindow): Alerts {
    const rgba = readRgba(image, tile, rowsFor(window));
    const { startDays, endDays } = range;
    // The alert pixels first, so the typed arrays are allocated once at the exact size.
    const { pixels: hits, count } = nonEmptyPixels(rgba, window);
    let n = 0;
    for (let k = 0; k < count; k++) {
      const p = hits[k];
      const days = 255 * rgba[4 * p] + rgba[4 * p + 1];
      if (days > 0 && days >= startDays && days < endDays) hits[n++] = p;
    }
    const out = allocAlerts(n);
    for (let k = 0; k < n; k++) {
      const p = hits[k];
      out.col[k] = p % TILE_SIZE;
      out.row[k] = (p / TILE_SIZE) | 0;
      out.days[k] = 255 * rgba[4 * p] + rgba[4 * p + 1];
      out.confidence[k] = Math.floor(rgba[4 * p + 2] / 100);
    }
    out.length = n;
    return out;
  },
};

/** Every day of the encoding (for decoding a whole tile with no date filter). */
export const ALL_DAYS: DayRange = { startDays: 1, endDays: MAX_GLAD_DAYS + 1 };

/**
 * Encodes alerts (col,row in 0..255) as a GLAD RGBA PNG: R = floor(days/255), G = days % 255,
 * B = confidence*100 (+ a little intensity so the byte looks like real tiles), A = 255 on alerts, 0 elsewhere.
 * Throws on an alert outside the tile, days outside 1..MAX_GLAD_DAYS or confidence > 2.
 */
export function encodeGladTile(alerts: Alerts): Uint8Array {
  const png = { width: TILE_SIZE, height: TILE_SIZE, data: Buffer.alloc(4 * TILE_SIZE * TILE_SIZE) };
  for (let k = 0; k < alerts.length; k++) {
    const col = alerts.col[k];
    const row = alerts.row[k];
    const days = alerts.days[k];
    const conf = alerts.confidence[k];
    if (col < 0 || col >= TILE_SIZE || row < 0 || row >= TILE_SIZE) {
      throw new Error(`alert ${k}: col=${col}, row=${row} is outside the tile`);
    }
    if (days < 1 || days > MAX_GLAD_DAYS) throw new Error(`alert ${k}: days=${days} is out of range 1..${MAX_GLAD_DAYS}`);
    if (conf > MAX_GLAD_CONFIDENCE) throw new Error(`alert ${k}: confidence=${conf} is above ${MAX_GLAD_CONFIDENCE}`);
    const o = 4 * (row * TILE_SIZE + col);
    png.data[o] = Math.floor(days / 255);
    png.data[o + 1] = days % 255;
    png.data[o + 2] = conf * 100 + 50;
    png.data[o + 3] = 255;
  }
  return encodePng(png);
}
