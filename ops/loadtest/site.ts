/**
 * A site on loopback with a chosen profile, for `loadtest` and the
 * simulator's calibration: `hosts` servers on 127.0.0.1 (one port each, so
 * the fleet paces each as a host of its own), every page answered after a
 * latency drawn uniformly from the profile's range, a share of requests
 * answered 503 without Retry-After (a transient failure the fleet retries
 * after its backoff), and pages of `pageBytes` bytes with links. It listens
 * on 127.0.0.1 only and resolves no names.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { SiteProfile } from "../simulate/site";

export interface ProfileSite {
  /** One origin per host, `http://127.0.0.1:<port>`. */
  readonly origins: readonly string[];
  /** The URL of page `n`, on host `n % hosts` (as the simulator spreads pages). */
  url(n: number): string;
  /** Requests answered, failures included. */
  readonly requests: () => number;
  close(): Promise<void>;
}

export interface ProfileSiteOptions {
  readonly profile: SiteProfile;
  /** Bytes of each page's HTML. @default 20000 */
  readonly pageBytes?: number;
  /** @default Math.random */
  readonly random?: () => number;
}

function page(n: string, bytes: number): string {
  const parts = [`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Page ${n}</title></head><body>`];
  for (let p = 0; parts.join("").length < bytes; p++) parts.push(`<p>Paragraph ${p} of page ${n}. <a href="/link/${n}-${p}">link ${p}</a></p>`);
  parts.push("</body></html>");
  return parts.join("");
}

export async function startProfileSite(options: ProfileSiteOptions): Promise<ProfileSite> {
  const { profile } = options;
  const random = options.random ?? Math.random;
  const body = page("N", options.pageBytes ?? 20_000);
  let requests = 0;
  const servers: Server[] = [];
  for (let host = 0; host < profile.hosts; host++) {
    const server = createServer((request, response) => {
      requests += 1;
      response.on("error", () => undefined);
      if (request.url === "/robots.txt") return void response.writeHead(404).end();
      const latency = profile.latencyMs.min + random() * (profile.latencyMs.max - profile.latencyMs.min);
      const failed = random() < profile.failureRate;
      setTimeout(() => {
        if (failed) response.writeHead(503, { "content-type": "text/plain" }).end("busy");
        else response.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(body);
      }, latency);
    });
    server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    servers.push(server);
  }
  const origins = servers.map((server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  return {
    origins,
    url: (n) => `${origins[n % origins.length]}/page/${n}`,
    requests: () => requests,
    close: async () => {
      await Promise.all(
        servers.map(
          (server) =>
            new Promise<void>((resolve) => {
              server.closeAllConnections();
              server.close(() => resolve());
            }),
        ),
      );
    },
  };
}
