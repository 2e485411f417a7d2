// The run ledger in DynamoDB: which tiles of a run are finished, and whether its manifest is written.
//
// Items (one table, keys pk/sk). A run is spread over `shards` partition keys so that no key is hot:
//   pk = `run#{run_id}`, sk = `run`   run item: params, tiles, shards, created_at, shards_done
//                         (number set), manifest claim (claim_owner, claim_until), manifest_key/completed_at
//   pk = `run#{run_id}#s{shard}`, sk = `shard`   one per shard: number sets `ok` and `failed` of the
//                         indexes of the shard's finished tiles
//   pk = `run#{run_id}#s{shard}`, sk = `tile#{z}/{x}/{y}`   one per finished tile of the shard: what the
//                         manifest needs (status, result key, clusters, alerts, hectares, dates, or the error)
// Tile `index` belongs to shard `index mod shards`: tiles finish in about index order, so the tiles
// in flight at any moment are spread evenly over every shard (and its partition key) instead of
// all filling the same one.
//
// Why not one TransactWriteItems (tile item + counter)? dynalite 4.0, the local emulator, does not
// implement transactions (it answers UnknownOperationException; checked). Instead every write is idempotent on its own, so a replay of the same
// S3 event repairs a process that died between writes, and a duplicate changes nothing:
//   1. put the tile item only if absent (first outcome of a tile wins, later ones are ignored);
//   2. ADD the tile's index to its shard's number set: adding a member twice is a no-op, so the
//      count (set size) can neither be lost nor doubled;
//   3. when a shard's sets are full, ADD the shard number to the run item's `shards_done` set;
//   4. when `shards_done` is full, the run is complete. Each step costs O(1) writes, and sets stay
//      bounded (see SHARD_SIZE and MAX_SHARDS), so the per-event cost does not grow with the run.
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { runTileCount, tileIndex } from '../run/params.ts';
import type { RunSpec } from '../run/params.ts';
import type { TileAddress } from '../tiles/types.ts';
import type { TileOutcome } from '../run/types.ts';

// Shard numbers, chosen for the write rate and size of each item (DynamoDB bills 1 WRU per 1 KB
// written and allows 1,000 WCU/s per partition key; a number costs ~1 byte per 2 digits + 1):
// - SHARD_SIZE 200: a shard's sets hold ≤ 200 indexes; below index 100,000 that is ≤ 800 B, so a
//   shard update stays 1 WRU (a tile costs 2 WRU with its tile item; 1,000-member sets cost up to 5).
// - MAX_SHARDS 500: a run of up to 100,000 tiles (the size docs/operations.md recommends) gets
//   ≤ 200 tiles per shard; a bigger run gets bigger shards, not more. This keeps the run item's
//   `shards_done` ≤ 500 small numbers (~1.4 KB, ~2 WRU per update, ≤ 500 updates a run) and
//   `progress` at ≤ 500 item reads.
// - Per key: at 820 tiles/s (the pan-tropical rate) all into one run, each shard key gets
//   820 / 500 ≈ 1.6 tiles/s ≈ 3.3 WCU/s, far below the 1,000 WCU/s limit.
/** Target tiles per shard (the most a shard holds in runs of ≤ SHARD_SIZE × MAX_SHARDS tiles). */
export const SHARD_SIZE = 200;
/** Most shards (partition keys for tiles) a run gets. */
export const MAX_SHARDS = 500;
/** Shard items `progress` reads at once. */
const PROGRESS_READS = 16;
/**
 * How long a manifest writer holds its claim before another may take over. Longer than the
 * aggregator's Lambda timeout (120 s, so a live writer is never overtaken) and shorter than the
 * ~3 minutes after which Lambda's second retry of a failed event arrives (so that retry can take
 * over from a writer that crashed).
 */
export const MANIFEST_LEASE_MS = 150_000;
/** Longest error message kept in the ledger (items are limited to 400 KB). */
const MAX_MESSAGE = 2000;

/** The run item. */
export interface RunItem {
  run_id: string;
  params: RunSpec;
  tiles: number;
  shards: number;
  created_at: string;
  shards_done?: Set<number>;
  claim_owner?: string;
  claim_until?: number;
  manifest_key?: string;
  completed_at?: string;
  /** Times `--retry-failed` reopened the run's failed tiles, and the last time. */
  retries?: number;
  retried_at?: string;
}

export interface RecordResult {
  /** False when this tile had already been recorded (a duplicate or a replay). */
  firstTime: boolean;
  /** The outcome the ledger holds for the tile (the first one recorded). */
  outcome: TileOutcome;
  /** True when every tile of the run is now finished. */
  runComplete: boolean;
}

