// The runs the ledger knows, for `npm run fetch -- --list`: id, parameters, state, tiles,
// clusters (from the manifest of finished runs) and creation time.
//
// The ledger has no index of runs, so this scans the table for run items (sk = "run"). A scan
// reads tile items too: fine for a listing command, not for a hot path.
import { ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Ledger, RunItem } from './ledger.ts';
import { loadManifest, type ObjectReader } from './result-store.ts';

export interface RunListing {
  run_id: string;
  state: string;
  tiles: number;
  clusters: number | null;
  created_at: string;
  completed_at: string | null;
  /** Short form of the parameters: z, tile range, dates, algorithm/width/min_count. */
  params: string;
}

/** Run items of the ledger table, oldest first. */
export async function scanRunItems(doc: DynamoDBDocumentClient, table: string): Promise<RunItem[]> {
  const items: RunItem[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(
      new ScanCommand({
        TableName: table,
        FilterExpression: 'sk = :run',
        ExpressionAttributeValues: { ':run': 'run' },
        ExclusiveStartKey: start,
      }),
    );
    for (const item of page.Items ?? []) {
      const { pk: _pk, sk: _sk, ...run } = item;
      items.push(run as RunItem);
    }
    start = page.LastEvaluatedKey;
  } while (start);
  return items.sort((a, b) => a.created_at.localeCompare(b.created_at) || a.run_id.localeCompare(b.run_id));
}

function paramsText(item: RunItem): string {
  const p = item.params;
  if (!p) return '';
  const r = p.region;
  const source = `${p.dataset ?? 'glad-2018'}${p.version ? `@${p.version}` : ''}${p.rasters ? ` ${p.rasters.length} raster${p.rasters.length > 1 ? 's' : ''}` : ''}${p.confidence ? ` ≥${p.confidence}` : ''}`;
  return `${source} z${r.z} ${r.x0}..${r.x1}×${r.y0}..${r.y1} ${p.start_date}..${p.end_date} ${p.algorithm} w=${p.width} min=${p.min_count}`;
}

/** Every run of the ledger with its state; finished runs read their manifest for the cluster count. */
export async function listRuns(deps: { ledger: Ledger; s3: ObjectReader; bucket: string }): Promise<RunListing[]> {
  const items = await scanRunItems(deps.ledger.doc, deps.ledger.table);
  const out: RunListing[] = [];
  for (const item of items) {
    let state: string;
    let clusters: number | null = null;
    if (item.manifest_key) {
      const manifest = await loadManifest(item.run_id, deps.s3, deps.bucket);
      clusters = manifest?.totals.clusters ?? null;
      state = manifest ? (manifest.tiles_failed > 0 ? `finished (${manifest.tiles_failed} failed)` : 'finished') : 'manifest missing';
    } else {
      const progress = await deps.ledger.progress(item.run_id);
      state = `running ${progress?.finished ?? 0}/${item.tiles} (if it does not move: submit it again, it resumes)`;
    }
    out.push({
      run_id: item.run_id, state, tiles: item.tiles, clusters,
      created_at: item.created_at, completed_at: item.completed_at ?? null, params: paramsText(item),
    });
  }
  return out;
}
