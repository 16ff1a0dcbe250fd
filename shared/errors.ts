/**
 * Every way a page can end other than `ok`, as a stable code with the outcome it
 * leads to. Codes are part of the result record and of the metrics, so they
 * never change meaning; add new ones instead.
 *
 * - `retry`: transient. The queue redelivers the message (and dead-letters it
 *   after the configured number of attempts).
 * - `failed`: permanent. A failure record is stored under the URL's key and the
 *   message is not retried.
 * - `malformed`: the message itself cannot be read, so there is no URL to key a
 *   record by. It goes to the dead-letter path with its reason.
 */
export const ERROR_CODES = {
  // The message.
  message_not_json: "malformed",
  message_not_object: "malformed",
  message_missing_url: "malformed",
  message_invalid_field: "malformed",
  message_unsupported_version: "malformed",
  message_too_large: "malformed",
  url_invalid: "failed",
  url_scheme_not_allowed: "failed",
  url_credentials_not_allowed: "failed",

  // Policy.
  ssrf_refused: "failed",
  domain_blocked: "failed",
  robots_disallowed: "failed",
  robots_unavailable: "retry",
  fleet_paused: "retry",
  domain_delay: "retry",

  // The fetch.
  dns_failed: "retry",
  connect_failed: "retry",
  connect_timeout: "retry",
  headers_timeout: "retry",
  body_timeout: "retry",
  page_deadline: "retry",
  connection_reset: "retry",
  tls_failed: "failed",
  too_many_redirects: "failed",
  redirect_loop: "failed",
  redirect_invalid: "failed",
  http_4xx: "failed",
  http_429: "retry",
  http_5xx: "retry",
  too_large: "failed",
  decoded_too_large: "failed",
  content_encoding_invalid: "failed",
  content_type_not_allowed: "failed",

  // The worker.
  worker_deadline: "retry",
  store_failed: "retry",
  settings_unavailable: "retry",
  internal_error: "retry",
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;
export type FailureKind = (typeof ERROR_CODES)[ErrorCode];

/** The outcome kind a code leads to. */
export function kindOf(code: ErrorCode): FailureKind {
  return ERROR_CODES[code];
}

/**
 * The one error type the core throws for a page that did not end `ok`.
 * `code` is stable and machine-readable; `message` is for people and names the
 * value and, where there is one, the fix.
 */
export class ScrapeError extends Error {
  readonly code: ErrorCode;
  /** For `http_429` and `http_5xx`: how long the server asked us to wait. */
  readonly retryAfterMs?: number;
  /** The HTTP status when the error came from a response. */
  readonly httpStatus?: number;

  constructor(code: ErrorCode, message: string, details: { retryAfterMs?: number; httpStatus?: number; cause?: unknown } = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = "ScrapeError";
    this.code = code;
    this.retryAfterMs = details.retryAfterMs;
    this.httpStatus = details.httpStatus;
  }

  get kind(): FailureKind {
    return kindOf(this.code);
  }
}

/** One invalid runtime or stack setting: the key, the value given and how to fix it. */
export interface SettingIssue {
  readonly key: string;
  readonly value: unknown;
  readonly problem: string;
  readonly fix: string;
}

/** A settings document (runtime settings or stack config) that did not validate. */
export class SettingsError extends Error {
  readonly code = "settings_invalid";
  readonly issues: readonly SettingIssue[];

  constructor(source: string, issues: readonly SettingIssue[]) {
    super(`${source}: ${issues.map(formatIssue).join("; ")}`);
    this.name = "SettingsError";
    this.issues = issues;
  }
}

export function formatIssue(issue: SettingIssue): string {
  return `\`${issue.key}\` ${issue.problem} (${issue.value === undefined ? "not set" : `given ${JSON.stringify(issue.value)}`}); ${issue.fix}`;
}

/** A readable message for anything thrown, without `as Error` casts. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
