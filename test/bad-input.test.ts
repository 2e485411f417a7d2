// Bad input, end to end: every bad region, zoom, date, size, run id, template, message or event gets
// a clear one-line error, and nothing is written outside the run's own prefix. Three levels:
//   1. the pure validators (core/run/params.ts, core/run/keys.ts, core/run/messages.ts);
//   2. `npm run enqueue` as a child process (one line on stderr, exit 1);
//   3. the real consumer and aggregator handlers against s3rver + dynalite, fed forged messages and
//      events; afterwards every object in the bucket is listed and checked.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as aggregate } from '../functions/aggregator.ts';
import { handler as consume } from '../functions/consumer.ts';
import { Ledger, shardCount, shardOf, shardPk } from '../core/store/ledger.ts';
import { clustersKey, decodeS3Key, errorKey, manifestKey, messageErrorKey, parseResultKey, runPrefix, tilePrefix } from '../core/run/keys.ts';
import { MAX_MESSAGE_BYTES, MAX_S3_RECORDS, parseErrorRecord, parseS3Event, parseTileMessage, tileMessageBody } from '../core/run/messages.ts';
import {
  checkRunSize, parseRunSpec, regionNotes, runId, runTileCount, runTiles, tileIndex, tileInRun, validateRunParams,
  type Region, type RunSpec,
} from '../core/run/params.ts';
import { MAX_LATITUDE } from '../core/tiles/grid.ts';
import { CREDENTIALS, REGION, setHandlerEnv, startDynalite, startS3rver, type Dynamo, type S3Emulator } from './pipeline-emulators.ts';
import { cleanEnv, runScript, type ScriptResult } from './run-script.ts';

const URL = 'https://tiles.example/{z}/{x}/{y}.png';
const base = { z: 12, region: { kind: 'tiles', x0: 1331, y0: 2162, x1: 1332, y1: 2163 }, tiles_url: URL };

