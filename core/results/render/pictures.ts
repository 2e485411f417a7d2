// PNG pictures of the old notebook viewer, drawn with @napi-rs/canvas (text needs a real font):
//  - a tile's input alerts coloured by date;
//  - one cluster's alerts coloured by date, its centre marked, titled with count, area, pixel, z/x/y, dates;
//  - several clusters side by side in one row, each titled with count, area, point and dates, with a
//    bar under each panel from its first to its last alert on the sheet's shared date scale (its duration).
// Every picture returns where it drew its centre markers, so tests (and callers) can find them.
import { Canvas, GlobalFonts, type SKRSContext2D } from '@napi-rs/canvas';
import { daysToIso, isoToDays } from '../../tiles/dates.ts';
import { TILE_SIZE, tileKey } from '../../tiles/grid.ts';
import type { Alerts, TileAddress } from '../../tiles/types.ts';
import type { Cluster } from '../../clusters/types.ts';
import { BACKGROUND, css, dayColor, MARKER, TEXT, type DaySpan } from './colors.ts';
import { fileExists } from '../../store/files.ts';

export interface Picture {
  png: Buffer;
  width: number;
  height: number;
  /** Canvas pixel of each centre marker drawn. */
  markers: { x: number; y: number }[];
  /** Several clusters: each panel's date track (left edge, top, width in canvas px), on which its bar is drawn. */
  tracks?: { x: number; y: number; width: number }[];
}

// DejaVu (fonts-dejavu-core) when present, so pictures look the same everywhere; else the default font.
const FONT_FILE = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';
const FONT_FAMILY = fileExists(FONT_FILE) && GlobalFonts.registerFromPath(FONT_FILE, 'GladSans') ? 'GladSans' : 'sans-serif';
const FONT_PX = 13;
const LINE_PX = 17;
const MARGIN = 8;
/** Side of the square drawing area of one cluster panel. */
export const PANEL_PX = 320;
/** Tiles are drawn at 2 canvas pixels per tile pixel. */
export const TILE_SCALE = 2;
/** Height of a duration bar under a panel; its track is drawn in TRACK colour where the bar is not. */
export const BAR_PX = 8;
const TRACK = '#e4e4e4';

function titleHeight(lines: number): number {
  return MARGIN + lines * LINE_PX + MARGIN / 2;
}

function drawTitle(ctx: SKRSContext2D, lines: string[], x: number, y: number): void {
  ctx.fillStyle = css(TEXT);
  ctx.font = `${FONT_PX}px ${FONT_FAMILY}`;
  ctx.textBaseline = 'top';
  lines.forEach((line, k) => ctx.fillText(line, x, y + MARGIN + k * LINE_PX));
}

/** A centre marker: a red disc (solid at its centre) with a white ring so it shows on any colour. */
function drawMarker(ctx: SKRSContext2D, x: number, y: number, radius: number): void {
  ctx.beginPath();
  ctx.arc(x, y, radius + 1.5, 0, 2 * Math.PI);
  ctx.fillStyle = 'white';
  ctx.fill();
  ctx.beginPath();
  ctx.arc(x, y, radius, 0, 2 * Math.PI);
  ctx.fillStyle = css(MARKER);
  ctx.fill();
}

function toPicture(canvas: Canvas, markers: Picture['markers'], tracks?: Picture['tracks']): Picture {
  return { png: canvas.toBuffer('image/png'), width: canvas.width, height: canvas.height, markers, ...(tracks ? { tracks } : {}) };
}

function newCanvas(width: number, height: number) {
  const canvas = new Canvas(Math.ceil(width), Math.ceil(height));
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = css(BACKGROUND);
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  return { canvas, ctx };
}

/** Day span of some alerts (null when there are none). */
function alertsSpan(alerts: Alerts): DaySpan | null {
  if (alerts.length === 0) return null;
  let [first, last] = [Infinity, -Infinity];
  for (let k = 0; k < alerts.length; k++) {
    first = Math.min(first, alerts.days[k]);
    last = Math.max(last, alerts.days[k]);
  }
  return { first, last };
}

/** Day span covering every member of some clusters. */
export function recordsSpan(records: readonly Cluster[]): DaySpan {
  const first = Math.min(...records.map((r) => isoToDays(r.min_date)));
  const last = Math.max(...records.map((r) => isoToDays(r.max_date)));
  return { first, last };
}

export interface TilePictureOptions {
  /** Cluster centres (tile pixel col/row) to mark on the tile. */
  centres?: { col: number; row: number }[];
  /** Extra first title line (e.g. the run id). */
  caption?: string;
  /** Index in `centres` of the cluster the picture is about (ringed in black). */
  highlight?: number;
}

