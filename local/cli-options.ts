// What the npm scripts share: the command with one-line usage errors, option parsers (dev, start,
// bench:pipeline, scale), and runCli for their one-line failures.
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import type { Command } from 'commander';

// commander is loaded on first use: `npm run tile` only needs runCli, and start-up time counts there.
const commander = () => createRequire(import.meta.url)('commander') as typeof import('commander');

/** A command whose usage errors are one line on stderr (no help after them), as every script's bad input. */
export function cliCommand(name: string): Command {
  return new (commander().Command)()
    .name(name)
    .showHelpAfterError(false)
    // Commander's own errors ("error: unknown option '--x'") get the script's prefix, as runCli's do.
    .configureOutput({ outputError: (message, write) => write(`${name}: ${message.split('\n')[0].replace(/^error: /, '')}\n`) });
}

/** Parser of an option that must be an integer >= 1; a one-line error naming the option otherwise. */
export const positiveInt = (name: string) => (value: string) => {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new (commander().InvalidArgumentError)(`${name} must be an integer >= 1, got "${value}"`);
  return Number(value);
};

/**
 * Parser of `--workers`: an integer >= 1, clamped to the cores (each worker is a thread with its
 * own heap; 200 of them on 2 cores only use memory), with a one-line note when it is clamped.
 */
export const workersOption =
  (script: string, cores = availableParallelism(), note: (line: string) => void = (line) => void process.stderr.write(`${line}\n`)) =>
  (value: string): number => {
    const n = positiveInt('--workers')(value);
    if (n <= cores) return n;
    note(`${script}: --workers ${n} is more than the ${cores} cores: using ${cores}`);
    return cores;
  };

/**
 * Runs a script's main. A thrown error becomes one line on stderr, `NAME: message`, then
 * `cleanup` (its own errors ignored) and exit 1. A number returned is the exit code, forced
 * (emulators and SDK sockets would keep the process alive); nothing returned lets it end by itself.
 */
export async function runCli(name: string, main: () => Promise<number | void>, cleanup?: () => unknown): Promise<void> {
  let code: number | void;
  try {
    code = await main();
  } catch (error) {
    // process.stderr, not console: `start` sends console output to its log file.
    process.stderr.write(`${name}: ${(error instanceof Error ? error.message : String(error)).split('\n')[0]}\n`);
    await Promise.resolve()
      .then(cleanup)
      .catch(() => undefined);
    process.exit(1);
  }
  if (code !== undefined) process.exit(code);
}
