/**
 * Loads `node:sqlite` (built into Node 22: no native build step) without its
 * one-time "SQLite is an experimental feature" warning, which would otherwise
 * land in the middle of the progress display on every run.
 *
 * Only that warning is dropped, and only while the module loads: Node emits it
 * through `process.emitWarning` when the built-in is first required
 * (https://nodejs.org/docs/latest-v22.x/api/sqlite.html — "Stability: 1.1 -
 * Active development"), so every other warning keeps reaching its listeners.
 */
type SqliteModule = typeof import("node:sqlite");

let loaded: SqliteModule | undefined;

export function loadSqlite(): SqliteModule {
  if (loaded) return loaded;
  const emitWarning = process.emitWarning;
  process.emitWarning = function filtered(this: NodeJS.Process, warning: string | Error, ...rest: unknown[]): void {
    if (isSqliteExperimentalWarning(warning, rest[0])) return;
    (emitWarning as (...args: unknown[]) => void).call(process, warning, ...rest);
  } as typeof process.emitWarning;
  try {
    // A plain require so the warning filter is in place before the module loads.
    loaded = require("node:sqlite") as SqliteModule;
  } finally {
    process.emitWarning = emitWarning;
  }
  return loaded;
}

function isSqliteExperimentalWarning(warning: string | Error, typeOrOptions: unknown): boolean {
  const type = typeof typeOrOptions === "string" ? typeOrOptions : isRecord(typeOrOptions) ? typeOrOptions.type : undefined;
  const name = warning instanceof Error ? warning.name : type;
  const text = warning instanceof Error ? warning.message : warning;
  return name === "ExperimentalWarning" && /\bSQLite\b/.test(text);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}
