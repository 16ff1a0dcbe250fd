import { ScrapeError, SettingsError, describeError, type SettingIssue } from "./errors";
import type { Logger } from "./ports";

/**
 * The fleet's runtime settings: what an operator can change in the config
 * store (or the local settings file) while the fleet runs, without a redeploy.
 *
 * One table describes every key: its type, range, default and meaning. The
 * validator, the defaults, the JSON Schema given to the config stores and the
 * README's settings reference are all read from it.
 */
export const SETTINGS_SPEC = {
  enabled: { type: "boolean", default: true, doc: "Kill switch. `false` pauses the fleet: messages stay queued (locally) or go back to the queue (clouds) with code `fleet_paused`." },
  concurrency: { type: "integer", min: 1, max: 256, default: 16, doc: "Pages one worker fetches at once (at least the messages a worker is handed at once, or a batch waits on itself)." },
  connectTimeoutMs: { type: "integer", min: 100, max: 60_000, default: 10_000, doc: "TCP + TLS connect timeout per connection." },
  headersTimeoutMs: { type: "integer", min: 100, max: 120_000, default: 15_000, doc: "Time allowed for the response headers after the request is sent." },
  bodyIdleTimeoutMs: { type: "integer", min: 100, max: 120_000, default: 15_000, doc: "Longest pause between two chunks of the body." },
  pageDeadlineMs: { type: "integer", min: 1_000, max: 600_000, default: 30_000, doc: "Overall deadline for one fetch, all its redirects included." },
  maxBodyBytes: { type: "integer", min: 1_024, max: 100 * 1024 * 1024, default: 5 * 1024 * 1024, doc: "Cap on bytes on the wire per response (compressed)." },
  maxDecodedBytes: { type: "integer", min: 1_024, max: 200 * 1024 * 1024, default: 10 * 1024 * 1024, doc: "Cap on bytes after gzip/br/zstd/deflate decoding (stops decompression bombs)." },
  maxRedirects: { type: "integer", min: 0, max: 20, default: 5, doc: "Redirects followed per page; each hop is re-checked by the SSRF guard." },
  allowedContentTypes: { type: "string[]", header: true, default: ["text/html", "application/xhtml+xml"], doc: "Media types accepted; anything else is recorded as `content_type_not_allowed`." },
  userAgent: { type: "string", header: true, default: "scrape-fleet/0.1", doc: "Product token sent as User-Agent; the contact is appended." },
  contact: { type: "string", header: true, default: "", doc: "Contact address (URL or e-mail) appended to the User-Agent so site owners can reach you." },
  respectRobots: { type: "boolean", default: true, doc: "Obey robots.txt (RFC 9309)." },
  robotsCacheTtlMs: { type: "integer", min: 0, max: 86_400_000, default: 3_600_000, doc: "How long a robots.txt is cached per origin (RFC 9309 allows at most 24 h)." },
  perDomainDelayMs: { type: "integer", min: 0, max: 600_000, default: 1_000, doc: "Minimum time between two requests to the same host from one worker." },
  blockedDomains: { type: "string[]", default: [], doc: "Hosts never fetched; an entry also blocks its subdomains. Recorded as `domain_blocked`." },
  maxLinks: { type: "integer", min: 0, max: 10_000, default: 500, doc: "Outgoing links kept per page (absolute, deduplicated)." },
  storeRawHtml: { type: "boolean", default: false, doc: "Also store the page's HTML, gzip-compressed, beside the result record." },
  settingsTtlMs: { type: "integer", min: 1_000, max: 3_600_000, default: 60_000, doc: "How often a worker re-reads these settings from the config store." },
  resultBatchMaxRecords: {
    type: "integer",
    min: 1,
    max: 1_000,
    default: 1,
    doc: "Result records one worker process writes as one JSON Lines object under `results/batches/` (one write for many pages). 1 writes each record alone at `results/<sha256>.json`. Read batched records with `fleet results export`.",
  },
  // At most 1 s: a record still waiting for its batch at a batch's deadline is a
  // write under way, which runs on only for the handler's write grace
  // (functions/handlerConfig.ts `writeGraceFor`: the deadline margin less 1 s,
  // so 2 s on AWS and Google Cloud and 4 s on Azure with the default margins).
  // A margin set below 2 s leaves less grace than the window: a record then
  // still waiting at the deadline is abandoned and its page retried, not lost.
  resultBatchWindowMs: {
    type: "integer",
    min: 0,
    max: 1_000,
    default: 200,
    doc: "How long a record waits for others to share its batch object, when `resultBatchMaxRecords` is above 1; the batch is written earlier when full or when every page of the process is waiting for it.",
  },
} as const satisfies Record<string, SettingSpec>;

export type SettingSpec =
  | { readonly type: "boolean"; readonly default: boolean; readonly doc: string }
  | { readonly type: "integer"; readonly min: number; readonly max: number; readonly default: number; readonly doc: string }
  | { readonly type: "string"; readonly default: string; readonly doc: string; readonly header?: true }
  | { readonly type: "string[]"; readonly default: readonly string[]; readonly doc: string; readonly header?: true };

