import { describe, expect, it } from 'vitest';
import {
  clustersKey, decodeS3Key, errorKey, manifestKey, membersKey, messageErrorKey, parseResultKey, tilePrefix, unroutableKey,
} from '../core/run/keys.ts';

const RUN = 'r-0123456789abcdef';
const TILE = { z: 10, x: 341, y: 539 };

describe('key builders', () => {
  it('fix every key by run id and tile', () => {
    expect(clustersKey(RUN, TILE)).toBe('runs/r-0123456789abcdef/tiles/10/341/539/clusters.parquet');
    expect(membersKey(RUN, TILE)).toBe('runs/r-0123456789abcdef/tiles/10/341/539/members.parquet');
    expect(errorKey(RUN, TILE)).toBe('runs/r-0123456789abcdef/tiles/10/341/539/error.json');
    expect(manifestKey(RUN)).toBe('runs/r-0123456789abcdef/manifest.json');
    // Same inputs, same key: a redelivery overwrites.
    expect(clustersKey(RUN, { ...TILE })).toBe(clustersKey(RUN, TILE));
  });

  it.each(['../r-0123456789abcdef', 'r-0123456789ABCDEF', 'r-0123456789abcde', 'r-0123456789abcdef/..', '', 'runs'])('reject run id %j', (id) => {
    expect(() => clustersKey(id, TILE)).toThrow(/run id/);
    expect(() => manifestKey(id)).toThrow(/run id/);
  });

  it.each([
    [{ z: 10, x: 1024, y: 0 }, /x=1024 is out of range/],
    [{ z: 10, x: -1, y: 0 }, /x=-1/],
    [{ z: 10, x: 1.5, y: 0 }, /x=1.5/],
    [{ z: 23, x: 0, y: 0 }, /z=23/],
    [{ z: 10, x: Number('1/../2'), y: 0 }, /x=NaN/],
  ])('reject tile %j', (tile, message) => {
    expect(() => tilePrefix(RUN, tile)).toThrow(message);
  });

  it('strip anything but [A-Za-z0-9_-] from message ids', () => {
    expect(messageErrorKey(RUN, '../../x/y')).toBe('runs/r-0123456789abcdef/messages/xy.json');
    const key = unroutableKey('a/../b', new Date('2026-01-02T03:04:05.678Z'));
    expect(key).toBe('errors/unroutable/2026-01-02T03-04-05-678Z-ab.json');
    expect(unroutableKey('///')).toMatch(/-unknown\.json$/);
  });
});

describe('parseResultKey', () => {
  it('reads back what the builders write', () => {
    expect(parseResultKey(clustersKey(RUN, TILE))).toEqual({ runId: RUN, tile: TILE, kind: 'clusters' });
    expect(parseResultKey(errorKey(RUN, TILE))).toEqual({ runId: RUN, tile: TILE, kind: 'error' });
  });

  it.each([
    membersKey(RUN, TILE),
    manifestKey(RUN),
    messageErrorKey(RUN, 'abc'),
    'runs/r-0123456789abcdef/tiles/10/0341/539/clusters.parquet',
    'runs/r-0123456789abcdef/tiles/10/1024/0/clusters.parquet',
    'runs/r-0123456789abcdef/tiles/10/341/539/clusters.parquet.bak',
    'x/runs/r-0123456789abcdef/tiles/10/341/539/clusters.parquet',
  ])('ignores %s', (key) => {
    expect(parseResultKey(key)).toBeNull();
  });

  it('decodes S3 event keys (+ is a space, %XX escapes)', () => {
    expect(decodeS3Key('runs/r-0123456789abcdef/tiles/10/341/539/clusters.parquet')).toBe(clustersKey(RUN, TILE));
    expect(decodeS3Key('runs%2Fa+b%2Bc')).toBe('runs/a b+c');
  });
});
