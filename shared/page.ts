/**
 * The seams between the fetcher, the extractor and the worker that drives them.
 */
import type { FleetSettings } from "./settings";
import type { PageContent } from "./result";

/** Why a fetch is made: pages get the content-type allowlist, robots.txt gets its own small cap. */
export type FetchPurpose = "page" | "robots";

export interface FetchOptions {
  readonly settings: FleetSettings;
  readonly purpose: FetchPurpose;
  /** Aborts the whole fetch, redirects included. */
  readonly signal?: AbortSignal;
}

/**
 * A response after redirects. Returned for any final 2xx, 4xx or 5xx status;
 * the caller classifies it. A final 3xx (no `Location`, or a status that is
 * not a redirect to follow) is thrown as `redirect_invalid`, since only the
 * fetcher knows why it could not follow it. For a 2xx page response the body
 * is read (within the caps) and its content type has passed the allowlist;
 * for other statuses the body is empty.
 */
export interface FetchedPage {
  readonly requestedUrl: string;
  readonly finalUrl: string;
  readonly status: number;
  /** Lower-cased media type without parameters, such as `text/html`. */
  readonly contentType: string;
  /** The `charset` parameter of Content-Type, if any. */
  readonly charset?: string;
  /** Seconds or date from Retry-After, in milliseconds from now. */
  readonly retryAfterMs?: number;
  /** Decoded (decompressed) body bytes. */
  readonly body: Buffer;
  readonly bytesOnWire: number;
  readonly redirects: readonly string[];
  readonly fetchMs: number;
}

/**
 * Fetches one URL under the SSRF guard. Throws `ScrapeError` for every
 * non-HTTP failure (network, timeout, caps, redirects, refused addresses).
 */
export interface PageFetcher {
  fetch(url: string, options: FetchOptions): Promise<FetchedPage>;
  /** Closes the long-lived connection pool. */
  close(): Promise<void>;
}

export interface ExtractInput {
  readonly body: Buffer;
  readonly finalUrl: string;
  readonly charset?: string;
  readonly maxLinks: number;
}

/** Turns a page into what the result record keeps. Replace this to change what the fleet extracts. */
export type Extractor = (input: ExtractInput) => PageContent;
