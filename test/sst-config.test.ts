// What this checks: the WIRING of sst.config.ts, without AWS. `sst deploy` cannot run here, so the
// config is loaded with stub `$config` / `sst.aws.*` globals that record their constructor and
// method arguments, `run()` is called, and the recorded arguments are checked: handler files exist
// and export `handler`, the tile queue has its DLQ after 3 receives, the visibility timeout exceeds
// the consumer timeout, the bucket notification filters match the keys core/run/keys.ts writes, and each
// function gets only the IAM actions it calls, on the key prefixes it writes (no link: a link grants
// s3:* / dynamodb:*), and an aggregator event that fails every attempt goes to the AggregatorFailures
// queue. It does not check that AWS accepts the resources.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { MANIFEST_LEASE_MS } from '../core/store/ledger.ts';
import { clustersKey, diffGeoJsonKey, diffKey, errorKey, lastErrorKey, manifestKey, membersKey, messageErrorKey, unroutableKey } from '../core/run/keys.ts';
import { TILE_MAX_RECEIVES } from '../core/run/messages.ts';

const ROOT = join(import.meta.dirname, '..');

/** A stub SST component: remembers its name and args, exposes fake outputs. */
class Stub {
  static created: Stub[] = [];
  kind: string;
  name: string;
  args: Record<string, any>;
  calls: { method: string; args: any[] }[] = [];
  constructor(kind: string, name: string, args: Record<string, any> = {}) {
    this.kind = kind;
    this.name = name;
    this.args = args;
    Stub.created.push(this);
  }
  get arn() {
    return `arn:stub:${this.name}`;
  }
  get url() {
    return `https://stub/${this.name}`;
  }
  get nameOutput() {
    return `stub-${this.name}`;
  }
  subscribe(...args: any[]) {
    this.calls.push({ method: 'subscribe', args });
    return {};
  }
  notify(...args: any[]) {
    this.calls.push({ method: 'notify', args });
    return {};
  }
}

const component = (kind: string) =>
  class extends Stub {
    constructor(name: string, args?: Record<string, any>) {
      super(kind, name, args);
    }
  };

/** "12 minutes" / "120 seconds" → seconds. */
function seconds(duration: string): number {
  const m = /^(\d+) (second|minute|hour)s?$/.exec(duration);
  if (!m) throw new Error(`cannot parse duration ${duration}`);
  return Number(m[1]) * { second: 1, minute: 60, hour: 3600 }[m[2] as 'second' | 'minute' | 'hour'];
}

// A variable specifier keeps tsc from type-checking sst.config.ts: its `$config`/`sst` globals
// are typed by .sst/platform, which only `sst install` creates.
const configPath = '../sst.config.ts';
let app: Record<string, any>;
let bucket: Stub;
let ledger: Stub;
let tiles: Stub;
let deadLetter: Stub;
let aggregator: Stub;
let aggregatorFailures: Stub;
let invokeConfig: Stub;

beforeAll(async () => {
  const g = globalThis as any;
  g.$config = (config: unknown) => config;
  // Pulumi's helpers, on plain strings (the stubs' outputs are strings).
  g.$interpolate = (parts: TemplateStringsArray, ...values: unknown[]) => parts.reduce((out, part, k) => out + part + (k < values.length ? String(values[k]) : ''), '');
  g.$jsonStringify = (value: unknown) => JSON.stringify(value);
  g.sst = { aws: { Bucket: component('Bucket'), Queue: component('Queue'), Dynamo: component('Dynamo'), Function: component('Function'), Cron: component('Cron'), SnsTopic: component('SnsTopic') }, Linkable: component('Linkable') };
  // The Pulumi AWS provider, a global in sst.config.ts.
  g.aws = { lambda: { FunctionEventInvokeConfig: component('FunctionEventInvokeConfig') }, s3: { BucketObjectv2: component('BucketObjectv2') } };
  const config = (await import(configPath)).default as any;
  app = config.app({ stage: 'test' });
  await config.run();
  const one = (kind: string, name: string) => {
    const found = Stub.created.filter((s) => s.kind === kind && s.name === name);
    expect(found, `${kind} ${name}`).toHaveLength(1);
    return found[0];
  };
  bucket = one('Bucket', 'Results');
  ledger = one('Dynamo', 'Ledger');
  tiles = one('Queue', 'Tiles');
  deadLetter = one('Queue', 'DeadLetter');
  aggregator = one('Function', 'Aggregator');
  aggregatorFailures = one('Queue', 'AggregatorFailures');
  invokeConfig = one('FunctionEventInvokeConfig', 'AggregatorInvokeConfig');
});

