// The real Lambda handlers, driven with real AWS SDK v3 clients against s3rver (S3) and dynalite
// (DynamoDB) on 127.0.0.1. Handlers find them exactly as on Lambda: AWS_ENDPOINT_URL_* and
// SST_RESOURCE_* variables. Tiles come from a synthetic mosaic on disk (file:// template), and the
// expected clusters from calling runTile directly on the same tiles (same code as `npm run tile`).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { parquetWriteBuffer } from 'hyparquet-writer';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { handler as aggregate } from '../functions/aggregator.ts';
import { handler as consume } from '../functions/consumer.ts';
import { handler as deadLetter } from '../functions/deadletter.ts';
import { processPartialBatch } from '../core/store/batch.ts';
import { Logger } from '../core/store/log.ts';
import { clustersKey, errorKey, manifestKey, membersKey } from '../core/run/keys.ts';
import { Ledger, MANIFEST_LEASE_MS } from '../core/store/ledger.ts';
import { tileMessageBody, TILE_MAX_RECEIVES } from '../core/run/messages.ts';
import { INFO_KEY, readClusters, readClustersAndMembers, readClustersInfo, schemaColumn, type ClustersFileInfo } from '../core/run/parquet.ts';
import { summarizeClusters } from '../core/run/manifest.ts';
import { STORED_COLUMNS } from '../core/clusters/schema.ts';
import { runId, runTiles, validateRunParams } from '../core/run/params.ts';
import type { RunSpec } from '../core/run/params.ts';
import { fileTileSource } from '../core/store/tile-sources.ts';
import { writeSyntheticMosaic } from '../local/synthetic.ts';
import { runTile } from '../core/clusters/tile-job.ts';
import type { Manifest } from '../core/run/types.ts';
import type { TileAddress } from '../core/tiles/types.ts';
import type { TileResult } from '../core/clusters/types.ts';
import { CREDENTIALS, REGION, setHandlerEnv, startDynalite, startS3rver, type Dynamo, type S3Emulator } from './pipeline-emulators.ts';

const BUCKET = 'glad-results';
const TABLE = 'glad-ledger';
const Z = 12;
/** A 3 × 2 block of tiles; one is corrupt, some have no alerts at all (no file). */
const MOSAIC = { z: Z, x0: 1360, y0: 2100, x1: 1362, y1: 2101, seed: 11, density: 1500, corrupt: [{ z: Z, x: 1362, y: 2101 }] };
const CORRUPT = MOSAIC.corrupt[0];

let s3: S3Emulator;
let dynamo: Dynamo;
let client: S3Client;
let tilesDir: string;
let template: string;
let events: { Records: { s3: { object: { key: string } } }[] }[] = [];

beforeAll(async () => {
  [s3, dynamo] = await Promise.all([startS3rver([BUCKET]), startDynalite()]);
  await dynamo.createTable(TABLE);
  setHandlerEnv(s3, dynamo, { bucket: BUCKET, table: TABLE });
  s3.server.on('event', (event) => events.push(event));
  client = new S3Client({ endpoint: s3.endpoint, region: REGION, credentials: CREDENTIALS, forcePathStyle: true });
  tilesDir = mkdtempSync(join(tmpdir(), 'glad-tiles-'));
  await writeSyntheticMosaic(tilesDir, MOSAIC);
  template = `${pathToFileURL(tilesDir).href}/{z}/{x}/{y}.png`;
});

afterAll(async () => {
  client?.destroy();
  await Promise.all([s3?.stop(), dynamo?.stop()]);
  if (tilesDir) rmSync(tilesDir, { recursive: true, force: true });
});

// ---------- helpers ----------

function makeRun(overrides: Record<string, unknown> = {}): { spec: RunSpec; id: string; tiles: TileAddress[] } {
  const spec = validateRunParams({
    z: Z,
    region: { kind: 'tiles', x0: MOSAIC.x0, y0: MOSAIC.y0, x1: MOSAIC.x1, y1: MOSAIC.y1 },
    tiles_url: template,
    dataset: 'glad-2018', // the mosaic's encoding
    width: 3,
    min_count: 10,
    ...overrides,
  });
  return { spec, id: runId(spec), tiles: runTiles(spec) };
}

