// The input alert tiles of a run as PNG data URLs for the report map, read through the run's tile
// source. Unreadable tiles are skipped and reported as a note, never a failure of the report.
import { gladDecoder } from '../../tiles/decode.ts';
import { renderTileOverlay } from '../render/overlay.ts';
import type { DaySpan } from '../render/colors.ts';
import { tileBounds, tileKey, type LonLatBounds } from '../../tiles/grid.ts';
import type { AlertSource, Alerts, DayRange, TileAddress, TileSource } from '../../tiles/types.ts';

export interface TileOverlay {
  tile: TileAddress;
  bounds: LonLatBounds;
  /** data:image/png;base64,... */
  dataUrl: string;
  alerts: number;
}

export interface OverlayResult {
  overlays: TileOverlay[];
  /** Why some or all tiles are not drawn (one line each). */
  notes: string[];
}

/** More tiles than this are not embedded (the file would grow by ~5-20 kB a tile). */
export const MAX_OVERLAY_TILES = 200;
const PARALLEL_READS = 4;
const GIVE_UP_AFTER = 8;

/**
 * Reads, decodes and renders the tiles; failures become notes. Colours use `span` (the run's dates).
 * `source`: the run's alerts (its dataset's decoder or its rasters), or bare 2018-encoded tiles.
 */
export async function collectTileOverlays(
  source: TileSource | AlertSource,
  tiles: readonly TileAddress[],
  range: DayRange,
  span: DaySpan,
  maxTiles = MAX_OVERLAY_TILES,
): Promise<OverlayResult> {
  if (tiles.length > maxTiles) {
    return { overlays: [], notes: [`input alert tiles not drawn: the run has ${tiles.length} tiles (limit ${maxTiles})`] };
  }
  const overlays: TileOverlay[] = [];
  const failures: string[] = [];
  let next = 0;
  let answered = 0;
  // A source that fails every one of its first reads (offline, wrong URL) is given up early.
  const hopeless = () => answered === 0 && failures.length >= GIVE_UP_AFTER;
  const worker = async () => {
    while (next < tiles.length && !hopeless()) {
      const tile = tiles[next++];
      try {
        let alerts: Alerts | null;
        if ('read' in source) {
          const bytes = await source.read(tile);
          alerts = bytes ? gladDecoder.decode(bytes, range, tile) : null;
        } else alerts = await source.alerts(tile, range);
        answered++;
        // A missing tile has no alerts.
        if (!alerts || alerts.length === 0) continue;
        const png = renderTileOverlay(alerts, span);
        overlays.push({ tile, bounds: tileBounds(tile), dataUrl: `data:image/png;base64,${png.toString('base64')}`, alerts: alerts.length });
      } catch (error) {
        failures.push(`${tileKey(tile)}: ${(error as Error).message.split('\n')[0]}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_READS, tiles.length) }, worker));
  const notes = hopeless()
    ? [`input alert tiles not drawn: the first ${failures.length} reads failed (first: ${failures[0]})`]
    : failures.length
      ? [`${failures.length} of ${tiles.length} input tiles could not be read and are not drawn (first: ${failures[0]})`]
      : [];
  return { overlays, notes };
}