type ValueOf<S> = S extends { type: "boolean" }
  ? boolean
  : S extends { type: "integer" }
    ? number
    : S extends { type: "string" }
      ? string
      : readonly string[];

export type SettingKey = keyof typeof SETTINGS_SPEC;

/** The fleet's runtime settings, every key present. */
export type FleetSettings = { readonly [K in SettingKey]: ValueOf<(typeof SETTINGS_SPEC)[K]> };

export const SETTING_KEYS = Object.keys(SETTINGS_SPEC) as SettingKey[];

export const DEFAULT_SETTINGS: FleetSettings = Object.freeze(
  Object.fromEntries(SETTING_KEYS.map((key) => [key, SETTINGS_SPEC[key].default])) as unknown as FleetSettings,
);

/**
 * Validates a settings document (a partial object; missing keys take their
 * defaults) and returns the full settings.
 *
 * Throws `SettingsError` listing every bad key with its value and the fix, so
 * one read shows everything that needs changing. `source` names where the
 * document came from (a file, a store) for the message.
 */
export function parseSettings(document: unknown, source = "settings"): FleetSettings {
  if (typeof document !== "object" || document === null || Array.isArray(document)) {
    throw new SettingsError(source, [{ key: "(document)", value: document, problem: "must be a JSON object", fix: 'write an object such as {"concurrency": 8}' }]);
  }
  const input = document as Record<string, unknown>;
  const issues: SettingIssue[] = [];
  const merged: Record<string, unknown> = { ...DEFAULT_SETTINGS };

  for (const [key, value] of Object.entries(input)) {
    if (!(key in SETTINGS_SPEC)) {
      issues.push({ key, value, problem: "is not a runtime setting", fix: `remove it, or use one of: ${SETTING_KEYS.join(", ")}` });
      continue;
    }
    const issue = checkValue(key as SettingKey, value);
    if (issue) issues.push(issue);
    else merged[key] = value;
  }

  const settings = merged as FleetSettings;
  if (issues.length === 0 && settings.maxDecodedBytes < settings.maxBodyBytes) {
    issues.push({ key: "maxDecodedBytes", value: settings.maxDecodedBytes, problem: `is below maxBodyBytes (${settings.maxBodyBytes})`, fix: "set it at least as large as maxBodyBytes" });
  }
  if (issues.length > 0) throw new SettingsError(source, issues);
  return settings;
}

function checkValue(key: SettingKey, value: unknown): SettingIssue | undefined {
  const spec: SettingSpec = SETTINGS_SPEC[key];
  switch (spec.type) {
    case "boolean":
      return typeof value === "boolean" ? undefined : { key, value, problem: "must be true or false", fix: `set it to true or false (default ${spec.default})` };
    case "integer":
      return typeof value === "number" && Number.isInteger(value) && value >= spec.min && value <= spec.max
        ? undefined
        : { key, value, problem: `must be an integer from ${spec.min} to ${spec.max}`, fix: `set a value in range (default ${spec.default})` };
    case "string":
      if (typeof value !== "string" || !isSingleLine(value)) {
        return { key, value, problem: "must be a single-line string of at most 512 characters", fix: `set a string such as ${JSON.stringify(spec.default || "ops@example.com")}` };
      }
      return spec.header && !isHeaderSafe(value) ? headerIssue(key, value) : undefined;
    case "string[]":
      if (!Array.isArray(value) || !value.every((item) => typeof item === "string" && item.trim() !== "" && isSingleLine(item))) {
        return { key, value, problem: "must be a list of non-empty single-line strings of at most 512 characters", fix: `set a list such as ${JSON.stringify(["example.com"])}` };
      }
      return spec.header && !value.every(isHeaderSafe) ? headerIssue(key, value) : undefined;
  }
}

/** Values end up in HTTP headers (User-Agent, Accept), where a line break would break every request. */
function isSingleLine(value: string): boolean {
  return value.length <= 512 && !/[\r\n]/.test(value);
}

/**
 * Values sent in a request header must be printable ASCII: undici refuses any
 * other character, which would fail every fetch of the fleet.
 * https://www.rfc-editor.org/rfc/rfc9110#name-field-values
 */
const HEADER_SAFE_PATTERN = "^[\\t\\x20-\\x7e]*$";
const HEADER_SAFE = new RegExp(HEADER_SAFE_PATTERN);

function isHeaderSafe(value: string): boolean {
  return HEADER_SAFE.test(value);
}

function headerIssue(key: string, value: unknown): SettingIssue {
  return { key, value, problem: "must be printable ASCII: it is sent in a request header", fix: "remove other characters; write an international domain in its xn-- form" };
}

