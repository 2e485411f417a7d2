// The one-tile job: read and decode a tile plus the halo it needs from its neighbours, cluster,
// and build the tile's records. The pipeline's consumer and `npm run tile` both call runTile.
import { clusterAlerts, initialHaloMargin, MAX_HALO_MARGIN } from '../meanshift/engine.ts';
import { dayRange } from '../tiles/dates.ts';
import { gladDecoder, sliceAlerts, allocAlerts } from '../tiles/decode.ts';
import { buildClusters } from './records.ts';
import type { OwnedCluster } from '../meanshift/engine.ts';
import { TILE_SIZE, tileKey, validateTile } from '../tiles/grid.ts';
import type { AlertDecoder, Alerts, DayRange, TileAddress, TileSource } from '../tiles/types.ts';
import type { ClusterParams } from '../meanshift/types.ts';
import type { TileResult } from './types.ts';
import { areaNames, areasAtPixels, type AoiSpec } from '../tiles/areas.ts';

/** What runTile needs from the clustering engine (core/meanshift/engine.ts implements it). */
export interface ClusterEngine {
  /** `origin`: the tile's pixel (0, 0) in the zoom level's global pixel grid (`flat` computes there). */
  clusterAlerts(
    alerts: Alerts,
    params: ClusterParams,
    haloMargin: number,
    origin?: { col: number; row: number },
  ): { clusters: OwnedCluster[]; complete: boolean };
  initialHaloMargin(params: ClusterParams): number;
  MAX_HALO_MARGIN: number;
}

/** What a tile job needs of its run: the date range and the clustering parameters (a RunSpec has them). */
interface TileJobSpec extends ClusterParams {
  /** ISO YYYY-MM-DD, inclusive. */
  start_date: string;
  /** ISO YYYY-MM-DD, exclusive. */
  end_date: string;
  /** Areas of interest: alerts outside every area are dropped before clustering. */
  aoi?: AoiSpec;
}

/** The alerts (tile pixels, halo included) whose centre lies in an area of interest. */
function keepInAreas(alerts: Alerts, aoi: AoiSpec, tile: TileAddress, margin: number): Alerts {
  const inAreas = areasAtPixels(aoi, tile, margin);
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
  /** Decodes tile images (default: GLAD PNGs). */
  decoder?: AlertDecoder;
  /** The clustering engine (default: core/meanshift/engine.ts; tests pass a stand-in). */
  engine?: ClusterEngine;
  /** Called for problems that do not fail the tile (e.g. a corrupt neighbour, read as missing). */
  onWarning?: (message: string) => void;
  /** Called once per clustering pass with the halo margin used (lets tests and logs see retries). */
  onPass?: (pass: { margin: number; alerts: number; complete: boolean }) => void;
}

/** The real mean-shift engine. */
const defaultEngine: ClusterEngine = { clusterAlerts, initialHaloMargin, MAX_HALO_MARGIN };

/** Margin used after a pass that said "incomplete" with margin 0 (0 cannot be doubled). */
const FIRST_NONZERO_MARGIN = 16;

/**
 * Reads tiles through `source` and decodes them once per job. The job's own tile failing to
 * decode throws (the pipeline turns it into an error record); a corrupt NEIGHBOUR is treated as
 * missing (no alerts) and reported through onWarning. Read errors (network, S3) always throw,
 * so a transient outage retries the tile instead of silently losing halo alerts.
 */
class TileCache {
  private readonly cache = new Map<string, Promise<Alerts | null>>();
  private readonly source: TileSource;
  private readonly decoder: AlertDecoder;
  private readonly range: DayRange;
  private readonly onWarning: (message: string) => void;

  constructor(source: TileSource, decoder: AlertDecoder, range: DayRange, onWarning: (message: string) => void) {
    this.source = source;
    this.decoder = decoder;
    this.range = range;
    this.onWarning = onWarning;
  }

  get(tile: TileAddress, isNeighbour: boolean): Promise<Alerts | null> {
    const key = tileKey(tile);
    let hit = this.cache.get(key);
    if (!hit) {
      hit = this.load(tile, isNeighbour);
      this.cache.set(key, hit);
    }
    return hit;
  }

