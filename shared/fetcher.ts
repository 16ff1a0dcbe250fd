/**
 * The page fetcher: one long-lived undici Agent whose every connection goes
 * through the SSRF guard, redirects followed by hand (each hop re-checked),
 * and bodies decoded here so both the wire bytes and the decoded bytes are
 * capped while they stream.
 *
 * A final response is any status but a followed redirect: a 3xx that cannot
 * be followed (no Location, or a status such as 300 or 304 that is never
 * followed) is `redirect_invalid`, so it is not mistaken for a 4xx.
 */
import type { IncomingHttpHeaders } from "node:http";
import type { LookupFunction } from "node:net";
import { pipeline, Transform, type TransformCallback, type Readable } from "node:stream";
import * as zlib from "node:zlib";
import { Agent, buildConnector, type Dispatcher } from "undici";
import { ScrapeError, describeError, type ErrorCode } from "./errors";
import type { FetchedPage, FetchOptions, FetchPurpose, PageFetcher } from "./page";
import type { FleetSettings } from "./settings";
import { checkUrl, guardedLookup, refuseLiteralHost, type AddressPolicy } from "./ssrf";

/** `allowPrivateNetworks` (see `AddressPolicy`) and the resolver. */
export interface FetcherOptions extends AddressPolicy {
  /**
   * Resolves host names, with the signature of `dns.lookup`. Every address it
   * returns passes the SSRF guard before a connection is made.
   * @default dns.lookup
   */
  readonly lookup?: LookupFunction;
}

/**
 * robots.txt is read up to this many decoded bytes; the rest is ignored.
 * RFC 9309 §2.5: crawlers must parse at least the first 500 KiB.
 * https://www.rfc-editor.org/rfc/rfc9309#section-2.5
 */
export const ROBOTS_MAX_BYTES = 512 * 1024;

const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/**
 * How much of an unused body (redirect, error status) is read so the
 * connection can be kept alive; a larger body is cut off with its connection.
 */
const DRAIN_LIMIT_BYTES = 64 * 1024;

/**
 * How long an unused body may take to arrive before its connection is cut.
 * The page timer no longer runs once the fetch has answered, and a body that
 * trickles a byte at a time never trips the body idle timeout, so without
 * this one drain could hold its connection, and `close()`, for days. Bodies
 * that come with their headers (nearly every 404 or 503) finish well within
 * it and keep the connection for the next request to the origin.
 */
const DRAIN_TIMEOUT_MS = 2_000;

/** Codes of the URL policy and the address guard: a refusal to go somewhere, as opposed to a failure getting there. */
const POLICY_REFUSALS: ReadonlySet<ErrorCode> = new Set(["ssrf_refused", "url_scheme_not_allowed", "url_credentials_not_allowed"]);

/** Stacked content codings accepted on one response (`gzip, br` is two). */
const MAX_CONTENT_CODINGS = 3;

/**
 * The largest zstd window accepted: 8 MiB (window log 23), the limit RFC 9659
 * sets for the `zstd` content coding. Without it a frame can make the decoder
 * allocate 128 MiB before producing a byte.
 * https://www.rfc-editor.org/rfc/rfc9659
 */
const ZSTD_WINDOW_LOG_MAX = 23;

const CONTENT_CODINGS = ["gzip", "deflate", "br", "zstd"] as const;
type ContentCoding = (typeof CONTENT_CODINGS)[number];

const ACCEPT_ENCODING = CONTENT_CODINGS.join(", ");

/**
 * A redirect whose target the URL policy or the address guard refuses. The
 * code is the refusal's (`ssrf_refused`, `url_scheme_not_allowed`,
 * `url_credentials_not_allowed`), so a page keeps its cause; the type tells
 * a caller that the URL asked for was itself acceptable, which lets robots.txt
 * count an unreachable redirect target as "unavailable" (RFC 9309 §2.3.1.2).
 */
export class RedirectRefusedError extends ScrapeError {
  /** The URL whose redirect was refused. */
  readonly redirectedFrom: string;

