/**
 * robots.txt per origin, as RFC 9309 asks: https://www.rfc-editor.org/rfc/rfc9309
 *
 * | robots.txt fetch                                  | verdict for every URL of the origin            | cached for         |
 * |---------------------------------------------------|------------------------------------------------|--------------------|
 * | 2xx                                               | its rules, for our product token or else `*`   | `robotsCacheTtlMs` |
 * | 3xx not followed, 4xx (401 and 403 too)           | allowed ("unavailable", §2.3.1.3)              | `robotsCacheTtlMs` |
 * | too many / looping / invalid redirects            | allowed (§2.3.1.2 lets us call it unavailable) | `robotsCacheTtlMs` |
 * | 429, 5xx, any fetch error of kind `retry`         | `robots_unavailable` ("unreachable", §2.3.1.4) | min(ttl, 60 s)     |
 * | other fetch errors (`ssrf_refused`, `tls_failed`) | the fetcher's `ScrapeError`, rethrown          | not cached         |
 *
 * 401 and 403 allow everything: RFC 9309 §2.3.1.3 puts every 4xx in
 * "unavailable", unlike the 1994 draft that treated them as a full disallow.
 *
 * A refusal such as `ssrf_refused` or `tls_failed` is rethrown rather than
 * turned into a verdict: the page fetch would meet the same refusal, so the
 * record carries the real cause and no page is fetched on the strength of a
 * robots.txt nobody could read.
 */
import { TextDecoder } from "node:util";
import robotsParser from "robots-parser";
import { ScrapeError } from "./errors";
import type { FetchedPage, PageFetcher } from "./page";
import type { FleetSettings } from "./settings";

export type RobotsVerdict = { readonly allowed: true } | { readonly allowed: false; readonly code: "robots_disallowed" | "robots_unavailable"; readonly reason: string };

type Robot = ReturnType<typeof robotsParser>;

export interface RobotsCacheOptions {
  /** Fetches `<origin>/robots.txt` with `purpose: "robots"` (redirects and the SSRF guard included). */
  readonly fetcher: PageFetcher;
  /** Clock in milliseconds. @default Date.now */
  readonly now?: () => number;
  /** Origins kept; the least recently fetched is dropped first. 1 or more. @default 10_000 */
  readonly maxOrigins?: number;
  /**
   * Sum of robots.txt body sizes kept, in bytes, so a fleet meeting many huge
   * robots.txt files cannot fill the memory. @default 32 MiB
   */
  readonly maxCachedBytes?: number;
}

/**
 * How long an "unreachable" answer is reused. Short, because the cause (a 5xx,
 * a timeout) is usually transient and the message comes back from the queue
 * to be tried again; long enough that a burst of URLs for a struggling origin
 * asks it for robots.txt once rather than once per URL.
 */
export const UNREACHABLE_CACHE_MS = 60_000;

const ALLOWED: RobotsVerdict = Object.freeze({ allowed: true });

/** Redirect failures RFC 9309 §2.3.1.2 lets a crawler treat as "unavailable". */
const REDIRECT_FAILURES: ReadonlySet<string> = new Set(["too_many_redirects", "redirect_loop", "redirect_invalid"]);

/** What one robots.txt fetch decided for its origin. */
type OriginRules =
  | { readonly kind: "rules"; readonly robot: Robot; readonly bytes: number }
  | { readonly kind: "allowAll" }
  | { readonly kind: "unreachable"; readonly why: string }
  | { readonly kind: "refused"; readonly error: unknown };

interface CacheEntry {
  readonly rules: OriginRules;
  readonly fetchedAt: number;
}

/**
 * robots.txt verdicts with one cache per worker process. Concurrent checks for
 * one origin share a single fetch; that fetch is bound by the fetcher's
 * `pageDeadlineMs`, not by any caller's signal, so one caller giving up does
 * not fail the others.
 */
export class RobotsCache {
  private readonly fetcher: PageFetcher;
  private readonly now: () => number;
  private readonly maxOrigins: number;
  private readonly maxCachedBytes: number;
  /** Insertion order is fetch order, so the first key is the oldest. */
  private readonly entries = new Map<string, CacheEntry>();
  private readonly inFlight = new Map<string, Promise<OriginRules>>();
  private cachedBytes = 0;

  constructor(options: RobotsCacheOptions) {
    this.fetcher = options.fetcher;
    this.now = options.now ?? Date.now;
    this.maxOrigins = options.maxOrigins ?? 10_000;
    this.maxCachedBytes = options.maxCachedBytes ?? 32 * 1024 * 1024;
    if (!Number.isInteger(this.maxOrigins) || this.maxOrigins < 1) {
      throw new RangeError(`RobotsCache \`maxOrigins\` must be an integer of at least 1 (given ${this.maxOrigins})`);
    }
    if (!(this.maxCachedBytes >= 0)) {
      throw new RangeError(`RobotsCache \`maxCachedBytes\` must be 0 or more (given ${this.maxCachedBytes})`);
    }
  }

  /**
   * Whether `url` may be fetched under its origin's robots.txt. Throws the
   * fetcher's `ScrapeError` for a refusal that is not about robots.txt (see
   * the module comment), and `signal.reason` when `signal` aborts first.
   */
  async check(url: string, settings: FleetSettings, signal?: AbortSignal): Promise<RobotsVerdict> {
    if (!settings.respectRobots) return ALLOWED;
    const target = parseHttpUrl(url);
    // RFC 9309 §2.2.2: "The /robots.txt URI is implicitly allowed."
    if (target.pathname === "/robots.txt") return ALLOWED;

    const rules = this.fresh(target.origin, settings) ?? (await untilAborted(this.load(target.origin, settings), signal));
    return verdictFor(rules, target, productToken(settings.userAgent));
  }

