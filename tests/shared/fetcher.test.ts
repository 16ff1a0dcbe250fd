/**
 * The fetcher against real HTTP servers on 127.0.0.1.
 *
 * A loopback server is itself a private address, so the functional tests run
 * with the operator switch `allowPrivateNetworks` on; that switch still
 * refuses link-local, metadata and unspecified addresses, which the redirect
 * tests rely on. The tests of the guard itself run with the switch off and
 * show that the server saw no connection at all. Host names ending in
 * `.example` are answered by stub resolvers; nothing real is resolved.
 */
import { strict as assert } from "node:assert";
import type { LookupAddress } from "node:dns";
import type { ServerResponse } from "node:http";
import type { LookupFunction } from "node:net";
import * as zlib from "node:zlib";
import { ScrapeError, type ErrorCode } from "../../shared/errors";
import { ROBOTS_MAX_BYTES, RedirectRefusedError, createFetcher, parseContentType, parseRetryAfter } from "../../shared/fetcher";
import type { FetchOptions, PageFetcher } from "../../shared/page";
import { parseSettings, type FleetSettings } from "../../shared/settings";
import { SELF_SIGNED_127_0_0_1 } from "../support/loopback/selfSignedCertificate";
import { startLoopbackServer, type LoopbackHandler, type LoopbackServer } from "../support/loopback/server";

type SettingsDocument = Partial<Record<keyof FleetSettings, unknown>>;

/** Small caps and timeouts (at the minimums allowed by SETTINGS_SPEC) so the file runs in a few seconds. */
const testSettings = (overrides: SettingsDocument = {}): FleetSettings =>
  parseSettings({
    connectTimeoutMs: 500,
    headersTimeoutMs: 200,
    bodyIdleTimeoutMs: 200,
    pageDeadlineMs: 2_000,
    maxBodyBytes: 64 * 1024,
    maxDecodedBytes: 256 * 1024,
    maxRedirects: 3,
    userAgent: "scrape-fleet-test/1.0",
    contact: "https://ops.example/crawler",
    ...overrides,
  });

const PAGE_HTML = `<!doctype html><html><head><title>Test</title></head><body>${"<p>lorem ipsum dolor sit amet</p>".repeat(600)}</body></html>`;
const BOMB_DECODED_BYTES = 32 * 1024 * 1024;

const html = (body: string | Buffer, headers: Record<string, string> = {}): LoopbackHandler => (_request, response) => {
  response.writeHead(200, { "content-type": "text/html; charset=UTF-8", ...headers }).end(body);
};
const redirect = (status: number, location: string): LoopbackHandler => (_request, response) => {
  response.writeHead(status, { location }).end("moved");
};
const never: LoopbackHandler = () => undefined;

/** Sends the head at once, then one body byte every 50 ms (well inside the body idle timeout) until the client hangs up. */
const trickle = (status: number, headers: Record<string, string>): LoopbackHandler => (_request, response) => {
  response.writeHead(status, headers).flushHeaders();
  const timer = setInterval(() => response.write("x"), 50);
  response.on("close", () => clearInterval(timer));
};

/** How long `promise` took to settle, or Infinity if it had not after `limitMs`. */
async function settleMs(promise: Promise<unknown>, limitMs: number): Promise<number> {
  const startedAt = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const settled = await Promise.race([
    promise.then(
      () => true,
      () => true,
    ),
    new Promise<false>((resolve) => (timer = setTimeout(resolve, limitMs, false))),
  ]);
  clearTimeout(timer);
  return settled ? performance.now() - startedAt : Infinity;
}

/** Writes the head and a first piece of body, then hands the response to `rest`. */
const partial = (headers: Record<string, string | number>, rest: (response: ServerResponse) => void): LoopbackHandler => (_request, response) => {
  response.writeHead(200, { "content-type": "text/html", ...headers });
  response.write("x".repeat(1024), () => rest(response));
};

/** A resolver that answers every `.example` name with `addresses`, and counts its calls. */
function stubResolver(addresses: readonly LookupAddress[]): LookupFunction & { calls: string[] } {
  const calls: string[] = [];
  const lookup: LookupFunction = (hostname, options, callback) => {
    calls.push(hostname);
    if (!hostname.endsWith(".example")) {
      callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" }), []);
      return;
    }
    if (options.all) callback(null, [...addresses]);
    else callback(null, addresses[0].address, addresses[0].family);
  };
  return Object.assign(lookup, { calls });
}