  constructor(refusal: ScrapeError, redirectedFrom: string) {
    super(refusal.code, `redirect from ${redirectedFrom} refused: ${refusal.message}`, { cause: refusal });
    this.name = "RedirectRefusedError";
    this.redirectedFrom = redirectedFrom;
  }
}

/**
 * Creates a fetcher with its own connection pool. Call `close()` when done
 * with it; a fetch after that opens a new pool.
 */
export function createFetcher(options: FetcherOptions = {}): PageFetcher {
  const policy: AddressPolicy = { allowPrivateNetworks: options.allowPrivateNetworks === true };
  const lookup = guardedLookup(policy, options.lookup);
  let current: PoolEntry | undefined;

  // The connect timeout is fixed when an Agent is built, so a changed
  // setting gets a new Agent. The old one is closed once the fetches that
  // started on it (and may still follow redirects on it) are done.
  function acquire(connectTimeoutMs: number): PoolEntry {
    if (current?.connectTimeoutMs !== connectTimeoutMs) {
      const previous = current;
      current = { agent: createGuardedAgent(connectTimeoutMs, policy, lookup), connectTimeoutMs, fetches: 0 };
      if (previous && previous.fetches === 0) retire(previous);
    }
    current.fetches += 1;
    return current;
  }

  function release(entry: PoolEntry): void {
    entry.fetches -= 1;
    if (entry !== current && entry.fetches === 0) retire(entry);
  }

  return {
    async fetch(url, fetchOptions) {
      const entry = acquire(fetchOptions.settings.connectTimeoutMs);
      try {
        return await fetchPage(url, fetchOptions, policy, entry.agent);
      } finally {
        release(entry);
      }
    },
    async close() {
      const closing = current;
      current = undefined;
      await closing?.agent.close();
    },
  };
}

interface PoolEntry {
  readonly agent: Agent;
  readonly connectTimeoutMs: number;
  /** Fetches in flight on this Agent. */
  fetches: number;
}

function retire(entry: PoolEntry): void {
  // close() lets queued requests finish and only rejects for an Agent that
  // is already destroyed, which leaves nothing to report.
  entry.agent.close().catch(() => undefined);
}

/**
 * An Agent (keep-alive, one pool per origin) whose connector refuses IP
 * literals itself, because net.connect dials a literal without calling
 * `lookup`, and resolves names through the guarded lookup, which sees every
 * connection, redirect hops included.
 */
function createGuardedAgent(connectTimeoutMs: number, policy: AddressPolicy, lookup: LookupFunction): Agent {
  // HTTP/1.1 only: every origin speaks it, and one request per connection
  // keeps the wire-byte count and the timeouts per response simple.
  // TLS verification is left at Node's default (on); it is never turned off.
  const dial = buildConnector({ timeout: connectTimeoutMs, lookup, allowH2: false });
  const connect: buildConnector.connector = (target, callback) => {
    const refusal = refuseLiteralHost(target.hostname, policy);
    if (refusal) {
      process.nextTick(callback, refusal, null);
      return;
    }
    return dial(target, callback);
  };
  return new Agent({ connect, allowH2: false });
}

