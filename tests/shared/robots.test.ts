import { strict as assert } from "node:assert";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ScrapeError } from "../../shared/errors";
import { createFetcher } from "../../shared/fetcher";
import type { FetchedPage, FetchOptions, PageFetcher } from "../../shared/page";
import { RobotsCache, UNREACHABLE_CACHE_MS, productToken, type RobotsVerdict } from "../../shared/robots";
import { DEFAULT_SETTINGS, type FleetSettings } from "../../shared/settings";

type Answer = { status: number; body?: string } | ScrapeError;

/** A recorded fake of the fetcher: answers robots.txt requests from a function and counts them. */
class FakeFetcher implements PageFetcher {
  readonly requests: string[] = [];

  constructor(private readonly answer: (url: string) => Answer | Promise<Answer>) {}

  async fetch(url: string, options: FetchOptions): Promise<FetchedPage> {
    assert.equal(options.purpose, "robots");
    this.requests.push(url);
    const answer = await this.answer(url);
    if (answer instanceof ScrapeError) throw answer;
    const body = Buffer.from(answer.body ?? "");
    return { requestedUrl: url, finalUrl: url, status: answer.status, contentType: "text/plain", body, bytesOnWire: body.length, redirects: [], fetchMs: 1 };
  }

  async close(): Promise<void> {}
}

const ROBOTS = ["User-agent: *", "Disallow: /private", "", "User-agent: Scrape-Fleet", "Disallow: /no-fleet", "Allow: /no-fleet/but-this", ""].join("\n");

function settings(overrides: Partial<FleetSettings> = {}): FleetSettings {
  return { ...DEFAULT_SETTINGS, ...overrides };
}

function serving(status: number, body = ROBOTS): FakeFetcher {
  return new FakeFetcher(() => ({ status, body }));
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ScrapeError, `expected a ScrapeError, got ${String(error)}`);
    return error.code;
  }
  assert.fail("the check did not throw");
}

function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((settle) => (resolve = settle));
  return { promise, resolve };
}

