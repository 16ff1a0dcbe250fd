/**
 * robots.txt per origin, as RFC 9309 asks: https://www.rfc-editor.org/rfc/rfc9309
 *
 * | robots.txt fetch                                              | verdict for every URL of the origin            | cached for         |
 * |---------------------------------------------------------------|------------------------------------------------|--------------------|
 * | 2xx                                                           | its rules, for our product token or else `*`   | `robotsCacheTtlMs` |
 * | 4xx (401 and 403 too)                                         | allowed ("unavailable", §2.3.1.3)              | `robotsCacheTtlMs` |
 * | a 3xx not followed; too many, looping or invalid redirects;   | allowed (§2.3.1.2 lets us call it unavailable) | `robotsCacheTtlMs` |
 * | a redirect hop the fetcher refuses (`RedirectRefusedError`)   |                                                |                    |
 * | the host cannot be reached: `dns_failed`, `connect_failed`,   | that code (the host is "unreachable",          | min(ttl, 60 s)     |
 * | `connect_timeout`                                             | §2.3.1.4), so the record names the real cause  |                    |
 * | 429, 5xx, any other fetch error of kind `retry`               | `robots_unavailable` ("unreachable", §2.3.1.4) | min(ttl, 60 s)     |
 * | other fetch errors (`ssrf_refused` for the origin itself,     | the fetcher's `ScrapeError`, rethrown          | not cached         |
 * | `tls_failed`)                                                 |                                                |                    |
 *
 * 401 and 403 allow everything: RFC 9309 §2.3.1.3 puts every 4xx in
 * "unavailable", unlike the 1994 draft that treated them as a full disallow.
 *
 * A robots.txt that redirects to a target the fetcher refuses (the metadata
 * address, `ftp:`, a URL with credentials) is a robots.txt the crawler cannot
 * reach through its redirects, which §2.3.1.2 lets it treat as unavailable:
 * the page's own origin passed the guard, and the page fetch is still checked
 * on its own. https://www.rfc-editor.org/rfc/rfc9309#section-2.3.1.2
 *
 * A refusal of the robots.txt URL itself (its origin resolves to a refused
 * address, `tls_failed`) is rethrown rather than turned into a verdict: the
 * page fetch would meet the same refusal, so the record carries the real
 * cause and no page is fetched on the strength of a robots.txt nobody could
 * read.
 *
 * robots-parser files every Allow/Disallow line once per User-agent line open
 * above it, repeats included, so N `User-agent: *` lines followed by M rules
 * build N×M rule objects (a 128 KiB file: 11 s and 2 GiB of heap). Only our
 * product token's group and `*` are ever looked up, so before parsing every
 * other agent is folded into one placeholder and each agent is named once per
 * run of User-agent lines (`compactForAgent`): every rule is then stored at
 * most three times, and the verdicts do not change.
 */
import { TextDecoder } from "node:util";
import robotsParser from "robots-parser";
import { ScrapeError, type ErrorCode } from "./errors";
import { RedirectRefusedError } from "./fetcher";
import type { FetchedPage, PageFetcher } from "./page";
import { abandonOnAbort } from "./ports";
import type { FleetSettings } from "./settings";

/**
 * Fetch errors that say the page's host cannot be reached at all: met on
 * robots.txt, they are the page's real cause too (a typo'd host, a closed
 * port), so the verdict carries them instead of `robots_unavailable`, which
 * stays for a host that answers but does not serve its robots.txt.
 */
const HOST_UNREACHABLE_CODES = new Set(["dns_failed", "connect_failed", "connect_timeout"] as const satisfies readonly ErrorCode[]);
type HostUnreachableCode = typeof HOST_UNREACHABLE_CODES extends Set<infer Code> ? Code : never;

export type RobotsVerdict =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly code: "robots_disallowed" | "robots_unavailable" | HostUnreachableCode; readonly reason: string };

type Robot = ReturnType<typeof robotsParser>;

