// The results bucket: writing a tile's result objects (clusters.parquet with its members, or an error record),
// reading a clusters file's footer (the aggregator), and reading a finished run back (its
// manifest, then the clusters and, with `full`, members file of every tile it lists).
// Keys come from core/run/keys.ts only; formats from core/run/parquet.ts.
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { CLUSTERS_FILE, clustersKey, errorKey, lastErrorKey, manifestKey, MEMBERS_FILE, messageErrorKey, unroutableKey } from '../run/keys.ts';
import type { ErrorRecord } from '../run/messages.ts';
import { readClustersAndMembers, readMembers, writeClusters } from '../run/parquet.ts';
import type { RunSpec } from '../run/params.ts';
import type { Manifest } from '../run/types.ts';
import type { AlertTuple, Cluster, StoredCluster } from '../clusters/types.ts';
import type { TileAddress } from '../tiles/types.ts';

/** Where results are written: a client and the results bucket. */
export interface ResultStore {
  s3: Pick<S3Client, 'send'>;
  bucket: string;
}

/** The one S3 call reading needs (an S3Client satisfies it). */
export type ObjectReader = Pick<S3Client, 'send'>;

// ------------------------------------------------------------------ writing

async function put(store: ResultStore, key: string, body: Uint8Array | string, contentType: string): Promise<void> {
  await store.s3.send(new PutObjectCommand({ Bucket: store.bucket, Key: key, Body: body, ContentType: contentType }));
}

/**
 * Writes the tile's one result object, clusters.parquet with each cluster's members in list columns
 * (format 2, core/run/parquet.ts); its ObjectCreated event tells the aggregator the tile is done.
 * Returns its key. (Format 1 wrote members.parquet first, then clusters.parquet; readers take both.)
 */
export async function putTileResult(
  store: ResultStore,
  runId: string,
  spec: RunSpec,
  tile: TileAddress,
  clusters: readonly Cluster[],
  tileAlerts?: number,
): Promise<string> {
  const t = { z: tile.z, x: tile.x, y: tile.y };
  const key = clustersKey(runId, t);
  await put(store, key, writeClusters({ run_id: runId, tile: t, params: spec, tile_alerts: tileAlerts }, clusters), 'application/vnd.apache.parquet');
  return key;
}

/** Writes a tile's error.json (the tile counts as failed). Returns its key. */
export async function putTileError(
  store: ResultStore,
  fields: { runId: string; tile: TileAddress; message: string; stage: string; params?: RunSpec; messageId?: string },
  now: Date = new Date(),
): Promise<string> {
  const record: ErrorRecord = {
    run_id: fields.runId,
    z: fields.tile.z,
    x: fields.tile.x,
    y: fields.tile.y,
    message: fields.message,
    stage: fields.stage,
    ...(fields.params ? { params: fields.params } : {}),
    ...(fields.messageId ? { message_id: fields.messageId } : {}),
    at: now.toISOString(),
  };
  const key = errorKey(fields.runId, fields.tile);
  await put(store, key, JSON.stringify(record, null, 2), 'application/json');
  return key;
}

/** Records the last transient error of a tile's message (see lastErrorKey); never throws. */
export async function putLastError(store: ResultStore, runId: string, tile: TileAddress, message: string, receives: number, now = new Date()): Promise<boolean> {
  try {
    await put(store, lastErrorKey(runId, tile), JSON.stringify({ message: message.slice(0, 2000), receives, at: now.toISOString() }), 'application/json');
    return true;
  } catch {
    return false; // S3 itself failing: the record will say less, nothing else changes
  }
}

/** A bad message's record as JSON: what and why, then the message body (first 10,000 characters). */
function messageRecord(fields: Record<string, string>, body: string, now: Date): string {
  return JSON.stringify({ ...fields, body: body.slice(0, 10_000), at: now.toISOString() }, null, 2);
}

