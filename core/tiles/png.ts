// PNG <-> 8-bit RGBA on Node's native zlib, for the tile decoders and the synthetic tiles. pngjs did
// this before, and its ~20 CommonJS modules cost ~40 ms of every `npm run tile` (docs/measurements.md,
// "Start-up"). Reads what tile servers write: 8-bit grey, grey+alpha, RGB, RGBA, and palette images
// of 1, 2, 4 or 8 bits (tRNS included), interlaced or not, every chunk's CRC checked. As pngjs did, a
// pixel of the tRNS colour of a grey or RGB image becomes 0, 0, 0, 0. 16-bit images are refused.
import { constants, crc32, deflateSync, inflateSync } from 'node:zlib';

export interface RgbaImage {
  width: number;
  height: number;
  /** width × height pixels, 4 bytes each (R, G, B, A), row by row. */
  data: Buffer;
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
/** Samples per pixel of each colour type: grey, RGB, palette, grey+alpha, RGBA. */
const CHANNELS: Partial<Record<number, number>> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
/** Adam7 passes: first column and row, column and row steps. */
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
];

/**
 * Decodes a PNG into 8-bit RGBA; throws an Error saying what is wrong with it. With `rows`, only
 * the image's first rows (a neighbour below a tile, of which the halo takes the top): a plain
 * image is inflated no further than they reach.
 */
export function decodePng(png: Uint8Array, rows?: number): RgbaImage {
  if (png.length < 8 || SIGNATURE.some((b, i) => png[i] !== b)) throw new Error('bad signature');
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let header: { width: number; height: number; depth: number; type: number; interlaced: boolean } | undefined;
  let palette: Uint8Array | undefined;
  let transparency: Uint8Array | undefined;
  const data: Uint8Array[] = [];
  for (let pos = 8; ; ) {
    if (pos + 12 > png.length) throw new Error('truncated: no IEND chunk');
    const length = view.getUint32(pos);
    const type = String.fromCharCode(png[pos + 4], png[pos + 5], png[pos + 6], png[pos + 7]);
    const end = pos + 12 + length;
    if (end > png.length) throw new Error(`truncated ${type} chunk`);
    const body = png.subarray(pos + 8, pos + 8 + length);
    if (crc32(png.subarray(pos + 4, pos + 8 + length)) !== view.getUint32(pos + 8 + length)) throw new Error(`bad CRC in ${type} chunk`);
    pos = end;
    if (type === 'IEND') break;
    if (!header && type !== 'IHDR') throw new Error(`${type} chunk before IHDR`);
    if (type === 'IHDR') {
      const h = new DataView(body.buffer, body.byteOffset, body.byteLength);
      if (length !== 13) throw new Error('bad IHDR chunk');
      header = { width: h.getUint32(0), height: h.getUint32(4), depth: body[8], type: body[9], interlaced: body[12] === 1 };
      const { depth, type: colour } = header;
      const paletteDepth = colour === 3 && [1, 2, 4, 8].includes(depth);
      if (CHANNELS[colour] === undefined || (depth !== 8 && !paletteDepth)) throw new Error(`${depth}-bit colour type ${colour} is not supported`);
      if (body[10] !== 0 || body[11] !== 0 || body[12] > 1) throw new Error('unknown compression, filter or interlace method');
    } else if (type === 'PLTE') palette = body;
    else if (type === 'tRNS') transparency = body;
    else if (type === 'IDAT') data.push(body);
  }
  if (!header) throw new Error('no IHDR chunk');
  const { width, depth, type, interlaced } = header;
  if (rows !== undefined && !(Number.isInteger(rows) && rows >= 1 && rows <= header.height)) throw new Error(`rows=${rows}: the image has 1..${header.height}`);
  // An interlaced image's first rows need every pass: decoded whole, then cut.
  const height = rows !== undefined && !interlaced ? rows : header.height;
  if (type === 3 && !palette) throw new Error('palette image without a PLTE chunk');
  const bits = depth * CHANNELS[type]!;
  const passes = (interlaced ? ADAM7 : [[0, 0, 1, 1]])
    .map(([x0, y0, dx, dy]) => ({ x0, y0, dx, dy, w: Math.ceil((width - x0) / dx), h: Math.ceil((height - y0) / dy) }))
    .filter((p) => p.w > 0 && p.h > 0);
  const rowBytes = (w: number) => Math.ceil((w * bits) / 8);
  // What the rows decoded take, and what the whole image holds: inflating more than that is refused
  // (a small body could otherwise expand without bound).
  const expected = passes.reduce((sum, p) => sum + p.h * (rowBytes(p.w) + 1), 0);
  const full = passes.reduce((sum, p) => sum + Math.ceil((header!.height - p.y0) / p.dy) * (rowBytes(p.w) + 1), 0);
  // One output chunk of the image's size (up to 4 MB): no growing and joining of 16 KB chunks (a
  // 256×256 tile inflates ~35 % faster).
  const raw = inflateFirst(Buffer.concat(data), expected, full);
  // Every pixel is written below (the passes of an interlaced image cover each once): no zero fill.
  const out = Buffer.allocUnsafe(width * height * 4);
  const pixel = pixelWriter(type, depth, palette, transparency, out);
  let offset = 0;
  for (const { x0, y0, dx, dy, w, h } of passes) {
    const bytes = rowBytes(w);
    // 8-bit RGBA, not interlaced (what most tile servers send): the rows are the pixels.
    if (type === 6 && !interlaced) unfilter(raw, offset, bytes, h, 4, out);
    else {
      const rows = unfilter(raw, offset, bytes, h, Math.max(1, bits >> 3));
      for (let j = 0; j < h; j++) {
        for (let i = 0; i < w; i++) pixel(rows, j * bytes, i, 4 * ((y0 + j * dy) * width + x0 + i * dx));
      }
    }
    offset += h * (bytes + 1);
  }
  if (rows !== undefined && interlaced) return { width, height: rows, data: out.subarray(0, 4 * width * rows) };
  return { width, height, data: out };
}

