import assert from "node:assert/strict";
import { readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { rawHtmlKey, resultKey } from "../../shared/result";
import { DEFAULT_SETTINGS } from "../../shared/settings";
import { claimTimings, retryDelayMs } from "../../functions/local/fleet";
import { ProgressDisplay, formatBytes, formatDuration, formatSummary, renderBar, renderLine, type ProgressState } from "../../functions/local/progress";
import type { QueueCounts } from "../../functions/local/queue";
import { FileResultStore } from "../../functions/local/resultStore";
import { makeTempDir } from "./support";

const counts = (fields: Partial<QueueCounts>): QueueCounts => ({ total: 0, waiting: 0, inFlight: 0, retrying: 0, ok: 0, failed: 0, dead: 0, notUrls: 0, ...fields });

describe("local result store", () => {
  let dir: Awaited<ReturnType<typeof makeTempDir>>;
  beforeEach(async () => (dir = await makeTempDir()));
  afterEach(() => dir.cleanup());

  it("a result key lands at DIR/results/<sha256>.json and raw HTML at DIR/raw/<sha256>.html.gz", async () => {
    const store = new FileResultStore(dir.path);
    const url = "https://example.com/a";
    await store.put({ key: resultKey(url), body: '{"n":1}', contentType: "application/json" });
    await store.put({ key: rawHtmlKey(url), body: new Uint8Array([1, 2, 3]), contentType: "text/html", contentEncoding: "gzip" });
    assert.equal(await readFile(join(dir.path, resultKey(url)), "utf8"), '{"n":1}');
    assert.deepEqual([...(await readFile(join(dir.path, rawHtmlKey(url))))], [1, 2, 3]);
  });

  it("a second put of the same key replaces the record and leaves no temporary file", async () => {
    const store = new FileResultStore(dir.path);
    const key = resultKey("https://example.com/a");
    await store.put({ key, body: "first", contentType: "application/json" });
    await store.put({ key, body: "second", contentType: "application/json" });
    assert.equal(await readFile(join(dir.path, key), "utf8"), "second");
    assert.deepEqual(await readdir(join(dir.path, "results")), [key.slice("results/".length)]);
  });

  it("a key outside results/ and raw/, or one that climbs out, is refused", async () => {
    const store = new FileResultStore(dir.path);
    for (const key of ["../escape.json", "results/../../escape.json", "/etc/passwd", "queue.sqlite"]) {
      await assert.rejects(store.put({ key, body: "x", contentType: "text/plain" }), /is not under results\/ or raw\//, key);
    }
  });

  it("temporary files a killed run left are swept at start", async () => {
    const store = new FileResultStore(dir.path);
    await store.put({ key: resultKey("https://example.com/a"), body: "{}", contentType: "application/json" });
    await writeFile(join(dir.path, "results", ".abc.json.123.ff.partial"), "{\"torn");
    assert.equal(await store.sweep(), 1);
    assert.equal((await readdir(join(dir.path, "results"))).length, 1);
  });
});

describe("local retry policy", () => {
  it("a server's Retry-After is honoured as given (capped at 15 minutes)", () => {
    assert.equal(retryDelayMs(1, 0), 0);
    assert.equal(retryDelayMs(3, 7_000), 7_000);
    assert.equal(retryDelayMs(1, 86_400_000), 900_000);
  });

  it("without Retry-After the delay doubles per attempt, with jitter in the upper half, up to the cap", () => {
    const backoff = { first: 1_000, factor: 2, max: 60_000 };
    assert.equal(retryDelayMs(1, undefined, backoff, () => 0), 500);
    assert.equal(retryDelayMs(1, undefined, backoff, () => 1), 1_000);
    assert.equal(retryDelayMs(3, undefined, backoff, () => 1), 4_000);
    assert.equal(retryDelayMs(20, undefined, backoff, () => 1), 60_000);
  });

  it("the worker's deadline falls inside the claim's visibility timeout", () => {
    const { visibilityMs, deadlineAt } = claimTimings(DEFAULT_SETTINGS, 1_000);
    assert.ok(deadlineAt - 1_000 < visibilityMs);
    assert.ok(deadlineAt - 1_000 >= DEFAULT_SETTINGS.pageDeadlineMs);
  });
});

describe("local progress display", () => {
  const state = (fields: Partial<ProgressState>): ProgressState => ({
    counts: counts({ total: 40, ok: 15, failed: 3, dead: 2, retrying: 4, inFlight: 8, waiting: 8 }),
    finishedAtStart: 0,
    startedAt: 0,
    now: 10_000,
    paused: false,
    stopping: false,
    ...fields,
  });

  it("shows done/total, the counts by outcome, pages per second and the ETA", () => {
    assert.equal(renderLine(state({})), "progress: 20/40 (50%)  ok 15 · failed 3 · retrying 4 · dead 2 · in flight 8  2.0 pages/s  ETA 0:10");
    assert.match(renderBar(state({})), /^█{10}░{10} 20\/40/);
  });

  it("the rate and ETA come from the last 30 s, and a stall says how long nothing has finished instead of a stale ETA", () => {
    const lines: string[] = [];
    let now = 0;
    let finished = 0;
    const display = new ProgressDisplay({ stream: { write: (text: string) => lines.push(text) } });
    display.start(() => state({ counts: counts({ total: 100, ok: finished, inFlight: 1, waiting: 99 - finished }), now }));
    // 60 pages in the first 60 s (1 page/s), then 30 pages in 6 s.
    for (; now < 60_000; now += 5_000, finished += 5) display.draw();
    for (let step = 0; step < 6; step += 1, now += 1_000, finished += 5) display.draw();
    display.draw();
    assert.match(lines.at(-1) ?? "", /ok 90 .*  (\d+\.\d) pages\/s  ETA 0:(0\d)/);
    const [, rate, eta] = /(\d+\.\d) pages\/s  ETA 0:(\d\d)/.exec(lines.at(-1) ?? "") ?? [];
    assert.ok(Number(rate) > 1.5, `the recent rate (${rate}/s) shows the speed-up that a run-long average (1.4/s) hides`);
    assert.ok(Number(eta) < 7, `ETA ${eta} s for the last 10 pages`);

    // The last pages stall: the ETA stops promising seconds and says how long it has been.
    for (let step = 0; step < 12; step += 1) {
      now += 5_000;
      display.draw();
    }
    assert.match(lines.at(-1) ?? "", /ETA – \(nothing finished for 1:00\)/);
    assert.ok(lines.slice(-11).every((line) => !/ETA 0:0\d/.test(line)), "no stale short ETA while nothing finishes");
    display.stop();
  });

  it("counts only this run's pages in the rate, and says when paused or stopping", () => {
    const line = renderLine(state({ finishedAtStart: 10, paused: true, stopping: true }));
    assert.match(line, /1\.0 pages\/s  ETA 0:20/);
    assert.match(line, /PAUSED \(the settings say enabled: false\)/);
    assert.match(line, /stopping: finishing 8 page\(s\) in flight/);
  });

  it("a bar never overflows the terminal width, and a terminal that reports no width gets a readable bar", () => {
    assert.ok(renderBar(state({ paused: true }), 60).length <= 60);
    assert.match(renderBar(state({}), 0), /20\/40 \(50%\)  ok 15/);
  });

  it("redraws in place on a terminal and writes plain lines elsewhere", () => {
    const written: string[] = [];
    const tty = new ProgressDisplay({ stream: { write: (text: string) => written.push(text), isTTY: true, columns: 200 } });
    tty.start(() => state({}));
    tty.log("a note");
    tty.stop();
    assert.ok(written[0].startsWith("\r\x1b[2K█"), "the bar is drawn over the current line");
    assert.ok(written.includes("a note\n"));
    assert.equal(written[written.length - 1], "\n");

    const lines: string[] = [];
    const plain = new ProgressDisplay({ stream: { write: (text: string) => lines.push(text) } });
    plain.start(() => state({}));
    plain.draw();
    plain.stop();
    assert.deepEqual(lines, ["progress: 20/40 (50%)  ok 15 · failed 3 · retrying 4 · dead 2 · in flight 8  2.0 pages/s  ETA 0:10\n"]);
  });

  it("durations read as m:ss or h:mm:ss, sizes as B, KB or MB", () => {
    assert.deepEqual([formatDuration(7_000), formatDuration(750_000), formatDuration(3_723_000)], ["0:07", "12:30", "1:02:03"]);
    assert.deepEqual([formatBytes(812), formatBytes(14_540), formatBytes(3_250_000)], ["812 B", "14.2 KB", "3.1 MB"]);
  });

  it("the summary gives ok / failed / dead-lettered with codes, the rate and where the results are", () => {
    const text = formatSummary({
      counts: counts({ total: 40, ok: 33, failed: 5, dead: 2 }),
      failureCodes: [
        { state: "failed", code: "http_4xx", count: 5 },
        { state: "dead", code: "http_5xx", count: 2 },
      ],
      finishedAtStart: 0,
      finishedByEarlierRuns: 0,
      elapsedMs: 4_000,
      outDir: ".fleet",
      resultsDir: ".fleet/results/",
      deadLettersFile: ".fleet/dead-letters.jsonl",
      complete: true,
      traffic: { outcomes: { ok: 33, failed: 5, retry: 10, malformed: 0 }, codes: { http_5xx: 10 }, bytesOnWire: 2 * 1_048_576, fetchMs: 38 * 20 },
    });
    assert.match(text, /^scrape-fleet: all 40 URLs finished \(40 in 4\.0 s this run, 10\.0 pages\/s\)/);
    assert.match(text, /failed\s+5\s+http_4xx 5/);
    assert.match(text, /dead-lettered\s+2\s+http_5xx 2/);
    assert.match(text, /results\s+\.fleet\/results\//);
    assert.match(text, /this run\s+48 answers \(10 to retry\), 2\.0 MB on the wire, mean fetch 20 ms/);
  });

  describe("summary headline", () => {
    const summary = (fields: Partial<Parameters<typeof formatSummary>[0]>): string =>
      formatSummary({
        counts: counts({ total: 6, ok: 6 }),
        failureCodes: [],
        finishedAtStart: 0,
        finishedByEarlierRuns: 0,
        elapsedMs: 2_000,
        outDir: ".fleet",
        resultsDir: ".fleet/results/",
        deadLettersFile: ".fleet/dead-letters.jsonl",
        complete: true,
        ...fields,
      });

    it("counts URLs, and lines that are not URLs in a row of their own", () => {
      const text = summary({ counts: counts({ total: 6, ok: 5, dead: 1, notUrls: 3 }), failureCodes: [{ state: "dead", code: "http_5xx", count: 1 }, { state: "not-url", code: "url_invalid", count: 3 }] });
      assert.match(text, /^scrape-fleet: all 6 URLs finished \(6 in 2\.0 s this run, 3\.0 pages\/s\)\n/);
      assert.match(text, /dead-lettered\s+1\s+http_5xx 1\n/);
      assert.match(text, /not URLs\s+3\s+url_invalid 3 \(lines of the list, kept in the dead letters\)/);
    });

    it("a rerun with nothing left says so instead of a rate of nothing", () => {
      const text = summary({ counts: counts({ total: 12, ok: 12 }), finishedAtStart: 12, finishedByEarlierRuns: 12, traffic: { outcomes: { ok: 0, failed: 0, retry: 0, malformed: 0 }, codes: {}, bytesOnWire: 0, fetchMs: 0 } });
      assert.match(text, /^scrape-fleet: nothing to do: all 12 were finished by earlier runs \(delete \.fleet to start over\)\n/);
      assert.doesNotMatch(text, /pages\/s|this run/);
    });

    it("a list without one URL says there was nothing to fetch", () => {
      assert.match(summary({ counts: counts({ notUrls: 1 }) }), /^scrape-fleet: nothing to fetch: the one line of the list is not a URL\n/);
      assert.match(summary({ counts: counts({ notUrls: 4 }) }), /^scrape-fleet: nothing to fetch: none of the 4 lines of the list is a URL\n/);
    });

    it("a stopped run counts only URLs as left to resume", () => {
      const text = summary({ counts: counts({ total: 10, ok: 4, waiting: 6, notUrls: 2 }), complete: false });
      assert.match(text, /^scrape-fleet: stopped with 4 of 10 URLs finished \(4 in 2\.0 s this run, 2\.0 pages\/s\); run the same command again to resume the other 6\n/);
      assert.match(text, /not finished\s+6\n/);
    });

    it("an ssrf_refused result adds one line on allowing local addresses, unless they were already allowed", () => {
      const refused = [{ state: "failed" as const, code: "ssrf_refused", count: 2 }];
      const hint = "ssrf_refused: loopback and private addresses are refused; for local testing pass --allow-private-networks";
      assert.ok(summary({ counts: counts({ total: 2, failed: 2 }), failureCodes: refused }).endsWith(`\n${hint}`));
      assert.ok(!summary({ counts: counts({ total: 2, failed: 2 }), failureCodes: refused, privateNetworksAllowed: true }).includes(hint));
      assert.ok(!summary({}).includes(hint));
    });
  });
});
