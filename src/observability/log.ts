// Logging with consola: human-readable by default, one JSON object per line with --json-logs. Every line passes the
// redactor before it is written, whatever its level, then has its control characters escaped (a client-chosen value
// can never start a line of its own); output is batched (see sink.ts).
import { createConsola, type ConsolaInstance, type LogObject } from "consola/core";
import { escapeControls, escapeJsonControls } from "./escape.ts";
import { clean, Redactor } from "./redact.ts";
import { stdoutSink } from "./sink.ts";

const LEVELS: Record<string, number> = { silent: -999, fatal: 0, error: 0, warn: 1, info: 3, debug: 4, trace: 5 };

export type Fields = Record<string, unknown>;

export interface Logger {
  readonly level: string;
  error(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  debug(msg: string, fields?: Fields): void;
  enabled(level: "debug" | "info"): boolean;
  /** A logger that puts these fields (e.g. `requestId`) on every line it writes. */
  child(fields: Fields): Logger;
  /** Values that must never appear in a line (provider keys, gateway keys…): written as [REDACTED]. */
  addSecrets(values: Iterable<string | undefined>, minLength?: number): void;
  /** Write buffered lines out now (shutdown). */
  flush(): void;
}

type Line = (obj: LogObject) => string;

const jsonLine: Line = (obj) => {
  const [msg, fields] = obj.args as [string, Fields | undefined];
  const out: Fields = { time: obj.date.toISOString(), level: obj.type, msg };
  if (fields) for (const k in fields) out[k] = clean(k, fields[k]);
  return JSON.stringify(out);
};

const textLine: Line = (obj) => {
  const [msg, fields] = obj.args as [string, Fields | undefined];
  let line = `${obj.date.toISOString()} ${obj.type.toUpperCase().padEnd(5)} ${msg}`;
  if (fields)
    for (const k in fields) {
      const v = fields[k];
      if (v === undefined) continue;
      const shown = clean(k, v);
      // Numbers and booleans are most fields of an access line: String() writes what JSON.stringify would, faster.
      const text =
        typeof shown === "string"
          ? shown
          : (typeof shown === "number" && Number.isFinite(shown)) || typeof shown === "boolean"
            ? String(shown)
            : JSON.stringify(shown);
      line += ` ${k}=${text}`;
    }
  return line;
};

export function createLogger(opts: { level: string; json: boolean; write?: (line: string) => void }): Logger {
  const sink = opts.write ? { write: opts.write, flush() {} } : stdoutSink();
  const redactor = new Redactor();
  const format = opts.json ? jsonLine : textLine;
  // After the redactor, which matches secrets as they were given. JSON.stringify has escaped C0 controls already.
  const escape = opts.json ? escapeJsonControls : escapeControls;
  const lvl = LEVELS[opts.level] ?? 3;
  const c: ConsolaInstance = createConsola({
    level: lvl,
    // consola's throttle would serialise every line to compare it with the last, and fold identical ones: off.
    throttle: 0,
    reporters: [{ log: (obj) => sink.write(`${escape(redactor.scrub(format(obj)))}\n`) }],
  });

  const make = (bound: Fields | undefined): Logger => {
    const f = bound ? (x?: Fields) => (x ? { ...bound, ...x } : bound) : (x?: Fields) => x;
    return {
      level: opts.level,
      error: (m, x) => c.error(m, f(x)),
      warn: (m, x) => c.warn(m, f(x)),
      info: (m, x) => c.info(m, f(x)),
      debug: (m, x) => c.debug(m, f(x)),
      enabled: (l) => lvl >= LEVELS[l]!,
      child: (x) => make(bound ? { ...bound, ...x } : x),
      addSecrets: (values, min) => redactor.add(values, min),
      flush: () => sink.flush(),
    };
  };
  return make(undefined);
}
