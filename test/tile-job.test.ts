import { describe, expect, it } from 'vitest';
import { allocAlerts, encodeGladTile, gladDecoder } from '../core/tiles/decode.ts';
import { dayRange, isoToDays } from '../core/tiles/dates.ts';
import { parseTileRequest } from '../core/run/request.ts';
import { validateRunParams } from '../core/run/params.ts';
import { runTile, tileReader, type RunTileOptions } from '../core/clusters/tile-job.ts';
import type { AlertDecoder, Alerts, PixelWindow, TileAddress, TileSource } from '../core/tiles/types.ts';
import { componentEngine } from './fake-engine.ts';
import * as realEngine from '../core/meanshift/engine.ts';
import { budgetedEngine, tileBudget } from '../core/clusters/budget.ts';
import type { ClusterParams } from '../core/meanshift/types.ts';

const { initialHaloMargin } = realEngine;
const standardParams: ClusterParams = { width: 5, min_count: 25, iterations: 25, algorithm: 'standard' };
import { syntheticTileSource } from '../local/synthetic.ts';

const Z = 12;

/** An in-memory world: global pixel (gx, gy) -> date; tiles encoded on demand as GLAD PNGs. */
class World implements TileSource {
  pixels = new Map<string, number>();
  corrupt = new Set<string>();
  reads: string[] = [];
  set(gx: number, gy: number, date: string) {
    this.pixels.set(`${gx},${gy}`, isoToDays(date));
  }
  async read(t: TileAddress): Promise<Uint8Array | null> {
    const key = `${t.z}/${t.x}/${t.y}`;
    this.reads.push(key);
    if (this.corrupt.has(key)) return new TextEncoder().encode('<html>Access denied</html>');
    const a = allocAlerts(256 * 256);
    for (const [p, days] of this.pixels) {
      const [gx, gy] = p.split(',').map(Number);
      if (Math.floor(gx / 256) !== t.x || Math.floor(gy / 256) !== t.y) continue;
      a.col[a.length] = gx - t.x * 256;
      a.row[a.length] = gy - t.y * 256;
      a.days[a.length] = days;
      a.confidence[a.length] = 2;
      a.length++;
    }
    return a.length ? encodeGladTile(a) : null;
  }
}

/** runTile on tile (x, y) at Z with the dates and parameters of an `npm run tile` request with these fields. */
const job = (x: number, y: number, extra: object, source: TileSource, options?: RunTileOptions) => {
  const { z: _z, x: _x, y: _y, ...spec } = parseTileRequest({ z: Z, x, y, start_date: '2016-01-01', end_date: '2017-01-01', min_count: 5, dataset: 'glad-2018', ...extra });
  return runTile({ z: Z, x, y }, spec, source, options);
};