async function fetchPage(requestedUrl: string, options: FetchOptions, policy: AddressPolicy, agent: Agent): Promise<FetchedPage> {
  const { settings, purpose } = options;
  const startedAt = performance.now();
  const deadline = new AbortController();
  const timer = setTimeout(
    () => deadline.abort(new ScrapeError("page_deadline", `${requestedUrl} did not finish within pageDeadlineMs (${settings.pageDeadlineMs} ms), redirects included`)),
    settings.pageDeadlineMs,
  );
  const signal = options.signal ? AbortSignal.any([options.signal, deadline.signal]) : deadline.signal;
  let stage: FetchStage = "connect";
  // Set once a redirect is followed: from then on every request is a hop.
  let redirectedFrom: URL | undefined;

  try {
    let url = checkUrl(requestedUrl, policy);
    url.hash = "";
    const visited = new Set([url.href]);
    const redirects: string[] = [];

    for (;;) {
      stage = "connect";
      const response = await agent.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: "GET",
        headers: requestHeaders(settings, purpose),
        headersTimeout: settings.headersTimeoutMs,
        bodyTimeout: settings.bodyIdleTimeoutMs,
        signal,
      });
      stage = "body";

      const location = firstHeader(response.headers, "location");
      if (REDIRECT_STATUSES.has(response.statusCode) && location !== undefined) {
        // Every hop is a GET with no body, so 301/302/303 (which switch to
        // GET) and 307/308 (which keep the method) need no special case.
        // A page deadline during the drain fails the next request with it.
        await discardBody(response.body, signal);
        await socketBackInPool();
        redirectedFrom = url;
        url = nextHop(url, location, policy);
        if (visited.has(url.href)) {
          throw new ScrapeError("redirect_loop", `${requestedUrl} redirects in a loop: ${[requestedUrl, ...redirects, url.href].join(" -> ")}`);
        }
        if (redirects.length >= settings.maxRedirects) {
          throw new ScrapeError("too_many_redirects", `${requestedUrl} redirects more than maxRedirects (${settings.maxRedirects}) times; raise maxRedirects (up to 20) if the site needs it`);
        }
        visited.add(url.href);
        redirects.push(url.href);
        continue;
      }
      if (response.statusCode >= 300 && response.statusCode <= 399) {
        void discardBody(response.body);
        throw new ScrapeError(
          "redirect_invalid",
          location === undefined
            ? `${url.href} answered ${response.statusCode} without a Location header, so there is nowhere to go`
            : `${url.href} answered ${response.statusCode}, a status that is not a redirect to follow (only ${[...REDIRECT_STATUSES].join(", ")} are)`,
          { httpStatus: response.statusCode },
        );
      }

      const page = await readResponse(response, url, purpose, settings);
      return {
        requestedUrl,
        finalUrl: url.href,
        redirects,
        ...page,
        fetchMs: Math.round(performance.now() - startedAt),
      };
    }
  } catch (error) {
    const failure = toScrapeError(error, signal, stage, requestedUrl);
    throw redirectedFrom !== undefined && POLICY_REFUSALS.has(failure.code) ? new RedirectRefusedError(failure, redirectedFrom.href) : failure;
  } finally {
    clearTimeout(timer);
  }
}

type FetchStage = "connect" | "body";

function requestHeaders(settings: FleetSettings, purpose: FetchPurpose): Record<string, string> {
  const accept = purpose === "robots" ? "text/plain" : settings.allowedContentTypes.join(", ");
  return {
    "user-agent": settings.contact === "" ? settings.userAgent : `${settings.userAgent} (+${settings.contact})`,
    accept: `${accept}, */*;q=0.1`,
    "accept-encoding": ACCEPT_ENCODING,
  };
}

/**
 * Resolves a Location against the current URL and puts the target through
 * the URL policy (whose refusal `fetchPage` reports as a `RedirectRefusedError`).
 */
function nextHop(current: URL, location: string, policy: AddressPolicy): URL {
  let target: URL;
  try {
    target = new URL(location, current);
  } catch (error) {
    throw new ScrapeError("redirect_invalid", `${current.href} redirects to ${JSON.stringify(location)}, which is not a valid URL`, { cause: error });
  }
  const checked = checkUrl(target.href, policy);
  checked.hash = "";
  return checked;
}

/**
 * Reads an unused body to its end, up to `DRAIN_LIMIT_BYTES` and
 * `DRAIN_TIMEOUT_MS`, so its connection can serve the next request; past
 * either limit (or when `signal` aborts) the body is destroyed and its
 * connection with it. Never rejects. `bytes` counts what has been read so far.
 *
 * Draining rather than destroying at once: a destroyed body closes a
 * kept-alive connection, and the commonest sequence (robots.txt answers 404,
 * then the page) would pay a second TCP and TLS handshake.
 */
