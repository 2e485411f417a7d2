// Where a run's alerts come from (I/O): at submit time, `prepareRun` pins the tiles' `latest` to a
// dated release, or opens and identifies the rasters (their bounds give the default region), and
// checks the sources against the stack's allowed ones; in the consumer, `alertSourceOf` gives the
// tile job its source (PNG tiles + the dataset's decoder, or the rasters' windows).
import { checkRunSize, validateRunParams, type RasterRef, type Region, type RunSpec } from '../run/params.ts';
import { DEFAULT_DATASET, datasetByName, datasetOfSpec } from '../tiles/datasets.ts';
import { tileBounds } from '../tiles/grid.ts';
import { rasterBounds, zoomAdvice } from '../tiles/raster-window.ts';
import { defaultTilesUrl } from '../tiles/tile-url.ts';
import type { AlertSource, TileSource } from '../tiles/types.ts';
import { resolveLatest } from './latest.ts';
import { openRaster, rasterAlertSource, rasterIdentity, type Raster } from './raster-source.ts';
import { httpTimeoutMs, tileSourceFromTemplate } from './tile-sources.ts';

/**
 * The sources a deployed stack may read (sst.config.ts, resource `Sources`): tile and raster
 * buckets (s3://), http(s) hosts, and the datasets. The consumer's role can read only these buckets.
 */
export interface AllowedSources {
  tileBuckets: string[];
  rasterBuckets: string[];
  hosts: string[];
  datasets: string[];
}

/** What a user asks for, before the sources are resolved: rasters are bare locations, the region may be left to them. */
export interface RunRequest {
  z: number;
  region: Region | null;
  start_date?: string;
  end_date?: string;
  width?: number;
  min_count?: number;
  iterations?: number;
  algorithm?: string;
  /** Days; absent: space only. */
  time_width?: number;
  dataset?: string;
  confidence?: string;
  /** Tile address; absent: $TILES_URL, else the dataset's own (ignored with rasters). */
  tiles_url?: string;
  /** date_conf GeoTIFF paths or URLs, read instead of tiles. */
  rasters?: string[];
}

export interface PrepareOptions {
  /**
   * The run goes to a deployed stack: its queued messages are read by Lambda, which never reads
   * local files, and `allowed` lists what its role may read.
   */
  allowed?: AllowedSources | null;
  /** The run goes to a deployed stack that lists no sources: still refuse local files. */
  onAws?: boolean;
  /** Refuse runs of more tiles than this before any network request (default: no check here). */
  maxTiles?: number;
  env?: Record<string, string | undefined>;
}

export interface PreparedRun {
  spec: RunSpec;
  /** Things to tell the user (zoom advice, the pinned release, the region taken from the rasters). */
  notes: string[];
}

/** The pure part of the request (no I/O), as validateRunParams takes it. */
function paramsOf(request: RunRequest, region: Region, source: { tiles_url?: string; rasters?: RasterRef[]; version?: string }) {
  const { z, start_date, end_date, width, min_count, iterations, algorithm, time_width, dataset, confidence } = request;
  return { z, region, start_date, end_date, width, min_count, iterations, algorithm, time_width, dataset, confidence, ...source };
}

const isLocal = (location: string) => !/^[a-z][a-z0-9+.-]*:\/\//i.test(location) || /^file:\/\//i.test(location);

