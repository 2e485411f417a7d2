// The alert datasets a run can read, and how each one's tiles encode an alert (pure: no I/O).
//
// Sources (public GFW code, checked for issue 9):
// - wri/gfw-data-api app/tasks/raster_tile_cache_assets/symbology.py: the pre-rendered tile cache is
//   made from `date_conf` (confidence digit × 10000 + days since 2014-12-31) as R = day // 255,
//   G = day % 255, B = (conf + 1) × 100 + intensity (conf = date_conf // 30000: 0 low, 1 high or
//   highest; intensity ≤ 55). Integrated alerts add alpha = 4 low, 8 high, 24 highest.
// - wri/gfw-tile-cache app/routes/titiler/algorithms/{alerts,integrated_alerts,dist_alerts}.py and
//   umd_glad_dist_alerts.py: the dynamic renderer writes the same RGB, B = (digit // 3 + 1) × 100 +
//   intensity, and MASKS BY ALPHA ONLY: an alert outside its date/confidence filter keeps its RGB
//   with alpha 0. DIST dates count from 2020-12-31 (the route's own decoding note: 791 = 2023-03-02);
//   its default start_date is today − 180 days, hence the start_date in the DIST address below.
// - wri/gfw-tile-cache terraform/.../redirect_latest_tile_cache and redirect_s3_404: `latest` answers
//   307 to the dated version; a `default` tile missing from the bucket answers 307 to `dynamic`.
// - wri/gfw-datapump src/datapump/sync/sync.py: tile-cache max_zoom 12 (GLAD-L), 14 (GLAD-S2, RADD,
//   integrated); data-lake grids 10/40000 (0.00025°, GLAD-L) and 10/100000 (0.0001°, the others;
//   wri/gfw_pixetl grids/lat_lng_grid.py: resolution = width / cols).
import { readRgba, allocAlerts, gladDecoder, nonEmptyPixels, rowsFor } from './decode.ts';
import { isoToDays } from './dates.ts';
import { TILE_SIZE, tileKey } from './grid.ts';
import type { AlertDecoder, Alerts, DayRange, PixelWindow, TileAddress } from './types.ts';

/** Confidence names, lowest first. */
export type ConfidenceName = 'low' | 'high' | 'highest';

/** One confidence scale across datasets: what `Alerts.confidence` holds after decoding. */
export const CONFIDENCE: Record<ConfidenceName, number> = { low: 1, high: 2, highest: 3 };

export type DatasetName = 'glad-l' | 'glad-s2' | 'radd' | 'integrated' | 'dist' | 'glad-2018';

/** How a PNG tile carries an alert. */
export type TileEncoding =
  /** The 2018 tiles: day = 255·R + G since 2015-01-01, confidence floor(B/100), alpha ignored. */
  | 'glad-2018'
  /** GFW tile cache: day = 255·R + G since dayZero, confidence floor(B/100) 1 low / 2 high, alpha 0 = none. */
  | 'tile-cache'
  /** As tile-cache, with the confidence in alpha: 4 low, 8 high, 24 highest (0 = none). */
  | 'integrated';

export interface Dataset {
  name: DatasetName;
  /** XYZ PNG tile address ({z}/{x}/{y}); `latest` is resolved to a dated version before a run. */
  tilesUrl: string;
  encoding: TileEncoding;
  /** Pixel value 1 is the day after this date (both in tiles and in date_conf rasters). */
  dayZero: string;
  /** The confidence levels the dataset has, lowest first. */
  levels: ConfidenceName[];
  /** Highest zoom with data at its own resolution (above it, tiles are over-zoomed). */
  maxZoom: number;
  /** True when the address holds `latest`, to pin to a dated version (vYYYYMMDD) per run. */
  resolvesLatest: boolean;
  /** Native resolution of the data-lake date_conf rasters, degrees (EPSG:4326), if any. */
  rasterDegrees: number | null;
}

const GFW_TILES = 'https://tiles.globalforestwatch.org';