describe('runTile', () => {
  it('a clearing crossing the tile edge is owned once, with its halo members', async () => {
    const w = new World();
    // 20x10 block over cols 240..259 of tile x=100 (16 px in tile 100, 4 in tile 101): mean col 249.5 → owned by tile 100.
    for (let gx = 100 * 256 + 240; gx < 100 * 256 + 260; gx++) for (let gy = 50 * 256 + 10; gy < 50 * 256 + 20; gy++) w.set(gx, gy, '2016-05-01');
    const engine = componentEngine();
    const left = await job(100, 50, {}, w, { engine });
    const right = await job(101, 50, {}, w, { engine });
    expect(left.nb_clusters).toBe(1);
    expect(right.nb_clusters).toBe(0);
    const c = left.clusters[0];
    expect(c.count).toBe(200);
    expect(c.i).toBe(250); // round(249.5)
    expect(c.alerts.some(([, col]) => col >= 256)).toBe(true);
    expect(c.area).toBe(19 * 9);
    expect(left).toMatchObject({ z: Z, x: 100, y: 50, width: 5, min_count: 5, algorithm: 'standard' });
  });

  it('doubles the halo until a long road is whole, reading the second ring once per tile', async () => {
    const w = new World();
    // A road along row 100 of tile y=50 from col 200 of tile 99 to col 200 of tile 102 (769 px):
    // in tile 101 coordinates cols -312..456, so a 256 px halo cuts it and 512 px does not.
    for (let gx = 99 * 256 + 200; gx <= 102 * 256 + 200; gx++) w.set(gx, 50 * 256 + 100, '2016-03-03');
    const passes: number[] = [];
    const res = await job(101, 50, {}, w, { engine: componentEngine(8, 1024), onPass: (p) => passes.push(p.margin) });
    expect(passes).toEqual([8, 16, 32, 64, 128, 256, 512]);
    expect(res.nb_clusters).toBe(1);
    expect(res.clusters[0].count).toBe(769);
    // Each tile read at most once despite 7 passes; the second ring (x=99 or x=103) was reached.
    expect(new Set(w.reads).size).toBe(w.reads.length);
    expect(w.reads).toContain('12/103/50');
    expect(w.reads).not.toContain('12/104/50');
  });

  it('stops at MAX_HALO_MARGIN with a warning', async () => {
    const w = new World();
    for (let gx = 100 * 256; gx <= 103 * 256; gx++) w.set(gx, 50 * 256 + 7, '2016-03-03');
    const warnings: string[] = [];
    const res = await job(101, 50, {}, w, { engine: componentEngine(8, 64), onWarning: (m) => warnings.push(m) });
    expect(res.clusters[0].count).toBe(256 + 2 * 64);
    expect(warnings.join()).toContain('maximum halo of 64 px');
  });

  it('standard reads first the neighbours its alerts\' windows reach, and is complete in one pass when they suffice', async () => {
    const w = new World();
    // A clearing in the middle of tile 100 (nothing within reach of an edge) and one 3 px from tile 200's west edge.
    for (let c = 0; c < 10; c++) for (let r = 0; r < 10; r++) w.set(100 * 256 + 120 + c, 50 * 256 + 120 + r, '2016-05-01');
    for (let c = 0; c < 10; c++) for (let r = 0; r < 10; r++) w.set(200 * 256 + 3 + c, 50 * 256 + 120 + r, '2016-05-01');
    const passes: Array<{ neighbours: number; complete: boolean }> = [];
    const middle = await job(100, 50, {}, w, { onPass: (p) => passes.push(p) });
    expect(middle.nb_clusters).toBe(1);
    expect(w.reads).toEqual(['12/100/50']);
    expect(passes).toMatchObject([{ neighbours: 0, complete: true }]);
    w.reads.length = 0;
    passes.length = 0;
    const west = await job(200, 50, {}, w, { onPass: (p) => passes.push(p) });
    expect(west.nb_clusters).toBe(1);
    expect(w.reads.sort()).toEqual(['12/199/50', '12/200/50']);
    // A sparse tile (100 alerts) starts from the engine's first halo for its alert count.
    expect(passes).toMatchObject([{ neighbours: 1, complete: true, margin: initialHaloMargin(standardParams, 100) }]);
    expect(initialHaloMargin(standardParams, 100)).toBeLessThan(initialHaloMargin(standardParams));

    // The consumer's engine (a work budget around the real one) reads and passes the same way.
    const budgeted: Array<{ neighbours: number; margin: number }> = [];
    w.reads.length = 0;
    const viaBudget = await job(200, 50, {}, w, { engine: budgetedEngine(realEngine, tileBudget()), onPass: (p) => budgeted.push(p) });
    expect(viaBudget).toEqual(west);
    expect(w.reads.sort()).toEqual(['12/199/50', '12/200/50']);
    expect(budgeted).toEqual(passes);
  });

  it('decodes only the window the halo takes of each neighbour, with the same result as whole tiles', async () => {
    const w = new World();
    // A clearing across the south edge of tile (100, 50) near its west corner, and alerts all over
    // the tiles below and west of it.
    for (let c = 0; c < 12; c++) for (let r = -8; r < 4; r++) w.set(100 * 256 + 2 + c, 51 * 256 + r, '2016-05-01');
    for (const [tx, ty] of [[100, 51], [99, 51], [99, 50]]) {
      for (let k = 0; k < 300; k++) w.set(tx * 256 + ((k * 37) % 256), ty * 256 + ((k * 91) % 256), '2016-05-01');
    }
    const asked: string[] = [];
    const recording: AlertDecoder = {
      decode: (image, range, tile, window) => {
        asked.push(`${tile.x}/${tile.y}:${window ? `${window.col0}-${window.col1},${window.row0}-${window.row1}` : 'all'}`);
        return gladDecoder.decode(image, range, tile, window);
      },
    };
    const whole: AlertDecoder = { decode: (image, range, tile) => gladDecoder.decode(image, range, tile) };
    const margins: number[] = [];
    const partial = await job(100, 50, {}, w, { decoder: recording, onPass: (p) => margins.push(p.margin) });
    expect(partial.nb_clusters).toBe(1);
    expect(partial.clusters[0].count).toBeGreaterThanOrEqual(144);
    const m = margins[0];
    expect(m).toBeLessThan(256);
    expect(margins.every((x) => x === m)).toBe(true);
    // The tile whole; below: its top m rows; west: its east m columns; south-west: the corner.
    expect(asked[0]).toBe('100/50:all');
    expect(asked.slice(1).sort()).toEqual([`100/51:0-255,0-${m - 1}`, `99/50:${256 - m}-255,0-255`, `99/51:${256 - m}-255,0-${m - 1}`]);
    expect(await job(100, 50, {}, w, { decoder: whole })).toEqual(partial);
  });

  it('a reader decodes a tile again, in the union of both windows, when a second window needs more', async () => {
    const w = new World();
    for (let k = 0; k < 400; k++) w.set(100 * 256 + ((k * 37) % 256), 50 * 256 + ((k * 91) % 256), '2016-05-01');
    const asked: PixelWindow[] = [];
    const recording: AlertDecoder = { decode: (image, range, tile, window) => (asked.push(window ?? { col0: 0, col1: 255, row0: 0, row1: 255 }), gladDecoder.decode(image, range, tile, window)) };
    const { z: _z, x: _x, y: _y, ...tileSpec } = parseTileRequest({ z: Z, x: 100, y: 50, start_date: '2016-01-01', end_date: '2017-01-01', min_count: 5, dataset: 'glad-2018' });
    const reader = tileReader(tileSpec, w, recording);
    const tile = { z: 12, x: 100, y: 50 };
    const inside = (a: Alerts | null, win: PixelWindow) => {
      const out: string[] = [];
      for (let k = 0; k < (a?.length ?? 0); k++) if (a!.col[k] >= win.col0 && a!.col[k] <= win.col1 && a!.row[k] >= win.row0 && a!.row[k] <= win.row1) out.push(`${a!.col[k]},${a!.row[k]}`);
      return out;
    };
    const all = gladDecoder.decode((await w.read(tile))!, dayRange(tileSpec), tile);
    const east = { col0: 200, col1: 255, row0: 0, row1: 255 }, west = { col0: 0, col1: 55, row0: 0, row1: 255 }, corner = { col0: 210, col1: 240, row0: 10, row1: 20 };
    expect(inside(await reader.get(tile, true, () => {}, east), east)).toEqual(inside(all, east));
    expect(inside(await reader.get(tile, true, () => {}, corner), corner)).toEqual(inside(all, corner)); // held by east: no decode
    expect(inside(await reader.get(tile, true, () => {}, west), west)).toEqual(inside(all, west));
    expect(asked).toEqual([east, { col0: 0, col1: 255, row0: 0, row1: 255 }]);
    expect(inside(all, east).length).toBeGreaterThan(0);
    expect(inside(all, west).length).toBeGreaterThan(0);
  });

  it('blurring (margin 0) reads no neighbours', async () => {
    const w = new World();
    for (let gx = 100 * 256; gx < 100 * 256 + 10; gx++) w.set(gx, 50 * 256, '2016-03-03');
    const res = await job(100, 50, { algorithm: 'blurring' }, w, { engine: componentEngine() });
    expect(res.nb_clusters).toBe(1);
    expect(res.clusters[0].count).toBe(10);
    expect(w.reads).toEqual(['12/100/50']);
  });

  it('keeps only alerts inside [start_date, end_date) and applies min_count', async () => {
    const w = new World();
    for (let k = 0; k < 10; k++) w.set(100 * 256 + 50 + k, 50 * 256 + 50, k < 4 ? '2015-12-31' : '2016-06-01');
    for (let k = 0; k < 10; k++) w.set(100 * 256 + 50 + k, 50 * 256 + 150, '2017-01-01');
    const res = await job(100, 50, {}, w, { engine: componentEngine() });
    expect(res.clusters.map((c) => c.count)).toEqual([6]);
    expect(res.clusters[0].min_date).toBe('2016-06-01');
    const none = await job(100, 50, { min_count: 7 }, w, { engine: componentEngine() });
    expect(none.nb_clusters).toBe(0);
  });

  it('an empty tile has no clusters and reads no neighbours', async () => {
    const w = new World();
    w.set(101 * 256 + 3, 50 * 256 + 3, '2016-03-03');
    const res = await job(100, 50, {}, w, { engine: componentEngine() });
    expect(res).toMatchObject({ nb_clusters: 0, clusters: [] });
    expect(w.reads).toEqual(['12/100/50']);
  });

  it('a corrupt neighbour is read as missing with a warning; a corrupt tile throws naming it', async () => {
    const w = new World();
    for (let k = 0; k < 10; k++) w.set(100 * 256 + 250 + k, 50 * 256 + 60, '2016-03-03');
    w.corrupt.add('12/101/50');
    const warnings: string[] = [];
    const res = await job(100, 50, {}, w, { engine: componentEngine(), onWarning: (m) => warnings.push(m) });
    expect(res.clusters[0].count).toBe(6); // the 4 pixels in the corrupt neighbour are lost
    expect(warnings.join()).toContain('tile 12/101/50: not a PNG');
    await expect(job(101, 50, {}, w, { engine: componentEngine() })).rejects.toThrow(/^tile 12\/101\/50: not a PNG/);
  });

  it('jobs sharing a reader read and decode each tile once, with the results of jobs reading alone', async () => {
    const w = new World();
    // Clearings near the edges of a row of tiles 100..103 (each job reads its east and west neighbours).
    for (let x = 100; x <= 103; x++) {
      for (let c = 0; c < 8; c++) for (let r = 0; r < 8; r++) w.set(x * 256 + 250 + c, 50 * 256 + 100 + r, '2016-05-01');
      for (let k = 0; k < 30; k++) w.set(x * 256 + ((k * 53) % 256), 50 * 256 + 30 + ((k * 97) % 200), '2016-05-01');
    }
    const { z: _z, x: _x, y: _y, ...spec } = parseTileRequest({ z: Z, x: 101, y: 50, start_date: '2016-01-01', end_date: '2017-01-01', min_count: 5, dataset: 'glad-2018' });
    const alone = [];
    for (let x = 101; x <= 102; x++) alone.push(await runTile({ z: Z, x, y: 50 }, spec, w));
    const readAlone = w.reads.length;
    w.reads.length = 0;
    const tiles = tileReader(spec, w);
    const shared = [];
    for (let x = 101; x <= 102; x++) shared.push(await runTile({ z: Z, x, y: 50 }, spec, w, { tiles }));
    expect(shared).toEqual(alone);
    expect(shared.map((r) => r.nb_clusters)).toEqual([1, 1]);
    expect(new Set(w.reads).size).toBe(w.reads.length);
    expect(w.reads.length).toBeLessThan(readAlone);
  });

  it('a reader shared by jobs: a corrupt neighbour is said to each job that reads it, and still fails the job whose own tile it is', async () => {
    const w = new World();
    for (let k = 0; k < 10; k++) w.set(100 * 256 + 250 + k, 50 * 256 + 60, '2016-03-03');
    for (let k = 0; k < 10; k++) w.set(102 * 256 + k, 50 * 256 + 60, '2016-03-03');
    w.corrupt.add('12/101/50');
    const { z: _z, x: _x, y: _y, ...spec } = parseTileRequest({ z: Z, x: 100, y: 50, start_date: '2016-01-01', end_date: '2017-01-01', min_count: 5, dataset: 'glad-2018' });
    const tiles = tileReader(spec, w);
    const warnings: string[][] = [[], []];
    await runTile({ z: Z, x: 100, y: 50 }, spec, w, { tiles, engine: componentEngine(), onWarning: (m) => warnings[0].push(m) });
    await runTile({ z: Z, x: 102, y: 50 }, spec, w, { tiles, engine: componentEngine(), onWarning: (m) => warnings[1].push(m) });
    expect(warnings.map((list) => list.join())).toEqual([expect.stringContaining('tile 12/101/50: not a PNG'), expect.stringContaining('tile 12/101/50: not a PNG')]);
    await expect(runTile({ z: Z, x: 101, y: 50 }, spec, w, { tiles, engine: componentEngine() })).rejects.toThrow(/^tile 12\/101\/50: not a PNG/);
    expect(w.reads.filter((k) => k === '12/101/50')).toHaveLength(1);
  });

  it('a reader shared by jobs keeps no transient failure: the next job reads again', async () => {
    const w = new World();
    for (let k = 0; k < 10; k++) w.set(100 * 256 + 250 + k, 50 * 256 + 60, '2016-03-03');
    let failures = 1;
    const flaky: TileSource = {
      read: async (t) => {
        if (t.x === 101 && failures-- > 0) throw Object.assign(new Error('503 from the tile server'), { transient: true });
        return w.read(t);
      },
    };
    const { z: _z, x: _x, y: _y, ...spec } = parseTileRequest({ z: Z, x: 100, y: 50, start_date: '2016-01-01', end_date: '2017-01-01', min_count: 5, dataset: 'glad-2018' });
    const tiles = tileReader(spec, flaky);
    await expect(runTile({ z: Z, x: 100, y: 50 }, spec, flaky, { tiles, engine: componentEngine() })).rejects.toThrow('503');
    const again = await runTile({ z: Z, x: 100, y: 50 }, spec, flaky, { tiles, engine: componentEngine() });
    expect(again.clusters[0].count).toBe(10);
  });

  it('echoes the tile, dates and parameters of a RunSpec in the request fields (not its region or tiles_url)', async () => {
    const spec = validateRunParams({ z: 10, region: { kind: 'tile', x: 342, y: 540 }, tiles_url: 'https://t/{z}/{x}/{y}.png', width: 3, algorithm: 'blurring', dataset: 'glad-2018' });
    const res = await runTile({ z: 10, x: 342, y: 540 }, spec, new World());
    expect(JSON.stringify(res)).toBe(JSON.stringify({
      z: 10, x: 342, y: 540, start_date: '2015-01-01', end_date: '2030-01-01', width: 3, min_count: 25, iterations: 25, algorithm: 'blurring', dataset: 'glad-2018', nb_clusters: 0, tile_alerts: 0, clusters: [],
    }));
  });

  it('propagates read errors (they may be transient)', async () => {
    const failing: TileSource = { read: async (t) => { if (t.x === 101) throw Object.assign(new Error('boom'), { transient: true }); return null; } };
    const w = new World();
    for (let k = 0; k < 10; k++) w.set(100 * 256 + 250 + k, 50 * 256 + 60, '2016-03-03');
    const mixed: TileSource = { read: (t) => (t.x === 101 ? failing.read(t) : w.read(t)) };
    await expect(job(100, 50, {}, mixed, { engine: componentEngine() })).rejects.toThrow('boom');
  });
});

