// The one-tile job: read and decode a tile plus the halo it needs from its neighbours, cluster,
// and build the tile's records. The pipeline's consumer and `npm run tile` both call runTile.
import type { HaloPass } from '../meanshift/engine.ts';
import { NEIGHBOURS_ALL } from '../meanshift/types.ts';
import { dayRange } from '../tiles/dates.ts';
import { gladDecoder, sliceAlerts, allocAlerts } from '../tiles/decode.ts';
import { datasetDecoder, datasetOfSpec } from '../tiles/datasets.ts';
import type { ConfidenceName } from '../tiles/datasets.ts';
import { buildClusters } from './records.ts';
import type { OwnedCluster } from '../meanshift/engine.ts';
import { TILE_SIZE, tileKey, validateTile } from '../tiles/grid.ts';
import type { AlertDecoder, AlertSource, Alerts, DayRange, PixelWindow, TileAddress, TileSource } from '../tiles/types.ts';
import type { ClusterParams } from '../meanshift/types.ts';
import type { TileResult } from './types.ts';
import type { AoiSpec } from '../tiles/areas.ts';

/** What runTile needs from the clustering engine (core/meanshift/engine.ts implements it). */
export interface ClusterEngine {
  /** `origin`: the tile's pixel (0, 0) in the zoom level's global pixel grid, shifted in x (tileOrigin; `flat` computes there). */
  clusterAlerts(
    alerts: Alerts,
    params: ClusterParams,
    haloMargin: number,
    origin?: { col: number; row: number },
    pass?: HaloPass,
  ): { clusters: OwnedCluster[]; complete: boolean; needs?: number };
  /** The first halo (px) of a tile with `tileAlerts` alerts in its date range. */
  initialHaloMargin(params: ClusterParams, tileAlerts?: number): number;
  MAX_HALO_MARGIN: number;
  /** The neighbours to read before the first pass (bit 4: the tile; absent: all); the engine asks for more in `needs`. */
  firstNeighbours?(alerts: Alerts, params: ClusterParams): number;
}

/**
 * What a tile job needs of its run: the date range, the clustering parameters and, for PNG tiles,
 * the dataset and minimum confidence that pick the decoder (a RunSpec has them all).
 */
interface TileJobSpec extends ClusterParams {
  /** ISO YYYY-MM-DD, inclusive. */
  start_date: string;
  /** ISO YYYY-MM-DD, exclusive. */
  end_date: string;
  /** Dataset whose encoding the PNG tiles have (absent: glad-2018, as a stored spec without one). */
  dataset?: string;
  /** Minimum confidence kept (absent: all). */
  confidence?: ConfidenceName;
  /** Areas of interest: alerts outside every area are dropped before clustering. */
  aoi?: AoiSpec;
}

/** The areas module (turf inside, ~80 ms to load): imported by a tile job that has areas only. */
type Areas = typeof import('../tiles/areas.ts');

/** The alerts (tile pixels, halo included) whose centre lies in an area of interest. */
function keepInAreas(areas: Areas, alerts: Alerts, aoi: AoiSpec, tile: TileAddress, margin: number): Alerts {
  const inAreas = areas.areasAtPixels(aoi, tile, margin);
  const out = allocAlerts(alerts.length);
  let n = 0;
  for (let k = 0; k < alerts.length; k++) {
    if (inAreas(alerts.col[k], alerts.row[k]).length === 0) continue;
    out.col[n] = alerts.col[k];
    out.row[n] = alerts.row[k];
    out.days[n] = alerts.days[k];
    out.confidence[n] = alerts.confidence[k];
    n++;
  }
  return sliceAlerts(out, n);
}

export interface RunTileOptions {
  /** Decodes tile images (default: the spec's dataset's decoder, at its minimum confidence). */
  decoder?: AlertDecoder;
  /** The clustering engine (default: core/meanshift/engine.ts, imported when a tile has alerts; tests pass a stand-in). */
  engine?: ClusterEngine;
  /** Called for problems that do not fail the tile (e.g. a corrupt neighbour, read as missing). */
  onWarning?: (message: string) => void;
  /**
   * The reads of another job of the same spec and source, to share (each tile read and decoded
   * once for both; default: this job's own). Its decoder is used, not `decoder`.
   */
  tiles?: TileReader;
  /** Called once per clustering pass with the halo margin used (lets tests and logs see retries). */
  onPass?: (pass: { margin: number; alerts: number; complete: boolean; neighbours: number }) => void;
}

