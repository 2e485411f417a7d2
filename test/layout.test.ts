// The layout's rules, checked on the source (docs/architecture.md, "Where things live"):
//  1. core/ is made of layers, each a folder; every core file is in one of them.
//  2. A layer imports only its own or lower layers:
//       tiles ← meanshift ← clusters ← run ← store ← results ← functions
//     (local/, scripts/ and test/ sit on top and may import anything; core/ and functions/ never
//     import them).
//  3. I/O modules (@aws-sdk/*, node:fs, node:fs/promises, node:child_process, node:http(s),
//     node:net, node:worker_threads) are imported only in core/store/ — the adapters. Pure code
//     does no I/O; handlers reach AWS through core/store/.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Layers from the bottom up; a file may import its own layer or one listed before it. */
const LAYERS = ['core/tiles', 'core/meanshift', 'core/clusters', 'core/run', 'core/store', 'core/results', 'functions'] as const;
/** Folders above every layer: they may import anything, nothing in LAYERS may import them. */
const ON_TOP = ['local', 'scripts', 'test'] as const;
/** Where I/O modules may be imported (of the scanned folders). */
const ADAPTERS = 'core/store';
const IO_MODULE = /^(?:@aws-sdk\/|(?:node:)?(?:fs|fs\/promises|child_process|http|https|net|worker_threads)$)/;

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(?:ts|js|mjs)$/.test(e.name) && !e.name.endsWith('.d.ts'))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)).split('\\').join('/'))
    .sort();
}

// Static imports and re-exports (`import x, { y } from`, `import type`, `import * as`, `export … from`),
// side-effect imports and dynamic `import('…')` with a literal specifier.
const IMPORT_PATTERNS = [
  /\b(?:import|export)\s+(?:type\s+)?(?:[\w$]+\s*,\s*)?(?:\*(?:\s+as\s+[\w$]+)?|\{[^}]*\}|[\w$]+)\s+from\s*['"]([^'"]+)['"]/g,
  /^\s*import\s*['"]([^'"]+)['"]/gm,
  /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
];

function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const found = IMPORT_PATTERNS.flatMap((re) => [...text.matchAll(re)].map((m) => m[1]!));
  return [...new Set(found)];
}

/** A relative specifier as a repository path; a package or builtin as written. */
function target(file: string, specifier: string): string {
  return specifier.startsWith('.') ? posix.join(posix.dirname(file), specifier) : specifier;
}

function layerOf(path: string): string | null {
  return [...LAYERS, ...ON_TOP].find((l) => path === l || path.startsWith(`${l}/`)) ?? null;
}

interface Edge { file: string; imports: string }

const FILES = [...sourceFiles('core'), ...sourceFiles('functions')];
const EDGES: Edge[] = FILES.flatMap((file) => importsOf(file).map((s) => ({ file, imports: target(file, s) })));

function layerBreach(e: Edge): string | null {
  const from = layerOf(e.file)!;
  const to = layerOf(e.imports);
  if (to === null) return null; // a package or builtin
  if ((ON_TOP as readonly string[]).includes(to)) return `${e.file} imports ${e.imports}: ${to}/ sits above core/ and functions/`;
  const [i, j] = [LAYERS.indexOf(from as never), LAYERS.indexOf(to as never)];
  return j > i ? `${e.file} imports ${e.imports}: ${from} is below ${to}` : null;
}

function ioBreach(e: Edge): string | null {
  if (!IO_MODULE.test(e.imports) || e.file.startsWith(`${ADAPTERS}/`)) return null;
  return `${e.file} imports ${e.imports}: I/O modules belong in ${ADAPTERS}/`;
}

describe('layout', () => {
  it('reads the import graph (sanity check of the scanner)', () => {
    expect(FILES.length).toBeGreaterThan(40);
    const has = (file: string, imports: string) => EDGES.some((e) => e.file === file && e.imports === imports);
    expect(has('core/clusters/tile-job.ts', 'core/meanshift/engine.ts')).toBe(true);
    expect(has('core/store/aws.ts', '@aws-sdk/client-s3')).toBe(true);
    expect(has('functions/consumer.ts', 'core/clusters/tile-job.ts')).toBe(true);
    expect(has('core/results/table.ts', 'arquero')).toBe(true);
  });

  it('puts every core file in a layer folder', () => {
    expect(FILES.filter((f) => layerOf(f) === null)).toEqual([]);
  });

  it('imports only downwards: tiles ← meanshift ← clusters ← run ← store ← results ← functions', () => {
    const breaches = EDGES.map(layerBreach).filter((b) => b !== null);
    expect(breaches).toEqual([]);
  });

  it('imports @aws-sdk and node:fs (and other I/O modules) only in core/store/', () => {
    const breaches = EDGES.map(ioBreach).filter((b) => b !== null);
    expect(breaches).toEqual([]);
  });

});