describe('run parameters', () => {
  it.each([
    [{ ...base, z: 40 }, /^z: must be an integer in 0\.\.22$/],
    [{ ...base, z: -1 }, /^z: must be an integer in 0\.\.22$/],
    [{ ...base, z: 2.5 }, /^z: must be an integer in 0\.\.22$/],
    [{ ...base, z: '12' }, /^z: must be an integer in 0\.\.22$/],
    [{ region: base.region, tiles_url: URL }, /^z: required$/],
    [{ ...base, start_date: '2019-02-29' }, /^start_date: "2019-02-29" is not a valid YYYY-MM-DD date$/],
    [{ ...base, end_date: '2020-13-01' }, /^end_date: "2020-13-01" is not a valid YYYY-MM-DD date$/],
    [{ ...base, start_date: '2020-1-1' }, /not a valid YYYY-MM-DD date/],
    [{ ...base, start_date: '2020-06-01', end_date: '2020-01-01' }, /^end_date: must be after start_date \(2020-06-01\)$/],
    [{ ...base, start_date: '2020-06-01', end_date: '2020-06-01' }, /^end_date: must be after start_date/],
    [{ ...base, region: { kind: 'tiles', x0: 5, y0: 0, x1: 4, y1: 0 } }, /^x0=5 is greater than x1=4 \(for a region across the antimeridian give a lon\/lat box with west > east\)$/],
    [{ ...base, region: { kind: 'tiles', x0: 0, y0: 9, x1: 0, y1: 3 } }, /^y0=9 is greater than y1=3$/],
    [{ ...base, region: { kind: 'bbox', west: 10, south: 5, east: 11, north: 4 } }, /^south=5 is north of north=4$/],
    [{ ...base, region: { kind: 'bbox', west: 10, south: -91, east: 11, north: 4 } }, /^region\.south: /],
    [{ ...base, region: { kind: 'bbox', west: 181, south: 0, east: 182, north: 4 } }, /^region\.west: /],
    [{ ...base, region: { kind: 'point', lon: 0, lat: Number.NaN } }, /^region\.lat: must be a latitude$/],
    [{ ...base, region: { kind: 'tile', x: 4096, y: 0 } }, /^x=4096 is out of range 0\.\.4095 at z=12$/],
    [{ ...base, region: { kind: 'tile', x: -1, y: 0 } }, /^region\.x: must be an integer >= 0$/],
    [{ ...base, tiles_url: 'https://x/{x}/{y}.png' }, /^tiles_url: tiles URL template "https:\/\/x\/\{x\}\/\{y\}\.png" lacks \{z\}$/],
    [{ ...base, tiles_url: 'https://x/{z}/{x}/{y}/{t}.png' }, /unknown placeholder \{t\}/],
    [{ ...base, tiles_url: 'https://x/{z}/{x}/{y}.png\nX-Injected: 1' }, /^tiles_url: must not contain control characters/],
    [{ ...base, tiles_url: `https://x/${'a'.repeat(2100)}/{z}/{x}/{y}.png` }, /^tiles_url: must be at most 2048 characters$/],
    [{ ...base, tiles_url: 'gopher://x/{z}/{x}/{y}' }, /unsupported scheme gopher/],
    [{ ...base, tiles_url: 'https://user:secret@x/{z}/{x}/{y}.png' }, /^tiles_url: must not contain credentials \(user:password@\)/],
  ])('%j → one line', (input, message) => {
    let error: Error | undefined;
    try {
      validateRunParams(input);
    } catch (e) {
      error = e as Error;
    }
    expect(error?.message).toMatch(message);
    expect(error?.message).not.toContain('\n');
  });

  it('a box crossing the antimeridian wraps its columns: one run, tiles on both sides, numbered 0..n-1', () => {
    const region = { kind: 'bbox', west: 170, south: -20, east: -170, north: -10 } as const;
    const spec = validateRunParams({ ...base, z: 6, region });
    // 64 columns at z6, 5.625° each: 170° is in column 62, -170° ends column 1 (exclusive edge at -168.75).
    expect(spec.region).toEqual({ z: 6, x0: 62, y0: 33, x1: 1, y1: 35 });
    expect(runTileCount(spec)).toBe(4 * 3);
    const tiles = runTiles(spec);
    expect(tiles.slice(0, 4).map((t) => t.x)).toEqual([62, 63, 0, 1]);
    expect(tiles.map((t) => tileIndex(spec, t))).toEqual(tiles.map((_, k) => k));
    expect(tileInRun(spec, { z: 6, x: 2, y: 33 })).toBe(false);
    expect(tileInRun(spec, { z: 6, x: 61, y: 33 })).toBe(false);
    expect(() => tileIndex(spec, { z: 6, x: 32, y: 34 })).toThrow(/outside the run's region/);
    expect(regionNotes(region, spec)).toEqual(['region crosses the antimeridian: columns x 62..63 and 0..1 at z=6']);
    // The wrapped spec travels in messages and parses back; a message for a tile across the line is accepted.
    expect(parseRunSpec(JSON.parse(JSON.stringify(spec)))).toEqual(spec);
    const parsed = parseTileMessage(tileMessageBody(spec, { z: 6, x: 0, y: 34 }));
    expect(parsed.kind).toBe('ok');
    // The same box not crossing (west < east) is a different, much larger run.
    const wide = validateRunParams({ ...base, z: 6, region: { kind: 'bbox', west: -170, south: -20, east: 170, north: -10 } });
    expect(runTileCount(wide)).toBe(62 * 3); // columns 1..62
    expect(runId(wide)).not.toBe(runId(spec));
  });

  it('±180 edges do not make a box cross; boxes whose parts meet cover the whole row', () => {
    const at = (west: number, east: number) =>
      validateRunParams({ ...base, z: 3, region: { kind: 'bbox', west, south: 0, east, north: 10 } }).region;
    expect(at(170, -180)).toMatchObject({ x0: 7, x1: 7 });
    expect(at(180, -170)).toMatchObject({ x0: 0, x1: 0 });
    expect(at(10, 5)).toMatchObject({ x0: 0, x1: 7 });
  });

  it('latitudes beyond ±85.0511 are clamped to the web-mercator limit, and said so', () => {
    const notes = (region: Region) => regionNotes(region, validateRunParams({ ...base, z: 4, region }));
    const box: Region = { kind: 'bbox', west: 0, south: -89, east: 20, north: 90 };
    expect(validateRunParams({ ...base, z: 4, region: box }).region).toMatchObject({ y0: 0, y1: 15 });
    expect(notes(box)).toEqual(['latitude -89 and 90 clamped to ±85.0511 (web-mercator tiles end there)']);
    const point: Region = { kind: 'point', lon: 0, lat: 88 };
    expect(validateRunParams({ ...base, z: 4, region: point }).region).toMatchObject({ y0: 0, y1: 0 });
    expect(notes(point)[0]).toMatch(/^latitude 88 clamped/);
    expect(notes({ kind: 'point', lon: 0, lat: MAX_LATITUDE })).toEqual([]);
  });

  it('a run over the size limit is refused with its count and the flag that lifts the limit', () => {
    const spec = validateRunParams({ ...base, region: { kind: 'tiles', x0: 0, y0: 0, x1: 261, y1: 199 } });
    expect(runTileCount(spec)).toBe(52_400);
    expect(() => checkRunSize(spec)).toThrow(/^region has 52,400 tiles, over the limit of 10,000: pass --max-tiles 52400 to run it anyway$/);
    expect(() => checkRunSize(spec, 60_000)).not.toThrow();
    expect(() => checkRunSize(spec, 52_400)).not.toThrow();
    expect(() => checkRunSize(spec, 52_399)).toThrow(/over the limit of 52,399/);
  });
});

describe('keys: no traversal, no injection', () => {
  const tile = { z: 12, x: 1331, y: 2162 };
  it.each(['../../etc', 'r-0123456789abcdef/../x', 'r-0123456789abcdef%2F..', 'r-0123456789abcdef\n', 'R-0123456789ABCDEF', 'r-0123456789abcde', ''])(
    'run id %j is refused by every key builder',
    (id) => {
      expect(() => runPrefix(id)).toThrow(/is not of the form r-<16 hex digits>/);
      expect(() => clustersKey(id, tile)).toThrow(/is not of the form/);
      expect(() => messageErrorKey(id, 'm')).toThrow(/is not of the form/);
    },
  );

  it('tiles outside the grid or not integers are refused', () => {
    const id = 'r-0123456789abcdef';
    for (const bad of [{ z: 23, x: 0, y: 0 }, { z: 12, x: 4096, y: 0 }, { z: 12, x: -1, y: 0 }, { z: 12, x: 1.5, y: 0 }, { z: 12, x: Number.NaN, y: 0 }]) {
      expect(() => tilePrefix(id, bad)).toThrow(/out of range/);
    }
    expect(() => errorKey(id, { z: 12, x: '1/../2' as unknown as number, y: 0 })).toThrow(/out of range/);
  });

  it('message ids keep only [A-Za-z0-9_-]', () => {
    expect(messageErrorKey('r-0123456789abcdef', '../../x\n%2Fy')).toBe('runs/r-0123456789abcdef/messages/x2Fy.json');
    expect(messageErrorKey('r-0123456789abcdef', '../..')).toBe('runs/r-0123456789abcdef/messages/unknown.json');
  });

  it('event keys: traversal decodes to a key no result parser accepts; broken encoding is one line', () => {
    const id = 'r-0123456789abcdef';
    expect(parseResultKey(decodeS3Key(`runs/${id}/tiles/12/1/2/..%2F..%2F..%2Fclusters.parquet`))).toBeNull();
    expect(parseResultKey(decodeS3Key(`runs%2F${id}%2Ftiles%2F12%2F1%2F2%2Fclusters.parquet`))).not.toBeNull(); // same key, just encoded
    expect(parseResultKey(`runs/${id}/tiles/12/1/2/clusters.parquet\n`)).toBeNull();
    expect(parseResultKey(`runs/${id}/tiles/12/0001/2/clusters.parquet`)).toBeNull();
    expect(parseResultKey(`runs/${id}/tiles/12/5000/2/clusters.parquet`)).toBeNull();
    expect(parseResultKey(`x/runs/${id}/tiles/12/1/2/clusters.parquet`)).toBeNull();
    expect(() => decodeS3Key('runs/%E0%A4%A/x')).toThrow(/^S3 key "runs\/%E0%A4%A\/x" is not valid URL encoding$/);
    expect(() => decodeS3Key(`runs/${'a'.repeat(1100)}`)).toThrow(/longer than 1024 bytes/);
  });
});

describe('messages and events: size caps and shapes', () => {
  const spec = validateRunParams(base);
  it('an oversized body is refused before parsing', () => {
    const body = JSON.stringify({ ...JSON.parse(tileMessageBody(spec, { z: 12, x: 1331, y: 2162 })), pad: 'x'.repeat(MAX_MESSAGE_BYTES) });
    expect(parseTileMessage(body)).toEqual({ kind: 'unroutable', error: `message body is ${Buffer.byteLength(body)} bytes, over the limit of ${MAX_MESSAGE_BYTES}` });
    // A real body is far below the cap.
    expect(Buffer.byteLength(tileMessageBody(spec, { z: 12, x: 1331, y: 2162 }))).toBeLessThan(1000);
  });

  it('an S3 event with too many records, or a too long key, is refused', () => {
    const record = (key: string) => ({ eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'b' }, object: { key } } });
    const many = { Records: Array.from({ length: MAX_S3_RECORDS + 1 }, (_, k) => record(`k${k}`)) };
    expect(parseS3Event(many)).toEqual({ records: [], errors: [`invalid S3 event: ${MAX_S3_RECORDS + 1} records, over the limit of ${MAX_S3_RECORDS}`] });
    const long = parseS3Event({ Records: [record('a'.repeat(4000)), record('ok')] });
    expect(long.records).toHaveLength(1);
    expect(long.errors).toEqual(['invalid S3 record 0: s3.object.key: must be a key of at most 1024 bytes']);
    for (const bad of [null, 'text', 42, { Records: 'no' }]) expect(parseS3Event(bad).errors[0]).toMatch(/^invalid S3 event: /);
  });

  it('an oversized error record is refused', () => {
    expect(() => parseErrorRecord(JSON.stringify({ message: 'x'.repeat(200_000) }))).toThrow(/^error record is \d+ bytes, over the limit of 196608$/);
  });
});

