// Writing a run's manifest once every tile is accounted for — by the aggregator event that counts
// the last tile, and by anything that comes later and finds it missing: a re-run (submitRun),
// `fetch` (ClusterService), a later aggregator event, the dead-letter handler. So a process that
// died after the last tile was counted but before the manifest was written (SIGKILL, OOM, a closed
// terminal) leaves no run stuck, and a manifest.json deleted while the ledger says "complete" is
// written again. "Once" comes from the ledger's manifest claim (a lease, core/store/ledger.ts).
import { randomUUID } from 'node:crypto';
import type { Ledger } from './ledger.ts';
import { objectExists, putManifest, type ResultStore } from './result-store.ts';
import { buildManifest } from '../run/manifest.ts';
import { manifestKey } from '../run/keys.ts';
import type { Manifest, TileOutcome } from '../run/types.ts';

export interface CompletionDeps extends ResultStore {
  ledger: Ledger;
}

/**
 * - `written`: this call wrote the manifest;
 * - `done`: the manifest exists;
 * - `held`: another writer holds a live lease until `until` (ms since epoch): wait, then call again;
 * - `incomplete`: some tiles are not accounted yet (`finished` of `tiles`);
 * - `unknown`: no such run in the ledger.
 */
export type Completion =
  | { state: 'written'; manifest: Manifest }
  | { state: 'done' }
  | { state: 'held'; until: number }
  | { state: 'incomplete'; finished: number; tiles: number }
  | { state: 'unknown' };

export interface CompleteOptions {
  now?: Date;
  /** The caller knows every tile is accounted (the aggregator's shards_done): skip the count. */
  accounted?: boolean;
}

/** Writes the run's manifest if every tile is accounted and no manifest exists (see Completion). */
export async function completeRun(d: CompletionDeps, runId: string, options: CompleteOptions = {}): Promise<Completion> {
  const now = options.now ?? new Date();
  const run = await d.ledger.getRun(runId);
  if (!run) return { state: 'unknown' };
  const key = manifestKey(runId);
  // The ledger says written: trust it only if the object is there.
  const rewrite = Boolean(run.manifest_key);
  if (rewrite) {
    if (await objectExists(d, key)) return { state: 'done' };
  } else if (!options.accounted) {
    const progress = await d.ledger.progress(runId);
    if (!progress || progress.finished < progress.tiles) return { state: 'incomplete', finished: progress?.finished ?? 0, tiles: run.tiles };
  }
  const token = randomUUID();
  const claim = await d.ledger.claimManifest(runId, token, now, undefined, { rewrite });
  if (claim === 'done') return { state: 'done' };
  if (claim === 'held') return { state: 'held', until: (await d.ledger.getRun(runId))?.claim_until ?? now.getTime() };
  // Another repairer may have rewritten it between our look and our claim.
  if (rewrite && (await objectExists(d, key))) return { state: 'done' };
  const outcomes: TileOutcome[] = [];
  for await (const outcome of d.ledger.tiles(runId)) outcomes.push(outcome);
  const completedAt = now.toISOString();
  const manifest = buildManifest({ runId, spec: run.params, createdAt: run.created_at, completedAt, outcomes });
  // Same key every time: even a takeover after a crash overwrites, never duplicates.
  const written = await putManifest(d, manifest);
  await d.ledger.finishManifest(runId, token, written, completedAt);
  return { state: 'written', manifest };
}
