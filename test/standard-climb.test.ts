// The climbs of `standard` run in WebAssembly (wasm/standard-climb.ts), one kernel memory lent to one
// climber at a time: the committed module is what the source compiles to, a climber's results stay
// valid (copied out) when the next one takes the memory, what an earlier climber left in it never
// leaks into a later one, and a superseded climber refuses to climb.
import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { KERNELS, moduleSource } from '../scripts/build-wasm.ts';
import { climbLattice, latticeClimber } from '../core/meanshift/standard.ts';
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
  it('core/meanshift/standard-climb-wasm.ts is what wasm/standard-climb.ts compiles to (npm run build:wasm)', async () => {
    const committed = readFileSync(new URL(`../${KERNELS.standard.target}`, import.meta.url), 'utf8');
    expect(committed).toBe(await moduleSource(KERNELS.standard));
  });

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