function discardBody(body: ResponseData["body"], signal?: AbortSignal): Promise<void> & { readonly bytes: number } {
  const timeout = AbortSignal.timeout(DRAIN_TIMEOUT_MS);
  let bytes = 0;
  body.on("data", (chunk: Buffer) => (bytes += chunk.length));
  const done = body.dump({ limit: DRAIN_LIMIT_BYTES, signal: signal ? AbortSignal.any([signal, timeout]) : timeout }).then(
    () => undefined,
    () => undefined,
  );
  return Object.defineProperty(done, "bytes", { get: () => bytes }) as Promise<void> & { readonly bytes: number };
}

type ResponseData = Dispatcher.ResponseData;
type PageFields = Pick<FetchedPage, "status" | "contentType" | "charset" | "retryAfterMs" | "body" | "bytesOnWire">;

/** The final response: 2xx bodies are read within the caps, anything else is returned with an empty body. */
async function readResponse(response: ResponseData, url: URL, purpose: FetchPurpose, settings: FleetSettings): Promise<PageFields> {
  const status = response.statusCode;
  const { mediaType, charset } = parseContentType(lastHeader(response.headers, "content-type"));
  const retryAfterMs = parseRetryAfter(firstHeader(response.headers, "retry-after"), Date.now());
  const head = { status, contentType: mediaType, charset, retryAfterMs };

  if (status < 200 || status > 299) {
    // The caller classifies the status; the body is not needed. Draining it
    // in the background keeps the connection for the next request. One turn
    // of the event loop lets a body that came with its headers (nearly every
    // 404 or 503) be counted on the wire like a page's; a slow one is counted
    // as far as it has come, and nothing waits for the rest.
    const drain = discardBody(response.body);
    await Promise.race([drain, socketBackInPool()]);
    return { ...head, body: Buffer.alloc(0), bytesOnWire: drain.bytes };
  }

  try {
    // A page without Content-Type is refused too: sniffing it would treat
    // arbitrary bytes (binaries, JSON APIs) as HTML, and the allowlist
    // exists to keep those out.
    if (purpose === "page" && !settings.allowedContentTypes.some((allowed) => allowed.trim().toLowerCase() === mediaType)) {
      throw new ScrapeError(
        "content_type_not_allowed",
        `${url.href} is ${mediaType === "" ? "served without a Content-Type" : `of type ${mediaType}`}; allowedContentTypes is [${settings.allowedContentTypes.join(", ")}] (add the type there to accept it)`,
      );
    }
    const codings = parseContentEncoding(response.headers["content-encoding"], url);
    const announced = parseContentLength(firstHeader(response.headers, "content-length"));
    if (purpose === "page" && announced !== undefined && announced > settings.maxBodyBytes) {
      throw new ScrapeError("too_large", `${url.href} announces ${announced} bytes, more than maxBodyBytes (${settings.maxBodyBytes})`);
    }
    const limits: BodyLimits =
      purpose === "robots"
        ? { maxWireBytes: settings.maxBodyBytes, maxDecodedBytes: ROBOTS_MAX_BYTES, overflow: "truncate" }
        : { maxWireBytes: settings.maxBodyBytes, maxDecodedBytes: settings.maxDecodedBytes, overflow: "fail" };
    const read = await readBody(response.body, codings, limits, url);
    return { ...head, ...read };
  } catch (error) {
    // Refused before reading: a small body is drained to keep the connection,
    // a large or slow one is cut off. Refused while reading: pipeline already
    // destroyed it.
    void discardBody(response.body);
    throw error;
  }
}

interface BodyLimits {
  readonly maxWireBytes: number;
  readonly maxDecodedBytes: number;
  /** `fail`: `decoded_too_large`; `truncate`: keep the bytes up to the cap (cut at the last line break) and stop reading. */
  readonly overflow: "fail" | "truncate";
}