describe("robots.txt", () => {
  it("the product token is the User-Agent up to its first slash or space", () => {
    assert.equal(productToken("scrape-fleet/0.1"), "scrape-fleet");
    assert.equal(productToken("MyBot 2.0 (+https://example.com)"), "MyBot");
    assert.equal(productToken(" "), "*");
  });

  it("obeys the group naming our product token (case-insensitively) instead of the * group", async () => {
    const robots = new RobotsCache({ fetcher: serving(200) });
    const verdict = await robots.check("https://example.com/no-fleet/page", settings());
    assert.equal(verdict.allowed, false);
    assert.ok(!verdict.allowed && verdict.code === "robots_disallowed");
    assert.match(!verdict.allowed ? verdict.reason : "", /disallows \/no-fleet\/page for user-agent "scrape-fleet" \(line 5\)/);
    assert.deepEqual(await robots.check("https://example.com/no-fleet/but-this", settings()), { allowed: true });
    // Our group replaces the * group, so its Disallow does not apply to us.
    assert.deepEqual(await robots.check("https://example.com/private", settings()), { allowed: true });
  });

  it("an agent without its own group obeys the * group", async () => {
    const robots = new RobotsCache({ fetcher: serving(200) });
    const other = settings({ userAgent: "otherbot/3.1" });
    assert.equal((await robots.check("https://example.com/private/x?y=1", other)).allowed, false);
    assert.deepEqual(await robots.check("https://example.com/no-fleet", other), { allowed: true });
  });

  for (const status of [404, 410, 401, 403]) {
    it(`a ${status} robots.txt means "unavailable" under RFC 9309: everything is allowed`, async () => {
      const robots = new RobotsCache({ fetcher: serving(status) });
      assert.deepEqual(await robots.check("https://example.com/private", settings()), { allowed: true });
    });
  }

  for (const status of [500, 503, 429]) {
    it(`a ${status} robots.txt means "unreachable": complete disallow as robots_unavailable, which is retried`, async () => {
      const robots = new RobotsCache({ fetcher: serving(status) });
      const verdict: RobotsVerdict = await robots.check("https://example.com/anything", settings());
      assert.ok(!verdict.allowed);
      assert.equal(verdict.code, "robots_unavailable");
      assert.match(verdict.reason, new RegExp(`answered ${status}`));
    });
  }

  it("a network error fetching robots.txt is robots_unavailable", async () => {
    const fetcher = new FakeFetcher(() => new ScrapeError("connect_failed", "connection refused"));
    const verdict = await new RobotsCache({ fetcher }).check("https://example.com/", settings());
    assert.ok(!verdict.allowed && verdict.code === "robots_unavailable");
  });

  it("too many redirects for robots.txt count as unavailable: allowed", async () => {
    const fetcher = new FakeFetcher(() => new ScrapeError("too_many_redirects", "redirects more than 5 times"));
    assert.deepEqual(await new RobotsCache({ fetcher }).check("https://example.com/private", settings()), { allowed: true });
  });

  it("an SSRF refusal of robots.txt is rethrown, never turned into allowed, and not cached", async () => {
    const fetcher = new FakeFetcher(() => new ScrapeError("ssrf_refused", "10.0.0.1 is a private address"));
    const robots = new RobotsCache({ fetcher });
    assert.equal(await codeOf(robots.check("https://internal.example/", settings())), "ssrf_refused");
    assert.equal(await codeOf(robots.check("https://internal.example/", settings())), "ssrf_refused");
    assert.equal(fetcher.requests.length, 2);
  });

  it("fetches robots.txt once per origin (scheme, host and port) and reuses it", async () => {
    const fetcher = serving(200);
    const robots = new RobotsCache({ fetcher });
    await robots.check("https://example.com/a", settings());
    await robots.check("https://EXAMPLE.com:443/b?c", settings());
    await robots.check("http://example.com/a", settings());
    await robots.check("https://example.com:8443/a", settings());
    assert.deepEqual(fetcher.requests, ["https://example.com/robots.txt", "http://example.com/robots.txt", "https://example.com:8443/robots.txt"]);
  });

  it("refetches after robotsCacheTtlMs", async () => {
    let clock = 0;
    const fetcher = serving(200);
    const robots = new RobotsCache({ fetcher, now: () => clock });
    const ttl = settings({ robotsCacheTtlMs: 10_000 });
    await robots.check("https://example.com/", ttl);
    clock = 9_999;
    await robots.check("https://example.com/", ttl);
    assert.equal(fetcher.requests.length, 1);
    clock = 10_000;
    await robots.check("https://example.com/", ttl);
    assert.equal(fetcher.requests.length, 2);
  });

  it("keeps an unreachable verdict only briefly, then asks again", async () => {
    let clock = 0;
    let status = 503;
    const fetcher = new FakeFetcher(() => ({ status, body: "" }));
    const robots = new RobotsCache({ fetcher, now: () => clock });
    assert.equal((await robots.check("https://example.com/", settings())).allowed, false);
    clock = UNREACHABLE_CACHE_MS - 1;
    assert.equal((await robots.check("https://example.com/", settings())).allowed, false);
    assert.equal(fetcher.requests.length, 1);
    status = 200;
    clock = UNREACHABLE_CACHE_MS;
    assert.equal((await robots.check("https://example.com/", settings())).allowed, true);
    assert.equal(fetcher.requests.length, 2);
  });

  it("concurrent checks for one origin share one fetch", async () => {
    const gate = deferred<Answer>();
    const fetcher = new FakeFetcher(() => gate.promise);
    const robots = new RobotsCache({ fetcher });
    const checks = ["/a", "/private", "/no-fleet", "/b", "/c"].map((path) => robots.check(`https://example.com${path}`, settings()));
    gate.resolve({ status: 200, body: ROBOTS });
    const verdicts = await Promise.all(checks);
    assert.equal(fetcher.requests.length, 1);
    assert.deepEqual(
      verdicts.map((verdict) => verdict.allowed),
      [true, true, false, true, true],
    );
  });

  it("a caller that aborts gets its abort reason and does not fail the others sharing the fetch", async () => {
    const gate = deferred<Answer>();
    const fetcher = new FakeFetcher(() => gate.promise);
    const robots = new RobotsCache({ fetcher });
    const impatient = new AbortController();
    const first = robots.check("https://example.com/a", settings(), impatient.signal);
    const second = robots.check("https://example.com/b", settings());
    impatient.abort(new ScrapeError("worker_deadline", "batch deadline"));
    assert.equal(await codeOf(first), "worker_deadline");
    gate.resolve({ status: 200, body: ROBOTS });
    assert.deepEqual(await second, { allowed: true });
    assert.equal(fetcher.requests.length, 1);
  });

  it("respectRobots false allows everything without a fetch", async () => {
    const fetcher = serving(200);
    const verdict = await new RobotsCache({ fetcher }).check("https://example.com/no-fleet", settings({ respectRobots: false }));
    assert.deepEqual(verdict, { allowed: true });
    assert.equal(fetcher.requests.length, 0);
  });

  it("/robots.txt itself is always allowed (RFC 9309 §2.2.2)", async () => {
    const fetcher = serving(200, "User-agent: *\nDisallow: /\n");
    assert.deepEqual(await new RobotsCache({ fetcher }).check("https://example.com/robots.txt", settings()), { allowed: true });
    assert.equal(fetcher.requests.length, 0);
  });

  it("holds at most maxOrigins origins, dropping the oldest", async () => {
    const fetcher = serving(200);
    const robots = new RobotsCache({ fetcher, maxOrigins: 2 });
    for (const host of ["a", "b", "c", "a", "c"]) await robots.check(`https://${host}.example/`, settings());
    assert.deepEqual(
      fetcher.requests.map((url) => new URL(url).hostname),
      ["a.example", "b.example", "c.example", "a.example"],
    );
  });

  it("a URL that is not http(s) is refused with a clear code", async () => {
    const robots = new RobotsCache({ fetcher: serving(200) });
    assert.equal(await codeOf(robots.check("ftp://example.com/", settings())), "url_scheme_not_allowed");
    assert.equal(await codeOf(robots.check("not a url", settings())), "url_invalid");
  });

  describe("through the real fetcher, against a loopback server", () => {
    let server: Server;
    let origin: string;
    const hits: string[] = [];
    const fetcher = createFetcher({ allowPrivateNetworks: true });

    before(async () => {
      server = createServer((request, response) => {
        hits.push(`${request.url} ${request.headers["user-agent"]}`);
        if (request.url === "/robots.txt") {
          response.writeHead(301, { location: "/moved-robots.txt" }).end();
        } else if (request.url === "/moved-robots.txt") {
          response.writeHead(200, { "content-type": "text/plain" }).end("User-agent: scrape-fleet\nDisallow: /private\n");
        } else {
          response.writeHead(404).end();
        }
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });

    after(async () => {
      await fetcher.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    it("follows a redirect for robots.txt and applies its rules to the original origin, sending our User-Agent", async () => {
      const robots = new RobotsCache({ fetcher });
      const blocked = await robots.check(`${origin}/private/page`, settings());
      assert.ok(!blocked.allowed && blocked.code === "robots_disallowed");
      assert.deepEqual(await robots.check(`${origin}/public`, settings()), { allowed: true });
      assert.deepEqual(hits, ["/robots.txt scrape-fleet/0.1", "/moved-robots.txt scrape-fleet/0.1"]);
    });
  });
});