let messageCounter = 0;
function sqsRecord(body: string, receives = 1): SQSRecord {
  const messageId = `msg-${++messageCounter}`;
  return {
    messageId,
    receiptHandle: `rh-${messageId}`,
    body,
    attributes: { ApproximateReceiveCount: String(receives), SentTimestamp: '0', SenderId: 'test', ApproximateFirstReceiveTimestamp: '0' },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:glad-tiles',
    awsRegion: REGION,
  };
}
const sqsEvent = (...records: SQSRecord[]): SQSEvent => ({ Records: records });

async function getBytes(key: string): Promise<Uint8Array | null> {
  try {
    const out = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    return await out.Body!.transformToByteArray();
  } catch (error) {
    if ((error as Error).name === 'NoSuchKey') return null;
    throw error;
  }
}
const getJson = async (key: string) => {
  const bytes = await getBytes(key);
  return bytes ? JSON.parse(new TextDecoder().decode(bytes)) : null;
};
async function listKeys(prefix: string): Promise<string[]> {
  const out = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
  return (out.Contents ?? []).map((o) => o.Key!).sort();
}

/** s3rver emits its event right after answering: let it land. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

/** The S3 events (one record each) of result keys under a run, in the order they were emitted. */
function resultEvents(runPrefix: string) {
  return events.filter((e) => {
    const key = e.Records[0].s3.object.key;
    return key.startsWith(runPrefix) && (key.endsWith('/clusters.parquet') || key.endsWith('/error.json'));
  });
}

const direct = new Map<string, Promise<TileResult>>();
/** What `npm run tile` gives for this tile (the reference the stored files must match). */
function expected(spec: RunSpec, tile: TileAddress): Promise<TileResult> {
  const key = `${JSON.stringify(spec)}|${tile.x}/${tile.y}`;
  if (!direct.has(key)) direct.set(key, runTile(tile, spec, fileTileSource(template)));
  return direct.get(key)!;
}

const isCorrupt = (t: TileAddress) => t.x === CORRUPT.x && t.y === CORRUPT.y;

// ---------- consumer ----------

