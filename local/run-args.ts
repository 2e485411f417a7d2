// The run options shared by `npm run enqueue` and `npm start`: a region (one of four forms), the
// zoom, dates, clustering parameters and the tile source, turned into a validated RunSpec.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { DEFAULT_MAX_TILES, validateRunParams, type Region, type RunSpec } from '../core/run/params.ts';
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
  tilesUrl?: string;
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
    .option('--tiles-url <template>', 'tile source: http(s)://…/{z}/{x}/{y}.png, s3://…, file://… (default: $TILES_URL)');
}

/** "1,2,3" → [1, 2, 3], exactly `n` finite numbers, else a one-line error naming the option. */
function numbers(option: string, value: string, names: string): number[] {
  const parts = value.split(',').map((p) => p.trim());
  const values = parts.map(Number);
  if (parts.length !== names.split(',').length || parts.some((p) => p === '') || values.some((v) => !Number.isFinite(v))) {
    throw new Error(`${option} must be ${names} (numbers), got "${value}"`);
  }
  return values;
}

function number(option: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isFinite(parsed)) throw new Error(`${option} must be a number, got "${value}"`);
  return parsed;
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

/** The validated run of these options and region; throws one line naming the bad value. */
export function runSpecOf(options: RunOptions, region: Region): RunSpec {
  const z = number('--z', options.z ?? '12')!;
  if (!Number.isInteger(z) || z < 0 || z > MAX_ZOOM) throw new Error(`--z must be an integer in 0..${MAX_ZOOM}, got "${options.z}"`);
  return validateRunParams({
    z,
    region,
    start_date: options.start,
    end_date: options.end,
    width: number('--width', options.width),
    min_count: number('--min-count', options.minCount),
    iterations: number('--iterations', options.iterations),
    algorithm: options.algorithm,
    tiles_url: options.tilesUrl ?? defaultTilesUrl(),
  });
}

/** Adds `--max-tiles` (the run size limit) to a command that submits runs. */
export function addSizeOption(command: Command): Command {
  return command.option('--max-tiles <n>', `refuse runs of more tiles than this (default ${DEFAULT_MAX_TILES})`);
}

/** `--max-tiles` as a whole number ≥ 1 (default DEFAULT_MAX_TILES); one-line error otherwise. */
export function maxTilesOf(value: string | undefined): number {
  if (value === undefined) return DEFAULT_MAX_TILES;
  const n = Number(value.replace(/[,_]/g, ''));
  if (value.trim() === '' || !Number.isInteger(n) || n < 1) throw new Error(`--max-tiles must be a whole number ≥ 1, got "${value}"`);
  return n;
}

/** Lon/lat box covered by the run's tiles. */
export function runLonLatBounds(spec: RunSpec): LonLatBounds {
  const { z, x0, y0, x1, y1 } = spec.region;
  const topLeft = tileBounds({ z, x: x0, y: y0 });
  const bottomRight = tileBounds({ z, x: x1, y: y1 });
  return { west: topLeft.west, north: topLeft.north, east: bottomRight.east, south: bottomRight.south };
}
