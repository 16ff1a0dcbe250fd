/**
 * What the loopback tests scrape: the page handlers several tests serve (a
 * good page, a transient 503, a permanent 404, a page that answers late), and
 * a stub resolver mapping `*.example` host names to 127.0.0.1, so URLs look
 * like real ones while no outside name is ever resolved.
 */
import type { LookupFunction } from "node:net";
import type { LoopbackHandler } from "./loopback/server";

/** One answer of the stub resolver. */
export interface StubAddress {
  readonly address: string;
  readonly family: 4 | 6;
}

const LOOPBACK: StubAddress = { address: "127.0.0.1", family: 4 };

/**
 * A resolver that answers `named` host names with their address, every other
 * `*.example` name with 127.0.0.1, and anything else with ENOTFOUND. `named`
 * lets a test point a name at an address the SSRF guard must refuse.
 */
export function exampleLookup(named: Readonly<Record<string, StubAddress>> = {}): LookupFunction {
  return (hostname, options, callback) => {
    const found = named[hostname] ?? (hostname.endsWith(".example") ? LOOPBACK : undefined);
    if (found === undefined) callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" }), options.all ? [] : "", 0);
    else if (options.all) callback(null, [found]);
    else callback(null, found.address, found.family);
  };
}

/** Every `*.example` name resolves to 127.0.0.1; nothing reaches a real resolver. */
export const loopbackLookup: LookupFunction = exampleLookup();

/** 200 with `html` after `delayMs`; the answer is dropped when the client hangs up first. */
export function htmlPage(html: string, delayMs = 0): LoopbackHandler {
  return (_request, response) => {
    const timer = setTimeout(() => response.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(html), delayMs);
    response.on("close", () => clearTimeout(timer));
  };
}

export const GOOD_PAGE_TITLE = "Good page";

/** A page with a title, a language and one link, `/next`, for the extractor to find. */
export const goodPage = htmlPage(`<html lang="en"><head><title>${GOOD_PAGE_TITLE}</title></head><body><a href="/next">next</a> hello</body></html>`);

/** A transient failure the worker retries: 503 with `Retry-After: 1`. */
export const busyPage: LoopbackHandler = (_request, response) => response.writeHead(503, { "retry-after": "1" }).end();

/** A permanent failure the worker records: 404. */
export const gonePage: LoopbackHandler = (_request, response) => response.writeHead(404, { "content-type": "text/plain" }).end("gone");

/** Answers after 5 s: longer than any deadline these tests set. */
export const slowPage = htmlPage("<html><head><title>Slow page</title></head></html>", 5_000);

/** The routes the worker and adapter tests share: `/good`, `/busy`, `/gone`, `/slow` and `/other` (a second good page). */
export function commonPages(): Record<string, LoopbackHandler> {
  return { "/good": goodPage, "/busy": busyPage, "/gone": gonePage, "/slow": slowPage, "/other": htmlPage("<html><head><title>Other page</title></head></html>") };
}
