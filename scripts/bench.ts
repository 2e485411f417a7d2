// npm run bench [-- --algorithms standard,flat --densities 1000,3000 --budget 6 --json --no-peers]
// Whole-tile clustering time per algorithm and alert density: decode a synthetic GLAD PNG and
// cluster its alerts (core/meanshift/engine.ts, the tile alone, no halo), MEDIAN of several runs
// after one warm-up; for standard and flat also runTile with the halo (the production path:
// neighbour PNGs decoded, margin doubling, records). Every case runs in its own child process, whose peak resident memory
// (process.resourceUsage().maxRSS, the whole Node process) is reported next to the same figure
// for a child that only decodes the tile (the baseline). For `standard` up to 3,000 alerts the
// exact O(n²) reference (test/reference-meanshift.ts) is timed once for the speed ratio and
// compared for accuracy. Ends with our speed-up against scikit-learn's MeanShift and the old numpy
// blurring, both RUN in this bench on the same alerts when /usr/bin/python3 has them (the peers
// test/sklearn_meanshift.py and test/numpy_old_blurring.py time their own fit), else the old
// system's published figures, labelled as quotes; and the alert sources side by side: one z12 tile
// rendered from a local COG (a GLAD-L data-lake-like EPSG:4326 raster at 0.00025°, window read +
// render) against decoding the same alerts as a PNG tile (`--sources-only` runs just that; goal ≤ 2×).
// `standard+time` is standard in space and time (time_width, default 90 days: clearing events),
// run at the same densities; the bench prints its time over the spatial one (goal ≤ 3×).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { clusterAlerts } from '../core/meanshift/engine.ts';
import { ALL_DAYS, gladDecoder } from '../core/tiles/decode.ts';
import { standardMeanShift } from '../core/meanshift/standard.ts';
import { syntheticTilePng } from '../local/synthetic.ts';
import { runTile } from '../core/clusters/tile-job.ts';
import { ALGORITHMS } from '../core/meanshift/types.ts';
import type { Algorithm, ClusterParams } from '../core/meanshift/types.ts';
import type { TileAddress } from '../core/tiles/types.ts';
import { compareClusterings, referenceStandard } from '../test/reference-meanshift.ts';
import { cliCommand, runCli } from '../local/cli-options.ts';
import { DATASETS, EVERY_DAY, datasetDecoder } from '../core/tiles/datasets.ts';
import { openRaster, rasterAlertSource } from '../core/store/raster-source.ts';
import { dateConfTiff, encodeDatasetTile, syntheticDateConfRaster } from '../local/synthetic-encodings.ts';
import { syntheticTile } from '../local/synthetic.ts';

/**
 * One z12 tile from a local COG vs the same tile as a PNG: median ms of each (after a warm-up) and
 * the ratio. The COG: the synthetic world over 3×3 tiles, warped to EPSG:4326 at 0.00025° (GLAD-L's
 * data-lake grid) with gdalwarp, DEFLATE, 256-px blocks. Null when GDAL is not installed.
 */
