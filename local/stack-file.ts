// `.local/stack.json`: how `npm run enqueue|fetch|start` in another terminal find the stack that
// `npm run dev` (or `npm start`) is running, and how they point the SDK and SST's Resource at it.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Emulators } from './emulators.ts';
import { startLockedEmulators } from './state-lock.ts';
import { applyStackEnv, DEFAULT_NAMES, queueUrl, type StackInfo } from './stack.ts';
import { makeDir } from '../core/store/files.ts';

/** Local state directory: `.local/` at the repository root, or $GLAD_LOCAL_DIR (tests use their own). */
export function localDir(env: Record<string, string | undefined> = process.env): string {
  return env.GLAD_LOCAL_DIR ? resolve(env.GLAD_LOCAL_DIR) : fileURLToPath(new URL('../.local', import.meta.url));
}

const stackFilePath = (dir = localDir()) => join(dir, 'stack.json');

/** What `.local/stack.json` holds. */
export interface StackFile extends StackInfo {
  ports: { s3: number; sqs: number; dynamodb: number };
  pid: number;
  /** The npm command that runs the stack (`npm run dev`, `npm start`). */
  command?: string;
  started_at: string;
  /** Where S3 objects and the DynamoDB leveldb persist. */
  state_dir: string;
}

export function writeStackFile(file: StackFile, dir = localDir()): void {
  makeDir(dir);
  writeFileSync(stackFilePath(dir), JSON.stringify(file, null, 2) + '\n');
}

/** Removes the stack file if it is this process's (another process may have replaced it). */
export function removeStackFile(pid = process.pid, dir = localDir()): void {
  const file = readStackFile(dir);
  if (file?.pid === pid) rmSync(stackFilePath(dir), { force: true });
}

function readStackFile(dir = localDir()): StackFile | null {
  const path = stackFilePath(dir);
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as StackFile;
  } catch {
    return null;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True when the SQS emulator answers its health check (the stack's process is serving). */
async function healthy(file: StackFile): Promise<boolean> {
  try {
    const response = await fetch(`${file.endpoints.sqs}/health`, { signal: AbortSignal.timeout(2000) });
    return response.ok;
  } catch {
    return false;
  }
}

/** The running local stack, or null (no file, its process is gone, or it does not answer). */
export async function findRunningStack(dir = localDir()): Promise<StackFile | null> {
  const file = readStackFile(dir);
  if (!file || !processAlive(file.pid) || !(await healthy(file))) return null;
  return file;
}

const NO_STACK = 'no local stack: run `npm run dev` or `npm start`';

/** True when SST links are in the environment (`sst shell`, or on Lambda). */
export function sstLinked(env: Record<string, string | undefined> = process.env): boolean {
  return Boolean(env.SST_RESOURCE_Tiles && env.SST_RESOURCE_Results && env.SST_RESOURCE_Ledger);
}

/**
 * Points this process at the stack to use: under `sst shell` the linked resources as they are;
 * otherwise the running local stack (its env is applied to process.env). Throws NO_STACK if none.
 */
export async function useStack(dir = localDir()): Promise<'sst' | 'local'> {
  if (sstLinked()) return 'sst';
  const file = await findRunningStack(dir);
  if (!file) throw new Error(NO_STACK);
  applyStackEnv(file);
  return 'local';
}

/**
 * Emulators on the state an earlier `npm start` / `npm run dev` left in `.local/state`, started
 * just to read results when no stack is running; their env is applied to process.env. Throws
 * NO_STACK when there is no such state.
 */
async function openLocalState(dir = localDir()): Promise<Emulators> {
  const stateDir = join(dir, 'state');
  if (!existsSync(join(stateDir, 's3', DEFAULT_NAMES.bucket))) throw new Error(NO_STACK);
  // Another process may be starting a stack on this folder (or reading it): one owner at a time.
  const emulators = await startLockedEmulators(dir);
  const endpoints = emulators.endpoints;
  applyStackEnv({
    endpoints, names: DEFAULT_NAMES, visibilityTimeout: 30,
    queueUrl: queueUrl(endpoints.sqs, DEFAULT_NAMES.queue), deadLetterQueueUrl: queueUrl(endpoints.sqs, DEFAULT_NAMES.deadLetterQueue),
  });
  return emulators;
}

/**
 * For commands that only read results (fetch, view): `useStack()`, else the persisted local state.
 * Returns the emulators it started (the caller stops them), or undefined when a stack was in use.
 */
export async function useStackOrLocalState(dir = localDir()): Promise<Emulators | undefined> {
  try {
    await useStack(dir);
    return undefined;
  } catch (error) {
    if ((error as Error).message !== NO_STACK) throw error;
    return openLocalState(dir);
  }
}
