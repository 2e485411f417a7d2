// Fault-injection tools for the reliability tests (test/faults-*.test.ts):
//   - startFaultStack: the local stack (emulators + the real handlers in the Lambda stand-in loop)
//     whose S3 traffic can go through a flaky proxy and whose S3 events pass through a `route`
//     the test controls (duplicate, reorder, hold back);
//   - startFlakyProxy: an HTTP proxy on 127.0.0.1 in front of s3rver that answers 503 SlowDown,
//     drops the connection before forwarding, or forwards and then drops the answer — seeded;
//   - startTileServer: a node:http tile server whose answer per tile and attempt the test decides;
//   - startAggregatorPool: several aggregator "Lambdas" in worker threads (true concurrency);
//   - buildPng & co: hand-made PNGs (palette, 16-bit, 1×1, 4096×4096, lying headers);
//   - digestRun: what a finished run must equal (counts, totals, per-tile clusters with members);
//   - testRunSpec, syntheticWorld, cleanRun: the runs, tiles and reference run the tests share.
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { crc32, deflateSync } from 'node:zlib';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { PNG } from 'pngjs';
import { submitRun } from '../core/store/queue.ts';
import { manifestKey, parseResultKey } from '../core/run/keys.ts';
import { Ledger } from '../core/store/ledger.ts';
import { waitForManifest } from '../core/store/manifest-wait.ts';
import { loadRun, type LoadedRun } from '../core/store/result-store.ts';
import type { StoredCluster } from '../core/clusters/types.ts';
import { REQUEST_DEFAULTS } from '../core/run/request.ts';
import { validateRunParams, runTiles, type RunSpec } from '../core/run/params.ts';
import { mulberry32, syntheticMosaicFiles } from '../local/synthetic.ts';
import { tileKey } from '../core/tiles/grid.ts';
import type { Manifest } from '../core/run/types.ts';
import type { TileAddress } from '../core/tiles/types.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startEmulators, type Emulators, type S3EventPayload } from '../local/emulators.ts';
import { triggersAggregator } from '../local/aggregator-delivery.ts';
import { startLoop, type Loop, type LoopOptions } from '../local/loop.ts';
import { applyStackEnv, createStack, type StackInfo } from '../local/stack.ts';

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A seeded random number generator in [0, 1). */
export const seeded = (seed: number) => mulberry32(seed);

/** A shuffled copy (Fisher–Yates with the given generator). */
export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** Polls `check` until it returns true. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000, everyMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

// ------------------------------------------------------------------------------ runs and worlds

