/**
 * The worker end to end: real fetcher, real extractor, real robots and pacing,
 * against an HTTP server on 127.0.0.1. Host names such as `shop.example` are
 * mapped to 127.0.0.1 by a stub resolver, so nothing outside the machine is
 * resolved or contacted. The loopback server is itself a private address, so
 * these workers run with the operator switch `allowPrivateNetworks` on; the
 * guard still refuses link-local and cloud metadata addresses with it on.
 */
import { strict as assert } from "node:assert";
import type { IncomingMessage, ServerResponse } from "node:http";
import { gunzipSync } from "node:zlib";
import type { ItemOutcome, QueueItem } from "../../shared/outcome";
import type { PageFetcher } from "../../shared/page";
import type { PageMetric, PutOptions, StoredObject } from "../../shared/ports";
import { resultKey } from "../../shared/result";
import { SettingsCache, parseSettings, type FleetSettings } from "../../shared/settings";
import { createWorker, type Worker } from "../../shared/worker";
import { startLoopbackServer, type LoopbackHandler, type LoopbackServer } from "../support/loopback/server";
import { MemoryResultStore } from "../support/memoryStore";
import { commonPages, htmlPage, loopbackLookup } from "../support/pages";

type Handler = LoopbackHandler;

/** The loopback server plus what these tests watch: hits per path and the most requests open at once. */
class PageServer {
  readonly routes: Record<string, Handler>;
  maxInFlight = 0;
  private inFlight = 0;
  private server: LoopbackServer | undefined;

  constructor(routes: Record<string, Handler>) {
    // Handlers are looked up per request, so tests can add routes later.
    this.routes = new Proxy(routes, {
      get: (target, path: string) => {
        const handler = target[path];
        return handler && ((req: IncomingMessage, res: ServerResponse) => this.track(handler, req, res));
      },
    });
  }

  hits(path: string): number {
    return this.server?.requests.filter((request) => request.path === path).length ?? 0;
  }

  get requestCount(): number {
    return this.server?.requests.length ?? 0;
  }

  async start(): Promise<number> {
    this.server = await startLoopbackServer(this.routes);
    return this.server.port;
  }

  async stop(): Promise<void> {
    await this.server?.close();
  }

  private track(handler: Handler, req: IncomingMessage, res: ServerResponse): void {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    res.on("close", () => this.inFlight--);
    handler(req, res);
  }
}

const testSettings = (overrides: Partial<Record<keyof FleetSettings, unknown>> = {}): FleetSettings =>
  parseSettings({ perDomainDelayMs: 0, respectRobots: false, connectTimeoutMs: 1_000, headersTimeoutMs: 2_000, bodyIdleTimeoutMs: 2_000, pageDeadlineMs: 5_000, ...overrides });

function item(id: string, body: unknown, attempt = 1): QueueItem {
  return { id, body: typeof body === "string" ? body : JSON.stringify(body), attempt };
}

const byId = (outcomes: ItemOutcome[]) => Object.fromEntries(outcomes.map(({ id, outcome }) => [id, outcome]));

/**
 * A store with slow writes: writes to `delayedMs` keys land after that wait;
 * writes to `stalled` keys never land, and end only when their signal aborts
 * (or, with `honoursAbort` off, never). It keeps the options of every write.
 */
class StallingStore extends MemoryResultStore {
  readonly delayedMs = new Map<string, number>();
  readonly stalled = new Set<string>();
  readonly optionsOf = new Map<string, PutOptions | undefined>();
  honoursAbort = true;

  override async put(object: StoredObject, options?: PutOptions): Promise<void> {
    this.optionsOf.set(object.key, options);
    const delay = this.delayedMs.get(object.key);
    if (delay !== undefined) await new Promise((resolve) => setTimeout(resolve, delay));
    if (this.stalled.has(object.key)) {
      await new Promise<never>((_resolve, reject) => {
        if (this.honoursAbort) options?.signal?.addEventListener("abort", () => reject(new Error("write cancelled")), { once: true });
      });
    }
    return super.put(object);
  }
}

