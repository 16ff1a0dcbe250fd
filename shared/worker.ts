/**
 * The scrape core's entry point: a batch of queue messages in, one outcome per
 * message out. Every runtime (local, AWS, Azure, Google Cloud) calls this and
 * only maps the outcomes to its queue's answer.
 */
import type { LookupFunction } from "node:net";
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import { ScrapeError, describeError, kindOf, type ErrorCode } from "./errors";
import { extractPage } from "./extract";
import { createFetcher } from "./fetcher";
import { parseMessage, type ScrapeMessage } from "./message";
import type { ItemOutcome, Outcome, QueueItem } from "./outcome";
import type { Extractor, FetchedPage, PageFetcher } from "./page";
import { HostPacer, isBlockedHost } from "./politeness";
import { noMetrics, silentLogger, type Logger, type Metrics, type ResultStore } from "./ports";
import { RESULT_SCHEMA, contentHash, rawHtmlKey, resultKey, type ResultRecord } from "./result";
import { RobotsCache } from "./robots";
import { checkUrl, withoutCredentials } from "./ssrf";
import type { FleetSettings } from "./settings";

const gzipAsync = promisify(gzip);

export interface WorkerOptions {
  /** Current runtime settings; usually a `SettingsCache` over the cloud's config store. */
  readonly settings: { get(): Promise<FleetSettings> };
  readonly results: ResultStore;
  /** @default a fetcher built from `allowPrivateNetworks` and `lookup` */
  readonly fetcher?: PageFetcher;
  /** @default extractPage */
  readonly extract?: Extractor;
  readonly logger?: Logger;
  readonly metrics?: Metrics;
  /**
   * The SSRF guard's operator switch: also allow loopback and private networks
   * (never link-local or cloud metadata). For local testing only.
   * @default false
   */
  readonly allowPrivateNetworks?: boolean;
  /** Resolver used by the SSRF guard. @default dns.lookup */
  readonly lookup?: LookupFunction;
  /** Clock in epoch milliseconds. @default Date.now */
  readonly now?: () => number;
}

export interface BatchOptions {
  /**
   * Epoch milliseconds by which the batch must answer. Messages not finished by
   * then come back as `retry` with code `worker_deadline`.
   */
  readonly deadlineAt?: number;
  /**
   * Ends the batch early, as the deadline would (a runtime that is stopping):
   * unfinished messages come back as `retry` with code `worker_deadline`.
   */
  readonly signal?: AbortSignal;
}

export interface Worker {
  /** Never throws; returns exactly one outcome per item, in order. */
  processBatch(items: readonly QueueItem[], options?: BatchOptions): Promise<ItemOutcome[]>;
  close(): Promise<void>;
}