/** An inclusive range of tiles at the run's zoom. */
export interface TileRange {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** A run of these tests: the tiles of `range` at zoom z, default parameters but clusters of 10 alerts or more (low-density worlds). */
export function testRunSpec(z: number, range: TileRange, tilesUrl: string): RunSpec {
  return validateRunParams({ z, region: { kind: 'tiles', ...range }, ...REQUEST_DEFAULTS, min_count: 10, tiles_url: tilesUrl, dataset: 'glad-2018' });
}

/** The PNGs of a synthetic world over `range` and its ring of neighbours (read for the halo), by tile key. */
export function syntheticWorld(z: number, range: TileRange, options: { seed: number; density: number }): Map<string, Uint8Array> {
  const files = syntheticMosaicFiles({ z, x0: range.x0 - 1, y0: range.y0 - 1, x1: range.x1 + 1, y1: range.y1 + 1, ...options });
  return new Map([...files].map((file) => [tileKey(file.tile), file.bytes]));
}

// ------------------------------------------------------------------------------ flaky S3 proxy

/** What the proxy does to a request it picked: 503 SlowDown, connection dropped before forwarding, or answer lost after S3 acted. */
export type ProxyFault = 'slowdown' | 'reset' | 'lost';
export const PROXY_FAULTS: readonly ProxyFault[] = ['slowdown', 'reset', 'lost'];

export interface ProxyEvent {
  method: string;
  key: string;
  fault: ProxyFault;
}

export interface FlakyProxy {
  url: string;
  /** Probability that a request gets a fault (0 = transparent). */
  rate: number;
  /** Faults picked at random (uniformly) for the `rate` share of requests. */
  faults: readonly ProxyFault[];
  /**
   * Names standing in for run ids in a request's identity. Run ids hash the tile URL, whose port
   * is random: without an alias the same test would draw other faults on every invocation.
   */
  aliases: Map<string, string>;
  /** A fault for specific requests, whatever the rate (e.g. every PUT of one key). */
  rule: ((method: string, key: string) => ProxyFault | null) | null;
  /**
   * Reseeds the decisions. A request's fate is a function of (seed, method, key, how many times
   * this method and key were requested before): the same run gets the same faults whatever the
   * order in which concurrent requests arrive.
   */
  reseed(seed: number): void;
  requests: number;
  injected: ProxyEvent[];
  stop(): Promise<void>;
}

const SLOW_DOWN = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>fault-injection</RequestId></Error>';

/** An HTTP proxy on 127.0.0.1 in front of `target` (s3rver's endpoint) that injects faults. */
export async function startFlakyProxy(target: string, options: { rate?: number; seed?: number } = {}): Promise<FlakyProxy> {
  const upstream = new URL(target);
  let seed = options.seed ?? 1;
  const seen = new Map<string, number>();
  /** A uniform draw in [0, 1) for this request (FNV-1a of its identity, then mulberry32). */
  const draw = (identity: string) => {
    let h = 0x811c9dc5 ^ seed;
    for (let i = 0; i < identity.length; i++) h = Math.imul(h ^ identity.charCodeAt(i), 0x01000193);
    return seeded(h >>> 0)();
  };
  const proxy: FlakyProxy = {
    url: '',
    rate: options.rate ?? 0,
    faults: PROXY_FAULTS,
    aliases: new Map(),
    rule: null,
    reseed(value) {
      seed = value;
      seen.clear();
    },
    requests: 0,
    injected: [],
    stop: async () => {},
  };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    proxy.requests++;
    const method = req.method ?? 'GET';
    // Path-style: /bucket/key?query → key.
    const key = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname.split('/').slice(2).join('/'));
    const identity = `${method} ${key.replace(/r-[0-9a-f]{16}/g, (id) => proxy.aliases.get(id) ?? id)}`;
    const n = (seen.get(identity) ?? 0) + 1;
    seen.set(identity, n);
    const u = draw(`${identity} ${n}`);
    // u < rate picks a fault; where u falls inside [0, rate) picks which one.
    const fault = proxy.rule?.(method, key) ?? (u < proxy.rate ? proxy.faults[Math.floor((u / proxy.rate) * proxy.faults.length)] : null);
    if (fault) proxy.injected.push({ method, key, fault });
    if (fault === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault === 'slowdown') {
      req.resume();
      req.on('end', () => {
        res.writeHead(503, { 'content-type': 'application/xml', connection: 'close' });
        res.end(method === 'HEAD' ? undefined : SLOW_DOWN);
      });
      return;
    }
    const forward = request(
      { host: upstream.hostname, port: upstream.port, method, path: req.url, headers: req.headers },
      (answer) => {
        if (fault === 'lost') {
          // S3 did the work (a PUT is stored and announced); the client never hears of it.
          answer.resume();
          answer.on('end', () => req.socket.destroy());
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => req.socket.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.stop = async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
  return proxy;
}

// ------------------------------------------------------------------------------ tile server

/** How the tile server answers one request. */
export interface TileReply {
  status?: number;
  body?: Uint8Array | string;
  contentType?: string;
  /** Never answer: the client's timeout must fire. */
  hang?: boolean;
  /** Send 200 and the headers, then nothing more. */
  stallBody?: boolean;
  /** Announce the whole body, send this many bytes, then drop the connection. */
  cutAfter?: number;
  /** No Content-Length (chunked): the client learns the size only by reading. */
  noLength?: boolean;
}

/** Decides the reply; `attempt` counts requests for this tile and query (1, 2, …). */
export type TileRoute = (tile: TileAddress, context: { attempt: number; query: URLSearchParams }) => TileReply | Promise<TileReply>;

export interface TileServer {
  /** The URL template of this server, with an optional query (a different query = a different run id). */
  template(query?: string): string;
  /** Requests per `z/x/y?query`. */
  requests: Map<string, number>;
  stop(): Promise<void>;
}

export async function startTileServer(route: TileRoute): Promise<TileServer> {
  const requests = new Map<string, number>();
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const m = /^\/(\d+)\/(\d+)\/(\d+)\.png$/.exec(url.pathname);
    if (!m) {
      res.writeHead(400).end();
      return;
    }
    const tile = { z: Number(m[1]), x: Number(m[2]), y: Number(m[3]) };
    const id = `${tileKey(tile)}?${url.searchParams}`;
    const attempt = (requests.get(id) ?? 0) + 1;
    requests.set(id, attempt);
    const reply = await route(tile, { attempt, query: url.searchParams });
    if (reply.hang) return;
    const body = typeof reply.body === 'string' ? Buffer.from(reply.body) : Buffer.from(reply.body ?? new Uint8Array());
    const headers: Record<string, string> = { 'content-type': reply.contentType ?? 'image/png' };
    if (!reply.noLength) headers['content-length'] = String(body.length);
    if (reply.stallBody) {
      delete headers['content-length']; // chunked: the client waits for a body that never comes
      res.writeHead(200, headers);
      res.flushHeaders();
      return;
    }
    res.writeHead(reply.status ?? 200, headers);
    if (reply.cutAfter !== undefined) {
      res.write(body.subarray(0, reply.cutAfter), () => res.destroy());
      return;
    }
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    template: (query) => `${base}/{z}/{x}/{y}.png${query ? `?${query}` : ''}`,
    requests,
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A route serving tiles from memory: present → 200 PNG, absent → 404. */
export const serveTiles = (tiles: ReadonlyMap<string, Uint8Array>) => (tile: TileAddress): TileReply => {
  const bytes = tiles.get(tileKey(tile));
  return bytes ? { body: bytes } : { status: 404, body: 'Not Found', contentType: 'text/plain' };
};

// ------------------------------------------------------------------------------ hand-made PNGs

function chunk(type: string, data: Uint8Array): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const typed = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typed) >>> 0);
  return Buffer.concat([length, typed, crc]);
}

/**
 * A PNG from raw scanlines (each prefixed with filter byte 0 here). colorType: 0 grey, 2 RGB,
 * 3 palette, 6 RGBA. `raw` may be given directly (already filtered) for big images.
 */
export function buildPng(options: {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
  rows?: Uint8Array[];
  raw?: Uint8Array;
  palette?: Uint8Array;
  alpha?: Uint8Array;
}): Uint8Array {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(options.width, 0);
  ihdr.writeUInt32BE(options.height, 4);
  ihdr[8] = options.bitDepth;
  ihdr[9] = options.colorType;
  const raw = options.raw ?? Buffer.concat((options.rows ?? []).flatMap((row) => [Buffer.from([0]), row]));
  return new Uint8Array(
    Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      chunk('IHDR', ihdr),
      ...(options.palette ? [chunk('PLTE', options.palette)] : []),
      ...(options.alpha ? [chunk('tRNS', options.alpha)] : []),
      chunk('IDAT', deflateSync(raw)),
      chunk('IEND', new Uint8Array()),
    ]),
  );
}