export const DATASETS: Record<DatasetName, Dataset> = {
  'glad-l': {
    name: 'glad-l',
    tilesUrl: `${GFW_TILES}/umd_glad_landsat_alerts/latest/default/{z}/{x}/{y}.png`,
    encoding: 'tile-cache',
    dayZero: '2014-12-31',
    levels: ['low', 'high'],
    maxZoom: 12,
    resolvesLatest: true,
    rasterDegrees: 0.00025,
  },
  'glad-s2': {
    name: 'glad-s2',
    tilesUrl: `${GFW_TILES}/umd_glad_sentinel2_alerts/latest/default/{z}/{x}/{y}.png`,
    encoding: 'tile-cache',
    dayZero: '2014-12-31',
    levels: ['low', 'high'],
    maxZoom: 14,
    resolvesLatest: true,
    rasterDegrees: 0.0001,
  },
  radd: {
    name: 'radd',
    tilesUrl: `${GFW_TILES}/wur_radd_alerts/latest/default/{z}/{x}/{y}.png`,
    encoding: 'tile-cache',
    dayZero: '2014-12-31',
    levels: ['low', 'high'],
    maxZoom: 14,
    resolvesLatest: true,
    rasterDegrees: 0.0001,
  },
  integrated: {
    name: 'integrated',
    tilesUrl: `${GFW_TILES}/gfw_integrated_alerts/latest/default/{z}/{x}/{y}.png`,
    encoding: 'integrated',
    dayZero: '2014-12-31',
    levels: ['low', 'high', 'highest'],
    maxZoom: 14,
    resolvesLatest: true,
    rasterDegrees: 0.0001,
  },
  dist: {
    name: 'dist',
    // Dynamic only (no pre-rendered tiles). Its default start_date is today − 180 days: ask for all.
    tilesUrl: `${GFW_TILES}/umd_glad_dist_alerts/latest/dynamic/{z}/{x}/{y}.png?start_date=2020-12-31`,
    encoding: 'tile-cache',
    dayZero: '2020-12-31',
    levels: ['low', 'high'],
    // 30 m (HLS) data, like GLAD-L: z12 pixels (~38 m at the equator) are the closest match.
    maxZoom: 12,
    resolvesLatest: true,
    rasterDegrees: 0.00025,
  },
  'glad-2018': {
    name: 'glad-2018',
    tilesUrl: 'http://wri-tiles.s3.amazonaws.com/glad_prod/tiles/{z}/{x}/{y}.png',
    encoding: 'glad-2018',
    dayZero: '2015-01-01',
    levels: ['low', 'high'],
    maxZoom: 12,
    resolvesLatest: false,
    rasterDegrees: null,
  },
};

export const DATASET_NAMES = Object.keys(DATASETS) as DatasetName[];

/**
 * The dataset of a run that names none: GLAD-L from the GFW tile cache. It is the product the 2018
 * tiles carried (UMD's Landsat GLAD alerts), still updated, with the same native zoom (12) as the
 * default --z, so a user who asks for "GLAD alerts" gets today's release of them. The old tiles
 * are `--dataset glad-2018`; the other products are one flag away.
 */
export const DEFAULT_DATASET: DatasetName = 'glad-l';

/** The confidence names, lowest first. */
export const CONFIDENCE_NAMES = Object.keys(CONFIDENCE) as ConfidenceName[];

/**
 * The dataset of a stored run spec: a spec without one predates datasets and read the 2018 tiles,
 * so it is `glad-2018` (its run id and decoding stay what they were).
 */
export function datasetOfSpec(spec: { dataset?: string }): Dataset {
  return datasetByName(spec.dataset ?? 'glad-2018');
}

/** The dataset of a name, or an Error listing the known ones. */
export function datasetByName(name: string): Dataset {
  if (Object.hasOwn(DATASETS, name)) return DATASETS[name as DatasetName];
  throw new Error(`unknown dataset "${name}" (known: ${DATASET_NAMES.join(', ')})`);
}