/** A tile's input alerts coloured by date (2× scale), with optional cluster centres marked. */
export function renderTilePicture(tile: TileAddress, alerts: Alerts, options: TilePictureOptions = {}): Picture {
  const span = alertsSpan(alerts);
  const lines = [
    ...(options.caption ? [options.caption] : []),
    `tile ${tileKey(tile)} · ${alerts.length} alerts`,
    span ? `${daysToIso(span.first)} → ${daysToIso(span.last)}` : 'no alerts in the date range',
  ];
  const top = titleHeight(lines.length);
  const side = TILE_SIZE * TILE_SCALE;
  const { canvas, ctx } = newCanvas(side + 2 * MARGIN, top + side + MARGIN);
  drawTitle(ctx, lines, MARGIN, 0);
  ctx.strokeStyle = '#bbbbbb';
  ctx.strokeRect(MARGIN - 0.5, top - 0.5, side + 1, side + 1);
  if (span) {
    for (let k = 0; k < alerts.length; k++) {
      const [c, r] = [alerts.col[k], alerts.row[k]];
      if (c < 0 || r < 0 || c >= TILE_SIZE || r >= TILE_SIZE) continue; // halo pixels are not this tile's
      ctx.fillStyle = css(dayColor(alerts.days[k], span));
      ctx.fillRect(MARGIN + c * TILE_SCALE, top + r * TILE_SCALE, TILE_SCALE, TILE_SCALE);
    }
  }
  const markers = (options.centres ?? []).map(({ col, row }) => ({
    x: MARGIN + (col + 0.5) * TILE_SCALE,
    y: top + (row + 0.5) * TILE_SCALE,
  }));
  markers.forEach((m, k) => {
    if (k !== options.highlight) drawMarker(ctx, m.x, m.y, 4);
  });
  // The highlighted centre is drawn last (on top of close neighbours) with a black ring around it.
  const h = options.highlight === undefined ? undefined : markers[options.highlight];
  if (h) {
    ctx.beginPath();
    ctx.arc(h.x, h.y, 10, 0, 2 * Math.PI);
    ctx.strokeStyle = 'black';
    ctx.lineWidth = 2;
    ctx.stroke();
    drawMarker(ctx, h.x, h.y, 4);
  }
  return toPicture(canvas, markers);
}

/** Square crop (tile pixel coordinates) around a cluster's members, with a margin. */
function cropOf(record: Cluster): { c0: number; r0: number; side: number } {
  let [cmin, cmax, rmin, rmax] = [record.col, record.col, record.row, record.row];
  for (const [r, c] of record.alerts) {
    [cmin, cmax, rmin, rmax] = [Math.min(cmin, c), Math.max(cmax, c), Math.min(rmin, r), Math.max(rmax, r)];
  }
  const extent = Math.max(cmax - cmin, rmax - rmin) + 1;
  const side = Math.ceil(extent + 2 * Math.max(3, extent * 0.15));
  const c0 = Math.floor((cmin + cmax + 1) / 2 - side / 2);
  const r0 = Math.floor((rmin + rmax + 1) / 2 - side / 2);
  return { c0, r0, side };
}

/**
 * Draws one cluster in a PANEL_PX square at (x, y): members coloured by date on an integer
 * scale, centered; returns the canvas pixel of its centre marker.
 */
function drawClusterPanel(ctx: SKRSContext2D, record: Cluster, span: DaySpan, x: number, y: number): { x: number; y: number } {
  const { c0, r0, side } = cropOf(record);
  const scale = Math.max(1, Math.floor(PANEL_PX / side));
  const offset = (PANEL_PX - side * scale) / 2;
  const [ox, oy] = [x + Math.floor(offset), y + Math.floor(offset)];
  ctx.fillStyle = '#f2f2f2';
  ctx.fillRect(x, y, PANEL_PX, PANEL_PX);
  ctx.strokeStyle = '#bbbbbb';
  ctx.strokeRect(x - 0.5, y - 0.5, PANEL_PX + 1, PANEL_PX + 1);
  for (const [r, c, date] of record.alerts) {
    ctx.fillStyle = css(dayColor(isoToDays(date), span));
    ctx.fillRect(ox + (c - c0) * scale, oy + (r - r0) * scale, scale, scale);
  }
  const marker = { x: ox + (record.col - c0 + 0.5) * scale, y: oy + (record.row - r0 + 0.5) * scale };
  drawMarker(ctx, marker.x, marker.y, Math.max(3, Math.min(8, scale)));
  return marker;
}

/**
 * A cluster's duration bar: a track of `width` px standing for the span's days, and on it the
 * cluster's first → last alert, each canvas column coloured by the day it stands for (so the bar
 * shades from its first to its last alert's colour). A one-date event is still drawn 2 px wide.
 */