/** The same image as an 8-bit palette PNG (throws when it has more than 256 colours). */
export function toPalettePng(rgbaPng: Uint8Array): Uint8Array {
  const png = PNG.sync.read(Buffer.from(rgbaPng));
  const colours = new Map<number, number>();
  const rows: Uint8Array[] = [];
  for (let y = 0; y < png.height; y++) {
    const row = new Uint8Array(png.width);
    for (let x = 0; x < png.width; x++) {
      const o = 4 * (y * png.width + x);
      const rgba = png.data.readUInt32BE(o);
      let index = colours.get(rgba);
      if (index === undefined) {
        index = colours.size;
        if (index > 255) throw new Error('more than 256 colours: cannot make a palette PNG');
        colours.set(rgba, index);
      }
      row[x] = index;
    }
    rows.push(row);
  }
  const palette = new Uint8Array(3 * colours.size);
  const alpha = new Uint8Array(colours.size);
  for (const [rgba, index] of colours) {
    palette.set([rgba >>> 24, (rgba >>> 16) & 255, (rgba >>> 8) & 255], 3 * index);
    alpha[index] = rgba & 255;
  }
  return buildPng({ width: png.width, height: png.height, bitDepth: 8, colorType: 3, rows, palette, alpha });
}

/** The same image as a 16-bit RGBA PNG (each sample v → v·257, i.e. the same colours exactly). */
export function to16BitPng(rgbaPng: Uint8Array): Uint8Array {
  const png = PNG.sync.read(Buffer.from(rgbaPng));
  const rows: Uint8Array[] = [];
  for (let y = 0; y < png.height; y++) {
    const row = Buffer.alloc(png.width * 8);
    for (let i = 0; i < png.width * 4; i++) row.writeUInt16BE(png.data[4 * y * png.width + i] * 257, 2 * i);
    rows.push(row);
  }
  return buildPng({ width: png.width, height: png.height, bitDepth: 16, colorType: 6, rows });
}