/**
 * The first `need` bytes of a zlib stream that inflates to `full` bytes. When less than the whole
 * is needed, growing prefixes of the stream are inflated (a prefix inflates to a prefix of the
 * data), starting from the share needed plus half: the rest is never inflated. Past `full` the
 * stream is refused (a small body could otherwise expand without bound).
 */
function inflateFirst(stream: Buffer, need: number, full: number): Buffer {
  const options = { maxOutputLength: Math.max(1, full), chunkSize: Math.min(Math.max(64, full), 1 << 22) };
  if (need < full) {
    for (let take = Math.ceil((1.5 * stream.length * need) / full) + 64; take < stream.length; take *= 2) {
      const raw = inflateSync(stream.subarray(0, take), { ...options, finishFlush: constants.Z_SYNC_FLUSH });
      if (raw.length >= need) return raw;
    }
  }
  return inflateSync(stream, options);
}

/**
 * Undoes the PNG row filters of `height` rows of `rowBytes` bytes (each after its filter byte) from
 * raw[offset], into `out` (default: a new array).
 */
function unfilter(raw: Uint8Array, offset: number, rowBytes: number, height: number, bpp: number, out = new Uint8Array(height * rowBytes)): Uint8Array {
  if (raw.length < offset + height * (rowBytes + 1)) throw new Error('image data too short');
  // One loop per filter (a, b, c: the bytes left, above, above-left; 0 outside the image).
  for (let y = 0, src = offset + 1; y < height; y++, src += rowBytes + 1) {
    const filter = raw[src - 1];
    const row = y * rowBytes;
    const up = row - rowBytes;
    if (filter === 0 || (filter === 2 && y === 0)) out.set(raw.subarray(src, src + rowBytes), row);
    else if (filter === 1) for (let i = 0; i < rowBytes; i++) out[row + i] = raw[src + i] + (i >= bpp ? out[row + i - bpp] : 0);
    else if (filter === 2) for (let i = 0; i < rowBytes; i++) out[row + i] = raw[src + i] + out[up + i];
    else if (filter === 3) {
      for (let i = 0; i < rowBytes; i++) out[row + i] = raw[src + i] + (((i >= bpp ? out[row + i - bpp] : 0) + (y > 0 ? out[up + i] : 0)) >> 1);
    } else if (filter === 4) {
      for (let i = 0; i < rowBytes; i++) {
        const a = i >= bpp ? out[row + i - bpp] : 0;
        const b = y > 0 ? out[up + i] : 0;
        const c = i >= bpp && y > 0 ? out[up + i - bpp] : 0;
        const pa = Math.abs(b - c), pb = Math.abs(a - c), pc = Math.abs(a + b - 2 * c);
        out[row + i] = raw[src + i] + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
      }
    } else throw new Error(`unknown row filter ${filter}`);
  }
  return out;
}

