// S3 keys of a run. A tile's keys are fixed by (run id, tile), so a redelivered message overwrites
// its own files instead of adding new ones. Every builder validates its inputs: no traversal, no
// injection of `/` or `..` through a run id, tile number or message id.
import { isRunId } from './params.ts';
import { validateTile } from '../tiles/grid.ts';
import type { TileAddress } from '../tiles/types.ts';

/** All run output lives under this prefix (the aggregator's notification filter). */
export const RUNS_PREFIX = 'runs/';
/** Last path segment of a tile's clusters file: written last, it marks the tile done. */
export const CLUSTERS_FILE = 'clusters.parquet';
export const MEMBERS_FILE = 'members.parquet';
/** Last path segment of a tile's error record: marks the tile failed. */
export const ERROR_FILE = 'error.json';
export const MANIFEST_FILE = 'manifest.json';
/** What changed since the previous run of the same area (written after the manifest, functions/diff.ts). */
const DIFF_FILE = 'diff.json';
const DIFF_GEOJSON_FILE = 'diff.geojson';
/** Messages that name no readable run end up here (outside `runs/`, so they trigger nothing). */
const UNROUTABLE_PREFIX = 'errors/unroutable/';

function checkRunId(runId: string): void {
  if (!isRunId(runId)) throw new Error(`run id ${JSON.stringify(runId)} is not of the form r-<16 hex digits>`);
}

/** `runs/{run_id}/` */
export function runPrefix(runId: string): string {
  checkRunId(runId);
  return `${RUNS_PREFIX}${runId}/`;
}

/** `runs/{run_id}/tiles/{z}/{x}/{y}/` */
export function tilePrefix(runId: string, tile: TileAddress): string {
  validateTile(tile);
  return `${runPrefix(runId)}tiles/${tile.z}/${tile.x}/${tile.y}/`;
}

export function clustersKey(runId: string, tile: TileAddress): string {
  return tilePrefix(runId, tile) + CLUSTERS_FILE;
}

export function membersKey(runId: string, tile: TileAddress): string {
  return tilePrefix(runId, tile) + MEMBERS_FILE;
}

export function errorKey(runId: string, tile: TileAddress): string {
  return tilePrefix(runId, tile) + ERROR_FILE;
}

/**
 * The last transient error of a tile's message (written by the consumer before it hands the
 * record back for a retry; read by the dead-letter handler so its error record names the cause).
 * Its suffix is not `/error.json`, so it triggers no aggregator event.
 */
export function lastErrorKey(runId: string, tile: TileAddress): string {
  return tilePrefix(runId, tile) + 'last-error.json';
}

export function manifestKey(runId: string): string {
  return runPrefix(runId) + MANIFEST_FILE;
}

/** `runs/{run_id}/diff.json`: the diff manifest (summary, previous run, GeoJSON key). */
export function diffKey(runId: string): string {
  return runPrefix(runId) + DIFF_FILE;
}

/** `runs/{run_id}/diff.geojson`: the diff's rows as GeoJSON. */
export function diffGeoJsonKey(runId: string): string {
  return runPrefix(runId) + DIFF_GEOJSON_FILE;
}

/** The run id of a manifest key (`runs/{run_id}/manifest.json`), or null for any other key. */
export function parseManifestKey(key: string): string | null {
  const m = /^runs\/(r-[0-9a-f]{16})\/manifest\.json$/.exec(key);
  return m ? m[1] : null;
}

/** Only letters, digits, `-` and `_` survive from an id used in a key (SQS message ids are UUIDs). */
function safeIdPart(id: string): string {
  const cleaned = id.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 100);
  return cleaned || 'unknown';
}

/**
 * Error record of a message that names a run but no valid tile:
 * `runs/{run_id}/messages/{message id}.json`. It does not end in `/error.json`, so the aggregator
 * does not count it (it is no tile of the run).
 */
export function messageErrorKey(runId: string, messageId: string): string {
  return `${runPrefix(runId)}messages/${safeIdPart(messageId)}.json`;
}

/** Error record of a message with no readable run id: `errors/unroutable/{iso time}-{message id}.json`. */
export function unroutableKey(messageId: string, now: Date = new Date()): string {
  const stamp = now.toISOString().replace(/[:.]/g, '-');
  return `${UNROUTABLE_PREFIX}${stamp}-${safeIdPart(messageId)}.json`;
}

/** What a result key names: the run, the tile and whether it is a clusters file or an error record. */
export interface ResultKey {
  runId: string;
  tile: TileAddress;
  kind: 'clusters' | 'error';
}

const RESULT_KEY = /^runs\/(r-[0-9a-f]{16})\/tiles\/(\d{1,2})\/(\d{1,7})\/(\d{1,7})\/(clusters\.parquet|error\.json)$/;

/** Parses a (URL-decoded) key written by `clustersKey`/`errorKey`; null for any other key. */
export function parseResultKey(key: string): ResultKey | null {
  const m = RESULT_KEY.exec(key);
  if (!m) return null;
  const tile = { z: Number(m[2]), x: Number(m[3]), y: Number(m[4]) };
  try {
    validateTile(tile);
  } catch {
    return null;
  }
  // Reject non-canonical numbers (`007`): the builders never write them.
  if (`${tile.z}/${tile.x}/${tile.y}` !== `${m[2]}/${m[3]}/${m[4]}`) return null;
  return { runId: m[1], tile, kind: m[5] === CLUSTERS_FILE ? 'clusters' : 'error' };
}

/** S3 object keys are at most 1024 bytes. */
export const MAX_KEY_LENGTH = 1024;

/**
 * S3 event keys are URL-encoded with `+` for spaces (`runs%2F...` never occurs but `%XX` may).
 * Throws one line for broken encoding (`%E0%A4%A`) or a key longer than S3 allows. The decoded key
 * still has to pass `parseResultKey`: `%2F..%2F` decodes to `/../`, which no result key contains.
 */
export function decodeS3Key(key: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(key.replace(/\+/g, ' '));
  } catch {
    throw new Error(`S3 key ${JSON.stringify(key.slice(0, 200))} is not valid URL encoding`);
  }
  if (Buffer.byteLength(decoded) > MAX_KEY_LENGTH) throw new Error(`S3 key is longer than ${MAX_KEY_LENGTH} bytes`);
  return decoded;
}
