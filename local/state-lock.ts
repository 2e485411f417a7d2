// One process at a time owns a local state folder (`.local/` or $GLAD_LOCAL_DIR): dynalite's leveldb
// cannot be opened twice ("Database is closed"), and a `start` must not borrow a stack another
// `start` is about to stop. The owner writes `state.lock` (its pid and command) with an exclusive
// create; the others are refused in one line naming it. A lock whose process is gone is taken over.
import { openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import { basename, join } from 'node:path';
import { startEmulators, type Emulators } from './emulators.ts';

interface LockFile {
  pid: number;
  command: string;
}

export interface StateLock {
  release(): void;
}

const lockPath = (dir: string) => join(dir, 'state.lock');

/** The npm command this process runs (`npm start`, `npm run dev`, …), for the messages. */
export function thisCommand(): string {
  const script = basename(process.argv[1] ?? '').replace(/\.ts$/, '');
  if (script === 'start') return 'npm start';
  if (['dev', 'fetch', 'view', 'enqueue', 'bench-pipeline', 'scale-run'].includes(script)) return `npm run ${script}`;
  return `process ${basename(process.argv[1] ?? 'node')}`;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readLock(dir: string): LockFile | null {
  try {
    const lock = JSON.parse(readFileSync(lockPath(dir), 'utf8')) as LockFile;
    return Number.isInteger(lock.pid) ? lock : null;
  } catch {
    return null;
  }
}

/** The one-line refusal for a folder held by `holder`. */
export function inUseMessage(dir: string, holder: { pid: number; command?: string }): string {
  return `the state folder ${dir} is in use by ${holder.command ?? 'another process'} (pid ${holder.pid})`;
}

/**
 * Takes the folder's lock for this process or throws one line naming its holder. Released by
 * `release()` and, failing that, when this process exits.
 */
export function lockState(dir: string, command = thisCommand()): StateLock {
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(lockPath(dir), 'wx');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`cannot lock the state folder ${dir}: ${(error as Error).message}`);
      const holder = readLock(dir);
      if (holder && holder.pid === process.pid) return { release: () => undefined }; // already ours
      if (holder && alive(holder.pid)) throw new Error(inUseMessage(dir, holder));
      // Gone (or a half-written lock): take it over.
      rmSync(lockPath(dir), { force: true });
      continue;
    }
    writeSync(fd, JSON.stringify({ pid: process.pid, command } satisfies LockFile));
    closeSync(fd);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      process.off('exit', release);
      if (readLock(dir)?.pid === process.pid) rmSync(lockPath(dir), { force: true });
    };
    process.on('exit', release);
    return { release };
  }
  throw new Error(`cannot lock the state folder ${dir}: its lock keeps changing hands`);
}

/** The emulators on DIR/state, started under the folder's lock; stopping them releases it. */
export async function startLockedEmulators(dir: string, command = thisCommand()): Promise<Emulators> {
  const lock = lockState(dir, command);
  let emulators: Emulators;
  try {
    emulators = await startEmulators({ dir: join(dir, 'state') });
  } catch (error) {
    lock.release();
    throw error;
  }
  const stopEmulators = emulators.stop;
  emulators.stop = async () => {
    await stopEmulators();
    lock.release();
  };
  return emulators;
}
