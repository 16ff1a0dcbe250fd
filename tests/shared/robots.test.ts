import { strict as assert } from "node:assert";
import { createServer, type Server } from "node:http";
import type { AddressInfo, LookupFunction } from "node:net";
import robotsParser from "robots-parser";
import { ScrapeError } from "../../shared/errors";
import { RedirectRefusedError, createFetcher } from "../../shared/fetcher";
import type { FetchedPage, FetchOptions, PageFetcher } from "../../shared/page";
import { RobotsCache, UNREACHABLE_CACHE_MS, compactForAgent, productToken, type RobotsVerdict } from "../../shared/robots";
import { DEFAULT_SETTINGS, type FleetSettings } from "../../shared/settings";
import { startLoopbackServer, type LoopbackServer } from "../support/loopback/server";

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

  for (const code of ["dns_failed", "connect_failed", "connect_timeout"] as const) {
    it(`a host that cannot be reached (${code} on robots.txt) gives the page that code, not robots_unavailable`, async () => {
      const fetcher = new FakeFetcher(() => new ScrapeError(code, "the host cannot be reached"));
      const verdict = await new RobotsCache({ fetcher }).check("https://example.com/page", settings());
      assert.ok(!verdict.allowed);
      assert.equal(verdict.code, code);
      assert.match(verdict.reason, /^example\.com cannot be reached \(https:\/\/example\.com\/robots\.txt: the host cannot be reached, met fetching robots\.txt before the page\)/);
    });
  }

  it("another network error fetching robots.txt (a reset, a slow answer) is robots_unavailable", async () => {
    const fetcher = new FakeFetcher(() => new ScrapeError("connection_reset", "socket hang up"));
    const verdict = await new RobotsCache({ fetcher }).check("https://example.com/", settings());
    assert.ok(!verdict.allowed && verdict.code === "robots_unavailable");
  });

  it("too many redirects for robots.txt count as unavailable: allowed", async () => {
    const fetcher = new FakeFetcher(() => new ScrapeError("too_many_redirects", "redirects more than 5 times"));
    assert.deepEqual(await new RobotsCache({ fetcher }).check("https://example.com/private", settings()), { allowed: true });
  });

  for (const code of ["ssrf_refused", "url_scheme_not_allowed", "url_credentials_not_allowed"] as const) {
    it(`a robots.txt redirect refused on a hop (${code}) counts as unavailable: allowed, and cached`, async () => {
      const refusal = new ScrapeError(code, "the target is refused");
      const fetcher = new FakeFetcher((url) => new RedirectRefusedError(refusal, url));
      const robots = new RobotsCache({ fetcher });
      assert.deepEqual(await robots.check("https://example.com/private", settings()), { allowed: true });
      assert.deepEqual(await robots.check("https://example.com/other", settings()), { allowed: true });
      assert.equal(fetcher.requests.length, 1);
    });
  }

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

  it("a changed product token reads robots.txt again, since only the token's own group is kept", async () => {
    const fetcher = serving(200, "User-agent: googlebot\nDisallow: /google-only\n\nUser-agent: *\nDisallow: /everyone\n");
    const robots = new RobotsCache({ fetcher });
    assert.deepEqual(await robots.check("https://example.com/google-only", settings()), { allowed: true });
    const google = settings({ userAgent: "Googlebot/2.1" });
    assert.equal((await robots.check("https://example.com/google-only", google)).allowed, false);
    assert.deepEqual(await robots.check("https://example.com/everyone", google), { allowed: true });
    assert.equal(fetcher.requests.length, 2);
  });

  it("the byte budget weighs the parsed rules, not the body: a file whose rules fill it is not kept", async () => {
    // About 8 KiB on the wire, but every rule is stored for three agents.
    const sharedRules = ["User-agent: *", "User-agent: scrape-fleet", "User-agent: otherbot", ...Array.from({ length: 800 }, (_, i) => `Allow: /${i}`), ""].join("\n");
    assert.ok(Buffer.byteLength(sharedRules) < 10 * 1024);
    const heavy = serving(200, sharedRules);
    const robots = new RobotsCache({ fetcher: heavy, maxCachedBytes: 100 * 1024 });
    await robots.check("https://heavy.example/a", settings());
    await robots.check("https://heavy.example/b", settings());
    assert.equal(heavy.requests.length, 2, "the heavy file was dropped at once");

    const light = serving(200);
    const small = new RobotsCache({ fetcher: light, maxCachedBytes: 100 * 1024 });
    await small.check("https://light.example/a", settings());
    await small.check("https://light.example/b", settings());
    assert.equal(light.requests.length, 1, "an ordinary file stays cached under the same budget");
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

  describe("robots.txt built to blow up robots-parser (one rule copy per open User-agent line)", () => {
    const half = 128 * 1024;
    const attacks: Record<string, string> = {
      // robots-parser would store 9,362 × 10,082 rule objects.
      "256 KiB: 128 KiB of `User-agent: *` lines, then 128 KiB of `Disallow: /a`": "User-agent: *\n".repeat(Math.floor(half / 14)) + "Disallow: /a\n".repeat(Math.floor(half / 13)),
      "256 KiB: `User-agent: *` lines between comments and lines robots-parser skips, then `Disallow: /a`":
        "User-agent: *\n# note\nno colon here\n\n: empty field\n".repeat(Math.floor(half / 50)) + "Disallow: /a\n".repeat(Math.floor(half / 13)),
      "20,000 distinct agents and *, then 8,000 rules": Array.from({ length: 20_001 }, (_, i) => (i === 10_000 ? "User-agent: *\n" : `User-agent: bot${i}\n`)).join("") + "Disallow: /a\n".repeat(8_000),
    };

    for (const [name, body] of Object.entries(attacks)) {
      it(`${name}: parsed in well under a second with bounded heap, same verdict`, async () => {
        const robots = new RobotsCache({ fetcher: serving(200, body) });
        const heapBefore = process.memoryUsage().heapUsed;
        const startedAt = performance.now();
        const blocked = await robots.check("https://example.com/a/page", settings());
        const elapsedMs = performance.now() - startedAt;
        const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
        assert.ok(!blocked.allowed && blocked.code === "robots_disallowed");
        assert.deepEqual(await robots.check("https://example.com/b", settings()), { allowed: true });
        assert.ok(elapsedMs < 1_000, `took ${Math.round(elapsedMs)} ms`);
        assert.ok(heapGrowth < 64 * 1024 * 1024, `heap grew by ${Math.round(heapGrowth / 2 ** 20)} MiB`);
      });
    }

    it("each rule is kept for at most three agents (ours, *, and one for all others), with every line number in place", () => {
      // Comments, blank lines, lines without a colon and an empty field name do not end a run in robots-parser.
      const body = ["User-agent: *", "User-agent: bot1", "# note", "User-agent: Scrape-Fleet/2", "no colon", "User-agent: *", "", "User-agent: bot2", ": empty field", "User-agent: scrape-fleet", "Disallow: /a", "User-agent: bot3", "Allow: /a/b", ""].join("\r\n");
      const { text } = compactForAgent(body, "scrape-fleet");
      assert.deepEqual(text.split("\n"), [
        "User-agent: *", "User-agent: other agents", "# note", "User-agent: scrape-fleet", "no colon", "", "", "", ": empty field", "", "Disallow: /a", "User-agent: other agents", "Allow: /a/b", "",
      ]);
    });
  });

  describe("verdicts after compaction are robots-parser's on the file as served", () => {
    /** Files modelled on the shapes sites publish: named groups, shared groups, wildcards, odd lines. */
    const files: Record<string, string> = {
      "news site: bots shut out, then a * group with sitemaps": [
        "# robots.txt for a news site",
        "User-agent: GPTBot",
        "User-agent: CCBot",
        "Disallow: /",
        "",
        "User-agent: Googlebot-News",
        "Allow: /news/",
        "Disallow: /",
        "",
        "User-agent: *",
        "Disallow: /search",
        "Disallow: /*?share=",
        "Allow: /search/about",
        "Crawl-delay: 2",
        "Sitemap: https://news.example/sitemap.xml",
        "",
      ].join("\n"),
      "encyclopedia: dozens of bots with Disallow: /, comments, a long * group": [
        "# Please read the crawler policy",
        ...["MJ12bot", "Mediapartners-Google*", "IsraBot", "Orthogaffe", "UbiCrawler", "DOC", "Zao", "sitecheck.internetseer.com", "Zealbot", "MSIECrawler", "SiteSnagger", "WebStripper", "WebCopier", "Fetch", "Offline Explorer", "Teleport", "TeleportPro", "WebZIP", "linko", "HTTrack", "Microsoft.URL.Control", "Xenu", "larbin", "libwww", "ZyBORG", "Download Ninja", "wget", "grub-client", "k2spider", "NPBot", "WebReaper"].flatMap((bot) => [`User-agent: ${bot}`, "Disallow: /", ""]),
        "User-agent: *",
        "Allow: /w/api.php?action=mobileview&",
        "Allow: /w/load.php?",
        "Disallow: /w/",
        "Disallow: /api/",
        "Disallow: /trap/",
        "Disallow: /wiki/Special:",
        "Disallow: /wiki/Spezial:",
        "Disallow: /wiki/Special%3A",
        "Disallow: /wiki/Special%3a",
        "",
      ].join("\n"),
      "code host: wildcards and end anchors, a crawl-delay group": [
        "User-agent: baidu",
        "crawl-delay: 1",
        "",
        "User-agent: *",
        "Disallow: /*/pulse",
        "Disallow: /*/tree/",
        "Disallow: /gist/",
        "Disallow: /*/forks",
        "Disallow: /*/stars",
        "Disallow: /*.atom$",
        "Allow: /*/*/tree/master",
        "Allow: /*/*/blob/master",
        "Disallow: /ekansa/Open-Context-Data",
        "Disallow: /account-login",
        "Disallow: /Explodingstuff/",
        "",
      ].join("\n"),
      "our token shares a group with Googlebot, everyone else is shut out": [
        "User-agent: Googlebot",
        "User-agent: Scrape-Fleet/2.0",
        "Disallow: /search",
        "Allow: /search/about",
        "",
        "User-agent: *",
        "Disallow: /",
        "",
      ].join("\n"),
      "our group split in two, merged by the parser": ["User-agent: scrape-fleet", "Disallow: /one", "", "User-agent: *", "Disallow: /", "", "User-agent: scrape-fleet", "Disallow: /two", ""].join("\n"),
      "our group allows everything with an empty Disallow": ["User-agent: *", "Disallow: /", "", "User-agent: scrape-fleet", "Disallow:", ""].join("\n"),
      "our group holds only a crawl-delay": ["User-agent: scrape-fleet", "Crawl-delay: 10", "", "User-agent: *", "Disallow: /private", ""].join("\n"),
      "odd lines: CRLF, rules before any group, typos, comments on agent lines, empty agents": [
        "Disallow: /before-any-group",
        "User-agent: # nobody",
        "User-agent:",
        "Disallow: /empty-agent",
        "USER-AGENT: otherbot # a comment",
        "Disallow /typo-without-colon",
        "User-Agent: *",
        "DISALLOW: /Private",
        "Allow: /private",
        "Sitemap: https://odd.example/s.xml",
        "User-agent: scrape-fleet",
        ": empty field",
        "Disallow: /fleet-only",
        "Noindex: /unknown-directive",
        "User-agent: *",
        "Disallow: /second-star-group",
        "",
      ].join("\r\n"),
      "a sitemap line between agent lines ends the run": ["User-agent: scrape-fleet", "Sitemap: https://x.example/s.xml", "User-agent: otherbot", "Disallow: /after-sitemap", "", "User-agent: *", "Disallow: /star", ""].join("\n"),
      "percent-encoded and non-ASCII paths": ["User-agent: *", "Disallow: /caf%C3%A9", "Disallow: /naïve", "Allow: /naïve/ok", "Disallow: /%7Euser", ""].join("\n"),
      "byte-order mark": "\uFEFFUser-agent: *\nDisallow: /bom\n",
    };
    const paths = [
      "/", "/search", "/search/about", "/search?q=1", "/news/today", "/a?share=1", "/w/index.php", "/w/load.php?x", "/w/api.php?action=mobileview&x", "/wiki/Special:Random",
      "/wiki/Special%3ARandom", "/user/repo/pulse", "/user/repo/tree/dev", "/user/repo/tree/master", "/feed.atom", "/feed.atom?x", "/one", "/two", "/private", "/Private",
      "/fleet-only", "/before-any-group", "/empty-agent", "/typo-without-colon", "/second-star-group", "/after-sitemap", "/star", "/café", "/caf%c3%a9", "/naïve", "/naïve/ok", "/~user", "/bom",
    ];
    const userAgents = ["scrape-fleet/0.1", "Googlebot/2.1", "otherbot/1.0", "MJ12bot/v1", "baidu"];

    for (const [name, body] of Object.entries(files)) {
      it(`${name}: the same allow/deny answer and matching line for ${userAgents.length} agents × ${paths.length} paths`, async () => {
        const origin = "https://site.example";
        // The file as the cache reads it (UTF-8 with the BOM dropped), parsed without compaction.
        const reference = robotsParser(`${origin}/robots.txt`, new TextDecoder().decode(Buffer.from(body)));
        const robots = new RobotsCache({ fetcher: serving(200, body) });
        let disallowed = 0;
        for (const userAgent of userAgents) {
          for (const path of paths) {
            const url = new URL(path, origin).href;
            const token = productToken(userAgent);
            const verdict = await robots.check(url, settings({ userAgent }));
            assert.equal(verdict.allowed, reference.isAllowed(url, token), `${userAgent} ${path}`);
            if (!verdict.allowed) {
              disallowed += 1;
              assert.match(verdict.reason, new RegExp(`\\(line ${reference.getMatchingLineNumber(url, token)}\\)`), `${userAgent} ${path}`);
            }
          }
        }
        assert.ok(disallowed > 0, "the table exercises at least one disallow");
      });
    }

    it("500 generated files give robots-parser's answers and line numbers for every agent and path", () => {
      const pieces = [
        "User-agent: *", "User-agent: scrape-fleet", "User-agent: Scrape-Fleet/1.0", "user-agent: googlebot", "User-agent: other # note", "User-agent: OtherBot", "User-agent:", "User-agent: /x", "User-agent: *",
        "", "", "# comment", "Disallow: /a", "Allow: /a/b", "Disallow: /", "Disallow:", "Allow: /*.php$", "Disallow: /a/b$", "Allow: /", "Crawl-delay: 5", "Sitemap: https://g.example/s.xml",
        "Noindex /y", ": x", "Foo: bar", "Disallow: /c*d",
      ];
      const probes = ["/", "/a", "/a/b", "/a/b/c", "/x.php", "/x.php?q", "/cd", "/c/d", "/y"];
      let state = 0x5eed;
      // mulberry32: a fixed seed keeps the files the same on every run.
      const random = (): number => {
        state = (state + 0x6d2b79f5) | 0;
        let t = Math.imul(state ^ (state >>> 15), 1 | state);
        t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
        return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
      };
      let compared = 0;
      for (let file = 0; file < 500; file++) {
        const lines = Array.from({ length: 1 + Math.floor(random() * 20) }, () => pieces[Math.floor(random() * pieces.length)]);
        const body = lines.join(random() < 0.2 ? "\r\n" : "\n");
        const original = robotsParser("https://g.example/robots.txt", body);
        for (const agent of ["scrape-fleet", "googlebot", "otherbot"]) {
          const compacted = robotsParser("https://g.example/robots.txt", compactForAgent(body, agent).text);
          for (const probe of probes) {
            const url = `https://g.example${probe}`;
            assert.equal(compacted.isAllowed(url, agent), original.isAllowed(url, agent), `${agent} ${probe} in ${JSON.stringify(body)}`);
            assert.equal(compacted.getMatchingLineNumber(url, agent), original.getMatchingLineNumber(url, agent), `${agent} ${probe} in ${JSON.stringify(body)}`);
            compared += 1;
          }
        }
      }
      assert.equal(compared, 500 * 3 * probes.length);
    });
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

  describe("robots.txt redirects the fetcher refuses, through the real fetcher against loopback", () => {
    let server: LoopbackServer;
    let fetcher: PageFetcher;
    /** Where each host's robots.txt redirects to. `refused.example` resolves to 0.0.0.0, which the guard always refuses. */
    const targets: Record<string, (port: number) => string> = {
      "to-metadata.example": () => "http://169.254.169.254/robots.txt",
      "to-ftp.example": () => "ftp://files.example/robots.txt",
      "to-credentials.example": (port) => `http://user:secret@public.example:${port}/robots.txt`,
      "to-refused-name.example": (port) => `http://refused.example:${port}/robots.txt`,
    };
    const lookup: LookupFunction = (hostname, options, callback) => {
      const address = hostname === "refused.example" ? "0.0.0.0" : "127.0.0.1";
      if (options.all) callback(null, [{ address, family: 4 }]);
      else callback(null, address, 4);
    };

    before(async () => {
      server = await startLoopbackServer({
        "/robots.txt": (request, response) => {
          const host = (request.headers.host ?? "").replace(/:\d+$/, "");
          const target = targets[host];
          if (target) response.writeHead(301, { location: target(server.port) }).end();
          else response.writeHead(200, { "content-type": "text/plain" }).end("User-agent: *\nDisallow: /private\n");
        },
      });
      // Loopback is allowed for the test server; 0.0.0.0 and link-local stay refused under that switch.
      fetcher = createFetcher({ allowPrivateNetworks: true, lookup });
    });

    after(async () => {
      await fetcher.close();
      await server.close();
    });

    for (const host of Object.keys(targets)) {
      it(`a robots.txt redirecting ${host.replace(/\.example$/, "").replace(/-/g, " ")} is unavailable: the page is allowed`, async () => {
        const robots = new RobotsCache({ fetcher });
        assert.deepEqual(await robots.check(`http://${host}:${server.port}/private`, settings()), { allowed: true });
      });
    }

    it("a robots.txt whose own origin is refused still fails with ssrf_refused, uncached", async () => {
      const robots = new RobotsCache({ fetcher });
      const before = server.connections;
      assert.equal(await codeOf(robots.check(`http://refused.example:${server.port}/page`, settings())), "ssrf_refused");
      assert.equal(await codeOf(robots.check(`http://refused.example:${server.port}/page`, settings())), "ssrf_refused");
      assert.equal(server.connections, before, "the refused origin was never dialled");
    });

    it("the redirect refusals never reached the refused targets, and an ordinary origin still gets its rules", async () => {
      const robots = new RobotsCache({ fetcher });
      const verdict = await robots.check(`http://plain.example:${server.port}/private`, settings());
      assert.ok(!verdict.allowed && verdict.code === "robots_disallowed");
      assert.ok(
        server.requests.every((request) => request.path === "/robots.txt" && !String(request.headers.host).startsWith("refused.")),
        JSON.stringify(server.requests.map((request) => request.headers.host)),
      );
    });
  });
});
