// Colours of the pictures: alerts coloured by date on a viridis-like ramp (dark purple = earliest,
// yellow = latest), and one marker colour the ramp never produces, so a centre stands out.

export type Rgb = [number, number, number];

/** Cluster centre marker: pure red (viridis has no red, so it is never an alert's colour). */
export const MARKER: Rgb = [255, 0, 0];
/** Picture background. */
export const BACKGROUND: Rgb = [255, 255, 255];
/** Title text. */
export const TEXT: Rgb = [20, 20, 20];

/** Viridis control points (from matplotlib), evenly spaced on [0, 1]. */
const RAMP: Rgb[] = [
  [68, 1, 84], [72, 40, 120], [62, 74, 137], [49, 104, 142], [38, 130, 142],
  [31, 158, 137], [53, 183, 121], [110, 206, 88], [181, 222, 43], [253, 231, 37],
];

/** Ramp colour at t in [0, 1] (clamped), linear between control points. */
export function rampColor(t: number): Rgb {
  const u = Math.max(0, Math.min(1, Number.isFinite(t) ? t : 0)) * (RAMP.length - 1);
  const k = Math.min(RAMP.length - 2, Math.floor(u));
  const f = u - k;
  const [a, b] = [RAMP[k], RAMP[k + 1]];
  return [0, 1, 2].map((c) => Math.round(a[c] + (b[c] - a[c]) * f)) as Rgb;
}

/** Day numbers (days since 2015-01-01) a picture's colours span. */
export interface DaySpan {
  first: number;
  last: number;
}

/** Colour of a day within a span (a one-day span is the middle of the ramp). */
export function dayColor(days: number, span: DaySpan): Rgb {
  if (span.last <= span.first) return rampColor(0.5);
  return rampColor((days - span.first) / (span.last - span.first));
}

export function css([r, g, b]: Rgb): string {
  return `rgb(${r},${g},${b})`;
}