/**
 * Streams the body through a wire-byte meter and the decoders, counting
 * decoded bytes as they come out. The decoders are Node streams with
 * backpressure, so a decompression bomb is stopped within one chunk (64 KiB)
 * of the cap instead of being inflated into memory first.
 */
async function readBody(body: Readable, codings: readonly ContentCoding[], limits: BodyLimits, url: URL): Promise<{ body: Buffer; bytesOnWire: number }> {
  const meter = new WireMeter(limits.maxWireBytes, url);
  const decoders = [...codings].reverse().map((coding) => new Decoder(coding));
  const decoded: Transform = decoders.at(-1) ?? meter;
  // Errors reach the loop below through the last stream, which pipeline
  // destroys with the first error of any stage; the callback has nothing to add.
  pipeline([body, meter, ...decoders], () => undefined);

  const chunks: Buffer[] = [];
  let decodedBytes = 0;
  for await (const chunk of decoded as AsyncIterable<Buffer>) {
    if (decodedBytes + chunk.length > limits.maxDecodedBytes) {
      if (limits.overflow === "fail") {
        throw new ScrapeError("decoded_too_large", `${url.href} decodes to more than maxDecodedBytes (${limits.maxDecodedBytes}); it may be a decompression bomb`);
      }
      chunks.push(chunk.subarray(0, limits.maxDecodedBytes - decodedBytes));
      return { body: cutAtLastLineBreak(Buffer.concat(chunks)), bytesOnWire: meter.bytes };
    }
    decodedBytes += chunk.length;
    chunks.push(chunk);
  }
  await socketBackInPool();
  return { body: Buffer.concat(chunks, decodedBytes), bytesOnWire: meter.bytes };
}

/**
 * undici hands a kept-alive socket back to its pool one event-loop turn after
 * the response ends (client-h1.js, onMessageComplete). Waiting that turn lets
 * the next request to the origin (the next redirect hop, or the page after
 * robots.txt) reuse the socket instead of opening a second connection.
 */
function socketBackInPool(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * A body cut at a byte cap can end mid-line; for robots.txt a half rule
 * (`Allow: /p` from `Allow: /private-ok`) could allow more than the site
 * wrote, so the partial last line is dropped.
 */
function cutAtLastLineBreak(body: Buffer): Buffer {
  const lastBreak = body.lastIndexOf(0x0a);
  return lastBreak === -1 ? Buffer.alloc(0) : body.subarray(0, lastBreak + 1);
}

/** Counts the raw bytes of a body and fails with `too_large` the moment they pass the cap. */
class WireMeter extends Transform {
  bytes = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly url: URL,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) {
      done(new ScrapeError("too_large", `${this.url.href} sent more than maxBodyBytes (${this.maxBytes}) bytes`));
      return;
    }
    done(null, chunk);
  }
}

/**
 * One content coding, decoded by a zlib stream with backpressure kept end to
 * end (the inner stream pauses when this one's buffer is full). Decoder
 * errors become `content_encoding_invalid` here, where their origin is known.
 *
 * `deflate` is meant to be zlib-wrapped (RFC 9110 §8.4.1.2) but some servers
 * send raw deflate, so the first bytes pick the format, as browsers do.
 * https://www.rfc-editor.org/rfc/rfc9110#section-8.4.1.2
 */
class Decoder extends Transform {
  private inner: zlib.Gunzip | zlib.Inflate | zlib.InflateRaw | zlib.BrotliDecompress | zlib.ZstdDecompress | undefined;

  constructor(private readonly coding: ContentCoding) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.inner ??= this.open(chunk);
    this.inner.write(chunk, () => done());
  }

  override _flush(done: TransformCallback): void {
    if (!this.inner) {
      done();
      return;
    }
    this.inner.once("end", () => done());
    this.inner.end();
  }

  override _read(size: number): void {
    this.inner?.resume();
    super._read(size);
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    this.inner?.destroy();
    done(error);
  }

  private open(first: Buffer): NonNullable<Decoder["inner"]> {
    const inner = createDecompressor(this.coding, first);
    inner.on("data", (chunk: Buffer) => {
      if (!this.push(chunk)) inner.pause();
    });
    inner.on("error", (error) => {
      this.destroy(new ScrapeError("content_encoding_invalid", `the ${this.coding}-encoded body could not be decoded: ${error.message}`, { cause: error }));
    });
    return inner;
  }
}

