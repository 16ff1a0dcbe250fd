import { createHash, randomBytes } from "node:crypto";
import type { ErrorCode } from "./errors";

/** Identifies the result record's schema; bump the suffix on a breaking change. */
export const RESULT_SCHEMA = "scrape-fleet/result@1";

/** What the extractor found in a page. */
export interface PageContent {
  readonly title?: string;
  readonly description?: string;
  readonly canonical?: string;
  readonly lang?: string;
  /** Absolute, deduplicated, capped at `maxLinks`. */
  readonly links: readonly string[];
  /** Links seen before the cap was applied (after deduplication). */
  readonly linkCount: number;
  /** Characters of visible text (script and style excluded). */
  readonly textLength: number;
}

/**
 * One record per URL, identical on every cloud and locally. Written under
 * `resultKey(url)`, so a redelivered message overwrites its earlier record
 * instead of adding a second one.
 */
export interface ResultRecord {
  readonly schema: typeof RESULT_SCHEMA;
  readonly key: string;
  /** The URL as the message gave it. */
  readonly url: string;
  readonly status: "ok" | "failed";
  /** Set when `status` is `failed`. */
  readonly code?: ErrorCode;
  readonly error?: string;
  /** The URL after redirects. */
  readonly finalUrl?: string;
  readonly httpStatus?: number;
  readonly contentType?: string;
  readonly content?: PageContent;
  /** `sha256:<hex>` of the decoded body. */
  readonly contentHash?: string;
  readonly bytesOnWire?: number;
  readonly bytesDecoded?: number;
  readonly fetchMs?: number;
  readonly redirects?: readonly string[];
  /** Key of the gzip-compressed HTML, when `storeRawHtml` is on. */
  readonly rawHtmlKey?: string;
  readonly fetchedAt: string;
  /** Which delivery of the message produced this record (1 = first). */
  readonly attempt: number;
  readonly messageId?: string;
  readonly id?: string;
  readonly depth?: number;
  readonly metadata?: Readonly<Record<string, string | number | boolean>>;
}

/** Folder-like prefixes shared by every results store. */
export const RESULT_PREFIX = "results/";
export const RAW_HTML_PREFIX = "raw/";
/**
 * Where batched records go (runtime setting `resultBatchMaxRecords` above 1):
 * one JSON Lines object per batch, one record per line. Inside `results/`, so
 * the workers' existing write grants on that prefix cover it.
 */
export const RESULT_BATCH_PREFIX = `${RESULT_PREFIX}batches/`;
/** The media type of a batch object: JSON Lines, one JSON text per line. https://github.com/ndjson/ndjson-spec */
export const RESULT_BATCH_CONTENT_TYPE = "application/x-ndjson";

/**
 * The URL in the one form used for keys: scheme and host lower-cased (the URL
 * parser does that), default port dropped, fragment removed. Falls back to the
 * trimmed text for a string that is not a URL, so even a failure record for a
 * bad URL has a stable key.
 */
export function normalizeUrl(url: string): string {
  try {
    const parsed = new URL(url.trim());
    parsed.hash = "";
    return parsed.href;
  } catch {
    return url.trim();
  }
}

function urlDigest(url: string): string {
  return createHash("sha256").update(normalizeUrl(url)).digest("hex");
}

/** `results/<sha256 of the normalized URL>.json`. */
export function resultKey(url: string): string {
  return `${RESULT_PREFIX}${urlDigest(url)}.json`;
}

/** `raw/<sha256 of the normalized URL>.html.gz`. */
export function rawHtmlKey(url: string): string {
  return `${RAW_HTML_PREFIX}${urlDigest(url)}.html.gz`;
}

/**
 * `results/batches/<UTC time to the millisecond>-<16 random hex>.jsonl`: the
 * time sorts a listing by when batches were written, the random part keeps
 * two processes writing in the same millisecond apart.
 */
export function resultBatchKey(epochMs: number): string {
  const time = new Date(epochMs).toISOString().replace(/[-:]/g, "").replace(".", "");
  return `${RESULT_BATCH_PREFIX}${time}-${randomBytes(8).toString("hex")}.jsonl`;
}

export function contentHash(body: Uint8Array): string {
  return `sha256:${createHash("sha256").update(body).digest("hex")}`;
}
