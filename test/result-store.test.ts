// core/store/result-store.ts reads a clusters file's footer with ranged GETs (what the aggregator
// does for each landed tile), over an in-memory S3 that honours Range and counts the bytes it sends.
import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { describe, expect, it } from 'vitest';
import type { Cluster } from '../core/clusters/types.ts';
import { summarizeClusters } from '../core/run/manifest.ts';
import { readClusters, readClustersInfo, writeClusters } from '../core/run/parquet.ts';
import { getParquetFooter, type ObjectReader } from '../core/store/result-store.ts';
import { blob, FIXTURE_TILES, recordFromMembers } from './results-fixtures.ts';
import { mulberry32 } from '../local/synthetic.ts';

const BUCKET = 'results';
const KEY = 'runs/r/12/1362/2083/clusters.parquet';
const SPEC = {
  start_date: '2015-01-01', end_date: '2030-01-01', width: 5, min_count: 2, iterations: 25, algorithm: 'standard' as const,
  region: { z: 12, x0: 1362, y0: 2083, x1: 1362, y1: 2083 }, tiles_url: 'file:///tiles/{z}/{x}/{y}.png',
};

/** An S3 over one object: HEAD, GET and ranged GET, counting requests and bytes sent. */
function rangedS3(objects: Map<string, Uint8Array>) {
  const stats = { requests: 0, bytes: 0 };
  const s3 = {
    send: async (command: HeadObjectCommand | GetObjectCommand) => {
      stats.requests++;
      const bytes = objects.get(command.input.Key!);
      if (!bytes) throw Object.assign(new Error('missing'), { name: command instanceof HeadObjectCommand ? 'NotFound' : 'NoSuchKey' });
      if (command instanceof HeadObjectCommand) return { ContentLength: bytes.byteLength, ETag: '"e"' };
      const range = (command as GetObjectCommand).input.Range;
      const [start, end] = range ? range.replace('bytes=', '').split('-').map(Number) : [0, bytes.byteLength - 1];
      const body = bytes.slice(start, end + 1);
      stats.bytes += body.byteLength;
      return { Body: { transformToByteArray: async () => body } };
    },
  } as unknown as ObjectReader;
  return { s3, stats };
}

/** A large tile: `n` clusters of a few dozen alerts each. */
function bigTile(n: number): Cluster[] {
  const rand = mulberry32(3);
  return Array.from({ length: n }, () => {
    const { run_id: _r, ...c } = recordFromMembers(FIXTURE_TILES[0], blob(10 + Math.floor(rand() * 236), 10 + Math.floor(rand() * 236), 3, '2019-01-01', 300, rand));
    return c;
  });
}

describe('getParquetFooter', () => {
  it('reads a large clusters file by its footer: far fewer bytes, the same totals as its rows', async () => {
    const clusters = bigTile(3000);
    const file = writeClusters({ run_id: 'r', tile: FIXTURE_TILES[0], params: SPEC }, clusters);
    expect(file.byteLength).toBeGreaterThan(200_000);
    const { s3, stats } = rangedS3(new Map([[KEY, file]]));
    const footer = (await getParquetFooter(s3, BUCKET, KEY))!;
    const info = readClustersInfo(footer);
    expect(info.totals).toEqual(summarizeClusters(await readClusters(file)));
    expect(info.totals!.clusters).toBe(3000);
    expect(stats.requests).toBe(2); // HEAD + one ranged GET
    expect(stats.bytes).toBeLessThanOrEqual(8 * 1024);
    expect(stats.bytes / file.byteLength).toBeLessThan(0.05);
    console.log(`footer read: ${stats.bytes} of ${file.byteLength} bytes (${stats.requests} requests)`);
  });

  it('a footer longer than the first read costs one more GET and is whole', async () => {
    const big = 'x'.repeat(40_000);
    const file = new Uint8Array(parquetWriteBuffer({ columnData: [{ name: 'a', type: 'INT32', data: [1, 2, 3], nullable: false }], kvMetadata: [{ key: 'big', value: big }] }));
    const { s3, stats } = rangedS3(new Map([[KEY, file]]));
    const footer = (await getParquetFooter(s3, BUCKET, KEY))!;
    expect(stats.requests).toBe(3);
    expect(footer).toEqual(file.slice(file.byteLength - footer.byteLength));
    const { parquetMetadata } = await import('hyparquet');
    expect(parquetMetadata(footer).key_value_metadata?.find((kv) => kv.key === 'big')?.value).toBe(big);
  });

  it('a small file is read whole in one GET; a missing key is null', async () => {
    const file = writeClusters({ run_id: 'r', tile: FIXTURE_TILES[0], params: SPEC }, bigTile(3));
    const { s3, stats } = rangedS3(new Map([[KEY, file]]));
    expect(await getParquetFooter(s3, BUCKET, KEY)).toEqual(file);
    expect(stats).toEqual({ requests: 2, bytes: file.byteLength });
    expect(await getParquetFooter(s3, BUCKET, 'runs/r/none/clusters.parquet')).toBeNull();
  });
});