/** Error record of a message that names a run but no valid tile (not counted as a tile). */
export async function putMessageError(store: ResultStore, runId: string, messageId: string, error: string, body: string, stage: string, now = new Date()): Promise<string> {
  const key = messageErrorKey(runId, messageId);
  await put(store, key, messageRecord({ run_id: runId, message_id: messageId, stage, message: error }, body, now), 'application/json');
  return key;
}

/** A message that names no readable run: dropped to errors/unroutable/ (the caller logs it). */
export async function putUnroutable(store: ResultStore, messageId: string, error: string, body: string, stage: string, now = new Date()): Promise<string> {
  const key = unroutableKey(messageId, now);
  await put(store, key, messageRecord({ message_id: messageId, stage, message: error }, body, now), 'application/json');
  return key;
}

/** Writes the run's manifest (the same key every time: a rewrite overwrites, never duplicates). Returns its key. */
export async function putManifest(store: ResultStore, manifest: Manifest): Promise<string> {
  const key = manifestKey(manifest.run_id);
  await put(store, key, JSON.stringify(manifest, null, 2), 'application/json');
  return key;
}

// ------------------------------------------------------------------ reading objects

const isMissing = (error: unknown) => {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404;
};

/** True when the object exists. */
export async function objectExists(store: ResultStore, key: string): Promise<boolean> {
  try {
    await store.s3.send(new HeadObjectCommand({ Bucket: store.bucket, Key: key }));
    return true;
  } catch (error) {
    if (isMissing(error)) return false;
    throw error;
  }
}

/** The object's bytes, or null when there is no such key. */
export async function getBytes(s3: ObjectReader, bucket: string, key: string): Promise<Uint8Array | null> {
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return out.Body ? await out.Body.transformToByteArray() : new Uint8Array();
  } catch (error) {
    if ((error as { name?: string }).name === 'NoSuchKey') return null;
    throw error;
  }
}

/** First read of a footer: a clusters file's is about 2 KB; a longer one costs one more GET. */
const FOOTER_FETCH = 8 * 1024;

