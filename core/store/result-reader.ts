// (Named load-run.ts: core/store/result-writer.ts holds the pipeline's result writers.)
// Reads a finished run back: its manifest, then the clusters (and, with `full`, members) Parquet
// file of every tile the manifest lists, as cluster records. I/O only through a narrow S3 reader.
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { manifestKey, MEMBERS_FILE, CLUSTERS_FILE } from '../run/keys.ts';
import { readClusters, readMembers, type ClusterRow } from '../run/parquet.ts';
import type { GeoJsonPolygon } from '../clusters/records.ts';
import type { AlertTuple, ClusterRecord } from '../clusters/types.ts';
import type { Manifest } from '../run/types.ts';

/**
 * A cluster of a run: the record every output is built from, plus the run it belongs to and the
 * convex hull stored in its clusters file (`geometry`), so exports need not read the members for it.
 */
export type RunCluster = ClusterRecord & { run_id: string; geometry: GeoJsonPolygon };

export interface LoadedRun {
  manifest: Manifest;
  /** In manifest order (tile by tile), then file order within a tile. */
  clusters: RunCluster[];
}

/** The one S3 call this module needs (an S3Client satisfies it). */
export type ObjectReader = Pick<S3Client, 'send'>;

export interface LoadOptions {
  /** Bucket holding the run (the results bucket). */
  bucket: string;
  /** Also read members.parquet and fill each cluster's `alerts` (otherwise `alerts` is []). */
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

/** The object's bytes, or null when there is no such key (the aggregator reads its events' objects with it too). */
export async function getBytes(s3: ObjectReader, bucket: string, key: string): Promise<Uint8Array | null> {
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return out.Body ? await out.Body.transformToByteArray() : new Uint8Array();
  } catch (error) {
    if ((error as { name?: string }).name === 'NoSuchKey') return null;
    throw error;
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

/** Cluster rows (+ members) of one clusters.parquet key → run clusters. */
async function loadTile(s3: ObjectReader, bucket: string, clustersKey: string, full: boolean): Promise<RunCluster[]> {
  const bytes = await getBytes(s3, bucket, clustersKey);
  if (!bytes) throw new Error(`result file ${clustersKey} listed in the manifest is missing`);
  const rows: ClusterRow[] = await readClusters(bytes);
  const alerts: AlertTuple[][] = rows.map(() => []);
  if (full && rows.length > 0) {
    const membersKey = clustersKey.slice(0, -CLUSTERS_FILE.length) + MEMBERS_FILE;
    const memberBytes = await getBytes(s3, bucket, membersKey);
    if (!memberBytes) throw new Error(`members file ${membersKey} is missing`);
    for (const m of await readMembers(memberBytes)) alerts[m.cluster]?.push([m.row, m.col, m.date]);
  }
  return rows.map((row, k) => {
    const { run_id, geometry, ...fields } = row;
    // The hull was written from [lon, lat] pairs (core/run/parquet.ts writeClusters): read back as such.
    return { run_id, ...fields, alerts: alerts[k], geometry: geometry as GeoJsonPolygon };
  });
}

/**
 * The clusters of a finished run, one tile at a time in manifest order, with at most `concurrency`
 * tiles read ahead. Memory stays bounded by those few tiles however large the run is, so a caller
 * can write rows out as they come (e.g. a CSV or NDJSON file of a 100,000-tile run).
 */
export async function* streamRunClusters(manifest: Manifest, s3: ObjectReader, options: LoadOptions): AsyncGenerator<RunCluster[]> {
  const limit = Math.max(1, options.concurrency ?? 16);
  const keys = manifest.results;
  const ahead: Promise<RunCluster[]>[] = [];
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
  const clusters: RunCluster[] = [];
  for await (const tile of streamRunClusters(manifest, s3, options)) clusters.push(...tile);
  return { manifest, clusters };
}
