// Structured logs: one JSON object per line, so CloudWatch Logs Insights discovers the fields (it
// reads the first JSON fragment of a Lambda log line) and a run can be filtered:
//   filter run_id = "r-…" | stats count() by stage, level
// Lines go through console.* (not process.stdout), so the CLIs that redirect or silence the
// handlers' console output (start, bench:pipeline) still catch them.
import { tileKey } from '../tiles/grid.ts';
import type { TileAddress } from '../tiles/types.ts';

type LogLevel = 'INFO' | 'WARN' | 'ERROR';

/** The keys a run is filtered by, plus anything else worth a field. */
interface LogFields {
  run_id?: string;
  /** A tile address, written as "z/x/y". */
  tile?: TileAddress | string;
  /** Pipeline stage: message, tile, aggregate, dead-letter. */
  stage?: string;
  message_id?: string;
  [key: string]: unknown;
}

const WRITE: Record<LogLevel, (line: string) => void> = {
  INFO: (line) => console.log(line),
  WARN: (line) => console.warn(line),
  ERROR: (line) => console.error(line),
};

export class Logger {
  private readonly fields: LogFields;

  constructor(fields: LogFields = {}) {
    this.fields = { ...fields };
  }

  /** A logger with more keys (this one is unchanged). */
  with(fields: LogFields): Logger {
    return new Logger({ ...this.fields, ...fields });
  }

  /** Adds keys to every later line of this logger (a record handler names its run and tile). */
  append(fields: LogFields): void {
    Object.assign(this.fields, fields);
  }

  log(level: LogLevel, message: string, extra: LogFields = {}): void {
    const { run_id, tile, stage, ...rest } = { ...this.fields, ...extra };
    // Undefined fields are left out by JSON.stringify.
    const entry = { level, message, run_id, tile: typeof tile === 'object' ? tileKey(tile) : tile, stage, ...rest, timestamp: new Date().toISOString() };
    WRITE[level](JSON.stringify(entry));
  }

  info(message: string, extra?: LogFields): void {
    this.log('INFO', message, extra);
  }

  warn(message: string, extra?: LogFields): void {
    this.log('WARN', message, extra);
  }

  error(message: string, extra?: LogFields): void {
    this.log('ERROR', message, extra);
  }
}

/** The message of anything thrown. */
export const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error));