  private fresh(origin: string, settings: FleetSettings): OriginRules | undefined {
    const entry = this.entries.get(origin);
    if (entry === undefined) return undefined;
    const ttl = entry.rules.kind === "unreachable" ? Math.min(settings.robotsCacheTtlMs, UNREACHABLE_CACHE_MS) : settings.robotsCacheTtlMs;
    if (this.now() - entry.fetchedAt < ttl) return entry.rules;
    this.forget(origin);
    return undefined;
  }

  private load(origin: string, settings: FleetSettings): Promise<OriginRules> {
    const pending = this.inFlight.get(origin);
    if (pending) return pending;
    const loading = this.fetchRules(origin, settings)
      .catch((error: unknown): OriginRules => ({ kind: "refused", error }))
      .then((rules) => {
        this.inFlight.delete(origin);
        if (rules.kind !== "refused") this.remember(origin, rules);
        return rules;
      });
    this.inFlight.set(origin, loading);
    return loading;
  }

  /** Every fetch outcome, fetch errors included, becomes `OriginRules`. */
  private async fetchRules(origin: string, settings: FleetSettings): Promise<OriginRules> {
    const robotsUrl = `${origin}/robots.txt`;
    let page: FetchedPage;
    try {
      // No caller's signal: the fetch is shared, and the fetcher's own pageDeadlineMs bounds it.
      page = await this.fetcher.fetch(robotsUrl, { settings, purpose: "robots" });
    } catch (error) {
      return rulesForFetchError(robotsUrl, error);
    }
    const { status } = page;
    if (status >= 200 && status < 300) {
      // RFC 9309 §2.3: the file is UTF-8; TextDecoder drops a BOM and replaces invalid bytes.
      return { kind: "rules", robot: robotsParser(robotsUrl, new TextDecoder("utf-8").decode(page.body)), bytes: page.body.byteLength };
    }
    if (status >= 300 && status < 500 && status !== 429) return { kind: "allowAll" };
    return { kind: "unreachable", why: `${robotsUrl} answered ${status}` };
  }

  private remember(origin: string, rules: OriginRules): void {
    this.forget(origin);
    this.entries.set(origin, { rules, fetchedAt: this.now() });
    this.cachedBytes += weightOf(rules);
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= this.maxOrigins && this.cachedBytes <= this.maxCachedBytes) break;
      this.forget(oldest);
    }
  }

  private forget(origin: string): void {
    const entry = this.entries.get(origin);
    if (entry === undefined) return;
    this.entries.delete(origin);
    this.cachedBytes -= weightOf(entry.rules);
  }
}

function rulesForFetchError(robotsUrl: string, error: unknown): OriginRules {
  if (!(error instanceof ScrapeError)) return { kind: "refused", error };
  if (REDIRECT_FAILURES.has(error.code)) return { kind: "allowAll" };
  if (error.kind === "retry") return { kind: "unreachable", why: `${robotsUrl}: ${error.message}` };
  return {
    kind: "refused",
    error: new ScrapeError(error.code, `fetching ${robotsUrl} before the page: ${error.message}`, { httpStatus: error.httpStatus, retryAfterMs: error.retryAfterMs, cause: error }),
  };
}

function verdictFor(rules: OriginRules, target: URL, agent: string): RobotsVerdict {
  switch (rules.kind) {
    case "allowAll":
      return ALLOWED;
    case "refused":
      throw rules.error;
    case "unreachable":
      return {
        allowed: false,
        code: "robots_unavailable",
        reason: `robots.txt of ${target.origin} could not be fetched (${rules.why}); RFC 9309 treats that as disallow-all, so the page is retried later`,
      };
    case "rules": {
      // isAllowed is undefined only for a URL of another origin, which cannot happen here; fail closed anyway.
      if (rules.robot.isAllowed(target.href, agent) === true) return ALLOWED;
      const line = rules.robot.getMatchingLineNumber(target.href, agent);
      return {
        allowed: false,
        code: "robots_disallowed",
        reason: `robots.txt of ${target.origin} disallows ${target.pathname}${target.search} for user-agent "${agent}" (line ${line}); set runtime setting \`respectRobots\` to false only for sites you are permitted to crawl`,
      };
    }
  }
}

/**
 * The product token robots.txt groups are matched against: `userAgent` up to
 * its first `/` or space (`scrape-fleet/0.1` → `scrape-fleet`). robots-parser
 * then compares it case-insensitively with each `User-agent:` line, which is
 * RFC 9309 §2.2.1, and falls back to the `*` group when no line names it.
 */
export function productToken(userAgent: string): string {
  const token = userAgent.trim().split(/[/\s]/, 1)[0];
  return token === "" ? "*" : token;
}

function parseHttpUrl(url: string): URL {
  const parsed = URL.parse(url);
  if (parsed === null) throw new ScrapeError("url_invalid", `${JSON.stringify(url)} is not an absolute URL; robots.txt cannot be looked up for it`);
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new ScrapeError("url_scheme_not_allowed", `${JSON.stringify(url)} uses ${parsed.protocol}; robots.txt exists only for http: and https:`);
  }
  return parsed;
}

function weightOf(rules: OriginRules): number {
  return rules.kind === "rules" ? rules.bytes : 0;
}

/** `promise`, or a rejection with `signal.reason` as soon as `signal` aborts. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    void promise.then((value) => {
      signal.removeEventListener("abort", onAbort);
      resolve(value);
    });
  });
}
