// Queue messages and S3 events, validated with zod. A message that fails validation is never thrown
// back at SQS (that would retry forever): `parseTileMessage` says where its error record should go.
import { z } from 'zod';
import { MAX_KEY_LENGTH } from './keys.ts';
import { tileFields, tileRangeProblem } from './request.ts';
import { addProblem, formatZodError, isRunId, parseRunSpec, runId as computeRunId, runTiles, tileInRun, zodFields } from './params.ts';
import type { RunSpec } from './params.ts';
import type { TileAddress } from '../tiles/types.ts';

/**
 * Receives of a tile message before SQS moves it to the dead-letter queue: the tile queue's
 * maxReceiveCount (`retry` in sst.config.ts, MAX_RECEIVE_COUNT of the local stack). 5, as AWS
 * advises for a Lambda event source (≥ 5): with the short back-offs of core/store/batch.ts
 * (5, 10, 20, 40 s with jitter) a transient failure gets ~75 s of retries, where 3 receives at the
 * old 12-minute visibility took 24 minutes for fewer chances; a record returned unstarted at the
 * invocation's deadline also spends a receive.
 */
export const TILE_MAX_RECEIVES = 5;

/** Version of the message format, so a future change can be told apart. */
const MESSAGE_VERSION = 1;

/**
 * Largest message body read. A real one is under 3 KB (params with a tiles URL of at most 2048
 * characters), or up to ~105 KB with areas of interest (MAX_AOI_CHARS of core/tiles/areas.ts);
 * anything bigger is not ours and is refused before JSON.parse. SQS allows 256 KiB.
 */
export const MAX_MESSAGE_BYTES = 128 * 1024;
/** Largest error.json read (ours hold a message, the params — areas included — and a message id). */
const MAX_ERROR_RECORD_BYTES = 192 * 1024;
/** Most records an S3 event may carry (S3 sends one per event; more is not an S3 notification). */
export const MAX_S3_RECORDS = 100;

/** One tile of one run. It carries the run's params so the consumer needs no lookup. */
interface TileMessage {
  v: typeof MESSAGE_VERSION;
  run_id: string;
  tile: TileAddress;
  params: RunSpec;
}

const tileSchema = z.strictObject(zodFields(tileFields)).superRefine((v, ctx) => addProblem(ctx, [], tileRangeProblem(v)));

const messageShape = z.strictObject({
  v: z.literal(MESSAGE_VERSION, { error: `must be ${MESSAGE_VERSION}` }),
  run_id: z.string().refine(isRunId, 'must be r-<16 hex digits>'),
  tile: tileSchema,
  params: z.unknown(),
});

/** The body of a tile message. */
export function tileMessageBody(spec: RunSpec, tile: TileAddress): string {
  const message: TileMessage = { v: MESSAGE_VERSION, run_id: computeRunId(spec), tile: { z: tile.z, x: tile.x, y: tile.y }, params: spec };
  return JSON.stringify(message);
}

/** The bodies of every tile message of a run, row by row. */
export function runMessageBodies(spec: RunSpec): string[] {
  return runTiles(spec).map((tile) => tileMessageBody(spec, tile));
}

/**
 * Outcome of parsing a message body:
 * - ok: a valid message;
 * - tile-error: invalid, but run id and tile are readable (error record at the tile, counts as failed);
 * - run-error: invalid, the run id is readable but not the tile (error record under the run);
 * - unroutable: not even the run id is readable (logged and dropped to `errors/unroutable/`).
 */
type ParsedMessage =
  | { kind: 'ok'; message: TileMessage }
  | { kind: 'tile-error'; runId: string; tile: TileAddress; error: string }
  | { kind: 'run-error'; runId: string; error: string }
  | { kind: 'unroutable'; error: string };

