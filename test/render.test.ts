import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { gladDecoder } from '../core/tiles/decode.ts';
import { isoToDays } from '../core/tiles/dates.ts';
import { dayColor, MARKER, rampColor, type Rgb } from '../core/results/render/colors.ts';
import {
  PANEL_PX, renderClusterPicture, renderClustersPicture, renderTilePicture, TILE_SCALE, type Picture,
} from '../core/results/render/pictures.ts';
import { syntheticTilePng } from '../local/synthetic.ts';
import { withRowIds } from '../core/results/table.ts';
import { FIXTURE_TILES, fixtureRecords } from './results-fixtures.ts';

/** Decodes a picture's PNG and returns a pixel reader. */
function decode(picture: Picture) {
  const png = PNG.sync.read(picture.png);
  const at = (x: number, y: number): Rgb => {
    const o = 4 * (Math.floor(y) * png.width + Math.floor(x));
    return [png.data[o], png.data[o + 1], png.data[o + 2]];
  };
  return { png, at };
}

/** How many pixels of the image have a colour close to one of the given colours. */
function countNear(png: PNG, colours: Rgb[], tolerance = 3): number {
  let n = 0;
  for (let o = 0; o < png.data.length; o += 4) {
    const px = [png.data[o], png.data[o + 1], png.data[o + 2]];
    if (colours.some((c) => c.every((v, k) => Math.abs(v - px[k]) <= tolerance))) n++;
  }
  return n;
}

const rows = withRowIds(fixtureRecords(6));

describe('colours', () => {
  it('run from dark (earliest) to yellow (latest), never the marker red', () => {
    const span = { first: 100, last: 200 };
    const [early, late] = [dayColor(100, span), dayColor(200, span)];
    expect(early[0] + early[1] + early[2]).toBeLessThan(late[0] + late[1] + late[2]);
    for (let t = 0; t <= 1; t += 0.01) {
      const [r, g] = rampColor(t);
      expect(r > 200 && g < 80).toBe(false);
    }
  });
});

describe('tile picture', () => {
  it('draws the decoded input alerts of a tile coloured by date, at 2x, with centres marked', () => {
    const tile = FIXTURE_TILES[0];
    const bytes = syntheticTilePng({ ...tile, seed: 3, density: 2000 });
    const alerts = gladDecoder.decode(bytes, { startDays: 1, endDays: isoToDays('2030-01-01') }, tile);
    expect(alerts.length).toBeGreaterThan(100);
    const centre = { col: alerts.col[0], row: alerts.row[0] };
    const picture = renderTilePicture(tile, alerts, { centres: [centre] });
    const { png, at } = decode(picture);
    expect(png.width).toBe(256 * TILE_SCALE + 16);
    expect(png.height).toBeGreaterThan(256 * TILE_SCALE);
    expect(at(picture.markers[0].x, picture.markers[0].y)).toEqual(MARKER);
    // Every alert's 2x2 block is coloured (not background); sample alerts away from the marker.
    const top = picture.markers[0].y - (centre.row + 0.5) * TILE_SCALE;
    const left = picture.markers[0].x - (centre.col + 0.5) * TILE_SCALE;
    let coloured = 0;
    for (let k = 0; k < alerts.length; k += 37) {
      const px = at(left + alerts.col[k] * TILE_SCALE, top + alerts.row[k] * TILE_SCALE);
      if (!(px[0] === 255 && px[1] === 255 && px[2] === 255)) coloured++;
    }
    expect(coloured).toBe(Math.ceil(alerts.length / 37));
    // And a pixel with no alert stays background.
    const set = new Set(Array.from({ length: alerts.length }, (_, k) => alerts.row[k] * 256 + alerts.col[k]));
    const empty = Array.from({ length: 65536 }, (_, p) => p).find((p) => !set.has(p) && p > 10 * 256)!;
    expect(at(left + (empty % 256) * TILE_SCALE, top + Math.floor(empty / 256) * TILE_SCALE)).toEqual([255, 255, 255]);
  });
});

describe('cluster picture', () => {
  it('colours every member by date and marks the centre in red', () => {
    const record = rows[2];
    const picture = renderClusterPicture(record);
    const { png, at } = decode(picture);
    expect(png.width).toBe(PANEL_PX + 16);
    expect(picture.markers).toHaveLength(1);
    expect(at(picture.markers[0].x, picture.markers[0].y)).toEqual(MARKER);
    // The earliest and latest members' colours are both present.
    const span = { first: isoToDays(record.min_date), last: isoToDays(record.max_date) };
    expect(countNear(png, [dayColor(span.first, span)])).toBeGreaterThan(0);
    expect(countNear(png, [dayColor(span.last, span)])).toBeGreaterThan(0);
    // Title text is drawn: dark pixels in the title band.
    let dark = 0;
    for (let y = 0; y < 50; y++) for (let x = 0; x < png.width; x++) if (at(x, y)[0] < 100) dark++;
    expect(dark).toBeGreaterThan(50);
  });

  it('refuses a cluster without members', () => {
    expect(() => renderClusterPicture({ ...rows[0], alerts: [] })).toThrow(/no members/);
  });
});

describe('several clusters', () => {
  it('puts the panels side by side in one row, each centre marked', () => {
    const chosen = [rows[4], rows[1], rows[3]];
    const picture = renderClustersPicture(chosen);
    const { png, at } = decode(picture);
    expect(png.width).toBe(3 * (PANEL_PX + 8) + 8);
    expect(png.height).toBeLessThan(PANEL_PX * 2);
    expect(picture.markers).toHaveLength(3);
    picture.markers.forEach((m, k) => {
      expect(at(m.x, m.y)).toEqual(MARKER);
      // Marker k lies in panel k.
      expect(Math.floor((m.x - 8) / (PANEL_PX + 8))).toBe(k);
    });
  });
});
