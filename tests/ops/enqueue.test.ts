import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EnqueueCheckpoint } from "../../ops/checkpoint";
import { enqueue } from "../../ops/commands/enqueue";
import { OpsUsageError } from "../../ops/errors";
import { openInput, parseLine } from "../../ops/input";
import { captureIo, RecordingBackend } from "./support";

describe("fleet enqueue", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "fleet-enqueue-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function writeUrls(count: number, extra: readonly string[] = []): Promise<string> {
    const path = join(dir, "urls.txt");
    const lines = Array.from({ length: count }, (_, index) => `https://site.example/page/${index + 1}`);
    await writeFile(path, [...lines, ...extra].join("\n"));
    return path;
  }

  it("checks each line with the workers' message contract: URLs and message JSON pass, the rest name the problem", () => {
    assert.deepEqual(parseLine("  https://a.example/x "), { kind: "message", message: { v: 1, url: "https://a.example/x", depth: 0 } });
    assert.deepEqual(parseLine('{"url":"https://a.example/","id":"i","depth":2,"metadata":{"k":1}}'), {
      kind: "message",
      message: { v: 1, url: "https://a.example/", depth: 2, id: "i", metadata: { k: 1 } },
    });
    assert.deepEqual(parseLine("# comment"), { kind: "skip" });
    assert.deepEqual(parseLine(""), { kind: "skip" });
    assert.match((parseLine("ftp://a.example/") as { reason: string }).reason, /not an absolute http\(s\) URL/);
    assert.match((parseLine('{"url":"https://a.example/","colour":1}') as { reason: string }).reason, /unknown field\(s\) `colour`/);
    assert.match((parseLine('{"url":"https://a.example/","depth":500}') as { reason: string }).reason, /`depth` must be an integer from 0 to 100/);
  });

  it("sends in batches of the queue's size, bad lines reported by number and not sent, the rest go on", async () => {
    const path = await writeUrls(25, ["not a url", '{"v":2,"url":"https://x.example/"}']);
    const backend = new RecordingBackend();
    const io = captureIo();
    const report = await enqueue({ backend, input: await openInput(path, "urls.txt", io.stdin), checkpoint: undefined, dryRun: false, io });
    assert.equal(backend.received.length, 25);
    assert.equal(backend.calls, 3, "25 messages in batches of 10");
    assert.deepEqual([report.sent, report.invalid, report.failed], [25, 2, 0]);
    assert.match(io.err(), /urls\.txt line 26: not sent: "not a url"/);
    assert.match(io.err(), /urls\.txt line 27: not sent: message field `v` is 2/);
  });

  it("re-sends only a batch's refused entries, and counts an entry refused for good as failed, out of the checkpoint", async () => {
    const path = await writeUrls(10);
    // Call 1: entries 2 and 5 refused (throttled, retryable), entry 7 refused for good. Call 2: the two re-sent entries are taken.
    const backend = new RecordingBackend(undefined, (call) =>
      call === 1
        ? [
            { index: 2, reason: "RequestThrottled", retryable: true },
            { index: 5, reason: "InternalError", retryable: true },
            { index: 7, reason: "InvalidMessageContents", retryable: false },
          ]
        : [],
    );
    const io = captureIo();
    const checkpoint = await EnqueueCheckpoint.open(join(dir, "cp.json"), "recording");
    const report = await enqueue({ backend, input: await openInput(path, "urls.txt", io.stdin), checkpoint, dryRun: false, io, random: () => 0 });
    assert.equal(backend.calls, 2);
    assert.deepEqual(
      backend.received.map((message) => Number(message.url.split("/").pop())),
      [1, 2, 4, 5, 7, 9, 10, 3, 6],
      "the second send carried only lines 3 and 6",
    );
    assert.deepEqual([report.sent, report.failed], [9, 1]);
    assert.match(io.err(), /line 8: not sent, the queue refused it for good: InvalidMessageContents/);
    const saved = JSON.parse(await readFile(join(dir, "cp.json"), "utf8")) as { sent: number[][] };
    assert.deepEqual(saved.sent, [[1, 7], [9, 10]], "line 8 stays out, so a re-run sends it");
  });

  it("a batch that fails as a whole (throttled) is sent again", async () => {
    const path = await writeUrls(10);
    const backend = new RecordingBackend(undefined, (call) => (call === 1 ? new Error("ThrottlingException: Rate exceeded") : []));
    const io = captureIo();
    const report = await enqueue({ backend, input: await openInput(path, "urls.txt", io.stdin), checkpoint: undefined, dryRun: false, io, random: () => 0 });
    assert.deepEqual([backend.calls, backend.received.length, report.failed], [2, 10, 0]);
  });

  it("resumes after an interruption: across both runs every line is sent exactly once", async () => {
    const path = await writeUrls(1_000);
    const checkpointPath = join(dir, "urls.txt.checkpoint.json");
    const firstIo = captureIo();
    const first = new RecordingBackend(undefined, () => [], (call) => {
      if (call === 30) firstIo.controller.abort();
    });
    const interrupted = await enqueue({ backend: first, input: await openInput(path, "urls.txt", firstIo.stdin), checkpoint: await EnqueueCheckpoint.open(checkpointPath, "recording"), dryRun: false, io: firstIo });
    assert.equal(interrupted.interrupted, true);
    assert.ok(first.received.length >= 300 && first.received.length < 1_000, `stopped part way (${first.received.length} sent)`);

    const secondIo = captureIo();
    const second = new RecordingBackend();
    const resumed = await enqueue({ backend: second, input: await openInput(path, "urls.txt", secondIo.stdin), checkpoint: await EnqueueCheckpoint.open(checkpointPath, "recording"), dryRun: false, io: secondIo });
    assert.equal(resumed.alreadySent, first.received.length);
    const all = [...first.received, ...second.received].map((message) => message.url);
    assert.equal(all.length, 1_000, "none skipped");
    assert.equal(new Set(all).size, 1_000, "none twice");
  });

  it("refuses a checkpoint written for another queue, naming the fix", async () => {
    const checkpointPath = join(dir, "cp.json");
    const checkpoint = await EnqueueCheckpoint.open(checkpointPath, "queue-a");
    checkpoint.add([1, 2, 3]);
    await checkpoint.save();
    await assert.rejects(EnqueueCheckpoint.open(checkpointPath, "queue-b"), (error: unknown) => error instanceof OpsUsageError && /records lines sent to queue-a, not queue-b; pass --checkpoint FILE/.test(error.message));
  });

  it("merges checkpoint ranges whatever order batches finish in", async () => {
    const checkpoint = await EnqueueCheckpoint.open(join(dir, "cp.json"), "q");
    checkpoint.add([5, 6, 7]);
    checkpoint.add([1, 2]);
    checkpoint.add([9]);
    checkpoint.add([3, 4, 8]);
    await checkpoint.save();
    assert.deepEqual((JSON.parse(await readFile(join(dir, "cp.json"), "utf8")) as { sent: number[][] }).sent, [[1, 9]]);
    assert.equal(checkpoint.has(9), true);
    assert.equal(checkpoint.has(10), false);
  });

  it("--dry-run counts and sends nothing", async () => {
    const path = await writeUrls(42, ["bad"]);
    const backend = new RecordingBackend();
    const io = captureIo();
    const report = await enqueue({ backend, input: await openInput(path, "urls.txt", io.stdin), checkpoint: undefined, dryRun: true, io });
    assert.deepEqual([report.sent, report.invalid, backend.calls], [42, 1, 0]);
  });
});
