// Writing a tile's result objects to the results bucket: the parquet pair or an error record.
// Shared by the consumer and the dead-letter handler; keys come from core/run/keys.ts only.
import { HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { clustersKey, errorKey, membersKey, messageErrorKey, unroutableKey } from '../run/keys.ts';
import type { ErrorRecord } from '../run/messages.ts';
import { writeClusters, writeMembers } from '../run/parquet.ts';
import type { RunSpec } from '../run/params.ts';
import type { ClusterRecord } from '../clusters/types.ts';
import type { TileAddress } from '../tiles/types.ts';

export interface ResultStore {
  s3: S3Client;
  bucket: string;
}

async function put(store: ResultStore, key: string, body: Uint8Array | string, contentType: string): Promise<void> {
  await store.s3.send(new PutObjectCommand({ Bucket: store.bucket, Key: key, Body: body, ContentType: contentType }));
}

/**
 * Writes members.parquet, then clusters.parquet: the clusters file lands last because its
 * ObjectCreated event tells the aggregator the tile is done. Returns the clusters key.
 */
export async function putTileResult(store: ResultStore, runId: string, spec: RunSpec, tile: TileAddress, clusters: readonly ClusterRecord[]): Promise<string> {
  const t = { z: tile.z, x: tile.x, y: tile.y };
  await put(store, membersKey(runId, t), writeMembers(clusters), 'application/vnd.apache.parquet');
  const key = clustersKey(runId, t);
  await put(store, key, writeClusters({ run_id: runId, tile: t, params: spec }, clusters), 'application/vnd.apache.parquet');
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

/** True when the object exists. */
export async function objectExists(store: ResultStore, key: string): Promise<boolean> {
  try {
    await store.s3.send(new HeadObjectCommand({ Bucket: store.bucket, Key: key }));
    return true;
  } catch (error) {
    const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
    if (e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404) return false;
    throw error;
  }
}