/** Throws one line unless every source of the spec is one the stack allows (and none is local). */
export function checkAllowedSources(spec: RunSpec, allowed: AllowedSources): void {
  const dataset = datasetOfSpec(spec).name;
  if (allowed.datasets.length > 0 && !allowed.datasets.includes(dataset)) {
    throw new Error(`dataset ${dataset} is not allowed by this stack (allowed: ${allowed.datasets.join(', ')}; see sources in sst.config.ts)`);
  }
  const check = (location: string, buckets: string[], what: string) => {
    if (isLocal(location)) throw new Error(`${what} ${location} is a local path: on AWS a ${what} must be s3:// or https:// (Lambda reads no local files)`);
    const s3 = /^s3:\/\/([^/]+)\//.exec(location);
    if (s3) {
      if (!buckets.includes(s3[1])) throw new Error(`${what} bucket ${s3[1]} is not allowed by this stack (allowed: ${buckets.join(', ') || 'none'}; see sources in sst.config.ts)`);
      return;
    }
    const host = new URL(location.replace(/\{[zxy]\}/g, '0')).hostname;
    if (!allowed.hosts.includes(host)) throw new Error(`${what} host ${host} is not allowed by this stack (allowed: ${allowed.hosts.join(', ') || 'none'}; see sources in sst.config.ts)`);
  };
  if (spec.tiles_url !== undefined) check(spec.tiles_url, allowed.tileBuckets, 'tiles URL');
  for (const r of spec.rasters ?? []) check(r.url, allowed.rasterBuckets, 'raster');
}

/** Lon/lat box of a run's tile bounds (no antimeridian wrap: used to compare with rasters). */
function specBox(spec: RunSpec) {
  const { z, x0, y0, x1, y1 } = spec.region;
  const a = tileBounds({ z, x: x0, y: y0 });
  const b = tileBounds({ z, x: x1, y: y1 });
  return { west: a.west, north: a.north, east: b.east, south: b.south };
}

/**
 * Opens every raster (checking TIFF, georeferencing, pixel type and CRS), identifies it, and
 * returns the refs, their union bounds and zoom advice. Closes them again.
 */
async function inspectRasters(locations: string[], z: number, env: Record<string, string | undefined>) {
  const refs: RasterRef[] = [];
  const notes: string[] = [];
  type Box = { west: number; south: number; east: number; north: number };
  let box: Box | null = null;
  const boxes: Box[] = [];
  for (const location of locations) {
    const raster = await openRaster(location);
    try {
      const b = rasterBounds(raster.geo);
      boxes.push(b);
      box = box ? { west: Math.min(box.west, b.west), south: Math.min(box.south, b.south), east: Math.max(box.east, b.east), north: Math.max(box.north, b.north) } : b;
      const advice = zoomAdvice(raster.geo, z);
      if (advice.warning) notes.push(`raster ${location}: ${advice.warning}`);
    } finally {
      await raster.close();
    }
    refs.push(await rasterIdentity(location, { timeoutMs: httpTimeoutMs(env) }));
  }
  return { refs, notes, box: box!, boxes };
}

/**
 * The RunSpec of a request, its sources resolved: the tiles' `latest` pinned to the release it
 * redirects to (one request; the version goes into the spec, so the run id), or the rasters opened,
 * checked and identified (their union bounds are the region when none is given). Pure checks come
 * first; every error is one line and nothing is written anywhere.
 */
