/**
 * Batched result records: the group-commit writer (shared/resultBatcher.ts),
 * the worker with `resultBatchMaxRecords` above 1 against pages on 127.0.0.1,
 * and the reader that gives export one record per URL (shared/resultReader.ts).
 */
import { strict as assert } from "node:assert";
import type { PutOptions, StoredObject } from "../../shared/ports";
import { RESULT_BATCH_CONTENT_TYPE, resultKey } from "../../shared/result";
import { ResultBatcher } from "../../shared/resultBatcher";
import { newestResults, type FoundResult, type ResultObjectSource } from "../../shared/resultReader";
import { parseSettings, type FleetSettings } from "../../shared/settings";
import { createWorker } from "../../shared/worker";
import { startLoopbackServer, type LoopbackServer } from "../support/loopback/server";
import { MemoryResultStore } from "../support/memoryStore";
import { commonPages, htmlPage, loopbackLookup } from "../support/pages";

const BATCH_KEY = /^results\/batches\/\d{8}T\d{9}Z-[0-9a-f]{16}\.jsonl$/;

/** A store whose writes land only when the test lets them (`release`), or fail (`fail`); it keeps each write's options. */
class GatedStore extends MemoryResultStore {
  readonly started: { object: StoredObject; options?: PutOptions; release: () => void; fail: (error: Error) => void }[] = [];

  override put(object: StoredObject, options?: PutOptions): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      options?.signal?.addEventListener("abort", () => reject(new Error("write cancelled")), { once: true });
      this.started.push({ object, options, release: () => void super.put(object).then(resolve, reject), fail: reject });
    });
  }
}

