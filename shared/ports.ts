/**
 * The ports each runtime (the local fleet, AWS, Azure, Google Cloud) plugs its
 * own services into. The core imports no cloud SDK; it only sees these.
 */
import type { ErrorCode } from "./errors";

/** Where result records and raw HTML go. Keys come from `resultKey` / `rawHtmlKey`. */
export interface ResultStore {
  /** Writes (or overwrites) one object. Must be idempotent for the same key. */
  put(object: StoredObject, options?: PutOptions): Promise<void>;
}

export interface PutOptions {
  /**
   * Aborted when the caller stops waiting for this write: the store should
   * give up (cancel the request, make no further retries) and reject. The
   * write may or may not have landed; keys are idempotent, so the retry that
   * follows overwrites whatever did.
   * @default no signal: the write runs to the store's own timeouts
   */
  readonly signal?: AbortSignal;
}

export interface StoredObject {
  readonly key: string;
  readonly body: Uint8Array | string;
  /** Such as `application/json`. */
  readonly contentType: string;
  /** `gzip` for raw HTML. */
  readonly contentEncoding?: string;
}

export type LogLevel = "debug" | "info" | "warn" | "error";

/** Structured logs: one event name and flat fields. */
export interface Logger {
  log(level: LogLevel, event: string, fields?: Readonly<Record<string, unknown>>): void;
}

/** One finished page, as the metrics see it. */
export interface PageMetric {
  readonly outcome: "ok" | "failed" | "retry" | "malformed";
  readonly code?: ErrorCode;
  readonly host?: string;
  readonly bytesOnWire: number;
  readonly fetchMs: number;
}

/**
 * The fleet's own metrics: pages ok / failed / retried, bytes, fetch latency.
 * Implementations must not block or make a network call per page (AWS uses
 * Embedded Metric Format log lines, Google Cloud log-based metrics).
 */
export interface Metrics {
  recordPage(metric: PageMetric): void;
}

export const silentLogger: Logger = { log: () => undefined };
export const noMetrics: Metrics = { recordPage: () => undefined };

/**
 * Settles with `work`, or rejects with the signal's reason as soon as it is
 * aborted, whichever comes first. For callers that must stop waiting on a
 * promise that cannot itself be cancelled; the work goes on unobserved.
 */
export function abandonOnAbort<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return work;
  if (signal.aborted) {
    // Observe the rejection the abandoned work may still produce.
    work.catch(() => undefined);
    return Promise.reject(signal.reason);
  }
  let onAbort: () => void = () => undefined;
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
  });
  return Promise.race([work, aborted]).finally(() => signal.removeEventListener("abort", onAbort));
}
