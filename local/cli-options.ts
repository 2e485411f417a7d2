// Commander option parsers shared by the npm scripts (dev, start, bench:pipeline, scale).
import { InvalidArgumentError } from 'commander';

/** Parser of an option that must be an integer >= 1; a one-line error naming the option otherwise. */
export const positiveInt = (name: string) => (value: string) => {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError(`${name} must be an integer >= 1, got "${value}"`);
  return Number(value);
};
