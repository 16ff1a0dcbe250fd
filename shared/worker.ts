/**
 * The scrape core's entry point: a batch of queue messages in, one outcome per
 * message out. Every runtime (local, AWS, Azure, Google Cloud) calls this and
 * only maps the outcomes to its queue's answer.
 */
import type { LookupFunction } from "node:net";
import { setTimeout as delay } from "node:timers/promises";
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import { ScrapeError, describeError, kindOf } from "./errors";
import { extractPage } from "./extract";
import { createFetcher } from "./fetcher";
import { parseMessage, type ScrapeMessage } from "./message";
import type { ItemOutcome, Outcome, QueueItem } from "./outcome";
import type { Extractor, FetchedPage, PageFetcher } from "./page";
import { HostPacer, isBlockedHost } from "./politeness";
import { abandonOnAbort, noMetrics, silentLogger, type Logger, type Metrics, type ResultStore, type StoredObject } from "./ports";
import { RESULT_SCHEMA, contentHash, rawHtmlKey, resultKey, type ResultRecord } from "./result";
import { ResultBatcher } from "./resultBatcher";
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

/** Bounds of `BatchOptions.writeGraceMs`. */
export const WRITE_GRACE_MS = { min: 0, max: 60_000, default: 2_000 } as const;

export interface BatchOptions {
  /**
   * Epoch milliseconds by which the batch must answer. Messages not finished by
   * then come back as `retry` with code `worker_deadline`, except those whose
   * result write is already under way (see `writeGraceMs`).
   */
  readonly deadlineAt?: number;
  /**
   * How long past `deadlineAt` a result write already under way may run, so a
   * page fetched in time is not fetched again. At `deadlineAt + writeGraceMs`
   * the store's `put` is aborted and the batch answers whatever the store
   * does; that message comes back as `retry` with code `store_failed`.
   * Unbounded without a `deadlineAt`. A whole number of milliseconds from 0 to
   * 60 000; a runtime sets it below the time it keeps back from its own limit,
   * leaving room to answer.
   * @default 2000
   */
  readonly writeGraceMs?: number;
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
  // One batcher and one count for the whole process: on Azure and Google Cloud
  // each message is a call of its own, and their records share batch objects.
  const batcher = new ResultBatcher({ store: options.results, now });
  let pagesInFlight = 0;