// ---------------------------------------------------------------- the enqueue CLI

async function enqueue(args: string[]): Promise<ScriptResult> {
  const localDir = mkdtempSync(join(tmpdir(), 'glad-bad-'));
  // No SST links and no AWS settings: without a local stack, a valid run fails at "no local stack".
  try {
    return await runScript('enqueue.ts', args, { env: { ...cleanEnv(), GLAD_LOCAL_DIR: localDir } });
  } finally {
    rmSync(localDir, { recursive: true, force: true });
  }
}

describe('npm run enqueue (child process)', () => {
  const T = ['--tiles-url', URL];
  it('refuses bad input with one line on stderr and exit 1', async () => {
    const cases: [string[], RegExp][] = [
      [['--xy', '1,2', '--z', '40', ...T], /^enqueue: --z must be an integer in 0\.\.22, got "40"$/],
      [['--xy', '1,2', '--start', '2019-02-29', ...T], /^enqueue: start_date: "2019-02-29" is not a valid YYYY-MM-DD date$/],
      [['--xy', '1,2', '--start', '2020-06-01', '--end', '2020-01-01', ...T], /^enqueue: end_date: must be after start_date \(2020-06-01\)$/],
      [['--bounds', '10,5,11,4', ...T], /^enqueue: south=5 is north of north=4$/],
      [['--tile-bounds', '9,0,3,0', ...T], /^enqueue: x0=9 is greater than x1=3/],
      [['--tile-bounds', '0,0,261,199', ...T], /^enqueue: region has 52,400 tiles, over the limit of 10,000: pass --max-tiles 52400 to run it anyway$/],
      [['--tile-bounds', '0,0,261,199', '--max-tiles', '50000', ...T], /^enqueue: region has 52,400 tiles, over the limit of 50,000/],
      [['--xy', '1,2', '--max-tiles', 'lots', ...T], /^enqueue: --max-tiles must be a whole number ≥ 1, got "lots"$/],
      [['--xy', '1,2', '--tiles-url', 'https://x/{x}/{y}.png'], /^enqueue: tiles_url: .* lacks \{z\}$/],
      [['--xy', '1,2', '--tiles-url', 'https://x/{z}/{x}/{y}\r\nHost: evil'], /^enqueue: tiles_url: must not contain control characters/],
      // Decimal only: no hex, no exponent, no binary (Number() would take them).
      [['--xy', '1,2', '--z', '0x0c', ...T], /^enqueue: --z must be a decimal number, got "0x0c"$/],
      [['--xy', '1,2', '--z', '1e1', ...T], /^enqueue: --z must be a decimal number, got "1e1"$/],
      [['--xy', '1,2', '--width', '0x10', ...T], /^enqueue: --width must be a decimal number, got "0x10"$/],
      [['--xy', '0b1,2', ...T], /^enqueue: --xy must be X,Y \(decimal numbers\), got "0b1,2"$/],
      [['--xy', '1,2', '--max-tiles', '0x10', ...T], /^enqueue: --max-tiles must be a whole number ≥ 1, got "0x10"$/],
      // Commander's own errors carry the script's prefix too.
      [['--xy', '1,2', '--nope', ...T], /^enqueue: unknown option '--nope'$/],
    ];
    const results = await Promise.all(cases.map(([args]) => enqueue(args)));
    results.forEach((result, k) => {
      expect(result.code, cases[k][0].join(' ')).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr.trimEnd().split('\n'), result.stderr).toHaveLength(1);
      expect(result.stderr.trimEnd()).toMatch(cases[k][1]);
    });
  }, 60_000);

  it('--max-tiles lifts the limit (the run then gets as far as looking for a stack)', async () => {
    const result = await enqueue(['--tile-bounds', '0,0,261,199', '--max-tiles', '60000', ...T]);
    expect(result.code).toBe(1);
    expect(result.stderr.trimEnd()).toBe('enqueue: no local stack: run `npm run dev` or `npm start`');
  }, 30_000);

  it('--info on a region over the size limit says so, with the flag that lifts it', async () => {
    const result = await enqueue(['--tile-bounds', '0,0,261,199', '--info', ...T]);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout).notes).toEqual(['52,400 tiles is over the limit of 10,000: sending it needs --max-tiles 52400']);
    const lifted = await enqueue(['--tile-bounds', '0,0,261,199', '--info', '--max-tiles', '60000', ...T]);
    expect(JSON.parse(lifted.stdout).notes).toBeUndefined();
  }, 30_000);

  it('--info reports the antimeridian wrap and the latitude clamp', async () => {
    const result = await enqueue(['--bounds', '179,80,-179,89', '--z', '8', '--info', ...T]);
    expect(result.code, result.stderr).toBe(0);
    const info = JSON.parse(result.stdout);
    expect(info.notes).toEqual([
      'latitude 89 clamped to ±85.0511 (web-mercator tiles end there)',
      'region crosses the antimeridian: columns x 255..255 and 0..0 at z=8',
    ]);
    expect(info.tile_bounds).toMatchObject({ z: 8, x0: 255, x1: 0, y0: 0 });
    expect(info.tiles).toBe(2 * (info.tile_bounds.y1 + 1));
    expect(info.lonlat_bounds.west).toBeGreaterThan(info.lonlat_bounds.east); // the box as given: west of the line to east of it
  }, 30_000);
});

