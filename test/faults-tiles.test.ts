// A misbehaving tile server (node:http on 127.0.0.1) under the local stack: per tile it answers
// 404, 500 (twice), nothing (timeout), headers then nothing, a body cut short, an empty body,
// HTML, a truncated PNG, a 1×1 PNG, a 16-bit PNG, a palette PNG, a 4096×4096 PNG, a PNG whose
// header claims 60000×60000, or 5 MB of chunked garbage. Each must end as "no alerts", a retried
// transient, or an error record with a clear message — never a crash, never a silent wrong result.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { daysToIso, isoToDays } from '../core/tiles/dates.ts';
import { ALL_DAYS, encodeGladTile, gladDecoder } from '../core/tiles/decode.ts';
import { runId, runTiles, type RunSpec } from '../core/run/params.ts';
import { httpTileSource, httpTimeoutMs } from '../core/store/tile-sources.ts';
import { syntheticTile } from '../local/synthetic.ts';
import { runTile } from '../core/clusters/tile-job.ts';
import { tileKey, tilesInBounds } from '../core/tiles/grid.ts';
import type { TileAddress } from '../core/tiles/types.ts';
import {
  blankPng,
  buildPng,
  cleanRun,
  digestRun,
  lyingHeaderPng,
  serveTiles,
  startFaultStack,
  startTileServer,
  testRunSpec,
  to16BitPng,
  toPalettePng,
  withErrors,
  type FaultStack,
  type RunDigest,
  type TileRange,
  type TileReply,
  type TileServer,
} from './fault-tools.ts';

/** One line of a handler's structured log (core/store/log.ts). */
interface LogEntry {
  level: string;
  message: string;
  run_id?: string;
  tile?: string;
  stage?: string;
}

const Z = 12;
const REGION = { x0: 1331, y0: 2162, x1: 1335, y1: 2164 };
const TIMEOUT_MS = 500;

// A synthetic world with dates rounded to the 1st of the month: few enough colours per tile for
// a palette PNG of exactly the same pixels.
const monthly = (days: number) => Math.max(1, isoToDays(`${daysToIso(days).slice(0, 8)}01`));
const world = new Map<string, Uint8Array>();
for (const tile of tilesInBounds({ z: Z, x0: REGION.x0 - 1, y0: REGION.y0 - 1, x1: REGION.x1 + 1, y1: REGION.y1 + 1 })) {
  const alerts = syntheticTile({ ...tile, seed: 5, density: 600 });
  alerts.days.forEach((d, k) => (alerts.days[k] = monthly(d)));
  if (alerts.length > 0) world.set(tileKey(tile), encodeGladTile(alerts));
}

type Case =
  | '404' | '500 twice' | 'timeout' | 'stalled body' | 'cut body'
  | 'empty body' | 'html' | 'truncated png' | '1x1 png' | '16-bit png'
  | 'palette png' | '4096x4096 png' | '60000x60000 header' | 'good';
/**
 * The case of each tile of the run, row by row (5 × 3). No two transient tiles touch, and every
 * tile next to a transient one fails on its own tile (never reads its halo) or has none: so each
 * transient tile is read only by its own job, and its retries are counted exactly (500 twice:
 * TILE_MAX_RECEIVES receives, the most SQS gives before the dead-letter queue).
 */
