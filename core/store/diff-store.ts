// Diff objects in the store: the previous run of the same area and parameters (from the ledger),
// `runs/RUN/diff.json` + `diff.geojson`, and the optional SNS notification. The diff itself is
// computed by core/results/run-diff.ts.
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { canonicalJson, type RunSpec } from '../run/params.ts';
import { diffGeoJsonKey, diffKey } from '../run/keys.ts';
import type { Ledger } from './ledger.ts';
import { getBytes, type ObjectReader, type ResultStore } from './result-store.ts';
import { scanRunItems } from './run-list.ts';

/** What must be equal for two runs to watch the same thing: all params but the dates and the tile source. */
export function watchKey(spec: RunSpec): string {
  const { start_date: _s, end_date: _e, tiles_url: _t, ...rest } = spec;
  return canonicalJson(rest);
}

/**
 * The previous finished run of the same area and parameters: the ledger's finished run with the
 * same watch key, ending earlier, latest end date first (then latest completion). Null when none.
 * Scans the ledger's run items (a listing, once per run: fine).
 */
export async function previousRun(spec: RunSpec, runId: string, ledger: Ledger): Promise<string | null> {
  const key = watchKey(spec);
  const candidates = (await scanRunItems(ledger.doc, ledger.table)).filter(
    (r) => r.run_id !== runId && r.manifest_key && r.params && r.params.end_date < spec.end_date && watchKey(r.params) === key,
  );
  candidates.sort((a, b) => b.params.end_date.localeCompare(a.params.end_date) || (b.completed_at ?? '').localeCompare(a.completed_at ?? ''));
  return candidates[0]?.run_id ?? null;
}

/** Writes the diff's GeoJSON (when given) then `runs/RUN/diff.json`; returns the GeoJSON key or null. */
export async function putDiff(store: ResultStore, runId: string, manifest: (geojsonKey: string | null) => unknown, geojson: string | null): Promise<string | null> {
  let geojsonKey: string | null = null;
  if (geojson !== null) {
    geojsonKey = diffGeoJsonKey(runId);
    await store.s3.send(new PutObjectCommand({ Bucket: store.bucket, Key: geojsonKey, Body: geojson, ContentType: 'application/geo+json' }));
  }
  await store.s3.send(new PutObjectCommand({ Bucket: store.bucket, Key: diffKey(runId), Body: JSON.stringify(manifest(geojsonKey), null, 2), ContentType: 'application/json' }));
  return geojsonKey;
}

/** Reads `runs/RUN/diff.json`, or null when it is not written (yet). */
export async function loadDiffObject(runId: string, s3: ObjectReader, bucket: string): Promise<unknown> {
  const bytes = await getBytes(s3, bucket, diffKey(runId));
  return bytes ? JSON.parse(new TextDecoder().decode(bytes)) : null;
}

/** Publishes a message (SNS on AWS). */
export type Notifier = (message: { subject: string; body: string }) => Promise<void>;
/**
 * The SNS notifier of the linked topic `DiffTopic` (SST_RESOURCE_DiffTopic = {"arn": …}), or
 * undefined when no topic is linked (the notification is optional). The message is the diff
 * manifest: summary and the key of the GeoJSON.
 */
export function diffNotifierFromEnv(env: NodeJS.ProcessEnv = process.env): Notifier | undefined {
  const raw = env.SST_RESOURCE_DiffTopic;
  if (!raw) return undefined;
  const arn = (JSON.parse(raw) as { arn?: string }).arn;
  if (!arn) return undefined;
  return async ({ subject, body }) => {
    const { SNSClient, PublishCommand } = await import('@aws-sdk/client-sns');
    await new SNSClient({}).send(new PublishCommand({ TopicArn: arn, Subject: subject, Message: body }));
  };
}
