// What the npm scripts share: the command with one-line usage errors, option parsers (dev, start,
// bench:pipeline, scale), and runCli for their one-line failures.
import { createRequire } from 'node:module';
import type { Command } from 'commander';

// commander is loaded on first use: `npm run tile` only needs runCli, and start-up time counts there.
const commander = () => createRequire(import.meta.url)('commander') as typeof import('commander');

/** A command whose usage errors are one line on stderr (no help after them), as every script's bad input. */
export function cliCommand(name: string): Command {
  return new (commander().Command)()
    .name(name)
    .showHelpAfterError(false)
    .configureOutput({ outputError: (message, write) => write(message.split('\n')[0] + '\n') });
}

/** Parser of an option that must be an integer >= 1; a one-line error naming the option otherwise. */
export const positiveInt = (name: string) => (value: string) => {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new (commander().InvalidArgumentError)(`${name} must be an integer >= 1, got "${value}"`);
  return Number(value);
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
