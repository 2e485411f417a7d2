// ClusterService and ClusterViewer end to end on the local stack: real emulators (s3rver, fauxqs,
// dynalite), the Lambda stand-in loop running the real handlers, AWS clients from core/store/aws.ts
// pointed at them through the environment. run → fetch → view → cluster / errors → pictures.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MARKER } from '../core/results/render/colors.ts';
import type { ClusterRow } from '../core/clusters/types.ts';
import { ClusterService, ClusterViewer, regionOfInput, specOfInput } from '../core/results/service.ts';
import { DATASETS } from '../core/tiles/datasets.ts';
import { writeSyntheticMosaic } from '../local/synthetic.ts';
import { tileBounds } from '../core/tiles/grid.ts';
import { startEmulators, type Emulators } from '../local/emulators.ts';
import { startLoop, type Loop } from '../local/loop.ts';
import { applyStackEnv, createStack } from '../local/stack.ts';
import { ledgerFromEnv, resultsBucket, s3Client } from '../core/store/aws.ts';
import { listRuns } from '../core/store/run-list.ts';

const dir = mkdtempSync(join(tmpdir(), 'service-test-'));
const bounds = { z: 12, x0: 1362, y0: 2083, x1: 1363, y1: 2084 };
const corrupt = { z: 12, x: 1363, y: 2084 };
const params = {
  tileBounds: [bounds.x0, bounds.y0, bounds.x1, bounds.y1] as [number, number, number, number],
  z: 12,
  start_date: '2015-01-01',
  end_date: '2021-01-01',
  width: 3,
  min_count: 15,
  algorithm: 'flat',
  tiles_url: `file://${dir}/tiles/{z}/{x}/{y}.png`,
};

let emulators: Emulators;
let loop: Loop;
const service = new ClusterService(params);
const progress: { finished: number; tiles: number }[] = [];

beforeAll(async () => {
  await writeSyntheticMosaic(join(dir, 'tiles'), { ...bounds, seed: 11, density: 2500, corrupt: [corrupt], dataset: DATASETS['glad-l'] });
  emulators = await startEmulators({ dir: join(dir, 'state') });
  const stack = await createStack(emulators, { visibilityTimeout: 5 });
  applyStackEnv(stack);
  loop = await startLoop(emulators, stack, { workers: 1, log: () => {} });
  await service.run({ pollMs: 200, timeoutMs: 120_000, onProgress: (p) => progress.push({ finished: p.finished, tiles: p.tiles }) });
}, 180_000);

