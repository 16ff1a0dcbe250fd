import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { normalizeUrl } from "../../shared/result";
import { QueueFileError } from "../../functions/local/errors";
import { LocalQueue, type NewMessage } from "../../functions/local/queue";
import { tryLockDirectory } from "../../functions/local/runLock";
import { loadSqlite } from "../../functions/local/sqlite";
import { makeTempDir } from "./support";

/** A clock the test moves by hand. */
function manualClock(start = 1_000_000): { now: () => number; advance(ms: number): void } {
  let time = start;
  return { now: () => time, advance: (ms) => void (time += ms) };
}

function message(url: string, line = 1): NewMessage {
  return { key: normalizeUrl(url), url, body: JSON.stringify({ v: 1, url }), origin: { source: "urls.txt", line } };
}

const ME = { pid: 4242, host: "test-host", startedAt: 0 };

describe("local queue (SQLite)", () => {
  let dir: Awaited<ReturnType<typeof makeTempDir>>;
  let clock: ReturnType<typeof manualClock>;
  let queue: LocalQueue;
  const path = (): string => join(dir.path, "queue.sqlite");

  beforeEach(async () => {
    dir = await makeTempDir();
    clock = manualClock();
    queue = LocalQueue.open(path(), { now: clock.now, maxAttempts: 3 });
  });
  afterEach(async () => {
    queue.close();
    await dir.cleanup();
  });

  it("a URL is queued once however it is spelled (normalized key)", () => {
    assert.equal(queue.enqueue([message("http://example.com/a")]), 1);
    assert.equal(queue.enqueue([message("HTTP://Example.COM:80/a#section"), message("http://example.com/a")]), 0);
    assert.equal(queue.counts().total, 1);
    assert.equal(queue.receive(10, 1_000).length, 1);
  });

  it("a finished URL is not queued again when the list is read again", () => {
    queue.enqueue([message("http://example.com/a")]);
    const [item] = queue.receive(1, 1_000);
    assert.ok(queue.ack(item.id, { outcome: "ok" }));
    assert.equal(queue.enqueue([message("http://example.com/a")]), 0);
    assert.deepEqual(queue.receive(10, 1_000), []);
  });

  it("a claimed message stays invisible until its visibility timeout passes, then is delivered again", () => {
    queue.enqueue([message("http://example.com/a")]);
    const [first] = queue.receive(10, 5_000);
    assert.equal(first.attempt, 1);
    clock.advance(4_999);
    assert.deepEqual(queue.receive(10, 5_000), [], "still invisible before the timeout");
    clock.advance(1);
    const [second] = queue.receive(10, 5_000);
    assert.equal(second.attempt, 2);
    assert.equal(queue.ack(first.id, { outcome: "ok" }), false, "the expired delivery's receipt is stale");
    assert.equal(queue.ack(second.id, { outcome: "ok" }), true);
  });

  it("each delivery counts one more receive", () => {
    queue.enqueue([message("http://example.com/a")]);
    const attempts: number[] = [];
    for (let i = 0; i < 3; i += 1) {
      const [item] = queue.receive(1, 100);
      attempts.push(item.attempt);
      clock.advance(100);
    }
    assert.deepEqual(attempts, [1, 2, 3]);
  });

  it("an acked message is never delivered again and counts as finished", () => {
    queue.enqueue([message("http://example.com/a"), message("http://example.com/b")]);
    const items = queue.receive(10, 100);
    assert.ok(queue.ack(items[0].id, { outcome: "ok" }));
    assert.ok(queue.ack(items[1].id, { outcome: "failed", code: "http_4xx", reason: "404" }));
    clock.advance(1_000);
    assert.deepEqual(queue.receive(10, 100), []);
    assert.equal(queue.hasPending(), false);
    const counts = queue.counts();
    assert.deepEqual([counts.ok, counts.failed, counts.dead, counts.total], [1, 1, 0, 2]);
    assert.deepEqual(queue.failureCodes(), [{ state: "failed", code: "http_4xx", count: 1 }]);
  });

  it("a retried message comes back after its delay, not before, and counts as retrying meanwhile", () => {
    queue.enqueue([message("http://example.com/a")]);
    const [item] = queue.receive(1, 60_000);
    assert.equal(queue.retry(item.id, { code: "http_5xx", reason: "503", delayMs: 2_000 }), "requeued");
    assert.equal(queue.counts().retrying, 1);
    assert.equal(queue.nextVisibleAt(), clock.now() + 2_000);
    clock.advance(1_999);
    assert.deepEqual(queue.receive(1, 60_000), []);
    clock.advance(1);
    assert.equal(queue.receive(1, 60_000)[0]?.attempt, 2);
  });

  it("a message is dead-lettered with its last reason once it has been delivered maxAttempts times", () => {
    queue.enqueue([message("http://example.com/down", 7)]);
    const results: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      const [item] = queue.receive(1, 100);
      results.push(queue.retry(item.id, { code: "http_5xx", reason: `answered 503 (try ${i + 1})`, delayMs: 0 }));
    }
    assert.deepEqual(results, ["requeued", "requeued", "dead-lettered"]);
    assert.deepEqual(queue.receive(1, 100), []);
    const [letter] = queue.deadLetters();
    assert.equal(letter.url, "http://example.com/down");
    assert.equal(letter.code, "http_5xx");
    assert.equal(letter.attempts, 3);
    assert.deepEqual(letter.origin, { source: "urls.txt", line: 7 });
    assert.match(letter.reason, /answered 503 \(try 3\)/);
    assert.equal(queue.counts().dead, 1);
  });

  it("a message whose deliveries all ended with the run dying is dead-lettered at the next receive", () => {
    queue.enqueue([message("http://example.com/poison")]);
    for (let i = 0; i < 3; i += 1) {
      assert.equal(queue.receive(1, 100).length, 1);
      clock.advance(100);
    }
    assert.deepEqual(queue.receive(1, 100), []);
    const [letter] = queue.deadLetters();
    assert.equal(letter.attempts, 3);
    assert.match(letter.reason, /delivered 3 times without an answer/);
  });

  it("a malformed message goes straight to the dead-letter table", () => {
    queue.enqueue([message("http://example.com/a")]);
    const [item] = queue.receive(1, 100);
    assert.ok(queue.deadLetter(item.id, { code: "message_not_json", reason: "message is not JSON" }));
    assert.deepEqual(queue.deadLetters().map((letter) => [letter.code, letter.attempts]), [["message_not_json", 1]]);
    assert.equal(queue.hasPending(), false);
  });

  it("a line that is not a URL is dead-lettered on arrival, once however often it is read", () => {
    const rejected = { key: "line:not a url", rawLine: "not a url", origin: { source: "urls.txt", line: 3 }, code: "url_invalid" as const, reason: 'urls.txt:3: "not a url" is not an absolute URL' };
    assert.deepEqual(queue.rejectLines([rejected]), [rejected]);
    assert.deepEqual(queue.rejectLines([rejected]), []);
    assert.deepEqual(
      queue.deadLetters().map((letter) => [letter.rawLine, letter.origin?.line, letter.attempts]),
      [["not a url", 3, 0]],
    );
  });

  it("lines that are not URLs are counted apart from the URLs", () => {
    queue.enqueue([message("http://example.com/a")]);
    queue.rejectLines([{ key: "line:nope", rawLine: "nope", code: "url_invalid", reason: "not a URL" }]);
    const counts = queue.counts();
    assert.deepEqual([counts.total, counts.waiting, counts.dead, counts.notUrls], [1, 1, 0, 1]);
    assert.deepEqual(queue.failureCodes(), [{ state: "not-url", code: "url_invalid", count: 1 }]);
  });

  it("a paused or paced message goes back without using up an attempt", () => {
    queue.enqueue([message("http://example.com/a")]);
    for (let i = 0; i < 5; i += 1) {
      const [item] = queue.receive(1, 100);
      assert.equal(item.attempt, 1);
      assert.ok(queue.release(item.id, { code: "fleet_paused", reason: "paused", delayMs: 10 }));
      clock.advance(10);
    }
    assert.equal(queue.counts().dead, 0);
  });

  it("everything survives closing and reopening the file: finished, waiting and claimed messages", () => {
    queue.enqueue([message("http://example.com/done"), message("http://example.com/claimed"), message("http://example.com/waiting")]);
    const [done, claimed] = queue.receive(2, 10_000);
    queue.ack(done.id, { outcome: "ok" });
    queue.close();

    queue = LocalQueue.open(path(), { now: clock.now, maxAttempts: 3 });
    assert.deepEqual(
      queue.receive(10, 10_000).map((item) => JSON.parse(String(item.body)).url),
      ["http://example.com/waiting"],
      "the claim is still invisible and the finished message stays finished",
    );
    clock.advance(10_000);
    const [again] = queue.receive(10, 10_000);
    assert.equal(JSON.parse(String(again.body)).url, "http://example.com/claimed");
    assert.equal(again.attempt, claimed.attempt + 1);
  });

  it("a new run takes a dead run's claims back at once instead of waiting for the visibility timeout", () => {
    const dead = LocalQueue.open(path(), { now: clock.now });
    dead.takeOwnership({ ...ME, pid: 1111 });
    dead.enqueue([message("http://example.com/a"), message("http://example.com/b")]);
    assert.equal(dead.receive(2, 3_600_000).length, 2);
    dead.close();

    const takeOver = queue.takeOwnership(ME);
    assert.equal(takeOver.previous?.pid, 1111);
    assert.equal(takeOver.reclaimed, 2);
    const items = queue.receive(10, 1_000);
    assert.deepEqual(items.map((item) => item.attempt), [2, 2]);
  });

  it("a resume fetches the dead run's reclaimed pages first, not after every page never tried", () => {
    const dead = LocalQueue.open(path(), { now: clock.now });
    dead.takeOwnership({ ...ME, pid: 1111 });
    dead.enqueue(["a", "b", "c", "d"].map((name) => message(`http://example.com/${name}`)));
    assert.equal(dead.receive(2, 3_600_000).length, 2);
    dead.close();
    clock.advance(60_000);

    queue.takeOwnership(ME);
    const next = queue.receive(2, 1_000);
    assert.deepEqual(
      next.map((item) => [JSON.parse(String(item.body)).url, item.attempt]),
      [["http://example.com/a", 2], ["http://example.com/b", 2]],
    );
    assert.equal(queue.counts().retrying, 0, "nothing is left shown as retrying");
  });

  it("a run that was taken over learns it from its heartbeat", () => {
    const first = LocalQueue.open(path(), { now: clock.now });
    first.takeOwnership({ ...ME, pid: 1111 });
    queue.takeOwnership(ME);
    assert.equal(first.heartbeat(), false);
    first.close();
  });
});