/** The ARN of an object of the results bucket, as the stubs spell the bucket ARN. */
const object = (key: string) => `${bucket.arn}/${key}`;

/** IAM-style matching of statements: `*` in a resource matches any run of characters, `/` included. */
function grants(statements: { actions: string[]; resources: string[] }[]) {
  const glob = (pattern: string) => new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return {
    statements,
    may: (action: string, resource: string) => statements.some((s) => s.actions.includes(action) && s.resources.some((r) => glob(r).test(resource))),
    actions: () => [...new Set(statements.flatMap((s) => s.actions))].sort(),
  };
}

/** Runs the config again with extra environment; the consumer and aggregator args of that run. */
async function runConfig(env: Record<string, string>): Promise<{ consumer: Record<string, any>; options: Record<string, any>; aggregator: Record<string, any> }> {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  const before = Stub.created.length;
  try {
    const config = (await import(configPath)).default as any;
    await config.run();
  } finally {
    process.env = saved;
  }
  const made = Stub.created.slice(before);
  const queue = made.find((s) => s.kind === 'Queue' && s.name === 'Tiles')!;
  return { consumer: queue.calls[0].args[0], options: queue.calls[0].args[1], aggregator: made.find((s) => s.kind === 'Function')!.args };
}

/** The function args of the subscription of a queue. */
const subscriber = (queue: Stub) => {
  const calls = queue.calls.filter((c) => c.method === 'subscribe');
  expect(calls).toHaveLength(1);
  return { fn: calls[0].args[0] as Record<string, any>, options: calls[0].args[1] as Record<string, any> };
};