/** Whether the promise has settled, without waiting for it. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

const waitUntil = async (check: () => boolean, what: string, timeoutMs = 2_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};

const linesOf = (object: StoredObject): unknown[] =>
  String(object.body)
    .trimEnd()
    .split("\n")
    .map((line) => JSON.parse(line) as unknown);

describe("result batches: the group-commit writer", () => {
  it("records put within the window land as one JSON Lines object, and each put resolves only once that object has landed", async () => {
    const store = new GatedStore();
    const batcher = new ResultBatcher({ store });
    const limits = { maxRecords: 10, windowMs: 40 };
    const puts = [1, 2, 3].map((n) => batcher.add(JSON.stringify({ n }), limits));
    assert.equal(store.started.length, 0, "nothing is written before the window ends");
    await waitUntil(() => store.started.length === 1, "the batch write");
    assert.equal(await settled(Promise.all(puts)), false, "no put resolves while its object is still being written");
    const [write] = store.started;
    assert.match(write.object.key, BATCH_KEY);
    assert.equal(write.object.contentType, RESULT_BATCH_CONTENT_TYPE);
    assert.deepEqual(linesOf(write.object), [{ n: 1 }, { n: 2 }, { n: 3 }]);
    write.release();
    await Promise.all(puts);
    assert.equal(store.objects.size, 1);
  });

  it("a full batch is written at once, without waiting out the window; the next record opens a new one", async () => {
    const store = new GatedStore();
    const batcher = new ResultBatcher({ store });
    const limits = { maxRecords: 2, windowMs: 60_000 };
    const first = [batcher.add('{"n":1}', limits), batcher.add('{"n":2}', limits)];
    assert.equal(store.started.length, 1);
    const third = batcher.add('{"n":3}', limits);
    assert.equal(batcher.waiting, 1);
    batcher.flush();
    assert.equal(store.started.length, 2);
    for (const write of store.started) write.release();
    await Promise.all([...first, third]);
    assert.deepEqual(store.started.map((write) => linesOf(write.object).length), [2, 1]);
  });

  it("a failed write fails every page in it, and the next batch is not touched by it", async () => {
    const store = new GatedStore();
    const batcher = new ResultBatcher({ store });
    const limits = { maxRecords: 3, windowMs: 60_000 };
    const failing = [1, 2, 3].map((n) => batcher.add(JSON.stringify({ n }), limits));
    const next = batcher.add('{"n":4}', limits);
    store.started[0].fail(new Error("S3 PutObject failed: SlowDown"));
    const results = await Promise.allSettled(failing);
    assert.deepEqual(
      results.map((result) => (result.status === "rejected" && result.reason instanceof Error ? result.reason.message : result.status)),
      Array(3).fill("S3 PutObject failed: SlowDown"),
    );
    batcher.flush();
    store.started[1].release();
    await next;
  });

  it("a page whose signal aborts is rejected at once and never holds the others; a write every page gave up on is cancelled", async () => {
    const store = new GatedStore();
    const batcher = new ResultBatcher({ store });
    const limits = { maxRecords: 10, windowMs: 60_000 };
    const quitter = new AbortController();
    const stayer = batcher.add('{"n":1}', limits);
    const leaving = batcher.add('{"n":2}', limits, quitter.signal);
    quitter.abort(new Error("write grace ran out"));
    await assert.rejects(leaving, /write grace ran out/);
    batcher.flush();
    assert.deepEqual(linesOf(store.started[0].object), [{ n: 1 }], "the page that left an open batch is not written");
    assert.equal(store.started[0].options, undefined, "a write with a page that cannot give up gets no signal");
    store.started[0].release();
    await stayer;

    const one = new AbortController();
    const two = new AbortController();
    const first = batcher.add('{"n":3}', limits, one.signal);
    const second = batcher.add('{"n":4}', limits, two.signal);
    batcher.flush();
    const write = store.started[1];
    one.abort(new Error("first gave up"));
    await assert.rejects(first, /first gave up/);
    assert.equal(write.options?.signal?.aborted, false, "the write goes on while a page still waits for it");
    two.abort(new Error("second gave up"));
    await assert.rejects(second, /second gave up/);
    assert.equal(write.options?.signal?.aborted, true, "nobody waits any more: the write is cancelled");
    await assert.rejects(batcher.add('{"n":5}', limits, one.signal), /first gave up/, "an already aborted signal is refused at once");
  });

  it("refuses a record that is not one line, which would split it for every reader", async () => {
    const batcher = new ResultBatcher({ store: new MemoryResultStore() });
    await assert.rejects(batcher.add('{"a":\n1}', { maxRecords: 2, windowMs: 0 }), /must be one line of JSON/);
  });
});

describe("worker with resultBatchMaxRecords above 1", () => {
  let server: LoopbackServer;
  const url = (path: string) => `http://shop.example:${server.port}${path}`;
  const settingsWith = (overrides: Record<string, unknown>): FleetSettings =>
    parseSettings({ perDomainDelayMs: 0, respectRobots: false, connectTimeoutMs: 1_000, headersTimeoutMs: 2_000, bodyIdleTimeoutMs: 2_000, pageDeadlineMs: 5_000, ...overrides });
  const item = (id: string, path: string, attempt = 1) => ({ id, body: JSON.stringify({ url: url(path) }), attempt });

  before(async () => {
    server = await startLoopbackServer({ ...commonPages(), "/also": htmlPage("<title>Also</title>") });
  });
  after(async () => {
    await server.close();
  });

  it("the records of a batch's pages, ok and failed, are one object, written as soon as every page waits for it rather than at the window's end", async () => {
    const store = new MemoryResultStore();
    const settings = settingsWith({ resultBatchMaxRecords: 100, resultBatchWindowMs: 1_000 });
    const worker = createWorker({ settings: { get: async () => settings }, results: store, allowPrivateNetworks: true, lookup: loopbackLookup });
    try {
      const started = Date.now();
      const outcomes = await worker.processBatch([item("a", "/good"), item("b", "/other"), item("c", "/also"), item("gone", "/gone"), item("busy", "/busy")]);
      const elapsed = Date.now() - started;
      assert.deepEqual(
        outcomes.map(({ outcome }) => outcome.kind),
        ["ok", "ok", "ok", "failed", "retry"],
      );
      assert.deepEqual([...store.objects.keys()].map((key) => BATCH_KEY.test(key)), [true], "one batch object, no per-page record");
      const [object] = store.objects.values();
      const records = linesOf(object) as { key: string; status: string }[];
      assert.deepEqual(records.map((record) => record.key).sort(), ["/good", "/other", "/also", "/gone"].map((path) => resultKey(url(path))).sort());
      assert.ok(elapsed < 900, `answered in ${elapsed} ms: the last page flushed the batch instead of waiting out the 1,000 ms window`);
    } finally {
      await worker.close();
    }
  });

  it("a record holding U+2028 or U+2029 stays one line of its object, for readers that end lines there too", async () => {
    const store = new MemoryResultStore();
    const settings = settingsWith({ resultBatchMaxRecords: 100, resultBatchWindowMs: 1_000 });
    const worker = createWorker({ settings: { get: async () => settings }, results: store, allowPrivateNetworks: true, lookup: loopbackLookup });
    try {
      const metadata = { note: "line\u2028separator and paragraph\u2029separator" };
      const outcomes = await worker.processBatch([{ id: "sep", body: JSON.stringify({ url: url("/good"), metadata }), attempt: 1 }, item("b", "/other")]);
      assert.deepEqual(outcomes.map(({ outcome }) => outcome.kind), ["ok", "ok"]);
      const body = String([...store.objects.values()][0].body);
      assert.equal(body.split(/\r?\n|\u2028|\u2029/).filter((line) => line !== "").length, 2, "split as Python's splitlines would, still one record a line");
      const records = linesOf([...store.objects.values()][0]) as { metadata?: typeof metadata }[];
      assert.deepEqual(records.find((record) => record.metadata !== undefined)?.metadata, metadata, "the characters themselves are kept");
    } finally {
      await worker.close();
    }
  });

  it("a failed batch write sends every page in it back as store_failed, and the redelivery stores each one: none is lost", async () => {
    const store = new MemoryResultStore();
    const settings = settingsWith({ resultBatchMaxRecords: 100, resultBatchWindowMs: 50 });
    const worker = createWorker({ settings: { get: async () => settings }, results: store, allowPrivateNetworks: true, lookup: loopbackLookup });
    try {
      const items = [item("a", "/good"), item("b", "/other"), item("gone", "/gone")];
      store.failNext = 1;
      const first = await worker.processBatch(items);
      assert.deepEqual(
        first.map(({ outcome }) => (outcome.kind === "ok" ? "ok" : `${outcome.kind}:${outcome.code}`)),
        ["retry:store_failed", "retry:store_failed", "retry:store_failed"],
      );
      assert.equal(store.objects.size, 0);
      const again = await worker.processBatch(items.map((sent) => ({ ...sent, attempt: 2 })));
      assert.deepEqual(
        again.map(({ outcome }) => outcome.kind),
        ["ok", "ok", "failed"],
      );
      assert.equal(linesOf([...store.objects.values()][0]).length, 3);
    } finally {
      await worker.close();
    }
  });

  it("a batch write still running when the write grace ends is given up: every page in it comes back as store_failed by then", async () => {
    const store = new GatedStore();
    const settings = settingsWith({ resultBatchMaxRecords: 100, resultBatchWindowMs: 50 });
    const worker = createWorker({ settings: { get: async () => settings }, results: store, allowPrivateNetworks: true, lookup: loopbackLookup });
    try {
      const started = Date.now();
      const outcomes = await worker.processBatch([item("a", "/good"), item("b", "/other")], { deadlineAt: started + 400, writeGraceMs: 100 });
      const elapsed = Date.now() - started;
      assert.deepEqual(
        outcomes.map(({ outcome }) => (outcome.kind === "retry" ? outcome.code : outcome.kind)),
        ["store_failed", "store_failed"],
      );
      assert.ok(elapsed >= 480 && elapsed < 1_500, `answered after ${elapsed} ms: at the deadline plus the grace`);
      assert.equal(store.started.length, 1);
      assert.equal(store.started[0].options?.signal?.aborted, true, "the write nobody waits for is cancelled");
    } finally {
      await worker.close();
    }
  });
});

/** A store in memory, read back in small chunks so lines and UTF-8 characters are cut across chunk boundaries. */
function memorySource(objects: Readonly<Record<string, string>>): ResultObjectSource {
  return {
    async *listResultObjects(prefix) {
      for (const name of Object.keys(objects)) if (name.startsWith(prefix)) yield name;
    },
    async *readResultObject(name) {
      const bytes = Buffer.from(objects[name] ?? "", "utf8");
      for (let start = 0; start < bytes.length; start += 7) yield bytes.subarray(start, start + 7);
    },
  };
}

