import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { gladDecoder } from '../core/tiles/decode.ts';
import { isoToDays } from '../core/tiles/dates.ts';
import { dayColor, MARKER, rampColor, type Rgb } from '../core/results/render/colors.ts';
import {
  BAR_PX, clusterTitle, PANEL_PX, panelTitle, renderClusterPicture, renderClustersPicture, renderTilePicture, TILE_SCALE, type Picture,
} from '../core/results/render/pictures.ts';
import { syntheticTilePng } from '../local/synthetic.ts';
import { withRowIds } from '../core/results/table.ts';
import { mulberry32 } from '../local/synthetic.ts';
import { blob, daysBetween, FIXTURE_TILES, fixtureRecords, recordFromMembers } from './results-fixtures.ts';
import type { AlertTuple } from '../core/clusters/types.ts';

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

/** First and last member date of some alerts, and the days between them (by Date). */
function memberSpan(alerts: readonly AlertTuple[]) {
  const dates = alerts.map((a) => a[2]).sort();
  return { first: dates[0], last: dates[dates.length - 1], days: daysBetween(dates[0], dates[dates.length - 1]) };
}

describe('duration in the pictures', () => {
  const rand = mulberry32(21);
  // One date, about half a year, about three years: on one sheet, each bar a different length.
  const events = withRowIds([
    recordFromMembers(FIXTURE_TILES[0], blob(60, 60, 4, '2018-03-03', 1, rand)),
    recordFromMembers(FIXTURE_TILES[0], blob(150, 60, 5, '2017-05-01', 180, rand)),
    recordFromMembers(FIXTURE_TILES[1], blob(80, 180, 5, '2016-01-10', 1100, rand)),
  ]);

  it("titles give each cluster's first and last alert and the days between them", () => {
    for (const r of [...events, ...rows]) {
      const { first, last, days } = memberSpan(r.alerts);
      for (const title of [clusterTitle(r), panelTitle(r)]) expect(title).toContain(`${first} → ${last} · ${days} day${days === 1 ? '' : 's'}`);
    }
    expect(memberSpan(events[0].alerts).days).toBe(0);
  });

  it('the title band, and only it, changes with the duration', () => {
    const r = events[1];
    const a = decode(renderClusterPicture(r));
    const b = decode(renderClusterPicture({ ...r, duration_days: r.duration_days + 300 }));
    // The panel starts at the first row of its light grey background (its top-left corner is never an alert).
    let top = 0;
    while (a.at(9, top).join() !== '242,242,242') top++;
    let titleDiff = 0;
    let panelDiff = 0;
    for (let y = 0; y < a.png.height; y++) {
      for (let x = 0; x < a.png.width; x++) {
        if (a.at(x, y).join() === b.at(x, y).join()) continue;
        if (y < top) titleDiff++; else panelDiff++;
      }
    }
    expect(titleDiff).toBeGreaterThan(10);
    expect(panelDiff).toBe(0);
  });

  it("draws each cluster's bar from its first to its last alert on the sheet's date scale", () => {
    const picture = renderClustersPicture(events);
    const { at } = decode(picture);
    expect(picture.tracks).toHaveLength(events.length);
    const spans = events.map((e) => memberSpan(e.alerts));
    const sheetFirst = spans.map((s) => s.first).sort()[0];
    const sheetDays = daysBetween(sheetFirst, spans.map((s) => s.last).sort().at(-1)!);
    const widths: number[] = [];
    picture.tracks!.forEach((track, k) => {
      const y = track.y + BAR_PX / 2;
      // Bar pixels: anything on the track row that is not the grey track itself.
      const bar: number[] = [];
      for (let x = track.x; x < track.x + track.width; x++) if (at(x, y).join() !== '228,228,228') bar.push(x);
      expect(bar.length).toBeGreaterThan(0);
      expect(bar.at(-1)! - bar[0] + 1).toBe(bar.length); // one piece
      const want0 = track.x + (daysBetween(sheetFirst, spans[k].first) / sheetDays) * track.width;
      const want1 = track.x + (daysBetween(sheetFirst, spans[k].last) / sheetDays) * track.width;
      expect(Math.abs(bar[0] - want0)).toBeLessThanOrEqual(1);
      expect(Math.abs(bar.at(-1)! + 1 - Math.max(want1, want0 + 2))).toBeLessThanOrEqual(1);
      // Its ends take the colours of its first and last alert on the sheet's scale.
      const scale = { first: 0, last: sheetDays };
      const near = (p: Rgb, q: Rgb) => p.every((v, c) => Math.abs(v - q[c]) <= 12);
      expect(near(at(bar[0], y), dayColor(daysBetween(sheetFirst, spans[k].first), scale))).toBe(true);
      expect(near(at(bar.at(-1)!, y), dayColor(daysBetween(sheetFirst, spans[k].last), scale))).toBe(true);
      widths.push(bar.length);
    });
    // Longer events, longer bars; a one-date event is a 2 px tick.
    expect(widths[0]).toBe(2);
    expect(widths[0]).toBeLessThan(widths[1]);
    expect(widths[1]).toBeLessThan(widths[2]);
  });
});
