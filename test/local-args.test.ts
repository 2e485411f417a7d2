// Pure pieces of the local layer: the run options of enqueue/start, the aggregator's notification
// filter (as sst.config.ts declares it) and S3 event key encoding.
import { describe, expect, it } from 'vitest';
import { clustersKey, decodeS3Key, errorKey, manifestKey, membersKey, messageErrorKey } from '../core/run/keys.ts';
import { regionOf, runLonLatBounds, runSpecOf } from '../local/run-args.ts';
import { triggersAggregator } from '../local/aggregator-delivery.ts';
import { encodeS3EventKey, queueArnOf, s3EventOf, sqsEventOf } from '../local/sqs-event.ts';

const RUN = 'r-0123456789abcdef';
const TILE = { z: 12, x: 1331, y: 2162 };

describe('run options', () => {
  it('reads each region form', () => {
    expect(regionOf({ tileBounds: '1,2,3,4' })).toEqual({ kind: 'tiles', x0: 1, y0: 2, x1: 3, y1: 4 });
    expect(regionOf({ bounds: '-63.1,-10.3,-62.7,-9.9' })).toEqual({ kind: 'bbox', west: -63.1, south: -10.3, east: -62.7, north: -9.9 });
    expect(regionOf({ lonlat: '-62.9, -10' })).toEqual({ kind: 'point', lon: -62.9, lat: -10 });
    expect(regionOf({ xy: '1331,2162' })).toEqual({ kind: 'tile', x: 1331, y: 2162 });
    expect(regionOf({})).toBeNull();
  });

  it('refuses malformed or several regions with a one-line message', () => {
    expect(() => regionOf({ tileBounds: '1,2,3' })).toThrow(/^--tile-bounds must be X0,Y0,X1,Y1 \(decimal numbers\), got "1,2,3"$/);
    expect(() => regionOf({ lonlat: 'a,b' })).toThrow(/--lonlat must be LON,LAT/);
    expect(() => regionOf({ xy: '1,' })).toThrow(/--xy must be X,Y/);
    expect(() => regionOf({ xy: '1,2', bounds: '1,2,3,4' })).toThrow('give one region, not --bounds and --xy');
  });

  it('fills defaults, resolves the region at z and validates parameters', () => {
    const spec = runSpecOf({ tilesUrl: 'file:///t/{z}/{x}/{y}.png' }, { kind: 'point', lon: -62.95, lat: -10 });
    expect(spec).toMatchObject({ region: { z: 12, x0: 1331, y0: 2162, x1: 1331, y1: 2162 }, width: 5, min_count: 25, algorithm: 'standard' });
    const other = runSpecOf({ z: '10', width: '3.5', minCount: '7', algorithm: 'flat', start: '2019-01-01', end: '2020-01-01', tilesUrl: 'x/{z}/{x}/{y}.png' }, { kind: 'tile', x: 5, y: 6 });
    expect(other).toMatchObject({ region: { z: 10, x0: 5, y0: 6, x1: 5, y1: 6 }, width: 3.5, min_count: 7, algorithm: 'flat', start_date: '2019-01-01', end_date: '2020-01-01' });
    expect(() => runSpecOf({ z: '23' }, { kind: 'tile', x: 0, y: 0 })).toThrow(/^--z must be an integer in 0\.\.22/);
    expect(() => runSpecOf({ width: 'wide' }, { kind: 'tile', x: 0, y: 0 })).toThrow(/^--width must be a decimal number/);
    expect(() => runSpecOf({ z: '2' }, { kind: 'tile', x: 4, y: 0 })).toThrow();
  });

  it('gives the lon/lat box of the run\'s tiles', () => {
    const box = runLonLatBounds(runSpecOf({ tilesUrl: 'x/{z}/{x}/{y}.png' }, { kind: 'tiles', x0: 1331, y0: 2162, x1: 1332, y1: 2163 }));
    expect(box.west).toBeCloseTo(-63.017578125, 9);
    expect(box.east).toBeCloseTo(-63.017578125 + (2 * 360) / 4096, 9);
    expect(box.north).toBeGreaterThan(box.south);
  });
});

describe('notification filter and event shapes', () => {
  it('invokes the aggregator for clusters.parquet and error.json of a tile only', () => {
    expect(triggersAggregator(clustersKey(RUN, TILE))).toBe(true);
    expect(triggersAggregator(errorKey(RUN, TILE))).toBe(true);
    expect(triggersAggregator(membersKey(RUN, TILE))).toBe(false);
    expect(triggersAggregator(manifestKey(RUN))).toBe(false);
    expect(triggersAggregator(messageErrorKey(RUN, 'abc'))).toBe(false);
    expect(triggersAggregator('other/clusters.parquet')).toBe(false);
  });

  it('encodes event keys like S3 (spaces as +, / kept) and the aggregator decodes them back', () => {
    const key = 'runs/a b+c/tiles/é=1/clusters.parquet';
    const encoded = encodeS3EventKey(key);
    expect(encoded).toBe('runs/a+b%2Bc/tiles/%C3%A9%3D1/clusters.parquet');
    expect(decodeS3Key(encoded)).toBe(key);
    expect(s3EventOf('bucket', key, 7).Records[0].s3.object).toMatchObject({ key: encoded, size: 7 });
  });

  it('builds the SQS event Lambda would pass', () => {
    const url = 'http://127.0.0.1:4566/000000000000/glad-tiles';
    expect(queueArnOf(url)).toBe('arn:aws:sqs:us-east-1:000000000000:glad-tiles');
    const event = sqsEventOf([{ MessageId: 'm1', ReceiptHandle: 'h1', Body: '{}', Attributes: { ApproximateReceiveCount: '2' } }], url);
    expect(event.Records[0]).toMatchObject({ messageId: 'm1', receiptHandle: 'h1', body: '{}', eventSource: 'aws:sqs', attributes: { ApproximateReceiveCount: '2' } });
  });
});

describe('--workers', () => {
  it('is clamped to the cores with a one-line note (200 threads on 2 cores only use memory)', async () => {
    const { workersOption } = await import('../local/cli-options.ts');
    const notes: string[] = [];
    const parse = workersOption('start', 2, (line) => notes.push(line));
    expect(parse('2')).toBe(2);
    expect(notes).toEqual([]);
    expect(parse('200')).toBe(2);
    expect(notes).toEqual(['start: --workers 200 is more than the 2 cores: using 2']);
    expect(() => parse('0')).toThrow(/--workers must be an integer >= 1/);
  });
});
