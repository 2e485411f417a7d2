// The HTML report in a real headless Chromium (/usr/bin/chromium, never downloaded): loads offline
// with no console errors, one marker per cluster, a click shows that cluster's numbers, the date
// filter and table sorting work, and a screenshot is a real PNG.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectTileOverlays } from '../core/results/report/overlays.ts';
import { buildRunReport } from '../core/results/report/report.ts';
import { fileTileSource } from '../core/store/tile-sources.ts';
import { writeSyntheticMosaic } from '../local/synthetic.ts';
import { withRowIds } from '../core/results/table.ts';
import { tilesInBounds } from '../core/tiles/grid.ts';
import { daysBetween, FIXTURE_RUN_ID, FIXTURE_TILES, fixtureRecords, recordFromMembers } from './results-fixtures.ts';
import type { AlertTuple } from '../core/clusters/types.ts';

const BROWSER_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const records = fixtureRecords(9);
const rows = withRowIds(records);
const dir = mkdtempSync(join(tmpdir(), 'report-'));
const file = join(dir, 'report.html');
const bounds = { z: 12, x0: 1362, y0: 2083, x1: 1363, y1: 2084 };
const dates = { start_date: '2015-01-01', end_date: '2021-01-01' };

let browser: Browser;
let page: Page;
const consoleErrors: string[] = [];
const outsideRequests: string[] = [];
let html = '';

beforeAll(async () => {
  // 4 input tiles, one of them corrupt: 3 drawn underneath, 1 reported in a note.
  await writeSyntheticMosaic(join(dir, 'tiles'), { ...bounds, seed: 5, density: 1500, corrupt: [{ z: 12, x: 1363, y: 2084 }] });
  html = await buildRunReport({
    runId: FIXTURE_RUN_ID,
    records,
    dates,
    params: { z: 12, width: 3, min_count: 10 },
    tiles: tilesInBounds(bounds),
    source: fileTileSource(join(dir, 'tiles', '{z}/{x}/{y}.png')),
  });
  writeFileSync(file, html);
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: BROWSER_ARGS });
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(e.message));
  // Offline: anything but the file itself and inline data: URLs is recorded and refused.
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('file:') || url.startsWith('data:')) return route.continue();
    outsideRequests.push(url);
    return route.abort();
  });
  await page.goto(pathToFileURL(file).href);
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

describe('HTML report in a headless browser', () => {
  it('is one self-contained file: Leaflet inlined, no CDN or remote URL', () => {
    expect(html).toContain('Leaflet');
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect(html).not.toMatch(/<link[^>]+href=/);
    expect(html).toContain('1 of 4 input tiles could not be read');
  });

  it('loads with no console errors and no outside requests, one marker per cluster', async () => {
    await page.waitForSelector('path.cluster-centre');
    expect(consoleErrors).toEqual([]);
    expect(outsideRequests).toEqual([]);
    expect(await page.locator('path.cluster-centre').count()).toBe(records.length);
    expect(await page.locator('path.cluster-hull').count()).toBe(records.length);
    expect(await page.locator('img.alerts-tile').count()).toBe(3);
    expect(await page.locator('#clusters tbody tr').count()).toBe(records.length);
  });

  it("shows a cluster's numbers when its marker is clicked", async () => {
    for (const id of [4, 0]) {
      await page.locator(`path.cluster-centre[data-row="${id}"]`).click();
      const field = (name: string) => page.locator(`#details [data-field="${name}"]`).textContent();
      expect(await field('row_id')).toBe(String(id));
      expect(await field('count')).toBe(String(rows[id].count));
      expect(await field('area_ha')).toBe(rows[id].area_ha.toFixed(2));
      expect(await field('min_date')).toBe(rows[id].min_date);
      expect(await page.locator('#clusters tbody tr.selected').getAttribute('data-row')).toBe(String(id));
    }
  });

  it('sorts the table by a clicked column and filters by date', async () => {
    await page.locator('#clusters th[data-key="count"]').click();
    const counts = await page.locator('#clusters tbody tr td:nth-child(3)').allTextContents();
    expect(counts.map(Number)).toEqual(rows.map((r) => r.count).sort((a, b) => b - a));

    const from = '2018-06-01';
    const expected = rows.filter((r) => r.max_date >= from).length;
    expect(expected).toBeLessThan(rows.length);
    await page.fill('#from', from);
    await page.dispatchEvent('#from', 'change');
    expect(await page.locator('path.cluster-centre').count()).toBe(expected);
    expect(await page.locator('#clusters tbody tr').count()).toBe(expected);
    expect(await page.locator('#count-shown').textContent()).toBe(String(expected));
    await page.click('#reset');
    expect(await page.locator('path.cluster-centre').count()).toBe(records.length);
  });

  it('takes a screenshot that is a real, non-blank PNG', async () => {
    const shot = join(dir, 'report.png');
    await page.screenshot({ path: shot });
    const png = PNG.sync.read(readFileSync(shot));
    expect(png.width).toBe(1400);
    expect(png.height).toBe(900);
    const colours = new Set<number>();
    for (let o = 0; o < png.data.length; o += 4 * 97) colours.add((png.data[o] << 16) | (png.data[o + 1] << 8) | png.data[o + 2]);
    expect(colours.size).toBeGreaterThan(20);
    if (process.env.REPORT_SHOT) writeFileSync(process.env.REPORT_SHOT, readFileSync(shot));
  });
});