export interface Progress {
  tiles: number;
  finished: number;
  failed: number;
  manifest_key: string | null;
}

const runPk = (runId: string) => `run#${runId}`;
const RUN_SK = 'run';
/** Partition key of a shard: its shard item and its tile items. */
export const shardPk = (runId: string, shard: number) => `run#${runId}#s${shard}`;
const SHARD_SK = 'shard';
const tileSk = (tile: TileAddress) => `tile#${tile.z}/${tile.x}/${tile.y}`;

function isConditionFailure(error: unknown): boolean {
  return (error as { name?: string })?.name === 'ConditionalCheckFailedException';
}

/** Shards of a run of `tiles` tiles (see SHARD_SIZE and MAX_SHARDS). */
export function shardCount(tiles: number): number {
  return Math.min(MAX_SHARDS, Math.ceil(tiles / SHARD_SIZE));
}

/** The shard of the tile with this index: round-robin, so consecutive tiles go to different shards. */
export function shardOf(index: number, shards: number): number {
  return index % shards;
}

/** Tiles in a shard: the indexes shard, shard + shards, shard + 2·shards, … below `tiles`. */
export function shardCapacity(shard: number, shards: number, tiles: number): number {
  return Math.ceil((tiles - shard) / shards);
}

const explained = new WeakSet<DynamoDBDocumentClient>();

/**
 * DynamoDB answers a missing table with "Requested resource not found", which names nothing: say
 * which table, and the likely cause (the state of another stack, or a removed one). Once per client.
 */
function explainMissingTable(doc: DynamoDBDocumentClient): void {
  // A stand-in client (a test's fault-injecting wrapper) has no middleware stack: nothing to add.
  if (explained.has(doc) || !doc.middlewareStack) return;
  explained.add(doc);
  doc.middlewareStack.add(
    (next) => async (args) => {
      try {
        return await next(args);
      } catch (error) {
        if ((error as { name?: string }).name !== 'ResourceNotFoundException') throw error;
        const table = (args.input as { TableName?: string }).TableName ?? '?';
        throw new Error(`ledger table "${table}" not found: its state was removed or belongs to another stack (npm run dev / npm start creates it)`);
      }
    },
    { step: 'initialize', name: 'explainMissingLedgerTable' },
  );
}

export class Ledger {
  readonly doc: DynamoDBDocumentClient;
  readonly table: string;

  constructor(doc: DynamoDBDocumentClient, table: string) {
    explainMissingTable(doc);
    this.doc = doc;
    this.table = table;
  }

