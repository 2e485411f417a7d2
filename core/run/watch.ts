// The run of a watched area for the latest data: what the weekly cron (functions/watch-cron.ts)
// and `npm run watch` enqueue. Pure.
import { daysToIso, isoToDays } from '../tiles/dates.ts';
import { validateRunParams, type RunSpec } from './params.ts';

/** The cron's event (sst.aws.Cron passes strings only): where the area is and the run parameters. */
export interface WatchEvent {
  area_key: string;
  weeks?: string;
  z?: string;
  width?: string;
  min_count?: string;
  iterations?: string;
  algorithm?: string;
  tiles_url: string;
  max_tiles?: string;
}

/** End date for "the latest data" on `now`: tomorrow (UTC; end dates are exclusive, so today counts). */
export function latestEndDate(now: Date): string {
  return daysToIso(isoToDays(now.toISOString().slice(0, 10)) + 1);
}

/** The RunSpec of a watch event on `now`; one-line error for a bad area or parameter. */
export function watchRunSpec(event: WatchEvent, geojson: unknown, now: Date): RunSpec {
  const num = (v: string | undefined) => (v === undefined || v === '' ? undefined : Number(v));
  const end = latestEndDate(now);
  const weeks = num(event.weeks);
  return validateRunParams({
    z: num(event.z) ?? 12,
    region: { kind: 'aoi', geojson },
    start_date: weeks === undefined ? undefined : daysToIso(isoToDays(end) - 7 * weeks),
    end_date: end,
    width: num(event.width),
    min_count: num(event.min_count),
    iterations: num(event.iterations),
    algorithm: event.algorithm || undefined,
    tiles_url: event.tiles_url,
  });
}
