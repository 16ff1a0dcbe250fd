/**
 * The one web site every runtime of the conformance suite scrapes: a loopback
 * page server whose paths behave as their names say, and a resolver that maps
 * `*.example` host names to it, so URLs look like real ones while no outside
 * name is ever resolved.
 */
import { startLoopbackServer, type LoopbackServer } from "../support/loopback/server";

export const GOOD_TITLE = "Good page";
export const XHTML_TITLE = "XHTML page";

/** The paths the site serves; anything else is a 404. */
export const SITE_PATHS = {
  good: "/good",
  gone: "/gone",
  busy: "/busy",
  rateLimited: "/rate-limited",
  photo: "/photo.png",
  xhtml: "/feed.xhtml",
  robots: "/robots.txt",
  /** Disallowed for every agent by the site's robots.txt. */
  disallowed: "/private/report",
} as const;

/** The smallest valid PNG header, enough for a response that is plainly an image. */
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export interface PageSite {
  /** `http://<host>:<port><path>`; `host` must end in `.example` to resolve (to 127.0.0.1). */
  url(host: string, path: string): string;
  /** A position in the request log; `requestsSince` lists the paths requested after it. */
  mark(): number;
  requestsSince(mark: number): string[];
  close(): Promise<void>;
}

export async function startPageSite(): Promise<PageSite> {
  const html = (title: string) => `<!doctype html><html><head><title>${title}</title></head><body><p>${title}</p></body></html>`;
  const server: LoopbackServer = await startLoopbackServer({
    [SITE_PATHS.good]: (_req, res) => res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(html(GOOD_TITLE)),
    [SITE_PATHS.gone]: (_req, res) => res.writeHead(404, { "content-type": "text/plain" }).end("gone"),
    [SITE_PATHS.busy]: (_req, res) => res.writeHead(503, { "content-type": "text/plain" }).end("busy"),
    [SITE_PATHS.rateLimited]: (_req, res) => res.writeHead(429, { "content-type": "text/plain", "retry-after": "1" }).end("slow down"),
    [SITE_PATHS.photo]: (_req, res) => res.writeHead(200, { "content-type": "image/png" }).end(PNG_SIGNATURE),
    [SITE_PATHS.xhtml]: (_req, res) =>
      res.writeHead(200, { "content-type": "application/xhtml+xml; charset=utf-8" }).end(`<html xmlns="http://www.w3.org/1999/xhtml"><head><title>${XHTML_TITLE}</title></head><body/></html>`),
    [SITE_PATHS.robots]: (_req, res) => res.writeHead(200, { "content-type": "text/plain" }).end("User-agent: *\nDisallow: /private/\n"),
    [SITE_PATHS.disallowed]: (_req, res) => res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(html("Private report")),
  });
  return {
    url: (host, path) => `http://${host}:${server.port}${path}`,
    mark: () => server.requests.length,
    requestsSince: (mark) => server.requests.slice(mark).map((request) => request.path),
    close: () => server.close(),
  };
}

/** `*.example` → 127.0.0.1; every other name fails as an unknown host would, without asking DNS. */
export { loopbackLookup as exampleLookup } from "../support/pages";