/** Bytes [start, end) of the object, pinned by ETag to the version a HEAD saw. */
async function getRange(s3: ObjectReader, bucket: string, key: string, start: number, end: number, etag: string | undefined): Promise<Uint8Array> {
  if (end <= start) return new Uint8Array();
  // IfMatch: an overwrite between the HEAD and this GET fails the GET rather than mixing two files
  // (the overwrite's own event then records the tile).
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${start}-${end - 1}`, IfMatch: etag }));
  return out.Body ? await out.Body.transformToByteArray() : new Uint8Array();
}

/**
 * The tail of a Parquet object that holds its footer (metadata, its length, "PAR1"), read with
 * ranged GETs: one HEAD, one GET of the last 8 KiB, and one more GET only for a longer footer.
 * hyparquet's parquetMetadata parses it like the whole file. Null when there is no such key.
 */
export async function getParquetFooter(s3: ObjectReader, bucket: string, key: string): Promise<Uint8Array | null> {
  let head;
  try {
    head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  } catch (error) {
    if (isMissing(error)) return null;
    throw error;
  }
  const size = head.ContentLength ?? 0;
  const tailStart = Math.max(0, size - FOOTER_FETCH);
  const tail = await getRange(s3, bucket, key, tailStart, size, head.ETag);
  if (tail.byteLength < 8) return tail; // not Parquet: the parser says so
  const footerLength = new DataView(tail.buffer, tail.byteOffset, tail.byteLength).getUint32(tail.byteLength - 8, true) + 8;
  if (footerLength <= tail.byteLength || footerLength > size) return tail;
  const rest = await getRange(s3, bucket, key, size - footerLength, tailStart, head.ETag);
  const footer = new Uint8Array(footerLength);
  footer.set(rest);
  footer.set(tail, rest.byteLength);
  return footer;
}

// ------------------------------------------------------------------ reading a run

export interface LoadedRun {
  manifest: Manifest;
  /** In manifest order (tile by tile), then file order within a tile. */
  clusters: StoredCluster[];
}

export interface LoadOptions {
  /** Bucket holding the run (the results bucket). */
  bucket: string;
  /** Also fill each cluster's `alerts` (from the clusters file; members.parquet for a format-1 run), otherwise `alerts` is []. */
  full?: boolean;
  /** Parallel object reads. */
  concurrency?: number;
}

/** Thrown when a run has no manifest yet (unknown, or still running). */
export class RunNotFoundError extends Error {
  readonly runId: string;
  constructor(runId: string) {
    super(`run ${runId} has no manifest (unknown run, or not finished yet)`);
    this.name = 'RunNotFoundError';
    this.runId = runId;
  }
}

/** The run's manifest, or null when it has none (yet). */
export async function loadManifest(runId: string, s3: ObjectReader, bucket: string): Promise<Manifest | null> {
  const bytes = await getBytes(s3, bucket, manifestKey(runId));
  if (!bytes) return null;
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as Manifest;
  } catch {
    throw new Error(`manifest of run ${runId} is not JSON`);
  }
}

/** Cluster rows (+ members) of one clusters.parquet key → stored clusters. */
/** A file that cannot be read (truncated, not Parquet) is named in the error. */
async function named<T>(key: string, reading: Promise<T>): Promise<T> {
  try {
    return await reading;
  } catch (error) {
    throw new Error(`result file ${key} cannot be read: ${(error as Error).message}`);
  }
}

async function loadTile(s3: ObjectReader, bucket: string, clustersKey: string, full: boolean): Promise<StoredCluster[]> {
  const bytes = await getBytes(s3, bucket, clustersKey);
  if (!bytes) throw new Error(`result file ${clustersKey} listed in the manifest is missing`);
  const { rows, members } = await named(clustersKey, readClustersAndMembers(bytes));
  const alerts: AlertTuple[][] = full && members ? members : rows.map(() => []);
  if (full && !members && rows.length > 0) {
    // Format 1: the members are in members.parquet next to the clusters file.
    const membersKey = clustersKey.slice(0, -CLUSTERS_FILE.length) + MEMBERS_FILE;
    const memberBytes = await getBytes(s3, bucket, membersKey);
    if (!memberBytes) throw new Error(`members file ${membersKey} is missing`);
    for (const m of await named(membersKey, readMembers(memberBytes))) alerts[m.cluster]?.push([m.row, m.col, m.date]);
  }
  return rows.map((row, k) => {
    const { run_id, geometry, ...fields } = row;
    return { run_id, ...fields, alerts: alerts[k], geometry };
  });
}

/**
 * The clusters of a finished run, one tile at a time in manifest order, with at most `concurrency`
 * tiles read ahead. Memory stays bounded by those few tiles however large the run is, so a caller
 * can write rows out as they come (e.g. a CSV or NDJSON file of a 100,000-tile run).
 */
export async function* streamRunClusters(manifest: Manifest, s3: ObjectReader, options: LoadOptions): AsyncGenerator<StoredCluster[]> {
  const limit = Math.max(1, options.concurrency ?? 16);
  const keys = manifest.results;
  const ahead: Promise<StoredCluster[]>[] = [];
  let next = 0;
  const fill = () => {
    while (ahead.length < limit && next < keys.length) {
      const read = loadTile(s3, options.bucket, keys[next++], options.full ?? false);
      read.catch(() => undefined); // surfaced when its turn comes; no unhandled rejection meanwhile
      ahead.push(read);
    }
  };
  fill();
  while (ahead.length > 0) {
    const tile = await ahead.shift()!;
    fill();
    yield tile;
  }
}

/** A finished run: its manifest and every cluster of it. Throws RunNotFoundError without a manifest. */
export async function loadRun(runId: string, s3: ObjectReader, options: LoadOptions): Promise<LoadedRun> {
  const manifest = await loadManifest(runId, s3, options.bucket);
  if (!manifest) throw new RunNotFoundError(runId);
  const clusters: StoredCluster[] = [];
  for await (const tile of streamRunClusters(manifest, s3, options)) clusters.push(...tile);
  return { manifest, clusters };
}