  private async load(tile: TileAddress, isNeighbour: boolean): Promise<Alerts | null> {
    const bytes = await this.source.read(tile);
    if (bytes === null) return null;
    try {
      return this.decoder.decode(bytes, this.range, tile);
    } catch (err) {
      if (!isNeighbour) throw err;
      this.onWarning(`neighbour ignored (read as missing): ${(err as Error).message}`);
      return null;
    }
  }
}

/** The tile's alerts plus neighbour alerts within `margin` px of the tile, in tile pixel coordinates. */
async function gatherHalo(tile: TileAddress, own: Alerts, margin: number, cache: TileCache): Promise<Alerts> {
  const ring = Math.ceil(margin / TILE_SIZE);
  const last = 2 ** tile.z - 1;
  const parts: { alerts: Alerts; dx: number; dy: number }[] = [];
  const reads: Promise<void>[] = [];
  for (let dy = -ring; dy <= ring; dy++) {
    for (let dx = -ring; dx <= ring; dx++) {
      const nx = tile.x + dx;
      const ny = tile.y + dy;
      // Off the edge of the grid there is nothing (no wrap at the antimeridian).
      if ((dx === 0 && dy === 0) || nx < 0 || ny < 0 || nx > last || ny > last) continue;
      reads.push(
        cache.get({ z: tile.z, x: nx, y: ny }, true).then((alerts) => {
          if (alerts && alerts.length > 0) parts.push({ alerts, dx, dy });
        }),
      );
    }
  }
  await Promise.all(reads);
  // Fixed order (row of tiles, then column) so the engine sees the same input on every run.
  parts.sort((a, b) => a.dy - b.dy || a.dx - b.dx);

  const lo = -margin;
  const hi = TILE_SIZE - 1 + margin;
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

/**
 * Clusters one tile. Halo algorithms start with the engine's initial margin; while the engine
 * reports that an owned cluster may be cut by the halo edge, the margin doubles (up to
 * MAX_HALO_MARGIN; margins > 256 px read the second ring of tiles). A tile with no alerts in the
 * date range has no clusters and reads no neighbours.
 */
export async function runTile(tile: TileAddress, spec: TileJobSpec, source: TileSource, options: RunTileOptions = {}): Promise<TileResult> {
  validateTile(tile);
  const range = dayRange(spec);
  const params: ClusterParams = { width: spec.width, min_count: spec.min_count, iterations: spec.iterations, algorithm: spec.algorithm };
  const cache = new TileCache(source, options.decoder ?? gladDecoder, range, options.onWarning ?? (() => {}));

  const read = await cache.get(tile, false);
  // With areas of interest, only in-area alerts (the tile's and the halo's) are clustered.
  const own = read && spec.aoi ? keepInAreas(read, spec.aoi, tile, 0) : read;
  // The request echoed in `npm run tile`'s fixed key order (a RunSpec's region and tiles_url stay out).
  const result: TileResult = {
    z: tile.z,
    x: tile.x,
    y: tile.y,
    start_date: spec.start_date,
    end_date: spec.end_date,
    ...params,
    nb_clusters: 0,
    clusters: [],
  };
  if (!own || own.length === 0) return result;

  const clusterEngine = options.engine ?? defaultEngine;
  const max = clusterEngine.MAX_HALO_MARGIN;
  let margin = Math.min(clusterEngine.initialHaloMargin(params), max);
  for (;;) {
    const gathered = margin > 0 ? await gatherHalo(tile, own, margin, cache) : own;
    const alerts = spec.aoi && margin > 0 ? keepInAreas(gathered, spec.aoi, tile, margin) : gathered;
    const origin = { col: tile.x * TILE_SIZE, row: tile.y * TILE_SIZE };
    const { clusters, complete } = clusterEngine.clusterAlerts(alerts, params, margin, origin);
    options.onPass?.({ margin, alerts: alerts.length, complete });
    if (complete || margin >= max) {
      if (!complete) options.onWarning?.(`tile ${tileKey(tile)}: clusters may be cut at the maximum halo of ${max} px`);
      result.clusters = buildClusters(tile, alerts, clusters);
      if (spec.aoi) {
        const aoi = spec.aoi;
        const inAreas = areasAtPixels(aoi, tile, margin);
        for (const c of result.clusters) c.areas = areaNames(aoi, c.alerts.flatMap(([row, col]) => inAreas(col, row)));
      }
      result.nb_clusters = result.clusters.length;
      return result;
    }
    margin = Math.min(max, margin > 0 ? 2 * margin : FIRST_NONZERO_MARGIN);
  }
}
