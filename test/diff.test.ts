// The diff rule (core/results/diff.ts) on generated pairs of runs whose truth is known: a clearing
// that grows, a new clearing, one that splits, two that merge, one that is gone, one whose alerts
// all left the date window (centre match), and the refusal of runs that cannot be compared.
import { describe, expect, it } from 'vitest';
import { parse } from 'csv-parse/sync';
import { diffRuns, exportDiff, summaryText, type DiffInput } from '../core/results/diff.ts';
import { withRowIds } from '../core/results/table.ts';
import type { RunSpec } from '../core/run/params.ts';
import type { AlertTuple } from '../core/clusters/types.ts';
import { daysBetween, recordFromMembers } from './results-fixtures.ts';

const TILE = { z: 12, x: 1362, y: 2083 };
const SPEC: RunSpec = {
  start_date: '2020-01-01', end_date: '2021-01-01', width: 5, min_count: 5, iterations: 25, algorithm: 'standard',
  region: { z: 12, x0: 1362, y0: 2083, x1: 1362, y1: 2083 }, tiles_url: 'file:///t/{z}/{x}/{y}.png',
};

/** A w×h block of alerts with its top-left at (col, row), all on one date. */
function block(col: number, row: number, w: number, h: number, date = '2020-06-01'): AlertTuple[] {
  const out: AlertTuple[] = [];
  for (let r = row; r < row + h; r++) for (let c = col; c < col + w; c++) out.push([r, c, date]);
  return out;
}

function run(runId: string, spec: RunSpec, clusters: AlertTuple[][]): DiffInput {
  return { runId, spec, rows: withRowIds(clusters.map((a) => recordFromMembers(TILE, a, runId))) };
}

const OLD = 'r-0000000000000001';
const NEW = 'r-0000000000000002';
const later = { ...SPEC, end_date: '2021-01-08' };

describe('diff of two runs', () => {
  // Old: A (grows), B (splits), C+D (merge), E (gone). New: A', B1, B2, CD, F (new).
  const A = block(10, 10, 10, 10);
  const Agrown = [...A, ...block(20, 10, 5, 10, '2021-01-03')];
  const B = block(100, 10, 10, 10);
  const B1 = block(100, 10, 10, 6);
  const B2 = block(100, 16, 10, 4);
  const C = block(10, 100, 8, 8);
  const D = block(18, 100, 8, 8);
  const CD = [...C, ...D, ...block(10, 108, 16, 2, '2021-01-02')];
  const E = block(200, 200, 6, 6);
  const F = block(150, 150, 7, 7, '2021-01-05');
  const diff = diffRuns(run(OLD, SPEC, [A, B, C, D, E]), run(NEW, later, [Agrown, B1, B2, CD, F]));
  const byCount = (n: number) => diff.rows.find((r) => r.run_id === NEW && r.count === n)!;
  const old = run(OLD, SPEC, [A, B, C, D, E]).rows;
  const oldId = (alerts: AlertTuple[]) => old.find((r) => r.count === alerts.length && r.alerts[0][0] === alerts[0][0] && r.alerts[0][1] === alerts[0][1])!.row_id;

  it('a clearing that grows: grown, +alerts, +hectares, matched to its old row', () => {
    const r = byCount(Agrown.length);
    expect(r).toMatchObject({ status: 'grown', delta_count: 50, old_row_id: oldId(A) });
    expect(r.delta_area_ha).toBeGreaterThan(0);
  });
  it('a new clearing: new, its whole count and area', () => {
    const r = byCount(F.length);
    expect(r).toMatchObject({ status: 'new', delta_count: 49, old_row_id: null });
    expect(r.delta_area_ha).toBeCloseTo(r.area_ha);
  });
  it('a split: both parts follow the old cluster, each with its share: same', () => {
    for (const part of [B1, B2]) expect(byCount(part.length)).toMatchObject({ status: 'same', delta_count: 0, old_row_id: oldId(B) });
  });
  it('a merge: the baseline is both old clusters, the growth is the rest', () => {
    const r = byCount(CD.length);
    expect(r).toMatchObject({ status: 'grown', delta_count: 32 });
    expect([oldId(C), oldId(D)]).toContain(r.old_row_id);
  });
  it('an old clearing with no successor is gone, as the old row', () => {
    const gone = diff.rows.filter((r) => r.status === 'gone');
    expect(gone).toHaveLength(1);
    expect(gone[0]).toMatchObject({ run_id: OLD, count: 36, delta_count: -36, old_row_id: oldId(E) });
  });
  it('summary: counts, new alerts and hectares, biggest new', () => {
    expect(diff.summary).toMatchObject({ new: 1, grown: 2, same: 2, shrunk: 0, gone: 1, clusters: 5, new_alerts: 49 + 50 + 32 });
    expect(diff.summary.biggest_new.map((b) => b.count)).toEqual([49]);
    expect(summaryText(diff.summary)).toContain('new 1, grown 2, shrunk 0, same 2, gone 1');
  });
  it('formats: json array and csv rows with the diff columns', () => {
    const json = JSON.parse(exportDiff(diff, 'json') as string);
    expect(json).toHaveLength(6);
    expect(Object.keys(json[0])).toEqual(expect.arrayContaining(['row_id', 'x', 'y', 'col', 'row', 'count', 'min_date', 'status', 'delta_count', 'delta_area_ha', 'old_row_id']));
    const csv = parse(exportDiff(diff, 'csv') as string, { columns: true }) as Record<string, string>[];
    expect(csv.map((r) => r.status).sort()).toEqual(['gone', 'grown', 'grown', 'new', 'same', 'same']);
    const geo = JSON.parse(exportDiff(diff, 'geojson') as string);
    expect(geo.features).toHaveLength(12);
    expect(new Set(geo.features.map((f: { id: string }) => f.id)).size).toBe(12);
    expect(exportDiff(diff, 'table')).toContain('6 rows');
    expect((exportDiff(diff, 'parquet') as Uint8Array).byteLength).toBeGreaterThan(100);
  });
  it("every row shows its event's duration: the span of its members' dates, in csv and the table", () => {
    const csv = parse(exportDiff(diff, 'csv') as string, { columns: true }) as Record<string, string>[];
    csv.forEach((r, k) => {
      const dates = diff.rows[k].alerts.map((a) => a[2]).sort();
      expect(Number(r.duration_days)).toBe(daysBetween(dates[0], dates.at(-1)!));
    });
    // The grown clearing now runs from its old alerts to its new ones; the gone one was one date.
    expect(byCount(Agrown.length).duration_days).toBe(daysBetween('2020-06-01', '2021-01-03'));
    expect(diff.rows.find((r) => r.status === 'gone')!.duration_days).toBe(0);
    const [header, ...lines] = (exportDiff(diff, 'table') as string).split('\n');
    const col = header.trim().split(/\s+/).indexOf('duration_days');
    expect(col).toBeGreaterThan(0);
    const grownLine = lines.find((l) => l.trim().split(/\s+/)[3] === String(Agrown.length))!;
    expect(grownLine.trim().split(/\s+/)[col]).toBe(String(daysBetween('2020-06-01', '2021-01-03')));
  });
});