describe('runTile with the real engine (core/meanshift/engine.ts)', () => {
  it.each(['standard', 'flat'])('%s: neighbouring tiles partition the synthetic world: no alert is in two clusters', async (algorithm) => {
    const source = syntheticTileSource({ seed: 3, density: 3000 });
    const owner = new Map<string, string>();
    let clusters = 0;
    let crossing = 0;
    for (const [x, y] of [[500, 500], [501, 500], [500, 501], [501, 501]]) {
      const res = await job(x, y, { start_date: '2015-01-01', end_date: '2021-01-01', min_count: 10, algorithm }, source);
      for (const c of res.clusters) {
        clusters++;
        if (c.alerts.some(([row, col]) => row < 0 || col < 0 || row > 255 || col > 255)) crossing++;
        for (const [row, col] of c.alerts) {
          const key = `${x * 256 + col},${y * 256 + row}`;
          expect(owner.get(key), `alert ${key} in two clusters`).toBeUndefined();
          owner.set(key, `${x}/${y}`);
        }
      }
    }
    expect(clusters).toBeGreaterThan(10);
    expect(crossing).toBeGreaterThan(0);
  });
});

describe('runTile at the antimeridian (the halo wraps in x)', () => {
  const last = 2 ** Z - 1;
  /** An 18×10 block: 12 columns at the east end of tile xWest, 6 at the west end of the tile after it (x wraps). */
  const block = (xWest: number) => {
    const w = new World();
    const n = 2 ** Z * 256;
    for (let c = -12; c < 6; c++) for (let r = 0; r < 10; r++) w.set((((xWest + 1) * 256 + c) % n + n) % n, 50 * 256 + 100 + r, '2016-05-01');
    return w;
  };
  const east = (x: number) => (x + 1) % 2 ** Z;

  it.each([
    ['standard', [180]],
    ['flat', [90, 90]], // flat (width 5) splits an 18 px wide block in two, the same at both meridians
  ])('%s: one block gives the same clusters at the prime meridian and at the antimeridian', async (algorithm, counts) => {
    const members = [];
    for (const xWest of [2 ** (Z - 1) - 1, last]) {
      const w = block(xWest);
      const west = await job(xWest, 50, { algorithm }, w);
      const other = await job(east(xWest), 50, { algorithm }, w);
      const all = [...west.clusters, ...other.clusters];
      expect(all.map((c) => c.count).sort(), `x = ${xWest} | ${east(xWest)}`).toEqual(counts);
      for (const c of all) expect(c.longitude).toBeGreaterThanOrEqual(-180), expect(c.longitude).toBeLessThanOrEqual(180);
      // Members relative to the block's west tile.
      members.push(JSON.stringify(all.map((c) => c.alerts.map(([row, col]) => [row, col + (c.x === xWest ? 0 : 256)]))));
    }
    expect(members[1]).toBe(members[0]);
  });

  it('a block owned by tile 0 reaches back into tile 2^z − 1 (negative columns)', async () => {
    const w = new World();
    for (let c = -6; c < 12; c++) for (let r = 0; r < 10; r++) w.set(c < 0 ? 2 ** Z * 256 + c : c, 50 * 256 + r + 100, '2016-05-01');
    const zero = await job(0, 50, {}, w);
    const lastTile = await job(last, 50, {}, w);
    expect(lastTile.nb_clusters).toBe(0);
    expect(zero.clusters.map((c) => c.count)).toEqual([180]);
    expect(zero.clusters[0].alerts.filter(([, col]) => col < 0)).toHaveLength(60);
    expect(zero.clusters[0].longitude).toBeGreaterThanOrEqual(-180);
  });

  it('z = 0: the one tile is its own neighbour on both sides', async () => {
    const w = new World();
    for (let c = -6; c < 12; c++) for (let r = 0; r < 10; r++) w.set(c < 0 ? 256 + c : c, 100 + r, '2016-05-01');
    const { z: _z, x: _x, y: _y, ...spec } = parseTileRequest({ z: 0, x: 0, y: 0, start_date: '2016-01-01', end_date: '2017-01-01', min_count: 5 });
    const worldTile = new (class extends World {
      override async read(t: TileAddress) {
        return t.z === 0 ? super.read({ ...t, z: Z }) : null;
      }
    })();
    worldTile.pixels = w.pixels;
    const res = await runTile({ z: 0, x: 0, y: 0 }, spec, worldTile);
    expect(res.clusters.map((c) => c.count)).toEqual([180]);
  });
});
