/**
 * The local settings: a JSON file (`--config FILE`) holding the same runtime
 * settings document the clouds keep in their config stores.
 *
 * The file is validated at start (a bad file stops the run before anything is
 * fetched) and then watched: an edit takes effect within `pollIntervalMs`. An
 * edit that does not validate is reported and the last good settings stay in
 * force, as `SettingsCache` does for the clouds' stores.
 *
 * Polling with `fs.watchFile` rather than `fs.watch`: editors usually save by
 * writing a new file and renaming it over the old one, which ends an
 * inode-based `fs.watch` on the old file; a stat poll follows the path.
 * https://nodejs.org/docs/latest-v22.x/api/fs.html#caveats
 */
import { unwatchFile, watchFile, type Stats } from "node:fs";
import { readFile } from "node:fs/promises";
import { DEFAULT_SETTINGS, SETTING_KEYS, parseSettingsDocument, type FleetSettings, type SettingKey, type SettingsSource } from "../../shared/settings";
import { SettingsError, describeError, formatIssue } from "../../shared/errors";

/** What the worker and the run loop read the settings through. */
export interface LocalSettings {
  get(): Promise<FleetSettings>;
  close(): void;
}

/** The settings file as a `SettingsSource`, the port every cloud implements with its store. */
export function fileSettingsSource(path: string): SettingsSource {
  return { name: path, read: () => readFile(path, "utf8") };
}

/**
 * Reads and validates a settings document from `source`. Throws
 * `SettingsError` naming each bad key, its value and the fix.
 */
export async function readSettings(source: SettingsSource): Promise<FleetSettings> {
  let raw: unknown;
  try {
    raw = await source.read();
  } catch (error) {
    const missing = error instanceof Error && "code" in error && error.code === "ENOENT";
    throw new SettingsError(source.name, [
      {
        key: "(file)",
        value: source.name,
        problem: missing ? "does not exist" : `cannot be read (${describeError(error)})`,
        fix: 'pass --config with a JSON file such as {"concurrency": 8}, or leave --config out to use the defaults',
      },
    ]);
  }
  return parseSettingsDocument(raw, source.name);
}

export interface WatchedSettingsOptions {
  readonly path: string;
  /** How often the file's size and modification time are checked, in ms. @default 1000 */
  readonly pollIntervalMs?: number;
  /** Called after an edit was applied, with the keys whose values changed. */
  readonly onReload?: (changed: readonly SettingKey[], settings: FleetSettings) => void;
  /** Called when an edit does not validate; the last good settings stay in force. */
  readonly onError?: (error: unknown) => void;
}

/**
 * Opens the settings file, validating it (throws `SettingsError` when it is
 * missing or invalid), and follows later edits.
 */
export async function watchSettingsFile(options: WatchedSettingsOptions): Promise<LocalSettings> {
  const source = fileSettingsSource(options.path);
  let current = await readSettings(source);
  let reading: Promise<void> | undefined;
  let again = false;

  const reload = async (): Promise<void> => {
    try {
      const next = await readSettings(source);
      const changed = SETTING_KEYS.filter((key) => JSON.stringify(next[key]) !== JSON.stringify(current[key]));
      current = next;
      if (changed.length > 0) options.onReload?.(changed, next);
    } catch (error) {
      options.onError?.(error);
    }
  };
  // One read at a time; an edit seen during a read triggers one more read after it.
  const schedule = (): void => {
    if (reading) {
      again = true;
      return;
    }
    reading = reload().finally(() => {
      reading = undefined;
      if (again) {
        again = false;
        schedule();
      }
    });
  };
  const onStat = (now: Stats, before: Stats): void => {
    if (now.mtimeMs !== before.mtimeMs || now.size !== before.size || now.ino !== before.ino) schedule();
  };
  // Not persistent: watching the settings must not keep a finished run alive.
  watchFile(options.path, { interval: options.pollIntervalMs ?? 1_000, persistent: false }, onStat);

  return {
    get: async () => current,
    close: () => unwatchFile(options.path, onStat),
  };
}

/** The defaults, for a run without `--config`. */
export function defaultSettings(): LocalSettings {
  return { get: async () => DEFAULT_SETTINGS, close: () => undefined };
}

/** One line per bad key, for the terminal. */
export function describeSettingsError(error: SettingsError): string {
  return error.issues.map((issue) => `  ${formatIssue(issue)}`).join("\n");
}
