// The run options shared by `npm run enqueue` and `npm start`: a region (one of four forms), the
// zoom, dates, clustering parameters and the tile source, turned into a validated RunSpec.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { DEFAULT_MAX_TILES, validateRunParams, type Region, type RunSpec } from '../core/run/params.ts';
import { prepareRun, type AllowedSources, type PreparedRun, type RunRequest } from '../core/store/run-sources.ts';
import { CONFIDENCE_NAMES, DATASET_NAMES, DEFAULT_DATASET, datasetByName } from '../core/tiles/datasets.ts';
import { defaultTilesUrl } from '../core/tiles/tile-url.ts';
import { MAX_ZOOM, tileBounds, type LonLatBounds } from '../core/tiles/grid.ts';

/** Commander's parsed values of the run options. */
export interface RunOptions {
  tileBounds?: string;
  bounds?: string;
  lonlat?: string;
  xy?: string;
  z?: string;
  start?: string;
  end?: string;
  width?: string;
  minCount?: string;
  iterations?: string;
  algorithm?: string;
  timeWidth?: string;
  tilesUrl?: string;
  dataset?: string;
  confidence?: string;
  raster?: string[];
  aoi?: string;
}

export function addRunOptions(command: Command): Command {
  return command
    .option('--tile-bounds <X0,Y0,X1,Y1>', 'region: inclusive tile range at --z')
    .option('--bounds <MINLON,MINLAT,MAXLON,MAXLAT>', 'region: lon/lat box')
    .option('--lonlat <LON,LAT>', 'region: the tile holding this point')
    .option('--xy <X,Y>', 'region: one tile at --z')
    .option('--aoi <FILE>', 'region: areas of interest, a GeoJSON Polygon/MultiPolygon/Feature/FeatureCollection in lon/lat (the tiles they touch)')
    .option('--z <zoom>', 'zoom level', '12')
    .option('--start <YYYY-MM-DD>', 'first alert date (inclusive)')
    .option('--end <YYYY-MM-DD>', 'last alert date (exclusive)')
    .option('--width <px>', 'kernel width, pixels')
    .option('--min-count <n>', 'minimum alerts in a cluster')
    .option('--iterations <n>', 'passes of the blurring algorithm')
    .option('--algorithm <name>', 'standard | blurring | flat')
    .option('--time-width <days>', 'cluster in space and time: time scale in days, 1..3650 (default: space only; standard and flat)')
    .option('--dataset <name>', `alert dataset: ${DATASET_NAMES.join(' | ')} (default ${DEFAULT_DATASET}; see docs/tiles.md)`)
    .option('--confidence <level>', `minimum confidence: ${CONFIDENCE_NAMES.join(' | ')} (default: every alert)`)
    .option('--raster <path|url>', 'date_conf GeoTIFF/COG to read instead of tiles (repeatable; path, http(s)://, s3://)', (value: string, previous: string[] = []) => [...previous, value])
    .option('--tiles-url <template>', "tile source: http(s)://…/{z}/{x}/{y}.png, s3://…, file://… in the dataset's encoding (default: $TILES_URL, else the dataset's address)");
}

/** A plain decimal number ("12", "-63.1", ".5"): Number() alone would also take 0x0c, 1e1, 0b1, " ". */
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;

/** "1,2,3" → [1, 2, 3], exactly `n` decimal numbers, else a one-line error naming the option. */
function numbers(option: string, value: string, names: string): number[] {
  const parts = value.split(',').map((p) => p.trim());
  if (parts.length !== names.split(',').length || parts.some((p) => !DECIMAL.test(p))) {
    throw new Error(`${option} must be ${names} (decimal numbers), got "${value}"`);
  }
  return parts.map(Number);
}

function number(option: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!DECIMAL.test(value.trim())) throw new Error(`${option} must be a decimal number, got "${value}"`);
  return Number(value);
}

