// The column schema (core/clusters/schema.ts) is the one list every output follows: each format
// must carry every schema column, in schema order, with the schema's Parquet type. Adding a column
// to the schema (and its value in buildCluster) then reaches every format with no other edit.
import { parse } from 'csv-parse/sync';
import { parquetMetadata } from 'hyparquet';
import { describe, expect, it } from 'vitest';
import { allocAlerts } from '../core/tiles/decode.ts';
import { buildCluster } from '../core/clusters/records.ts';
import { ALL_COLUMNS, COLUMNS, SUMMARY_COLUMNS, VIEW_COLUMNS, STORED_COLUMNS, columnSpec } from '../core/clusters/schema.ts';
import { exportClusters, type ClusterFeatureCollection } from '../core/results/exports.ts';
import { MEMBER_COLUMNS, writeClusters } from '../core/run/parquet.ts';
import { fixtureRecords } from './results-fixtures.ts';

const records = fixtureRecords(6);
const names = (part: string) => COLUMNS.filter((c) => c.part === part).map((c) => c.name);
const PHYSICAL = { INT32: 'INT32', DOUBLE: 'DOUBLE', STRING: 'BYTE_ARRAY' } as const;

/** Parquet leaf columns as [name, physical type]. */
function parquetColumns(bytes: Uint8Array): [string, string | undefined][] {
  return parquetMetadata(bytes).schema.slice(1).map((s) => [s.name, s.type]);
}
const schemaTyped = (columns: readonly string[]) => columns.map((c) => [c, PHYSICAL[columnSpec(c)!.type]]);

describe('column schema', () => {
  it('lists each column once; the derived lists keep schema order', () => {
    expect(new Set(ALL_COLUMNS).size).toBe(ALL_COLUMNS.length);
    expect(SUMMARY_COLUMNS).toEqual(ALL_COLUMNS.filter((c) => c !== 'alerts'));
    expect(STORED_COLUMNS).toEqual(['run_id', ...names('cluster')]);
    expect(VIEW_COLUMNS[0]).toBe('row_id');
  });

  it('buildCluster computes exactly the schema cluster columns, in order, plus the members', () => {
    const alerts = allocAlerts(2);
    alerts.row.set([3, 4]);
    alerts.col.set([5, 6]);
    alerts.days.set([100, 200]);
    alerts.length = 2;
    const cluster = buildCluster({ z: 12, x: 1, y: 2 }, alerts, { members: new Int32Array([0, 1]), col: 5.5, row: 3.5 });
    expect(Object.keys(cluster)).toEqual([...names('cluster'), 'alerts']);
  });

  it('CSV, JSON and GeoJSON carry every column in schema order, with and without members', async () => {
    for (const full of [false, true]) {
      const columns = full ? ALL_COLUMNS : SUMMARY_COLUMNS;
      const csv = (await exportClusters(records, 'csv', { full })) as string;
      expect(csv.split('\n')[0].split(',')).toEqual(columns);
      expect(parse(csv, { columns: true })).toHaveLength(records.length);
      const json = JSON.parse((await exportClusters(records, 'json', { full })) as string);
      for (const row of json) expect(Object.keys(row)).toEqual(columns);
      const fc = JSON.parse((await exportClusters(records, 'geojson', { full })) as string) as ClusterFeatureCollection;
      for (const f of fc.features) {
        const keys = Object.keys(f.properties).filter((k) => k !== 'feature' && k !== 'hull');
        expect(keys).toEqual(columns);
      }
    }
  });

  it('GeoParquet export and the clusters file take their columns and types from the schema', async () => {
    for (const full of [false, true]) {
      const bytes = (await exportClusters(records, 'parquet', { full })) as Uint8Array;
      expect(parquetColumns(bytes)).toEqual([...schemaTyped(full ? ALL_COLUMNS : SUMMARY_COLUMNS), ['geometry', 'BYTE_ARRAY']]);
    }
    const params = { start_date: '2015-01-01', end_date: '2030-01-01', width: 5, min_count: 2, iterations: 25, algorithm: 'standard' as const, region: { z: 12, x0: 1, y0: 1, x1: 1, y1: 1 }, tiles_url: 'x' };
    const file = writeClusters({ run_id: 'r', tile: { z: 12, x: 1, y: 1 }, params }, records.map(({ run_id: _r, ...c }) => c));
    const head = [...schemaTyped(STORED_COLUMNS), ['geometry', 'BYTE_ARRAY']];
    expect(parquetColumns(file).slice(0, head.length)).toEqual(head);
    // Then the members, as list columns (result format 2: one object per tile).
    expect(parquetColumns(file).slice(head.length).map(([name]) => name).filter((name) => name.startsWith('member_'))).toEqual([...MEMBER_COLUMNS]);
  });

  it('the table text shows the view columns in view order, with the schema decimals', async () => {
    const text = (await exportClusters(records, 'table')) as string;
    const [header, first] = text.split('\n');
    expect(header.trim().split(/\s+/)).toEqual(VIEW_COLUMNS);
    const views = COLUMNS.filter((c) => 'view' in c).sort((a, b) => (a as { view: number }).view - (b as { view: number }).view);
    expect(VIEW_COLUMNS).toEqual(views.map((c) => c.name));
    const cells = first.trim().split(/\s+/);
    for (const [k, name] of VIEW_COLUMNS.entries()) {
      const decimals = columnSpec(name)!.decimals;
      if (decimals !== undefined) expect(cells[k].split('.')[1]).toHaveLength(decimals);
    }
  });
});