async function benchSources(density = 3000, runs = 30): Promise<{ alerts: number; pngMs: number; cogMs: number; ratio: number; cogBytes: number } | null> {
  try {
    execFileSync('gdalwarp', ['--version'], { stdio: 'ignore' });
  } catch {
    return null;
  }
  const glad = DATASETS['glad-l'];
  const dir = mkdtempSync(join(tmpdir(), 'bench-cog-'));
  try {
    const bounds = { z: 12, x0: TILE.x - 1, y0: TILE.y - 1, x1: TILE.x + 1, y1: TILE.y + 1 };
    const striped = join(dir, 'world-3857.tif');
    writeFileSync(striped, new Uint8Array(dateConfTiff(syntheticDateConfRaster({ ...bounds, seed: SEED, density }, glad))));
    const cog = join(dir, 'world-4326-cog.tif');
    execFileSync('gdalwarp', ['-q', '-t_srs', 'EPSG:4326', '-tr', '0.00025', '0.00025', '-r', 'near', '-of', 'COG', '-co', 'COMPRESS=DEFLATE', '-co', 'BLOCKSIZE=256', striped, cog], { stdio: 'ignore' });
    const raster = await openRaster(cog);
    const source = rasterAlertSource([raster], glad);
    const png = encodeDatasetTile(syntheticTile({ ...TILE, seed: SEED, density }), glad);
    const decoder = datasetDecoder(glad);
    const time = async (f: () => unknown) => {
      await f();
      const ms: number[] = [];
      for (let k = 0; k < runs; k++) {
        const t0 = performance.now();
        await f();
        ms.push(performance.now() - t0);
      }
      return median(ms);
    };
    const pngMs = await time(() => decoder.decode(png, EVERY_DAY, TILE));
    const cogMs = await time(() => source.alerts(TILE, EVERY_DAY));
    const alerts = (await source.alerts(TILE, EVERY_DAY)).length;
    const { size } = await import('node:fs').then((fs) => fs.statSync(cog));
    await raster.close();
    return { alerts, pngMs, cogMs, ratio: cogMs / pngMs, cogBytes: size };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function printSources(r: Awaited<ReturnType<typeof benchSources>>): void {
  console.log('\nalert sources, one z12 tile (median of 30 after a warm-up):');
  if (!r) {
    console.log('  skipped: GDAL (gdalwarp) is not installed, so no COG could be written');
    return;
  }
  console.log(`  decode PNG tile (glad-l encoding)                ${fmtMs(r.pngMs).padStart(9)}`);
  console.log(`  render from local COG (EPSG:4326, 0.00025°)      ${fmtMs(r.cogMs).padStart(9)}   ${r.ratio.toFixed(2)}× the PNG decode (goal ≤ 2×)`);
  console.log(`  (${r.alerts} alerts in the tile; COG ${(r.cogBytes / 1024).toFixed(0)} KB, read by window: blocks the tile touches only)`);
}

const TILE: TileAddress = { z: 12, x: 2989, y: 2049 };
const SEED = 42;
/**
 * QUOTED figures of the old system (one tile, whole pipeline step, measured on a loaded machine):
 * [alerts, old numpy blurring s, scikit-learn s]. Printed only when the peers cannot be run here.
 */
const OLD_FIGURES: Array<[number, number, number]> = [
  [3138, 19.8, 13.7],
  [11235, 247, 44],
];
const PYTHON = '/usr/bin/python3';
/** Space–time standard, benched next to the spatial one (issue 10 §2: goal ≤ 3× its time). */
const SPACE_TIME = 'standard+time';
type BenchAlgorithm = Algorithm | typeof SPACE_TIME;
const BENCH_ALGORITHMS: BenchAlgorithm[] = ['standard', SPACE_TIME, 'blurring', 'flat'];
/** Goal of the space–time ratio, at these densities. */
const SPACE_TIME_GOAL = 3;
/** Warm-up of runTile with the halo: at least 2 runs, then up to this many runs or ms. */
const HALO_WARM_UP_RUNS = 40;
const HALO_WARM_UP_MS = 1000;
/** Timed runs of runTile with the halo, within the case's budget. */
const HALO_MAX_RUNS = 15;
/** The old numpy blurring is O(iterations·n²) in Python loops: run it only up to this many alerts. */
const NUMPY_MAX_ALERTS = 4000;

/** A peer's own timing of its fit on the alerts of one synthetic tile, or why it did not run. */
function peerSeconds(script: string, request: object): { seconds: number } | { error: string } {
  const run = spawnSync(PYTHON, [script], { input: JSON.stringify(request), encoding: 'utf8', maxBuffer: 1 << 28 });
  if (run.error) return { error: run.error.message };
  if (run.status !== 0) return { error: (run.stderr || `exit ${run.status}`).trim().split('\n').pop()! };
  const seconds = (JSON.parse(run.stdout) as { seconds?: number }).seconds;
  return typeof seconds === 'number' ? { seconds } : { error: 'no timing in the answer' };
}

interface CaseResult {
  algorithm: BenchAlgorithm | 'baseline';
  density: number;
  alerts: number;
  clusters: number;
  runs: number;
  medianMs: number;
  /** Median CPU time (user + system) of this process per run: less sensitive to other load than wall time. */
  cpuMs: number;
  minMs: number;
  decodeMs: number;
  maxRssMb: number;
  reference?: { ms: number; agreement: number; maxCentreDistance: number };
  /** runTile with the halo (neighbour PNGs decoded too, margin doubling): median ms, clusters, final margins. */
  /** runTile (tile + halo): median ms, and its ratio to the tile alone timed in the same loop. */
  halo?: { ms: number; ratio: number; clusters: number; alerts: number; margin: number; maxRssMb: number };
  /** standard+time only: medians of alternating spatial / space–time runs in the same process. */
  paired?: { spatialMs: number; spaceTimeMs: number; spatialCpuMs: number; spaceTimeCpuMs: number; runs: number };
  error?: string;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** One case, in this (child) process. */
async function runCase(algorithm: BenchAlgorithm | 'baseline', density: number, budgetS: number, timeWidth: number): Promise<CaseResult> {
  const png = syntheticTilePng({ ...TILE, seed: SEED, density });
  const base: ClusterParams = { width: 5, min_count: 25, iterations: 25, algorithm: algorithm === 'baseline' || algorithm === SPACE_TIME ? 'standard' : algorithm };
  const params: ClusterParams = algorithm === SPACE_TIME ? { ...base, time_width: timeWidth } : base;
  const once = (run = params) => {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const alerts = gladDecoder.decode(png, ALL_DAYS, TILE);
    const t1 = performance.now();
    const clusters = algorithm === 'baseline' ? [] : clusterAlerts(alerts, run, 0).clusters;
    const cpu = process.cpuUsage(cpu0);
    return { ms: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000, decodeMs: t1 - t0, alerts: alerts.length, clusters: clusters.length };
  };
  const first = once(); // warm-up (JIT), also sizes the number of timed runs
  const runs = Math.max(1, Math.min(algorithm === 'baseline' ? 5 : 9, Math.floor((budgetS * 1000) / Math.max(first.ms, 1))));
  const times: number[] = [], decodes: number[] = [], cpus: number[] = [];
  let last = first;
  for (let r = 0; r < runs; r++) {
    last = once();
    times.push(last.ms);
    cpus.push(last.cpuMs);
    decodes.push(last.decodeMs);
  }
  const result: CaseResult = {
    algorithm,
    density,
    alerts: last.alerts,
    clusters: last.clusters,
    runs,
    medianMs: median(times),
    cpuMs: median(cpus),
    minMs: Math.min(...times),
    decodeMs: median(decodes),
    maxRssMb: process.resourceUsage().maxRSS / 1024,
  };
  if (algorithm === SPACE_TIME) {
    // Paired with the spatial run, alternating in this process: the ratio then survives a busy machine.
    const space: number[] = [], spaceCpu: number[] = [], time: number[] = [], timeCpu: number[] = [];
    once(base); // warm-up of the spatial code
    const pairs = Math.max(3, runs);
    for (let r = 0; r < pairs; r++) {
      const a = once(base), b = once(params);
      space.push(a.ms), spaceCpu.push(a.cpuMs), time.push(b.ms), timeCpu.push(b.cpuMs);
    }
    result.paired = { spatialMs: median(space), spaceTimeMs: median(time), spatialCpuMs: median(spaceCpu), spaceTimeCpuMs: median(timeCpu), runs: pairs };
  }
  if (algorithm === 'standard' && last.alerts <= 3500) {
    const alerts = gladDecoder.decode(png, ALL_DAYS, TILE);
    const pts = { length: alerts.length, x: Float64Array.from(alerts.col), y: Float64Array.from(alerts.row) };
    const t0 = performance.now();
    const ref = referenceStandard(alerts.col, alerts.row, params.width);
    const ms = performance.now() - t0;
    const cmp = compareClusterings(standardMeanShift(pts, params.width), ref, params.min_count);
    result.reference = { ms, agreement: cmp.agreement, maxCentreDistance: cmp.maxCentreDistance };
  }
  if (algorithm === 'standard' || algorithm === SPACE_TIME || algorithm === 'flat') {
    // The production path: the tile and its 8 neighbours (same synthetic world) as PNG bytes.
    const pngs = new Map<string, Uint8Array>();
    const source = {
      read: async (t: TileAddress) => {
        const key = `${t.z}/${t.x}/${t.y}`;
        if (!pngs.has(key)) pngs.set(key, syntheticTilePng({ ...t, seed: SEED, density }));
        return pngs.get(key)!;
      },
    };
    const spec = { ...params, start_date: '2015-01-01', end_date: '2021-01-01' };
    let margin = 0, alerts = 0;
    const timeOnce = async () => {
      const t0 = performance.now();
      const r = await runTile(TILE, spec, source, { onPass: (p) => ((margin = p.margin), (alerts = p.alerts)) });
      return { ms: performance.now() - t0, clusters: r.nb_clusters };
    };
    // Warm-up (fills the PNG cache): the halo's own code (neighbours' decoding, the closure, the halo
    // check, the records) runs only here, so it runs until compiled as the tile alone's is: at least
    // twice, then up to HALO_WARM_UP_RUNS runs or HALO_WARM_UP_MS (one run left these paths half
    // compiled at 1,000 alerts: 4.6× the tile alone, 2.7× after a warm-up).
    const warmStart = performance.now();
    let warmRuns = 0;
    let warmMs = 0;
    while (warmRuns < 2 || (warmRuns < HALO_WARM_UP_RUNS && performance.now() - warmStart < HALO_WARM_UP_MS)) {
      warmMs = (await timeOnce()).ms;
      warmRuns++;
    }
    // Interleaved with the tile alone, so that the ratio of the two sees the same machine load.
    const times: number[] = [], alone: number[] = [];
    let clusters = 0;
    const haloRuns = Math.max(3, Math.min(HALO_MAX_RUNS, Math.floor((budgetS * 1000) / Math.max(warmMs + last.ms, 1))));
    for (let r = 0; r < haloRuns; r++) {
      const t = await timeOnce();
      times.push(t.ms);
      clusters = t.clusters;
      alone.push(once().ms);
    }
    const ms = median(times);
    result.halo = { ms, ratio: ms / median(alone), clusters, alerts, margin, maxRssMb: process.resourceUsage().maxRSS / 1024 };
  }
  return result;
}

/** Runs one case in a fresh child process (clean heap, own peak RSS). */
function spawnCase(algorithm: BenchAlgorithm | 'baseline', density: number, budgetS: number, timeWidth: number): CaseResult {
  try {
    const out = execFileSync(process.execPath, [import.meta.filename, '--case', algorithm, String(density), String(budgetS), String(timeWidth)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 1 << 20,
    });
    return JSON.parse(out) as CaseResult;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    const message = (e.stderr || e.message).trim().split('\n').filter(Boolean).pop() ?? 'failed';
    return { algorithm, density, alerts: 0, clusters: 0, runs: 0, medianMs: NaN, cpuMs: NaN, minMs: NaN, decodeMs: NaN, maxRssMb: NaN, error: message };
  }
}

const pad = (s: string, n: number) => s.padStart(n);
const fmtMs = (ms: number) => (ms >= 10000 ? `${(ms / 1000).toFixed(1)} s` : ms >= 100 ? `${ms.toFixed(0)} ms` : `${ms.toFixed(1)} ms`);

function printTable(results: CaseResult[], baseline: Map<number, CaseResult>): void {
  const head = ['algorithm', 'density', 'alerts', 'clusters', 'runs', 'median', 'cpu', 'min', '(decode)', 'µs/alert', 'peak RSS', 'over base', 'reference', 'speed-up', 'agreement', 'centre err', '+halo', '× alone', 'halo alerts', 'RSS +halo'];
  const widths = [13, 8, 7, 9, 5, 9, 9, 9, 9, 9, 9, 10, 10, 9, 10, 11, 9, 8, 15, 10];
  console.log(head.map((h, i) => (i === 0 ? h.padEnd(widths[i]) : pad(h, widths[i]))).join(' '));
  for (const r of results) {
    if (r.error) {
      console.log(`${r.algorithm.padEnd(widths[0])} ${pad(String(r.density), widths[1])}  failed: ${r.error}`);
      continue;
    }
    const base = baseline.get(r.density);
    const cells = [
      r.algorithm.padEnd(widths[0]),
      String(r.density),
      String(r.alerts),
      String(r.clusters),
      String(r.runs),
      fmtMs(r.medianMs),
      fmtMs(r.cpuMs),
      fmtMs(r.minMs),
      fmtMs(r.decodeMs),
      ((r.medianMs * 1000) / Math.max(1, r.alerts)).toFixed(1),
      `${r.maxRssMb.toFixed(0)} MB`,
      base ? `${(r.maxRssMb - base.maxRssMb).toFixed(0)} MB` : '-',
      r.reference ? fmtMs(r.reference.ms) : '-',
      r.reference ? `${(r.reference.ms / r.medianMs).toFixed(0)}×` : '-',
      r.reference ? r.reference.agreement.toFixed(4) : '-',
      r.reference ? `${r.reference.maxCentreDistance.toFixed(3)} px` : '-',
      r.halo ? fmtMs(r.halo.ms) : '-',
      r.halo ? `${r.halo.ratio.toFixed(2)}×` : '-',
      r.halo ? `${r.halo.alerts} @${r.halo.margin}px` : '-',
      r.halo ? `${r.halo.maxRssMb.toFixed(0)} MB` : '-',
    ];
    console.log(cells.map((c, i) => (i === 0 ? c : pad(c, widths[i]))).join(' '));
  }
}

/**
 * Space–time standard over spatial standard per density: the paired medians (alternating runs in
 * one process, decode + clusterAlerts), and +halo against the spatial case's when it ran.
 */
function spaceTimeRatios(results: CaseResult[]) {
  return results
    .filter((r) => r.algorithm === SPACE_TIME && !r.error && r.paired)
    .map((st) => {
      const p = st.paired!;
      const sp = results.find((r) => r.algorithm === 'standard' && r.density === st.density && !r.error);
      return {
        density: st.density, alerts: st.alerts, runs: p.runs, spatialMs: p.spatialMs, spaceTimeMs: p.spaceTimeMs,
        wall: p.spaceTimeMs / p.spatialMs, cpu: p.spaceTimeCpuMs / p.spatialCpuMs,
        halo: st.halo && sp?.halo ? st.halo.ms / sp.halo.ms : undefined,
      };
    });
}

function printSpaceTime(results: CaseResult[], timeWidth: number): void {
  const ratios = spaceTimeRatios(results);
  if (ratios.length === 0) return;
  console.log(`\nspace–time standard (time_width ${timeWidth} days) over spatial standard, same tile and alerts, decode + clusterAlerts,\n  medians of alternating runs in one process (goal ≤ ${SPACE_TIME_GOAL}× at 3,000 and 30,000 alerts):`);
  for (const r of ratios) {
    const verdict = r.wall <= SPACE_TIME_GOAL ? 'within the goal' : 'OVER the goal';
    console.log(
      `  ${String(r.alerts).padStart(6)} alerts (${r.runs} pairs): ${fmtMs(r.spaceTimeMs).padStart(8)} vs ${fmtMs(r.spatialMs).padStart(8)} → ${r.wall.toFixed(2)}× wall, ` +
        `${r.cpu.toFixed(2)}× cpu${r.halo !== undefined ? `, ${r.halo.toFixed(2)}× with the halo` : ''}: ${verdict}`,
    );
  }
}

function printOldComparison(results: CaseResult[], densities: number[], runPeers: boolean): void {
  if (runPeers) {
    // Measured here: the peers on the very alerts of the bench tile, their fit timed in Python.
    console.log('\nAgainst scikit-learn MeanShift and the old numpy blurring, MEASURED in this run on the same alerts:');
    for (const density of densities) {
      if (density > 12000) continue; // scikit-learn needs minutes beyond this
      const png = syntheticTilePng({ ...TILE, seed: SEED, density });
      const alerts = gladDecoder.decode(png, ALL_DAYS, TILE);
      const x = Array.from(alerts.col.subarray(0, alerts.length)), y = Array.from(alerts.row.subarray(0, alerts.length));
      const sk = peerSeconds('test/sklearn_meanshift.py', { x, y, bandwidth: 5, time: true });
      const np = alerts.length <= NUMPY_MAX_ALERTS ? peerSeconds('test/numpy_old_blurring.py', { x, y, width: 5, iterations: 25 }) : { error: `skipped above ${NUMPY_MAX_ALERTS} alerts` };
      const show = (p: { seconds: number } | { error: string }) => ('seconds' in p ? `${p.seconds.toFixed(2)} s` : `not run (${p.error})`);
      console.log(`  ${alerts.length} alerts: scikit-learn MeanShift ${show(sk)}, old numpy blurring ${show(np)}`);
      for (const algorithm of ALGORITHMS) {
        const row = results.find((r) => r.algorithm === algorithm && !r.error && r.alerts === alerts.length);
        if (!row) continue;
        const s = row.medianMs / 1000;
        const parts = [];
        if ('seconds' in sk) parts.push(`${(sk.seconds / s).toFixed(0)}× faster than scikit-learn`);
        if ('seconds' in np) parts.push(`${(np.seconds / s).toFixed(0)}× faster than the old numpy blurring`);
        console.log(`    ${algorithm.padEnd(9)} ${fmtMs(row.medianMs).padStart(8)}  → ${parts.join(', ') || '(no peer ran)'}`);
      }
    }
    return;
  }
  console.log('\nAgainst the old system (QUOTED figures, measured elsewhere on a loaded machine, one tile: the peers did not run here):');
  for (const [alerts, oldS, sklearnS] of OLD_FIGURES) {
    console.log(`  ${alerts} alerts (quoted): old numpy blurring ${oldS} s, scikit-learn MeanShift ${sklearnS} s`);
    for (const algorithm of ALGORITHMS) {
      const rows = results.filter((r) => r.algorithm === algorithm && !r.error);
      if (rows.length === 0) continue;
      const near = rows.reduce((a, b) => (Math.abs(b.alerts - alerts) < Math.abs(a.alerts - alerts) ? b : a));
      if (near.alerts < alerts / 1.5 || near.alerts > alerts * 1.5) continue; // no comparable density was run
      const s = near.medianMs / 1000;
      console.log(
        `    ${algorithm.padEnd(9)} at ${near.alerts} alerts: ${fmtMs(near.medianMs).padStart(8)}  ` +
          `→ ${(oldS / s).toFixed(0)}× the quoted old time, ${(sklearnS / s).toFixed(0)}× the quoted scikit-learn time`,
      );
    }
  }
}

const list = (name: string, allowed?: readonly string[]) => (value: string) => {
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new InvalidArgumentError(`${name} is empty`);
  for (const item of items) {
    if (allowed ? !allowed.includes(item) : !/^\d+$/.test(item) || Number(item) < 1) {
      throw new InvalidArgumentError(`${name}: bad value "${item}"${allowed ? ` (expected ${allowed.join(', ')})` : ' (positive integers)'}`);
    }
  }
  return items;
};

async function main(): Promise<void> {
  if (process.argv[2] === '--case') {
    const [algorithm, density, budget, timeWidth] = process.argv.slice(3);
    process.stdout.write(JSON.stringify(await runCase(algorithm as BenchAlgorithm, Number(density), Number(budget), Number(timeWidth))));
    return;
  }
  const opts = cliCommand('bench')
    .option('--algorithms <list>', `comma-separated algorithms (${SPACE_TIME}: standard with --time-width)`, list('--algorithms', BENCH_ALGORITHMS), [...BENCH_ALGORITHMS])
    .option('--time-width <days>', `time_width of ${SPACE_TIME}`, (v) => {
      if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 3650) throw new InvalidArgumentError(`--time-width must be an integer in 1..3650, got "${v}"`);
      return Number(v);
    }, 90)
    .option('--densities <list>', 'comma-separated synthetic alerts per tile', list('--densities'), ['1000', '3000', '10000', '30000'])
    .option('--budget <seconds>', 'timed seconds per case (sets the number of runs, 1..9)', (v) => {
      if (!(Number(v) > 0)) throw new InvalidArgumentError(`--budget must be a positive number, got "${v}"`);
      return Number(v);
    }, 5)
    .option('--json', 'print the results as JSON')
    .option('--sources-only', 'only the alert sources: one z12 tile from a local COG vs a PNG decode')
    .option('--no-peers', 'do not run scikit-learn and the old numpy blurring (print the quoted figures)')
    .parse()
    .opts<{ algorithms: BenchAlgorithm[]; densities: string[]; budget: number; timeWidth: number; json?: boolean; sourcesOnly?: boolean; peers: boolean }>();
  if (opts.sourcesOnly) {
    const r = await benchSources();
    if (opts.json) console.log(JSON.stringify({ sources: r }, null, 2));
    else printSources(r);
    return;
  }

  const densities = opts.densities.map(Number);
  const started = performance.now();
  const load = loadavg()[0];
  if (!opts.json) {
    console.log(`glad-clusters bench: synthetic tile ${TILE.z}/${TILE.x}/${TILE.y} (seed ${SEED}), width 5, min_count 25, iterations 25;`);
    console.log(`time = decode PNG + clusterAlerts (tile alone, no halo), median wall time of the runs after a warm-up (cpu = median CPU time\n  of the process, steadier on a busy machine); one child process per case.`);
    console.log(`+halo = runTile (decode the tile and the neighbours it reads, cluster with the halo, build records), after a warm-up of 2 runs,\n  then up to ${HALO_WARM_UP_RUNS} runs or ${HALO_WARM_UP_MS / 1000} s, median of 3–${HALO_MAX_RUNS} runs, each followed by one run of the tile alone: × alone = the ratio of the two medians (goal ≤ 2.5×);\n  halo alerts = alerts in the last pass @ its margin (the margin doubles while clusters may be cut); RSS +halo = peak after it.`);
    console.log(`peak RSS = process.resourceUsage().maxRSS of that child; "over base" subtracts a child that only decodes the tile.`);
    console.log(`load average at start: ${load.toFixed(2)} on ${(await import('node:os')).availableParallelism()} cores${load > 1 ? ' (the machine is busy: times are inflated)' : ''}.\n`);
  }
  const baseline = new Map<number, CaseResult>();
  for (const d of densities) baseline.set(d, spawnCase('baseline', d, 1, opts.timeWidth));
  const results: CaseResult[] = [];
  for (const algorithm of opts.algorithms) {
    for (const d of densities) {
      const r = spawnCase(algorithm, d, opts.budget, opts.timeWidth);
      results.push(r);
      if (!opts.json) process.stderr.write(`  ${algorithm} ${d}: ${r.error ? 'failed' : fmtMs(r.medianMs)}\n`);
    }
  }
  const sources = await benchSources();
  if (opts.json) {
    console.log(JSON.stringify({ loadAverage: load, loadAverageEnd: loadavg()[0], baseline: [...baseline.values()], results, spaceTime: spaceTimeRatios(results), sources }, null, 2));
    return;
  }
  console.log('');
  printTable(results, baseline);
  printSpaceTime(results, opts.timeWidth);
  // The peers run where /usr/bin/python3 has scikit-learn (and numpy).
  const peers = opts.peers && spawnSync(PYTHON, ['-c', 'import sklearn, numpy'], { stdio: 'ignore' }).status === 0;
  printOldComparison(results, densities, peers);
  printSources(sources);
  console.log(`\n(bench took ${((performance.now() - started) / 1000).toFixed(0)} s; pipeline throughput: npm run bench:pipeline)`);
}

await runCli('bench', main);