describe('HTML report of a run without clusters', () => {
  it('opens with no console errors, no markers and an empty table', async () => {
    const empty = join(dir, 'empty.html');
    writeFileSync(empty, await buildRunReport({ runId: 'r-00000000000000ee', records: [], dates }));
    const errors: string[] = [];
    const p = await browser.newPage();
    p.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    p.on('pageerror', (e) => errors.push(e.message));
    await p.goto(pathToFileURL(empty).href);
    await p.waitForSelector('#map.leaflet-container');
    expect(errors).toEqual([]);
    expect(await p.locator('path.cluster-centre').count()).toBe(0);
    expect(await p.locator('#clusters tbody tr').count()).toBe(0);
    expect(await p.locator('#count-shown').textContent()).toBe('0');
    expect(await p.locator('.notes').textContent()).toContain('input alert tiles not drawn');
    await p.close();
  });
});

describe('the date filter selects events (first → last alert overlapping from–to)', () => {
  // Events whose answer differs between an overlap filter and one on a single date: one spanning the
  // whole filter with no alert inside it, ones touching its ends, ones a day outside, one inside.
  const EVENTS: Record<string, string[]> = {
    across: ['2016-01-01', '2019-12-31'],
    inside: ['2018-04-01', '2018-04-20', '2018-04-10'],
    dayBefore: ['2017-01-01', '2018-02-28'],
    endsOnFrom: ['2017-01-01', '2018-03-01'],
    startsOnTo: ['2018-06-30', '2019-05-01'],
    dayAfter: ['2018-07-01', '2018-09-01'],
    oneDate: ['2015-05-05'],
  };
  /** A 3×3 block per event (dates cycled over its pixels), in the fixture tiles. */
  const events = Object.values(EVENTS).map((dates, k) => {
    const alerts: AlertTuple[] = [];
    for (let p = 0; p < 9; p++) alerts.push([30 + 25 * k + Math.floor(p / 3), 40 + (p % 3), dates[p % dates.length]]);
    return recordFromMembers(FIXTURE_TILES[k % FIXTURE_TILES.length], alerts);
  });
  const eventRows = withRowIds(events);
  /** The row ids an overlap filter keeps, from the members' own dates (empty bound: open). */
  const expectedIds = (from: string, to: string) => eventRows
    .filter((r) => {
      const dates = r.alerts.map((a) => a[2]).sort();
      return (!from || daysBetween(from, dates.at(-1)!) >= 0) && (!to || daysBetween(dates[0], to) >= 0);
    })
    .map((r) => r.row_id)
    .sort((a, b) => a - b);
  let p: Page;

  beforeAll(async () => {
    const eventsFile = join(dir, 'events.html');
    writeFileSync(eventsFile, await buildRunReport({ runId: FIXTURE_RUN_ID, records: events, dates }));
    p = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await p.goto(pathToFileURL(eventsFile).href);
    await p.waitForSelector('path.cluster-centre');
  });
  afterAll(async () => {
    await p?.close();
  });

  const shownIds = async (selector: string) =>
    (await p.locator(selector).evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-row'))))).sort((a, b) => a - b);

  it('shows, for each range, exactly the events overlapping it, on the map and in the table', async () => {
    const ranges: [string, string][] = [
      ['2018-03-01', '2018-06-30'], // the edge cases above
      ['2017-05-01', '2017-05-02'], // inside long events only: none of them has an alert then
      ['2018-07-01', ''], // open end
      ['', '2015-05-05'], // open start, ending on the one-date event
      ['2020-01-01', '2020-12-31'], // after everything
    ];
    const seen = new Set<string>();
    for (const [from, to] of ranges) {
      await p.fill('#from', from);
      await p.fill('#to', to);
      await p.dispatchEvent('#to', 'change');
      const want = expectedIds(from, to);
      seen.add(want.join());
      expect(await shownIds('path.cluster-centre')).toEqual(want);
      expect(await shownIds('#clusters tbody tr')).toEqual(want);
      expect(await p.locator('#count-shown').textContent()).toBe(String(want.length));
    }
    // The ranges give different answers, and the first one the edge cases predict by name.
    expect(seen.size).toBe(ranges.length);
    const byName = (name: string) => {
      const e = events[Object.keys(EVENTS).indexOf(name)];
      return eventRows.find((r) => r.x === e.x && r.y === e.y && r.row === e.row)!.row_id;
    };
    expect(expectedIds('2018-03-01', '2018-06-30')).toEqual(['across', 'inside', 'endsOnFrom', 'startsOnTo'].map(byName).sort((a, b) => a - b));
    await p.click('#reset');
    expect(await shownIds('path.cluster-centre')).toEqual(eventRows.map((r) => r.row_id));
  });

  it("gives each event's duration in the table and in its details", async () => {
    await p.click('#reset');
    const header = await p.locator('#clusters thead th').allTextContents();
    const col = header.findIndex((h) => h.trim() === 'days');
    expect(col).toBeGreaterThan(0);
    const spanOf = (id: number) => {
      const dates = eventRows[id].alerts.map((a) => a[2]).sort();
      return daysBetween(dates[0], dates.at(-1)!);
    };
    for (const tr of await p.locator('#clusters tbody tr').all()) {
      const id = Number(await tr.getAttribute('data-row'));
      expect(Number(await tr.locator('td').nth(col).textContent())).toBe(spanOf(id));
    }
    const longest = eventRows.reduce((a, b) => (spanOf(b.row_id) > spanOf(a.row_id) ? b : a));
    await p.locator(`path.cluster-centre[data-row="${longest.row_id}"]`).click();
    expect(Number(await p.locator('#details [data-field="duration_days"]').textContent())).toBe(spanOf(longest.row_id));
    // Sorting by it orders the events by their span.
    await p.locator('#clusters th[data-key="duration_days"]').click();
    const days = (await p.locator(`#clusters tbody tr td:nth-child(${col + 1})`).allTextContents()).map(Number);
    expect(days).toEqual(eventRows.map((r) => spanOf(r.row_id)).sort((a, b) => b - a));
  });
});

describe('tile overlays', () => {
  it('gives up early on a source whose every read fails, with a note', async () => {
    let reads = 0;
    const failing = { read: async () => { reads++; throw new Error('getaddrinfo ENOTFOUND tiles.example'); } };
    const tiles = tilesInBounds({ z: 12, x0: 1300, y0: 2000, x1: 1309, y1: 2009 });
    const result = await collectTileOverlays(failing, tiles, { startDays: 1, endDays: 3000 }, { first: 1, last: 3000 });
    expect(result.overlays).toEqual([]);
    expect(reads).toBeLessThan(20);
    expect(result.notes).toHaveLength(1);
    expect(result.notes[0]).toMatch(/^input alert tiles not drawn: the first \d+ reads failed \(first: 12\/\d+\/\d+: getaddrinfo ENOTFOUND/);
  });

  it('skips runs with more tiles than the limit, with a note', async () => {
    const never = { read: async () => { throw new Error('must not be read'); } };
    const tiles = tilesInBounds({ z: 12, x0: 0, y0: 0, x1: 9, y1: 9 });
    const result = await collectTileOverlays(never, tiles, { startDays: 1, endDays: 3000 }, { first: 1, last: 3000 }, 50);
    expect(result.notes).toEqual(['input alert tiles not drawn: the run has 100 tiles (limit 50)']);
  });
});
