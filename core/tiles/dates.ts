// ISO dates <-> GLAD day numbers (days since 2015-01-01, UTC).
import type { DayRange } from './types.ts';

const MS_PER_DAY = 86_400_000;
/** Day 0 of the GLAD encoding. */
const EPOCH_MS = Date.UTC(2015, 0, 1);
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** True when `s` is a real calendar date written YYYY-MM-DD (no `2016-02-30`). */
export function isIsoDate(s: unknown): s is string {
  if (typeof s !== 'string') return false;
  const m = ISO_DATE.exec(s);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = new Date(Date.UTC(y, mo - 1, d));
  // Date.UTC silently rolls 02-30 into March: a round trip catches it.
  return t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d;
}

/** Days since 2015-01-01 of an ISO date; throws naming the value if it is not a real YYYY-MM-DD date. */
export function isoToDays(iso: string): number {
  if (!isIsoDate(iso)) throw new Error(`date "${iso}" is not a valid YYYY-MM-DD date`);
  const [y, m, d] = iso.split('-').map(Number);
  return Math.round((Date.UTC(y, m - 1, d) - EPOCH_MS) / MS_PER_DAY);
}

/** Day numbers already written out: records write every member's date (a Date each cost ~50 ms on a 30,000-alert tile). */
const isoOfDay = new Map<number, string>();
/** Bounds the memo (alert dates span a few thousand days). */
const MAX_MEMO = 100_000;

/** ISO date of a day number (days since 2015-01-01); throws on a non-integer. */
export function daysToIso(days: number): string {
  let iso = isoOfDay.get(days);
  if (iso === undefined) {
    if (!Number.isInteger(days)) throw new Error(`days=${days} is not an integer`);
    iso = new Date(EPOCH_MS + days * MS_PER_DAY).toISOString().slice(0, 10);
    if (isoOfDay.size < MAX_MEMO) isoOfDay.set(days, iso);
  }
  return iso;
}

/** The day range [start_date, end_date) of a request's ISO dates (end exclusive), for decoding. */
export function dayRange(dates: { start_date: string; end_date: string }): DayRange {
  return { startDays: isoToDays(dates.start_date), endDays: isoToDays(dates.end_date) };
}
