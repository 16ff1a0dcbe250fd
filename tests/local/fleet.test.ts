import assert from "node:assert/strict";
import { join } from "node:path";
import { createFetcher } from "../../shared/fetcher";
import type { ItemOutcome, Outcome, QueueItem } from "../../shared/outcome";
import type { PageFetcher } from "../../shared/page";
import { normalizeUrl } from "../../shared/result";
import { DEFAULT_SETTINGS } from "../../shared/settings";
import { createWorker, type Worker } from "../../shared/worker";
import { runFleet } from "../../functions/local/fleet";
import { PageFetches } from "../../functions/local/pageFetches";
import { LocalQueue } from "../../functions/local/queue";
import { FileResultStore } from "../../functions/local/resultStore";
import { makeTempDir, readResult, useDirAndPageServer, waitFor } from "./support";

const settings = { get: async () => ({ ...DEFAULT_SETTINGS, perDomainDelayMs: 0 }) };

/** A worker that answers from `answer` after `delayMs`, recording each delivery: the loop's side of the contract only. */
function scriptedWorker(answer: (item: QueueItem) => Outcome, delayMs = 0): Worker & { deliveries: { id: string; attempt: number; at: number }[]; maxInFlight: number } {
  let inFlight = 0;
  const worker = {
    deliveries: [] as { id: string; attempt: number; at: number }[],
    maxInFlight: 0,
    async processBatch(items: readonly QueueItem[]): Promise<ItemOutcome[]> {
      inFlight += items.length;
      worker.maxInFlight = Math.max(worker.maxInFlight, inFlight);
      for (const item of items) worker.deliveries.push({ id: item.id, attempt: item.attempt, at: Date.now() });
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      inFlight -= items.length;
      return items.map((item) => ({ id: item.id, outcome: answer(item) }));
    },
    close: async () => undefined,
  };
  return worker;
}

describe("local run loop", () => {
  let dir: Awaited<ReturnType<typeof makeTempDir>>;
  let queue: LocalQueue;

  beforeEach(async () => {
    dir = await makeTempDir();
    queue = LocalQueue.open(join(dir.path, "queue.sqlite"));
  });
  afterEach(async () => {
    queue.close();
    await dir.cleanup();
  });

  const enqueue = (count: number): void =>
    void queue.enqueue(Array.from({ length: count }, (_, index) => `https://example.com/${index}`).map((url) => ({ key: normalizeUrl(url), url, body: JSON.stringify({ url }) })));

  it("a message the worker cannot read is dead-lettered with its reason and the run finishes", async () => {
    queue.enqueue([{ key: "https://example.com/x", url: "https://example.com/x", body: "{not json" }]);
    const worker = createWorker({ settings, results: new FileResultStore(dir.path) });
    try {
      assert.equal(await runFleet({ queue, worker, settings }), "finished");
    } finally {
      await worker.close();
    }
    const [letter] = queue.deadLetters();
    assert.equal(letter.code, "message_not_json");
    assert.equal(letter.attempts, 1);
  });

  it("a retry answer is delivered again after the server's Retry-After, then acked", async () => {
    enqueue(1);
    const worker = scriptedWorker((item) => (item.attempt === 1 ? { kind: "retry", code: "http_429", reason: "429", retryAfterMs: 200 } : { kind: "ok", key: "results/x.json" }));
    assert.equal(await runFleet({ queue, worker, settings, idlePollMs: 20 }), "finished");
    assert.deepEqual(worker.deliveries.map((delivery) => delivery.attempt), [1, 2]);
    const waited = worker.deliveries[1].at - worker.deliveries[0].at;
    assert.ok(waited >= 195 && waited < 1_000, `second delivery ${waited} ms after the first`);
    assert.equal(queue.counts().ok, 1);
  });

  it("keeps at most `concurrency` pages in flight and refills slots as pages finish", async () => {
    enqueue(12);
    const worker = scriptedWorker(() => ({ kind: "ok", key: "results/x.json" }), 30);
    const started = Date.now();
    assert.equal(await runFleet({ queue, worker, settings, concurrency: 3 }), "finished");
    assert.equal(worker.maxInFlight, 3);
    assert.equal(worker.deliveries.length, 12);
    assert.ok(Date.now() - started < 12 * 30, "pages ran side by side");
  });

  it("a stop request claims nothing more, and answers that arrive after it are still acked", async () => {
    enqueue(10);
    const stop = new AbortController();
    const worker = scriptedWorker(() => {
      stop.abort();
      return { kind: "ok", key: "results/x.json" };
    }, 20);
    assert.equal(await runFleet({ queue, worker, settings, concurrency: 2, signal: stop.signal }), "stopped");
    assert.equal(worker.deliveries.length, 2);
    assert.equal(queue.counts().ok, 2, "both pages in flight were acked");
    assert.equal(queue.counts().inFlight, 0);
  });
});

