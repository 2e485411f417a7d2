// Areas of interest end to end on the local loop (emulators + the real handlers, the diff function
// invoked on the manifest's S3 event as on AWS): an AOI run of two areas, a second run a "week"
// later with generated new alerts, the diff checked against the known truth; the polygon edge case
// (a clearing half inside), the AOI with several features, an AOI far from any alert.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterService } from '../core/results/service.ts';
import { loadDiffManifest } from '../core/results/run-diff.ts';
import type { DiffManifest } from '../core/results/diff.ts';
import { allocAlerts, encodeGladTile } from '../core/tiles/decode.ts';
import { isoToDays } from '../core/tiles/dates.ts';
import { pixelToLonLat } from '../core/tiles/grid.ts';
import { getBytes } from '../core/store/result-store.ts';
import { resultsBucket, s3Client } from '../core/store/aws.ts';
import { startEmulators, type Emulators } from '../local/emulators.ts';
import { startLoop, type Loop } from '../local/loop.ts';
import { applyStackEnv, createStack } from '../local/stack.ts';

const dir = mkdtempSync(join(tmpdir(), 'aoi-e2e-'));
const WEST = { z: 12, x: 1362, y: 2083 };
const EAST = { z: 12, x: 1363, y: 2083 };

type Pixel = [col: number, row: number, date: string];
/** A filled disc of alerts. */
function disc(ci: number, cj: number, r: number, date: string): Pixel[] {
  const out: Pixel[] = [];
  for (let j = cj - r; j <= cj + r; j++) for (let i = ci - r; i <= ci + r; i++) if ((i - ci) ** 2 + (j - cj) ** 2 <= r * r) out.push([i, j, date]);
  return out;
}
function writeTile(tile: typeof WEST, pixels: Pixel[]): void {
  const a = allocAlerts(pixels.length);
  pixels.forEach(([c, r, d], k) => {
    a.col[k] = c;
    a.row[k] = r;
    a.days[k] = isoToDays(d);
    a.confidence[k] = 2;
  });
  a.length = pixels.length;
  const path = join(dir, 'tiles', String(tile.z), String(tile.x));
  mkdirSync(path, { recursive: true });
  writeFileSync(join(path, `${tile.y}.png`), encodeGladTile(a));
}
/** Lon/lat of a point between pixels of a tile. */
const at = (tile: typeof WEST, col: number, row: number) => {
  const { lon, lat } = pixelToLonLat(tile, col - 0.5, row - 0.5);
  return [lon, lat];
};
const box = (tile: typeof WEST, c0: number, r0: number, c1: number, r1: number) => [[at(tile, c0, r1), at(tile, c1, r1), at(tile, c1, r0), at(tile, c0, r0), at(tile, c0, r1)]];

// Week 1: A (west area), B straddling the west area's east edge (col 155.5), D (east area), E outside.
const A1 = disc(40, 40, 4, '2020-06-01');
const B = disc(155, 120, 4, '2020-07-01');
const D = disc(105, 105, 4, '2020-08-01');
const E = disc(220, 220, 4, '2020-08-01'); // west tile, outside the west area
// Week 2: A grows (a second disc overlapping it), C is new.
const A2 = disc(46, 40, 4, '2021-01-03').filter(([c, r]) => !A1.some(([c1, r1]) => c1 === c && r1 === r));
const C = disc(40, 150, 4, '2021-01-04');

const AOI = {
  type: 'FeatureCollection',
  features: [
    { type: 'Feature', id: 'west', properties: {}, geometry: { type: 'Polygon', coordinates: box(WEST, 2, 2, 155.5 + 0.5, 200) } },
    { type: 'Feature', properties: { name: 'east' }, geometry: { type: 'Polygon', coordinates: box(EAST, 80, 80, 130, 130) } },
  ],
};
const base = { z: 12, start_date: '2020-01-01', width: 10, min_count: 15, algorithm: 'flat', tiles_url: `file://${dir}/tiles/{z}/{x}/{y}.png` };

let emulators: Emulators;
let loop: Loop;
const week1 = new ClusterService({ aoi: AOI, ...base, end_date: '2021-01-01' });
const week2 = new ClusterService({ aoi: AOI, ...base, end_date: '2021-01-08' });
const far = new ClusterService({ aoi: { type: 'Polygon', coordinates: [[[100, 0], [100.1, 0], [100.1, 0.1], [100, 0.1], [100, 0]]] }, ...base, end_date: '2021-01-08' });

async function waitForDiff(runId: string): Promise<DiffManifest> {
  for (let k = 0; k < 120; k++) {
    const m = await loadDiffManifest(runId, s3Client(), resultsBucket());
    if (m) return m;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`no diff.json for ${runId}`);
}

