// Diffs of stored runs: load two finished runs (members included) and diff them; after a run of
// areas of interest, write its diff against the previous run of the same area beside its manifest
// (`runs/RUN/diff.json` + `diff.geojson`) and notify. Used by functions/diff.ts (AWS and the local
// loop), ClusterService.diff and `npm run diff` / `npm run watch`.
import type { StoredCluster } from '../clusters/types.ts';
import type { Manifest } from '../run/types.ts';
import type { Ledger } from '../store/ledger.ts';
import { loadManifest, streamRunClusters, type ObjectReader, type ResultStore } from '../store/result-store.ts';
import { loadDiffObject, previousRun, putDiff, type Notifier } from '../store/diff-store.ts';
import { diffGeoJson, diffRuns, type DiffManifest, type RunDiff } from './diff.ts';
import { withRowIds } from './table.ts';
import type { ClusterRow } from '../clusters/types.ts';

/** A finished run's manifest and rows with members; one-line error when it is not finished. */
export async function loadFinishedRun(runId: string, deps: { s3: ObjectReader; bucket: string }): Promise<{ manifest: Manifest; rows: ClusterRow[] }> {
  const manifest = await loadManifest(runId, deps.s3, deps.bucket);
  if (!manifest) throw new Error(`run ${runId} has no manifest (unknown or not finished)`);
  const clusters: StoredCluster[] = [];
  for await (const tile of streamRunClusters(manifest, deps.s3, { bucket: deps.bucket, full: true })) clusters.push(...tile);
  return { manifest, rows: withRowIds(clusters) };
}

/** The diff of two finished runs (old first). */
export async function diffStoredRuns(oldRunId: string, newRunId: string, deps: { s3: ObjectReader; bucket: string }): Promise<RunDiff> {
  const [oldRun, newRun] = await Promise.all([loadFinishedRun(oldRunId, deps), loadFinishedRun(newRunId, deps)]);
  return diffRuns(
    { runId: oldRunId, spec: oldRun.manifest.params, rows: oldRun.rows },
    { runId: newRunId, spec: newRun.manifest.params, rows: newRun.rows },
  );
}

/**
 * Writes `runs/RUN/diff.json` (and `diff.geojson` when there is a previous run) for a finished run
 * and notifies. Idempotent: a replayed event overwrites the same two objects.
 */
export async function writeRunDiff(runId: string, deps: ResultStore & { ledger: Ledger; notify?: Notifier; now?: Date }): Promise<DiffManifest> {
  const manifest = await loadManifest(runId, deps.s3, deps.bucket);
  if (!manifest) throw new Error(`run ${runId} has no manifest yet`);
  const previous = await previousRun(manifest.params, runId, deps.ledger);
  const created_at = (deps.now ?? new Date()).toISOString();
  if (!previous) {
    const out: DiffManifest = { run_id: runId, previous_run_id: null, summary: null, geojson_key: null, created_at, note: 'no earlier finished run of the same area and parameters: nothing to compare' };
    await putDiff(deps, runId, () => out, null);
    return out;
  }
  const diff = await diffStoredRuns(previous, runId, deps);
  let out!: DiffManifest;
  await putDiff(deps, runId, (geojson_key) => (out = { run_id: runId, previous_run_id: previous, summary: diff.summary, geojson_key, created_at }), JSON.stringify(diffGeoJson(diff.rows)));
  if (deps.notify) {
    const s = diff.summary;
    await deps.notify({ subject: `glad-clusters ${runId}: ${s.new} new clusters, ${s.new_hectares.toFixed(1)} new ha`.slice(0, 99), body: JSON.stringify(out) });
  }
  return out;
}

/** `runs/RUN/diff.json`, or null when not written (yet). */
export async function loadDiffManifest(runId: string, s3: ObjectReader, bucket: string): Promise<DiffManifest | null> {
  return (await loadDiffObject(runId, s3, bucket)) as DiffManifest | null;
}
