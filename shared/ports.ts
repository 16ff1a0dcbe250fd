/**
 * The ports each runtime (the local fleet, AWS, Azure, Google Cloud) plugs its
 * own services into. The core imports no cloud SDK; it only sees these.
 */
import type { ErrorCode } from "./errors";

/** Where result records and raw HTML go. Keys come from `resultKey` / `rawHtmlKey`. */
export interface ResultStore {
  /** Writes (or overwrites) one object. Must be idempotent for the same key. */
  put(object: StoredObject): Promise<void>;
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