/** The region the options name; null when none (exactly one is allowed). */
export function regionOf(options: RunOptions): Region | null {
  const given = [
    options.tileBounds !== undefined && '--tile-bounds',
    options.bounds !== undefined && '--bounds',
    options.lonlat !== undefined && '--lonlat',
    options.xy !== undefined && '--xy',
    options.aoi !== undefined && '--aoi',
  ].filter(Boolean);
  if (given.length > 1) throw new Error(`give one region, not ${given.join(' and ')}`);
  if (options.tileBounds !== undefined) {
    const [x0, y0, x1, y1] = numbers('--tile-bounds', options.tileBounds, 'X0,Y0,X1,Y1');
    return { kind: 'tiles', x0, y0, x1, y1 };
  }
  if (options.bounds !== undefined) {
    const [west, south, east, north] = numbers('--bounds', options.bounds, 'MINLON,MINLAT,MAXLON,MAXLAT');
    return { kind: 'bbox', west, south, east, north };
  }
  if (options.lonlat !== undefined) {
    const [lon, lat] = numbers('--lonlat', options.lonlat, 'LON,LAT');
    return { kind: 'point', lon, lat };
  }
  if (options.xy !== undefined) {
    const [x, y] = numbers('--xy', options.xy, 'X,Y');
    return { kind: 'tile', x, y };
  }
  if (options.aoi !== undefined) return { kind: 'aoi', geojson: readAoiFile(options.aoi) };
  return null;
}

/** The GeoJSON of an --aoi file; one-line errors for a missing or non-JSON file. */
export function readAoiFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`aoi: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`aoi: ${path} is not JSON (${(error as Error).message.split('\n')[0]})`);
  }
}

/** The run request of these options and region (null: the rasters' bounds), flags parsed; throws one line. */
export function runRequestOf(options: RunOptions, region: Region | null): RunRequest {
  const z = number('--z', options.z ?? '12')!;
  if (!Number.isInteger(z) || z < 0 || z > MAX_ZOOM) throw new Error(`--z must be an integer in 0..${MAX_ZOOM}, got "${options.z}"`);
  // Named up front so that a typo is one line before anything else is looked at.
  if (options.dataset !== undefined) datasetByName(options.dataset);
  if (options.confidence !== undefined && !(CONFIDENCE_NAMES as string[]).includes(options.confidence)) {
    throw new Error(`--confidence must be one of ${CONFIDENCE_NAMES.join(', ')}, got "${options.confidence}"`);
  }
  return {
    z,
    region,
    start_date: options.start,
    end_date: options.end,
    width: number('--width', options.width),
    min_count: number('--min-count', options.minCount),
    iterations: number('--iterations', options.iterations),
    algorithm: options.algorithm,
    time_width: number('--time-width', options.timeWidth),
    dataset: options.dataset,
    confidence: options.confidence,
    tiles_url: options.tilesUrl,
    rasters: options.raster,
  };
}

/**
 * The validated run of these options and region, without network (`latest` stays unpinned, no
 * rasters); throws one line naming the bad value. Submitting uses `prepareRunOf`.
 */
export function runSpecOf(options: RunOptions, region: Region): RunSpec {
  const request = runRequestOf(options, region);
  if (request.rasters) throw new Error('--raster needs the rasters opened: use prepareRunOf');
  const dataset = datasetByName(request.dataset ?? DEFAULT_DATASET);
  return validateRunParams({ ...request, rasters: undefined, tiles_url: request.tiles_url ?? defaultTilesUrl(process.env, dataset.tilesUrl) });
}

/**
 * The run these options submit, its sources resolved (core/store/run-sources.ts: `latest` pinned,
 * rasters opened and identified, the rasters' bounds as region when none is given). `allowed`: the
 * deployed stack's sources (refuses local paths and anything else outside them).
 */
export async function prepareRunOf(options: RunOptions, region: Region | null, extra: { allowed?: AllowedSources | null; onAws?: boolean; maxTiles?: number } = {}): Promise<PreparedRun> {
  return prepareRun(runRequestOf(options, region), extra);
}

/** Adds `--max-tiles` (the run size limit) to a command that submits runs. */
export function addSizeOption(command: Command): Command {
  return command.option('--max-tiles <n>', `refuse runs of more tiles than this (default ${DEFAULT_MAX_TILES})`);
}

/** `--max-tiles` as a whole number ≥ 1 (default DEFAULT_MAX_TILES); one-line error otherwise. */
export function maxTilesOf(value: string | undefined): number {
  if (value === undefined) return DEFAULT_MAX_TILES;
  const digits = value.replace(/[,_]/g, '').trim();
  const n = Number(digits);
  if (!/^\d+$/.test(digits) || !Number.isInteger(n) || n < 1) throw new Error(`--max-tiles must be a whole number ≥ 1, got "${value}"`);
  return n;
}

/** Lon/lat box covered by the run's tiles. */
export function runLonLatBounds(spec: RunSpec): LonLatBounds {
  const { z, x0, y0, x1, y1 } = spec.region;
  const topLeft = tileBounds({ z, x: x0, y: y0 });
  const bottomRight = tileBounds({ z, x: x1, y: y1 });
  return { west: topLeft.west, north: topLeft.north, east: bottomRight.east, south: bottomRight.south };
}