/** A blank 8-bit RGBA PNG of any size (4096×4096: ~65 KB on the wire, 64 MB decoded). */
export function blankPng(width: number, height: number): Uint8Array {
  return buildPng({ width, height, bitDepth: 8, colorType: 6, raw: new Uint8Array(height * (1 + 4 * width)) });
}

/** A tiny PNG whose header claims width × height (a decompression bomb as far as a naive decoder goes). */
export function lyingHeaderPng(width: number, height: number): Uint8Array {
  return buildPng({ width, height, bitDepth: 8, colorType: 6, raw: new Uint8Array(64) });
}

// ------------------------------------------------------------------------------ aggregators in threads

export interface AggregatorPool {
  /** Invokes the aggregator on thread k, with Lambda's two retries of a failed async invocation. */
  invoke(event: unknown, k: number): Promise<void>;
  size: number;
  invocations: number;
  /** Error messages of failed attempts (each retried). */
  failures: string[];
  stop(): Promise<void>;
}

/** `size` aggregator "Lambdas", each in its own worker thread with its own SDK clients. */
export async function startAggregatorPool(size: number): Promise<AggregatorPool> {
  const workers = Array.from({ length: size }, () => new Worker(new URL('./faults-aggregator-worker.ts', import.meta.url)));
  const waiting = new Map<number, (reply: { ok: boolean; error?: string }) => void>();
  let next = 0;
  for (const worker of workers) worker.on('message', (reply: { id: number; ok: boolean; error?: string }) => waiting.get(reply.id)?.(reply));
  await Promise.all(workers.map((worker) => new Promise((resolve) => worker.once('online', resolve))));
  const call = (event: unknown, k: number) =>
    new Promise<{ ok: boolean; error?: string }>((resolve) => {
      const id = next++;
      waiting.set(id, (reply) => {
        waiting.delete(id);
        resolve(reply);
      });
      workers[k % size].postMessage({ id, event });
    });
  const pool: AggregatorPool = {
    size,
    invocations: 0,
    failures: [],
    async invoke(event, k) {
      for (let attempt = 1; attempt <= 3; attempt++) {
        pool.invocations++;
        const reply = await call(event, k + attempt - 1); // a retry may land on another instance
        if (reply.ok) return;
        pool.failures.push(reply.error ?? 'unknown error');
        await sleep(200 * attempt);
      }
      throw new Error(`aggregator failed 3 times: ${pool.failures.at(-1)}`);
    },
    async stop() {
      await Promise.all(workers.map((worker) => worker.terminate()));
    },
  };
  return pool;
}

// ------------------------------------------------------------------------------ the stack

export interface FaultStackOptions {
  workers?: number;
  batchSize?: number;
  /** Seconds before a message that was not deleted comes back (short, so retries are quick). */
  visibilityTimeout?: number;
  /** Put a flaky proxy in front of s3rver for every handler (the test's own clients bypass it). */
  proxy?: boolean;
  onBatchStart?: LoopOptions['onBatchStart'];
}