async function fetchError(fetcher: PageFetcher, url: string, options: FetchOptions): Promise<ScrapeError> {
  try {
    const page = await fetcher.fetch(url, options);
    assert.fail(`expected a failure, got status ${page.status}`);
  } catch (error) {
    assert.ok(error instanceof ScrapeError, `expected a ScrapeError, got ${String(error)}`);
    return error;
  }
}

async function assertCode(promise: Promise<ScrapeError>, code: ErrorCode): Promise<ScrapeError> {
  const error = await promise;
  assert.equal(error.code, code, `expected ${code}, got ${error.code}: ${error.message}`);
  return error;
}

/** Peak growth of Buffer memory while `action` runs, sampled every few milliseconds. */
async function peakBufferGrowth(action: () => Promise<unknown>): Promise<number> {
  const baseline = process.memoryUsage().arrayBuffers;
  let peak = baseline;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().arrayBuffers);
  }, 2);
  try {
    await action();
  } finally {
    clearInterval(sampler);
  }
  return Math.max(peak, process.memoryUsage().arrayBuffers) - baseline;
}

describe("fetcher", () => {
  const settings = testSettings();
  const page: FetchOptions = { settings, purpose: "page" };
  let server: LoopbackServer;
  /** A second server that redirects point at; the guard must keep it at zero connections. */
  let target: LoopbackServer;
  let fetcher: PageFetcher;

  before(async () => {
    const gzipBomb = zlib.gzipSync(Buffer.alloc(BOMB_DECODED_BYTES), { level: 9 });
    const brBomb = zlib.brotliCompressSync(Buffer.alloc(BOMB_DECODED_BYTES), { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 1 } });
    const robots = Array.from({ length: 40_000 }, (_, i) => `Disallow: /private/${String(i).padStart(6, "0")}\n`).join("");
    target = await startLoopbackServer({ "/": html("<title>internal</title>") });

    const slowHop = (next: string): LoopbackHandler => (_request, response) => {
      setTimeout(() => response.writeHead(302, { location: next }).end(), 400);
    };
    server = await startLoopbackServer({
      "/ok": html(PAGE_HTML),
      "/gzip": html(zlib.gzipSync(PAGE_HTML), { "content-encoding": "gzip" }),
      "/br": html(zlib.brotliCompressSync(PAGE_HTML), { "content-encoding": "br" }),
      "/deflate": html(zlib.deflateSync(PAGE_HTML), { "content-encoding": "deflate" }),
      "/deflate-raw": html(zlib.deflateRawSync(PAGE_HTML), { "content-encoding": "deflate" }),
      "/zstd": html(zlib.zstdCompressSync(PAGE_HTML), { "content-encoding": "zstd" }),
      "/zstd-wide-window": html(zlib.zstdCompressSync(Buffer.alloc(16 * 1024 * 1024), { params: { [zlib.constants.ZSTD_c_windowLog]: 24 } }), { "content-encoding": "zstd" }),
      "/gzip-then-br": html(zlib.brotliCompressSync(zlib.gzipSync(PAGE_HTML)), { "content-encoding": "gzip, br" }),
      "/compress": html("whatever", { "content-encoding": "compress" }),
      "/corrupt-gzip": html(Buffer.from("this is not gzip at all"), { "content-encoding": "gzip" }),
      "/gzip-bomb": html(gzipBomb, { "content-encoding": "gzip" }),
      "/br-bomb": html(brBomb, { "content-encoding": "br" }),
      "/announced-large": partial({ "content-length": 10 * 1024 * 1024 }, () => undefined),
      "/chunked-large": (_request, response) => {
        response.writeHead(200, { "content-type": "text/html" });
        const chunk = Buffer.alloc(8 * 1024, "a");
        let sent = 0;
        const pump = (): void => {
          if (response.destroyed || sent >= 1024 * 1024) return void response.end();
          sent += chunk.length;
          response.write(chunk, pump);
        };
        pump();
      },
      "/slow-headers": never,
      "/slow-body": partial({}, () => undefined),
      "/reset": partial({ "content-length": 50_000 }, (response) => response.socket?.destroy()),
      "/chain/1": redirect(302, "/chain/2"),
      "/chain/2": redirect(301, "3"),
      "/chain/3": (request, response) => response.writeHead(307, { location: `http://${request.headers.host}/ok` }).end(),
      "/loop/a": redirect(302, "/loop/b"),
      "/loop/b": redirect(308, "/loop/a"),
      "/hop/1": redirect(302, "/hop/2"),
      "/hop/2": redirect(302, "/hop/3"),
      "/hop/3": redirect(302, "/hop/4"),
      "/hop/4": redirect(302, "/hop/5"),
      "/hop/5": html("<title>too far</title>"),
      "/slow-hop/1": slowHop("/slow-hop/2"),
      "/slow-hop/2": slowHop("/slow-hop/3"),
      "/slow-hop/3": slowHop("/slow-hop/4"),
      "/slow-hop/4": html("<title>late</title>"),
      "/to-metadata": redirect(302, "http://169.254.169.254/latest/meta-data/"),
      "/to-unspecified": redirect(302, `http://0.0.0.0:${target.port}/`),
      "/to-ipv4-compatible": redirect(302, `http://[::127.0.0.1]:${target.port}/`),
      "/to-file": redirect(302, "file:///etc/passwd"),
      "/bad-location": redirect(302, "http://exa mple.com/"),
      "/json": (_request, response) => response.writeHead(200, { "content-type": "application/json" }).end("{}"),
      "/503-trickle": trickle(503, { "content-type": "text/html" }),
      "/json-trickle": trickle(200, { "content-type": "application/json" }),
      "/302-trickle": trickle(302, { location: "/ok" }),
      "/301-without-location": (_request, response) => response.writeHead(301, { "content-type": "text/html" }).end("moved, but not saying where"),
      "/300-choices": (_request, response) => response.writeHead(300, { location: "/ok" }).end(),
      "/304": (_request, response) => response.writeHead(304).end(),
      "/to-refused-name": redirect(302, `http://refused.example:${target.port}/`),
      "/to-credentials": redirect(302, `http://user:secret@127.0.0.1:${target.port}/`),
      "/no-type": (_request, response) => response.writeHead(200).end("<html></html>"),
      "/429": (_request, response) => response.writeHead(429, { "retry-after": "7", "content-type": "text/plain" }).end("slow down"),
      "/503": (_request, response) => response.writeHead(503, { "content-type": "text/html" }).end("<h1>down</h1>".repeat(100)),
      "/404-json": (_request, response) => response.writeHead(404, { "content-type": "application/json" }).end("{}"),
      "/robots.txt": (_request, response) => response.writeHead(200, { "content-type": "application/octet-stream" }).end(robots),
    });
  });

  after(async () => {
    await server.close();
    await target.close();
  });

  beforeEach(() => {
    fetcher = createFetcher({ allowPrivateNetworks: true });
  });

  afterEach(async () => {
    await fetcher.close();
  });

  const url = (path: string) => server.url(path);

  describe("pages", () => {
    it("a 2xx HTML page is returned with its body, type, charset and byte counts", async () => {
      const result = await fetcher.fetch(url("/ok"), page);
      assert.equal(result.status, 200);
      assert.equal(result.body.toString(), PAGE_HTML);
      assert.equal(result.contentType, "text/html");
      assert.equal(result.charset, "utf-8");
      assert.equal(result.bytesOnWire, Buffer.byteLength(PAGE_HTML));
      assert.equal(result.finalUrl, url("/ok"));
      assert.equal(result.requestedUrl, url("/ok"));
      assert.deepEqual(result.redirects, []);
      assert.ok(result.fetchMs >= 0 && result.fetchMs < 2_000);
    });

    for (const path of ["/gzip", "/br", "/deflate", "/deflate-raw", "/zstd", "/gzip-then-br"]) {
      it(`a ${path.slice(1)} body is decoded, and bytesOnWire counts the encoded bytes`, async () => {
        const result = await fetcher.fetch(url(path), page);
        assert.equal(result.body.toString(), PAGE_HTML);
        assert.ok(result.bytesOnWire > 0 && result.bytesOnWire < Buffer.byteLength(PAGE_HTML) / 4, `bytesOnWire ${result.bytesOnWire}`);
      });
    }

    it("the request names the fleet and its contact, and asks for compressed HTML", async () => {
      const before = server.requests.length;
      await fetcher.fetch(url("/ok"), page);
      const { headers } = server.requests[before];
      assert.equal(headers["user-agent"], "scrape-fleet-test/1.0 (+https://ops.example/crawler)");
      assert.equal(headers["accept-encoding"], "gzip, deflate, br, zstd");
      assert.match(String(headers.accept), /^text\/html, application\/xhtml\+xml/);
    });

    it("without a contact the User-Agent is the product token alone", async () => {
      const before = server.requests.length;
      await fetcher.fetch(url("/ok"), { settings: testSettings({ contact: "" }), purpose: "page" });
      assert.equal(server.requests[before].headers["user-agent"], "scrape-fleet-test/1.0");
    });

    it("a type outside allowedContentTypes is refused before the body is read", async () => {
      const error = await assertCode(fetchError(fetcher, url("/json"), page), "content_type_not_allowed");
      assert.match(error.message, /application\/json/);
    });

    it("a page without Content-Type is refused", async () => {
      const error = await assertCode(fetchError(fetcher, url("/no-type"), page), "content_type_not_allowed");
      assert.match(error.message, /without a Content-Type/);
    });

    it("an unknown content coding is refused", async () => {
      await assertCode(fetchError(fetcher, url("/compress"), page), "content_encoding_invalid");
    });

    it("a zstd body whose window is over 8 MiB (RFC 9659) is refused before the decoder allocates it", async () => {
      const error = await assertCode(fetchError(fetcher, url("/zstd-wide-window"), page), "content_encoding_invalid");
      assert.match(error.message, /too much memory/);
    });

    it("a body that does not decode is content_encoding_invalid, not a crash", async () => {
      await assertCode(fetchError(fetcher, url("/corrupt-gzip"), page), "content_encoding_invalid");
    });
  });

  describe("statuses", () => {
    it("a 429 is returned with its status and Retry-After in milliseconds", async () => {
      const result = await fetcher.fetch(url("/429"), page);
      assert.equal(result.status, 429);
      assert.equal(result.retryAfterMs, 7_000);
      assert.equal(result.body.length, 0);
    });

    it("a 503 is returned, not thrown, with an empty body", async () => {
      const result = await fetcher.fetch(url("/503"), page);
      assert.equal(result.status, 503);
      assert.equal(result.body.length, 0);
      assert.equal(result.retryAfterMs, undefined);
    });

    it("a non-2xx page skips the content-type check", async () => {
      const result = await fetcher.fetch(url("/404-json"), page);
      assert.equal(result.status, 404);
      assert.equal(result.contentType, "application/json");
    });

    it("an error page's body that came with its headers counts in bytesOnWire, though it is not kept", async () => {
      const result = await fetcher.fetch(url("/404-json"), page);
      assert.equal(result.body.length, 0);
      assert.equal(result.bytesOnWire, 2);
    });

    for (const [label, path, status, why] of [
      ["301 without Location", "/301-without-location", 301, /answered 301 without a Location header/],
      ["300 Multiple Choices", "/300-choices", 300, /answered 300, a status that is not a redirect to follow/],
      ["304 Not Modified", "/304", 304, /answered 304/],
    ] as const) {
      it(`a final ${label} is redirect_invalid, never a status the caller could read as a 4xx`, async () => {
        const error = await assertCode(fetchError(fetcher, url(path), page), "redirect_invalid");
        assert.match(error.message, why);
        assert.equal(error.httpStatus, status);
      });
    }

    it("unused bodies that trickle (a 503, a refused content type, a redirect) are given up after 2 s, so neither the fetch nor close() waits on them", async () => {
      const slowDrains = testSettings({ pageDeadlineMs: 6_000 });
      const failed = fetcher.fetch(url("/503-trickle"), { settings: slowDrains, purpose: "page" });
      const refused = fetchError(fetcher, url("/json-trickle"), { settings: slowDrains, purpose: "page" });
      const redirected = fetcher.fetch(url("/302-trickle"), { settings: slowDrains, purpose: "page" });
      assert.ok((await settleMs(Promise.all([failed, refused]), 1_000)) < 1_000, "the 503 and the refusal answer at once");
      assert.equal((await failed).status, 503);
      assert.equal((await refused).code, "content_type_not_allowed");
      const redirectMs = await settleMs(redirected, 4_000);
      assert.ok(redirectMs < 3_000, `the redirect went on after ${Math.round(redirectMs)} ms`);
      assert.equal((await redirected).finalUrl, url("/ok"));
      const closeMs = await settleMs(fetcher.close(), 5_000);
      assert.ok(closeMs < 3_000, `close() took ${closeMs} ms`);
    });

    it("Retry-After as an HTTP date is read relative to now; junk is ignored", () => {
      const now = Date.parse("2025-01-01T00:00:00Z");
      assert.equal(parseRetryAfter("Wed, 01 Jan 2025 00:00:30 GMT", now), 30_000);
      assert.equal(parseRetryAfter("Tue, 31 Dec 2024 23:59:00 GMT", now), 0);
      assert.equal(parseRetryAfter("soon", now), undefined);
      assert.equal(parseRetryAfter(" 120 ", now), 120_000);
    });

    it("Content-Type parameters give the charset, quoted or not", () => {
      assert.deepEqual(parseContentType('Text/HTML; Charset="ISO-8859-1"'), { mediaType: "text/html", charset: "iso-8859-1" });
      assert.deepEqual(parseContentType("text/html;foo=bar"), { mediaType: "text/html" });
      assert.deepEqual(parseContentType(undefined), { mediaType: "" });
    });
  });

  describe("caps", () => {
    for (const path of ["/gzip-bomb", "/br-bomb"]) {
      it(`a ${path.slice(1)} (small on the wire, ${BOMB_DECODED_BYTES >> 20} MiB decoded) is refused as decoded_too_large with memory bounded`, async () => {
        const bombSettings = testSettings({ maxBodyBytes: 256 * 1024, maxDecodedBytes: 1024 * 1024 });
        const startedAt = performance.now();
        let error: ScrapeError | undefined;
        const growth = await peakBufferGrowth(async () => {
          error = await fetchError(fetcher, url(path), { settings: bombSettings, purpose: "page" });
        });
        assert.equal(error?.code, "decoded_too_large");
        assert.ok(growth < 6 * 1024 * 1024, `Buffer memory grew by ${growth} bytes while refusing the bomb`);
        assert.ok(performance.now() - startedAt < 1_500, "refused quickly");
      });
    }

    it("a Content-Length above maxBodyBytes is refused before the body is read", async () => {
      const startedAt = performance.now();
      const error = await assertCode(fetchError(fetcher, url("/announced-large"), page), "too_large");
      assert.match(error.message, /announces 10485760 bytes/);
      // The server never ends the body: only an early refusal returns before the body timeout.
      assert.ok(performance.now() - startedAt < settings.bodyIdleTimeoutMs);
    });

    it("a body without Content-Length is cut off as too_large once it passes maxBodyBytes", async () => {
      const error = await assertCode(fetchError(fetcher, url("/chunked-large"), page), "too_large");
      assert.match(error.message, /sent more than maxBodyBytes \(65536\)/);
    });

    it("robots.txt is read up to 512 KiB whatever its type, cut at a line break", async () => {
      const result = await fetcher.fetch(url("/robots.txt"), { settings: testSettings({ maxBodyBytes: 2 * 1024 * 1024, maxDecodedBytes: 2 * 1024 * 1024 }), purpose: "robots" });
      assert.equal(result.status, 200);
      assert.ok(result.body.length <= ROBOTS_MAX_BYTES && result.body.length > ROBOTS_MAX_BYTES - 64, `body ${result.body.length}`);
      assert.ok(result.body.toString().endsWith("\n"));
      assert.ok(result.body.toString().split("\n").slice(0, -1).every((line) => /^Disallow: \/private\/\d{6}$/.test(line)));
    });
  });

  describe("timeouts and network failures", () => {
    it("a server that never answers fails with headers_timeout", async () => {
      await assertCode(fetchError(fetcher, url("/slow-headers"), page), "headers_timeout");
    });

    it("a body that stalls fails with body_timeout", async () => {
      await assertCode(fetchError(fetcher, url("/slow-body"), page), "body_timeout");
    });

    it("slow redirects that together pass pageDeadlineMs fail with page_deadline", async () => {
      const deadlineSettings = testSettings({ headersTimeoutMs: 1_000, pageDeadlineMs: 1_000 });
      const startedAt = performance.now();
      await assertCode(fetchError(fetcher, url("/slow-hop/1"), { settings: deadlineSettings, purpose: "page" }), "page_deadline");
      const elapsed = performance.now() - startedAt;
      assert.ok(elapsed >= 950 && elapsed < 1_150, `ended after ${Math.round(elapsed)} ms`);
    });

    it("a caller abort with a ScrapeError reason surfaces that error", async () => {
      const controller = new AbortController();
      setTimeout(() => controller.abort(new ScrapeError("worker_deadline", "batch out of time")), 50);
      await assertCode(fetchError(fetcher, url("/slow-headers"), { ...page, signal: controller.signal }), "worker_deadline");
    });

    it("a connection dropped mid-body fails with connection_reset", async () => {
      await assertCode(fetchError(fetcher, url("/reset"), page), "connection_reset");
    });

    it("an HTTPS server with a self-signed certificate is refused as tls_failed (verification is on)", async () => {
      const untrusted = await startLoopbackServer({ "/": html("<title>untrusted</title>") }, { tls: SELF_SIGNED_127_0_0_1 });
      try {
        await assertCode(fetchError(fetcher, untrusted.url("/"), page), "tls_failed");
        assert.equal(untrusted.requests.length, 0, "no request was sent over the unverified connection");
      } finally {
        await untrusted.close();
      }
    });

    it("a closed port fails with connect_failed", async () => {
      const closed = await startLoopbackServer();
      await closed.close();
      await assertCode(fetchError(fetcher, closed.url("/"), page), "connect_failed");
    });
  });

  describe("redirects", () => {
    it("a redirect chain is followed, relative and absolute, with every hop recorded", async () => {
      const result = await fetcher.fetch(url("/chain/1"), page);
      assert.equal(result.status, 200);
      assert.deepEqual(result.redirects, [url("/chain/2"), url("/chain/3"), url("/ok")]);
      assert.equal(result.finalUrl, url("/ok"));
      assert.equal(result.body.toString(), PAGE_HTML);
    });

    it("a redirect loop is refused as redirect_loop", async () => {
      await assertCode(fetchError(fetcher, url("/loop/a"), page), "redirect_loop");
    });

    it("more hops than maxRedirects is too_many_redirects", async () => {
      await assertCode(fetchError(fetcher, url("/hop/1"), page), "too_many_redirects");
    });

    it("maxRedirects 0 refuses the first redirect", async () => {
      await assertCode(fetchError(fetcher, url("/chain/1"), { settings: testSettings({ maxRedirects: 0 }), purpose: "page" }), "too_many_redirects");
    });

    it("a Location that is not a URL is redirect_invalid", async () => {
      await assertCode(fetchError(fetcher, url("/bad-location"), page), "redirect_invalid");
    });

    it("a redirect to file: is refused by the URL policy, as a refused redirect", async () => {
      const error = await assertCode(fetchError(fetcher, url("/to-file"), page), "url_scheme_not_allowed");
      assert.ok(error instanceof RedirectRefusedError);
      assert.equal(error.redirectedFrom, url("/to-file"));
    });

    it("a redirect to a URL with credentials is refused by the URL policy, as a refused redirect", async () => {
      const error = await assertCode(fetchError(fetcher, url("/to-credentials"), page), "url_credentials_not_allowed");
      assert.ok(error instanceof RedirectRefusedError);
      assert.doesNotMatch(error.message, /secret/);
      assert.equal(target.connections, 0);
    });

    it("a redirect to the cloud metadata address is refused even with the switch on", async () => {
      const error = await assertCode(fetchError(fetcher, url("/to-metadata"), page), "ssrf_refused");
      assert.match(error.message, /169\.254\.169\.254.*linkLocal/);
      assert.ok(error instanceof RedirectRefusedError);
    });

    it("a redirect to a name that resolves to a refused address is refused at connect time, as a refused redirect", async () => {
      const lookup: LookupFunction = (hostname, options, callback) => {
        const address = hostname === "refused.example" ? "0.0.0.0" : "127.0.0.1";
        if (options.all) callback(null, [{ address, family: 4 }]);
        else callback(null, address, 4);
      };
      const named = createFetcher({ allowPrivateNetworks: true, lookup });
      try {
        const error = await assertCode(fetchError(named, url("/to-refused-name"), page), "ssrf_refused");
        assert.ok(error instanceof RedirectRefusedError, `got ${error.name}: ${error.message}`);
        assert.match(error.message, /^redirect from http:\/\/127\.0\.0\.1:\d+\/to-refused-name refused: /);
        assert.equal(target.connections, 0);
        const direct = await assertCode(fetchError(named, `http://refused.example:${target.port}/`, page), "ssrf_refused");
        assert.ok(!(direct instanceof RedirectRefusedError), "a URL refused on its own is not a refused redirect");
      } finally {
        await named.close();
      }
    });

    for (const path of ["/to-unspecified", "/to-ipv4-compatible"]) {
      it(`a redirect that would reach loopback through ${path === "/to-unspecified" ? "0.0.0.0" : "[::127.0.0.1]"} is refused and never connects`, async () => {
        await assertCode(fetchError(fetcher, url(path), page), "ssrf_refused");
        assert.equal(target.connections, 0);
      });
    }
  });

  describe("SSRF guard at connect time", () => {
    let victim: LoopbackServer;

    beforeEach(async () => {
      victim = await startLoopbackServer({ "/": html("<title>internal</title>") });
    });

    afterEach(async () => {
      await victim.close();
    });

    it("with the switch off, a loopback URL is refused and the server sees no connection", async () => {
      const guarded = createFetcher();
      try {
        await assertCode(fetchError(guarded, victim.url("/"), page), "ssrf_refused");
        assert.equal(victim.connections, 0);
      } finally {
        await guarded.close();
      }
    });

    it("a public-looking name that resolves to loopback (DNS rebinding) is refused without connecting", async () => {
      const lookup = stubResolver([{ address: "127.0.0.1", family: 4 }]);
      const guarded = createFetcher({ lookup });
      try {
        await assertCode(fetchError(guarded, `http://rebind.example:${victim.port}/`, page), "ssrf_refused");
        assert.deepEqual(lookup.calls, ["rebind.example"]);
        assert.equal(victim.connections, 0);
      } finally {
        await guarded.close();
      }
    });

    it("a name with one allowed and one metadata address is refused: any bad address refuses", async () => {
      const lookup = stubResolver([
        { address: "127.0.0.1", family: 4 },
        { address: "169.254.169.254", family: 4 },
      ]);
      const guarded = createFetcher({ allowPrivateNetworks: true, lookup });
      try {
        await assertCode(fetchError(guarded, `http://multi.example:${victim.port}/`, page), "ssrf_refused");
        assert.equal(victim.connections, 0);
      } finally {
        await guarded.close();
      }
    });

    it("an injected resolver is used for names, and the request carries the name as Host", async () => {
      const lookup = stubResolver([{ address: "127.0.0.1", family: 4 }]);
      const named = createFetcher({ allowPrivateNetworks: true, lookup });
      try {
        const result = await named.fetch(`http://www.site.example:${victim.port}/`, page);
        assert.equal(result.status, 200);
        assert.equal(victim.requests[0].headers.host, `www.site.example:${victim.port}`);
      } finally {
        await named.close();
      }
    });
  });

  describe("connection pool", () => {
    let pooled: LoopbackServer;

    beforeEach(async () => {
      pooled = await startLoopbackServer({
        "/a": html("<title>a</title>"),
        "/b": html("<title>b</title>"),
        "/moved": redirect(301, "/a"),
        "/moved-slowly": (_request, response) => {
          setTimeout(() => response.writeHead(302, { location: "/a" }).end(), 150);
        },
      });
    });

    afterEach(async () => {
      await pooled.close();
    });

    it("sequential fetches to one server reuse one kept-alive connection, redirects included", async () => {
      await fetcher.fetch(pooled.url("/a"), page);
      await fetcher.fetch(pooled.url("/b"), page);
      await fetcher.fetch(pooled.url("/moved"), page);
      assert.equal(pooled.requests.length, 4);
      assert.equal(pooled.connections, 1);
    });

    it("a changed connectTimeoutMs opens a new pool", async () => {
      await fetcher.fetch(pooled.url("/a"), page);
      await fetcher.fetch(pooled.url("/b"), { settings: testSettings({ connectTimeoutMs: 750 }), purpose: "page" });
      assert.equal(pooled.connections, 2);
    });

    it("a redirect chain in flight when the pool is replaced finishes on its old pool", async () => {
      const chain = fetcher.fetch(pooled.url("/moved-slowly"), page);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const other = await fetcher.fetch(pooled.url("/b"), { settings: testSettings({ connectTimeoutMs: 750 }), purpose: "page" });
      assert.equal(other.status, 200);
      const result = await chain;
      assert.equal(result.status, 200);
      assert.equal(result.finalUrl, pooled.url("/a"));
    });
  });
});
