// One self-contained HTML report of a run: a Leaflet map (inlined from node_modules, no CDN, no
// base-map tiles) with the input alert tiles underneath, hull outlines, centres sized by area and
// coloured by date; a sortable table; details on click; a date filter. Opens offline from disk.
import { daysToIso, isoToDays } from '../../tiles/dates.ts';
import { clusterHull } from '../exports.ts';
import { css, dayColor, rampColor, type DaySpan } from '../render/colors.ts';
import type { ClusterRow } from '../../clusters/types.ts';
import type { TileError } from '../../run/types.ts';
import type { TileOverlay } from './overlays.ts';
import { readAsset, readPackageAsset } from '../../store/files.ts';

export interface ReportInput {
  runId: string;
  /** Run parameters shown in the header (dates, zoom, width, ...). */
  params?: Record<string, unknown>;
  /** Headline numbers (tiles, failed tiles, totals) shown in the header. */
  summary?: Record<string, string | number | null>;
  rows: readonly ClusterRow[];
  /** Colour scale of dates: the run's date range. */
  span: DaySpan;
  overlays?: readonly TileOverlay[];
  errors?: readonly TileError[];
  /** One-line notes (e.g. why the alert tiles are not drawn). */
  notes?: readonly string[];
  /** Areas of interest, outlined (GeoJSON MultiPolygon coordinates in lon/lat). */
  areas?: { name: string; polygons: number[][][][] }[];
  /** Old hulls of a diff ([lat, lon] pairs), drawn dashed. */
  oldHulls?: { row_id: number; status: string; hull: [number, number][] }[];
}

/** The page's own script and style live beside this file as real .js/.css (readable, lintable). */
const pageAsset = (name: string) => readAsset(new URL(name, import.meta.url));

/** Leaflet's JS and CSS from node_modules; CSS image urls dropped (they would be fetched, and we use none). */
function leafletAssets(): { js: string; css: string } {
  const js = readPackageAsset('leaflet/dist/leaflet.js');
  const style = readPackageAsset('leaflet/dist/leaflet.css').replace(/url\(images\/[^)]*\)/g, 'none');
  return { js, css: style };
}

/** JSON safe inside <script>: no `</script>`, no HTML comment openers. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** What the page script needs of one cluster (hull as Leaflet [lat, lon] pairs, or null). */
function clusterData(row: ClusterRow, span: DaySpan) {
  let hull: [number, number][] | null = null;
  try {
    hull = clusterHull(row).coordinates[0].map(([lon, lat]) => [lat, lon]);
  } catch {
    hull = null; // no stored hull and no members: the centre alone is drawn
  }
  const { alerts: _alerts, ...fields } = row;
  return { ...fields, color: css(dayColor(isoToDays(row.min_date), span)), hull };
}

/** The report page as one HTML string. */
export function buildReportHtml(input: ReportInput): string {
  const { js, css: leafletCss } = leafletAssets();
  const span = input.span;
  const data = {
    runId: input.runId,
    clusters: input.rows.map((r) => clusterData(r, span)),
    overlays: (input.overlays ?? []).map((o) => ({ key: `${o.tile.z}/${o.tile.x}/${o.tile.y}`, bounds: o.bounds, url: o.dataUrl, alerts: o.alerts })),
    errors: input.errors ?? [],
    gradient: Array.from({ length: 10 }, (_, k) => css(rampColor(k / 9))),
    areas: (input.areas ?? []).map((a) => ({ name: a.name, polygons: a.polygons.map((p) => p.map((r) => r.map(([lon, lat]) => [lat, lon]))) })),
    oldHulls: input.oldHulls ?? [],
  };
  const kv = (obj: Record<string, unknown> | undefined) =>
    Object.entries(obj ?? {})
      .map(([k, v]) => `<span class="kv"><b>${escapeHtml(k)}</b> ${escapeHtml(typeof v === 'object' ? JSON.stringify(v) : String(v))}</span>`)
      .join(' ');
  const notes = (input.notes ?? []).map((n) => `<li>${escapeHtml(n)}</li>`).join('');
  const first = daysToIso(span.first);
  const last = daysToIso(span.last);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>glad-clusters ${escapeHtml(input.runId)}</title>
<style>${leafletCss}</style>
<style>${pageAsset('./page.css')}</style>
</head>
<body>
<header>
  <h1>Run <code>${escapeHtml(input.runId)}</code> · <span id="count-shown">${input.rows.length}</span> of ${input.rows.length} clusters</h1>
  <div class="params">${kv(input.params)}</div>
  <div class="params">${kv(input.summary)}</div>
  ${notes ? `<ul class="notes">${notes}</ul>` : ''}
</header>
<main>
  <div id="map"></div>
  <aside>
    <section class="filter">
      <label>from <input type="date" id="from" value="${first}"></label>
      <label>to <input type="date" id="to" value="${last}"></label>
      <button id="reset" type="button">all dates</button>
      <div class="hint">shows the events (first → last alert) active at some date in from–to, both included</div>
      <div class="legend"><span>${first}</span><span class="ramp" id="ramp"></span><span>${last}</span></div>
      <div class="hint">centre colour: first alert date · circle size: hull area · outlines: convex hulls</div>
    </section>
    <section id="details"><em>Click a cluster on the map or in the table.</em></section>
    <section class="table-wrap"><table id="clusters"><thead></thead><tbody></tbody></table></section>
    ${data.errors.length ? `<details class="errors"><summary>${data.errors.length} tile errors</summary><ul id="errors"></ul></details>` : ''}
  </aside>
</main>
<script type="application/json" id="report-data">${scriptJson(data)}</script>
<script>${js}</script>
<script>${pageAsset('./page.js')}</script>
</body>
</html>
`;
}
