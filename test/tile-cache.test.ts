// The GFW-like tile server: `latest` pinned once per run, redirects followed by tile reads.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveLatest } from '../core/store/latest.ts';
import { httpTileSource } from '../core/store/tile-sources.ts';
import { DATASETS, EVERY_DAY, datasetDecoder } from '../core/tiles/datasets.ts';
import { encodeDatasetTile } from '../local/synthetic-encodings.ts';
import { syntheticTile } from '../local/synthetic.ts';
import { startTileCacheServer } from './tile-cache-server.ts';
import type { TileCacheServer } from './tile-cache-server.ts';

const world = { seed: 5, density: 1500 };
const glad = DATASETS['glad-l'];

describe('GFW-like tile cache', () => {
  let server: TileCacheServer;
  const address = (dataset: string, version = 'latest', impl = 'default', query = '') => `${server.url}/${dataset}/${version}/${impl}/{z}/{x}/{y}.png${query}`;

  beforeAll(async () => {
    server = await startTileCacheServer({
      version: 'v20240115',
      preRenderedMaxZoom: 12,
      // No data east of x = 2000 (404); DIST dates shifted into its own epoch.
      tile: (dataset, tile) => {
        if (tile.x >= 2000) return null;
        const a = syntheticTile({ ...tile, ...world });
        if (dataset === 'umd_glad_dist_alerts') return encodeDatasetTile({ ...a, days: a.days.map((d) => d + 2191) }, DATASETS.dist);
        return encodeDatasetTile(a, glad);
      },
    });
  });
  afterAll(() => server.close());

  it('resolveLatest pins the template to the dated version with one request (not following it)', async () => {
    server.requests.length = 0;
    const pinned = await resolveLatest(address('umd_glad_landsat_alerts'));
    expect(pinned).toEqual({ template: address('umd_glad_landsat_alerts', 'v20240115'), version: 'v20240115' });
    expect(server.requests).toEqual(['/umd_glad_landsat_alerts/latest/default/0/0/0.png']);
    // Already pinned, or a mirror without `latest`: unchanged.
    expect(await resolveLatest(pinned.template)).toEqual({ template: pinned.template, version: null });
  });

  it('resolveLatest keeps the query (DIST start_date) and refuses an answer that is not a redirect', async () => {
    const dist = address('umd_glad_dist_alerts', 'latest', 'dynamic', '?start_date=2020-12-31');
    expect((await resolveLatest(dist)).template).toBe(address('umd_glad_dist_alerts', 'v20240115', 'dynamic', '?start_date=2020-12-31'));
    const plain = createServer((_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(plain.address() as AddressInfo).port}/d/latest/default/{z}/{x}/{y}.png`;
      await expect(resolveLatest(url)).rejects.toThrow(/answered HTTP 200, not a redirect to a dated version$/);
    } finally {
      plain.closeAllConnections();
      plain.close();
    }
    await expect(resolveLatest('s3://b/d/latest/{z}/{x}/{y}.png')).rejects.toThrow('only http(s) addresses can resolve "latest"');
  });

  it('httpTileSource follows latest → version, and → dynamic above the pre-rendered zooms', async () => {
    const source = httpTileSource(address('umd_glad_landsat_alerts'));
    const decoder = datasetDecoder(glad);
    for (const tile of [
      { z: 12, x: 1500, y: 2000 },
      { z: 14, x: 1500, y: 2000 },
    ]) {
      server.requests.length = 0;
      const bytes = await source.read(tile);
      expect(bytes).not.toBeNull();
      const a = decoder.decode(bytes!, EVERY_DAY, tile);
      expect(Array.from(a.days)).toEqual(Array.from(syntheticTile({ ...tile, ...world }).days));
      const path = `${tile.z}/${tile.x}/${tile.y}.png`;
      const chain = [`/umd_glad_landsat_alerts/latest/default/${path}`, `/umd_glad_landsat_alerts/v20240115/default/${path}`];
      if (tile.z > 12) chain.push(`/umd_glad_landsat_alerts/v20240115/dynamic/${path}`);
      expect(server.requests).toEqual(chain);
    }
  });

  it('a tile with no data is a 404, i.e. null (no alerts), also behind redirects', async () => {
    expect(await httpTileSource(address('umd_glad_landsat_alerts')).read({ z: 12, x: 2001, y: 2000 })).toBeNull();
    expect(await httpTileSource(address('umd_glad_landsat_alerts')).read({ z: 14, x: 2001, y: 2000 })).toBeNull();
  });

  it('DIST tiles through the pinned dynamic address decode with day 0 2020-12-31', async () => {
    const { template } = await resolveLatest(address('umd_glad_dist_alerts', 'latest', 'dynamic', '?start_date=2020-12-31'));
    const tile = { z: 12, x: 1500, y: 2001 };
    server.requests.length = 0;
    const a = datasetDecoder(DATASETS.dist).decode((await httpTileSource(template).read(tile))!, EVERY_DAY, tile);
    expect(server.requests).toEqual([`/umd_glad_dist_alerts/v20240115/dynamic/12/1500/2001.png?start_date=2020-12-31`]);
    expect(Array.from(a.days)).toEqual(Array.from(syntheticTile({ ...tile, ...world }).days.map((d) => d + 2191)));
  });
});