describe("export reads one record per URL, the newest", () => {
  const record = (path: string, fetchedAt: string, attempt: number, title = path) => ({ key: resultKey(`https://site.example${path}`), url: `https://site.example${path}`, status: "ok", fetchedAt, attempt, content: { title } });
  const jsonl = (...records: unknown[]) => `${records.map((each) => JSON.stringify(each)).join("\n")}\n`;

  it("keeps the later fetchedAt, then the higher attempt, across per-page and batch objects", async () => {
    const perPageOlder = record("/a", "2026-12-01T10:00:00.000Z", 1, "old á");
    const batchNewer = record("/a", "2026-12-01T10:05:00.000Z", 2, "new é");
    const firstTry = record("/b", "2026-12-01T10:00:00.000Z", 1);
    const secondTry = record("/b", "2026-12-01T10:00:00.000Z", 2, "second");
    const perPageNewest = record("/c", "2026-12-01T11:00:00.000Z", 3, "per-page wins");
    const batchOlder = record("/c", "2026-12-01T09:00:00.000Z", 1);
    const alone = record("/d", "2026-12-01T10:00:00.000Z", 1);
    const source = memorySource({
      [perPageOlder.key]: JSON.stringify(perPageOlder),
      [perPageNewest.key]: JSON.stringify(perPageNewest),
      [alone.key]: JSON.stringify(alone),
      "results/batches/20261201T100000000Z-0000000000000001.jsonl": jsonl(firstTry, batchOlder, batchNewer),
      "results/batches/20261201T100500000Z-0000000000000002.jsonl": `${jsonl(secondTry)}{"truncated":\n`,
      "results/batches/notes.txt": "not a batch object",
      "raw/x.html.gz": "not a record",
    });
    const exported: FoundResult[] = [];
    for await (const found of newestResults(source, new AbortController().signal)) exported.push(found);
    const records = exported.flatMap((found) => (found.kind === "record" ? [found.record as unknown as { url: string; content: { title: string } }] : []));
    assert.deepEqual(Object.fromEntries(records.map((found) => [found.url.slice("https://site.example".length), found.content.title])), {
      "/a": "new é",
      "/b": "second",
      "/c": "per-page wins",
      "/d": "/d",
    });
    assert.equal(records.length, 4, "exactly one record per URL");
    assert.deepEqual(
      exported.filter((found) => found.kind === "unreadable"),
      [{ kind: "unreadable", object: "results/batches/20261201T100500000Z-0000000000000002.jsonl", line: 2, why: "not a JSON record with a url (a torn write?)" }],
      "the torn batch line is reported by object and line, not dropped silently",
    );
  });

  it("a store written without batches is read as before: each per-page object once", async () => {
    const objects = Object.fromEntries(Array.from({ length: 5 }, (_, n) => record(`/p${n}`, "2026-12-01T10:00:00.000Z", 1)).map((each) => [each.key, JSON.stringify(each)]));
    const seen: string[] = [];
    for await (const found of newestResults(memorySource({ ...objects, "results/broken.json": "{" }), new AbortController().signal)) seen.push(found.kind === "unreadable" ? `unreadable ${found.object}` : String(found.record.url));
    assert.deepEqual(seen.sort(), [...Array.from({ length: 5 }, (_, n) => `https://site.example/p${n}`), "unreadable results/broken.json"].sort());
  });
});
