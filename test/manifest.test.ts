import { describe, expect, it } from 'vitest';
import type { TileOutcome } from '../core/run/types.ts';
import { buildManifest, clustersOutcome, errorOutcome, summarizeClusters } from '../core/run/manifest.ts';
import type { ClusterFields } from '../core/clusters/types.ts';
import { runId, validateRunParams } from '../core/run/params.ts';

const spec = validateRunParams({ z: 8, region: { kind: 'tiles', x0: 10, y0: 20, x1: 11, y1: 21 }, tiles_url: 'https://t/{z}/{x}/{y}.png', width: 4 });
const RUN = runId(spec);
const row = (count: number, ha: number, min: string, max: string) =>
  ({ count, alert_area_ha: ha, min_date: min, max_date: max }) as ClusterFields;

describe('summarizeClusters', () => {
  it('adds counts and hectares and spans the dates', () => {
    expect(summarizeClusters([row(3, 0.5, '2020-02-01', '2020-03-01'), row(7, 1.25, '2019-01-01', '2020-02-15')])).toEqual({
      clusters: 2, alerts: 10, hectares: 1.75, first_date: '2019-01-01', last_date: '2020-03-01',
    });
    expect(summarizeClusters([])).toEqual({ clusters: 0, alerts: 0, hectares: 0, first_date: null, last_date: null });
  });
});

describe('buildManifest', () => {
  const outcomes: TileOutcome[] = [
    clustersOutcome({ z: 8, x: 11, y: 21 }, 'k/11/21', summarizeClusters([row(4, 0.1, '2021-01-01', '2021-02-01')])),
    errorOutcome({ z: 8, x: 11, y: 20 }, 'corrupt PNG', 'tile'),
    clustersOutcome({ z: 8, x: 10, y: 21 }, 'k/10/21', summarizeClusters([])),
    clustersOutcome({ z: 8, x: 10, y: 20 }, 'k/10/20', summarizeClusters([row(2, 0.2, '2020-05-05', '2020-06-06'), row(5, 0.3, '2020-01-01', '2020-01-02')])),
  ];
  const manifest = buildManifest({ runId: RUN, spec, createdAt: '2026-01-01T00:00:00.000Z', completedAt: '2026-01-01T00:05:00.000Z', outcomes });

  it('has exactly the keys of the Manifest contract', () => {
    expect(Object.keys(manifest).sort()).toEqual(
      ['format', 'run_id', 'params', 'tiles', 'tiles_with_clusters', 'tiles_empty', 'tiles_failed', 'results', 'errors', 'totals', 'created_at', 'completed_at'].sort(),
    );
  });

  it('counts tiles by outcome and sums the totals', () => {
    expect(manifest).toMatchObject({ run_id: RUN, tiles: 4, tiles_with_clusters: 2, tiles_empty: 1, tiles_failed: 1 });
    expect(manifest.totals).toEqual({ clusters: 3, alerts: 11, hectares: 0.6, first_date: '2020-01-01', last_date: '2021-02-01' });
    expect(manifest.errors).toEqual([{ z: 8, x: 11, y: 20, message: 'corrupt PNG', stage: 'tile' }]);
  });

  it('lists the result keys of tiles with clusters, sorted by tile', () => {
    expect(manifest.results).toEqual(['k/10/20', 'k/11/21']);
  });

  it('reports the run params: request fields less z/x/y, plus region and tile source', () => {
    expect(manifest.params).toEqual({
      start_date: '2015-01-01', end_date: '2030-01-01', width: 4, min_count: 25, iterations: 25, algorithm: 'standard',
      region: { z: 8, x0: 10, y0: 20, x1: 11, y1: 21 }, tiles_url: 'https://t/{z}/{x}/{y}.png', dataset: 'glad-l',
    });
  });

  it('does not depend on the order the ledger returns tiles in', () => {
    const again = buildManifest({ runId: RUN, spec, createdAt: '2026-01-01T00:00:00.000Z', completedAt: '2026-01-01T00:05:00.000Z', outcomes: [...outcomes].reverse() });
    expect(again).toEqual(manifest);
  });
});