// ---------------------------------------------------------------- the handlers

const BUCKET = 'glad-results';
const TABLE = 'glad-ledger';
let s3: S3Emulator;
let dynamo: Dynamo;
let client: S3Client;
const validSpec: RunSpec = validateRunParams({ ...base, tiles_url: 'file:///nonexistent-glad-tiles/{z}/{x}/{y}.png', min_count: 5 });
const VALID = runId(validSpec);

beforeAll(async () => {
  [s3, dynamo] = await Promise.all([startS3rver([BUCKET]), startDynalite()]);
  await dynamo.createTable(TABLE);
  setHandlerEnv(s3, dynamo, { bucket: BUCKET, table: TABLE });
  client = new S3Client({ endpoint: s3.endpoint, region: REGION, credentials: CREDENTIALS, forcePathStyle: true });
});

afterAll(async () => {
  client?.destroy();
  await Promise.all([s3?.stop(), dynamo?.stop()]);
});

async function allKeys(): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const out = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, ContinuationToken: token }));
    keys.push(...(out.Contents ?? []).map((o) => o.Key!));
    token = out.NextContinuationToken;
  } while (token);
  return keys.sort();
}

let counter = 0;
function record(body: string, messageId = `m-${++counter}`): SQSRecord {
  return {
    messageId, receiptHandle: `rh-${messageId}`, body,
    attributes: { ApproximateReceiveCount: '1', SentTimestamp: '0', SenderId: 'x', ApproximateFirstReceiveTimestamp: '0' },
    messageAttributes: {}, md5OfBody: '', eventSource: 'aws:sqs', eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:q', awsRegion: REGION,
  };
}