export interface RobotsCacheOptions {
  /** Fetches `<origin>/robots.txt` with `purpose: "robots"` (redirects and the SSRF guard included). */
  readonly fetcher: PageFetcher;
  /** Clock in milliseconds. @default Date.now */
  readonly now?: () => number;
  /**
   * Origins kept (an origin read for two product tokens counts twice); the
   * least recently fetched is dropped first. 1 or more. @default 10_000
   */
  readonly maxOrigins?: number;
  /**
   * Estimated heap held by the cached rules, in bytes, so a fleet meeting many
   * huge robots.txt files cannot fill the memory. An origin weighs its body
   * bytes (sitemaps and the like are kept once) plus its rules'
   * `CompactedRobotsTxt.ruleHeapBytes`: a few kilobytes for a typical file,
   * 1 to 13 MiB for a 512 KiB one. 0 or more. @default 32 MiB
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

/**
 * Redirect failures RFC 9309 §2.3.1.2 lets a crawler treat as "unavailable";
 * the fetcher reports a final 3xx it cannot follow as `redirect_invalid`.
 */
const REDIRECT_FAILURES: ReadonlySet<string> = new Set(["too_many_redirects", "redirect_loop", "redirect_invalid"]);

/** What one robots.txt fetch decided for its origin. */
type OriginRules =
  | { readonly kind: "rules"; readonly robot: Robot; readonly weight: number }
  | { readonly kind: "allowAll" }
  | { readonly kind: "unreachable"; readonly why: string; readonly code: "robots_unavailable" | HostUnreachableCode }
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
  /**
   * Keyed by origin and product token (`cacheKey`), since the parsed rules
   * keep only that token's group. Insertion order is fetch order, so the
   * first key is the oldest.
   */
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

    const agent = productToken(settings.userAgent);
    const key = cacheKey(target.origin, agent);
    const rules = this.fresh(key, settings) ?? (await abandonOnAbort(this.load(key, target.origin, agent, settings), signal));
    return verdictFor(rules, target, agent);
  }

  private fresh(key: string, settings: FleetSettings): OriginRules | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    const ttl = entry.rules.kind === "unreachable" ? Math.min(settings.robotsCacheTtlMs, UNREACHABLE_CACHE_MS) : settings.robotsCacheTtlMs;
    if (this.now() - entry.fetchedAt < ttl) return entry.rules;
    this.forget(key);
    return undefined;
  }

  private load(key: string, origin: string, agent: string, settings: FleetSettings): Promise<OriginRules> {
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const loading = this.fetchRules(origin, agent, settings)
      .catch((error: unknown): OriginRules => ({ kind: "refused", error }))
      .then((rules) => {
        this.inFlight.delete(key);
        if (rules.kind !== "refused") this.remember(key, rules);
        return rules;
      });
    this.inFlight.set(key, loading);
    return loading;
  }

  /** Every fetch outcome, fetch errors included, becomes `OriginRules`. */
  private async fetchRules(origin: string, agent: string, settings: FleetSettings): Promise<OriginRules> {
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
      const compacted = compactForAgent(new TextDecoder("utf-8").decode(page.body), agent);
      return { kind: "rules", robot: robotsParser(robotsUrl, compacted.text), weight: page.body.byteLength + compacted.ruleHeapBytes };
    }
    if (status >= 300 && status < 500 && status !== 429) return { kind: "allowAll" };
    return { kind: "unreachable", why: `${robotsUrl} answered ${status}`, code: "robots_unavailable" };
  }

  private remember(key: string, rules: OriginRules): void {
    this.forget(key);
    this.entries.set(key, { rules, fetchedAt: this.now() });
    this.cachedBytes += weightOf(rules);
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= this.maxOrigins && this.cachedBytes <= this.maxCachedBytes) break;
      this.forget(oldest);
    }
  }

  private forget(key: string): void {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    this.entries.delete(key);
    this.cachedBytes -= weightOf(entry.rules);
  }
}

/** A space never occurs in an origin or a product token. */
function cacheKey(origin: string, agent: string): string {
  return `${origin} ${agent}`;
}