/** A JSON Schema (draft 2020-12) for the settings document, for config stores that validate on write. */
export function settingsJsonSchema(): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  for (const key of SETTING_KEYS) {
    const spec: SettingSpec = SETTINGS_SPEC[key];
    const base = { description: spec.doc, default: spec.default };
    switch (spec.type) {
      case "boolean":
        properties[key] = { ...base, type: "boolean" };
        break;
      case "integer":
        properties[key] = { ...base, type: "integer", minimum: spec.min, maximum: spec.max };
        break;
      case "string":
        properties[key] = { ...base, type: "string", maxLength: 512, ...(spec.header ? { pattern: HEADER_SAFE_PATTERN } : {}) };
        break;
      case "string[]":
        properties[key] = { ...base, type: "array", items: { type: "string", minLength: 1, ...(spec.header ? { pattern: HEADER_SAFE_PATTERN } : {}) } };
        break;
    }
  }
  return { $schema: "https://json-schema.org/draft/2020-12/schema", type: "object", additionalProperties: false, properties };
}

/** Where the settings document lives: each cloud implements this with its config store. */
export interface SettingsSource {
  /** A name for messages, such as `ssm:/scrape-fleet/prod/settings`. */
  readonly name: string;
  /** Reads the current document (a JSON object, or its text). */
  read(): Promise<unknown>;
}

export interface SettingsCacheOptions {
  readonly source: SettingsSource;
  /** Called when a read or a document fails. */
  readonly onError?: (error: unknown) => void;
  /** Clock in milliseconds. @default Date.now */
  readonly now?: () => number;
}

/**
 * How long a cache that has never read good settings waits before it asks the
 * store again. Every batch in that time is sent back at once, so a throttled
 * or not-yet-granted store is asked a few times a minute per worker, not once
 * per batch.
 */
export const UNAVAILABLE_RETRY_MS = 5_000;

/**
 * Settings read through a TTL cache, so a change in the store takes effect
 * within `settingsTtlMs` with no redeploy. Concurrent callers share one read.
 *
 * It fails closed: until the first good read, `get()` rejects with a
 * `settings_unavailable` `ScrapeError` (a retry), so a worker that cannot read
 * its settings never scrapes on built-in defaults: a paused fleet stays
 * paused and blocked domains stay blocked while a grant is still spreading or
 * the parameter is gone. After a good read, a failed read or an invalid
 * document keeps the last good settings, the operator's last word, in force.
 * Every failure is reported through `onError`.
 */
export class SettingsCache {
  private current: FleetSettings | undefined;
  private fetchedAt = Number.NEGATIVE_INFINITY;
  private unavailable: ScrapeError | undefined;
  private inFlight: Promise<FleetSettings> | undefined;
  private readonly now: () => number;

  constructor(private readonly options: SettingsCacheOptions) {
    this.now = options.now ?? Date.now;
  }

  async get(): Promise<FleetSettings> {
    const age = this.now() - this.fetchedAt;
    if (this.current !== undefined && age < this.current.settingsTtlMs) return this.current;
    if (this.current === undefined && this.unavailable !== undefined && age < UNAVAILABLE_RETRY_MS) throw this.unavailable;
    this.inFlight ??= this.refresh().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async refresh(): Promise<FleetSettings> {
    try {
      this.current = parseSettingsDocument(await this.options.source.read(), this.options.source.name);
      this.unavailable = undefined;
    } catch (error) {
      this.options.onError?.(error);
      if (this.current === undefined) {
        this.unavailable = new ScrapeError(
          "settings_unavailable",
          `no good settings have been read from ${this.options.source.name} yet (${describeError(error)}), so this worker does not scrape on defaults; the message goes back to the queue. Fix: see the settings_invalid or settings_unreadable log line`,
          { cause: error },
        );
      }
    } finally {
      this.fetchedAt = this.now();
    }
    if (this.current === undefined) throw this.unavailable;
    return this.current;
  }
}

/** What an operator does about a settings error, by its kind. */
export interface SettingsErrorFixes {
  /** For a document that does not validate (`settings_invalid`). */
  readonly invalid: string;
  /** For a store that could not be read (`settings_unreadable`). */
  readonly unreadable: string;
}

/**
 * A `SettingsCache` `onError` that logs one error line naming the source: a
 * document that does not validate as `settings_invalid`, with every bad key,
 * its value and fix; a failed read as `settings_unreadable`. The two are told
 * apart because the fix differs.
 */
export function settingsErrorLogger(logger: Logger, source: string, fixes: SettingsErrorFixes): (error: unknown) => void {
  return (error) => {
    const invalid = error instanceof SettingsError;
    logger.log("error", invalid ? "settings_invalid" : "settings_unreadable", {
      source,
      error: describeError(error),
      ...(invalid ? { issues: error.issues } : {}),
      fix: invalid ? fixes.invalid : fixes.unreadable,
    });
  };
}

/**
 * Validates a settings document as a `SettingsSource` reads it: JSON text, or
 * a value already decoded. Throws `SettingsError` as `parseSettings` does, and
 * for text that is not JSON.
 */
export function parseSettingsDocument(raw: unknown, source: string): FleetSettings {
  return parseSettings(typeof raw === "string" ? parseJsonText(raw, source) : raw, source);
}

function parseJsonText(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new SettingsError(source, [{ key: "(document)", value: text.slice(0, 80), problem: `is not JSON (${describeError(error)})`, fix: 'write a JSON object such as {"concurrency": 8}' }]);
  }
}
