/**
 * The load test of a running fleet (`loadtest --local DIR | --stack NAME
 * --target URL --count N`), on a local fleet: the real `npm start` code drains
 * the real SQLite queue the command fills, against a loopback site, while the
 * command watches. The cloud backends run the same watch against their
 * recorded fakes in aws.test.ts, gcp.test.ts and azure.test.ts.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main as runLocalFleet } from "../../functions/local/cli";
import { main } from "../../ops/cli";
import { OPS_EXIT_CODES } from "../../ops/command";
import { deployedLoadTestChartSpec, drained, type DeployedLoadTestReport, type LoadTestSample } from "../../ops/loadtest/deployed";
import { captureIO } from "../local/support";
import { captureIo, until } from "./support";

describe("loadtest of a running fleet", function () {
  this.timeout(30_000);
  let dir: string;
  let server: Server;
  let origin: string;
  /** The `loadtest` parameter of every page request the site answered. */
  let loadtestRequests: string[];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "loadtest-fleet-"));
    server = createServer((request, response) => {
      const url = new URL(request.url ?? "/", "http://site");
      if (url.pathname === "/robots.txt") return void response.writeHead(404).end();
      const tag = url.searchParams.get("loadtest");
      if (tag !== null) loadtestRequests.push(tag);
      response.writeHead(200, { "content-type": "text/html" }).end(`<title>${tag ?? "plain"}</title>`);
    });
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  beforeEach(() => {
    loadtestRequests = [];
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((done) => server.close(() => done()));
    await rm(dir, { recursive: true, force: true });
  });

  const command = (args: readonly string[]) => {
    const io = captureIo({ cwd: dir });
    return { io, done: main(["loadtest", ...args], io) };
  };

  it("refuses to start without --target or --count, never picking a target itself, and checks the target is an http(s) URL", async () => {
    const noTarget = command(["--stack", "aws-prod", "--count", "100"]);
    assert.equal(await noTarget.done, OPS_EXIT_CODES.usage);
    assert.match(noTarget.io.err(), /--stack aws-prod needs --target URL, .*there is no default target.* --target https:\/\//);
    const noCount = command(["--local", "fleet", "--target", `${origin}/`]);
    assert.equal(await noCount.done, OPS_EXIT_CODES.usage);
    assert.match(noCount.io.err(), /--local fleet needs --count N, .* such as --count 1000/);
    // The workers' own URL check decides, so the load test never sends what every worker would refuse unfetched.
    for (const [fleetFlags, target, problem] of [
      [["--local", "fleet"], "ftp://files.example/x", /^loadtest: --target "ftp:\/\/files.example\/x" would not be fetched: .*has scheme "ftp:"; only http: and https: URLs are fetched/],
      [["--local", "fleet"], "/relative/page", /--target "\/relative\/page" would not be fetched: .*is not an absolute URL/],
      [["--local", "fleet"], "https://user:secret@site.example/", /carries user credentials/],
      [["--outputs", "outputs.json"], "http://10.0.0.5/page", /--target "http:\/\/10.0.0.5\/page" would not be fetched: .*a deployed fleet never fetches private addresses, so load a public host you own/],
      [["--stack", "aws-prod"], "http://[::1]:8080/", /a deployed fleet never fetches private addresses/],
    ] as const) {
      const bad = command([...fleetFlags, "--target", target, "--count", "5"]);
      assert.equal(await bad.done, OPS_EXIT_CODES.usage, target);
      assert.match(bad.io.err(), problem);
    }
    const mixed = command(["--local", "fleet", "--target", `${origin}/`, "--count", "5", "--levels", "1,4"]);
    assert.equal(await mixed.done, OPS_EXIT_CODES.usage);
    assert.match(mixed.io.err(), /--levels belong to the local load test on a loopback site/);
    const noFleet = command(["--target", `${origin}/`, "--count", "5"]);
    assert.equal(await noFleet.done, OPS_EXIT_CODES.usage);
    assert.match(noFleet.io.err(), /--target, --count go with the fleet to load: add --stack NAME, --outputs FILE or --local DIR/);
    assert.deepEqual(loadtestRequests, [], "nothing was fetched");
  });

  it("sends --count distinct URLs through the local queue, watches the real local fleet drain them, and stops when drained", async () => {
    const count = 60;
    await writeFile(join(dir, "settings.json"), JSON.stringify({ perDomainDelayMs: 0, concurrency: 16 }));
    // The local run needs a list of its own; its one plain page is queued beside the load test's.
    await writeFile(join(dir, "one.txt"), `${origin}/page\n`);
    const run = command(["--local", "fleet", "--config", "settings.json", "--target", `${origin}/page?lang=en`, "--count", String(count), "--interval", "0.2", "--timeout", "60", "--json", "--chart", "run.svg"]);
    await until(() => /loadtest: 0 s: backlog/.test(run.io.err()), 10_000, "the first reading after the send");

    const fleetIo = captureIO("", dir);
    assert.equal(await runLocalFleet(["--out", "fleet", "--config", "settings.json", "--allow-private-networks", "one.txt"], fleetIo), 0, fleetIo.err());
    const fleetEndedAt = Date.now();
    assert.equal(await run.done, OPS_EXIT_CODES.ok, run.io.err());
    assert.ok(Date.now() - fleetEndedAt < 3_000, "the watch stops within a reading or two of the drain");

    const report = JSON.parse(run.io.out()) as DeployedLoadTestReport;
    assert.deepEqual([report.sent, report.failed, report.end, report.deadLettersAdded], [count, 0, "drained", 0]);
    assert.match(report.run, /^lt-[0-9a-z]+-[0-9a-f]{6}$/);
    // Every message was its own page: the site saw each of the run's numbers once.
    assert.deepEqual([...loadtestRequests].sort(), Array.from({ length: count }, (_, n) => `${report.run}-${n + 1}`).sort());

    const first = report.series[0] as LoadTestSample;
    const last = report.series.at(-1) as LoadTestSample;
    assert.ok(report.series.length >= 2, JSON.stringify(report.series));
    assert.ok(first.backlog + (first.inFlight ?? 0) >= count, "the first reading holds the load");
    assert.deepEqual([last.backlog, last.inFlight], [0, 0]);
    assert.ok((last.outcomes?.ok ?? 0) >= count + 1, JSON.stringify(last.outcomes));
    assert.equal(last.outcomeShares?.ok, 1);
    assert.ok((last.pagesPerMinute ?? 0) > 0);
    assert.equal(first.drainedPerMinute, undefined, "no rate before a second reading");
    assert.ok(report.series.some((sample) => (sample.drainedPerMinute ?? 0) > 0), "the drain shows as throughput between readings");
    for (let i = 1; i < report.series.length; i += 1) assert.ok((report.series[i] as LoadTestSample).seconds >= (report.series[i - 1] as LoadTestSample).seconds, "readings in time order");

    // The records carry the run, so a load test's results can be told apart from the fleet's other work.
    const exportIo = captureIo({ cwd: dir });
    assert.equal(await main(["results", "export", "--local", "fleet"], exportIo), 0, exportIo.err());
    const records = exportIo.out().trim().split("\n").map((line) => JSON.parse(line) as { id?: string; metadata?: Record<string, unknown> });
    const ofRun = records.filter((record) => record.metadata?.loadtest === report.run);
    assert.equal(new Set(ofRun.map((record) => record.id)).size, count);

    // The chart holds the series: its spec carries every reading, and the SVG every panel.
    const spec = deployedLoadTestChartSpec(report) as { data: { values: { series: string; seconds: number; value: number }[] } };
    assert.deepEqual(
      spec.data.values.filter((row) => row.series === "backlog").map((row) => [row.seconds, row.value]),
      report.series.map((sample) => [sample.seconds, sample.backlog]),
    );
    assert.equal(spec.data.values.filter((row) => row.series === "ok").at(-1)?.value, 100);
    const svg = await readFile(join(dir, "run.svg"), "utf8");
    for (const label of ["messages waiting / in flight", "pages per minute", "outcome share %", "backlog", "in flight", "seconds since the first send"]) assert.ok(svg.includes(label), label);
  });

  it("stops at --timeout when nothing drains the queue: exit 1, the readings kept, the messages left queued", async () => {
    const run = command(["--local", "idle", "--target", `${origin}/idle`, "--count", "5", "--interval", "0.2", "--timeout", "1", "--json"]);
    assert.equal(await run.done, OPS_EXIT_CODES.failed);
    const report = JSON.parse(run.io.out()) as DeployedLoadTestReport;
    assert.equal(report.end, "timeout");
    assert.ok(report.series.length >= 3 && report.series.every((sample) => sample.backlog === 5), JSON.stringify(report.series));
    assert.match(run.io.err(), /had not drained when --timeout 1 s ended the watch \(backlog 5, in flight 0\); the messages stay queued/);
  });

  it("Ctrl-C stops the watch: exit 130 with what was read so far", async () => {
    const run = command(["--local", "stopped", "--target", `${origin}/stopped`, "--count", "3", "--interval", "0.2"]);
    await until(() => /loadtest: 0 s: backlog 3/.test(run.io.err()), 10_000, "the first reading");
    run.io.controller.abort();
    assert.equal(await run.done, OPS_EXIT_CODES.interrupted);
    assert.match(run.io.out(), /watch stopped by Ctrl-C/);
    assert.match(run.io.out(), /seconds\s+backlog\s+in flight\s+dead letters\s+drained\/min\s+pages\/min/);
  });

  it("refuses a paused fleet before sending anything: nothing would drain", async () => {
    const pauseIo = captureIo({ cwd: dir, stdin: `${origin}/first\n` });
    assert.equal(await main(["enqueue", "-", "--local", "paused"], pauseIo), OPS_EXIT_CODES.ok, pauseIo.err());
    assert.equal(await main(["pause", "--local", "paused"], pauseIo), OPS_EXIT_CODES.ok, pauseIo.err());
    const run = command(["--local", "paused", "--target", `${origin}/paused`, "--count", "5", "--interval", "0.2"]);
    assert.equal(await run.done, OPS_EXIT_CODES.usage);
    assert.match(run.io.err(), /is paused \(.*\); nothing would drain\. Run `npm run fleet -- resume` with the same target first/);
    const statusIo = captureIo({ cwd: dir });
    assert.equal(await main(["status", "--local", "paused", "--json"], statusIo), OPS_EXIT_CODES.ok);
    assert.equal((JSON.parse(statusIo.out()) as { backlog: number }).backlog, 1, "no load-test message was queued");
  });

  it("counts a queue as drained only once work was seen in it, or the window's finished pages cover what was sent", () => {
    const empty: LoadTestSample = { seconds: 5, time: "", backlog: 0, inFlight: 0, deadLetters: 0, outcomes: { ok: 3 } };
    // Cloud Monitoring can still show the empty queue from before the send.
    assert.equal(drained(empty, false, 10, true), false);
    assert.equal(drained(empty, true, 10, true), true);
    assert.equal(drained({ ...empty, outcomes: { ok: 8, failed: 2 } }, false, 10, true), true);
    assert.equal(drained({ ...empty, outcomes: { ok: 8, failed: 2 } }, false, 10, false), false, "a window shorter than the run may count older pages");
    assert.equal(drained({ ...empty, inFlight: 1 }, true, 10, true), false);
  });
});
