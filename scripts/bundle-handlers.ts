// node scripts/bundle-handlers.ts [OUT_DIR]
// The Lambda handlers (functions/*.ts) in the form SST deploys them: each bundled by esbuild into ONE
// ES module with every dependency inside (AWS SDK included), with the options of SST's Node runtime
// (sst/sst pkg/runtime/node/build.go: platform node, format esm, target esnext, mainFields
// module,main, keepNames, `sharp` and `pg-native` external, its createRequire/__filename/__dirname
// banner; minified, `nodejs.minify` defaulting to true; no source map when deployed).
// Prints each bundle's size and its cold start: a fresh `node` process, from process start to the
// handler imported and ready (performance.now() at that point; the runtime's own start is not in it).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isBuiltin } from 'node:module';
import { basename, join, resolve } from 'node:path';
import { build } from 'esbuild';
import { runCli } from '../local/cli-options.ts';

const ROOT = resolve(import.meta.dirname, '..');
/** SST's banner: `require`, `__filename` and `__dirname` for bundled CommonJS code inside an ES module. */
const BANNER = [
  "import { createRequire as topLevelCreateRequire } from 'module';",
  'const require = topLevelCreateRequire(import.meta.url);',
  'import { fileURLToPath as topLevelFileUrlToPath, URL as topLevelURL } from "url"',
  'const __filename = topLevelFileUrlToPath(import.meta.url)',
  'const __dirname = topLevelFileUrlToPath(new topLevelURL(".", import.meta.url))',
].join('\n');

export interface HandlerBundle {
  name: string;
  file: string;
  bytes: number;
  /** What the bundle still imports at run time (esbuild's metafile): Node's built-in modules only, if packaged right. */
  externals: string[];
}

/** The handlers' source files: functions/*.ts. */
const HANDLERS = () => readdirSync(join(ROOT, 'functions')).filter((f) => f.endsWith('.ts')).sort().map((f) => join(ROOT, 'functions', f));

/** Bundles each entry (default: every handler) into outDir/NAME.mjs; esbuild's errors and warnings throw. */
export async function bundleHandlers(outDir: string, entries: string[] = HANDLERS()): Promise<HandlerBundle[]> {
  const out: HandlerBundle[] = [];
  for (const entry of entries) {
    const name = basename(entry, '.ts');
    const file = join(outDir, `${name}.mjs`);
    const result = await build({
      entryPoints: [entry],
      outfile: file,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'esnext',
      mainFields: ['module', 'main'],
      keepNames: true,
      minify: true,
      external: ['sharp', 'pg-native'],
      banner: { js: BANNER },
      metafile: true,
      logLevel: 'silent',
    });
    if (result.warnings.length > 0) throw new Error(`${entry}: esbuild warning: ${result.warnings[0].text}`);
    const imports = Object.values(result.metafile.outputs).flatMap((o) => o.imports);
    const externals = [...new Set(imports.filter((i) => i.external).map((i) => i.path))].sort();
    out.push({ name, file, bytes: statSync(file).size, externals });
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
    const packages = b.externals.filter((p) => !isBuiltin(p));
    if (packages.length > 0) console.log(`  imported at run time, not bundled: ${packages.join(', ')}`);
  }
}

if (process.argv[1] === import.meta.filename) await runCli('bundle-handlers', main);