function createDecompressor(coding: ContentCoding, first: Buffer): NonNullable<Decoder["inner"]> {
  // 64 KiB output chunks instead of zlib's 16 KiB: a 100 KB page decodes in
  // two thread-pool round trips instead of seven (measured: about a fifth
  // less CPU per page), and the cap still stops a bomb within one chunk.
  const chunkSize = 64 * 1024;
  // Flushing what is there on a truncated stream, as browsers do, instead of
  // failing on "unexpected end of file".
  const lenient = { chunkSize, flush: zlib.constants.Z_SYNC_FLUSH, finishFlush: zlib.constants.Z_SYNC_FLUSH };
  switch (coding) {
    case "gzip":
      return zlib.createGunzip(lenient);
    case "deflate":
      return isZlibHeader(first) ? zlib.createInflate(lenient) : zlib.createInflateRaw(lenient);
    case "br":
      return zlib.createBrotliDecompress({ chunkSize, flush: zlib.constants.BROTLI_OPERATION_FLUSH, finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH });
    case "zstd":
      return zlib.createZstdDecompress({ chunkSize, params: { [zlib.constants.ZSTD_d_windowLogMax]: ZSTD_WINDOW_LOG_MAX } });
  }
}

/** RFC 1950 §2.2: compression method 8 in the low nibble and a header checksum divisible by 31. */
function isZlibHeader(bytes: Buffer): boolean {
  if (bytes.length < 2) return (bytes[0] & 0x0f) === 8;
  return (bytes[0] & 0x0f) === 8 && ((bytes[0] << 8) | bytes[1]) % 31 === 0;
}

/** The codings in the order they were applied; `identity` is dropped. Unknown codings throw `content_encoding_invalid`. */
function parseContentEncoding(header: string | string[] | undefined, url: URL): ContentCoding[] {
  const values = header === undefined ? [] : Array.isArray(header) ? header : [header];
  const codings = values
    .flatMap((value) => value.split(","))
    .map((token) => token.trim().toLowerCase())
    .filter((token) => token !== "" && token !== "identity")
    .map((token) => (token === "x-gzip" ? "gzip" : token));
  const unknown = codings.filter((token) => !(CONTENT_CODINGS as readonly string[]).includes(token));
  if (unknown.length > 0) {
    throw new ScrapeError("content_encoding_invalid", `${url.href} uses content coding ${unknown.join(", ")}; only ${ACCEPT_ENCODING} are decoded`);
  }
  if (codings.length > MAX_CONTENT_CODINGS) {
    throw new ScrapeError("content_encoding_invalid", `${url.href} stacks ${codings.length} content codings (${codings.join(", ")}); at most ${MAX_CONTENT_CODINGS} are decoded`);
  }
  return codings as ContentCoding[];
}

function parseContentLength(value: string | undefined): number | undefined {
  return value !== undefined && /^\d+$/.test(value.trim()) ? Number(value.trim()) : undefined;
}

/** The media type (lower-cased, no parameters; "" when absent) and the `charset` parameter. */
export function parseContentType(value: string | undefined): { mediaType: string; charset?: string } {
  if (value === undefined) return { mediaType: "" };
  const [type, ...parameters] = value.split(";");
  const mediaType = type.trim().toLowerCase();
  for (const parameter of parameters) {
    const separator = parameter.indexOf("=");
    if (separator === -1 || parameter.slice(0, separator).trim().toLowerCase() !== "charset") continue;
    const charset = parameter.slice(separator + 1).trim().replace(/^"(.*)"$/, "$1").toLowerCase();
    if (charset !== "") return { mediaType, charset };
  }
  return { mediaType };
}

