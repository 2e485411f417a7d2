// node scripts/bundle-handlers.ts [OUT_DIR]
// The Lambda handlers (functions/*.ts) in the form SST deploys them: each bundled into ONE ES module
// with every dependency inside (AWS SDK included), minified, for Node 22, with the createRequire
// banner SST adds for CommonJS dependencies. SST bundles with esbuild; esbuild is not installed in
// this repository, so this uses rolldown (vite's bundler, in node_modules) with the same settings.
// Prints each bundle's size and its cold start: a fresh `node` process, from process start to the
// handler imported and ready (performance.now() at that point; the runtime's own start is not in it).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { build } from 'rolldown';
import { runCli } from '../local/cli-options.ts';

const ROOT = resolve(import.meta.dirname, '..');
/** What SST's esbuild build puts first: `require` for bundled CommonJS code inside an ES module. */
const BANNER = "import { createRequire as __sstCreateRequire } from 'node:module'; const require = __sstCreateRequire(import.meta.url);";

export interface HandlerBundle {
  name: string;
  file: string;
  bytes: number;
}

/** Bundles every functions/*.ts into outDir/NAME.mjs. */
export async function bundleHandlers(outDir: string): Promise<HandlerBundle[]> {
  const entries = readdirSync(join(ROOT, 'functions')).filter((f) => f.endsWith('.ts')).sort();
  const out: HandlerBundle[] = [];
  for (const entry of entries) {
    const name = basename(entry, '.ts');
    await build({
      input: join(ROOT, 'functions', entry),
      platform: 'node',
      logLevel: 'silent',
      output: { file: join(outDir, `${name}.mjs`), format: 'esm', minify: true, banner: BANNER, codeSplitting: false },
    });
    const file = join(outDir, `${name}.mjs`);
    out.push({ name, file, bytes: statSync(file).size });
  }
  return out;
}

/** Milliseconds from process start to the bundle's `handler` imported, in a fresh node process. */
export function coldStartMs(file: string, env: NodeJS.ProcessEnv = process.env): number {
  const probe =
    `const m = await import(${JSON.stringify(file)});` +
    `if (typeof m.handler !== 'function') throw new Error('no handler export');` +
    'process.stdout.write(String(performance.now()));';
  return Number(execFileSync(process.execPath, ['--input-type=module', '-e', probe], { encoding: 'utf8', env }));
}

async function main(): Promise<void> {
  const outDir = process.argv[2] ?? mkdtempSync(join(tmpdir(), 'glad-bundles-'));
  const bundles = await bundleHandlers(outDir);
  for (const b of bundles) {
    const starts = Array.from({ length: 5 }, () => coldStartMs(b.file)).sort((p, q) => p - q);
    console.log(`${b.name.padEnd(11)} ${(b.bytes / 1024).toFixed(0).padStart(6)} KB  cold start to ready: median ${starts[2].toFixed(0)} ms (5 fresh processes, ${starts[0].toFixed(0)}–${starts[4].toFixed(0)} ms)  ${b.file}`);
  }
}

if (process.argv[1] === import.meta.filename) await runCli('bundle-handlers', main);