/** Writes pixel `i` of the row starting at rows[start] as RGBA at out[o]. */
function pixelWriter(
  type: number,
  depth: number,
  palette: Uint8Array | undefined,
  transparency: Uint8Array | undefined,
  out: Buffer,
): (rows: Uint8Array, start: number, i: number, o: number) => void {
  const rgba = (o: number, r: number, g: number, b: number, a: number) => {
    out[o] = r;
    out[o + 1] = g;
    out[o + 2] = b;
    out[o + 3] = a;
  };
  // The tRNS colour of a grey or RGB image (16-bit values; 8-bit samples compare with them as numbers).
  const key = transparency && type !== 3 ? new DataView(transparency.buffer, transparency.byteOffset, transparency.byteLength) : undefined;
  switch (type) {
    case 0:
      return (rows, s, i, o) => {
        const g = rows[s + i];
        if (key && key.byteLength >= 2 && g === key.getUint16(0)) rgba(o, 0, 0, 0, 0);
        else rgba(o, g, g, g, 255);
      };
    case 2:
      return (rows, s, i, o) => {
        const p = s + 3 * i;
        const [r, g, b] = [rows[p], rows[p + 1], rows[p + 2]];
        if (key && key.byteLength >= 6 && r === key.getUint16(0) && g === key.getUint16(2) && b === key.getUint16(4)) rgba(o, 0, 0, 0, 0);
        else rgba(o, r, g, b, 255);
      };
    case 3: {
      const colours = palette!.length / 3;
      const perByte = 8 / depth;
      const mask = (1 << depth) - 1;
      return (rows, s, i, o) => {
        const index = (rows[s + Math.floor(i / perByte)] >> ((perByte - 1 - (i % perByte)) * depth)) & mask;
        if (index >= colours) throw new Error(`index ${index} not in palette`);
        rgba(o, palette![3 * index], palette![3 * index + 1], palette![3 * index + 2], transparency && index < transparency.length ? transparency[index] : 255);
      };
    }
    case 4:
      return (rows, s, i, o) => rgba(o, rows[s + 2 * i], rows[s + 2 * i], rows[s + 2 * i], rows[s + 2 * i + 1]);
    default:
      return (rows, s, i, o) => rgba(o, rows[s + 4 * i], rows[s + 4 * i + 1], rows[s + 4 * i + 2], rows[s + 4 * i + 3]);
  }
}

/** One PNG chunk: length, type, data, CRC of type and data. */
function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** Encodes 8-bit RGBA pixels as an RGBA PNG (no row filter: tiles are mostly empty, deflate does the rest). */
export function encodePng(image: RgbaImage): Uint8Array {
  const { width, height, data } = image;
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 6, 0, 0, 0], 8);
  const raw = Buffer.alloc(height * (1 + 4 * width));
  for (let y = 0; y < height; y++) data.copy(raw, y * (1 + 4 * width) + 1, 4 * width * y, 4 * width * (y + 1));
  return new Uint8Array(Buffer.concat([Buffer.from(SIGNATURE), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array())]));
}