function popCount(mask: number): number {
  let k = 0;
  for (let m = mask; m !== 0; m &= m - 1) k++;
  return k;
}

/** Margin used after a pass that said "incomplete" with margin 0 (0 cannot be doubled). */
const FIRST_NONZERO_MARGIN = 16;

/** A tile read and decoded: its alerts (null: no tile), or the permanent failure to read or decode it. */
interface TileRead {
  alerts: Alerts | null;
  error?: Error;
}

/**
 * A tile job's reads: each tile read once through `source`, and decoded whole, or — a neighbour —
 * in the window the halo takes of it only (a PNG inflated down to the window's last row), decoded
 * again from the same bytes, in the union of both windows, when another window needs more. Jobs
 * of one spec and source may share one (the consumer shares one between the messages of
 * a run in a batch: neighbouring tiles are read and decoded once). A tile's own failure to read or
 * decode throws (the pipeline turns it into an error record); a NEIGHBOUR that fails permanently is
 * read as missing (no alerts), said through each job's onWarning. A transient read error (network,
 * S3) always throws, so the tile is retried instead of silently losing halo alerts, and is not kept:
 * the next job reads again.
 */
export class TileReader {
  private readonly bytes = new Map<string, Promise<Uint8Array | null>>();
  /** Each tile's read, of the alerts in `window`. */
  private readonly reads = new Map<string, { window: PixelWindow; read: Promise<TileRead> }>();
  private readonly source: TileSource | AlertSource;
  private readonly decoder: AlertDecoder;
  private readonly range: DayRange;

  constructor(source: TileSource | AlertSource, decoder: AlertDecoder, range: DayRange) {
    this.source = source;
    this.decoder = decoder;
    this.range = range;
  }

  /** The tile's alerts in `window` (and maybe others: callers keep what they need). */
  async get(tile: TileAddress, isNeighbour: boolean, onWarning: (message: string) => void, window = WHOLE_TILE): Promise<Alerts | null> {
    const key = tileKey(tile);
    let entry = this.reads.get(key);
    if (!entry || !covers(entry.window, window)) {
      const wanted = entry ? spanning(entry.window, window) : window;
      // Alerts that come already decoded (rasters) come whole.
      entry = 'read' in this.source ? { window: wanted, read: this.load(tile, key, wanted) } : { window: WHOLE_TILE, read: this.rasterAlerts(tile, key) };
      this.reads.set(key, entry);
    }
    const { alerts, error } = await entry.read;
    if (!error) return alerts;
    // A neighbour that cannot be read (HTTP 403, EISDIR, too big) or decoded is read as missing;
    // only a transient failure fails the tile, to be retried (docs/tiles.md, "Tile sources").
    if (!isNeighbour) throw error;
    onWarning(`neighbour ignored (read as missing): ${error.message}`);
    return null;
  }

  private async load(tile: TileAddress, key: string, window: PixelWindow): Promise<TileRead> {
    let bytes = this.bytes.get(key);
    if (!bytes) this.bytes.set(key, (bytes = (this.source as TileSource).read(tile)));
    try {
      const image = await bytes;
      if (image === null) return { alerts: null };
      return { alerts: this.decoder.decode(image, this.range, tile, covers(window, WHOLE_TILE) ? undefined : window) };
    } catch (err) {
      if ((err as { transient?: unknown }).transient !== true) return { alerts: null, error: err as Error };
      this.forget(key);
      throw err;
    }
  }

  /** Raster alerts: their read errors fail the tile like any read (the same files as the tile's own). */
  private async rasterAlerts(tile: TileAddress, key: string): Promise<TileRead> {
    try {
      return { alerts: await (this.source as AlertSource).alerts(tile, this.range) };
    } catch (err) {
      this.forget(key);
      throw err;
    }
  }

  private forget(key: string): void {
    this.reads.delete(key);
    this.bytes.delete(key);
  }
}

/** The reader of a job's tiles in the spec's encoding (RunTileOptions.tiles, to share between jobs of one spec and source). */
export function tileReader(spec: TileJobSpec, source: TileSource | AlertSource, decoder: AlertDecoder = decoderOf(spec)): TileReader {
  return new TileReader(source, decoder, dayRange(spec));
}

const WHOLE_TILE: PixelWindow = { col0: 0, col1: TILE_SIZE - 1, row0: 0, row1: TILE_SIZE - 1 };