afterAll(async () => {
  await loop?.stop();
  await emulators?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('ClusterService on the local stack', () => {
  it('knows its size before running, and reported progress up to every tile', () => {
    expect(service.requestSize()).toBe(4);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress[progress.length - 1]).toEqual({ finished: 4, tiles: 4 });
  });

  it('fetches the clusters the manifest counts, sorted views keep row ids', () => {
    const rows = service.records();
    expect(rows.length).toBe(service.manifest!.totals.clusters);
    expect(rows.length).toBeGreaterThan(3);
    const view = service.view({ sort: 'area', desc: true, limit: 5 });
    expect(view).toHaveLength(5);
    for (let k = 1; k < view.length; k++) expect(Number(view[k - 1].area)).toBeGreaterThanOrEqual(Number(view[k].area));
    expect(Object.keys(view[0])).toContain('area_ha');
    expect(view[0].alerts).toBeUndefined();
    // The biggest cluster by area is the same one through cluster(row_id).
    const id = Number(view[0].row_id);
    expect(service.cluster(id)).toEqual(view[0]);
    const full = service.cluster(id, { asView: false }) as ClusterRow;
    expect(full.alerts).toHaveLength(full.count);
    expect(full.run_id).toBe(service.runId);
    // dataframe: every column, members included.
    const df = service.dataframe();
    expect(df.numRows()).toBe(rows.length);
    expect(df.columnNames()).toContain('alerts');
  });

  it('lists the corrupt tile in errors() with its centre and stage', () => {
    const errors = service.errors();
    expect(errors).toHaveLength(1);
    const [e] = errors;
    expect(e.tile).toBe('12/1363/2084');
    // The stage is the pipeline's word for where it failed (reading/decoding the tile).
    expect(e.stage).toBe(service.manifest!.errors[0].stage);
    expect(e.stage.length).toBeGreaterThan(0);
    expect(e.error).toMatch(/PNG/);
    const b = tileBounds(corrupt);
    expect(e.longitude).toBeGreaterThan(b.west);
    expect(e.longitude).toBeLessThan(b.east);
    expect(e.latitude).toBeGreaterThan(b.south);
    expect(e.latitude).toBeLessThan(b.north);
  });

  it('fetch() by the same parameters or by run id finds the same finished run', async () => {
    const again = await new ClusterService(params).fetch();
    expect(again.runId).toBe(service.runId);
    expect(again.view()).toEqual(service.view());
    const byId = await new ClusterService({ runId: service.runId }).fetch();
    expect(byId.spec).toEqual(service.spec);
    expect(byId.requestSize()).toBe(4);
  });

  it('gives one-line errors for an unknown run, unrun parameters, bad columns and rows', async () => {
    await expect(new ClusterService({ runId: 'r-0123456789abcdef' }).fetch()).rejects.toThrow('unknown run id r-0123456789abcdef');
    await expect(new ClusterService({ ...params, width: 4 }).fetch()).rejects.toThrow(/^no finished run for these parameters \(run id r-[0-9a-f]{16}\): run\(\) it first$/);
    expect(() => new ClusterService({ runId: 'nope' })).toThrow('"nope" is not a run id');
    expect(() => service.view({ sort: 'aera' })).toThrow(/^unknown column "aera"; columns: /);
    expect(() => service.cluster(10_000)).toThrow(/no cluster with row id 10000/);
    expect(() => new ClusterService({ runId: 'r-0123456789abcdef' }).view()).toThrow(/not loaded: call run\(\) or fetch\(\) first/);
  });

  it('a run whose queued tiles were lost (a restarted dev stack) says how to resume it', async () => {
    // Recorded in the ledger, its messages never sent: what a restart of `npm run dev` leaves.
    const lost = new ClusterService({ ...params, width: 6 });
    await ledgerFromEnv().createRun(lost.runId, lost.spec!);
    await expect(lost.fetch()).rejects.toThrow(/^run r-[0-9a-f]{16} is not finished: 0 of 4 tiles done; if it does not move, submit the same parameters again \(it resumes\)$/);
    const listing = await listRuns({ ledger: ledgerFromEnv(), s3: s3Client(), bucket: resultsBucket() });
    expect(listing.find((r) => r.run_id === lost.runId)?.state).toBe('running 0/4 (if it does not move: submit it again, it resumes)');
  });

  it('draws pictures with the viewer: tile, cluster, clusters by rows and by range', async () => {
    const viewer = new ClusterViewer(service, { dir: join(dir, 'pictures') });
    const big = Number(service.view({ sort: 'count', desc: true, limit: 1 })[0].row_id);
    const pictures = [
      await viewer.tile(big),
      viewer.cluster(big),
      viewer.clusters({ rows: [big, 0, 1] }),
      viewer.clusters({ start: 0, end: 3 }),
    ];
    const pixel = (png: PNG, m: { x: number; y: number }) => {
      const o = 4 * (Math.floor(m.y) * png.width + Math.floor(m.x));
      return [png.data[o], png.data[o + 1], png.data[o + 2]];
    };
    for (const p of pictures) {
      expect(p.path && existsSync(p.path)).toBe(true);
      const png = PNG.sync.read(readFileSync(p.path!));
      expect(png.width).toBe(p.width);
      // Markers closer than their ring overlap on the tile picture: check those standing alone.
      const alone = p.markers.filter((m) => p.markers.every((o) => o === m || Math.hypot(o.x - m.x, o.y - m.y) > 12));
      expect(alone.length).toBeGreaterThan(0);
      for (const m of alone) expect(pixel(png, m)).toEqual(MARKER);
    }
    // The cluster the tile picture is about is drawn on top: its centre is always marker red.
    const tilePng = PNG.sync.read(readFileSync(pictures[0].path!));
    const own = service.records().filter((r) => r.x === service.record(big).x && r.y === service.record(big).y);
    expect(pixel(tilePng, pictures[0].markers[own.findIndex((r) => r.row_id === big)])).toEqual(MARKER);
    // The tile picture marks every cluster of that tile; the range picture holds rows 0, 1, 2.
    const record = service.record(big);
    const sameTile = service.records().filter((r) => r.x === record.x && r.y === record.y);
    expect(pictures[0].markers).toHaveLength(sameTile.length);
    expect(pictures[3].markers).toHaveLength(3);
    expect(() => viewer.clusters({ start: 3, end: 3 })).toThrow(/start < end/);
  });

  it('writes the HTML report with the readable tiles drawn and the failed one noted', async () => {
    const html = await service.report();
    expect((html.match(/"url":"data:image\/png;base64,/g) ?? []).length).toBe(3);
    expect(html).toContain('1 of 4 input tiles could not be read');
    expect(html).toContain(service.runId);
  });
});

describe('region forms', () => {
  it('turn the four forms of the old constructor into one validated spec', () => {
    const base = { z: 12, tiles_url: 'file:///t/{z}/{x}/{y}.png' };
    const b = tileBounds({ z: 12, x: 1362, y: 2083 });
    const mid = [(b.west + b.east) / 2, (b.south + b.north) / 2] as [number, number];
    const one = { z: 12, x0: 1362, y0: 2083, x1: 1362, y1: 2083 };
    expect(specOfInput({ ...base, xy: [1362, 2083] }).region).toEqual(one);
    expect(specOfInput({ ...base, lonlat: mid }).region).toEqual(one);
    expect(specOfInput({ ...base, bounds: [mid[0], mid[1], mid[0] + 1e-6, mid[1] + 1e-6] }).region).toEqual(one);
    expect(specOfInput({ ...base, tileBounds: [1362, 2083, 1363, 2084] }).region).toEqual({ ...one, x1: 1363, y1: 2084 });
    expect(() => regionOfInput({} as never)).toThrow(/give exactly one region/);
    expect(() => specOfInput({ ...base, xy: [1362, 2083], start_date: '2020-13-01' })).toThrow(/start_date/);
  });

  it('carry time_width into the spec (an events run is another run than the spatial one)', () => {
    const base = { z: 12, tiles_url: 'file:///t/{z}/{x}/{y}.png', xy: [1362, 2083] as [number, number] };
    expect(specOfInput({ ...base, time_width: 90 }).time_width).toBe(90);
    expect(specOfInput(base).time_width).toBeUndefined();
    expect(() => specOfInput({ ...base, time_width: 0 })).toThrow(/time_width/);
  });
});
