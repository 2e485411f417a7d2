// Tile-source adapters (the only I/O in core/): raw tile bytes from HTTP(S), S3 or local files,
// chosen by a URL template (core/tiles/tile-url.ts). A missing tile is null (= no alerts).
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { S3Client } from '@aws-sdk/client-s3';
import { tileKey } from '../tiles/grid.ts';
import { fillTemplate, validateTemplate } from '../tiles/tile-url.ts';
import type { TileSource } from '../tiles/types.ts';

/** Per-request timeout of HTTP sources, ms (env TILES_TIMEOUT_MS overrides it). */
export const DEFAULT_HTTP_TIMEOUT_MS = 30_000;
/**
 * Largest tile body read. A 256×256 RGBA PNG is at most ~260 KB even uncompressed; a bigger body is
 * not a tile, and reading it whole could exhaust the consumer's memory.
 */
const MAX_TILE_BYTES = 4 * 1024 * 1024;

/** The HTTP timeout: env TILES_TIMEOUT_MS (a positive integer, ms), else 30 s. */
export function httpTimeoutMs(env: Record<string, string | undefined> = process.env): number {
  const raw = env.TILES_TIMEOUT_MS;
  if (raw === undefined || raw === '') return DEFAULT_HTTP_TIMEOUT_MS;
  const ms = Number(raw);
  if (!Number.isInteger(ms) || ms <= 0) throw new Error(`TILES_TIMEOUT_MS must be a positive integer (ms), got ${JSON.stringify(raw)}`);
  return ms;
}

/** A failed tile read; `transient` says whether retrying later may succeed (5xx, 429, timeouts). */
export class TileSourceError extends Error {
  transient: boolean;
  constructor(message: string, transient: boolean) {
    super(message);
    this.name = 'TileSourceError';
    this.transient = transient;
  }
}

/** Why a fetch failed, in words (undici hides the socket error in `cause`). */
function fetchFailure(err: unknown, timeoutMs: number): string {
  const e = err as Error;
  if (e.name === 'TimeoutError') return `timed out after ${timeoutMs} ms`;
  return `${e.message}${e.cause ? ` (${(e.cause as Error).message})` : ''}`;
}