export interface FaultStack {
  emulators: Emulators;
  stack: StackInfo;
  loop: Loop;
  proxy: FlakyProxy | null;
  /**
   * How each s3rver event reaches the loop's aggregator. Default: at once. Replace it to duplicate,
   * reorder or hold back events; `deliver` hands one payload to the loop.
   */
  route: (payload: S3EventPayload, deliver: (payload: S3EventPayload) => void) => void;
  /** Keys of every object created in the bucket, in order, straight from s3rver (before routing). */
  created: string[];
  /** Result-event payloads handed to the loop's aggregator (after routing). */
  delivered: string[];
  /** Loop log lines and the consumer workers' console output. */
  logs: string[];
  /** Clients straight to the emulators (never through the proxy). */
  s3: S3Client;
  sqs: SQSClient;
  ledger: Ledger;
  bucket: string;
  submit(spec: RunSpec): Promise<string>;
  waitForManifest(runId: string, timeoutMs?: number): Promise<void>;
  load(runId: string): Promise<LoadedRun>;
  /** How many times the manifest object of the run was PUT (s3rver's own events). */
  manifestPuts(runId: string): number;
  stop(): Promise<void>;
}

export async function startFaultStack(options: FaultStackOptions = {}): Promise<FaultStack> {
  const emulators = await startEmulators(); // a temporary state directory, removed on stop
  const stack = await createStack(emulators, { visibilityTimeout: options.visibilityTimeout ?? 2 });
  applyStackEnv(stack);
  const proxy = options.proxy ? await startFlakyProxy(emulators.endpoints.s3) : null;
  const logs: string[] = [];
  const output = new Writable({
    write(chunkBytes, _encoding, done) {
      for (const line of String(chunkBytes).split('\n')) if (line.trim()) logs.push(line);
      done();
    },
  });
  const clientConfig = (endpoint: string) => ({ region: LOCAL_REGION, endpoint, credentials: LOCAL_CREDENTIALS });
  const s3 = new S3Client({ ...clientConfig(emulators.endpoints.s3), forcePathStyle: true });
  const sqs = new SQSClient(clientConfig(emulators.endpoints.sqs));
  const dynamo = new DynamoDBClient(clientConfig(emulators.endpoints.dynamodb));
  const ledger = new Ledger(DynamoDBDocumentClient.from(dynamo, { marshallOptions: { removeUndefinedValues: true } }), stack.names.table);

  // The handlers reach S3 through the proxy when there is one: only their endpoint changes.
  const handlerStack: StackInfo = proxy ? { ...stack, endpoints: { ...stack.endpoints, s3: proxy.url } } : stack;
  let fs: FaultStack | undefined; // set once the consumers are ready; no object is created before
  const loop = await startLoop(emulators, handlerStack, {
    workers: options.workers ?? 2,
    batchSize: options.batchSize,
    log: (line) => logs.push(line),
    output,
    onBatchStart: options.onBatchStart,
    aggregator: {
      // Every created object is seen here first, then goes through the test's route.
      route(payload, deliver) {
        const faults = fs;
        if (!faults) return deliver(payload);
        for (const record of payload.Records) faults.created.push(record.s3.object.key);
        faults.route(payload, (routed) => {
          for (const record of routed.Records) if (triggersAggregator(record.s3.object.key)) faults.delivered.push(record.s3.object.key);
          deliver(routed);
        });
      },
    },
  });
  // A consumer that cannot load its handler never gets ready: fail with its log, not a hook timeout.
  let notReady: NodeJS.Timeout | undefined;
  await Promise.race([
    loop.ready,
    new Promise((_, reject) => {
      notReady = setTimeout(() => reject(new Error(`consumers not ready after 30 s: ${logs.slice(-3).join(' | ')}`)), 30_000);
    }),
  ]).finally(() => clearTimeout(notReady));

  fs = {
    emulators,
    stack,
    loop,
    proxy,
    route: (payload, deliver) => deliver(payload),
    created: [],
    delivered: [],
    logs,
    s3,
    sqs,
    ledger,
    bucket: stack.names.bucket,
    async submit(spec) {
      const submission = await submitRun(spec, { ledger, sqs, queueUrl: stack.queueUrl });
      if (submission.failed.length > 0) throw new Error(`enqueue failed: ${JSON.stringify(submission.failed)}`);
      return submission.runId;
    },
    async waitForManifest(runId, timeoutMs = 45_000) {
      await waitForManifest(ledger, runId, {
        timeoutMs,
        pollMs: 100,
        timeoutMessage: () => `timed out after ${timeoutMs} ms waiting for the manifest of ${runId} (logs: ${logs.slice(-3).join(' | ')})`,
      });
    },
    load: (runId) => loadRun(runId, s3, { bucket: stack.names.bucket, full: true }),
    manifestPuts: (runId) => fs!.created.filter((key) => key === manifestKey(runId)).length,
    async stop() {
      await loop.stop();
      await proxy?.stop();
      s3.destroy();
      sqs.destroy();
      dynamo.destroy();
      await emulators.stop();
    },
  };
  return fs;
}

