// The Lambda handlers as SST deploys them (scripts/bundle-handlers.ts: esbuild with SST's options, one
// minified ES module per handler, every dependency inside), run in a FRESH node process that imports
// only the bundle — no .ts loader, no node_modules next to it — on one SQS message each against the
// emulators. A packaging mistake (a .ts import left in, the WebAssembly bytes not bundled, a native
// module) fails here and not on AWS: test/bundle-mistakes/ holds one of each, and each fails. The
// consumer's result must equal runTile on the same tiles.
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isBuiltin } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleHandlers, type HandlerBundle } from '../scripts/bundle-handlers.ts';
import { clustersKey } from '../core/run/keys.ts';
import { tileMessageBody } from '../core/run/messages.ts';
import { readClustersAndMembers } from '../core/run/parquet.ts';
import { runId, validateRunParams } from '../core/run/params.ts';
import { fileTileSource } from '../core/store/tile-sources.ts';
import { runTile } from '../core/clusters/tile-job.ts';
import { writeSyntheticMosaic } from '../local/synthetic.ts';
import { CREDENTIALS, REGION, handlerEnv, startDynalite, startS3rver, type Dynamo, type S3Emulator } from './pipeline-emulators.ts';

const BUCKET = 'glad-bundle-results';
const TABLE = 'glad-bundle-ledger';
const Z = 12;
const MOSAIC = { z: Z, x0: 1400, y0: 2200, x1: 1402, y1: 2202, seed: 21, density: 2000 };
const TILE = { z: Z, x: 1401, y: 2201 };

let s3: S3Emulator, dynamo: Dynamo, client: S3Client;
let work: string, template: string;
let bundles: HandlerBundle[];

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'glad-bundle-'));
  [s3, dynamo, bundles] = await Promise.all([startS3rver([BUCKET]), startDynalite(), bundleHandlers(join(work, 'src'))]);
  await dynamo.createTable(TABLE);
  client = new S3Client({ endpoint: s3.endpoint, region: REGION, credentials: CREDENTIALS, forcePathStyle: true });
  await writeSyntheticMosaic(join(work, 'tiles'), MOSAIC);
  template = `${pathToFileURL(join(work, 'tiles')).href}/{z}/{x}/{y}.png`;
}, 120_000);

afterAll(async () => {
  client?.destroy();
  await Promise.all([s3?.stop(), dynamo?.stop()]);
  if (work) rmSync(work, { recursive: true, force: true });
});

/**
 * Runs one bundle's handler on an event in a fresh process, as Lambda would (env only, cwd elsewhere).
 * Asynchronously: the emulators answer the child from this process's event loop.
 */
async function invokeBundled(name: string, event: unknown): Promise<{ readyMs: number; response: unknown }> {
  const file = isolated(bundles.find((b) => b.name === name)!);
  const driver =
    `const m = await import(${JSON.stringify(pathToFileURL(file).href)});` +
    'const readyMs = performance.now();' +
    'const response = await m.handler(JSON.parse(process.env.EVENT), {});' +
    'process.stdout.write(JSON.stringify({ readyMs, response }));';
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', driver], {
    cwd: join(file, '..'),
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH,
      EVENT: JSON.stringify(event),
      ...handlerEnv(s3, dynamo, { bucket: BUCKET, table: TABLE }),
    },
  });
  return JSON.parse(stdout) as { readyMs: number; response: unknown };
}

/** A copy of the bundle alone in a directory of its own, like the unzipped Lambda package: nothing to resolve beside it. */
function isolated(bundle: HandlerBundle): string {
  const dir = mkdtempSync(join(work, `${bundle.name}-`));
  copyFileSync(bundle.file, join(dir, 'index.mjs'));
  return join(dir, 'index.mjs');
}

const sqsEvent = (body: string) => ({
  Records: [
    {
      messageId: `msg-${body.length}`,
      receiptHandle: 'rh',
      body,
      attributes: { ApproximateReceiveCount: '1', SentTimestamp: '0', SenderId: 'test', ApproximateFirstReceiveTimestamp: '0' },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:glad-tiles',
      awsRegion: REGION,
    },
  ],
});

async function getBytes(key: string): Promise<Uint8Array> {
  const out = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return out.Body!.transformToByteArray();
}

describe('bundled handlers (the SST deployment form)', () => {
  it('every handler bundles to one self-contained module that imports without node_modules', () => {
    expect(bundles.map((b) => b.name)).toEqual(['aggregator', 'consumer', 'deadletter', 'diff', 'watch-cron']);
    for (const b of bundles) {
      expect(b.bytes).toBeGreaterThan(10_000);
      expect(b.bytes).toBeLessThan(8 * 1024 * 1024);
      // What a bundle imports at run time is Node's own (no package, no .ts file, no native addon).
      expect(b.externals.filter((p) => !isBuiltin(p))).toEqual([]);
    }
  });

  describe('a packaging mistake fails here, not on AWS (test/bundle-mistakes/, each fine unbundled)', () => {
    const mistake = (name: string) => join(import.meta.dirname, 'bundle-mistakes', `${name}.ts`);
    const importAlone = (bundle: HandlerBundle) =>
      execFileSync(process.execPath, ['--input-type=module', '-e', `await import(${JSON.stringify(pathToFileURL(isolated(bundle)).href)})`], { stdio: 'pipe', cwd: work });

    it('a native module does not bundle', async () => {
      await expect(bundleHandlers(join(work, 'mistakes'), [mistake('native-module')])).rejects.toThrow(/No loader is configured for "\.node" files/);
    });

    for (const [name, error] of [
      ['wasm-file', /ENOENT[^\n]*empty\.wasm/],
      ['ts-import', /ERR_MODULE_NOT_FOUND[^\n]*wasm-file\.ts|Cannot find module[^\n]*wasm-file\.ts/],
    ] as const) {
      it(`${name}: bundles, works from the source tree, fails alone`, async () => {
        expect(await (await import(mistake(name))).handler()).toBe(0);
        const [bundle] = await bundleHandlers(join(work, 'mistakes'), [mistake(name)]);
        expect(() => importAlone(bundle)).toThrow(error);
      });
    }
  });

  // standard (the default) and blurring, whose kernel is WebAssembly carried as base64 bytes.
  for (const algorithm of ['standard', 'blurring'] as const) {
    it(`the bundled consumer clusters one message (${algorithm}) exactly as runTile does`, async () => {
      const spec = validateRunParams({ z: Z, region: { kind: 'tile', x: TILE.x, y: TILE.y }, tiles_url: template, width: 5, min_count: 10, algorithm });
      const id = runId(spec);
      const { readyMs, response } = await invokeBundled('consumer', sqsEvent(tileMessageBody(spec, TILE)));
      expect(response).toEqual({ batchItemFailures: [] });
      console.log(`bundled consumer (${algorithm}): ready ${readyMs.toFixed(0)} ms after process start`);
      const reference = await runTile(TILE, spec, fileTileSource(template));
      expect(reference.nb_clusters).toBeGreaterThan(0);
      // One object per tile (result format 2): the members are list columns of the clusters file.
      const { rows, members } = await readClustersAndMembers(await getBytes(clustersKey(id, TILE)));
      expect(rows).toHaveLength(reference.nb_clusters);
      rows.forEach((row, k) => {
        const { alerts: _alerts, ...fields } = reference.clusters[k];
        expect(row).toMatchObject({ run_id: id, ...fields });
      });
      expect(members).toEqual(reference.clusters.map((c) => c.alerts));
    }, 120_000);
  }
});
