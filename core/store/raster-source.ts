// date_conf GeoTIFF / COG rasters as a source of alerts per tile (the I/O half of raster-window.ts).
//
// geotiff.js reads the header, then only the blocks (tiles or strips) a window touches: local files
// by offset, http(s) by Range requests, s3:// by ranged GetObject (a geotiff.js custom client).
import { stat } from 'node:fs/promises';
import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { inflateSync } from 'node:zlib';
import { addDecoder, BaseClient, BaseDecoder, BaseResponse, fromCustomClient, fromFile, fromUrl, getDecoder } from 'geotiff';
import type { GeoTIFF, GeoTIFFImage, ReadRastersOptions } from 'geotiff';
import { confidenceLevel, dayOffset } from '../tiles/datasets.ts';
import type { ConfidenceName, Dataset } from '../tiles/datasets.ts';
import { tileKey } from '../tiles/grid.ts';
import { canvasAlerts, crsFromGeoKeys, newCanvas, renderWindow, tileWindow } from '../tiles/raster-window.ts';
import type { PixelWindow, RasterGeo } from '../tiles/raster-window.ts';
import type { AlertSource, Alerts, DayRange, TileAddress } from '../tiles/types.ts';

/**
 * DEFLATE blocks (TIFF compression 8 and 32946, what GDAL's COGs use) through Node's native zlib
 * instead of geotiff.js's JavaScript inflate: inflating the window's blocks is most of a tile's read.
 */
class NativeDeflateDecoder extends BaseDecoder {
  decodeBlock(buffer: ArrayBufferLike): ArrayBufferLike {
    // One output chunk the size of a block: no concatenation of 16 KB chunks, no copy to return it.
    const out = inflateSync(new Uint8Array(buffer), { chunkSize: blockBytes(this.parameters) });
    if (out.byteOffset === 0 && out.byteLength === out.buffer.byteLength) return out.buffer;
    return out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength);
  }
}

/** The bytes of a decoded block (pixel-interleaved: all samples), as a zlib chunk size. */
function blockBytes(p: { tileWidth: number; tileHeight: number; bitsPerSample: number | ArrayLike<number> }): number {
  const bits = typeof p.bitsPerSample === 'number' ? p.bitsPerSample : Array.from(p.bitsPerSample).reduce((a, b) => a + b, 0);
  const bytes = Math.ceil((p.tileWidth * bits) / 8) * p.tileHeight;
  // A hint only (a longer output takes more chunks): within zlib's bounds.
  return Number.isFinite(bytes) ? Math.min(Math.max(bytes, 64), 1 << 26) : 16 * 1024;
}
addDecoder([8, 32946], async () => NativeDeflateDecoder, undefined, false);

/** An open raster: its georeferencing and a window reader (values row-major, uint16 date_conf). */
export interface Raster {
  location: string;
  geo: RasterGeo;
  readWindow(win: PixelWindow): Promise<ArrayLike<number>>;
  close(): Promise<void>;
}

/** Alerts of a tile (a tile job's AlertSource), or with `halo` pixels around it (col/row in -halo..255+halo). */
export interface RasterAlertSource extends AlertSource {
  alerts(tile: TileAddress, range: DayRange, halo?: number): Promise<Alerts>;
}

const HOW = 'a date_conf GeoTIFF/COG: one uint16 band, EPSG:4326 or EPSG:3857, from a path, http(s):// or s3://';

/** geotiff.js client for s3://bucket/key: each Range request is one ranged GetObject. */
class S3RangeClient extends BaseClient {
  private bucket: string;
  private key: string;
  private s3: S3Client;
  constructor(url: string, s3: S3Client) {
    super(url);
    const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(url);
    if (!m) throw new Error(`raster ${url}: not s3://bucket/key`);
    [this.bucket, this.key, this.s3] = [m[1], m[2], s3];
  }
  override async request(options: RequestInit = {}): Promise<BaseResponse> {
    const range = (options.headers as Record<string, string> | undefined)?.Range;
    const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key, Range: range }), { abortSignal: options.signal ?? undefined });
    const data = await out.Body!.transformToByteArray();
    return new S3RangeResponse(data, out.ContentRange, out.ContentType);
  }
}