/** The body, refusing more than MAX_TILE_BYTES (checked on Content-Length and while reading). */
async function readCapped(res: Response, where: string): Promise<Uint8Array> {
  const tooBig = () => new TileSourceError(`${where}: body larger than ${MAX_TILE_BYTES} bytes is not a tile`, false);
  if (Number(res.headers.get('content-length') ?? 0) > MAX_TILE_BYTES) {
    await res.body?.cancel();
    throw tooBig();
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body ?? []) {
    size += chunk.byteLength;
    if (size > MAX_TILE_BYTES) throw tooBig(); // leaving the loop cancels the stream
    chunks.push(chunk);
  }
  const out = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/**
 * Whether an HTTP 403 from this template's host means "no such tile": only for an S3 bucket read
 * over plain HTTP(S) (virtual-hosted `bucket.s3[.region].amazonaws.com` or path-style
 * `s3[.region].amazonaws.com/bucket`), which answers 403 instead of 404 for a missing key when
 * anonymous callers may not list the bucket — the case of the default GLAD tiles
 * (wri-tiles.s3.amazonaws.com). Every other host's 403 is a permanent error (docs/tiles.md).
 */
export function forbiddenMeansMissing(template: string): boolean {
  if (!/^https?:\/\//i.test(template)) return false;
  let host: string;
  try {
    host = new URL(template.replace(/\{[zxy]\}/g, '0')).hostname.toLowerCase();
  } catch {
    return false;
  }
  return /(^|\.)s3([.-][a-z0-9-]+)?\.amazonaws\.com$/.test(host);
}

/**
 * Tiles over HTTP(S) with global fetch: 404 → null (and 403 with `forbiddenIsMissing`), other
 * non-2xx → TileSourceError. The timeout covers the whole exchange (headers and body); a timeout,
 * a dropped connection or HTTP 5xx/429 is transient.
 */
export function httpTileSource(template: string, timeoutMs = DEFAULT_HTTP_TIMEOUT_MS, options: { forbiddenIsMissing?: boolean } = {}): TileSource {
  validateTemplate(template);
  const missing = options.forbiddenIsMissing ? [404, 403] : [404];
  return {
    async read(tile) {
      const url = fillTemplate(template, tile);
      const where = `tile ${tileKey(tile)}: GET ${url}`;
      let res: Response;
      try {
        res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
      } catch (err) {
        throw new TileSourceError(`${where} failed: ${fetchFailure(err, timeoutMs)} (transient)`, true);
      }
      if (missing.includes(res.status)) {
        await res.body?.cancel();
        return null;
      }
      if (!res.ok) {
        await res.body?.cancel();
        const transient = res.status >= 500 || res.status === 429;
        throw new TileSourceError(`${where} returned HTTP ${res.status}${transient ? ' (transient)' : ''}`, transient);
      }
      try {
        return await readCapped(res, where);
      } catch (err) {
        if (err instanceof TileSourceError) throw err;
        // The body stalled past the timeout or the connection dropped mid-body: retry later.
        throw new TileSourceError(`${where}: reading the body failed: ${fetchFailure(err, timeoutMs)} (transient)`, true);
      }
    },
  };
}

/** Splits `s3://bucket/key-template` into bucket and key template. */
function parseS3Template(template: string): { bucket: string; keyTemplate: string } {
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(template);
  if (!m) throw new Error(`tiles URL template "${template}" is not s3://bucket/key`);
  return { bucket: m[1], keyTemplate: m[2] };
}

/**
 * Tiles in S3 (AWS SDK v3): NoSuchKey/404 → null. The SDK is imported on the first read (it costs
 * ~0.3 s of start-up; `npm run tile` over http:// or file:// tiles never loads it). The client follows the usual AWS environment
 * (AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL for emulators); path-style addressing suits emulators.
 */
function s3TileSource(template: string, client?: S3Client): TileSource {
  validateTemplate(template);
  const { bucket, keyTemplate } = parseS3Template(template);
  let s3 = client;
  return {
    async read(tile) {
      const { GetObjectCommand, S3Client } = await import('@aws-sdk/client-s3');
      // followRegionRedirects: a bucket in another region answers 301; the client retries there.
      s3 ??= new S3Client({ forcePathStyle: true, followRegionRedirects: true, region: process.env.AWS_REGION || 'us-east-1' });
      const key = fillTemplate(keyTemplate, tile);
      try {
        const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        if (!out.Body) return null;
        return await out.Body.transformToByteArray();
      } catch (err) {
        const e = err as Error & { $metadata?: { httpStatusCode?: number } };
        const status = e.$metadata?.httpStatusCode;
        // A missing key is a missing tile; a missing bucket is a configuration error.
        if (e.name !== 'NoSuchBucket' && (e.name === 'NoSuchKey' || e.name === 'NotFound' || status === 404)) return null;
        // No status at all means the request never got an answer (network): worth retrying.
        const transient = status === undefined || status >= 500 || status === 429;
        throw new TileSourceError(
          `tile ${tileKey(tile)}: s3://${bucket}/${key}: ${e.name}: ${e.message}${transient ? ' (transient)' : ''}`,
          transient,
        );
      }
    },
  };
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Tiles on the local disk (a path template or file:// URL): missing file → null; a non-PNG file is an error that names its size, never its content. */
export function fileTileSource(template: string): TileSource {
  validateTemplate(template);
  const pathTemplate = template.startsWith('file://') ? fileURLToPath(template) : template;
  return {
    async read(tile) {
      const path = fillTemplate(pathTemplate, tile);
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(await readFile(path));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') return null;
        throw new TileSourceError(`tile ${tileKey(tile)}: cannot read ${path}: ${(err as Error).message}`, false);
      }
      // A local file that is not an image is refused here, by size only: its bytes must never reach
      // an error record, a log or a report (the decoder quotes the start of a non-PNG body).
      if (bytes.length > 0 && !PNG_SIGNATURE.every((b, i) => bytes[i] === b)) {
        throw new TileSourceError(`tile ${tileKey(tile)}: ${path} is not a PNG (${bytes.length} bytes)`, false);
      }
      return bytes;
    },
  };
}

/** Picks the adapter from the template's scheme: http(s)://, s3://, file:// or a plain path. */
export function tileSourceFromTemplate(template: string): TileSource {
  validateTemplate(template);
  if (/^https?:\/\//i.test(template)) return httpTileSource(template, httpTimeoutMs(), { forbiddenIsMissing: forbiddenMeansMissing(template) });
  if (template.startsWith('s3://')) return s3TileSource(template);
  if (template.startsWith('file://')) return fileTileSource(template);
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(template);
  if (scheme) throw new Error(`tiles URL template "${template}": unsupported scheme ${scheme[1]}:// (use http(s)://, s3://, file:// or a path)`);
  return fileTileSource(template);
}