describe('consumer', () => {
  it('writes one object, clusters.parquet with its members, equal to runTile for a tile with alerts', async () => {
    const { spec, id, tiles } = makeRun();
    // The tile of the block with the most clusters (not the corrupt one).
    const results = await Promise.all(tiles.filter((t) => !isCorrupt(t)).map(async (t) => ({ t, r: await expected(spec, t) })));
    const { t: tile, r: reference } = results.sort((a, b) => b.r.nb_clusters - a.r.nb_clusters)[0];
    expect(reference.nb_clusters).toBeGreaterThan(0);

    events = [];
    const response = await consume(sqsEvent(sqsRecord(tileMessageBody(spec, tile))));
    expect(response.batchItemFailures).toEqual([]);
    await settle();

    const { rows, members } = await readClustersAndMembers((await getBytes(clustersKey(id, tile)))!);
    expect(rows).toHaveLength(reference.nb_clusters);
    rows.forEach((row, k) => {
      const { alerts: _alerts, ...fields } = reference.clusters[k];
      expect(row).toMatchObject({ run_id: id, ...fields });
      expect(row.geometry.type).toBe('Polygon');
    });
    // Result format 2: each row's members in its list columns, no members.parquet.
    expect(members).toEqual(reference.clusters.map((c) => c.alerts));
    const order = events.map((e) => e.Records[0].s3.object.key);
    expect(order).toEqual([clustersKey(id, tile)]);
    expect(await getBytes(membersKey(id, tile))).toBeNull();
    expect(await getBytes(errorKey(id, tile))).toBeNull();
  });

  it('a tile without alerts writes no object: the consumer records it in the ledger (once), and completes its run', async () => {
    const { spec, id } = makeRun();
    const tile = { z: Z, x: 5, y: 5 }; // far outside the mosaic: no file, no alerts
    const { spec: single, id: singleId } = makeRun({ region: { kind: 'tile', x: tile.x, y: tile.y } });
    expect(singleId).not.toBe(id);
    expect(spec.tiles_url).toBe(single.tiles_url);
    events = [];
    const response = await consume(sqsEvent(sqsRecord(tileMessageBody(single, tile))));
    expect(response.batchItemFailures).toEqual([]);
    // The run's only tile: its record completed the run, and the consumer wrote the manifest.
    expect(await listKeys(`runs/${singleId}/`)).toEqual([manifestKey(singleId)]);
    const manifest = (await getJson(manifestKey(singleId))) as Manifest;
    expect(manifest).toMatchObject({ format: 2, tiles: 1, tiles_empty: 1, tiles_with_clusters: 0, tiles_failed: 0, results: [] });
    // A redelivery changes nothing: counted once, one manifest.
    expect((await consume(sqsEvent(sqsRecord(tileMessageBody(single, tile), 2)))).batchItemFailures).toEqual([]);
    await settle();
    expect(events.map((e) => e.Records[0].s3.object.key)).toEqual([manifestKey(singleId)]);
    const ledger = new Ledger(dynamo.doc, TABLE);
    expect(await ledger.progress(singleId)).toMatchObject({ tiles: 1, finished: 1, failed: 0 });
  });

  it('a corrupt tile becomes error.json (stage tile) and no clusters file', async () => {
    const { spec, id } = makeRun();
    await expect(expected(spec, CORRUPT)).rejects.toThrow(); // runTile itself refuses the tile
    const response = await consume(sqsEvent(sqsRecord(tileMessageBody(spec, CORRUPT))));
    expect(response.batchItemFailures).toEqual([]);
    const record = await getJson(errorKey(id, CORRUPT));
    expect(record).toMatchObject({ run_id: id, ...CORRUPT, stage: 'tile', params: spec });
    expect(record.message.length).toBeGreaterThan(0);
    expect(await getBytes(clustersKey(id, CORRUPT))).toBeNull();
  });

  it('malformed messages become error records and are never retried', async () => {
    const { spec, id } = makeRun({ min_count: 11 });
    const tile = { z: Z, x: MOSAIC.x0, y: MOSAIC.y0 };
    const good = JSON.parse(tileMessageBody(spec, tile));
    const notJson = sqsRecord('{{{ not json');
    const badParams = sqsRecord(JSON.stringify({ ...good, params: { ...spec, width: -3 } }));
    const badTile = sqsRecord(JSON.stringify({ ...good, tile: { z: Z, x: -1, y: 0 } }));
    const before = await listKeys('errors/unroutable/');
    const response = await consume(sqsEvent(notJson, badParams, badTile));
    expect(response.batchItemFailures).toEqual([]);
    // No run id: dropped to errors/unroutable/.
    const unroutable = (await listKeys('errors/unroutable/')).filter((k) => !before.includes(k));
    expect(unroutable).toHaveLength(1);
    expect(unroutable[0]).toMatch(new RegExp(`${notJson.messageId}\\.json$`));
    expect(await getJson(unroutable[0])).toMatchObject({ message: 'message body is not JSON', body: '{{{ not json' });
    // Run id and tile readable: the tile's error.json, so the run can still complete.
    expect(await getJson(errorKey(id, tile))).toMatchObject({ stage: 'message', message: expect.stringMatching(/params\.width/) });
    // Run id readable, tile not: under the run, outside the tiles.
    expect(await getJson(`runs/${id}/messages/${badTile.messageId}.json`)).toMatchObject({ stage: 'message', message: expect.stringMatching(/x/) });
  });

  it("a batch's messages of one run read each tile once (neighbours shared), with the results of runTile", async () => {
    // The mosaic's files over HTTP, each request counted.
    const requests = new Map<string, number>();
    const server: Server = createServer((req, res) => {
      requests.set(req.url!, (requests.get(req.url!) ?? 0) + 1);
      try {
        res.end(readFileSync(join(tilesDir, req.url!)));
      } catch {
        res.statusCode = 404;
        res.end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/{z}/{x}/{y}.png`;
      const good = makeRun().tiles.filter((t) => !isCorrupt(t));
      // One message a batch (another run, so that its results do not stand in for the next ones).
      const single = makeRun({ tiles_url: url, min_count: 12 });
      for (const t of good) expect((await consume(sqsEvent(sqsRecord(tileMessageBody(single.spec, t))))).batchItemFailures).toEqual([]);
      const readAlone = [...requests.values()].reduce((a, b) => a + b, 0);
      requests.clear();
      const { spec, id } = makeRun({ tiles_url: url, min_count: 11 });
      const response = await consume(sqsEvent(...good.map((t) => sqsRecord(tileMessageBody(spec, t)))));
      expect(response.batchItemFailures).toEqual([]);
      // Each tile requested once in the batch, where one message a batch read neighbours again.
      expect([...requests.values()].every((n) => n === 1)).toBe(true);
      expect(requests.size).toBeLessThan(readAlone);
      for (const t of good) {
        const reference = await expected({ ...spec, tiles_url: template }, t);
        if (reference.nb_clusters === 0) continue;
        const { rows } = await readClustersAndMembers((await getBytes(clustersKey(id, t)))!);
        expect(rows.map((r) => [r.count, r.col, r.row])).toEqual(reference.clusters.map((c) => [c.count, c.col, c.row]));
      }
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('a transient tile-server failure retries only its own record (partial batch response)', async () => {
    const server: Server = createServer((_req, res) => {
      res.statusCode = 503;
      res.end('busy');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    try {
      const flaky = makeRun({ tiles_url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/{z}/{x}/{y}.png` });
      const fine = makeRun({ min_count: 12 });
      const tile = { z: Z, x: MOSAIC.x0, y: MOSAIC.y0 };
      const retry = sqsRecord(tileMessageBody(flaky.spec, tile));
      const ok = sqsRecord(tileMessageBody(fine.spec, tile));
      const response = await consume(sqsEvent(retry, ok));
      expect(response.batchItemFailures).toEqual([{ itemIdentifier: retry.messageId }]);
      expect(await getBytes(errorKey(flaky.id, tile))).toBeNull(); // not recorded as failed
      expect(await getBytes(clustersKey(flaky.id, tile))).toBeNull();
      expect(await getBytes(clustersKey(fine.id, tile))).not.toBeNull();
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

// ---------- aggregator ----------

/** Runs every tile of a run through the consumer and returns the S3 events of its results. */
async function consumeRun(spec: RunSpec, id: string, tiles: TileAddress[]) {
  const response = await consume(sqsEvent(...tiles.map((t) => sqsRecord(tileMessageBody(spec, t)))));
  expect(response.batchItemFailures).toEqual([]);
  await settle();
  const found = resultEvents(`runs/${id}/`);
  expect(found).toHaveLength(tiles.length);
  return found;
}

/** The manifest we expect, from runTile called directly on every tile. */
async function expectedCounts(spec: RunSpec, tiles: TileAddress[]) {
  let withClusters = 0;
  let empty = 0;
  let failed = 0;
  let clusters = 0;
  let alerts = 0;
  for (const t of tiles) {
    const result = await expected(spec, t).catch(() => null);
    if (!result) failed++;
    else if (result.nb_clusters > 0) withClusters++;
    else empty++;
    clusters += result?.nb_clusters ?? 0;
    alerts += result?.clusters.reduce((s, c) => s + c.count, 0) ?? 0;
  }
  return { withClusters, empty, failed, clusters, alerts };
}

const manifestWrites = (id: string) => events.filter((e) => e.Records[0].s3.object.key === manifestKey(id)).length;

describe('aggregator', () => {
  it('counts each tile once even when events are delivered twice, and writes one manifest with exact counts', async () => {
    const { spec, id, tiles } = makeRun({ min_count: 15 });
    const ledger = new Ledger(dynamo.doc, TABLE);
    await ledger.createRun(id, spec, new Date('2026-01-01T00:00:00Z'));
    const runEvents = await consumeRun(spec, id, tiles);

    // Every event but the last, each delivered twice.
    for (const event of runEvents.slice(0, -1)) {
      await aggregate(event);
      await aggregate(event);
    }
    expect(await ledger.progress(id)).toMatchObject({ tiles: 6, finished: 5, manifest_key: null });
    expect(await getBytes(manifestKey(id))).toBeNull();

    await aggregate(runEvents.at(-1));
    await aggregate(runEvents.at(-1)); // a duplicate of the last event writes nothing more
    await settle();
    expect(manifestWrites(id)).toBe(1);

    const manifest: Manifest = await getJson(manifestKey(id));
    const want = await expectedCounts(spec, tiles);
    expect(want.failed).toBe(1);
    expect(manifest).toMatchObject({
      run_id: id,
      params: spec,
      tiles: 6,
      tiles_with_clusters: want.withClusters,
      tiles_empty: want.empty,
      tiles_failed: 1,
      created_at: '2026-01-01T00:00:00.000Z',
    });
    expect(manifest.totals).toMatchObject({ clusters: want.clusters, alerts: want.alerts });
    expect(manifest.errors).toEqual([{ ...CORRUPT, stage: 'tile', message: expect.any(String) }]);
    expect(manifest.results).toHaveLength(want.withClusters);
    for (const key of manifest.results) expect(await getBytes(key)).not.toBeNull();
    expect(await ledger.progress(id)).toMatchObject({ finished: 6, failed: 1, manifest_key: manifestKey(id) });
  });

  it('concurrent last tiles (and replays) still give exactly one manifest', async () => {
    const { spec, id, tiles } = makeRun({ min_count: 16 });
    // No createRun: the aggregator builds the run item from the params the files carry.
    const runEvents = await consumeRun(spec, id, tiles);
    // All events at once, each three times, in a shuffled order.
    const deliveries = [...runEvents, ...runEvents, ...runEvents].map((e, k) => ({ e, k: (k * 7) % 18 })).sort((a, b) => a.k - b.k);
    const outcomes = await Promise.allSettled(deliveries.map(({ e }) => aggregate(e)));
    await settle();
    expect(manifestWrites(id)).toBe(1);
    // An invocation that found the manifest being written fails (transiently) so Lambda retries it;
    // the retry finds the manifest done and writes nothing.
    const failed = deliveries.filter((_, k) => outcomes[k].status === 'rejected');
    for (const k of outcomes.keys()) {
      const o = outcomes[k];
      if (o.status === 'rejected') expect(String(o.reason)).toMatch(/manifest is being written by another invocation/);
    }
    await Promise.all(failed.map(({ e }) => aggregate(e)));
    await settle();
    expect(manifestWrites(id)).toBe(1);
    const manifest: Manifest = await getJson(manifestKey(id));
    const want = await expectedCounts(spec, tiles);
    expect(manifest.tiles_with_clusters + manifest.tiles_empty + manifest.tiles_failed).toBe(6);
    expect(manifest).toMatchObject({ tiles_with_clusters: want.withClusters, tiles_empty: want.empty, tiles_failed: want.failed });
    expect(manifest.totals).toMatchObject({ clusters: want.clusters, alerts: want.alerts });
  });

  it('a writer that crashed holding the manifest claim is taken over once its lease expires', async () => {
    const { spec, id, tiles } = makeRun({ min_count: 20, region: { kind: 'tiles', x0: MOSAIC.x0, y0: MOSAIC.y0, x1: MOSAIC.x0 + 1, y1: MOSAIC.y0 } });
    const ledger = new Ledger(dynamo.doc, TABLE);
    await ledger.createRun(id, spec);
    const runEvents = await consumeRun(spec, id, tiles);
    await aggregate(runEvents[0]);
    // A previous attempt claimed the manifest and died: its lease has 300 ms left.
    expect(await ledger.claimManifest(id, 'dead-attempt', new Date(Date.now() - MANIFEST_LEASE_MS + 300))).toBe('claimed');
    await expect(aggregate(runEvents[1])).rejects.toThrow(/manifest is being written by another invocation/);
    expect(await getBytes(manifestKey(id))).toBeNull();
    await new Promise((resolve) => setTimeout(resolve, 400));
    await aggregate(runEvents[1]); // Lambda's retry of the same event
    await settle();
    expect(manifestWrites(id)).toBe(1);
    expect(await getJson(manifestKey(id))).toMatchObject({ run_id: id, tiles: 2 });
  });

  it('ignores keys that are not tile results, and URL-decodes event keys', async () => {
    const { spec, id } = makeRun({ min_count: 17, region: { kind: 'tile', x: MOSAIC.x0, y: MOSAIC.y0 } });
    const tile = { z: Z, x: MOSAIC.x0, y: MOSAIC.y0 };
    await consume(sqsEvent(sqsRecord(tileMessageBody(spec, tile))));
    const record = (key: string) => ({ Records: [{ eventName: 'ObjectCreated:Put', s3: { bucket: { name: BUCKET }, object: { key, sequencer: '01' } } }] });
    await aggregate(record(membersKey(id, tile)));
    await aggregate(record('errors/unroutable/x.json'));
    await aggregate({ Event: 's3:TestEvent' });
    const ledger = new Ledger(dynamo.doc, TABLE);
    expect(await ledger.progress(id)).toBeNull();
    // The same clusters key, percent-encoded as S3 may send it: recorded, and the 1-tile run completes.
    await aggregate(record(clustersKey(id, tile).replaceAll('/', '%2F')));
    expect(await ledger.progress(id)).toMatchObject({ tiles: 1, finished: 1 });
    expect(await getJson(manifestKey(id))).toMatchObject({ run_id: id, tiles: 1 });
  });
});

describe('aggregator reads the tile totals from the clusters file footer', () => {
  const tile = { z: Z, x: MOSAIC.x0, y: MOSAIC.y0 };
  const record = (key: string) => ({ Records: [{ eventName: 'ObjectCreated:Put', s3: { bucket: { name: BUCKET }, object: { key, sequencer: '01' } } }] });
  const round6 = (v: number) => Math.round(v * 1e6) / 1e6;

  /** A one-tile run consumed, and the totals of its clusters file's rows. */
  async function oneTileRun(minCount: number) {
    const { spec, id } = makeRun({ min_count: minCount, region: { kind: 'tile', x: tile.x, y: tile.y } });
    await consume(sqsEvent(sqsRecord(tileMessageBody(spec, tile))));
    const bytes = (await getBytes(clustersKey(id, tile)))!;
    const rows = await readClusters(bytes);
    expect(rows.length).toBeGreaterThan(1);
    return { id, bytes, rows, fromRows: summarizeClusters(rows) };
  }

  /** Rewrites the tile's clusters file with the same rows and another `glad_clusters` entry. */
  async function rewriteInfo(id: string, rows: Awaited<ReturnType<typeof readClusters>>, info: ClustersFileInfo) {
    const columnData = STORED_COLUMNS.map((name) => schemaColumn(name, rows.map((r) => r[name as keyof typeof r])));
    columnData.push({ name: 'geometry', type: 'GEOMETRY', data: rows.map((r) => r.geometry), nullable: false });
    const body = new Uint8Array(parquetWriteBuffer({ columnData, kvMetadata: [{ key: INFO_KEY, value: JSON.stringify(info) }] }));
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: clustersKey(id, tile), Body: body }));
  }

  it('gives the same totals as summing the rows', async () => {
    const { id, bytes, fromRows } = await oneTileRun(18);
    // The cluster totals are the rows' sums; the tile's own alerts (region_alerts) are not in the rows.
    const { region_alerts: regionAlerts, ...clusterTotals } = readClustersInfo(bytes).totals!;
    expect(clusterTotals).toEqual(fromRows);
    expect(regionAlerts).toBeGreaterThan(0);
    await aggregate(record(clustersKey(id, tile)));
    const manifest: Manifest = await getJson(manifestKey(id));
    expect(manifest.totals).toEqual({ ...fromRows, hectares: round6(fromRows.hectares), region_alerts: regionAlerts });
  });

  it('takes the footer, not the rows: a footer that disagrees with the rows wins', async () => {
    const { id, bytes, rows } = await oneTileRun(19);
    const info = readClustersInfo(bytes);
    const forged = { clusters: 1234, alerts: 5678, hectares: 9.5, first_date: '2001-01-01', last_date: '2002-02-02' };
    await rewriteInfo(id, rows, { ...info, totals: forged });
    await aggregate(record(clustersKey(id, tile)));
    expect((await getJson(manifestKey(id))).totals).toEqual(forged);
  });

  it('a file written before the totals were in the footer: sums its rows', async () => {
    const { id, bytes, rows, fromRows } = await oneTileRun(21);
    const { totals: _totals, ...old } = readClustersInfo(bytes);
    await rewriteInfo(id, rows, old);
    await aggregate(record(clustersKey(id, tile)));
    expect((await getJson(manifestKey(id))).totals).toEqual({ ...fromRows, hectares: round6(fromRows.hectares) });
  });
});

// ---------- dead-letter ----------

describe('deadletter', () => {
  it('turns a dead-lettered tile message into error.json (stage dead-letter), which completes the run', async () => {
    const { spec, id } = makeRun({ min_count: 18, region: { kind: 'tile', x: MOSAIC.x0 + 1, y: MOSAIC.y0 } });
    const tile = { z: Z, x: MOSAIC.x0 + 1, y: MOSAIC.y0 };
    events = [];
    // As the DLQ delivers it: its receive count (5) also counts the move, not only the 3 tries.
    const response = await deadLetter(sqsEvent(sqsRecord(tileMessageBody(spec, tile), 5)));
    expect(response.batchItemFailures).toEqual([]);
    const record = await getJson(errorKey(id, tile));
    expect(record).toMatchObject({ stage: 'dead-letter', params: spec });
    expect(record.message).toBe(`message failed ${TILE_MAX_RECEIVES} deliveries (the queue's maxReceiveCount) and was dead-lettered`);
    await settle();
    for (const event of resultEvents(`runs/${id}/`)) await aggregate(event);
    const manifest: Manifest = await getJson(manifestKey(id));
    expect(manifest).toMatchObject({ tiles: 1, tiles_failed: 1, errors: [{ ...tile, stage: 'dead-letter' }] });
  });

  it('leaves a tile alone when its clusters.parquet already exists', async () => {
    const { spec, id } = makeRun({ min_count: 19, region: { kind: 'tile', x: MOSAIC.x0, y: MOSAIC.y0 + 1 } });
    const tile = { z: Z, x: MOSAIC.x0, y: MOSAIC.y0 + 1 };
    await consume(sqsEvent(sqsRecord(tileMessageBody(spec, tile))));
    const response = await deadLetter(sqsEvent(sqsRecord(tileMessageBody(spec, tile), 3)));
    expect(response.batchItemFailures).toEqual([]);
    expect(await getBytes(errorKey(id, tile))).toBeNull();
  });
});

// ---------- partial batches and structured logs ----------

/** The JSON lines written through console[method] while `action` runs. */
async function jsonLogs(method: 'log' | 'warn' | 'error', action: () => Promise<unknown>): Promise<Record<string, unknown>[]> {
  const spy = vi.spyOn(console, method).mockImplementation(() => undefined);
  try {
    await action();
    return spy.mock.calls.map((call) => JSON.parse(String(call[0])));
  } finally {
    spy.mockRestore();
  }
}

describe('partial batches and logs', () => {
  it('retries exactly the records whose handler throws, and logs each with the keys its handler added', async () => {
    const records = [sqsRecord('ok'), sqsRecord('throttled'), sqsRecord('broken'), sqsRecord('ok')];
    const seen: string[] = [];
    let response;
    const warnings = await jsonLogs('warn', async () => {
      const errors = await jsonLogs('error', async () => {
        response = await processPartialBatch(sqsEvent(...records), async (record, log) => {
          seen.push(record.messageId);
          log.append({ run_id: 'r-0123456789abcdef', tile: { z: 12, x: 1, y: 2 } });
          if (record.body === 'throttled') throw Object.assign(new Error('slow down'), { name: 'ThrottlingException' });
          if (record.body === 'broken') throw new Error('bucket denied');
        }, new Logger({ stage: 'tile' }));
      });
      expect(errors).toEqual([
        expect.objectContaining({ level: 'ERROR', message: 'will retry: bucket denied', message_id: records[2].messageId, run_id: 'r-0123456789abcdef', tile: '12/1/2', stage: 'tile' }),
      ]);
    });
    expect(seen).toEqual(records.map((r) => r.messageId)); // in order, one at a time
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: records[1].messageId }, { itemIdentifier: records[2].messageId }] });
    expect(warnings).toEqual([expect.objectContaining({ level: 'WARN', message: 'will retry: slow down', message_id: records[1].messageId, tile: '12/1/2' })]);
  });

  it('a batch whose every record fails is answered, not thrown (each record is retried)', async () => {
    const records = [sqsRecord('a'), sqsRecord('b')];
    await jsonLogs('error', async () => {
      const response = await processPartialBatch(sqsEvent(...records), async () => {
        throw new Error('no');
      }, new Logger());
      expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(records.map((r) => r.messageId));
    });
  });

  it("the consumer's log of a corrupt tile is one JSON line naming the run, the tile and the stage", async () => {
    const { spec, id } = makeRun({ min_count: 21 });
    const errors = await jsonLogs('error', () => consume(sqsEvent(sqsRecord(tileMessageBody(spec, CORRUPT)))));
    expect(errors).toEqual([expect.objectContaining({ level: 'ERROR', run_id: id, tile: `${CORRUPT.z}/${CORRUPT.x}/${CORRUPT.y}`, stage: 'tile', message: expect.any(String) })]);
  });
});
