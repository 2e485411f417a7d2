// A scaled-down `npm run scale`: a 20×20 region (400 tiles at z12: mostly missing, some sparse, a
// few dense) through the whole local pipeline — real emulators, real handlers, consumers in worker
// threads, the aggregator timed per event. Checks that the run completes with exact counts (the
// expected clusters come from runTile on the same tiles), that the aggregator's cost per event
// does not grow over the run, that RSS stays flat, that the ledger pages the tile items and the
// manifest agrees with every page, and that the streamed read gives every cluster back.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resultsBucket, s3Client } from '../core/store/aws.ts';
import { loadManifest } from '../core/store/result-store.ts';
import { buildManifest } from '../core/run/manifest.ts';
import { runTiles } from '../core/run/params.ts';
import { tileSourceFromTemplate } from '../core/store/tile-sources.ts';
import { runTile } from '../core/clusters/tile-job.ts';
import { measureRead, measureRun, scaleSpec, startScaleStack, writeScaleTiles, type RunFigures, type ScaleStack } from '../local/scale.ts';

const TILES = 400;
const dir = mkdtempSync(join(tmpdir(), 'glad-scale-test-'));
const tilesDir = join(dir, 'tiles');
const spec = scaleSpec(TILES, tilesDir);
const logs: string[] = [];
let stack: ScaleStack;
let figures: RunFigures;

beforeAll(async () => {
  const kinds = writeScaleTiles(tilesDir, runTiles(spec));
  stack = await startScaleStack({ log: (line) => logs.push(line) });
  figures = await measureRun(stack, spec, kinds, 100_000);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe(`a ${TILES}-tile run on the local stack`, () => {
  it('completes with exactly the clusters runTile finds on the same tiles', async () => {
    expect(runTiles(spec)).toHaveLength(TILES);
    expect(figures.kinds.empty).toBeGreaterThan(TILES / 2); // the generator really is mostly empty…
    expect(figures.kinds.dense).toBeGreaterThan(0); // …with some dense tiles
    const source = tileSourceFromTemplate(spec.tiles_url!);
    let clusters = 0;
    let alerts = 0;
    let withClusters = 0;
    for (const tile of runTiles(spec)) {
      const result = await runTile(tile, spec, source);
      clusters += result.clusters.length;
      alerts += result.clusters.reduce((sum, c) => sum + c.count, 0);
      if (result.clusters.length > 0) withClusters++;
    }
    expect(clusters).toBeGreaterThan(0);
    expect(figures.manifest).toMatchObject({
      tiles: TILES,
      tiles_with_clusters: withClusters,
      tiles_empty: TILES - withClusters,
      tiles_failed: 0,
      totals: { clusters, alerts },
    });
    // One event per tile with clusters (its one object); empty tiles are recorded by the consumer (format 2).
    expect(figures.aggregator_events).toBe(withClusters);
    expect(figures.aws.total.requests['s3:PutObject']).toBe(withClusters + 1); // + the manifest
    expect(logs.filter((l) => /aggregator \(attempt/.test(l))).toEqual([]);
  }, 60_000);

  it("the aggregator's time per event does not grow with the run (last quarter ≤ 3× first quarter, medians)", () => {
    const { median_first_quarter: first, median_last_quarter: last } = figures.aggregator_ms;
    expect(first).toBeGreaterThan(0);
    expect(last).toBeLessThanOrEqual(3 * first);
  });

  it('RSS stays flat: less than 150 MB of growth from a quarter of the run to its end', () => {
    expect(figures.rss_mb.at_end - figures.rss_mb.at_quarter).toBeLessThan(150);
  });

  it('the ledger pages the tile items, and the manifest equals the one built from small pages', async () => {
    const seen = new Set<string>();
    const outcomes = [];
    for await (const outcome of stack.ledger.tiles(figures.run_id, 37)) {
      seen.add(`${outcome.z}/${outcome.x}/${outcome.y}`);
      outcomes.push(outcome);
    }
    expect(seen.size).toBe(TILES);
    expect(outcomes).toHaveLength(TILES);
    const manifest = (await loadManifest(figures.run_id, s3Client(), resultsBucket()))!;
    const rebuilt = buildManifest({ runId: figures.run_id, spec, createdAt: manifest.created_at, completedAt: manifest.completed_at, outcomes });
    expect(rebuilt).toEqual(manifest);
    expect(figures.ledger_tile_items).toBe(TILES);
  });

  it('reads every cluster back, streamed tile by tile, the same as loading the run at once', async () => {
    const read = await measureRead(figures.run_id, join(dir, 'clusters.ndjson'));
    expect(read.clusters).toBe(figures.manifest.totals.clusters);
  }, 30_000);
});