/** A GetObject answer as geotiff.js expects an HTTP one: 206 + Content-Range for a ranged read. */
class S3RangeResponse extends BaseResponse {
  private data: Uint8Array;
  private headers: Record<string, string | undefined>;
  constructor(data: Uint8Array, contentRange: string | undefined, contentType: string | undefined) {
    super();
    this.data = data;
    this.headers = { 'content-range': contentRange, 'content-type': contentType };
  }
  override get status(): number {
    return this.headers['content-range'] ? 206 : 200;
  }
  override getHeader(name: string): string | undefined {
    return this.headers[name.toLowerCase()];
  }
  override async getData(): Promise<ArrayBuffer> {
    return this.data.buffer.slice(this.data.byteOffset, this.data.byteOffset + this.data.byteLength) as ArrayBuffer;
  }
}

/** An S3 client for rasters: path-style (emulators) and following a bucket's region redirect (301). */
export function rasterS3Client(): S3Client {
  return new S3Client({ forcePathStyle: true, followRegionRedirects: true, region: process.env.AWS_REGION || 'us-east-1' });
}

/** A raster location's file path (a plain path or file://), or null for http(s)/s3. */
export function rasterPath(location: string): string | null {
  if (/^(https?|s3):\/\//i.test(location)) return null;
  return location.replace(/^file:\/\//i, '');
}

/**
 * What identifies a raster's content when a run is submitted, so that a changed file makes another
 * run id: size and mtime of a file, size and ETag (or Last-Modified) of an http(s) or s3 object.
 * One stat, HEAD or HeadObject; one-line errors.
 */
export async function rasterIdentity(location: string, options: { s3?: S3Client; timeoutMs?: number } = {}): Promise<{ url: string; size: number; mtime?: string; etag?: string }> {
  const where = `raster ${location}`;
  const path = rasterPath(location);
  if (path !== null) {
    try {
      const st = await stat(path);
      if (!st.isFile()) throw new Error('not a file');
      return { url: location, size: st.size, mtime: st.mtime.toISOString() };
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new Error(`${where}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
    }
  }
  if (location.startsWith('s3://')) {
    const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(location);
    if (!m) throw new Error(`${where}: not s3://bucket/key`);
    try {
      const out = await (options.s3 ?? rasterS3Client()).send(new HeadObjectCommand({ Bucket: m[1], Key: m[2] }));
      return { url: location, size: out.ContentLength ?? 0, ...(out.ETag ? { etag: out.ETag } : { mtime: out.LastModified?.toISOString() }) };
    } catch (err) {
      const e = err as Error & { $metadata?: { httpStatusCode?: number } };
      const status = e.$metadata?.httpStatusCode;
      throw new Error(`${where}: ${status === 404 ? 'no such object' : `${e.name}${status ? ` (HTTP ${status})` : ''}: ${e.message}`}`);
    }
  }
  let res: Response;
  try {
    res = await fetch(location, { method: 'HEAD', signal: AbortSignal.timeout(options.timeoutMs ?? 30_000) });
  } catch (err) {
    throw new Error(`${where}: HEAD failed: ${(err as Error).message}`);
  }
  if (!res.ok) throw new Error(`${where}: HEAD answered HTTP ${res.status}`);
  const etag = res.headers.get('etag');
  const modified = res.headers.get('last-modified');
  return {
    url: location,
    size: Number(res.headers.get('content-length') ?? 0),
    ...(etag ? { etag } : modified ? { mtime: new Date(modified).toISOString() } : {}),
  };
}

/** Opens the file behind a location; a failure to open says what the location is. */
async function openTiff(location: string, s3?: S3Client): Promise<GeoTIFF> {
  try {
    if (/^https?:\/\//i.test(location)) return await fromUrl(location, { allowFullFile: false });
    if (location.startsWith('s3://')) {
      const client = s3 ?? rasterS3Client();
      return await fromCustomClient(new S3RangeClient(location, client));
    }
    const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(location);
    if (scheme && scheme[1].toLowerCase() !== 'file') throw new Error(`unsupported scheme ${scheme[1]}://`);
    return await fromFile(location.replace(/^file:\/\//i, ''));
  } catch (err) {
    const e = err as Error & { code?: string };
    // geotiff.js says "Invalid byte order value." / "Invalid magic number." for anything not a TIFF.
    const why = /byte order|magic number/i.test(e.message) ? 'not a TIFF' : e.code === 'ENOENT' ? 'no such file' : e.message;
    throw new Error(`raster ${location}: ${why} (expected ${HOW})`);
  }
}

/** The georeferencing of the first image, checked: a supported CRS, an affine transform, uint16. */
function rasterGeo(image: GeoTIFFImage, location: string): RasterGeo {
  const where = `raster ${location}`;
  const format = image.getSampleFormat(0);
  const bits = image.getBitsPerSample(0);
  if (format !== 1 || bits !== 16) {
    const kind = format === 3 ? `float${bits}` : format === 2 ? `int${bits}` : `uint${bits}`;
    throw new Error(`${where}: pixels are ${kind}; date_conf rasters are uint16 (expected ${HOW})`);
  }
  let origin: number[];
  let res: number[];
  try {
    origin = image.getOrigin();
    res = image.getResolution();
  } catch {
    throw new Error(`${where}: no georeferencing (no affine transform; expected ${HOW})`);
  }
  const crs = crsFromGeoKeys(image.getGeoKeys() as Record<string, unknown> | null, where);
  // PixelIsPoint rasters tie the CENTRE of pixel (0,0): move the origin to its corner.
  const shift = image.pixelIsArea() ? 0 : 0.5;
  return {
    crs,
    originX: origin[0] - shift * res[0],
    originY: origin[1] - shift * res[1],
    resX: res[0],
    resY: res[1],
    width: image.getWidth(),
    height: image.getHeight(),
  };
}

/** Whether this machine stores a uint16 low byte first (as every one Node runs on does). */
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * A window reader that takes the decoded blocks (tiles or strips) from geotiff.js and copies their
 * rows into the window, instead of `readRasters`, whose per-pixel DataView loop was most of a
 * tile's read. geotiff.js still fetches and decompresses each block (its own codec and parameters,
 * captured from a first `readRasters` through its `pool` option). Null when the raster has more
 * than one sample per pixel or is big-endian (rare: GDAL writes little-endian): `readRasters`
 * then reads it.
 */
function blockReader(image: GeoTIFFImage): ((win: PixelWindow) => Promise<Uint16Array>) | null {
  if (image.getSamplesPerPixel() !== 1 || image.littleEndian !== HOST_LITTLE_ENDIAN) return null;
  const [width, height] = [image.getWidth(), image.getHeight()];
  const [blockWidth, blockHeight] = [image.getTileWidth(), image.getTileHeight()];
  const [blocksX, blocksY] = [Math.ceil(width / blockWidth), Math.ceil(height / blockHeight)];
  let decoder: Promise<BaseDecoder> | undefined;
  // geotiff.js binds a pool to the image's compression and decoder parameters: keep its decoder.
  const capture = {
    bindParameters(compression: number, parameters: Parameters<typeof getDecoder>[1]) {
      decoder ??= getDecoder(compression, parameters);
      return { decode: async (buffer: ArrayBufferLike) => (await decoder!).decode(buffer) };
    },
  };
  return async (win) => {
    const w = win.i1 - win.i0;
    const out = new Uint16Array(w * (win.j1 - win.j0));
    if (!decoder) {
      // The first read goes through readRasters (which hands us the decoder): the same values.
      const pool = capture as unknown as ReadRastersOptions['pool'];
      const data = await image.readRasters({ window: [win.i0, win.j0, win.i1, win.j1], samples: [0], interleave: true, pool });
      out.set(data as unknown as Uint16Array);
      return out;
    }
    const codec = await decoder;
    const reads: Promise<void>[] = [];
    for (let by = Math.floor(win.j0 / blockHeight); by < Math.min(blocksY, Math.ceil(win.j1 / blockHeight)); by++) {
      for (let bx = Math.floor(win.i0 / blockWidth); bx < Math.min(blocksX, Math.ceil(win.i1 / blockWidth)); bx++) {
        reads.push(
          image.getTileOrStrip(bx, by, 0, codec).then(({ data }) => {
            // The block's rows and columns inside the window (edge blocks are padded or short).
            const x0 = Math.max(win.i0, bx * blockWidth);
            const x1 = Math.min(win.i1, (bx + 1) * blockWidth);
            const y0 = Math.max(win.j0, by * blockHeight);
            const y1 = Math.min(win.j1, (by + 1) * blockHeight);
            const need = ((y1 - 1 - by * blockHeight) * blockWidth + (x1 - bx * blockWidth)) * 2;
            if (data.byteLength < need) throw new RangeError(`block ${bx},${by} has ${data.byteLength} bytes, needs ${need}`);
            const pixels = new Uint16Array(data, 0, need >> 1);
            for (let y = y0; y < y1; y++) {
              const from = (y - by * blockHeight) * blockWidth + (x0 - bx * blockWidth);
              out.set(pixels.subarray(from, from + (x1 - x0)), (y - win.j0) * w + (x0 - win.i0));
            }
          }),
        );
      }
    }
    await Promise.all(reads);
    return out;
  };
}

/** Opens a date_conf raster (path, file://, http(s):// or s3://) and checks it; one-line errors. */
export async function openRaster(location: string, options: { s3?: S3Client } = {}): Promise<Raster> {
  const tiff = await openTiff(location, options.s3);
  let image: GeoTIFFImage;
  try {
    image = await tiff.getImage(0);
  } catch (err) {
    throw new Error(`raster ${location}: unreadable TIFF (${(err as Error).message}; expected ${HOW})`);
  }
  const geo = rasterGeo(image, location);
  const blocks = blockReader(image);
  return {
    location,
    geo,
    async readWindow(win) {
      if (blocks) return blocks(win);
      // Reads only the blocks the window touches; band 1 (date_conf), one interleaved array.
      const data = await image.readRasters({ window: [win.i0, win.j0, win.i1, win.j1], samples: [0], interleave: true });
      return data as unknown as ArrayLike<number>;
    },
    async close() {
      // Only file-backed sources hold a descriptor (close() is false for the others).
      await tiff.close();
    },
  };
}

/**
 * Alerts per tile from one or more rasters of a dataset (its date_conf day 0; GFW's data-lake
 * rasters share the tile cache's). A tile outside every raster has no alerts; where rasters
 * overlap, the earliest date and highest confidence win. `minConfidence` is checked at once.
 */
export function rasterAlertSource(rasters: Raster[], dataset: Dataset, minConfidence?: ConfidenceName): RasterAlertSource {
  const minLevel = minConfidence === undefined ? 0 : confidenceLevel(dataset, minConfidence);
  // The 2018 tiles had no date_conf form: read its rasters with the data lake's day 0.
  const offset = dayOffset(dataset.encoding === 'glad-2018' ? '2014-12-31' : dataset.dayZero);
  return {
    async alerts(tile, range, halo = 0) {
      const canvas = newCanvas(tile, halo);
      for (const raster of rasters) {
        const win = tileWindow(raster.geo, tile, halo);
        if (!win) continue;
        let values: ArrayLike<number>;
        try {
          values = await raster.readWindow(win);
        } catch (err) {
          throw new Error(`tile ${tileKey(tile)}: reading ${raster.location} failed: ${(err as Error).message}`);
        }
        renderWindow(canvas, raster.geo, win, values, offset);
      }
      return canvasAlerts(canvas, range, minLevel);
    },
  };
}