/**
 * The numeric level of a minimum confidence for a dataset; throws when the name is not a level or
 * the dataset has no such level (asking `highest` of RADD would silently drop every alert).
 */
export function confidenceLevel(dataset: Dataset, name: string): number {
  if (!Object.hasOwn(CONFIDENCE, name)) {
    throw new Error(`confidence "${name}" is not one of ${Object.keys(CONFIDENCE).join(', ')}`);
  }
  if (!dataset.levels.includes(name as ConfidenceName)) {
    throw new Error(`dataset ${dataset.name} has no "${name}" confidence (its levels: ${dataset.levels.join(', ')})`);
  }
  return CONFIDENCE[name as ConfidenceName];
}

/** Internal day (days since 2015-01-01) of pixel value 0 in a dataset: value v is day v + offset. */
export function dayOffset(dayZero: string): number {
  return isoToDays(dayZero);
}

/** Largest internal day an Alerts can hold (Uint16). */
const MAX_DAYS = 0xffff;

/**
 * Normalised confidence of a tile-cache pixel: floor(B/100) is 1 low or 2 high (B is at least 100 on
 * an alert; a smaller B is read as low rather than dropped). With `alpha` (integrated alerts),
 * 4/8/24 give low/high/highest; other non-zero alphas (the older per-system packing) fall back to B.
 */
function tileCacheConfidence(b: number, a: number, alphaConfidence: boolean): number {
  if (alphaConfidence) {
    if (a === 4) return CONFIDENCE.low;
    if (a === 8) return CONFIDENCE.high;
    if (a === 24) return CONFIDENCE.highest;
  }
  return Math.min(CONFIDENCE.high, Math.max(CONFIDENCE.low, Math.floor(b / 100)));
}

/**
 * Decodes a GFW tile-cache PNG: an alert where day = 255·R + G > 0 and alpha > 0 (the dynamic
 * renderer hides filtered alerts by alpha only). Internal day = value + offset; alerts within
 * `range`, at or above `minLevel` and in `window` (default: all), row-major.
 */
function decodeTileCache(rgba: Uint8Array, range: DayRange, tile: TileAddress, offset: number, alphaConfidence: boolean, minLevel: number, window?: PixelWindow): Alerts {
  // The alert pixels first, so the typed arrays are allocated once at the exact size.
  const { pixels: hits, count } = nonEmptyPixels(rgba, window);
  let n = 0;
  for (let k = 0; k < count; k++) {
    const o = 4 * hits[k];
    const value = 255 * rgba[o] + rgba[o + 1];
    if (value === 0 || rgba[o + 3] === 0) continue;
    const days = value + offset;
    if (days < 0 || days > MAX_DAYS) throw new Error(`tile ${tileKey(tile)}: pixel value ${value} is outside the dates this dataset can hold`);
    if (days < range.startDays || days >= range.endDays) continue;
    if (tileCacheConfidence(rgba[o + 2], rgba[o + 3], alphaConfidence) < minLevel) continue;
    hits[n++] = hits[k];
  }
  const out = allocAlerts(n);
  for (let k = 0; k < n; k++) {
    const p = hits[k], o = 4 * p;
    out.col[k] = p % TILE_SIZE;
    out.row[k] = (p / TILE_SIZE) | 0;
    out.days[k] = 255 * rgba[o] + rgba[o + 1] + offset;
    out.confidence[k] = tileCacheConfidence(rgba[o + 2], rgba[o + 3], alphaConfidence);
  }
  out.length = n;
  return out;
}

/** The alerts at or above a confidence level (a copy; all of them when minLevel ≤ 0). */
export function filterConfidence(alerts: Alerts, minLevel: number): Alerts {
  if (minLevel <= 0) return alerts;
  let n = 0;
  for (let k = 0; k < alerts.length; k++) if (alerts.confidence[k] >= minLevel) n++;
  const out = allocAlerts(n);
  let j = 0;
  for (let k = 0; k < alerts.length; k++) {
    if (alerts.confidence[k] < minLevel) continue;
    out.col[j] = alerts.col[k];
    out.row[j] = alerts.row[k];
    out.days[j] = alerts.days[k];
    out.confidence[j] = alerts.confidence[k];
    j++;
  }
  out.length = n;
  return out;
}

