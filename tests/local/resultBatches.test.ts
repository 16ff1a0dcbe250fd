/**
 * The local fleet with batched result records (runtime setting
 * `resultBatchMaxRecords` above 1): real runs against the loopback page
 * server, a real SQLite queue and real files, then `npm run fleet -- results
 * export` over what they wrote.
 */
import assert from "node:assert/strict";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { QUEUE_FILE, main as runLocalFleet } from "../../functions/local/cli";
import { runFleet } from "../../functions/local/fleet";
import { LocalQueue } from "../../functions/local/queue";
import { FileResultStore } from "../../functions/local/resultStore";
import { main as runOps } from "../../ops/cli";
import type { StoredObject } from "../../shared/ports";
import { normalizeUrl, type ResultRecord } from "../../shared/result";
import { isBatchObject } from "../../shared/resultReader";
import { parseSettings } from "../../shared/settings";
import { createWorker } from "../../shared/worker";
import { captureIo } from "../ops/support";
import { captureIO, resultFiles, useDirAndPageServer } from "./support";

const BATCHING = { resultBatchMaxRecords: 50, resultBatchWindowMs: 200, perDomainDelayMs: 0, respectRobots: false } as const;

/** `npm run fleet -- results export --local DIR`, its records by URL. */
async function exportRecords(cwd: string, dir: string): Promise<ResultRecord[]> {
  const io = captureIo({ cwd });
  assert.equal(await runOps(["results", "export", "--local", dir], io), 0, io.err());
  return io
    .out()
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as ResultRecord);
}

/** Every line of every batch object in DIR/results/batches/. */
async function batchLines(dir: string): Promise<{ readonly objects: number; readonly records: ResultRecord[] }> {
  const folder = join(dir, "results", "batches");
  const names = (await readdir(folder)).filter((name) => name.endsWith(".jsonl"));
  const records: ResultRecord[] = [];
  for (const name of names) {
    for (const line of (await readFile(join(folder, name), "utf8")).trim().split("\n")) records.push(JSON.parse(line) as ResultRecord);
  }
  return { objects: names.length, records };
}

describe("local fleet with batched result records", () => {
  const fixture = useDirAndPageServer();

  it("a run writes far fewer objects than pages, and export gives exactly one record per URL", async () => {
    const paths = [...Array.from({ length: 100 }, (_, n) => `/ok/${n}`), ...Array.from({ length: 4 }, (_, n) => `/flaky/${n}`), ...Array.from({ length: 4 }, (_, n) => `/missing/${n}`)];
    await writeFile(join(fixture.dir.path, "urls.txt"), paths.map((path) => fixture.server.url(path)).join("\n"));
    await writeFile(join(fixture.dir.path, "settings.json"), JSON.stringify(BATCHING));
    const io = captureIO("", fixture.dir.path);
    const code = await runLocalFleet(["--out", "out", "--config", "settings.json", "--concurrency", "16", "--allow-private-networks", "urls.txt"], io);
    assert.equal(code, 0, io.err());
    const out = join(fixture.dir.path, "out");

    assert.deepEqual(await resultFiles(out), [], "no per-page record");
    const { objects, records } = await batchLines(out);
    assert.equal(records.length, paths.length, "one line per stored page");
    assert.ok(objects * 4 <= paths.length, `${objects} batch objects for ${paths.length} pages: at least 4 records an object`);
    assert.match(io.out(), /records batched as JSON Lines in batches\/; one per URL, the newest: npm run fleet -- results export --local out/);

    const exported = await exportRecords(fixture.dir.path, "out");
    assert.equal(exported.length, paths.length);
    assert.equal(new Set(exported.map((record) => record.url)).size, paths.length, "one record per URL");
    const byPath = new Map(exported.map((record) => [new URL(record.url).pathname, record]));
    for (let n = 0; n < 4; n += 1) {
      assert.deepEqual([byPath.get(`/flaky/${n}`)?.status, byPath.get(`/flaky/${n}`)?.attempt], ["ok", 2], "a 503 then 200 is stored once, from its second delivery");
      assert.deepEqual([byPath.get(`/missing/${n}`)?.status, byPath.get(`/missing/${n}`)?.code], ["failed", "http_4xx"]);
    }
  });

  // A batch write the store reports as failed sends each of its pages back to
  // the queue. It may have landed all the same (an answer lost to a timeout):
  // then the redelivery writes the same URLs into a second object.
  for (const landed of [true, false]) {
    it(`a batch write that fails${landed ? " after landing" : ""} sends every page in it back; each is fetched again, none is lost, and export keeps the newest record`, async () => {
      const dir = fixture.dir.path;
      const urls = Array.from({ length: 12 }, (_, n) => fixture.server.url(`/ok/${n}`));
      const queue = LocalQueue.open(join(dir, QUEUE_FILE));
      queue.enqueue(urls.map((url) => ({ key: normalizeUrl(url), url, body: JSON.stringify({ url }) })));
      const results = new FirstBatchFails(dir, landed);
      const settings = parseSettings({ ...BATCHING, resultBatchWindowMs: 100 });
      const worker = createWorker({ settings: { get: async () => settings }, results, allowPrivateNetworks: true });
      try {
        assert.equal(await runFleet({ queue, worker, settings: { get: async () => settings }, concurrency: 4, backoff: { first: 10, factor: 1, max: 10 }, idlePollMs: 20 }), "finished");
        assert.deepEqual([queue.counts().ok, queue.counts().dead], [12, 0]);
      } finally {
        await worker.close();
        queue.close();
      }

      const failedBatch = results.failedLines.map((line) => (JSON.parse(line) as ResultRecord).url);
      assert.ok(failedBatch.length > 0);
      for (const url of failedBatch) assert.equal(fixture.server.hits(new URL(url).pathname), 2, `${url} was fetched again`);
      const { records } = await batchLines(dir);
      assert.equal(records.length, 12 + (landed ? failedBatch.length : 0), landed ? "the landed batch's URLs are in two objects" : "the lost batch's URLs are in one object, from their redelivery");

      const exported = await exportRecords(dir, ".");
      assert.equal(exported.length, 12);
      assert.equal(new Set(exported.map((record) => record.url)).size, 12, "one record per URL");
      for (const record of exported) assert.equal(record.attempt, failedBatch.includes(record.url) ? 2 : 1, `${record.url}: the newest record`);
    });
  }
});

/** The local store, except that its first batch write fails: after writing the object when `landed`, before it when not. */
class FirstBatchFails extends FileResultStore {
  failedLines: string[] = [];

  constructor(
    directory: string,
    private readonly landed: boolean,
  ) {
    super(directory);
  }

  override async put(object: StoredObject): Promise<void> {
    const first = isBatchObject(object.key) && this.failedLines.length === 0;
    if (first) this.failedLines = String(object.body).trim().split("\n");
    if (!first || this.landed) await super.put(object);
    if (first) throw new Error(this.landed ? "the answer was lost (the object landed)" : "the disk refused the write");
  }
}
