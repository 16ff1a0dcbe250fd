import type { Logger, LogLevel } from "./ports";

/**
 * Cloud Logging reads `severity` from a JSON line; CloudWatch and local runs
 * read `level`. Writing both keeps one logger for every runtime.
 * https://cloud.google.com/logging/docs/structured-logging#special-payload-fields
 */
const SEVERITY: Record<LogLevel, string> = { debug: "DEBUG", info: "INFO", warn: "WARNING", error: "ERROR" };

const LEVEL_ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export interface JsonLoggerOptions {
  /** Lines below this level are dropped. @default "info" */
  readonly minLevel?: LogLevel;
  /** Fields added to every line, such as the fleet name. */
  readonly base?: Readonly<Record<string, unknown>>;
  /** Where lines go. @default process.stdout */
  readonly write?: (line: string) => void;
}

/** A `Logger` that writes one JSON object per line. */
export function createJsonLogger(options: JsonLoggerOptions = {}): Logger {
  const minLevel = LEVEL_ORDER[options.minLevel ?? "info"];
  const write = options.write ?? ((line: string) => process.stdout.write(line));
  return {
    log(level, event, fields) {
      if (LEVEL_ORDER[level] < minLevel) return;
      write(`${JSON.stringify({ level, severity: SEVERITY[level], event, time: new Date().toISOString(), ...options.base, ...fields })}\n`);
    },
  };
}
