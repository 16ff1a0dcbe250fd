import assert from "node:assert/strict";
import { join } from "node:path";
import type { ItemOutcome, Outcome, QueueItem } from "../../shared/outcome";
import { normalizeUrl } from "../../shared/result";
import { DEFAULT_SETTINGS } from "../../shared/settings";
import { createWorker, type Worker } from "../../shared/worker";
import { runFleet } from "../../functions/local/fleet";
import { LocalQueue } from "../../functions/local/queue";
import { FileResultStore } from "../../functions/local/resultStore";
import { makeTempDir } from "./support";

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

  it("a stop request claims nothing more and waits for the pages in flight", async () => {
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