/** Whether window a holds window b. */
function covers(a: PixelWindow, b: PixelWindow): boolean {
  return a.col0 <= b.col0 && a.col1 >= b.col1 && a.row0 <= b.row0 && a.row1 >= b.row1;
}

/** The smallest window holding both. */
function spanning(a: PixelWindow, b: PixelWindow): PixelWindow {
  return { col0: Math.min(a.col0, b.col0), col1: Math.max(a.col1, b.col1), row0: Math.min(a.row0, b.row0), row1: Math.max(a.row1, b.row1) };
}

/** The tile's alerts plus neighbour alerts within `margin` px of the tile, in tile pixel coordinates. */
async function gatherHalo(tile: TileAddress, own: Alerts, margin: number, readNeighbour: (neighbour: TileAddress, window: PixelWindow) => Promise<Alerts | null>, loaded = NEIGHBOURS_ALL): Promise<Alerts> {
  const ring = Math.ceil(margin / TILE_SIZE);
  const lo = -margin;
  const hi = TILE_SIZE - 1 + margin;
  const columns = 2 ** tile.z;
  const parts: { alerts: Alerts; dx: number; dy: number }[] = [];
  const reads: Promise<void>[] = [];
  for (let dy = -ring; dy <= ring; dy++) {
    for (let dx = -ring; dx <= ring; dx++) {
      // x wraps at the antimeridian (x = −1 is x = 2^z − 1, at offset dx·256 all the same; at low
      // zooms a tile may be its own neighbour); beyond the poles (y) there is nothing.
      const nx = (((tile.x + dx) % columns) + columns) % columns;
      const ny = tile.y + dy;
      if ((dx === 0 && dy === 0) || ny < 0 || ny >= columns) continue;
      if (ring === 1 && (loaded & (1 << ((dy + 1) * 3 + (dx + 1)))) === 0) continue; // not (yet) needed
      // The part of the neighbour within the margin (its own pixel coordinates).
      const window = {
        col0: Math.max(0, lo - dx * TILE_SIZE),
        col1: Math.min(TILE_SIZE - 1, hi - dx * TILE_SIZE),
        row0: Math.max(0, lo - dy * TILE_SIZE),
        row1: Math.min(TILE_SIZE - 1, hi - dy * TILE_SIZE),
      };
      reads.push(
        readNeighbour({ z: tile.z, x: nx, y: ny }, window).then((alerts) => {
          if (alerts && alerts.length > 0) parts.push({ alerts, dx, dy });
        }),
      );
    }
  }
  await Promise.all(reads);
  // Fixed order (row of tiles, then column) so the engine sees the same input on every run.
  parts.sort((a, b) => a.dy - b.dy || a.dx - b.dx);

  let capacity = own.length;
  for (const p of parts) capacity += p.alerts.length;
  const out = allocAlerts(capacity);
  out.col.set(own.col);
  out.row.set(own.row);
  out.days.set(own.days);
  out.confidence.set(own.confidence);
  let n = own.length;
  for (const { alerts: a, dx, dy } of parts) {
    const offCol = dx * TILE_SIZE;
    const offRow = dy * TILE_SIZE;
    for (let k = 0; k < a.length; k++) {
      const col = a.col[k] + offCol;
      const row = a.row[k] + offRow;
      if (col < lo || col > hi || row < lo || row > hi) continue;
      out.col[n] = col;
      out.row[n] = row;
      out.days[n] = a.days[k];
      out.confidence[n] = a.confidence[k];
      n++;
    }
  }
  return sliceAlerts(out, n);
}

/** The PNG decoder of a spec: its dataset's encoding, keeping alerts at or above its confidence. */
function decoderOf(spec: TileJobSpec): AlertDecoder {
  if (spec.dataset === undefined && spec.confidence === undefined) return gladDecoder;
  return datasetDecoder(datasetOfSpec(spec), spec.confidence);
}

/**
 * The tile's pixel (0, 0) in the frame the engine computes in (`flat` needs one frame shared by
 * every tile that sees a cluster): the zoom level's global pixel grid, columns shifted by
 * B + maxMargin, where B is the smallest power of two above the world's width P = 2^z·256 plus
 * twice the margin. Every column a tile sees (its own, ±maxMargin of halo, wrapped or not) then
 * lies in [B, 2B): one binade, where adding P is exact. A cluster across the antimeridian, seen
 * near P + B from the tile west of the line and near B from tile 0, gives bit-identical results
 * in both, since `flat` uses only differences of coordinates and means of integer coordinates.
 */
