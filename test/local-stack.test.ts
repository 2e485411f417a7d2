// The local stack's state folder and `npm start`'s outcome: the ledger table is ACTIVE before
// anything uses it, one process at a time owns a state folder (the others say which process
// holds it, in one line), and `start` exits non-zero when tiles failed.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startEmulators } from '../local/emulators.ts';
import { createStack, DEFAULT_NAMES } from '../local/stack.ts';
import { writeSyntheticMosaic } from '../local/synthetic.ts';
import { cleanEnv, root, runScript } from './run-script.ts';

const dir = mkdtempSync(join(tmpdir(), 'glad-local-stack-'));
const tilesUrl = `file://${join(dir, 'tiles')}/{z}/{x}/{y}.png`;
const REGION = ['--z', '12', '--tile-bounds', '1331,2162,1332,2162', '--tiles-url', tilesUrl, '--min-count', '10', '--workers', '1'];
const env = (localDir: string): NodeJS.ProcessEnv => ({ ...cleanEnv(), GLAD_LOCAL_DIR: localDir });

beforeAll(async () => {
  await writeSyntheticMosaic(join(dir, 'tiles'), { z: 12, x0: 1330, y0: 2161, x1: 1333, y1: 2163, seed: 5, density: 600, corrupt: [{ z: 12, x: 1332, y: 2162 }] });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Spawns `dev` and resolves once its stack is up (its stderr says so). */
function startDev(localDir: string): Promise<{ child: ChildProcess; stderr: () => string }> {
  const child = spawn(process.execPath, [join(root, 'scripts', 'dev.ts'), '--workers', '1'], { cwd: root, env: env(localDir) });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`dev did not come up: ${stderr}`)), 60_000);
    child.stderr!.on('data', () => {
      if (stderr.includes('local stack up')) {
        clearTimeout(timer);
        resolve({ child, stderr: () => stderr });
      }
    });
    child.on('exit', () => reject(new Error(`dev exited: ${stderr}`)));
  });
}

async function stop(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  child.kill('SIGINT');
  return exited;
}

describe('the ledger table', () => {
  it('is ACTIVE when createStack returns on a fresh state folder (dynalite answers "not found" while CREATING)', async () => {
    for (let k = 0; k < 5; k++) {
      const emulators = await startEmulators({ dir: join(dir, `fresh-${k}`) });
      try {
        await createStack(emulators);
        const dynamo = new DynamoDBClient({ region: LOCAL_REGION, endpoint: emulators.endpoints.dynamodb, credentials: LOCAL_CREDENTIALS });
        const table = await dynamo.send(new DescribeTableCommand({ TableName: DEFAULT_NAMES.table }));
        dynamo.destroy();
        expect(table.Table?.TableStatus).toBe('ACTIVE');
      } finally {
        await emulators.stop();
      }
    }
  });
});

describe('one process per state folder', () => {
  it('a second dev next to a running dev refuses in one line naming the holder', async () => {
    const localDir = join(dir, 'dev-dev');
    const dev = await startDev(localDir);
    try {
      const second = await runScript('dev.ts', ['--workers', '1'], { env: env(localDir), timeoutMs: 60_000 });
      expect(second.code).toBe(1);
      expect(second.stderr.trimEnd().split('\n'), second.stderr).toHaveLength(1);
      expect(second.stderr).toMatch(new RegExp(`^dev: the state folder ${localDir} is in use by npm run dev \\(pid ${dev.child.pid}\\)`));
    } finally {
      expect(await stop(dev.child)).toBe(0);
    }
  }, 120_000);

  it('two dev started at once: one runs, the other says which process holds the folder (no trace)', async () => {
    const localDir = join(dir, 'race');
    const spawnDev = () => {
      const child = spawn(process.execPath, [join(root, 'scripts', 'dev.ts'), '--workers', '1'], { cwd: root, env: env(localDir) });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      const up = new Promise<'up' | number | null>((resolve) => {
        child.stderr.on('data', () => stderr.includes('local stack up') && resolve('up'));
        child.on('exit', (code) => resolve(code));
      });
      return { child, up, stderr: () => stderr };
    };
    const a = spawnDev(), b = spawnDev();
    const outcomes = await Promise.all([a.up, b.up]);
    const running = [a, b].filter((_, k) => outcomes[k] === 'up');
    const refused = [a, b].filter((_, k) => outcomes[k] === 1);
    try {
      expect(outcomes, a.stderr() + b.stderr()).toContain('up');
      expect(running).toHaveLength(1);
      expect(refused).toHaveLength(1);
      expect(refused[0].stderr().trimEnd().split('\n')).toHaveLength(1);
      expect(refused[0].stderr()).toMatch(new RegExp(`^dev: the state folder ${localDir} is in use by npm run dev \\(pid ${running[0].child.pid}\\)`));
    } finally {
      for (const r of running) await stop(r.child);
    }
  }, 120_000);

  it('a start next to a running start refuses in one line naming it; a stale lock (dead pid) is taken over', async () => {
    const localDir = join(dir, 'start-start');
    const first = spawn(process.execPath, [join(root, 'scripts', 'start.ts'), ...REGION], { cwd: root, env: env(localDir) });
    let firstErr = '';
    first.stderr.on('data', (d) => (firstErr += d));
    const firstDone = new Promise<number | null>((resolve) => first.on('exit', (code) => resolve(code)));
    // Wait until the first one holds the folder (its stack is up and advertised).
    for (let k = 0; k < 600 && !existsSync(join(localDir, 'stack.json')); k++) await new Promise((r) => setTimeout(r, 100));
    const second = await runScript('start.ts', REGION, { env: env(localDir), timeoutMs: 60_000 });
    await firstDone;
    expect(second.code, second.stderr).toBe(1);
    expect(second.stderr.trimEnd().split('\n'), second.stderr).toHaveLength(1);
    expect(second.stderr).toMatch(new RegExp(`^start: the state folder ${localDir} is in use by npm start \\(pid ${first.pid}\\)`));
    expect(firstErr).not.toMatch(/Database is closed|\n\s+at /);

    // A lock left by a process that is gone (SIGKILL) does not block the next one.
    writeFileSync(join(localDir, 'state.lock'), JSON.stringify({ pid: 2 ** 22 + 12345, command: 'npm run dev' }));
    const dev = await startDev(localDir);
    expect(await stop(dev.child)).toBe(0);
  }, 180_000);
});

describe('a closed terminal (SIGHUP)', () => {
  it('stops dev as cleanly as Ctrl-C: exit 0, its stack file and state lock removed', async () => {
    const localDir = join(dir, 'hangup');
    const { child, stderr } = await startDev(localDir);
    expect(existsSync(join(localDir, 'stack.json'))).toBe(true);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGHUP');
    expect(await exited, stderr()).toBe(0);
    expect(stderr()).toMatch(/SIGHUP: stopping the local stack/);
    expect(existsSync(join(localDir, 'stack.json'))).toBe(false);
    expect(existsSync(join(localDir, 'state.lock'))).toBe(false);
  }, 90_000);
});

describe('npm start exit codes', () => {
  it('exits 2 naming the count when tiles failed (0 when none did)', async () => {
    const localDir = join(dir, 'failed');
    const result = await runScript('start.ts', REGION, { env: env(localDir), timeoutMs: 120_000 });
    expect(result.stdout).toMatch(/1 failed/);
    expect(result.stderr).toMatch(/^start: 1 of 2 tiles failed \(exit code 2\)/m);
    expect(result.code).toBe(2);
  }, 150_000);
});