  async function processOne(item: QueueItem, batch: Batch): Promise<Done> {
    const { settings, signal: batchSignal, deadlineAt } = batch;
    let message: ScrapeMessage;
    try {
      message = parseMessage(item.body);
    } catch (error) {
      return { outcome: error instanceof ScrapeError ? { kind: "malformed", code: error.code, reason: error.message } : internalRetry(error) };
    }
    const context: PageContext = { item, message, settings, started: now(), writeSignal: batch.writeSignal, safeUrl: withoutCredentials(message.url) };
    let page: FetchedPage | undefined;
    const done = (outcome: Outcome): Done => ({ outcome, page, url: context.safeUrl, host: URL.parse(message.url)?.host });
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

      const { host } = url;
      const waitMs = pacer.tryReserve(host, settings.perDomainDelayMs, deadlineAt - now());
      if (waitMs === undefined) {
        throw new ScrapeError("domain_delay", `host ${host} is paced at one request per ${settings.perDomainDelayMs} ms (runtime setting \`perDomainDelayMs\`) and its next slot is after this batch's deadline`, {
          retryAfterMs: pacer.msUntilFree(host, settings.perDomainDelayMs),
        });
      }
      if (waitMs > 0) await delay(waitMs, undefined, { signal: batchSignal });

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
        await put(context, { key: rawKey, body: await gzipAsync(page.body), contentType: page.charset ? `${page.contentType}; charset=${page.charset}` : page.contentType, contentEncoding: "gzip" });
      }
      await putRecord(context, record);
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
      await putRecord(context, record);
    } catch (storeError) {
      return storeFailedRetry(storeError);
    }
    return { kind: "failed", code: error.code, key, reason: error.message };
  }

  /**
   * One store write, abandoned when the batch's write signal fires even if the
   * store ignores the signal, so a slow store cannot hold the answer.
   */
  async function put(context: PageContext, object: StoredObject): Promise<void> {
    const signal = context.writeSignal;
    signal?.throwIfAborted();
    try {
      await abandonOnAbort(options.results.put(object, signal === undefined ? undefined : { signal }), signal);
    } catch (error) {
      // A store that rejects on the abort gives its SDK's reason ("Request aborted"); ours names the grace that ran out.
      throw signal?.aborted ? signal.reason : error;
    }
  }

  /**
   * Stores the page's result record: alone at its key, or, with the runtime
   * setting `resultBatchMaxRecords` above 1, as one line of a batch object
   * shared with the other pages of this process (shared/resultBatcher.ts).
   */
  async function putRecord(context: PageContext, record: ResultRecord): Promise<void> {
    const body = JSON.stringify(record);
    const { resultBatchMaxRecords: maxRecords, resultBatchWindowMs: windowMs } = context.settings;
    if (maxRecords === 1) return put(context, { key: record.key, body, contentType: "application/json" });
    const signal = context.writeSignal;
    // JSON allows U+2028 and U+2029 raw in strings, but many line readers
    // (Python's str.splitlines, JavaScript's old line terminators) end a line
    // there; escaped, each record is one line for every reader of the object.
    const line = body.replaceAll("\u2028", "\\u2028").replaceAll("\u2029", "\\u2029");
    const landed = batcher.add(line, { maxRecords, windowMs }, signal);
    flushWhenAllWaiting();
    try {
      await landed;
    } catch (error) {
      throw signal?.aborted ? signal.reason : error;
    }
  }

  /**
   * Writes the open batch at once when every page of this process is waiting
   * for it: no other record can join before the window ends, so waiting would
   * only hold the answer (the end of a Lambda batch, a quiet instance).
   */
  function flushWhenAllWaiting(): void {
    if (batcher.waiting > 0 && batcher.waiting >= pagesInFlight) batcher.flush();
  }

  function baseRecord(context: PageContext, key: string) {
    const { item, message } = context;
    return {
      schema: RESULT_SCHEMA,
      key,
      url: context.safeUrl,
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

  function invalidBatchOptions(reason: string): Outcome {
    logger.log("error", "batch_options_invalid", { reason });
    return { kind: "retry", code: "internal_error", reason };
  }

  function internalRetry(error: unknown): Outcome {
    logger.log("error", "internal_error", { error: describeError(error), stack: error instanceof Error ? error.stack : undefined });
    return { kind: "retry", code: "internal_error", reason: `unexpected error: ${describeError(error)}` };
  }

  /** A settings store that could not be read: its own retry code when the cache says so. */
  function settingsRetry(error: unknown): Outcome {
    if (error instanceof ScrapeError && error.kind === "retry") return { kind: "retry", code: error.code, reason: error.message };
    return internalRetry(error);
  }

  function reportQuietly(item: QueueItem, done: Done, started: number): void {
    try {
      report(item, done, started);
    } catch {
      // The outcome stands: a logger or metrics port that throws must not cost the batch its answer.
    }
  }

  function report(item: QueueItem, { outcome, page, url, host }: Done, started: number): void {
    const code = outcome.kind === "ok" ? undefined : outcome.code;
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
      const writeGraceMs = batchOptions.writeGraceMs ?? WRITE_GRACE_MS.default;
      if (!Number.isInteger(writeGraceMs) || writeGraceMs < WRITE_GRACE_MS.min || writeGraceMs > WRITE_GRACE_MS.max) {
        const outcome = invalidBatchOptions(
          `\`writeGraceMs\` must be a whole number of milliseconds from ${WRITE_GRACE_MS.min} to ${WRITE_GRACE_MS.max} (given ${JSON.stringify(writeGraceMs)}); leave it out for ${WRITE_GRACE_MS.default}`,
        );
        return items.map((item) => ({ id: item.id, outcome }));
      }
      const controller = new AbortController();
      const timer = Number.isFinite(deadlineAt) ? setTimeout(() => controller.abort(), Math.max(0, deadlineAt - now())) : undefined;
      const writes = new AbortController();
      const writeTimer = Number.isFinite(deadlineAt)
        ? setTimeout(() => writes.abort(writeGraceExpired(writeGraceMs)), Math.max(0, deadlineAt + writeGraceMs - now()))
        : undefined;
      const stop = () => controller.abort();
      if (batchOptions.signal?.aborted) stop();
      batchOptions.signal?.addEventListener("abort", stop, { once: true });
      const outcomes: Outcome[] = new Array(items.length);
      try {
        let settings: FleetSettings;
        try {
          // A settings store that hangs must not hold the batch past its deadline.
          settings = await abandonOnAbort(options.settings.get(), controller.signal);
        } catch (error) {
          const outcome = controller.signal.aborted ? DEADLINE_RETRY : settingsRetry(error);
          // Counted as pages, so the retry-share alarm sees a fleet that cannot read its settings.
          for (const item of items) reportQuietly(item, { outcome }, now());
          return items.map((item) => ({ id: item.id, outcome }));
        }
        const batch: Batch = { settings, signal: controller.signal, deadlineAt, ...(writeTimer === undefined ? {} : { writeSignal: writes.signal }) };
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
              pagesInFlight += 1;
              try {
                done = await processOne(item, batch);
              } catch (error) {
                done = { outcome: internalRetry(error) };
              } finally {
                pagesInFlight -= 1;
                flushWhenAllWaiting();
              }
            }
            outcomes[index] = done.outcome;
            reportQuietly(item, done, started);
          }
        };
        const lanes = Math.max(1, Math.min(settings.concurrency, items.length));
        await Promise.all(Array.from({ length: lanes }, runLane));
      } finally {
        if (timer) clearTimeout(timer);
        if (writeTimer) clearTimeout(writeTimer);
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

/** The abort reason of a result write still running when the write grace ran out. */
function writeGraceExpired(writeGraceMs: number): ScrapeError {
  return new ScrapeError(
    "store_failed",
    `the write was still running ${writeGraceMs} ms after the batch deadline (\`writeGraceMs\`) and was abandoned; it may or may not have landed, and the retry overwrites it`,
  );
}

/** What every message of one batch shares. */
interface Batch {
  readonly settings: FleetSettings;
  /** Aborted at the deadline or by the caller's stop signal. */
  readonly signal: AbortSignal;
  readonly deadlineAt: number;
  /** Aborted at `deadlineAt + writeGraceMs`; absent without a deadline. */
  readonly writeSignal?: AbortSignal;
}

/** One processed message with what the metrics and logs need. */
interface Done {
  readonly outcome: Outcome;
  readonly page?: FetchedPage;
  /** The message's URL, credentials redacted, for logs. */
  readonly url?: string;
  readonly host?: string;
}

interface PageContext {
  readonly item: QueueItem;
  readonly message: ScrapeMessage;
  readonly settings: FleetSettings;
  readonly started: number;
  readonly writeSignal?: AbortSignal;
  /** The message's URL with credentials redacted: what records and logs show. */
  readonly safeUrl: string;
}

/** Maps a final HTTP status to the failure it means, or undefined for success. */
function classifyStatus(page: FetchedPage): ScrapeError | undefined {
  const { status } = page;
  if (status >= 200 && status < 300) return undefined;
  const details = { httpStatus: status, retryAfterMs: page.retryAfterMs };
  if (status === 429) return new ScrapeError("http_429", `${page.finalUrl} answered 429 Too Many Requests`, details);
  if (status >= 500) return new ScrapeError("http_5xx", `${page.finalUrl} answered ${status}`, details);
  if (status >= 300 && status < 400) return new ScrapeError("redirect_invalid", `${page.finalUrl} answered ${status} with no redirect to follow`, details);
  return new ScrapeError("http_4xx", `${page.finalUrl} answered ${status}`, details);
}