function rulesForFetchError(robotsUrl: string, error: unknown): OriginRules {
  if (!(error instanceof ScrapeError)) return { kind: "refused", error };
  // A refusal on a redirect hop leaves robots.txt unreachable through its redirects (§2.3.1.2);
  // the same code for the robots.txt URL itself is a refusal of the origin, rethrown below.
  if (REDIRECT_FAILURES.has(error.code) || error instanceof RedirectRefusedError) return { kind: "allowAll" };
  if (error.kind === "retry") {
    const code = (HOST_UNREACHABLE_CODES as ReadonlySet<ErrorCode>).has(error.code) ? (error.code as HostUnreachableCode) : "robots_unavailable";
    return { kind: "unreachable", why: `${robotsUrl}: ${error.message}`, code };
  }
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
      if (rules.code !== "robots_unavailable") {
        return { allowed: false, code: rules.code, reason: `${target.host} cannot be reached (${rules.why}, met fetching robots.txt before the page); the page is retried later` };
      }
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

/**
 * Heap taken by one rule copy robots-parser stores, besides its pattern's
 * characters: measured under Node 22 at 51 bytes for a one-character pattern
 * and 71 to 79 bytes for short ones (rule object, array slot, string header).
 */
const RULE_COPY_BYTES = 80;

/**
 * Heap per UTF-8 byte of a stored pattern: robots-parser percent-encodes it,
 * which makes up to three characters of a byte; measured 1.1 for ASCII and
 * up to 3.9 for CJK patterns (three copies of a 512 KiB pattern held 6.1 MiB).
 */
const PATTERN_BYTE_WEIGHT = 4;

/**
 * Stands for every agent other than ours and `*`. The space keeps it apart
 * from any product token, which `productToken` cuts at the first space.
 */
const OTHER_AGENTS = "other agents";

/** What `compactForAgent` hands to robots-parser. */
export interface CompactedRobotsTxt {
  /** The file with as many lines as before, so robots-parser's line numbers still point at the site's lines. */
  readonly text: string;
  /**
   * Estimated heap of the rules robots-parser will store for `text`: per
   * rule copy `RULE_COPY_BYTES` plus `PATTERN_BYTE_WEIGHT` bytes per UTF-8
   * byte of the pattern.
   */
  readonly ruleHeapBytes: number;
}

/**
 * robots.txt as robots-parser 3.0.1 would read it for `agent` alone, in a form
 * that stores every rule at most three times (once each for `agent`, `*` and
 * the placeholder for all other agents):
 *
 * - a User-agent line naming neither `agent` nor `*` names the placeholder;
 * - a User-agent line naming an agent already named in the same run of
 *   User-agent lines becomes a blank line.
 *
 * The verdict for `agent` cannot change: robots-parser looks up `agent`'s
 * group or else `*`, the rules stay in the groups that are looked up, and a
 * group of other agents stays a group (of the placeholder), so its rules still
 * do not fall into the group above it. Run boundaries follow the parser
 * (Robots.js, parseRobots): blank lines, comment-only lines, lines without a
 * colon and lines with an empty field name are skipped and do not end a run;
 * any other line does. https://github.com/samclarke/robots-parser/blob/master/Robots.js
 */
export function compactForAgent(robotsTxt: string, agent: string): CompactedRobotsTxt {
  const ours = agentName(agent);
  // The parser's own line split, so line numbers match.
  const lines = robotsTxt.split(/\r\n|\r|\n/);
  // The agents the rules below the current run are filed under.
  let runAgents = new Set<string>();
  let inUserAgentRun = false;
  let ruleHeapBytes = 0;

  for (let index = 0; index < lines.length; index++) {
    const directive = parseDirective(lines[index]);
    if (directive === undefined) continue;
    const isUserAgent = directive.field === "user-agent";
    if (isUserAgent) {
      if (!inUserAgentRun) runAgents = new Set();
      if (directive.value !== "") {
        const named = agentName(directive.value);
        const kept = named === ours || named === "*" ? named : OTHER_AGENTS;
        lines[index] = runAgents.has(kept) ? "" : `User-agent: ${kept}`;
        runAgents.add(kept);
      }
    } else if ((directive.field === "allow" || directive.field === "disallow") && directive.value !== "") {
      ruleHeapBytes += runAgents.size * (RULE_COPY_BYTES + PATTERN_BYTE_WEIGHT * Buffer.byteLength(directive.value));
    }
    inUserAgentRun = isUserAgent;
  }
  return { text: lines.join("\n"), ruleHeapBytes };
}

/** A line as robots-parser reads it: comment cut, split at the first colon, both sides trimmed; undefined for a line it skips. */
function parseDirective(line: string): { readonly field: string; readonly value: string } | undefined {
  const comment = line.indexOf("#");
  const content = comment === -1 ? line : line.slice(0, comment);
  const colon = content.indexOf(":");
  if (colon === -1) return undefined;
  const field = content.slice(0, colon).trim();
  if (field === "") return undefined;
  return { field: field.toLowerCase(), value: content.slice(colon + 1).trim() };
}

/** An agent name as robots-parser compares it: lower case, cut at the first `/` (a version), trimmed. */
function agentName(value: string): string {
  const lower = value.toLowerCase();
  const slash = lower.indexOf("/");
  return (slash === -1 ? lower : lower.slice(0, slash)).trim();
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
  return rules.kind === "rules" ? rules.weight : 0;
}
