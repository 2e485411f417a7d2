import { describe, expect, it } from 'vitest';
import { parseErrorRecord, parseS3Event, parseTileMessage, runMessageBodies, tileMessageBody } from '../core/run/messages.ts';
import { runId, validateRunParams } from '../core/run/params.ts';

const spec = validateRunParams({ z: 10, region: { kind: 'tiles', x0: 341, y0: 539, x1: 342, y1: 539 }, tiles_url: 'https://t/{z}/{x}/{y}.png' });
const RUN = runId(spec);
const TILE = { z: 10, x: 342, y: 539 };
const good = JSON.parse(tileMessageBody(spec, TILE));

describe('tile messages', () => {
  it('a built message parses back to the same run, tile and params', () => {
    const parsed = parseTileMessage(tileMessageBody(spec, TILE));
    expect(parsed).toEqual({ kind: 'ok', message: { v: 1, run_id: RUN, tile: TILE, params: spec } });
    expect(runMessageBodies(spec).map((b) => JSON.parse(b).tile)).toEqual([{ z: 10, x: 341, y: 539 }, TILE]);
  });

  it('not JSON, or no readable run id: unroutable', () => {
    expect(parseTileMessage('not json')).toEqual({ kind: 'unroutable', error: 'message body is not JSON' });
    expect(parseTileMessage('null').kind).toBe('unroutable');
    expect(parseTileMessage(JSON.stringify({ ...good, run_id: '../../x' })).kind).toBe('unroutable');
  });

  it('a tile outside the run is a run-error (it is no tile of the run)', () => {
    const parsed = parseTileMessage(JSON.stringify({ ...good, tile: { z: 10, x: 343, y: 539 } }));
    expect(parsed).toMatchObject({ kind: 'run-error', runId: RUN, error: expect.stringMatching(/outside the run's region/) });
  });

  it('readable run id, unreadable tile: run-error', () => {
    const parsed = parseTileMessage(JSON.stringify({ ...good, tile: { z: 10, x: 5000, y: 0 } }));
    expect(parsed).toMatchObject({ kind: 'run-error', runId: RUN });
    expect((parsed as { error: string }).error).toMatch(/x=5000 is out of range/);
  });

  it.each([
    [{ ...good, v: 2 }, /v: must be 1/],
    [{ ...good, params: { ...spec, width: 'wide' } }, /params\.width/],
    [{ ...good, params: { ...spec, width: 6 } }, /does not match its params/],
    [{ ...good, extra: true }, /unknown key/],
  ])('readable run id and tile but invalid: tile-error %#', (body, message) => {
    const parsed = parseTileMessage(JSON.stringify(body));
    expect(parsed.kind).toBe('tile-error');
    expect((parsed as { error: string }).error).toMatch(message);
    expect((parsed as { runId: string }).runId).toBe(RUN);
  });
});

describe('S3 events', () => {
  const record = (key: string) => ({ eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'b' }, object: { key, size: 3 } } });

  it('keeps valid records and reports invalid ones in one line each', () => {
    const { records, errors } = parseS3Event({ Records: [record('runs/a'), { eventName: 'x' }, record('runs/b')] });
    expect(records.map((r) => r.s3.object.key)).toEqual(['runs/a', 'runs/b']);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^invalid S3 record 1: s3: /);
  });

  it('an s3:TestEvent has no records and no errors; a non-object is an error', () => {
    expect(parseS3Event({ Service: 'Amazon S3', Event: 's3:TestEvent' })).toEqual({ records: [], errors: [] });
    expect(parseS3Event('nope').errors).toHaveLength(1);
  });
});

describe('error records', () => {
  it('parse with and without params; garbage is a one-line error', () => {
    const rec = { run_id: RUN, ...TILE, message: 'boom', stage: 'tile', at: '2026-01-01T00:00:00.000Z' };
    expect(parseErrorRecord(JSON.stringify(rec))).toEqual(rec);
    expect(parseErrorRecord(JSON.stringify({ ...rec, params: spec })).params).toEqual(spec);
    expect(() => parseErrorRecord('{')).toThrow('error record is not JSON');
    expect(() => parseErrorRecord(JSON.stringify({ ...rec, stage: 3 }))).toThrow(/^invalid error record: stage/);
  });
});