/**
 * Retry-After as milliseconds from `now`: delay-seconds or an HTTP date
 * (RFC 9110 §10.2.3). A date in the past is 0; anything unreadable is undefined.
 * https://www.rfc-editor.org/rfc/rfc9110#section-10.2.3
 */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function firstHeader(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function lastHeader(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.at(-1) : value;
}

/** Error codes from Node, OpenSSL and undici, by the ScrapeError code they mean. */
const NETWORK_ERROR_CODES: Readonly<Record<string, ErrorCode>> = {
  UND_ERR_CONNECT_TIMEOUT: "connect_timeout",
  UND_ERR_HEADERS_TIMEOUT: "headers_timeout",
  UND_ERR_BODY_TIMEOUT: "body_timeout",
  UND_ERR_SOCKET: "connection_reset",
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: "connection_reset",
  UND_ERR_HEADERS_OVERFLOW: "too_large",
  ECONNRESET: "connection_reset",
  EPIPE: "connection_reset",
  ECONNABORTED: "connection_reset",
  ECONNREFUSED: "connect_failed",
  EHOSTUNREACH: "connect_failed",
  EHOSTDOWN: "connect_failed",
  ENETUNREACH: "connect_failed",
  ENETDOWN: "connect_failed",
  EADDRNOTAVAIL: "connect_failed",
  ENOTFOUND: "dns_failed",
  EAI_AGAIN: "dns_failed",
  EAI_FAIL: "dns_failed",
  EAI_NODATA: "dns_failed",
  EAI_NONAME: "dns_failed",
  EPROTO: "tls_failed",
};

/** OpenSSL certificate errors (`CERT_HAS_EXPIRED`, `DEPTH_ZERO_SELF_SIGNED_CERT`…) and Node's TLS errors. */
const TLS_ERROR_CODE = /^(ERR_TLS_|ERR_SSL_)|CERT|_SIGNATURE|_ISSUER/;

/**
 * Turns anything thrown during a fetch into a ScrapeError, keeping the
 * original as `cause`. An abort is reported by its reason: the page deadline,
 * or the caller's own ScrapeError (a worker deadline) if it aborted with one.
 */
function toScrapeError(error: unknown, signal: AbortSignal, stage: FetchStage, url: string): ScrapeError {
  if (signal.aborted) {
    const reason: unknown = signal.reason;
    if (reason instanceof ScrapeError) return reason;
    return new ScrapeError("page_deadline", `the fetch of ${url} was aborted by the caller (${describeError(reason)})`, { cause: reason });
  }
  if (error instanceof ScrapeError) return error;

  const code = systemErrorCode(error);
  const mapped = code === undefined ? undefined : code === "ETIMEDOUT" ? (stage === "connect" ? "connect_timeout" : "body_timeout") : NETWORK_ERROR_CODES[code];
  if (mapped !== undefined) return new ScrapeError(mapped, `fetching ${url} failed: ${describeError(error)} (${code})`, { cause: error });
  if (code !== undefined && TLS_ERROR_CODE.test(code)) {
    return new ScrapeError("tls_failed", `TLS with ${url} failed: ${describeError(error)} (${code})`, { cause: error });
  }
  if (code?.startsWith("HPE_")) {
    return new ScrapeError("connection_reset", `${url} sent a response that is not valid HTTP/1.1: ${describeError(error)} (${code})`, { cause: error });
  }
  return new ScrapeError("internal_error", `fetching ${url} failed unexpectedly: ${describeError(error)}`, { cause: error });
}

/** The `code` of a Node system error, or of the first attempt inside an AggregateError (Happy Eyeballs tries several addresses). */
function systemErrorCode(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  if ("code" in error && typeof error.code === "string") return error.code;
  if (error instanceof AggregateError) return error.errors.map(systemErrorCode).find((code) => code !== undefined);
  return undefined;
}