describe('matching when alerts leave the date window', () => {
  it('a cluster shrinking only by the window is not "shrunk": its comparable alerts are the baseline', () => {
    const oldA = [...block(10, 10, 10, 5, '2019-06-01'), ...block(10, 15, 10, 5, '2020-06-01')];
    const newA = [...block(10, 15, 10, 5, '2020-06-01'), ...block(10, 20, 10, 2, '2021-01-03')];
    const d = diffRuns(run(OLD, { ...SPEC, start_date: '2019-01-01' }, [oldA]), run(NEW, { ...later, start_date: '2020-01-01' }, [newA]));
    expect(d.rows).toHaveLength(1);
    expect(d.rows[0]).toMatchObject({ status: 'grown', delta_count: 20 });
  });
  it('all old alerts dropped by the window: matched by centre distance (≤ 2 × width px)', () => {
    const oldA = block(10, 10, 6, 6, '2019-06-01');
    const near = block(12, 12, 6, 6, '2020-06-01');
    const far = block(100, 100, 6, 6, '2020-06-01');
    const d = diffRuns(run(OLD, { ...SPEC, start_date: '2019-01-01' }, [oldA]), run(NEW, { ...later, start_date: '2020-01-01' }, [near, far]));
    const nearRow = d.rows.find((r) => r.alerts[0][1] === 12)!;
    const farRow = d.rows.find((r) => r.alerts[0][1] === 100)!;
    expect(nearRow).toMatchObject({ status: 'grown', old_row_id: 0 });
    expect(farRow.status).toBe('new');
    expect(d.rows.some((r) => r.status === 'gone')).toBe(false);
  });
});

describe('runs that cannot be compared', () => {
  it('different algorithm or width: one-line reason', () => {
    expect(() => diffRuns(run(OLD, SPEC, []), run(NEW, { ...later, width: 7 }, []))).toThrow(/^runs cannot be compared: width 5 vs 7/);
    expect(() => diffRuns(run(OLD, SPEC, []), run(NEW, { ...later, algorithm: 'flat' }, []))).toThrow(/algorithm standard vs flat/);
  });
  it('different end date, dataset or area: allowed; empty runs give an empty diff', () => {
    const d = diffRuns(run(OLD, SPEC, []), run(NEW, { ...later, tiles_url: 'file:///v2/{z}/{x}/{y}.png' }, []));
    expect(d.rows).toEqual([]);
    expect(summaryText(d.summary)).toContain('no clusters in this run');
  });
});