export async function prepareRun(request: RunRequest, options: PrepareOptions = {}): Promise<PreparedRun> {
  const env = options.env ?? process.env;
  const dataset = datasetByName(request.dataset ?? DEFAULT_DATASET);
  const notes: string[] = [];
  if (request.rasters && request.rasters.length > 0) {
    if (request.tiles_url !== undefined) throw new Error('give --raster or --tiles-url, not both');
    if (options.allowed || options.onAws) {
      for (const r of request.rasters) if (isLocal(r)) throw new Error(`raster ${r} is a local path: on AWS a raster must be s3:// or https:// (Lambda reads no local files)`);
    }
    // The pure checks with stand-in refs (dates, parameters, dataset, confidence) before any I/O.
    const standIn = request.rasters.map((url) => ({ url, size: 0 }));
    const anyRegion: Region = request.region ?? { kind: 'tile', x: 0, y: 0 };
    validateRunParams(paramsOf(request, anyRegion, { rasters: standIn }));
    const inspected = await inspectRasters(request.rasters, request.z, env);
    notes.push(...inspected.notes);
    let region = request.region;
    if (!region) {
      const { west, south, east, north } = inspected.box;
      region = { kind: 'bbox', west: Math.max(-180, west), south: Math.max(-90, south), east: Math.min(180, east), north: Math.min(90, north) };
      notes.push(`region: the rasters' bounds ${[west, south, east, north].map((v) => v.toFixed(5)).join(',')}`);
    }
    const spec = validateRunParams(paramsOf(request, region, { rasters: inspected.refs }));
    if (options.maxTiles !== undefined) checkRunSize(spec, options.maxTiles);
    const r = specBox(spec);
    const overlaps = inspected.boxes.some((b) => b.west < r.east && b.east > r.west && b.south < r.north && b.north > r.south);
    if (!overlaps) {
      const b = inspected.box;
      throw new Error(`region is outside the rasters (they cover lon ${b.west.toFixed(4)}..${b.east.toFixed(4)}, lat ${b.south.toFixed(4)}..${b.north.toFixed(4)})`);
    }
    if (options.allowed) checkAllowedSources(spec, options.allowed);
    return { spec, notes };
  }
  if (!request.region) throw new Error('give a region: --tile-bounds, --bounds, --lonlat or --xy (or --raster, whose bounds are the region)');
  const template = request.tiles_url ?? defaultTilesUrl(env, dataset.tilesUrl);
  // Pure checks (template shape, dataset, confidence, region) before any request.
  let spec = validateRunParams(paramsOf(request, request.region, { tiles_url: template }));
  if (options.maxTiles !== undefined) checkRunSize(spec, options.maxTiles);
  if (options.allowed) checkAllowedSources(spec, options.allowed);
  else if (options.onAws && isLocal(template)) throw new Error(`tiles URL ${template} is a local path: on AWS tiles must be s3:// or https:// (Lambda reads no local files)`);
  if (/^https?:\/\//i.test(template) && template.includes('/latest/')) {
    const pinned = await resolveLatest(template, httpTimeoutMs(env));
    if (pinned.version !== null) {
      spec = validateRunParams(paramsOf(request, request.region, { tiles_url: pinned.template, version: pinned.version }));
      notes.push(`${dataset.name}: "latest" is release ${pinned.version} (pinned for this run)`);
    }
  }
  return { spec, notes };
}

/** Open rasters, kept across the tiles a warm consumer runs (by location). */
const openRasters = new Map<string, Promise<Raster>>();
const tileSources = new Map<string, TileSource>();

async function rasterFor(location: string): Promise<Raster> {
  let raster = openRasters.get(location);
  if (!raster) {
    raster = openRaster(location);
    openRasters.set(location, raster);
    raster.catch(() => openRasters.delete(location));
  }
  return raster;
}

/**
 * The tile job's source for a run: its rasters' windows, or its tiles (the tile job decodes them in
 * the spec's dataset encoding). `onLambda` refuses local files, whatever the message says.
 */
export async function alertSourceOf(spec: RunSpec, options: { onLambda?: boolean; allowed?: AllowedSources | null } = {}): Promise<TileSource | AlertSource> {
  if (options.onLambda) {
    const local = spec.tiles_url !== undefined ? isLocal(spec.tiles_url) : (spec.rasters ?? []).some((r) => isLocal(r.url));
    if (local) throw new Error('the run names local files, which Lambda never reads (give s3:// or https:// sources)');
  }
  if (options.allowed) checkAllowedSources(spec, options.allowed);
  if (spec.rasters) {
    const rasters = await Promise.all(spec.rasters.map((r) => rasterFor(r.url)));
    return rasterAlertSource(rasters, datasetOfSpec(spec), spec.confidence);
  }
  const template = spec.tiles_url!;
  let source = tileSources.get(template);
  if (!source) {
    source = tileSourceFromTemplate(template);
    tileSources.set(template, source);
  }
  return source;
}