function drawDurationBar(ctx: SKRSContext2D, record: Cluster, span: DaySpan, x: number, y: number, width: number): void {
  ctx.fillStyle = TRACK;
  ctx.fillRect(x, y, width, BAR_PX);
  const days = Math.max(1, span.last - span.first);
  const toX = (day: number) => x + ((day - span.first) / days) * width;
  const [first, last] = [isoToDays(record.min_date), isoToDays(record.max_date)];
  let [x0, x1] = [toX(first), toX(last)];
  if (x1 - x0 < 2) {
    x0 = Math.min(Math.round(x0), x + width - 2);
    x1 = x0 + 2;
  }
  for (let px = Math.floor(x0); px < Math.ceil(x1); px++) {
    const day = span.first + ((px + 0.5 - x) / width) * days;
    ctx.fillStyle = css(dayColor(Math.min(last, Math.max(first, day)), span));
    ctx.fillRect(px, y, 1, BAR_PX);
  }
}

const fmt = (v: number, digits: number) => v.toFixed(digits);

/** The dates line of a title: first → last alert and the days between them. */
export function datesLine(record: Cluster): string {
  return `${record.min_date} → ${record.max_date} · ${record.duration_days} day${record.duration_days === 1 ? '' : 's'}`;
}

/** Title of the single-cluster picture (as the old `ClusterViewer.cluster`). */
export function clusterTitle(record: Cluster & { row_id?: number }): string[] {
  const id = record.row_id === undefined ? '' : `#${record.row_id} · `;
  return [
    `${id}count ${record.count} · area ${fmt(record.area, 1)} px² (${fmt(record.area_ha, 2)} ha)`,
    `pixel i/j ${record.i}/${record.j} · z/x/y ${record.z}/${record.x}/${record.y}`,
    datesLine(record),
  ];
}

/** Title of a panel of the several-clusters picture (count, area, point, dates and duration). */
export function panelTitle(record: Cluster & { row_id?: number }): string[] {
  const id = record.row_id === undefined ? '' : `#${record.row_id} · `;
  return [
    `${id}count ${record.count} · area ${fmt(record.area, 1)} px²`,
    `point ${fmt(record.longitude, 5)}, ${fmt(record.latitude, 5)}`,
    datesLine(record),
  ];
}

/** One cluster's alerts coloured by date, its centre marked, with its numbers as a title. */
export function renderClusterPicture(record: Cluster & { row_id?: number }): Picture {
  if (record.alerts.length === 0) throw new Error('cluster has no members (alerts) to draw: fetch it with its members');
  const lines = clusterTitle(record);
  const top = titleHeight(lines.length);
  const { canvas, ctx } = newCanvas(PANEL_PX + 2 * MARGIN, top + PANEL_PX + MARGIN);
  drawTitle(ctx, lines, MARGIN, 0);
  const marker = drawClusterPanel(ctx, record, recordsSpan([record]), MARGIN, top);
  return toPicture(canvas, [marker]);
}

/** Panels on one picture of several clusters (≈ 4,000 px wide); more are drawn on several sheets. */
export const MAX_PANELS_PER_SHEET = 12;

/** Several clusters side by side in one row, on one shared date colour scale (at most MAX_PANELS_PER_SHEET). */
export function renderClustersPicture(records: readonly (Cluster & { row_id?: number })[]): Picture {
  if (records.length === 0) throw new Error('no clusters to draw');
  if (records.length > MAX_PANELS_PER_SHEET) {
    throw new Error(`${records.length} clusters do not fit one picture (at most ${MAX_PANELS_PER_SHEET}): draw them on several sheets`);
  }
  for (const r of records) {
    if (r.alerts.length === 0) throw new Error('cluster has no members (alerts) to draw: fetch it with its members');
  }
  const span = recordsSpan(records);
  const top = titleHeight(3);
  const barTop = top + PANEL_PX + MARGIN;
  const footer = 2 * LINE_PX + MARGIN;
  const width = records.length * (PANEL_PX + MARGIN) + MARGIN;
  const { canvas, ctx } = newCanvas(width, barTop + BAR_PX + footer + MARGIN);
  const tracks: NonNullable<Picture['tracks']> = [];
  const markers = records.map((record, k) => {
    const x = MARGIN + k * (PANEL_PX + MARGIN);
    drawTitle(ctx, panelTitle(record), x, 0);
    drawDurationBar(ctx, record, span, x, barTop, PANEL_PX);
    tracks.push({ x, y: barTop, width: PANEL_PX });
    return drawClusterPanel(ctx, record, span, x, top);
  });
  drawTitle(ctx, [
    `colour: ${daysToIso(span.first)} (dark purple) → ${daysToIso(span.last)} (yellow)`,
    'bar: first → last alert on that scale (its duration)',
  ], MARGIN, barTop + BAR_PX);
  return toPicture(canvas, markers, tracks);
}