beforeAll(async () => {
  writeTile(WEST, [...A1, ...B, ...E]);
  writeTile(EAST, D);
  emulators = await startEmulators({ dir: join(dir, 'state') });
  const stack = await createStack(emulators, { visibilityTimeout: 5 });
  applyStackEnv(stack);
  loop = await startLoop(emulators, stack, { workers: 1, log: () => {} });
  await week1.run({ pollMs: 200, timeoutMs: 120_000 });
  await waitForDiff(week1.runId);
  // A week later: the same tiles with this week's alerts added (the dataset updated in place).
  writeTile(WEST, [...A1, ...A2, ...B, ...E, ...C]);
  await week2.run({ pollMs: 200, timeoutMs: 120_000 });
  await far.run({ pollMs: 200, timeoutMs: 120_000 });
}, 240_000);

afterAll(async () => {
  await loop?.stop();
  await emulators?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('an AOI run on the local loop', () => {
  it('covers the tiles the areas touch (not their box), and the area is in the run id and the manifest', () => {
    expect(week1.requestSize()).toBe(2);
    expect(week1.manifest!.tiles).toBe(2);
    expect(week1.manifest!.params.aoi!.areas.map((a) => a.name)).toEqual(['west', 'east']);
    const other = new ClusterService({ aoi: { ...AOI, features: [AOI.features[0]] }, ...base, end_date: '2021-01-01' });
    expect(other.runId).not.toBe(week1.runId);
    expect(other.requestSize()).toBe(1);
  });

  it('drops alerts outside every area: E makes no cluster; each cluster names its area', () => {
    const rows = week1.records();
    expect(rows.map((r) => r.count).sort((a, b) => a - b)).toEqual([B.filter(([c]) => c <= 155).length, A1.length, D.length].sort((a, b) => a - b));
    const byArea = Object.fromEntries(rows.map((r) => [r.count === D.length && r.x === EAST.x ? 'D' : r.i < 100 ? 'A' : 'B', r.areas]));
    expect(byArea).toEqual({ A: '["west"]', B: '["west"]', D: '["east"]' });
  });

  it('a clearing half inside: only its in-area half is clustered', () => {
    const b = week1.records().find((r) => r.i > 100 && r.x === WEST.x)!;
    expect(b.alerts.every(([, col]) => col <= 155)).toBe(true);
    expect(b.count).toBe(B.filter(([c]) => c <= 155).length);
  });

  it('the first run of an area has nothing to compare: its diff.json says so', async () => {
    const m = await waitForDiff(week1.runId);
    expect(m).toMatchObject({ previous_run_id: null, summary: null });
    expect(m.note).toMatch(/no earlier finished run/);
  });

  it('a week later: diff.json and diff.geojson written after the manifest, checked against the truth', async () => {
    const m = await waitForDiff(week2.runId);
    expect(m.previous_run_id).toBe(week1.runId);
    expect(m.summary).toMatchObject({ new: 1, grown: 1, same: 2, shrunk: 0, gone: 0, new_alerts: C.length + A2.length });
    expect(m.summary!.biggest_new[0]).toMatchObject({ count: C.length, areas: '["west"]' });
    const geo = JSON.parse(new TextDecoder().decode((await getBytes(s3Client(), resultsBucket(), m.geojson_key!))!));
    expect(geo.features).toHaveLength(8);
    // ClusterService.diff gives the same rows.
    const diff = await week2.diff(week1.runId);
    const grown = diff.rows.find((r) => r.status === 'grown')!;
    expect(grown.delta_count).toBe(A2.length);
    expect(grown.delta_area_ha).toBeGreaterThan(0);
    expect(grown.old_row_id).toBe(week1.records().find((r) => r.count === A1.length)!.row_id);
    // The report draws the area outlines and the diff's statuses.
    const html = await week2.report({ diff });
    expect(html).toContain('aoi-outline');
    expect(html).toContain('"status":"new"');
  });

  it('an AOI far from any alert: an empty run and a clear summary', async () => {
    expect(far.manifest!.totals.clusters).toBe(0);
    expect(far.records()).toEqual([]);
    const m = await waitForDiff(far.runId);
    expect(m.summary).toBeNull();
  });

  it('runs of a different width are refused with a reason', async () => {
    const wide = new ClusterService({ aoi: AOI, ...base, width: 12, end_date: '2021-01-08' });
    await wide.run({ pollMs: 200, timeoutMs: 120_000 });
    await expect(wide.diff(week1.runId)).rejects.toThrow(/runs cannot be compared: width 10 vs 12/);
  });
});