export function createWorker(options: WorkerOptions): Worker {
  const allowPrivateNetworks = options.allowPrivateNetworks ?? false;
  const fetcher = options.fetcher ?? createFetcher({ allowPrivateNetworks, lookup: options.lookup });
  const extract = options.extract ?? extractPage;
  const logger = options.logger ?? silentLogger;
  const metrics = options.metrics ?? noMetrics;
  const now = options.now ?? Date.now;
  const robots = new RobotsCache({ fetcher, now });
  const pacer = new HostPacer(now);

  async function processOne(item: QueueItem, settings: FleetSettings, batchSignal: AbortSignal, deadlineAt: number): Promise<Done> {
    let message: ScrapeMessage;
    try {
      message = parseMessage(item.body);
    } catch (error) {
      return { outcome: error instanceof ScrapeError ? { kind: "malformed", code: error.code, reason: error.message } : internalRetry(error) };
    }
    const context: PageContext = { item, message, settings, started: now() };
    let page: FetchedPage | undefined;
    const done = (outcome: Outcome): Done => ({ outcome, page, url: withoutCredentials(message.url) });
    try {
      if (!settings.enabled) {
        throw new ScrapeError("fleet_paused", "the fleet is paused (runtime setting `enabled` is false); the message goes back to the queue");
      }
      const url = checkUrl(message.url, { allowPrivateNetworks });
      if (isBlockedHost(url.hostname, settings.blockedDomains)) {
        throw new ScrapeError("domain_blocked", `host ${url.hostname} is in the runtime setting \`blockedDomains\``);
      }
      const verdict = await robots.check(url.href, settings, batchSignal);
      if (!verdict.allowed) throw new ScrapeError(verdict.code, verdict.reason);

      // `example.com.` is the same host as `example.com`, so it shares the pace.
      const host = url.host.replace(/\.(?=:\d+$|$)/, "");
      const waitMs = pacer.tryReserve(host, settings.perDomainDelayMs, deadlineAt - now());
      if (waitMs === undefined) {
        throw new ScrapeError("domain_delay", `host ${host} is paced at one request per ${settings.perDomainDelayMs} ms (runtime setting \`perDomainDelayMs\`) and its next slot is after this batch's deadline`, {
          retryAfterMs: pacer.msUntilFree(host, settings.perDomainDelayMs),
        });
      }
      if (waitMs > 0) await sleep(waitMs, batchSignal);

      const fetched = await fetcher.fetch(url.href, { settings, purpose: "page", signal: batchSignal });
      page = fetched;
      const statusError = classifyStatus(fetched);
      if (statusError) throw statusError;
      return done(await storeOk(context, fetched));
    } catch (error) {
      if (batchSignal.aborted) return done(DEADLINE_RETRY);
      if (!(error instanceof ScrapeError)) return done(internalRetry(error));
      return done(await storeFailure(context, error, page));
    }
  }

  async function storeOk(context: PageContext, page: FetchedPage): Promise<Outcome> {
    const { message, settings } = context;
    const key = resultKey(message.url);
    const content = extract({ body: page.body, finalUrl: page.finalUrl, charset: page.charset, maxLinks: settings.maxLinks });
    const rawKey = settings.storeRawHtml ? rawHtmlKey(message.url) : undefined;
    const record: ResultRecord = {
      ...baseRecord(context, key),
      status: "ok",
      finalUrl: page.finalUrl,
      httpStatus: page.status,
      contentType: page.contentType,
      content,
      contentHash: contentHash(page.body),
      bytesOnWire: page.bytesOnWire,
      bytesDecoded: page.body.byteLength,
      fetchMs: page.fetchMs,
      redirects: page.redirects,
      ...(rawKey ? { rawHtmlKey: rawKey } : {}),
    };
    try {
      if (rawKey) {
        await options.results.put({ key: rawKey, body: await gzipAsync(page.body), contentType: page.charset ? `${page.contentType}; charset=${page.charset}` : page.contentType, contentEncoding: "gzip" });
      }
      await options.results.put({ key, body: JSON.stringify(record), contentType: "application/json" });
    } catch (error) {
      return storeFailedRetry(error);
    }
    return { kind: "ok", key };
  }

  async function storeFailure(context: PageContext, error: ScrapeError, page: FetchedPage | undefined): Promise<Outcome> {
    const kind = kindOf(error.code);
    if (kind === "retry") {
      return { kind: "retry", code: error.code, reason: error.message, ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }) };
    }
    if (kind === "malformed") return { kind: "malformed", code: error.code, reason: error.message };
    const key = resultKey(context.message.url);
    const record: ResultRecord = {
      ...baseRecord(context, key),
      status: "failed",
      code: error.code,
      error: error.message,
      ...(page ? { finalUrl: page.finalUrl, httpStatus: page.status, bytesOnWire: page.bytesOnWire, fetchMs: page.fetchMs, redirects: page.redirects } : {}),
      ...(error.httpStatus !== undefined && !page ? { httpStatus: error.httpStatus } : {}),
    };
    try {
      await options.results.put({ key, body: JSON.stringify(record), contentType: "application/json" });
    } catch (storeError) {
      return storeFailedRetry(storeError);
    }
    return { kind: "failed", code: error.code, key, reason: error.message };
  }

  function baseRecord(context: PageContext, key: string) {
    const { item, message } = context;
    return {
      schema: RESULT_SCHEMA,
      key,
      url: withoutCredentials(message.url),
      fetchedAt: new Date(context.started).toISOString(),
      attempt: item.attempt,
      messageId: item.id,
      depth: message.depth,
      ...(message.id === undefined ? {} : { id: message.id }),
      ...(message.metadata === undefined ? {} : { metadata: message.metadata }),
    } as const;
  }

  function storeFailedRetry(error: unknown): Outcome {
    logger.log("error", "store_failed", { error: describeError(error) });
    return { kind: "retry", code: "store_failed", reason: `writing the result failed: ${describeError(error)}` };
  }

  function internalRetry(error: unknown): Outcome {
    logger.log("error", "internal_error", { error: describeError(error), stack: error instanceof Error ? error.stack : undefined });
    return { kind: "retry", code: "internal_error", reason: `unexpected error: ${describeError(error)}` };
  }

  function report(item: QueueItem, { outcome, page, url }: Done, started: number): void {
    const code = outcome.kind === "ok" ? undefined : outcome.code;
    let host: string | undefined;
    try {
      host = url === undefined ? undefined : new URL(url).host;
    } catch {
      host = undefined;
    }
    metrics.recordPage({ outcome: outcome.kind, code, host, bytesOnWire: page?.bytesOnWire ?? 0, fetchMs: page?.fetchMs ?? 0 });
    logger.log(outcome.kind === "ok" ? "info" : "warn", "page", {
      messageId: item.id,
      attempt: item.attempt,
      url,
      outcome: outcome.kind,
      code,
      ...(outcome.kind === "ok" ? {} : { reason: outcome.reason }),
      ms: now() - started,
    });
  }

  return {
    async processBatch(items, batchOptions = {}) {
      const deadlineAt = batchOptions.deadlineAt ?? Number.POSITIVE_INFINITY;
      const controller = new AbortController();
      const timer = Number.isFinite(deadlineAt) ? setTimeout(() => controller.abort(), Math.max(0, deadlineAt - now())) : undefined;
      const stop = () => controller.abort();
      if (batchOptions.signal?.aborted) stop();
      batchOptions.signal?.addEventListener("abort", stop, { once: true });
      const outcomes: Outcome[] = new Array(items.length);
      try {
        let settings: FleetSettings;
        try {
          settings = await options.settings.get();
        } catch (error) {
          const outcome = internalRetry(error);
          return items.map((item) => ({ id: item.id, outcome }));
        }
        let next = 0;
        const runLane = async (): Promise<void> => {
          while (next < items.length) {
            const index = next++;
            const item = items[index];
            const started = now();
            let done: Done;
            if (controller.signal.aborted) {
              done = { outcome: DEADLINE_RETRY };
            } else {
              try {
                done = await processOne(item, settings, controller.signal, deadlineAt);
              } catch (error) {
                done = { outcome: internalRetry(error) };
              }
            }
            outcomes[index] = done.outcome;
            try {
              report(item, done, started);
            } catch {
              // The outcome stands: a logger or metrics port that throws must not cost the batch its answer.
            }
          }
        };
        const lanes = Math.max(1, Math.min(settings.concurrency, items.length));
        await Promise.all(Array.from({ length: lanes }, runLane));
      } finally {
        if (timer) clearTimeout(timer);
        batchOptions.signal?.removeEventListener("abort", stop);
      }
      return items.map((item, index) => ({ id: item.id, outcome: outcomes[index] }));
    },
    close: () => fetcher.close(),
  };
}

const DEADLINE_RETRY: Outcome = {
  kind: "retry",
  code: "worker_deadline",
  reason: "the batch reached its deadline before this page finished; the message goes back to the queue",
};

/** One processed message with what the metrics and logs need. */
interface Done {
  readonly outcome: Outcome;
  readonly page?: FetchedPage;
  readonly url?: string;
}

interface PageContext {
  readonly item: QueueItem;
  readonly message: ScrapeMessage;
  readonly settings: FleetSettings;
  readonly started: number;
}

/** Maps a final HTTP status to the failure it means, or undefined for success. */
function classifyStatus(page: FetchedPage): ScrapeError | undefined {
  const { status } = page;
  if (status >= 200 && status < 300) return undefined;
  const details = { httpStatus: status, retryAfterMs: page.retryAfterMs };
  if (status === 429) return new ScrapeError("http_429", `${page.finalUrl} answered 429 Too Many Requests`, details);
  if (status >= 500) return new ScrapeError("http_5xx", `${page.finalUrl} answered ${status}`, details);
  const code: ErrorCode = "http_4xx";
  return new ScrapeError(code, `${page.finalUrl} answered ${status}`, details);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
