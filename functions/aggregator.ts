// S3-triggered aggregator: each clusters.parquet or error.json landing under runs/ is recorded in
// the ledger once; the event that completes the run writes the manifest (exactly once).
// Cost per event is constant: one small object read and a few DynamoDB writes; only the event
// that completes the run reads the whole ledger (a paginated Query per shard of the run).
import { ledgerFromEnv, resultsBucket, s3Client } from '../core/store/aws.ts';
import { errorText, Logger } from '../core/store/log.ts';
import { decodeS3Key, parseResultKey, type ResultKey } from '../core/run/keys.ts';
import type { Ledger } from '../core/store/ledger.ts';
import type { TileOutcome } from '../core/run/types.ts';
import { getBytes, getParquetFooter, type ResultStore } from '../core/store/result-store.ts';
import { completeRun } from '../core/store/run-completion.ts';
import { clustersOutcome, errorOutcome, errorRecordOutcome, summarizeClusters } from '../core/run/manifest.ts';
import { parseErrorRecord, parseS3Event, type S3Record } from '../core/run/messages.ts';
import { readClusters, readClustersInfo } from '../core/run/parquet.ts';
import { parseRunSpec, type RunSpec } from '../core/run/params.ts';
import { tileKey } from '../core/tiles/grid.ts';
import { isTransient } from '../core/store/transient.ts';

interface Deps extends ResultStore {
  ledger: Ledger;
}

let deps: Deps | undefined;
const log = new Logger({ stage: 'aggregate' });

function defaultDeps(): Deps {
  return { s3: s3Client(), bucket: resultsBucket(), ledger: ledgerFromEnv() };
}

/** The run's params from the ledger (for records that do not carry them). */
async function specFromLedger(d: Deps, runId: string): Promise<RunSpec> {
  const run = await d.ledger.getRun(runId);
  if (!run) {
    // Enqueue creates the run item before sending; until it exists, retrying is the only option.
    throw Object.assign(new Error(`run ${runId}: no params in the object and no run item in the ledger yet`), { transient: true });
  }
  return run.params;
}

/** Reads a result object into the ledger outcome of its tile (an unreadable object = failed tile). */
async function readOutcome(d: Deps, key: string, parsed: ResultKey, bytes: Uint8Array): Promise<{ outcome: TileOutcome; spec: RunSpec | null }> {
  const { runId, tile } = parsed;
  if (parsed.kind === 'clusters') {
    try {
      const info = readClustersInfo(bytes);
      if (info.run_id !== runId || tileKey(info.tile) !== tileKey(tile)) throw new Error(`file says run ${info.run_id} tile ${tileKey(info.tile)}`);
      const spec = parseRunSpec(info.params);
      // Files written before the tile's totals were in the footer: sum their rows.
      const totals = info.totals ?? summarizeClusters(await readClusters((await getBytes(d.s3, d.bucket, key)) ?? new Uint8Array()));
      return { outcome: clustersOutcome(tile, key, totals), spec };
    } catch (error) {
      if (isTransient(error)) throw error; // the fallback's GET
      return { outcome: errorOutcome(tile, `unreadable clusters file: ${(error as Error).message}`, 'aggregate'), spec: null };
    }
  }
  try {
    const record = parseErrorRecord(new TextDecoder().decode(bytes));
    // The key decides the tile; the record's own fields are only informative.
    return { outcome: { ...errorRecordOutcome(record), z: tile.z, x: tile.x, y: tile.y }, spec: record.params ?? null };
  } catch (error) {
    return { outcome: errorOutcome(tile, `unreadable error record: ${(error as Error).message}`, 'aggregate'), spec: null };
  }
}

/**
 * Writes the manifest if this call wins the claim (core/store/run-completion.ts). While another
 * attempt holds the claim, throws a transient error: Lambda retries the event later, and that
 * retry either finds the manifest written or takes over from a writer that crashed. A later event
 * of a complete run also lands here, so a manifest that was never written (or was deleted) is
 * written then.
 */
async function writeManifestOnce(d: Deps, runId: string): Promise<void> {
  const completion = await completeRun(d, runId, { accounted: true });
  if (completion.state === 'held') {
    throw Object.assign(new Error(`run ${runId}: manifest is being written by another invocation`), { transient: true });
  }
  if (completion.state === 'written') {
    const m = completion.manifest;
    log.info(`manifest written (${m.tiles} tiles, ${m.tiles_failed} failed, ${m.totals.clusters} clusters)`, { run_id: runId });
  }
}

async function processRecord(d: Deps, record: S3Record): Promise<void> {
  if (!record.eventName.startsWith('ObjectCreated')) return;
  const key = decodeS3Key(record.s3.object.key);
  const parsed = parseResultKey(key);
  if (!parsed) {
    log.warn(`ignored object ${key}: not a tile result key`);
    return;
  }
  // A clusters file is read by its footer alone (its totals are there); null: deleted since the event.
  const bytes = parsed.kind === 'clusters' ? await getParquetFooter(d.s3, d.bucket, key) : await getBytes(d.s3, d.bucket, key);
  if (!bytes) {
    log.warn(`ignored object ${key}: it no longer exists`, { run_id: parsed.runId, tile: parsed.tile });
    return;
  }
  const { outcome, spec } = await readOutcome(d, key, parsed, bytes);
  const runSpec = spec ?? (await specFromLedger(d, parsed.runId));
  const result = await d.ledger.recordTile(parsed.runId, runSpec, outcome);
  if (!result.firstTime) log.info(`already recorded (${result.outcome.status})`, { run_id: parsed.runId, tile: parsed.tile });
  if (result.runComplete) await writeManifestOnce(d, parsed.runId);
}

/** The run and tile of a result key, for a log line (none for other keys). */
function runFields(key: string) {
  try {
    const parsed = parseResultKey(decodeS3Key(key));
    return parsed ? { run_id: parsed.runId, tile: parsed.tile } : {};
  } catch {
    return {}; // a broken key: the message says so
  }
}

/**
 * Lambda entry point (S3 notification). Throws only on failures worth retrying (S3/DynamoDB
 * unavailable, throttled): Lambda's async retry then replays the event, which every step
 * tolerates. A permanent failure (a forged or inconsistent object) is logged and dropped.
 */
export async function handler(event: unknown): Promise<void> {
  deps ??= defaultDeps();
  const { records, errors } = parseS3Event(event);
  for (const error of errors) log.error(error);
  const failures: string[] = [];
  for (const record of records) {
    try {
      await processRecord(deps, record);
    } catch (error) {
      const line = `${record.s3.object.key}: ${errorText(error)}`;
      if (isTransient(error)) failures.push(line);
      else log.error(`dropped ${line}`, runFields(record.s3.object.key));
    }
  }
  if (failures.length > 0) throw new Error(`aggregator failed on ${failures.length} record(s): ${failures.join('; ')}`);
}
