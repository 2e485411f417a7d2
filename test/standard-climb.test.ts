// The climbs of `standard` run in WebAssembly (wasm/standard-climb.ts, and wasm/spacetime-climb.ts
// with time_width), one kernel memory lent to one climb at a time: the committed modules are what
// the sources compile to, a climber's results stay valid (copied out) when the next one takes the
// memory, what an earlier climb left in it never leaks into a later one, a memory grown during the
// climbs gives the same climbs, and a superseded climber refuses to climb.
import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { KERNELS, moduleSource } from '../scripts/build-wasm.ts';
import { climbLattice, latticeClimber } from '../core/meanshift/standard.ts';
import { climbSpaceTime } from '../core/meanshift/standard-spacetime.ts';
import type { SpaceTimeClimb } from '../core/meanshift/standard-spacetime.ts';
import type { Climb } from '../core/meanshift/standard.ts';
import { ALL_DAYS, gladDecoder } from '../core/tiles/decode.ts';
import { syntheticTilePng } from '../local/synthetic.ts';

function tileAlerts(seed: number, density: number) {
  const tile = { z: 12, x: 1355, y: 2045 };
  return gladDecoder.decode(syntheticTilePng({ ...tile, seed, density }), ALL_DAYS, tile);
}

/** Every output of a climb, as plain numbers (a copy). */
function snapshot(c: Climb) {
  return { modeX: Array.from(c.modeX), modeY: Array.from(c.modeY), box: [Array.from(c.pathMinX), Array.from(c.pathMinY), Array.from(c.pathMaxX), Array.from(c.pathMaxY)], steps: c.steps, evaluations: c.evaluations, polished: c.polished };
}

describe('the WebAssembly climb kernel', () => {
  for (const kernel of [KERNELS.standard, KERNELS.spacetime, KERNELS.link]) {
    it(`${kernel.target} is what ${kernel.source} compiles to (npm run build:wasm)`, async () => {
      const committed = readFileSync(new URL(`../${kernel.target}`, import.meta.url), 'utf8');
      expect(committed).toBe(await moduleSource(kernel));
    });
  }

  it('a climb after others in the same memory is the climb in a fresh one, bit for bit', () => {
    const small = tileAlerts(7, 800);
    const first = snapshot(climbLattice(small, 5));
    expect(first.polished).toBeGreaterThan(0); // the polished modes are part of what must not leak
    // Larger, denser, other widths: their index, models, polished modes and scratch fill the memory.
    for (const [seed, density, width] of [[8, 6000, 5], [9, 3000, 3], [10, 2000, 8]]) climbLattice(tileAlerts(seed, density), width);
    expect(snapshot(climbLattice(small, 5))).toEqual(first);
  });

  it('the memory grows when the models need more room, with the same climbs, bit for bit', async () => {
    const alerts = tileAlerts(13, 3000);
    const roomy = snapshot(climbLattice(alerts, 5));
    // A fresh module: its kernel's memory starts empty (this one's has grown for the tests above).
    vi.resetModules();
    const fresh = await import('../core/meanshift/standard.ts');
    // Room for one model at first: the kernel grows the memory, which detaches the views taken before.
    const climber = fresh.latticeClimber(alerts, 5, 1);
    const all = Int32Array.from({ length: alerts.length }, (_, i) => i);
    climber.climbAlerts(all.subarray(0, 1000));
    const taken = climber.climb.modeX;
    climber.climbAlerts(all.subarray(1000));
    expect(taken.length).toBe(0); // detached: the memory grew
    expect(snapshot(climber.climb)).toEqual(roomy);
    expect(roomy.evaluations).toBeGreaterThan(1000);
    // The index is read through new views too.
    let seen = 0;
    climber.alertsIn(-1000, 1000, -1000, 1000, () => seen++);
    expect(seen).toBe(alerts.length);
  });

  it("a climber's results stay valid after the next climber takes the memory, and it can no longer climb", () => {
    const a = tileAlerts(11, 1500);
    const climber = latticeClimber(a, 5);
    const half = Int32Array.from({ length: a.length >> 1 }, (_, i) => 2 * i);
    climber.climbAlerts(half);
    const before = snapshot(climber.climb);
    const next = climbLattice(tileAlerts(12, 4000), 5); // overwrites the memory
    expect(next.steps).toBeGreaterThan(0);
    expect(snapshot(climber.climb)).toEqual(before);
    expect(() => climber.climbAlerts([1])).toThrow(/newer climber/);
    expect(() => climber.alertsIn(0, 10, 0, 10, () => {})).toThrow(/newer climber/);
  });
});

/** Every output of a space–time climb, as plain numbers (a copy). */
function snapshotST(c: SpaceTimeClimb) {
  return { ...snapshot(c), modeT: Array.from(c.modeT) };
}

describe('the WebAssembly space–time climb kernel', () => {
  /** A tile's alerts plus four corner alerts on days 1 and 3000: tiles of other seeds then share the box and the time nodes, so the row cache's keys name the same rows, with other sums. */
  function cornered(seed: number) {
    const a = tileAlerts(seed, 3000);
    const col = [...a.col.subarray(0, a.length), 0, 255, 0, 255], row = [...a.row.subarray(0, a.length), 0, 0, 255, 255];
    const days = [...a.days.subarray(0, a.length), 1, 3000, 1, 3000];
    return { length: col.length, col: Int32Array.from(col), row: Int32Array.from(row), days: Uint16Array.from(days) };
  }

  it('a climb after others in the same memory is the climb in a fresh one, bit for bit, also when the memory grows', async () => {
    // time_width 2 days: ~4 node models an alert, more than the room the memory has for them at first.
    const alerts = cornered(14);
    vi.resetModules();
    const fresh = await import('../core/meanshift/standard-spacetime.ts');
    const first = snapshotST(fresh.climbSpaceTime(alerts, 5, 2));
    expect(first.evaluations).toBeGreaterThan(2 * alerts.length + 1024);
    expect(first.polished).toBeGreaterThan(0);
    // Others fill the memory: their cache, node lists, models and polished modes.
    for (const [seed, density, width, timeWidth] of [[15, 6000, 5, 90], [16, 2000, 3, 30], [17, 1000, 8, 1000]]) climbSpaceTime(tileAlerts(seed, density), width, timeWidth);
    climbSpaceTime(cornered(19), 5, 2);
    expect(snapshotST(climbSpaceTime(alerts, 5, 2))).toEqual(first);
  });
});
