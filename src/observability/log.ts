// Logging with consola: human-readable by default, one JSON object per line with --json-logs.
import { createConsola, type ConsolaInstance, type LogObject } from "consola";

const LEVELS: Record<string, number> = { silent: -999, fatal: 0, error: 0, warn: 1, info: 3, debug: 4, trace: 5 };

export type Fields = Record<string, unknown>;

export interface Logger {
  readonly level: string;
  error(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  debug(msg: string, fields?: Fields): void;
  enabled(level: "debug" | "info"): boolean;
}

function jsonReporter(write: (line: string) => void) {
  return {
    log(obj: LogObject) {
      const [msg, fields] = obj.args as [string, Fields | undefined];
      write(`${JSON.stringify({ time: obj.date.toISOString(), level: obj.type, msg, ...fields })}\n`);
    },
  };
}

function textReporter(write: (line: string) => void) {
  return {
    log(obj: LogObject) {
      const [msg, fields] = obj.args as [string, Fields | undefined];
      let line = `${obj.date.toISOString()} ${obj.type.toUpperCase().padEnd(5)} ${msg}`;
      if (fields) for (const [k, v] of Object.entries(fields)) if (v !== undefined) line += ` ${k}=${typeof v === "string" ? v : JSON.stringify(v)}`;
      write(`${line}\n`);
    },
  };
}

export function createLogger(opts: { level: string; json: boolean; write?: (line: string) => void }): Logger {
  const write = opts.write ?? ((line: string) => process.stdout.write(line));
  const c: ConsolaInstance = createConsola({
    level: LEVELS[opts.level] ?? 3,
    reporters: [opts.json ? jsonReporter(write) : textReporter(write)],
  });
  const lvl = LEVELS[opts.level] ?? 3;
  return {
    level: opts.level,
    error: (m, f) => c.error(m, f),
    warn: (m, f) => c.warn(m, f),
    info: (m, f) => c.info(m, f),
    debug: (m, f) => c.debug(m, f),
    enabled: (l) => lvl >= LEVELS[l]!,
  };
}
