// Item 3 of issue 12: a neighbour that cannot be read (HTTP 403, a directory where its file should
// be) is read as missing with a warning, like a corrupt one; only a transient failure fails the
// tile (to be retried). And where a 403 means "missing": only for the sources docs/tiles.md names.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allocAlerts, encodeGladTile } from '../core/tiles/decode.ts';
import { isoToDays } from '../core/tiles/dates.ts';
import { parseTileRequest } from '../core/run/request.ts';
import { runTile } from '../core/clusters/tile-job.ts';
import { forbiddenMeansMissing, httpTileSource, tileSourceFromTemplate, TileSourceError } from '../core/store/tile-sources.ts';
import { DEFAULT_TILES_URL } from '../core/tiles/tile-url.ts';
import type { TileAddress, TileSource } from '../core/tiles/types.ts';
import { componentEngine } from './fake-engine.ts';

const Z = 12;
const spec = (() => {
  const { z: _z, x: _x, y: _y, ...rest } = parseTileRequest({ z: Z, x: 100, y: 50, start_date: '2016-01-01', end_date: '2017-01-01', min_count: 5 });
  return rest;
})();

/** Tile 12/100/50 with a row of 10 alerts at its east edge; 12/101/50 holds 4 more of them. */
function pngs(): Map<string, Uint8Array> {
  const own = allocAlerts(16);
  const east = allocAlerts(16);
  for (let k = 0; k < 10; k++) {
    const target = k < 6 ? own : east;
    target.col[target.length] = k < 6 ? 250 + k : k - 6;
    target.row[target.length] = 60;
    target.days[target.length] = isoToDays('2016-03-03');
    target.confidence[target.length] = 2;
    target.length++;
  }
  return new Map([['12/100/50', encodeGladTile(own)], ['12/101/50', encodeGladTile(east)]]);
}

const sourceWith = (neighbour: (t: TileAddress) => Promise<Uint8Array | null>): TileSource => {
  const tiles = pngs();
  return { read: async (t) => (t.x === 101 && t.y === 50 ? neighbour(t) : tiles.get(`${t.z}/${t.x}/${t.y}`) ?? null) };
};

describe('an unreadable neighbour is read as missing, with a warning', () => {
  it('HTTP 403 on the neighbour: the tile is clustered without it', async () => {
    const warnings: string[] = [];
    const source = sourceWith(async () => {
      throw new TileSourceError('tile 12/101/50: GET http://h/12/101/50.png returned HTTP 403', false);
    });
    const res = await runTile({ z: Z, x: 100, y: 50 }, spec, source, { engine: componentEngine(), onWarning: (m) => warnings.push(m) });
    expect(res.clusters.map((c) => c.count)).toEqual([6]);
    expect(warnings).toEqual(['neighbour ignored (read as missing): tile 12/101/50: GET http://h/12/101/50.png returned HTTP 403']);
  });

  it('EISDIR on the neighbour (file source): the tile is clustered without it; the same on the tile itself fails it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'glad-eisdir-'));
    try {
      for (const [key, bytes] of pngs()) {
        const [z, x, y] = key.split('/');
        await mkdir(join(dir, z, x), { recursive: true });
        if (x === '101') await mkdir(join(dir, z, x, `${y}.png`)); // a directory named like the tile
        else await writeFile(join(dir, z, x, `${y}.png`), bytes);
      }
      const source = tileSourceFromTemplate(`${pathToFileURL(dir).href}/{z}/{x}/{y}.png`);
      const warnings: string[] = [];
      const res = await runTile({ z: Z, x: 100, y: 50 }, spec, source, { engine: componentEngine(), onWarning: (m) => warnings.push(m) });
      expect(res.clusters.map((c) => c.count)).toEqual([6]);
      expect(warnings.join()).toMatch(/neighbour ignored \(read as missing\): tile 12\/101\/50: cannot read .*EISDIR/);
      await expect(runTile({ z: Z, x: 101, y: 50 }, spec, source, { engine: componentEngine() })).rejects.toThrow(/EISDIR/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a transient neighbour failure still fails the tile (it is retried)', async () => {
    const source = sourceWith(async () => {
      throw new TileSourceError('tile 12/101/50: GET http://h/12/101/50.png returned HTTP 503 (transient)', true);
    });
    await expect(runTile({ z: Z, x: 100, y: 50 }, spec, source, { engine: componentEngine() })).rejects.toThrow(/HTTP 503/);
  });
});

describe('where HTTP 403 means "missing"', () => {
  it('only on a public S3 bucket read over plain HTTP(S) (the default GLAD tiles), nowhere else', () => {
    expect(forbiddenMeansMissing(DEFAULT_TILES_URL)).toBe(true);
    expect(forbiddenMeansMissing('https://my-tiles.s3.eu-west-1.amazonaws.com/t/{z}/{x}/{y}.png')).toBe(true);
    expect(forbiddenMeansMissing('https://s3.amazonaws.com/my-tiles/{z}/{x}/{y}.png')).toBe(true);
    expect(forbiddenMeansMissing('https://tiles.globalforestwatch.org/umd_glad_landsat_alerts/latest/default/{z}/{x}/{y}.png')).toBe(false);
    expect(forbiddenMeansMissing('http://127.0.0.1:8080/{z}/{x}/{y}.png')).toBe(false);
    expect(forbiddenMeansMissing('https://evil.example/s3.amazonaws.com/{z}/{x}/{y}.png')).toBe(false);
    expect(forbiddenMeansMissing('s3://bucket/{z}/{x}/{y}.png')).toBe(false);
  });

  describe('over HTTP', () => {
    const server = createServer((_req, res) => {
      res.writeHead(403, { 'content-type': 'application/xml' });
      res.end('<Error><Code>AccessDenied</Code></Error>');
    });
    let base = '';
    beforeAll(async () => {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it('a 403 is a missing tile where the source says so, a permanent error otherwise', async () => {
      const tile = { z: Z, x: 1, y: 1 };
      expect(await httpTileSource(`${base}/{z}/{x}/{y}.png`, 1000, { forbiddenIsMissing: true }).read(tile)).toBeNull();
      const error = await httpTileSource(`${base}/{z}/{x}/{y}.png`, 1000).read(tile).catch((e) => e);
      expect(error).toBeInstanceOf(TileSourceError);
      expect(error.message).toMatch(/returned HTTP 403$/);
      expect(error.transient).toBe(false);
    });
  });
});