  /** Creates the run item unless it exists (enqueue calls this; the aggregator also fills it in). */
  async createRun(runId: string, spec: RunSpec, now: Date = new Date()): Promise<boolean> {
    const tiles = runTileCount(spec);
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: { pk: runPk(runId), sk: RUN_SK, run_id: runId, params: spec, tiles, shards: shardCount(tiles), created_at: now.toISOString() },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async getRun(runId: string): Promise<RunItem | null> {
    const out = await this.doc.send(new GetCommand({ TableName: this.table, Key: { pk: runPk(runId), sk: RUN_SK }, ConsistentRead: true }));
    if (!out.Item) return null;
    const { pk: _pk, sk: _sk, ...item } = out.Item;
    return item as RunItem;
  }

  /** Records a finished tile once and says whether the run is now complete (see the header). */
  async recordTile(runId: string, spec: RunSpec, outcome: TileOutcome, now: Date = new Date()): Promise<RecordResult> {
    const index = tileIndex(spec, outcome); // throws for a tile outside the run
    const tiles = runTileCount(spec);
    const shards = shardCount(tiles);
    const shard = shardOf(index, shards);
    const pk = shardPk(runId, shard);
    const clean = withoutUndefined({ ...outcome, ...(outcome.message ? { message: outcome.message.slice(0, MAX_MESSAGE) } : {}) });

    // 1. The tile item, first outcome wins.
    let firstTime = true;
    let stored = clean;
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: { pk, sk: tileSk(outcome), ...clean, index, recorded_at: now.toISOString() },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      firstTime = false;
      const out = await this.doc.send(new GetCommand({ TableName: this.table, Key: { pk, sk: tileSk(outcome) }, ConsistentRead: true }));
      stored = toOutcome(out.Item ?? clean);
    }

    // 2. Count the tile in its shard (set semantics: idempotent).
    const shardOut = await this.doc.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk, sk: SHARD_SK },
        // The index sits in exactly one set (a tile re-sent by --retry-failed moves from failed to ok).
        UpdateExpression: 'ADD #set :index DELETE #other :index',
        ExpressionAttributeNames: stored.status === 'failed' ? { '#set': 'failed', '#other': 'ok' } : { '#set': 'ok', '#other': 'failed' },
        ExpressionAttributeValues: { ':index': new Set([index]) },
        ReturnValues: 'ALL_NEW',
      }),
    );
    const inShard = setSize(shardOut.Attributes?.ok) + setSize(shardOut.Attributes?.failed);
    if (inShard < shardCapacity(shard, shards, tiles)) return { firstTime, outcome: stored, runComplete: false };

    // 3. The shard is full: count it on the run item (creating the run item if enqueue did not).
    const runOut = await this.doc.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: runPk(runId), sk: RUN_SK },
        UpdateExpression:
          'ADD shards_done :shard SET run_id = if_not_exists(run_id, :id), params = if_not_exists(params, :params), ' +
          'tiles = if_not_exists(tiles, :tiles), shards = if_not_exists(shards, :shards), created_at = if_not_exists(created_at, :now)',
        ExpressionAttributeValues: {
          ':shard': new Set([shard]),
          ':id': runId,
          ':params': spec,
          ':tiles': tiles,
          ':shards': shards,
          ':now': now.toISOString(),
        },
        ReturnValues: 'ALL_NEW',
      }),
    );
    // 4. Complete when every shard is full.
    return { firstTime, outcome: stored, runComplete: setSize(runOut.Attributes?.shards_done) >= shards };
  }

  /**
   * Claims the right to write the manifest: 'claimed' for exactly one caller at a time, 'done' once
   * the manifest is written, 'held' while another caller's lease runs. `token` must be unique per
   * attempt (two deliveries of the same S3 event are two attempts). A writer that crashed is taken
   * over when its lease expires, so the lease must exceed the aggregator's timeout.
   */
  async claimManifest(
    runId: string,
    token: string,
    now: Date = new Date(),
    leaseMs = MANIFEST_LEASE_MS,
    options: { rewrite?: boolean } = {},
  ): Promise<'claimed' | 'done' | 'held'> {
    // `rewrite`: the ledger says written but the object is gone (deleted): claim it all the same.
    const written = options.rewrite ? '' : 'attribute_not_exists(manifest_key) AND ';
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: runPk(runId), sk: RUN_SK },
          UpdateExpression: 'SET claim_owner = :token, claim_until = :until',
          ConditionExpression: `attribute_exists(pk) AND ${written}(attribute_not_exists(claim_until) OR claim_until < :now)`,
          ExpressionAttributeValues: { ':token': token, ':until': now.getTime() + leaseMs, ':now': now.getTime() },
        }),
      );
      return 'claimed';
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const run = await this.getRun(runId);
      return run?.manifest_key && !options.rewrite ? 'done' : 'held';
    }
  }

  /**
   * Reopens the failed tiles of a run for `--retry-failed`, so that their new outcomes are counted
   * once and a new manifest is written when they are all accounted again. Each step is idempotent,
   * and a crash between steps leaves a state that the same call (or a plain re-run) repairs:
   *   1. the run item forgets its manifest (manifest_key, completed_at, the claim) and the shards of
   *      these tiles (`shards_done`), unless a manifest writer holds a live lease ('held');
   *   2. per tile: its index leaves the shard's `failed` set, then its tile item is deleted (only if
   *      it still says failed), so the next outcome of the tile is its first.
   * The old manifest.json stays readable until the new one overwrites it (same key).
   */
  async reopenFailed(runId: string, spec: RunSpec, failed: readonly TileAddress[], now: Date = new Date()): Promise<'reopened' | 'held'> {
    if (failed.length === 0) return 'reopened';
    const tiles = runTileCount(spec);
    const shards = shardCount(tiles);
    const placed = failed.map((tile) => {
      const index = tileIndex(spec, tile);
      return { tile, index, shard: shardOf(index, shards) };
    });
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: runPk(runId), sk: RUN_SK },
          UpdateExpression: 'REMOVE manifest_key, completed_at, claim_owner, claim_until DELETE shards_done :shards SET retried_at = :at ADD retries :one',
          ConditionExpression: 'attribute_exists(pk) AND (attribute_exists(manifest_key) OR attribute_not_exists(claim_until) OR claim_until < :now)',
          ExpressionAttributeValues: { ':shards': new Set(placed.map((p) => p.shard)), ':at': now.toISOString(), ':one': 1, ':now': now.getTime() },
        }),
      );
    } catch (error) {
      if (isConditionFailure(error)) return 'held';
      throw error;
    }
    for (const { tile, index, shard } of placed) {
      const pk = shardPk(runId, shard);
      await this.doc.send(
        new UpdateCommand({ TableName: this.table, Key: { pk, sk: SHARD_SK }, UpdateExpression: 'DELETE failed :index', ExpressionAttributeValues: { ':index': new Set([index]) } }),
      );
      try {
        await this.doc.send(
          new DeleteCommand({
            TableName: this.table,
            Key: { pk, sk: tileSk(tile) },
            ConditionExpression: '#status = :failed',
            ExpressionAttributeNames: { '#status': 'status' },
            ExpressionAttributeValues: { ':failed': 'failed' },
          }),
        );
      } catch (error) {
        if (!isConditionFailure(error)) throw error; // already re-recorded, or gone
      }
    }
    return 'reopened';
  }

  /** Marks the manifest written (after the S3 put succeeded); only the claim holder may. */
  async finishManifest(runId: string, token: string, key: string, completedAt: string): Promise<void> {
    await this.doc.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: runPk(runId), sk: RUN_SK },
        // The lease ends with the write: a manifest deleted later can be rewritten at once.
        UpdateExpression: 'SET manifest_key = :key, completed_at = :at REMOVE claim_until',
        ConditionExpression: 'claim_owner = :token',
        ExpressionAttributeValues: { ':key': key, ':at': completedAt, ':token': token },
      }),
    );
  }

  /**
   * Every finished tile of a run, one Query page at a time: the pages of each shard's partition in
   * turn (a Query per shard key, never a listing). Nothing when the run item does not exist.
   */
  async *tilePages(runId: string, pageSize?: number): AsyncGenerator<TileOutcome[]> {
    const run = await this.getRun(runId);
    if (!run) return;
    const shards = shardCount(run.tiles);
    for (let shard = 0; shard < shards; shard++) {
      let start: Record<string, unknown> | undefined;
      do {
        const page = await this.doc.send(
          new QueryCommand({
            TableName: this.table,
            KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
            ExpressionAttributeValues: { ':pk': shardPk(runId, shard), ':prefix': 'tile#' },
            ExclusiveStartKey: start,
            ConsistentRead: true,
            Limit: pageSize,
          }),
        );
        yield (page.Items ?? []).map(toOutcome);
        start = page.LastEvaluatedKey;
      } while (start);
    }
  }

  /** Every finished tile of a run (see tilePages). */
  async *tiles(runId: string, pageSize?: number): AsyncGenerator<TileOutcome> {
    for await (const page of this.tilePages(runId, pageSize)) yield* page;
  }

  /** Finished and failed tile counts of a run (reads its shard items, ≤ MAX_SHARDS, a few at a time). */
  async progress(runId: string): Promise<Progress | null> {
    const run = await this.getRun(runId);
    if (!run) return null;
    const shards = shardCount(run.tiles);
    let finished = 0;
    let failed = 0;
    let next = 0;
    const reader = async () => {
      for (let shard = next++; shard < shards; shard = next++) {
        const out = await this.doc.send(
          new GetCommand({ TableName: this.table, Key: { pk: shardPk(runId, shard), sk: SHARD_SK }, ConsistentRead: true }),
        );
        finished += setSize(out.Item?.ok) + setSize(out.Item?.failed);
        failed += setSize(out.Item?.failed);
      }
    };
    await Promise.all(Array.from({ length: Math.min(PROGRESS_READS, shards) }, reader));
    return { tiles: run.tiles, finished, failed, manifest_key: run.manifest_key ?? null };
  }
}

/** DynamoDB rejects undefined attribute values: drop them. */
function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function setSize(value: unknown): number {
  return value instanceof Set ? value.size : 0;
}

/** A tile item back to a TileOutcome (drops the ledger's own attributes). */
function toOutcome(item: Record<string, unknown>): TileOutcome {
  const { pk: _pk, sk: _sk, index: _index, recorded_at: _at, ...outcome } = item;
  return outcome as unknown as TileOutcome;
}

/** The DynamoDB table definition the ledger needs (for tests and the local emulator). */
export const LEDGER_TABLE_DEFINITION = {
  AttributeDefinitions: [
    { AttributeName: 'pk', AttributeType: 'S' },
    { AttributeName: 'sk', AttributeType: 'S' },
  ],
  KeySchema: [
    { AttributeName: 'pk', KeyType: 'HASH' },
    { AttributeName: 'sk', KeyType: 'RANGE' },
  ],
  BillingMode: 'PAY_PER_REQUEST',
} satisfies Omit<CreateTableCommandInput, 'TableName'>;
