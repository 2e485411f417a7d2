// What this checks: the WIRING of sst.config.ts, without AWS. `sst deploy` cannot run here, so the
// config is loaded with stub `$config` / `sst.aws.*` globals that record their constructor and
// method arguments, `run()` is called, and the recorded arguments are checked: handler files exist
// and export `handler`, the tile queue has its DLQ after 3 receives, the visibility timeout exceeds
// the consumer timeout, the bucket notification filters match the keys core/keys.ts writes, and each
// function is linked only to what it uses. It does not check that AWS accepts the resources.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { MANIFEST_LEASE_MS } from '../core/ledger.ts';
import { clustersKey, errorKey, manifestKey, membersKey, messageErrorKey, unroutableKey } from '../core/keys.ts';

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

let app: Record<string, any>;
let bucket: Stub;
let ledger: Stub;
let tiles: Stub;
let deadLetter: Stub;
let aggregator: Stub;

beforeAll(async () => {
  const g = globalThis as any;
  g.$config = (config: unknown) => config;
  g.sst = { aws: { Bucket: component('Bucket'), Queue: component('Queue'), Dynamo: component('Dynamo'), Function: component('Function') } };
  // A variable specifier keeps tsc from type-checking sst.config.ts: its `$config`/`sst` globals
  // are typed by .sst/platform, which only `sst install` creates.
  const configPath = '../sst.config.ts';
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
});

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

  it('the tile queue dead-letters after 3 receives into the DeadLetter queue', () => {
    expect(tiles.args.dlq).toEqual({ queue: deadLetter.arn, retry: 3 });
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
    const notifications = calls[0].args[0].notifications as Record<string, any>[];
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

  it('each function is linked only to what it uses', () => {
    const links = (fn: Record<string, any>) => (fn.link as Stub[]).map((s) => s.name).sort();
    expect(links(subscriber(tiles).fn)).toEqual(['Results']);
    expect(links(subscriber(deadLetter).fn)).toEqual(['Results']);
    expect(links(aggregator.args)).toEqual(['Ledger', 'Results']);
    // No function can reach the queues through a link (the subscriptions grant receive/delete).
    expect(subscriber(tiles).fn.permissions).toEqual([]);
  });

  it('the ledger table has the pk/sk keys core/ledger.ts uses', () => {
    expect(ledger.args.primaryIndex).toEqual({ hashKey: 'pk', rangeKey: 'sk' });
    expect(ledger.args.fields).toEqual({ pk: 'string', sk: 'string' });
  });
});