/** Submits a run, waits for its manifest and digests it: the clean run that faulty runs are compared with. */
export async function cleanRun(fs: FaultStack, spec: RunSpec): Promise<{ runId: string; digest: RunDigest }> {
  const runId = await fs.submit(spec);
  await fs.waitForManifest(runId);
  return { runId, digest: digestRun(await fs.load(runId)) };
}

/** The run a result-event payload belongs to (null for other objects). */
export function resultOf(payload: S3EventPayload): { runId: string; tile: string } | null {
  const key = payload.Records[0]?.s3.object.key;
  if (!key || !triggersAggregator(key)) return null;
  const parsed = parseResultKey(key);
  return parsed ? { runId: parsed.runId, tile: tileKey(parsed.tile) } : null;
}

// ------------------------------------------------------------------------------ comparing runs

/** Everything of a cluster that does not depend on the run id. */
export function essentials(c: StoredCluster) {
  const { run_id: _runId, ...rest } = c;
  return rest;
}

export interface RunDigest {
  counts: Pick<Manifest, 'tiles' | 'tiles_with_clusters' | 'tiles_empty' | 'tiles_failed'>;
  totals: Manifest['totals'];
  /** Per tile: `clusters`, `empty` or `failed:<stage>`. */
  status: Record<string, string>;
  /** Per tile with clusters: its clusters (all fields, members included), largest first. */
  clusters: Record<string, ReturnType<typeof essentials>[]>;
}

const round = (value: number) => Math.round(value * 1e6) / 1e6;

/** What a finished run must equal, independent of its run id and times. */
export function digestRun(run: LoadedRun): RunDigest {
  const { manifest } = run;
  const status: Record<string, string> = {};
  for (const tile of runTiles(manifest.params)) status[tileKey(tile)] = 'empty';
  for (const key of manifest.results) status[tileKey(parseResultKey(key)!.tile)] = 'clusters';
  for (const error of manifest.errors) status[tileKey(error)] = `failed:${error.stage}`;
  const clusters: RunDigest['clusters'] = {};
  for (const c of run.clusters) (clusters[tileKey(c)] ??= []).push(essentials(c));
  // The cluster totals; the alerts inside the region (tiles' own) are checked by pipeline-e2e.
  const { region_alerts: _inRegion, ...totals } = manifest.totals;
  return {
    counts: { tiles: manifest.tiles, tiles_with_clusters: manifest.tiles_with_clusters, tiles_empty: manifest.tiles_empty, tiles_failed: manifest.tiles_failed },
    totals: { ...totals, hectares: round(manifest.totals.hectares) },
    status,
    clusters,
  };
}

/** A clean run's digest with some tiles turned into errors of the given stage (errors by design). */
export function withErrors(clean: RunDigest, errors: Record<string, string>): RunDigest {
  const status = { ...clean.status };
  const clusters = { ...clean.clusters };
  for (const [tile, stage] of Object.entries(errors)) {
    status[tile] = `failed:${stage}`;
    delete clusters[tile];
  }
  const all = Object.values(clusters).flat();
  const values = Object.values(status);
  const dates = (pick: (c: (typeof all)[number]) => string) => all.map(pick).sort();
  return {
    counts: {
      tiles: values.length,
      tiles_with_clusters: values.filter((s) => s === 'clusters').length,
      tiles_empty: values.filter((s) => s === 'empty').length,
      tiles_failed: values.filter((s) => s.startsWith('failed')).length,
    },
    totals: {
      clusters: all.length,
      alerts: all.reduce((sum, c) => sum + c.count, 0),
      hectares: round(all.reduce((sum, c) => sum + c.alert_area_ha, 0)),
      first_date: dates((c) => c.min_date)[0] ?? null,
      last_date: dates((c) => c.max_date).at(-1) ?? null,
    },
    status,
    clusters,
  };
}