describe("worker", () => {
  let server: PageServer;
  let port: number;
  let store: MemoryResultStore;
  let settings: FleetSettings;
  let worker: Worker;
  const url = (host: string, path: string) => `http://${host}:${port}${path}`;

  beforeEach(async () => {
    let retriedOnce = false;
    server = new PageServer({
      ...commonPages(),
      "/robots.txt": (_req, res) => res.writeHead(200, { "content-type": "text/plain" }).end("User-agent: *\nDisallow: /private\n"),
      "/private/page": htmlPage("<title>secret</title>"),
      "/slow-down": (_req, res) => res.writeHead(429, { "retry-after": "7" }).end(),
      "/flaky": (_req, res) => {
        if (retriedOnce) return htmlPage("<title>recovered</title>")(_req, res);
        retriedOnce = true;
        res.writeHead(500).end();
      },
      "/image": (_req, res) => res.writeHead(200, { "content-type": "image/png" }).end(Buffer.alloc(10)),
    });
    port = await server.start();
    store = new MemoryResultStore();
    settings = testSettings();
    worker = createWorker({ settings: { get: async () => settings }, results: store, allowPrivateNetworks: true, lookup: loopbackLookup });
  });

  afterEach(async () => {
    await worker.close();
    await server.stop();
  });

  it("returns one outcome per message, in order, and one bad message never costs a sibling", async () => {
    const items = [
      item("ok", { url: url("shop.example", "/good") }),
      item("not-json", "{url:"),
      item("gone", { url: url("shop.example", "/gone") }),
      item("busy", { url: url("shop.example", "/busy") }),
      item("metadata", { url: "http://169.254.169.254/latest/meta-data/" }),
      item("no-url", { id: "x" }),
      item("ftp", { url: "ftp://shop.example/file" }),
      item("image", { url: url("shop.example", "/image") }),
      item("other", { url: url("news.example", "/other") }),
    ];
    const outcomes = await worker.processBatch(items);
    assert.deepEqual(outcomes.map((o) => o.id), items.map((i) => i.id));
    const kinds = Object.fromEntries(outcomes.map(({ id, outcome }) => [id, outcome.kind === "ok" ? "ok" : `${outcome.kind}:${outcome.code}`]));
    assert.deepEqual(kinds, {
      ok: "ok",
      "not-json": "malformed:message_not_json",
      gone: "failed:http_4xx",
      busy: "retry:http_5xx",
      metadata: "failed:ssrf_refused",
      "no-url": "malformed:message_missing_url",
      ftp: "failed:url_scheme_not_allowed",
      image: "failed:content_type_not_allowed",
      other: "ok",
    });
  });

  it("stores a record for ok and failed pages, and none for retried or malformed ones", async () => {
    await worker.processBatch([
      item("ok", { url: url("shop.example", "/good"), id: "job-1", metadata: { crawl: "c1" } }),
      item("gone", { url: url("shop.example", "/gone") }),
      item("busy", { url: url("shop.example", "/busy") }),
      item("junk", "not json"),
    ]);
    assert.equal(store.objects.size, 2);
    const ok = store.record(url("shop.example", "/good"));
    assert.ok(ok);
    assert.equal(ok.status, "ok");
    assert.equal(ok.httpStatus, 200);
    assert.equal(ok.content?.title, "Good page");
    assert.equal(ok.content?.lang, "en");
    assert.deepEqual(ok.content?.links, [url("shop.example", "/next")]);
    assert.equal(ok.id, "job-1");
    assert.deepEqual(ok.metadata, { crawl: "c1" });
    assert.match(ok.contentHash ?? "", /^sha256:[0-9a-f]{64}$/);
    const gone = store.record(url("shop.example", "/gone"));
    assert.equal(gone?.status, "failed");
    assert.equal(gone?.code, "http_4xx");
    assert.equal(gone?.httpStatus, 404);
    assert.equal(store.record(url("shop.example", "/busy")), undefined);
  });

  it("never writes URL credentials to the record or the logs", async () => {
    const lines: string[] = [];
    const logged = createWorker({ settings: { get: async () => settings }, results: store, allowPrivateNetworks: true, lookup: loopbackLookup, logger: { log: (_level, event, fields) => lines.push(JSON.stringify({ event, ...fields })) } });
    try {
      const [{ outcome }] = await logged.processBatch([item("a", { url: "https://alice:S3cret@shop.example/" })]);
      assert.ok(outcome.kind === "failed" && outcome.code === "url_credentials_not_allowed");
      const record = [...store.objects.values()].map((object) => String(object.body)).join("\n");
      assert.doesNotMatch(record + lines.join("\n"), /S3cret/);
      assert.match(record, /"url":"https:\/\/redacted@shop\.example\/"/);
    } finally {
      await logged.close();
    }
  });

  it("a metrics port that throws costs the batch nothing", async () => {
    const throwing = createWorker({ settings: { get: async () => settings }, results: store, allowPrivateNetworks: true, lookup: loopbackLookup, metrics: { recordPage: () => { throw new Error("metrics sink full"); } } });
    try {
      const outcomes = await throwing.processBatch([item("a", { url: url("shop.example", "/good") }), item("b", "not json")]);
      assert.deepEqual(outcomes.map((o) => o.outcome.kind), ["ok", "malformed"]);
    } finally {
      await throwing.close();
    }
  });

  it("fails closed: a worker that has never read its settings fetches nothing, sends every message back as settings_unavailable and counts each as a retried page", async () => {
    const pages: PageMetric[] = [];
    const unreadable = new SettingsCache({ source: { name: "test-store", read: async () => { throw new Error("AccessDenied"); } } });
    const closed = createWorker({ settings: unreadable, results: store, allowPrivateNetworks: true, lookup: loopbackLookup, metrics: { recordPage: (page) => pages.push(page) } });
    try {
      const outcomes = await closed.processBatch([item("a", { url: url("shop.example", "/good") }), item("b", "not json")]);
      assert.deepEqual(outcomes.map((o) => [o.outcome.kind, o.outcome.kind === "ok" ? undefined : o.outcome.code]), [["retry", "settings_unavailable"], ["retry", "settings_unavailable"]]);
      assert.match(outcomes[0].outcome.kind === "retry" ? outcomes[0].outcome.reason : "", /test-store.*AccessDenied.*does not scrape on defaults/);
      assert.equal(server.hits("/good"), 0);
      assert.deepEqual(pages.map((page) => [page.outcome, page.code]), [["retry", "settings_unavailable"], ["retry", "settings_unavailable"]]);
    } finally {
      await closed.close();
    }
  });

  it("a settings store that hangs does not hold the batch past its deadline", async () => {
    const hanging = createWorker({ settings: { get: () => new Promise<FleetSettings>(() => undefined) }, results: store, allowPrivateNetworks: true, lookup: loopbackLookup });
    try {
      const started = Date.now();
      const outcomes = await hanging.processBatch([item("a", { url: url("shop.example", "/good") })], { deadlineAt: started + 300 });
      assert.ok(Date.now() - started < 800);
      assert.ok(outcomes[0].outcome.kind === "retry" && outcomes[0].outcome.code === "worker_deadline");
    } finally {
      await hanging.close();
    }
  });

  it("a final 3xx from any fetcher is recorded as redirect_invalid, not as a 4xx", async () => {
    const fetcher: PageFetcher = {
      fetch: async (target) => ({ requestedUrl: target, finalUrl: target, status: 304, contentType: "", body: Buffer.alloc(0), bytesOnWire: 0, redirects: [], fetchMs: 1 }),
      close: async () => undefined,
    };
    const redirecting = createWorker({ settings: { get: async () => settings }, results: store, fetcher });
    const [{ outcome }] = await redirecting.processBatch([item("a", { url: "https://shop.example/moved" })]);
    assert.ok(outcome.kind === "failed" && outcome.code === "redirect_invalid", JSON.stringify(outcome));
  });

  it("passes Retry-After of a 429 on to the queue", async () => {
    const [{ outcome }] = await worker.processBatch([item("a", { url: url("shop.example", "/slow-down") })]);
    assert.equal(outcome.kind, "retry");
    assert.ok(outcome.kind === "retry" && outcome.code === "http_429");
    assert.ok(outcome.retryAfterMs !== undefined && outcome.retryAfterMs > 6_000 && outcome.retryAfterMs <= 7_000);
  });

  it("a redelivered message overwrites its record instead of adding one", async () => {
    await worker.processBatch([item("m1", { url: url("shop.example", "/flaky") }, 1)]);
    assert.equal(store.objects.size, 0);
    const [{ outcome }] = await worker.processBatch([item("m1", { url: url("shop.example", "/flaky#section") }, 2)]);
    assert.equal(outcome.kind, "ok");
    await worker.processBatch([item("m1", { url: url("shop.example", "/flaky") }, 3)]);
    assert.equal(store.objects.size, 1);
    assert.equal(store.record(url("shop.example", "/flaky"))?.attempt, 3);
  });

  it("the kill switch sends every message back to the queue without fetching", async () => {
    settings = testSettings({ enabled: false });
    const outcomes = await worker.processBatch([item("a", { url: url("shop.example", "/good") }), item("b", { url: url("news.example", "/other") })]);
    assert.deepEqual(outcomes.map((o) => o.outcome.kind === "retry" && o.outcome.code), ["fleet_paused", "fleet_paused"]);
    assert.equal(server.requestCount, 0);
    assert.equal(store.objects.size, 0);
  });

  it("a blocked domain (and its subdomains) is recorded as failed without a request", async () => {
    settings = testSettings({ blockedDomains: ["shop.example"] });
    const outcomes = byId(await worker.processBatch([item("a", { url: url("www.shop.example", "/good") }), item("b", { url: url("news.example", "/other") })]));
    assert.ok(outcomes.a.kind === "failed" && outcomes.a.code === "domain_blocked");
    assert.equal(outcomes.b.kind, "ok");
    assert.equal(server.hits("/good"), 0);
    assert.equal(store.record(url("www.shop.example", "/good"))?.code, "domain_blocked");
  });

  it("robots.txt disallow is recorded as failed and the page is never requested", async () => {
    settings = testSettings({ respectRobots: true });
    const outcomes = byId(await worker.processBatch([item("a", { url: url("shop.example", "/private/page") }), item("b", { url: url("shop.example", "/good") })]));
    assert.ok(outcomes.a.kind === "failed" && outcomes.a.code === "robots_disallowed");
    assert.equal(outcomes.b.kind, "ok");
    assert.equal(server.hits("/private/page"), 0);
    assert.equal(server.hits("/robots.txt"), 1);
  });

  it("a failed write sends only that message back to the queue", async () => {
    store.failNext = 1;
    settings = testSettings({ concurrency: 1 });
    const outcomes = byId(await worker.processBatch([item("a", { url: url("shop.example", "/good") }), item("b", { url: url("news.example", "/other") })]));
    assert.ok(outcomes.a.kind === "retry" && outcomes.a.code === "store_failed");
    assert.equal(outcomes.b.kind, "ok");
  });

  it("a write still running writeGraceMs after the deadline is aborted: the batch answers, that message comes back as store_failed, and writes that end within the grace count", async () => {
    const stalling = new StallingStore();
    const stuckUrl = url("blog.example", "/good");
    const lateUrl = url("news.example", "/other");
    stalling.stalled.add(resultKey(stuckUrl));
    stalling.delayedMs.set(resultKey(lateUrl), 400);
    settings = testSettings({ concurrency: 3 });
    const stallingWorker = createWorker({ settings: { get: async () => settings }, results: stalling, allowPrivateNetworks: true, lookup: loopbackLookup });
    try {
      const started = Date.now();
      const outcomes = byId(
        await stallingWorker.processBatch([item("fast", { url: url("shop.example", "/good") }), item("late", { url: lateUrl }), item("stuck", { url: stuckUrl })], { deadlineAt: started + 200, writeGraceMs: 400 }),
      );
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 550 && elapsed < 1_000, `answered after ${elapsed} ms; the deadline was at 200 ms and the write grace ended at 600 ms`);
      assert.ok(outcomes.stuck.kind === "retry" && outcomes.stuck.code === "store_failed", JSON.stringify(outcomes.stuck));
      assert.match(outcomes.stuck.reason, /400 ms after the batch deadline \(`writeGraceMs`\)/);
      assert.equal(stalling.optionsOf.get(resultKey(stuckUrl))?.signal?.aborted, true, "the store was handed the signal, and it fired");
      assert.equal(outcomes.fast.kind, "ok");
      assert.equal(outcomes.late.kind, "ok", "a write that ends after the deadline but within the grace is kept");
      assert.equal(stalling.record(lateUrl)?.status, "ok");
      assert.equal(stalling.record(stuckUrl), undefined);
    } finally {
      await stallingWorker.close();
    }
  });

  it("a store that ignores the abort cannot hold the batch past deadlineAt + writeGraceMs", async () => {
    const stalling = new StallingStore();
    stalling.honoursAbort = false;
    const stuckUrl = url("blog.example", "/good");
    stalling.stalled.add(resultKey(stuckUrl));
    const stallingWorker = createWorker({ settings: { get: async () => settings }, results: stalling, allowPrivateNetworks: true, lookup: loopbackLookup });
    try {
      const started = Date.now();
      const [stuck] = await stallingWorker.processBatch([item("stuck", { url: stuckUrl })], { deadlineAt: started + 100, writeGraceMs: 100 });
      const elapsed = Date.now() - started;
      assert.ok(elapsed < 600, `answered after ${elapsed} ms; the write grace ended at 200 ms`);
      assert.ok(stuck.outcome.kind === "retry" && stuck.outcome.code === "store_failed", JSON.stringify(stuck.outcome));
    } finally {
      await stallingWorker.close();
    }
  });

  it("without a deadline, writes get no abort signal", async () => {
    const recording = new StallingStore();
    const recordingWorker = createWorker({ settings: { get: async () => settings }, results: recording, allowPrivateNetworks: true, lookup: loopbackLookup });
    try {
      const target = url("shop.example", "/good");
      const [outcome] = await recordingWorker.processBatch([item("a", { url: target })]);
      assert.equal(outcome.outcome.kind, "ok");
      assert.ok(recording.optionsOf.has(resultKey(target)));
      assert.equal(recording.optionsOf.get(resultKey(target))?.signal, undefined);
    } finally {
      await recordingWorker.close();
    }
  });

  it("a writeGraceMs out of range sends every message back without fetching, naming the option, the value and the fix", async () => {
    for (const writeGraceMs of [-1, 1.5, 60_001, Number.NaN]) {
      const outcomes = await worker.processBatch([item("a", { url: url("shop.example", "/good") }), item("b", { url: url("news.example", "/other") })], { deadlineAt: Date.now() + 5_000, writeGraceMs });
      for (const { outcome } of outcomes) {
        assert.ok(outcome.kind === "retry" && outcome.code === "internal_error", JSON.stringify(outcome));
        assert.match(outcome.reason, /`writeGraceMs` must be a whole number of milliseconds from 0 to 60000 \(given .+\); leave it out for 2000/);
      }
    }
    assert.equal(server.requestCount, 0);
  });

  it("answers by the deadline: unfinished messages come back as worker_deadline retries", async () => {
    settings = testSettings({ concurrency: 1 });
    const started = Date.now();
    const outcomes = byId(
      await worker.processBatch(
        [item("quick", { url: url("shop.example", "/good") }), item("slow", { url: url("news.example", "/slow") }), item("queued", { url: url("shop.example", "/other") })],
        { deadlineAt: started + 600 },
      ),
    );
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 1_000, `answered after ${elapsed} ms`);
    assert.equal(outcomes.quick.kind, "ok");
    assert.ok(outcomes.slow.kind === "retry" && outcomes.slow.code === "worker_deadline");
    assert.ok(outcomes.queued.kind === "retry" && outcomes.queued.code === "worker_deadline");
  });

  it("a stop signal ends the batch like its deadline: unfinished messages come back as worker_deadline retries", async () => {
    settings = testSettings({ concurrency: 1 });
    const stop = new AbortController();
    const started = Date.now();
    setTimeout(() => stop.abort(), 300);
    const outcomes = byId(
      await worker.processBatch([item("quick", { url: url("shop.example", "/good") }), item("slow", { url: url("news.example", "/slow") }), item("queued", { url: url("shop.example", "/other") })], { signal: stop.signal }),
    );
    assert.ok(Date.now() - started < 1_000);
    assert.equal(outcomes.quick.kind, "ok");
    assert.ok(outcomes.slow.kind === "retry" && outcomes.slow.code === "worker_deadline");
    assert.ok(outcomes.queued.kind === "retry" && outcomes.queued.code === "worker_deadline");
  });

  it("never has more pages in flight than the concurrency setting", async () => {
    settings = testSettings({ concurrency: 3 });
    const paths = Array.from({ length: 9 }, (_, i) => `/p${i}`);
    for (const path of paths) server.routes[path] = htmlPage("<title>p</title>", 50);
    const outcomes = await worker.processBatch(paths.map((path, i) => item(`m${i}`, { url: url(`h${i}.example`, path) })));
    assert.ok(outcomes.every((o) => o.outcome.kind === "ok"));
    assert.equal(server.maxInFlight, 3);
  });

  it("spaces requests to one host by perDomainDelayMs, and does not hold other hosts back", async () => {
    settings = testSettings({ perDomainDelayMs: 300 });
    const times: Record<string, number> = {};
    const stamp = (name: string): Handler => (req, res) => {
      times[name] = Date.now();
      htmlPage("<title>t</title>")(req, res);
    };
    Object.assign(server.routes, { "/a1": stamp("a1"), "/a2": stamp("a2"), "/b1": stamp("b1") });
    await worker.processBatch([item("1", { url: url("a.example", "/a1") }), item("2", { url: url("a.example", "/a2") }), item("3", { url: url("b.example", "/b1") })]);
    assert.ok(Math.abs(times.a2 - times.a1) >= 290, `same host spaced ${times.a2 - times.a1} ms`);
    assert.ok(Math.abs(times.b1 - times.a1) < 200, `other host waited ${times.b1 - times.a1} ms`);
  });

  it("a message whose host slot falls after the deadline goes back as domain_delay without holding the slot", async () => {
    settings = testSettings({ perDomainDelayMs: 400 });
    for (const path of ["/p1", "/p2", "/p3", "/p4"]) server.routes[path] ??= htmlPage("<title>p</title>");
    const started = Date.now();
    const outcomes = await worker.processBatch(
      ["/p1", "/p2", "/p3", "/p4"].map((path, i) => item(`m${i}`, { url: url("one.example", path) })),
      { deadlineAt: started + 1_000 },
    );
    const kinds = outcomes.map((o) => (o.outcome.kind === "retry" ? o.outcome.code : o.outcome.kind));
    assert.deepEqual(kinds, ["ok", "ok", "ok", "domain_delay"]);
    const delayed = outcomes[3].outcome;
    // The queue is told when the host's next slot is free: 1 200 ms after the first request.
    assert.ok(delayed.kind === "retry" && delayed.retryAfterMs !== undefined && delayed.retryAfterMs > 0 && delayed.retryAfterMs <= 1_200, JSON.stringify(delayed));
    assert.ok(Date.now() - started < 1_200);
  });

  it("stores the raw HTML gzip-compressed beside the record when storeRawHtml is on", async () => {
    settings = testSettings({ storeRawHtml: true });
    await worker.processBatch([item("a", { url: url("shop.example", "/good") })]);
    const record = store.record(url("shop.example", "/good"));
    assert.ok(record?.rawHtmlKey?.startsWith("raw/"));
    const raw = store.objects.get(record?.rawHtmlKey ?? "");
    assert.equal(raw?.contentEncoding, "gzip");
    assert.match(gunzipSync(Buffer.from(raw?.body ?? "")).toString(), /<title>Good page<\/title>/);
  });
});
