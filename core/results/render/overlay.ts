// A tile's alerts as a transparent 256x256 PNG, coloured by date: drawn under the clusters of the
// HTML report map (an image overlay per tile). No text, so plain pngjs is enough.
import { PNG } from 'pngjs';
import { TILE_SIZE } from '../../tiles/grid.ts';
import type { Alerts } from '../../tiles/types.ts';
import { dayColor, type DaySpan } from './colors.ts';

/** PNG bytes: alert pixels in their date colour (opaque), everything else transparent. */
export function renderTileOverlay(alerts: Alerts, span: DaySpan): Buffer {
  const png = new PNG({ width: TILE_SIZE, height: TILE_SIZE });
  png.data.fill(0);
  for (let k = 0; k < alerts.length; k++) {
    const [c, r] = [alerts.col[k], alerts.row[k]];
    if (c < 0 || r < 0 || c >= TILE_SIZE || r >= TILE_SIZE) continue;
    const [red, green, blue] = dayColor(alerts.days[k], span);
    const o = 4 * (r * TILE_SIZE + c);
    png.data[o] = red;
    png.data[o + 1] = green;
    png.data[o + 2] = blue;
    png.data[o + 3] = 255;
  }
  return PNG.sync.write(png);
}
