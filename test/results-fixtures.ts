// Hand-built, self-consistent cluster records for the results tests (exports, render, report):
// round blobs of alerts in a few z=12 tiles of the Amazon, dates drawn from a seeded PRNG.
import { daysToIso, isoToDays } from '../core/tiles/dates.ts';
import { hullArea } from '../core/clusters/geometry.ts';
import { mulberry32 } from '../local/synthetic.ts';
import { pixelAreaHa, pixelToLonLat } from '../core/tiles/grid.ts';
import type { AlertTuple, StoredCluster } from '../core/clusters/types.ts';
import type { TileAddress } from '../core/tiles/types.ts';

export const FIXTURE_RUN_ID = 'run-fixture-0001';
/** Three neighbouring tiles around lon -60.2, lat -3.1. */
export const FIXTURE_TILES: TileAddress[] = [
  { z: 12, x: 1362, y: 2083 },
  { z: 12, x: 1363, y: 2083 },
  { z: 12, x: 1362, y: 2084 },
];

/** Calendar days from one ISO date to another, by Date (not core/tiles/dates.ts), for independent checks. */
export function daysBetween(from: string, to: string): number {
  return (Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000;
}

/** One record from a blob of members (centre = their mean, area = hull of the pixel centres). */
export function recordFromMembers(tile: TileAddress, alerts: AlertTuple[], runId = FIXTURE_RUN_ID): StoredCluster {
  const col = alerts.reduce((s, a) => s + a[1], 0) / alerts.length;
  const row = alerts.reduce((s, a) => s + a[0], 0) / alerts.length;
  const { lon, lat } = pixelToLonLat(tile, col, row);
  const dates = alerts.map((a) => a[2]).sort();
  const haPerPixel = pixelAreaHa(lat, tile.z);
  const area = hullArea(alerts.map(([r, c]) => [c, r]));
  return {
    run_id: runId, ...tile, col, row, i: Math.round(col), j: Math.round(row),
    longitude: lon, latitude: lat, count: alerts.length,
    // Fixture members carry no confidence: counted as high.
    count_low: 0, count_high: alerts.length, count_highest: 0,
    area, area_ha: area * haPerPixel, alert_area_ha: alerts.length * haPerPixel,
    min_date: dates[0], max_date: dates[dates.length - 1], duration_days: daysBetween(dates[0], dates[dates.length - 1]), areas: '', alerts,
  };
}

/** A filled disc of alerts around (ci, cj) with dates in [first, first + spanDays). */
export function blob(ci: number, cj: number, radius: number, first: string, spanDays: number, rand: () => number): AlertTuple[] {
  const out: AlertTuple[] = [];
  const d0 = isoToDays(first);
  for (let r = cj - radius; r <= cj + radius; r++) {
    for (let c = ci - radius; c <= ci + radius; c++) {
      if ((r - cj) ** 2 + (c - ci) ** 2 > radius * radius || r < 0 || c < 0 || r > 255 || c > 255) continue;
      out.push([r, c, daysToIso(d0 + Math.floor(rand() * spanDays))]);
    }
  }
  return out;
}

/** `n` records spread over the fixture tiles, deterministic for a seed. */
export function fixtureRecords(n = 9, seed = 7): StoredCluster[] {
  const rand = mulberry32(seed);
  const records: StoredCluster[] = [];
  for (let k = 0; k < n; k++) {
    const tile = FIXTURE_TILES[k % FIXTURE_TILES.length];
    const ci = 20 + Math.floor(rand() * 216);
    const cj = 20 + Math.floor(rand() * 216);
    const radius = 2 + Math.floor(rand() * 8);
    const first = daysToIso(isoToDays('2017-01-01') + Math.floor(rand() * 900));
    records.push(recordFromMembers(tile, blob(ci, cj, radius, first, 60, rand)));
  }
  return records;
}