describe("local run loop with the real worker on one paced host (loopback server)", () => {
  const fixture = useDirAndPageServer({ slowMs: 150 });
  const pacing = (perDomainDelayMs: number) => ({ get: async () => ({ ...DEFAULT_SETTINGS, perDomainDelayMs, respectRobots: false }) });
  let queue: LocalQueue;

  beforeEach(() => {
    queue = LocalQueue.open(join(fixture.dir.path, "queue.sqlite"));
  });
  afterEach(() => queue.close());

  const enqueuePaths = (paths: readonly string[]): string[] => {
    const urls = paths.map((path) => fixture.server.url(path));
    queue.enqueue(urls.map((url) => ({ key: normalizeUrl(url), url, body: JSON.stringify({ url }) })));
    return urls;
  };

  /** The shared worker as the CLI builds it, with loopback allowed explicitly for this test server. */
  function pacedWorker(settings: ReturnType<typeof pacing>, fetcher: PageFetcher): Worker {
    return createWorker({ settings, results: new FileResultStore(fixture.dir.path), fetcher, allowPrivateNetworks: true });
  }

  it("each page is acked as it finishes: while the last page is still being fetched, the others are already acked", async () => {
    const urls = enqueuePaths(Array.from({ length: 6 }, (_, index) => `/ok/${index}`));
    const settings = pacing(60);
    let releaseLast: () => void = () => undefined;
    const lastMayAnswer = new Promise<void>((resolve) => (releaseLast = resolve));
    const real = createFetcher({ allowPrivateNetworks: true });
    // The last page's answer is held back until the test has looked at the queue.
    const fetcher: PageFetcher = {
      fetch: async (url, options) => {
        const page = await real.fetch(url, options);
        if (url === urls[5]) await lastMayAnswer;
        return page;
      },
      close: () => real.close(),
    };
    const worker = pacedWorker(settings, fetcher);
    try {
      const run = runFleet({ queue, worker, settings, idlePollMs: 20 });
      await waitFor(() => queue.counts().ok === 5, 5_000, "the five answered pages to be acked");
      assert.equal(queue.counts().inFlight, 1, "the last page is still in flight");
      releaseLast();
      assert.equal(await run, "finished");
    } finally {
      releaseLast();
      await worker.close();
    }
    assert.equal(queue.counts().ok, 6);
  });

  it("a stop lets the page being fetched finish and hands the pages waiting for the host back without using an attempt", async () => {
    const urls = enqueuePaths(Array.from({ length: 5 }, (_, index) => `/slow/${index}`));
    const stop = new AbortController();
    const pageFetches = new PageFetches();
    const tracked = pageFetches.track(createFetcher({ allowPrivateNetworks: true }));
    // Stop shortly after the first page's request is out.
    const fetcher: PageFetcher = {
      fetch: (url, options) => {
        if (options.purpose === "page") setTimeout(() => stop.abort(), 30);
        return tracked.fetch(url, options);
      },
      close: () => tracked.close(),
    };
    // The host's next slot is a second away: the stop comes long before it.
    const settings = pacing(1_000);
    const worker = pacedWorker(settings, fetcher);
    const started = Date.now();
    try {
      assert.equal(await runFleet({ queue, worker, settings, signal: stop.signal, isFetchingPage: (href) => pageFetches.isFetching(href) }), "stopped");
    } finally {
      await worker.close();
    }
    const elapsed = Date.now() - started;
    assert.deepEqual(fixture.server.requests, ["/slow/0"], "only the first page was requested");
    assert.equal((await readResult(fixture.dir.path, urls[0]))?.status, "ok", "the page being fetched finished and was recorded");
    assert.ok(elapsed < 1_000, `the run ended without waiting for the host's next slot (${elapsed} ms)`);
    const counts = queue.counts();
    assert.deepEqual([counts.ok, counts.inFlight, counts.retrying, counts.waiting], [1, 0, 0, 4], "the other four are back, as never delivered");
    assert.deepEqual(queue.receive(10, 1_000).map((item) => item.attempt), [1, 1, 1, 1], "their next delivery is their first attempt");
  });
});
