// Commander set-up shared by the npm scripts: the command with one-line usage errors, and option
// parsers (dev, start, bench:pipeline, scale).
import { Command, InvalidArgumentError } from 'commander';

/** A command whose usage errors are one line on stderr (no help after them), as every script's bad input. */
export function cliCommand(name: string): Command {
  return new Command()
    .name(name)
    .showHelpAfterError(false)
    .configureOutput({ outputError: (message, write) => write(message.split('\n')[0] + '\n') });
}

/** Parser of an option that must be an integer >= 1; a one-line error naming the option otherwise. */
export const positiveInt = (name: string) => (value: string) => {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError(`${name} must be an integer >= 1, got "${value}"`);
  return Number(value);
};