describe("run lock (an OS file lock on DIR/run.lock)", () => {
  let dir: Awaited<ReturnType<typeof makeTempDir>>;
  beforeEach(async () => (dir = await makeTempDir()));
  afterEach(() => dir.cleanup());

  it("is refused to a second taker while held, and free again once released", () => {
    const file = join(dir.path, "run.lock");
    const first = tryLockDirectory(file);
    assert.ok(first, "the first taker gets it");
    assert.equal(tryLockDirectory(file), undefined, "a second taker is refused while the first holds it");
    first.release();
    const again = tryLockDirectory(file);
    assert.ok(again, "free once released");
    again.release();
  });
});

describe("local queue file that is not a queue", () => {
  let dir: Awaited<ReturnType<typeof makeTempDir>>;
  beforeEach(async () => (dir = await makeTempDir()));
  afterEach(() => dir.cleanup());

  const refusal = (problem: RegExp) => (error: unknown) => error instanceof QueueFileError && error.code === "queue_file_unreadable" && problem.test(error.problem);

  it("a file that is not SQLite is refused as not a queue, not opened as one", async () => {
    const path = join(dir.path, "queue.sqlite");
    await writeFile(path, "plain text, not a database ".repeat(8));
    assert.throws(() => LocalQueue.open(path), refusal(/^file is not a database$/));
  });

  it("another program's SQLite database is refused rather than given the queue's tables", () => {
    const path = join(dir.path, "queue.sqlite");
    const { DatabaseSync } = loadSqlite();
    const other = new DatabaseSync(path);
    other.exec("CREATE TABLE notes (body TEXT)");
    other.close();
    assert.throws(() => LocalQueue.open(path), refusal(/another program|other tables/));
  });
});