describe('sst.config.ts wiring (stubbed SST, no AWS)', () => {
  it('is an AWS app named glad-clusters', () => {
    expect(app.name).toBe('glad-clusters');
    expect(app.home).toBe('aws');
  });

  it('every handler file exists and exports handler', async () => {
    const handlers = [subscriber(tiles).fn.handler, subscriber(deadLetter).fn.handler, aggregator.args.handler];
    expect(handlers).toEqual(['functions/consumer.handler', 'functions/deadletter.handler', 'functions/aggregator.handler']);
    for (const handler of handlers) {
      const file = join(ROOT, handler.replace(/\.handler$/, '.ts'));
      expect(existsSync(file), file).toBe(true);
      const mod = await import(file);
      expect(typeof mod.handler, handler).toBe('function');
    }
  });

  it('the tile queue dead-letters after TILE_MAX_RECEIVES (5, AWS advises >= 5) receives into the DeadLetter queue', () => {
    expect(TILE_MAX_RECEIVES).toBeGreaterThanOrEqual(5);
    expect(tiles.args.dlq).toEqual({ queue: deadLetter.arn, retry: TILE_MAX_RECEIVES }); // what the dead-letter handler says
  });

  it('the visibility timeout is at least 6x the consumer timeout', () => {
    const { fn } = subscriber(tiles);
    const visibility = seconds(tiles.args.visibilityTimeout);
    const timeout = seconds(fn.timeout);
    expect(visibility).toBeGreaterThan(timeout);
    expect(visibility).toBeGreaterThanOrEqual(6 * timeout);
  });

  it('the aggregator times out before its manifest lease can expire (no live writer is overtaken)', () => {
    expect(seconds(aggregator.args.timeout) * 1000).toBeLessThan(MANIFEST_LEASE_MS);
  });

  it('both queue subscriptions report partial batch failures', () => {
    expect(subscriber(tiles).options.batch.partialResponses).toBe(true);
    expect(subscriber(deadLetter).options.batch.partialResponses).toBe(true);
  });

  it('all functions run on nodejs22.x', () => {
    for (const fn of [subscriber(tiles).fn, subscriber(deadLetter).fn, aggregator.args]) expect(fn.runtime).toBe('nodejs22.x');
  });

  it('the bucket notifications fire for clusters.parquet and error.json keys, and for nothing else we write', () => {
    const calls = bucket.calls.filter((c) => c.method === 'notify');
    expect(calls).toHaveLength(1);
    // The aggregator's notifications (the diff function's: test/watch-wiring in this file).
    const notifications = (calls[0].args[0].notifications as Record<string, any>[]).filter((n) => n.function === aggregator.arn);
    for (const n of notifications) {
      expect(n.function).toBe(aggregator.arn);
      expect(n.events).toEqual(['s3:ObjectCreated:*']);
    }
    const fires = (key: string) => notifications.filter((n) => key.startsWith(n.filterPrefix ?? '') && key.endsWith(n.filterSuffix ?? '')).length;
    const run = 'r-0123456789abcdef';
    for (const tile of [{ z: 0, x: 0, y: 0 }, { z: 12, x: 1234, y: 2047 }]) {
      expect(fires(clustersKey(run, tile))).toBe(1);
      expect(fires(errorKey(run, tile))).toBe(1);
      expect(fires(membersKey(run, tile))).toBe(0);
    }
    expect(fires(manifestKey(run))).toBe(0);
    expect(fires(messageErrorKey(run, 'b6d0c5c2-error'))).toBe(0);
    expect(fires(unroutableKey('error'))).toBe(0);
  });

  it('no function is linked (a link grants every action); each gets the SST_RESOURCE_ variables core/store/aws.ts reads', () => {
    const fns = { consumer: subscriber(tiles).fn, deadletter: subscriber(deadLetter).fn, aggregator: aggregator.args };
    for (const fn of Object.values(fns)) expect(fn.link ?? []).toEqual([]);
    // The consumer also gets the stack's allowed sources (core/store/aws.ts allowedSources).
    // …and the ledger: it records empty tiles itself (result format 2).
    expect(fns.consumer.environment).toEqual({
      SST_RESOURCE_Results: JSON.stringify({ name: 'Results' }),
      SST_RESOURCE_Ledger: JSON.stringify({ name: 'Ledger' }),
      SST_RESOURCE_Tiles: JSON.stringify({ url: tiles.url }),
      SST_RESOURCE_Sources: expect.any(String),
    });
    expect(fns.deadletter.environment).toEqual({
      SST_RESOURCE_Results: JSON.stringify({ name: 'Results' }),
      SST_RESOURCE_Ledger: JSON.stringify({ name: 'Ledger' }),
    });
    expect(fns.aggregator.environment).toEqual({
      SST_RESOURCE_Results: JSON.stringify({ name: 'Results' }),
      SST_RESOURCE_Ledger: JSON.stringify({ name: 'Ledger' }),
    });
  });

  it('least privilege: each function may call exactly the actions it uses, on the keys it writes', () => {
    const run = 'r-0123456789abcdef';
    const tile = { z: 12, x: 1331, y: 2162 };
    const consumer = grants(subscriber(tiles).fn.permissions);
    const deadletter = grants(subscriber(deadLetter).fn.permissions);
    const agg = grants(aggregator.args.permissions);
    for (const g of [consumer, deadletter, agg]) {
      for (const p of g.statements) {
        expect(p.actions.every((a: string) => !a.includes('*')), JSON.stringify(p)).toBe(true);
        expect(p.resources).not.toContain('*');
      }
    }
    const written = [clustersKey(run, tile), membersKey(run, tile), errorKey(run, tile), messageErrorKey(run, 'm-1'), unroutableKey('m-1')];
    // The consumer writes results and error records and reads no result; it records empty tiles in the
    // ledger and, when one completes the run, writes the manifest (HEAD of the manifest = s3:GetObject).
    for (const key of written) expect(consumer.may('s3:PutObject', object(key)), key).toBe(true);
    expect(consumer.may('s3:PutObject', object(manifestKey(run)))).toBe(true);
    expect(consumer.may('s3:GetObject', object(manifestKey(run)))).toBe(true);
    expect(consumer.may('s3:GetObject', object(clustersKey(run, tile)))).toBe(false);
    expect(consumer.may('s3:GetObject', object(errorKey(run, tile)))).toBe(false);
    expect(consumer.may('s3:DeleteObject', object(clustersKey(run, tile)))).toBe(false);
    expect(consumer.may('s3:PutObject', object(lastErrorKey(run, tile)))).toBe(true);
    expect(consumer.actions()).toEqual([
      'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem',
      's3:GetObject', 's3:ListBucket', 's3:PutObject', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes',
    ]);
    expect(consumer.may('sqs:ChangeMessageVisibility', tiles.arn)).toBe(true);
    expect(consumer.may('sqs:ChangeMessageVisibility', deadLetter.arn)).toBe(false);
    // The dead-letter handler writes error records and checks (HEAD = s3:GetObject) for a finished tile.
    for (const key of written) expect(deadletter.may('s3:PutObject', object(key)), key).toBe(true);
    expect(deadletter.may('s3:GetObject', object(clustersKey(run, tile)))).toBe(true);
    expect(deadletter.may('s3:GetObject', object(lastErrorKey(run, tile)))).toBe(true);
    // ... and writes a manifest missing with every tile accounted (core/store/run-completion.ts).
    expect(deadletter.may('s3:PutObject', object(manifestKey(run)))).toBe(true);
    expect(deadletter.actions()).toEqual(['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:UpdateItem', 's3:GetObject', 's3:ListBucket', 's3:PutObject']);
    // Reads are limited to the key shapes read: no other object of the bucket.
    for (const g of [consumer, deadletter, agg]) {
      expect(g.may('s3:GetObject', object(`runs/${run}/messages/m-1.json`))).toBe(false);
      expect(g.may('s3:GetObject', object('errors/unroutable/x.json'))).toBe(false);
      expect(g.may('s3:GetObject', object(manifestKey(run)))).toBe(true);
      const list = g.statements.filter((p) => p.actions.includes('s3:ListBucket'));
      expect(list).toEqual([{ actions: ['s3:ListBucket'], resources: [bucket.arn], conditions: [{ test: 'StringLike', variable: 's3:prefix', values: ['runs/*'] }] }]);
    }
    // The aggregator reads results, writes manifests only, and makes the ledger calls of core/store/ledger.ts.
    expect(agg.may('s3:GetObject', object(clustersKey(run, tile)))).toBe(true);
    expect(agg.may('s3:GetObject', object(errorKey(run, tile)))).toBe(true);
    expect(agg.may('s3:PutObject', object(manifestKey(run)))).toBe(true);
    for (const key of written) expect(agg.may('s3:PutObject', object(key)), key).toBe(false);
    expect(agg.may('s3:ListBucket', bucket.arn)).toBe(true);
    for (const action of ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query']) {
      expect(agg.may(action, ledger.arn), action).toBe(true);
    }
    expect(agg.may('dynamodb:DeleteItem', ledger.arn)).toBe(false);
    expect(agg.may('dynamodb:Scan', ledger.arn)).toBe(false);
    expect(agg.actions()).toEqual(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem', 's3:GetObject', 's3:ListBucket', 's3:PutObject', 'sqs:SendMessage']);
    // Queues through IAM statements: only the aggregator's on-failure send, to its failures queue
    // only (the subscriptions grant receive/delete on the tile and dead-letter queues).
    expect(deadletter.actions().some((a) => a.startsWith('sqs:'))).toBe(false);
    expect(agg.may('sqs:SendMessage', aggregatorFailures.arn)).toBe(true);
    for (const queue of [tiles, deadLetter]) expect(agg.may('sqs:SendMessage', queue.arn), queue.name).toBe(false);
    expect(agg.statements.filter((p) => p.actions.some((a: string) => a.startsWith('sqs:')))).toEqual([
      { actions: ['sqs:SendMessage'], resources: [aggregatorFailures.arn] },
    ]);
  });

  it('an s3:// tile source at deploy adds read + list on that bucket only, to the consumer only', async () => {
    const tileBucketConfig = await runConfig({ TILES_URL: 's3://my-tiles/glad/{z}/{x}/{y}.png' });
    const consumer = grants(tileBucketConfig.consumer.permissions);
    expect(consumer.may('s3:GetObject', 'arn:aws:s3:::my-tiles/glad/12/1/2.png')).toBe(true);
    expect(consumer.may('s3:ListBucket', 'arn:aws:s3:::my-tiles')).toBe(true);
    expect(consumer.may('s3:GetObject', 'arn:aws:s3:::other-bucket/x.png')).toBe(false);
    expect(consumer.may('s3:PutObject', 'arn:aws:s3:::my-tiles/glad/12/1/2.png')).toBe(false);
    expect(grants(tileBucketConfig.aggregator.permissions).may('s3:GetObject', 'arn:aws:s3:::my-tiles/glad/12/1/2.png')).toBe(false);
  });

  it('the allowed sources are config: a Sources linkable, the same JSON for the consumer, reads granted on exactly those buckets', async () => {
    const config = await runConfig({ GLAD_TILE_BUCKETS: 'tiles-a, tiles-b', GLAD_RASTER_BUCKETS: 'gfw-lake', GLAD_TILE_HOSTS: 'tiles.globalforestwatch.org,mirror.example', GLAD_DATASETS: 'glad-l,integrated' });
    const expected = { tileBuckets: ['tiles-a', 'tiles-b'], rasterBuckets: ['gfw-lake'], hosts: ['tiles.globalforestwatch.org', 'mirror.example'], datasets: ['glad-l', 'integrated'] };
    expect(JSON.parse(config.consumer.environment.SST_RESOURCE_Sources)).toEqual(expected);
    const linkable = Stub.created.filter((s) => s.kind === 'Linkable' && s.name === 'Sources').at(-1)!;
    expect(linkable.args.properties).toEqual(expected);
    const consumer = grants(config.consumer.permissions);
    for (const b of ['tiles-a', 'tiles-b', 'gfw-lake']) {
      expect(consumer.may('s3:GetObject', `arn:aws:s3:::${b}/k/1.tif`), b).toBe(true);
      expect(consumer.may('s3:ListBucket', `arn:aws:s3:::${b}`), b).toBe(true);
    }
    expect(consumer.may('s3:GetObject', 'arn:aws:s3:::other/k.tif')).toBe(false);
    // The default: the GFW tile cache host, every dataset, no bucket to read.
    const plain = await runConfig({});
    const sources = JSON.parse(plain.consumer.environment.SST_RESOURCE_Sources);
    expect(sources).toMatchObject({ tileBuckets: [], rasterBuckets: [], hosts: ['tiles.globalforestwatch.org'] });
    expect(sources.datasets).toContain('glad-l');
    expect(grants(plain.consumer.permissions).may('s3:GetObject', 'arn:aws:s3:::other/k.tif')).toBe(false);
  });

  it('the bucket has no CORS rule and no public access; every queue keeps SQS-managed encryption on', () => {
    expect(bucket.args.cors).toBe(false);
    expect(bucket.args.access).toBeUndefined();
    expect(bucket.args.public).toBeUndefined();
    const queues = Stub.created.filter((s) => s.kind === 'Queue');
    expect(new Set(queues.map((q) => q.name))).toEqual(new Set(['Tiles', 'DeadLetter', 'AggregatorFailures']));
    for (const queue of queues) expect(queue.args.transform.queue.sqsManagedSseEnabled, queue.name).toBe(true);
  });

  it('an aggregator event that fails its first attempt and 2 retries goes to the AggregatorFailures queue (kept 14 days)', () => {
    expect(invokeConfig.args).toEqual({
      functionName: aggregator.name,
      maximumRetryAttempts: 2,
      destinationConfig: { onFailure: { destination: aggregatorFailures.arn } },
    });
    // SST's `retries` would make the Function create a second invoke config for the same function.
    expect(aggregator.args.retries).toBeUndefined();
    expect(aggregatorFailures.args.transform.queue.messageRetentionSeconds).toBe(14 * 24 * 3600);
    // Nothing consumes it: records wait for `npm run replay:aggregator`, and no redrive moves them.
    expect(aggregatorFailures.calls).toEqual([]);
    expect(aggregatorFailures.args.dlq).toBeUndefined();
  });

  it('the ledger table has the pk/sk keys core/store/ledger.ts uses, and point-in-time recovery', () => {
    expect(ledger.args.primaryIndex).toEqual({ hashKey: 'pk', rangeKey: 'sk' });
    expect(ledger.args.fields).toEqual({ pk: 'string', sk: 'string' });
    expect(ledger.args.transform.table.pointInTimeRecovery).toEqual({ enabled: true });
  });

  it('the dead-letter queue: visibility >= 6x its handler timeout, messages kept 14 days', () => {
    const { fn } = subscriber(deadLetter);
    expect(seconds(deadLetter.args.visibilityTimeout)).toBeGreaterThanOrEqual(6 * seconds(fn.timeout));
    expect(deadLetter.args.transform.queue.messageRetentionSeconds).toBe(14 * 24 * 3600);
    expect(deadLetter.args.transform.queue.sqsManagedSseEnabled).toBe(true);
  });

  it('consumer max concurrency and the functions\' architecture are deploy-time config values, checked', async () => {
    expect(subscriber(tiles).options.transform.eventSourceMapping.scalingConfig).toEqual({ maximumConcurrency: 100 });
    for (const fn of [subscriber(tiles).fn, subscriber(deadLetter).fn, aggregator.args]) expect(fn.architecture).toBe('x86_64');
    const configured = await runConfig({ CONSUMER_MAX_CONCURRENCY: '40', LAMBDA_ARCHITECTURE: 'arm64' });
    expect(configured.consumer.architecture).toBe('arm64');
    expect(configured.aggregator.architecture).toBe('arm64');
    expect(configured.options.transform.eventSourceMapping.scalingConfig).toEqual({ maximumConcurrency: 40 });
    await expect(runConfig({ CONSUMER_MAX_CONCURRENCY: '1' })).rejects.toThrow(/CONSUMER_MAX_CONCURRENCY must be an integer in 2\.\.1000/);
    await expect(runConfig({ LAMBDA_ARCHITECTURE: 'arm' })).rejects.toThrow(/LAMBDA_ARCHITECTURE must be x86_64 or arm64/);
  });
});

describe('sst.config.ts wiring of watched areas (diff after the manifest, weekly cron, SNS)', () => {
  const run = 'r-0123456789abcdef';
  const tile = { z: 12, x: 1331, y: 2162 };

  /** Runs the config with a watch config; the components it made. */
  async function withWatch(watch: object | null) {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'watch-'));
    const area = join(dir, 'park.geojson');
    writeFileSync(area, JSON.stringify({ type: 'Polygon', coordinates: [[[-60, -10], [-59.9, -10], [-59.9, -9.9], [-60, -10]]] }));
    const path = join(dir, 'watch.json');
    if (watch) writeFileSync(path, JSON.stringify({ ...watch, areas: [{ name: 'Park', file: area, weeks: 12, width: 5 }] }));
    const saved = { ...process.env };
    process.env.WATCH_CONFIG = path;
    const before = Stub.created.length;
    try {
      await ((await import(configPath)).default as any).run();
    } finally {
      process.env = saved;
    }
    const made = Stub.created.slice(before);
    const bucketStub = made.find((s) => s.kind === 'Bucket')!;
    return {
      made,
      diff: made.find((s) => s.kind === 'Function' && s.name === 'Diff')!,
      notifications: bucketStub.calls.find((c) => c.method === 'notify')!.args[0].notifications as Record<string, any>[],
      results: bucketStub,
      ledgerStub: made.find((s) => s.kind === 'Dynamo')!,
      tilesStub: made.find((s) => s.kind === 'Queue' && s.name === 'Tiles')!,
    };
  }

  it('manifest.json (and nothing else we write) invokes the Diff function, which writes only the diff pair', async () => {
    const { diff, notifications, results, ledgerStub } = await withWatch(null);
    const fires = (key: string) => notifications.filter((n) => n.function === diff.arn && key.startsWith(n.filterPrefix) && key.endsWith(n.filterSuffix)).length;
    expect(fires(manifestKey(run))).toBe(1);
    for (const key of [clustersKey(run, tile), errorKey(run, tile), membersKey(run, tile), diffKey(run), diffGeoJsonKey(run)]) expect(fires(key), key).toBe(0);
    const g = grants(diff.args.permissions);
    const obj = (key: string) => `${results.arn}/${key}`;
    expect(g.may('s3:PutObject', obj(diffKey(run)))).toBe(true);
    expect(g.may('s3:PutObject', obj(diffGeoJsonKey(run)))).toBe(true);
    expect(g.may('s3:PutObject', obj(manifestKey(run)))).toBe(false);
    expect(g.may('s3:PutObject', obj(clustersKey(run, tile)))).toBe(false);
    expect(g.may('s3:GetObject', obj(clustersKey(run, tile)))).toBe(true);
    expect(g.may('dynamodb:Scan', ledgerStub.arn)).toBe(true);
    expect(g.may('dynamodb:PutItem', ledgerStub.arn)).toBe(false);
    expect(g.actions().some((a) => a.startsWith('sns:'))).toBe(false); // no topic without "notify"
    expect(diff.args.link ?? []).toEqual([]);
    expect(diff.args.runtime).toBe('nodejs22.x');
    expect(existsSync(join(ROOT, 'functions/diff.ts'))).toBe(true);
    expect(typeof (await import('../functions/diff.ts')).handler).toBe('function');
    expect(Stub.created.filter((s) => s.kind === 'Cron')).toHaveLength(0);
  });

  it('each watched area: its GeoJSON uploaded to watch/NAME.geojson, a weekly Cron that enqueues it with least privilege; notify adds an SNS topic the diff may publish to only', async () => {
    const { made, diff, results, ledgerStub, tilesStub } = await withWatch({ notify: true });
    const crons = made.filter((s) => s.kind === 'Cron');
    expect(crons.map((c) => c.name)).toEqual(['WatchPark']);
    const cron = crons[0].args;
    expect(cron.schedule).toBe('rate(7 days)');
    expect(cron.event).toMatchObject({ area_key: 'watch/Park.geojson', weeks: '12', width: '5' });
    expect(Object.values(cron.event).every((v) => typeof v === 'string')).toBe(true);
    expect(cron.function.handler).toBe('functions/watch-cron.handler');
    expect(typeof (await import('../functions/watch-cron.ts')).handler).toBe('function');
    const upload = made.find((s) => s.kind === 'BucketObjectv2')!;
    expect(upload.args.key).toBe('watch/Park.geojson');
    expect(JSON.parse(upload.args.content).type).toBe('Polygon');
    const c = grants(cron.function.permissions);
    expect(c.may('s3:GetObject', `${results.arn}/watch/Park.geojson`)).toBe(true);
    expect(c.may('s3:GetObject', `${results.arn}/runs/${run}/manifest.json`)).toBe(false);
    expect(c.may('sqs:SendMessage', tilesStub.arn)).toBe(true);
    expect(c.may('dynamodb:PutItem', ledgerStub.arn)).toBe(true);
    expect(c.actions().some((a) => a === 's3:PutObject' || a === 'dynamodb:Scan')).toBe(false);
    const topic = made.find((s) => s.kind === 'SnsTopic')!;
    const d = grants(diff.args.permissions);
    expect(d.may('sns:Publish', topic.arn)).toBe(true);
    expect(d.statements.filter((s) => s.actions.some((a: string) => a.startsWith('sns:')))).toEqual([{ actions: ['sns:Publish'], resources: [topic.arn] }]);
    expect(JSON.parse(diff.args.environment.SST_RESOURCE_DiffTopic)).toEqual({ arn: topic.arn });
  });
});
