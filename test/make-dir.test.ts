// Creating folders: Node's `mkdirSync(path, { recursive: true })` never returns for a path under
// /proc (mkdir answers ENOENT and the recursion retries forever, at 100% CPU), so
// GLAD_LOCAL_DIR=/proc/foo hung `npm start`. makeDir creates one level at a time and fails with
// one line instead.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeDir } from '../core/store/files.ts';
import { cleanEnv, runScript } from './run-script.ts';

describe('makeDir', () => {
  it('creates missing levels and accepts an existing folder', () => {
    const base = mkdtempSync(join(tmpdir(), 'make-dir-'));
    try {
      makeDir(join(base, 'a', 'b', 'c'));
      expect(existsSync(join(base, 'a', 'b', 'c'))).toBe(true);
      makeDir(join(base, 'a', 'b', 'c'));
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  it('a folder that cannot be made is one error naming it, at once (not a loop)', () => {
    const started = performance.now();
    expect(() => makeDir('/proc/glad-test/x')).toThrow(/^cannot create the folder \/proc\/glad-test: ENOENT/);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('GLAD_LOCAL_DIR=/proc/foo: start (demo and region) and fetch exit 1 with one line, no hang', async () => {
    for (const [script, args] of [['start.ts', []], ['start.ts', ['--xy', '1,1', '--z', '2', '--dataset', 'glad-2018', '--tiles-url', 'file:///nonexistent/{z}/{x}/{y}.png']], ['fetch.ts', ['--list']]] as const) {
      const r = await runScript(script, [...args], { env: { ...cleanEnv(), GLAD_LOCAL_DIR: '/proc/foo' }, timeoutMs: 30_000 });
      expect(r.code).toBe(1);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      if (script === 'start.ts') expect(r.stderr).toMatch(/^start: cannot create the folder \/proc\/foo/);
    }
  }, 70_000);
});
