// The run of a watched area for the latest data: what the weekly cron (functions/watch-cron.ts)
// enqueues. Pure: the request it builds is resolved at submit (core/store/run-sources.ts prepareRun
// pins the dataset's `latest` to its dated release, so each week is its own run).
import { daysToIso, isoToDays } from '../tiles/dates.ts';
import type { Region } from './params.ts';

/** The cron's event (sst.aws.Cron passes strings only): where the area is and the run parameters. */
export interface WatchEvent {
  area_key: string;
  weeks?: string;
  z?: string;
  width?: string;
  min_count?: string;
  iterations?: string;
  algorithm?: string;
  time_width?: string;
  dataset?: string;
  confidence?: string;
  /** A mirror of the dataset's tiles (absent: the dataset's own address). */
  tiles_url?: string;
  max_tiles?: string;
}

/** End date for "the latest data" on `now`: tomorrow (UTC; end dates are exclusive, so today counts). */
export function latestEndDate(now: Date): string {
  return daysToIso(isoToDays(now.toISOString().slice(0, 10)) + 1);
}

/** The run request of a watch event on `now` (validated when it is prepared). */
export function watchRunRequest(event: WatchEvent, geojson: unknown, now: Date) {
  const num = (v: string | undefined) => (v === undefined || v === '' ? undefined : Number(v));
  const end = latestEndDate(now);
  const weeks = num(event.weeks);
  const region: Region = { kind: 'aoi', geojson };
  return {
    z: num(event.z) ?? 12,
    region,
    start_date: weeks === undefined ? undefined : daysToIso(isoToDays(end) - 7 * weeks),
    end_date: end,
    width: num(event.width),
    min_count: num(event.min_count),
    iterations: num(event.iterations),
    algorithm: event.algorithm || undefined,
    time_width: num(event.time_width),
    dataset: event.dataset || undefined,
    confidence: event.confidence || undefined,
    tiles_url: event.tiles_url || undefined,
  };
}
