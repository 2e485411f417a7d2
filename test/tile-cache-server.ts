// A local stand-in for the GFW tile cache (tiles.globalforestwatch.org) on 127.0.0.1, behaving as
// its public code does (wri/gfw-tile-cache terraform/modules/content_delivery_network/lambda_functions):
//  - /{dataset}/latest/...        → 307 to the same path with the dated version (query kept);
//  - /{dataset}/{v}/default/z/x/y → the pre-rendered tile; above the pre-rendered zooms, 307 to
//                                   /dynamic/ (GFW redirects any tile missing from its bucket);
//  - /{dataset}/{v}/dynamic/z/x/y → the tile rendered on the fly;
//  - a tile with no data          → 404.
// Locations are relative paths, as GFW sends them.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TileAddress } from '../core/tiles/types.ts';

export interface TileCacheServerOptions {
  /** The dated version `latest` redirects to, e.g. v20240115. */
  version: string;
  /** Highest pre-rendered zoom (default 12): above it `default` redirects to `dynamic`. */
  preRenderedMaxZoom?: number;
  /** The tile bytes of a dataset, or null for a tile with no data (404). */
  tile(dataset: string, tile: TileAddress, implementation: 'default' | 'dynamic'): Uint8Array | null;
}

export interface TileCacheServer {
  /** http://127.0.0.1:PORT */
  url: string;
  /** Every request path (with query), in order. */
  requests: string[];
  close(): Promise<void>;
}

const TILE_PATH = /^\/([\w-]+)\/([\w.-]+)\/(default|dynamic)\/(\d+)\/(\d+)\/(\d+)\.png$/;

export async function startTileCacheServer(opts: TileCacheServerOptions): Promise<TileCacheServer> {
  const requests: string[] = [];
  const maxZoom = opts.preRenderedMaxZoom ?? 12;
  const server = createServer((req, res) => {
    const raw = req.url ?? '/';
    requests.push(raw);
    const [path, query] = raw.split('?');
    const redirect = (to: string) => {
      res.writeHead(307, { location: query ? `${to}?${query}` : to }).end();
    };
    const segments = path.split('/');
    if (segments[2] === 'latest') return redirect(segments.map((s, i) => (i === 2 ? opts.version : s)).join('/'));
    const m = TILE_PATH.exec(path);
    if (!m || m[2] !== opts.version) return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"Not Found"}');
    const [, dataset, , implementation, z, x, y] = m;
    const tile = { z: Number(z), x: Number(x), y: Number(y) };
    if (implementation === 'default' && tile.z > maxZoom) return redirect(path.replace('/default/', '/dynamic/'));
    const bytes = opts.tile(dataset, tile, implementation as 'default' | 'dynamic');
    if (!bytes) return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"Tile not found"}');
    res.writeHead(200, { 'content-type': 'image/png', 'content-length': bytes.length }).end(Buffer.from(bytes));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
