// The whole local stack in this process: emulators on loopback with state under `.local/state/`,
// the bucket/queues/table, the Lambda stand-in loop, and `.local/stack.json` for other terminals.
import { join } from 'node:path';
import type { Emulators } from './emulators.ts';
import { startLockedEmulators, thisCommand } from './state-lock.ts';
import { startLoop, type Loop, type LoopOptions } from './loop.ts';
import { localDir, removeStackFile, writeStackFile } from './stack-file.ts';
import { applyStackEnv, createStack, type StackInfo } from './stack.ts';
import { makeDir } from '../core/store/files.ts';

export interface LocalStackOptions extends LoopOptions {
  /** Local directory (default `.local/` or $GLAD_LOCAL_DIR). */
  dir?: string;
  /** Seconds before a message that was not deleted is delivered again. */
  visibilityTimeout?: number;
  /** Who holds the state folder, for other processes' messages (default: this process's npm command). */
  command?: string;
}

export interface LocalStack {
  emulators: Emulators;
  stack: StackInfo;
  loop: Loop;
  stop(): Promise<void>;
}

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const dir = options.dir ?? localDir();
  const stateDir = join(dir, 'state');
  const command = options.command ?? thisCommand();
  makeDir(dir);
  const emulators = await startLockedEmulators(dir, command);
  try {
    const stack = await createStack(emulators, { visibilityTimeout: options.visibilityTimeout ?? 30 });
    applyStackEnv(stack);
    const loop = await startLoop(emulators, stack, options);
    writeStackFile({ ...stack, ports: emulators.ports, pid: process.pid, command, started_at: new Date().toISOString(), state_dir: stateDir }, dir);
    let stopped = false;
    return {
      emulators,
      stack,
      loop,
      async stop() {
        if (stopped) return;
        stopped = true;
        removeStackFile(process.pid, dir);
        await loop.stop();
        await emulators.stop();
      },
    };
  } catch (error) {
    await emulators.stop();
    throw error;
  }
}
