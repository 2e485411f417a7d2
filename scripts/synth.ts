// Writes a synthetic GLAD tile mosaic: dir/{z}/{x}/{y}.png (tiles without alerts are left out).
// npm run synth -- --out DIR --z 12 --tile-bounds x0,y0,x1,y1 --seed 1 --alerts 3000 [--corrupt 1355,2045;...]
import { InvalidArgumentError } from 'commander';
import { writeSyntheticMosaic } from '../local/synthetic.ts';
import { validateTypedTileBounds } from '../core/tiles/grid.ts';
import type { TileAddress } from '../core/tiles/types.ts';
import { cliCommand, runCli } from '../local/cli-options.ts';

function integer(name: string) {
  return (value: string): number => {
    if (!/^-?\d+$/.test(value)) throw new InvalidArgumentError(`${name} must be an integer, got "${value}"`);
    return Number(value);
  };
}

function intList(value: string, count: number, name: string): number[] {
  const parts = value.split(',').map((s) => s.trim());
  if (parts.length !== count || parts.some((p) => !/^\d+$/.test(p))) {
    throw new InvalidArgumentError(`${name} must be ${count} comma-separated integers, got "${value}"`);
  }
  return parts.map(Number);
}

const program = cliCommand('synth')
  .description('Write a deterministic synthetic GLAD tile mosaic as DIR/{z}/{x}/{y}.png')
  .requiredOption('--out <dir>', 'output directory')
  .requiredOption('--z <z>', 'zoom level', integer('--z'))
  .requiredOption('--tile-bounds <x0,y0,x1,y1>', 'inclusive tile range', (v) => intList(v, 4, '--tile-bounds'))
  .option('--seed <n>', 'world seed', integer('--seed'), 1)
  .option('--alerts <n>', 'target mean alerts per tile', integer('--alerts'), 3000)
  .option('--corrupt <x,y;...>', 'tiles to write as corrupt (truncated) PNGs', (v) =>
    v.split(';').filter(Boolean).map((pair) => intList(pair, 2, '--corrupt')),
  )
  .parse();

const opts = program.opts<{ out: string; z: number; tileBounds: number[]; seed: number; alerts: number; corrupt?: number[][] }>();
const [x0, y0, x1, y1] = opts.tileBounds;
await runCli('synth', async () => {
  const bounds = { z: opts.z, x0, y0, x1, y1 };
  validateTypedTileBounds(bounds); // before any file is written
  const corrupt: TileAddress[] = (opts.corrupt ?? []).map(([x, y]) => ({ z: opts.z, x, y }));
  const started = performance.now();
  const s = await writeSyntheticMosaic(opts.out, { ...bounds, seed: opts.seed, density: opts.alerts, corrupt });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(
    `wrote ${s.written} of ${s.tiles} tiles (${s.corrupt} corrupt, ${s.alerts} alerts, ` +
      `${Math.round(s.alerts / Math.max(1, s.written - s.corrupt))} per written tile) to ${opts.out} in ${seconds}s`,
  );
});