export function parseTileMessage(body: string): ParsedMessage {
  if (typeof body !== 'string') return { kind: 'unroutable', error: 'message body is not a string' };
  const bytes = Buffer.byteLength(body);
  if (bytes > MAX_MESSAGE_BYTES) return { kind: 'unroutable', error: `message body is ${bytes} bytes, over the limit of ${MAX_MESSAGE_BYTES}` };
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { kind: 'unroutable', error: 'message body is not JSON' };
  }
  const raw = (json !== null && typeof json === 'object' ? json : {}) as Record<string, unknown>;
  const runId = isRunId(raw.run_id) ? raw.run_id : null;
  const tileResult = tileSchema.safeParse(raw.tile);
  const tile = tileResult.success ? tileResult.data : null;
  const fail = (error: string): ParsedMessage => {
    if (runId && tile) return { kind: 'tile-error', runId, tile, error };
    if (runId) return { kind: 'run-error', runId, error };
    return { kind: 'unroutable', error };
  };

  const shape = messageShape.safeParse(json);
  if (!shape.success) return fail(`invalid message: ${formatZodError(shape.error)}`);
  let params: RunSpec;
  try {
    params = parseRunSpec(shape.data.params);
  } catch (error) {
    return fail(`invalid message: ${(error as Error).message}`);
  }
  // The id must be the hash of the params: a message cannot smuggle other params into a run.
  const expected = computeRunId(params);
  if (expected !== shape.data.run_id) return fail(`invalid message: run_id ${shape.data.run_id} does not match its params (${expected})`);
  if (!tileInRun(params, shape.data.tile)) {
    // Not a tile of the run: recording it as a failed tile would count a tile the run does not have.
    const t = shape.data.tile;
    return { kind: 'run-error', runId: shape.data.run_id, error: `invalid message: tile ${t.z}/${t.x}/${t.y} is outside the run's region` };
  }
  return { kind: 'ok', message: { v: MESSAGE_VERSION, run_id: shape.data.run_id, tile: shape.data.tile, params } };
}

/** What the consumer writes for a tile that failed (and the dead-letter handler for a lost one). */
export interface ErrorRecord {
  run_id: string;
  z: number;
  x: number;
  y: number;
  message: string;
  stage: string;
  /** The run's params when known (lets the aggregator count the tile without another lookup). */
  params?: RunSpec;
  message_id?: string;
  at: string;
}

const errorRecordSchema = z.object({
  run_id: z.string().refine(isRunId, 'must be r-<16 hex digits>'),
  z: z.number().int(),
  x: z.number().int(),
  y: z.number().int(),
  message: z.string(),
  stage: z.string(),
  params: z.unknown().optional(),
  message_id: z.string().optional(),
  at: z.string(),
});

/** Parses an error.json body; throws one line naming the problem. */
export function parseErrorRecord(body: string): ErrorRecord {
  const bytes = Buffer.byteLength(body);
  if (bytes > MAX_ERROR_RECORD_BYTES) throw new Error(`error record is ${bytes} bytes, over the limit of ${MAX_ERROR_RECORD_BYTES}`);
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new Error('error record is not JSON');
  }
  const result = errorRecordSchema.safeParse(json);
  if (!result.success) throw new Error(`invalid error record: ${formatZodError(result.error)}`);
  const { params, ...rest } = result.data;
  return params === undefined ? rest : { ...rest, params: parseRunSpec(params) };
}

/** One S3 notification record (only the fields the aggregator uses). */
const s3RecordSchema = z.object({
  eventName: z.string(),
  s3: z.object({
    bucket: z.object({ name: z.string().min(1) }),
    object: z.object({ key: z.string().min(1).max(3 * MAX_KEY_LENGTH, 'must be a key of at most 1024 bytes'), sequencer: z.string().optional(), eTag: z.string().optional() }),
  }),
});
export type S3Record = z.infer<typeof s3RecordSchema>;

/** An S3 notification event. `s3:TestEvent` (sent when a notification is configured) has no Records. */
const s3EventSchema = z.object({ Records: z.array(z.unknown()).optional() });

/** Splits an event's records into valid ones and one-line errors for the others. */
export function parseS3Event(event: unknown): { records: S3Record[]; errors: string[] } {
  const outer = s3EventSchema.safeParse(event);
  if (!outer.success) return { records: [], errors: [`invalid S3 event: ${formatZodError(outer.error)}`] };
  const count = outer.data.Records?.length ?? 0;
  if (count > MAX_S3_RECORDS) return { records: [], errors: [`invalid S3 event: ${count} records, over the limit of ${MAX_S3_RECORDS}`] };
  const records: S3Record[] = [];
  const errors: string[] = [];
  (outer.data.Records ?? []).forEach((record, i) => {
    const parsed = s3RecordSchema.safeParse(record);
    if (parsed.success) records.push(parsed.data);
    else errors.push(`invalid S3 record ${i}: ${formatZodError(parsed.error)}`);
  });
  return { records, errors };
}