describe('handlers fed forged messages and events write nothing outside the run prefix', () => {
  it('consumer: every bad message becomes an error record under its own run, or errors/unroutable/', async () => {
    const good = JSON.parse(tileMessageBody(validSpec, { z: 12, x: 1331, y: 2162 }));
    const bodies = [
      JSON.stringify({ ...good, run_id: '../../evil' }),
      JSON.stringify({ ...good, run_id: `${VALID}/../../evil` }),
      JSON.stringify({ ...good, run_id: 'r-0123456789abcdef%2F..%2F..' }),
      JSON.stringify({ ...good, tile: { z: 12, x: '1331/../../..', y: 2162 } }),
      JSON.stringify({ ...good, tile: { z: 12, x: 1500, y: 2162 } }), // a tile of no run: run-error
      JSON.stringify({ ...good, params: { ...good.params, tiles_url: 'https://x/{z}/{x}/{y}\nevil' } }), // tile-error of the claimed run
      JSON.stringify({ ...good, run_id: 'r-0123456789abcdef' }), // params of another run: id mismatch
      JSON.stringify({ ...good, pad: 'x'.repeat(MAX_MESSAGE_BYTES) }),
      'not json',
      JSON.stringify([1, 2, 3]),
    ];
    const records = bodies.map((b, k) => record(b, k === 0 ? '../../../evil\nid' : undefined));
    const response = await consume({ Records: records });
    expect(response.batchItemFailures).toEqual([]); // bad messages are recorded, never retried

    const keys = await allKeys();
    const allowed = (key: string) => key.startsWith(`runs/${VALID}/`) || key.startsWith('runs/r-0123456789abcdef/') || key.startsWith('errors/unroutable/');
    expect(keys.filter((k) => !allowed(k))).toEqual([]);
    for (const key of keys) {
      expect(key).not.toMatch(/\.\.|%2F|\n|\/\//i);
      expect(key.length).toBeLessThan(200);
    }
    // Unroutable (no readable run id): 3 bad run ids, the oversized body, not JSON, an array. Run
    // errors (run id readable, no tile of the run): the string x and the tile outside the region.
    // Tile errors: the bad template, and the id that does not match its params (under the id it claims).
    expect(keys.filter((k) => k.startsWith('errors/unroutable/'))).toHaveLength(6);
    expect(keys.filter((k) => k.startsWith(`runs/${VALID}/messages/`))).toHaveLength(2);
    expect(keys).toContain(errorKey(VALID, { z: 12, x: 1331, y: 2162 }));
    expect(keys).toContain(errorKey('r-0123456789abcdef', { z: 12, x: 1331, y: 2162 }));
    // The traversal in the first message id is stripped to its letters.
    expect(keys.filter((k) => k.includes('evil'))).toEqual([expect.stringMatching(/^errors\/unroutable\/[0-9TZ-]+-evilid\.json$/)]);
  }, 30_000);

  it('aggregator: forged, undecodable, oversized and non-S3 events are dropped; the ledger records nothing', async () => {
    const event = (key: string, eventName = 'ObjectCreated:Put') => ({ Records: [{ eventName, s3: { bucket: { name: BUCKET }, object: { key } } }] });
    const before = await allKeys();
    const forged = [
      event(`runs/${VALID}/tiles/12/1331/2162/..%2F..%2F..%2F..%2Fmanifest.json`),
      event(`runs/${VALID}/tiles/12/1331/2162/%2E%2E/error.json`),
      event(`runs/%E0%A4%A/tiles/12/1/2/error.json`),
      event(`runs/${'r-0123456789abcdef'}/tiles/12/99999/2162/error.json`),
      event('a'.repeat(5000)),
      { Records: Array.from({ length: MAX_S3_RECORDS + 1 }, () => event(errorKey(VALID, { z: 12, x: 1331, y: 2162 })).Records[0]) },
      { Records: 'nope' },
      null,
      'string',
    ];
    for (const e of forged) await expect(aggregate(e)).resolves.toBeUndefined();
    expect(await allKeys()).toEqual(before);
    const items = await dynamo.doc.send(new ScanCommand({ TableName: TABLE }));
    expect(items.Items ?? []).toEqual([]);

    // The real error.json of the tile, delivered properly, is recorded (under its own run only).
    await new Ledger(dynamo.doc, TABLE).createRun(VALID, validSpec); // as enqueue does before sending
    await aggregate(event(errorKey(VALID, { z: 12, x: 1331, y: 2162 })));
    const shard = shardPk(VALID, shardOf(tileIndex(validSpec, { z: 12, x: 1331, y: 2162 }), shardCount(runTileCount(validSpec))));
    const recorded = await dynamo.doc.send(new ScanCommand({ TableName: TABLE }));
    expect((recorded.Items ?? []).map((i) => `${i.pk} ${i.sk}`).sort()).toEqual([`run#${VALID} run`, `${shard} shard`, `${shard} tile#12/1331/2162`]);
    expect(await allKeys()).toEqual(before);
  }, 30_000);

  it('a run across the antimeridian goes through the consumer: both sides counted, one manifest', async () => {
    const spec = validateRunParams({
      z: 12, region: { kind: 'bbox', west: 179.9, south: -16.2, east: -179.9, north: -16.1 }, tiles_url: 'file:///nonexistent-glad-tiles/{z}/{x}/{y}.png',
    });
    expect(spec.region).toMatchObject({ x0: 4094, x1: 1 });
    const id = runId(spec);
    const tiles = runTiles(spec);
    expect(tiles.filter((t) => t.y === spec.region.y0).map((t) => t.x)).toEqual([4094, 4095, 0, 1]);
    await new Ledger(dynamo.doc, TABLE).createRun(id, spec);
    const response = await consume({ Records: tiles.map((t) => record(tileMessageBody(spec, t))) });
    expect(response.batchItemFailures).toEqual([]);
    // Every tile is empty (no tile files): the consumer records each in the ledger (result format 2),
    // and the last one writes the manifest; there is no tile object for the aggregator.
    const out = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: manifestKey(id) }));
    const manifest = JSON.parse(await out.Body!.transformToString());
    expect(manifest).toMatchObject({ run_id: id, tiles: tiles.length, tiles_empty: tiles.length, tiles_failed: 0, params: { region: spec.region } });
    expect((await allKeys()).filter((k) => k.startsWith(`runs/${id}/`))).toEqual([manifestKey(id)]);
    // A stray result event (a format-1 object, say) changes nothing: the tile is already recorded.
    const event = (key: string) => ({ Records: [{ eventName: 'ObjectCreated:Put', s3: { bucket: { name: BUCKET }, object: { key } } }] });
    await aggregate(event(clustersKey(id, tiles[0])));
    expect(await new Ledger(dynamo.doc, TABLE).progress(id)).toMatchObject({ tiles: tiles.length, finished: tiles.length, failed: 0 });
  }, 30_000);
});