export function tileOrigin(tile: TileAddress, maxMargin: number): { col: number; row: number } {
  const width = 2 ** tile.z * TILE_SIZE;
  let binade = 1;
  while (binade <= width + 2 * maxMargin) binade *= 2;
  return { col: binade + maxMargin + tile.x * TILE_SIZE, row: tile.y * TILE_SIZE };
}

/**
 * Clusters one tile. Halo algorithms start with the engine's initial margin; while the engine
 * reports that an owned cluster may be cut by the halo edge, the margin doubles (up to
 * MAX_HALO_MARGIN; margins > 256 px read the second ring of tiles). A tile with no alerts in the
 * date range has no clusters and reads no neighbours.
 */
export async function runTile(tile: TileAddress, spec: TileJobSpec, source: TileSource | AlertSource, options: RunTileOptions = {}): Promise<TileResult> {
  validateTile(tile);
  const params: ClusterParams = { width: spec.width, min_count: spec.min_count, iterations: spec.iterations, algorithm: spec.algorithm, ...(spec.time_width !== undefined ? { time_width: spec.time_width } : {}) };
  const reader = options.tiles ?? tileReader(spec, source, options.decoder);
  const onWarning = options.onWarning ?? (() => {});
  const neighbour = (t: TileAddress, window: PixelWindow) => reader.get(t, true, onWarning, window);

  const read = await reader.get(tile, false, onWarning);
  // With areas of interest, only in-area alerts (the tile's and the halo's) are clustered.
  const areas = spec.aoi ? await import('../tiles/areas.ts') : undefined;
  const own = read && spec.aoi && areas ? keepInAreas(areas, read, spec.aoi, tile, 0) : read;
  // The request echoed in `npm run tile`'s fixed key order (a RunSpec's region and tiles_url stay out).
  const result: TileResult = {
    z: tile.z,
    x: tile.x,
    y: tile.y,
    start_date: spec.start_date,
    end_date: spec.end_date,
    ...params,
    ...(spec.dataset !== undefined ? { dataset: spec.dataset } : {}),
    ...(spec.confidence !== undefined ? { confidence: spec.confidence } : {}),
    nb_clusters: 0,
    tile_alerts: own?.length ?? 0,
    clusters: [],
  };
  if (!own || own.length === 0) return result;

  // The real engine is imported only now: a tile without alerts (the common case) never loads it.
  const clusterEngine: ClusterEngine = options.engine ?? (await import('../meanshift/engine.ts'));
  const max = clusterEngine.MAX_HALO_MARGIN;
  let margin = Math.min(clusterEngine.initialHaloMargin(params, own.length), max);
  // Neighbours are read when the algorithm says it needs them: first those it names from the tile's
  // alerts, then those its passes ask for.
  let loaded = clusterEngine.firstNeighbours?.(own, params) ?? NEIGHBOURS_ALL;
  const memo: Record<string, unknown> = {};
  for (;;) {
    const gathered = margin > 0 ? await gatherHalo(tile, own, margin, neighbour, loaded) : own;
    const alerts = spec.aoi && areas && margin > 0 ? keepInAreas(areas, gathered, spec.aoi, tile, margin) : gathered;
    const origin = tileOrigin(tile, max);
    const { clusters, complete, needs = NEIGHBOURS_ALL & ~loaded } = clusterEngine.clusterAlerts(alerts, params, margin, origin, { loaded, memo });
    options.onPass?.({ margin, alerts: alerts.length, complete, neighbours: popCount(loaded) - 1 });
    const missing = needs & NEIGHBOURS_ALL & ~loaded;
    if (!complete && missing !== 0 && margin <= TILE_SIZE) {
      loaded |= missing; // same margin, the neighbours asked for
      continue;
    }
    if (complete || margin >= max) {
      if (!complete) options.onWarning?.(`tile ${tileKey(tile)}: clusters may be cut at the maximum halo of ${max} px`);
      result.clusters = buildClusters(tile, alerts, clusters);
      if (spec.aoi && areas) {
        const aoi = spec.aoi;
        const inAreas = areas.areasAtPixels(aoi, tile, margin);
        for (const c of result.clusters) c.areas = areas.areaNames(aoi, c.alerts.flatMap(([row, col]) => inAreas(col, row)));
      }
      result.nb_clusters = result.clusters.length;
      return result;
    }
    margin = Math.min(max, margin > 0 ? 2 * margin : FIRST_NONZERO_MARGIN);
    loaded = NEIGHBOURS_ALL;
  }
}