const LAYOUT: Case[] = [
  '500 twice', 'html', 'timeout', '1x1 png', 'stalled body',
  'empty body', '16-bit png', 'truncated png', '4096x4096 png', '60000x60000 header',
  'cut body', '404', 'palette png', 'good', 'good',
];
/** A neighbour outside the run (read only for the halo) with a lying header. */
const RING_BOMB = { z: Z, x: REGION.x1 + 1, y: REGION.y0 + 1 };
/** What each permanent case must say in its error record. */
const ERRORS: Partial<Record<Case, RegExp>> = {
  'empty body': /not a PNG \(empty, 0 bytes\)/,
  html: /not a PNG \(\d+ bytes starting "<!DOCTYPE html><html><head><title>502/,
  'truncated png': /not a PNG or corrupt\/truncated/,
  '1x1 png': /image is 1x1, expected 256x256/,
  '16-bit png': /16-bit PNG is not supported/,
  '4096x4096 png': /image is 4096x4096, expected 256x256/,
  '60000x60000 header': /image is 60000x60000, expected 256x256/,
};
const TRANSIENT: Case[] = ['500 twice', 'timeout', 'stalled body', 'cut body'];

const caseOf = new Map<string, Case>();
tilesInBounds({ z: Z, ...REGION }).forEach((tile, k) => caseOf.set(tileKey(tile), LAYOUT[k]));
const tilesOf = (c: Case) => tilesInBounds({ z: Z, ...REGION }).filter((t) => caseOf.get(tileKey(t)) === c);

const BIG = blankPng(4096, 4096);
const BOMB = lyingHeaderPng(60_000, 60_000);

/** The garbage server's answer for a tile of the world. */
function garbage(tile: TileAddress, attempt: number): TileReply {
  const real = world.get(tileKey(tile));
  if (tileKey(tile) === tileKey(RING_BOMB)) return { body: BOMB };
  const serve: TileReply = real ? { body: real } : { status: 404 };
  switch (caseOf.get(tileKey(tile))) {
    case '404': return { status: 404, body: 'NoSuchKey', contentType: 'text/plain' };
    case '500 twice': return attempt <= 2 ? { status: 500, body: 'Internal Server Error', contentType: 'text/plain' } : serve;
    case 'timeout': return attempt === 1 ? { hang: true } : serve;
    case 'stalled body': return attempt === 1 ? { stallBody: true } : serve;
    case 'cut body': return attempt === 1 && real ? { body: real, cutAfter: real.length >> 1 } : serve;
    case 'empty body': return { body: new Uint8Array() };
    case 'html': return { body: '<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>oops</body></html>', contentType: 'text/html' };
    case 'truncated png': return { body: real!.subarray(0, real!.length >> 1) };
    case '1x1 png': return { body: buildPng({ width: 1, height: 1, bitDepth: 8, colorType: 6, rows: [new Uint8Array(4)] }) };
    case '16-bit png': return { body: to16BitPng(real!) };
    case 'palette png': return { body: toPalettePng(real!) };
    case '4096x4096 png': return { body: BIG };
    case '60000x60000 header': return { body: BOMB };
    default: return serve;
  }
}

/**
 * The world as the decoder must see it: a tile that is an error by design is missing for its
 * neighbours (documented: a corrupt neighbour is read as missing), and so is the ring bomb; the
 * transient cases and the palette tile are the real tile.
 */
function cleanEquivalent(tile: TileAddress): TileReply {
  const c = caseOf.get(tileKey(tile));
  if (tileKey(tile) === tileKey(RING_BOMB) || c === '404' || (c && ERRORS[c])) return { status: 404 };
  return serveTiles(world)(tile);
}

let tiles: TileServer;
let fs: FaultStack;
let clean: RunDigest;

const spec = (query: string, region: TileRange = REGION): RunSpec => testRunSpec(Z, region, tiles.template(query));

beforeAll(async () => {
  process.env.TILES_TIMEOUT_MS = String(TIMEOUT_MS); // read by the consumer threads' tile source
  tiles = await startTileServer((tile, { attempt, query }) => {
    if (query.get('run') === 'garbage') return garbage(tile, attempt);
    if (query.get('run') === 'huge') return { body: new Uint8Array(5 * 1024 * 1024).fill(0x41), noLength: true };
    return cleanEquivalent(tile);
  });
  // One tile per batch: a receive lasts one tile, well within the visibility timeout even under load.
  fs = await startFaultStack({ workers: 2, batchSize: 1, visibilityTimeout: 3 });
  ({ digest: clean } = await cleanRun(fs, spec('run=clean')));
});

afterAll(async () => {
  await fs?.stop();
  await tiles?.stop();
  delete process.env.TILES_TIMEOUT_MS;
});

describe('a misbehaving tile server', () => {
  it('the clean run equals runTile, and the cases that must keep their clusters have some', async () => {
    const s = spec('run=clean');
    const source = httpTileSource(s.tiles_url!);
    for (const tile of runTiles(s)) {
      const want = (await runTile(tile, s, source)).clusters.map((c) => [c.i, c.j, c.count, c.alerts]);
      expect((clean.clusters[tileKey(tile)] ?? []).map((c) => [c.i, c.j, c.count, c.alerts])).toEqual(want);
    }
    for (const c of [...TRANSIENT, 'palette png'] as Case[]) expect(clean.status[tileKey(tilesOf(c)[0])]).toBe('clusters');
    expect(world.has(tileKey(tilesOf('404')[0]))).toBe(true); // the 404 hides real alerts
  });

  it('each case is no alerts, a retried transient, or an error record with a clear message', async () => {
    const s = spec('run=garbage');
    const id = runId(s);
    const before = { ...fs.loop.stats };
    const logsBefore = fs.logs.length;
    await fs.submit(s);
    await fs.waitForManifest(id, 50_000);
    const run = await fs.load(id);

    // Errors by design: exactly the permanent cases, each with its message.
    const errorCases = (Object.keys(ERRORS) as Case[]).map((c) => [c, tilesOf(c)[0]] as const);
    expect(run.manifest.errors).toHaveLength(errorCases.length);
    for (const [c, tile] of errorCases) {
      const error = run.manifest.errors.find((e) => tileKey(e) === tileKey(tile));
      expect(error, c).toMatchObject({ stage: 'tile', message: expect.stringMatching(ERRORS[c]!) });
    }
    // Everything else equals the clean run: 404 is empty, transients were retried, the palette
    // PNG decodes to the same alerts, neighbours of garbage read it as missing.
    expect(digestRun(run)).toEqual(withErrors(clean, Object.fromEntries(errorCases.map(([, tile]) => [tileKey(tile), 'tile']))));
    expect(digestRun(run).status[tileKey(tilesOf('404')[0])]).toBe('empty');

    // The transients really failed first, were retried through SQS, and the logs say why.
    const requests = (c: Case) => tiles.requests.get(`${tileKey(tilesOf(c)[0])}?run=garbage`) ?? 0;
    expect(requests('500 twice')).toBe(3);
    for (const c of ['timeout', 'stalled body', 'cut body'] as Case[]) expect(requests(c), c).toBe(2);
    const logs = fs.logs.slice(logsBefore).join('\n');
    // The handlers' logs are JSON lines; a retry is a WARN naming the run, the tile and the cause.
    const entries = fs.logs.slice(logsBefore).flatMap((line) => (line.startsWith('{') ? [JSON.parse(line) as LogEntry] : []));
    const logged = (level: string, tile: string, message: RegExp) =>
      entries.some((e) => e.level === level && e.run_id === id && e.tile === tile && e.stage === 'tile' && message.test(e.message));
    const retried = (c: Case, cause: string) => logged('WARN', tileKey(tilesOf(c)[0]), new RegExp(`^will retry: .*${cause} \\(transient\\)`));
    expect(retried('500 twice', 'returned HTTP 500')).toBe(true);
    expect(retried('timeout', `timed out after ${TIMEOUT_MS} ms`)).toBe(true);
    expect(retried('stalled body', `reading the body failed: timed out after ${TIMEOUT_MS} ms`)).toBe(true);
    expect(retried('cut body', 'reading the body failed: .*')).toBe(true);
    expect(fs.loop.stats.retried - before.retried).toBe(5);
    // A garbage neighbour outside the run is read as missing, and the consumer's log says so.
    const ignored = new RegExp(`^warning: neighbour ignored \\(read as missing\\): tile ${tileKey(RING_BOMB)}: image is 60000x60000`);
    expect(logged('WARN', `12/${REGION.x1}/${REGION.y0 + 2}`, ignored)).toBe(true);
    // No crash, no dead letter, no aggregator failure.
    expect(logs).not.toMatch(/crashed|handler: /);
    expect(fs.loop.stats.deadLetters - before.deadLetters).toBe(0);
    expect(fs.loop.stats.aggregatorErrors - before.aggregatorErrors).toBe(0);
    expect(fs.manifestPuts(id)).toBe(1);
    console.log(
      `garbage tiles: ${run.manifest.tiles} tiles, ${run.manifest.tiles_failed} error records, ${fs.loop.stats.retried - before.retried} SQS retries, ` +
        `requests: 500 twice ${requests('500 twice')}, timeout ${requests('timeout')}, stalled ${requests('stalled body')}, cut ${requests('cut body')}`,
    );
  });

  it('a 5 MB chunked body is refused while reading (an error record), not buffered', async () => {
    const tile = tilesOf('good')[0];
    const s = spec('run=huge', { x0: tile.x, y0: tile.y, x1: tile.x, y1: tile.y });
    const id = runId(s);
    await fs.submit(s);
    await fs.waitForManifest(id);
    const { manifest } = await fs.load(id);
    expect(manifest.errors).toEqual([{ ...tile, stage: 'tile', message: expect.stringMatching(/body larger than 4194304 bytes is not a tile/) }]);
  });

  it('TILES_TIMEOUT_MS sets the HTTP timeout; a bad value is refused', () => {
    expect(httpTimeoutMs({})).toBe(30_000);
    expect(httpTimeoutMs({ TILES_TIMEOUT_MS: '250' })).toBe(250);
    for (const bad of ['0', '-5', '1.5', 'soon']) expect(() => httpTimeoutMs({ TILES_TIMEOUT_MS: bad })).toThrow('TILES_TIMEOUT_MS must be a positive integer');
  });

  it('a lying 60000×60000 header is refused from the header: no memory spent', () => {
    const rss = process.memoryUsage().rss;
    const started = performance.now();
    expect(() => gladDecoder.decode(BOMB, ALL_DAYS, { z: Z, x: 0, y: 0 })).toThrow('image is 60000x60000, expected 256x256');
    expect(() => gladDecoder.decode(BIG, ALL_DAYS, { z: Z, x: 0, y: 0 })).toThrow('image is 4096x4096, expected 256x256');
    expect(performance.now() - started).toBeLessThan(50);
    expect(process.memoryUsage().rss - rss).toBeLessThan(20 * 1024 * 1024);
  });
});
