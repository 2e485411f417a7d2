import { describe, expect, it } from 'vitest';
import { TileSourceError } from '../core/store/tile-sources.ts';
import { isTransient } from '../core/store/transient.ts';

const awsError = (name: string, status?: number, retryable?: object) =>
  Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status }, ...(retryable ? { $retryable: retryable } : {}) });

describe('isTransient', () => {
  it.each([
    ['tile server 503', new TileSourceError('HTTP 503', true)],
    ['S3 SlowDown 503', awsError('SlowDown', 503)],
    ['DynamoDB throttling 400', awsError('ProvisionedThroughputExceededException', 400)],
    ['SDK-marked retryable', awsError('Whatever', 400, { throttling: true })],
    ['S3 internal error 500', awsError('InternalError', 500)],
    ['HTTP 429', awsError('TooManyRequests', 429)],
    ['socket reset', Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })],
    ['fetch timeout', Object.assign(new Error('timed out'), { name: 'TimeoutError' })],
    ['network error as a cause', new Error('fetch failed', { cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }) })],
  ])('retries %s', (_what, error) => {
    expect(isTransient(error)).toBe(true);
  });

  it.each([
    ['corrupt PNG', new Error('tile 12/1/2: not a PNG')],
    ['tile server 403', new TileSourceError('HTTP 403', false)],
    ['S3 access denied', awsError('AccessDenied', 403)],
    ['missing bucket', awsError('NoSuchBucket', 404)],
    ['a string', 'oops'],
    ['null', null],
  ])('does not retry %s', (_what, error) => {
    expect(isTransient(error)).toBe(false);
  });
});