/**
 * The decoder of a dataset's PNG tiles, keeping alerts at or above `minConfidence` (default: all).
 * Throws at once (not per tile) when the dataset has no such confidence level.
 */
export function datasetDecoder(dataset: Dataset, minConfidence?: ConfidenceName): AlertDecoder {
  const minLevel = minConfidence === undefined ? 0 : confidenceLevel(dataset, minConfidence);
  if (dataset.encoding === 'glad-2018') {
    // The 2018 decoder as it was (its confidence floor(B/100) is already 1 low, 2 high).
    return { decode: (image, range, tile, window) => filterConfidence(gladDecoder.decode(image, range, tile, window), minLevel) };
  }
  const offset = dayOffset(dataset.dayZero);
  const alphaConfidence = dataset.encoding === 'integrated';
  return {
    decode: (image, range, tile, window) => decodeTileCache(readRgba(image, tile, rowsFor(window)), range, tile, offset, alphaConfidence, minLevel, window),
  };
}

/** Every internal day, 2015-01-01 (0) included, for decoding with no date filter. */
export const EVERY_DAY: DayRange = { startDays: 0, endDays: MAX_DAYS + 1 };

// ---------- date_conf (the data-lake GeoTIFF form) ----------

/**
 * The internal day of a `date_conf` value, or -1 when it is no alert (no allocation: called per
 * raster pixel). value = digit × 10000 + days since day 0; digit 2 low, 3 high, 4 highest; 0 is no
 * data. As in GFW's symbology (`date_conf >= 20000`), values below 20000 or from 50000 on are not
 * alerts, and neither is day 0 (it renders as R = G = 0, i.e. no alert, in GFW's tiles).
 */
export function dateConfDays(value: number, offset: number): number {
  if (value < 20000 || value >= 50000 || value % 10000 === 0) return -1;
  const days = (value % 10000) + offset;
  return days < 0 || days > MAX_DAYS ? -1 : days;
}

/** The normalised confidence (1 low, 2 high, 3 highest) of a `date_conf` value that is an alert. */
export function dateConfConfidence(value: number): number {
  return Math.floor(value / 10000) - 1;
}

/** The `date_conf` value of an alert (internal day, normalised confidence 1..3): the inverse. */
export function encodeDateConf(days: number, confidence: number, offset: number): number {
  const value = days - offset;
  if (value < 1 || value > 9999) throw new Error(`day ${days} does not fit date_conf (1..9999 days after day 0)`);
  if (confidence < 1 || confidence > 3) throw new Error(`confidence ${confidence} is not 1..3`);
  return (confidence + 1) * 10000 + value;
}

// ---------- pinning `latest` ----------

/** The path segments of a URL or template (query dropped), for comparing a redirect with its request. */
function pathSegments(url: string): string[] {
  const path = url.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '').split(/[?#]/)[0];
  return path.split('/');
}

/**
 * The template pinned to the version that a `latest` request was redirected to: the segment at
 * `latest`'s place in the redirect's path (GFW: vYYYYMMDD). `location` may be relative, as GFW
 * sends it. Throws when the redirect does not have the request's shape.
 */
export function pinTemplate(template: string, location: string): { template: string; version: string } {
  const asked = pathSegments(template);
  const index = asked.indexOf('latest');
  if (index < 0) throw new Error(`tiles URL template "${template}" has no /latest/ to pin`);
  const got = pathSegments(location);
  const version = got.length === asked.length ? got[index] : undefined;
  if (!version || version === 'latest' || !/^[A-Za-z0-9._-]+$/.test(version) || got[index - 1] !== asked[index - 1]) {
    throw new Error(`"latest" of "${template}" redirected to "${location}", which names no version in its place`);
  }
  return { template: template.replace(`/${asked[index - 1]}/latest/`, `/${asked[index - 1]}/${version}/`), version };
}
