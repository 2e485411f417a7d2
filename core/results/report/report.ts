// Assembles a run's HTML report: rows with stable ids, the date colour scale from the run's
// dates, the input tiles drawn from the tile source when readable, headline numbers from the manifest.
import { dayRange, isoToDays } from '../../tiles/dates.ts';
import type { DaySpan } from '../render/colors.ts';
import { recordsSpan } from '../render/pictures.ts';
import { withRowIds } from '../table.ts';
import type { StoredCluster } from '../../clusters/types.ts';
import type { Manifest } from '../../run/types.ts';
import type { AlertSource, TileAddress, TileSource } from '../../tiles/types.ts';
import { buildReportHtml } from './html.ts';
import { collectTileOverlays, MAX_OVERLAY_TILES } from './overlays.ts';

export interface RunReportInput {
  runId: string;
  records: readonly StoredCluster[];
  manifest?: Manifest | null;
  /** The run's dates: colour scale and which alerts of the input tiles are drawn. */
  dates?: { start_date: string; end_date: string };
  /** Other parameters shown in the header. */
  params?: Record<string, unknown>;
  /** The run's tiles and where to read them; omitted or null: no alert tiles underneath. */
  tiles?: readonly TileAddress[];
  source?: TileSource | AlertSource | null;
  maxOverlayTiles?: number;
  /** Areas of interest to outline (a run with --aoi). */
  areas?: { name: string; polygons: number[][][][] }[];
  /** A diff's old hulls drawn dashed under the new clusters (records then carry `status`). */
  oldHulls?: { row_id: number; status: string; hull: [number, number][] }[];
}

/**
 * Colour span: the clusters' own dates (a run's requested range is often far wider than its alerts,
 * which would paint every cluster one colour), else the run's dates (end exclusive).
 */
function spanOf(input: RunReportInput): DaySpan {
  if (input.records.length) return recordsSpan(input.records);
  if (input.dates) return { first: isoToDays(input.dates.start_date), last: isoToDays(input.dates.end_date) - 1 };
  return { first: 0, last: 0 };
}

/** The report as one HTML string. */
export async function buildRunReport(input: RunReportInput): Promise<string> {
  const rows = withRowIds(input.records);
  const span = spanOf(input);
  const notes: string[] = [];
  let overlays: Awaited<ReturnType<typeof collectTileOverlays>>['overlays'] = [];
  if (!input.source || !input.tiles || !input.dates) {
    notes.push('input alert tiles not drawn: no readable tile source for this run');
  } else {
    const result = await collectTileOverlays(input.source, input.tiles, dayRange(input.dates), span, input.maxOverlayTiles ?? MAX_OVERLAY_TILES);
    overlays = result.overlays;
    notes.push(...result.notes);
  }
  const m = input.manifest;
  const summary = m
    ? {
        tiles: m.tiles, 'with clusters': m.tiles_with_clusters, empty: m.tiles_empty, failed: m.tiles_failed,
        ...(m.totals.region_alerts !== undefined ? { 'alerts in the region': m.totals.region_alerts } : {}),
        "alerts of the region's clusters": m.totals.alerts, hectares: Number(m.totals.hectares.toFixed(2)),
        dates: `${m.totals.first_date ?? '-'} → ${m.totals.last_date ?? '-'}`, completed: m.completed_at,
      }
    : undefined;
  return buildReportHtml({
    runId: input.runId,
    params: { ...(input.dates ?? {}), ...(input.params ?? {}) },
    summary,
    rows,
    span,
    overlays,
    errors: m?.errors ?? [],
    notes,
    areas: input.areas,
    oldHulls: input.oldHulls,
  });
}
