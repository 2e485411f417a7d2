import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpTileSource, TileSourceError, tileSourceFromTemplate } from '../core/store/tile-sources.ts';
import { DEFAULT_TILES_URL, defaultTilesUrl, fillTemplate, validateTemplate } from '../core/tiles/tile-url.ts';

const tile = { z: 12, x: 1355, y: 2045 };
// A PNG signature and a few bytes: the file source refuses a body that does not start like a PNG.
const bytes = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4]);

describe('templates', () => {
  it('fills z/x/y and picks env TILES_URL over the public default', () => {
    expect(fillTemplate('s3://b/t/{z}/{x}/{y}.png', tile)).toBe('s3://b/t/12/1355/2045.png');
    expect(defaultTilesUrl({})).toBe(DEFAULT_TILES_URL);
    expect(defaultTilesUrl({ TILES_URL: 'file:///t/{z}/{x}/{y}.png' })).toBe('file:///t/{z}/{x}/{y}.png');
  });

  it('rejects templates without placeholders, unknown placeholders and unknown schemes', () => {
    expect(() => validateTemplate('http://h/{z}/{x}.png')).toThrow('lacks {y}');
    expect(() => validateTemplate('http://h/{z}/{x}/{y}/{t}.png')).toThrow('unknown placeholder {t}');
    expect(() => validateTemplate('')).toThrow('empty');
    expect(() => tileSourceFromTemplate('ftp://h/{z}/{x}/{y}.png')).toThrow('unsupported scheme ftp://');
    expect(() => tileSourceFromTemplate('s3://bucket-only-{z}{x}{y}')).toThrow('{z} must be in the path');
  });
});

describe('file source', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tiles src-'));
    await mkdir(join(dir, '12/1355'), { recursive: true });
    await writeFile(join(dir, '12/1355/2045.png'), bytes);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('reads a path template and a file:// URL; missing tile is null', async () => {
    for (const template of [join(dir, '{z}/{x}/{y}.png'), pathToFileURL(dir).href + '/{z}/{x}/{y}.png']) {
      const source = tileSourceFromTemplate(template);
      expect(Array.from((await source.read(tile))!)).toEqual(Array.from(bytes));
      expect(await source.read({ ...tile, x: 1356 })).toBeNull();
      expect(await source.read({ ...tile, z: 13 })).toBeNull();
    }
  });

  it('a directory where a file should be is a non-transient error', async () => {
    await mkdir(join(dir, '12/1355/2046.png'), { recursive: true });
    const err = await tileSourceFromTemplate(join(dir, '{z}/{x}/{y}.png')).read({ ...tile, y: 2046 }).catch((e) => e);
    expect(err).toBeInstanceOf(TileSourceError);
    expect(err.message).toMatch(/^tile 12\/1355\/2046: cannot read/);
    expect(err.transient).toBe(false);
  });
});

describe('http source', () => {
  const server = createServer((req, res) => {
    const status: Record<string, number> = { '/12/1355/2045.png': 200, '/12/1/1.png': 500, '/12/2/2.png': 429, '/12/3/3.png': 403 };
    if (req.url === '/12/4/4.png') return void setTimeout(() => res.end('late'), 2000);
    const code = status[req.url ?? ''] ?? 404;
    res.writeHead(code);
    res.end(code === 200 ? Buffer.from(bytes) : 'nope');
  });
  let base = '';
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('200 → bytes, 404 → null', async () => {
    const source = tileSourceFromTemplate(`${base}/{z}/{x}/{y}.png`);
    expect(Array.from((await source.read(tile))!)).toEqual(Array.from(bytes));
    expect(await source.read({ z: 12, x: 9, y: 9 })).toBeNull();
  });

  it('5xx and 429 are transient errors, 403 is not, all with status', async () => {
    const source = tileSourceFromTemplate(`${base}/{z}/{x}/{y}.png`);
    const e500 = await source.read({ z: 12, x: 1, y: 1 }).catch((e) => e);
    expect(e500.message).toBe(`tile 12/1/1: GET ${base}/12/1/1.png returned HTTP 500 (transient)`);
    expect(e500.transient).toBe(true);
    const e429 = await source.read({ z: 12, x: 2, y: 2 }).catch((e) => e);
    expect(e429.transient).toBe(true);
    const e403 = await source.read({ z: 12, x: 3, y: 3 }).catch((e) => e);
    expect(e403.message).toContain('HTTP 403');
    expect(e403.transient).toBe(false);
  });

  it('times out with a transient error', async () => {
    const source = httpTileSource(`${base}/{z}/{x}/{y}.png`, 200);
    const err = await source.read({ z: 12, x: 4, y: 4 }).catch((e) => e);
    expect(err.message).toContain('timed out after 200 ms');
    expect(err.transient).toBe(true);
  });

  it('a refused connection is a transient error', async () => {
    const source = tileSourceFromTemplate('http://127.0.0.1:1/{z}/{x}/{y}.png');
    const err = await source.read(tile).catch((e) => e);
    expect(err).toBeInstanceOf(TileSourceError);
    expect(err.transient).toBe(true);
  });
});

describe('s3 source (s3rver)', () => {
  let dir: string;
  let s3rver: S3rver;
  let endpoint = '';
  const saved: Record<string, string | undefined> = {};
  const env = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 's3rver-'));
    s3rver = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: dir });
    const { port } = await s3rver.run();
    endpoint = `http://127.0.0.1:${port}`;
    for (const k of [...Object.keys(env), 'AWS_ENDPOINT_URL_S3']) saved[k] = process.env[k];
    Object.assign(process.env, env, { AWS_ENDPOINT_URL_S3: endpoint });
    const client = new S3Client({ endpoint, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    await client.send(new CreateBucketCommand({ Bucket: 'tiles' }));
    await client.send(new PutObjectCommand({ Bucket: 'tiles', Key: 'glad/12/1355/2045.png', Body: bytes }));
    client.destroy();
  });
  afterAll(async () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await s3rver.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('reads through AWS_ENDPOINT_URL_S3; a missing key is null; a missing bucket is an error', async () => {
    const source = tileSourceFromTemplate('s3://tiles/glad/{z}/{x}/{y}.png');
    expect(Array.from((await source.read(tile))!)).toEqual(Array.from(bytes));
    expect(await source.read({ ...tile, y: 2046 })).toBeNull();
    const err = await tileSourceFromTemplate('s3://no-such-bucket/{z}/{x}/{y}.png').read(tile).catch((e) => e);
    expect(err).toBeInstanceOf(TileSourceError);
    expect(err.message).toContain('NoSuchBucket');
    expect(err.transient).toBe(false);
  });
});
