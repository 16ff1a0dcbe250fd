import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { hostname } from "node:os";
import { join } from "node:path";
import { QUEUE_FILE, main } from "../../functions/local/cli";
import { LocalQueue } from "../../functions/local/queue";
import { RUN_LOCK_FILE, tryLockDirectory } from "../../functions/local/runLock";
import { captureIO, makeTempDir, readDeadLetters, readResult, resultFiles, runCli, useDirAndPageServer } from "./support";

describe("local CLI: usage errors exit 2 and name the problem", () => {
  let dir: Awaited<ReturnType<typeof makeTempDir>>;
  const file = (name: string): string => join(dir.path, name);

  beforeEach(async () => {
    dir = await makeTempDir();
    await writeFile(file("urls.txt"), "https://example.com/\n");
  });
  afterEach(() => dir.cleanup());

  async function usage(argv: string[]): Promise<string> {
    const io = captureIO();
    const code = await main(argv, io);
    assert.equal(code, 2, `exit code for ${argv.join(" ")}; stderr: ${io.err()}`);
    assert.equal(io.out(), "", "nothing on stdout");
    return io.err();
  }

  it("a missing URLS_FILE names the path and the fix", async () => {
    const err = await usage(["--out", file("out"), file("nope.txt")]);
    assert.match(err, /URLS_FILE .*nope\.txt does not exist; pass a text file with one URL per line, or - to read them from stdin/);
  });

  it("an empty URLS_FILE, or one with only comments, says so", async () => {
    await writeFile(file("empty.txt"), "");
    assert.match(await usage(["--out", file("out"), file("empty.txt")]), /has no URLs \(it is empty\)/);
    await writeFile(file("comments.txt"), "# nothing yet\n\n");
    assert.match(await usage(["--out", file("out"), file("comments.txt")]), /has no URLs \(only blank lines and # comments\)/);
  });

  it("an unknown flag, a bad --concurrency and no URLS_FILE are refused before anything runs", async () => {
    const unknown = await usage(["--fast", file("urls.txt")]);
    assert.match(unknown, /unknown option --fast/);
    assert.equal(unknown.split("--help").length - 1, 1, `--help is pointed to once: ${unknown}`);
    assert.match(await usage(["--concurrency", "lots", file("urls.txt")]), /--concurrency must be an integer from 1 to 256 \(given "lots"\)/);
    assert.match(await usage([]), /missing URLS_FILE/);
  });

  it("a settings file with a bad key or value names the key, the value and the fix", async () => {
    await writeFile(file("settings.json"), JSON.stringify({ concurrency: 0, colour: "blue" }));
    const err = await usage(["--out", file("out"), "--config", file("settings.json"), file("urls.txt")]);
    assert.match(err, /`concurrency` must be an integer from 1 to 256 \(given 0\); set a value in range/);
    assert.match(err, /`colour` is not a runtime setting \(given "blue"\); remove it, or use one of: enabled, concurrency/);
  });

  it("a settings file that is missing or not JSON is refused", async () => {
    assert.match(await usage(["--config", file("missing.json"), file("urls.txt")]), /missing\.json cannot be used:\n.*does not exist/);
    await writeFile(file("broken.json"), "{ concurrency: 4 }");
    assert.match(await usage(["--config", file("broken.json"), file("urls.txt")]), /is not JSON/);
  });

  it("a directory another live run is using is refused with exit 1, naming that run", async () => {
    const out = file("busy");
    await mkdir(out);
    // This test process plays the live run: it holds the directory's lock and is recorded as the owner.
    const lock = tryLockDirectory(join(out, RUN_LOCK_FILE));
    assert.ok(lock);
    const other = LocalQueue.open(join(out, QUEUE_FILE));
    other.takeOwnership({ pid: process.ppid, host: hostname(), startedAt: Date.now() });
    other.close();
    try {
      const io = captureIO();
      assert.equal(await main(["--out", out, file("urls.txt")], io), 1);
      assert.match(io.err(), new RegExp(`another run \\(pid ${process.ppid} on .*, last heartbeat 0 s ago\\) is using .*busy; wait for it to finish, stop it, or pass a different --out\n`));
    } finally {
      lock.release();
    }
  });

  it("an owner recorded by a run that died is no obstacle, even when its PID is alive again (reused): the lock decides", async () => {
    const out = file("reused");
    await mkdir(out);
    const dead = LocalQueue.open(join(out, QUEUE_FILE));
    // The parent of this test process: alive, on this host, and not us; but it holds no lock.
    dead.takeOwnership({ pid: process.ppid, host: hostname(), startedAt: Date.now() });
    dead.close();
    await writeFile(file("no-urls.txt"), "not a url\n");
    const io = captureIO();
    assert.equal(await main(["--out", out, file("no-urls.txt")], io), 0, io.err());
    assert.match(io.err(), new RegExp(`the previous run \\(pid ${process.ppid}\\) did not finish`));
  });

  it("a queue file that is not a scrape-fleet queue is named, with the way out", async () => {
    const out = file("corrupt");
    await mkdir(out);
    await writeFile(join(out, QUEUE_FILE), "this was never an SQLite file, whatever its name says.".repeat(4));
    const io = captureIO();
    assert.equal(await main(["--out", out, file("urls.txt")], io), 1);
    assert.equal(io.err().trim(), `scrape-fleet: error: ${join(out, QUEUE_FILE)} is not a scrape-fleet queue (file is not a database); move it aside or delete it and run again (the results in ${join(out, "results")}/ are kept, and a run on a new queue does not fetch their URLs again), or pass another --out`);
  });

  it("relative paths are the user's: URLS_FILE, --out and --config resolve against the directory npm was run in", async () => {
    await writeFile(file("settings.json"), JSON.stringify({ perDomainDelayMs: 0 }));
    await writeFile(file("urls.txt"), "not a url\n");
    const io = captureIO("", dir.path);
    assert.equal(await main(["--out", "out", "--config", "settings.json", "urls.txt"], io), 0, io.err());
    assert.match(io.err(), /urls\.txt:1: "not a url" is not a URL/, "the list was read from the user's directory");
    assert.match(io.out(), /dead letters {2}out\/dead-letters\.jsonl/, "paths are shown as typed");
    assert.equal((await readDeadLetters(join(dir.path, "out"))).entries[0].rawLine, "not a url", "the output went to the user's directory");
  });

  it("the real process exits with code 2 on a usage error", async () => {
    const run = await runCli(["--concurrency", "-3", file("urls.txt")]);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /--concurrency/);
  });
});

describe("local CLI: a host that cannot be reached", () => {
  let dir: Awaited<ReturnType<typeof makeTempDir>>;
  beforeEach(async () => (dir = await makeTempDir()));
  afterEach(() => dir.cleanup());

  it("a closed port is recorded as connect_failed even though robots.txt was the first request to meet it", async () => {
    // A port that was just free: nothing listens on it.
    const server = createServer();
    await new Promise<void>((resolveListen) => server.listen(0, "127.0.0.1", () => resolveListen()));
    const { port } = server.address() as AddressInfo;
    await new Promise((resolveClose) => server.close(resolveClose));
    const url = `http://127.0.0.1:${port}/page`;
    await writeFile(join(dir.path, "urls.txt"), `${url}\n`);
    await writeFile(join(dir.path, "settings.json"), JSON.stringify({ perDomainDelayMs: 0, respectRobots: true }));
    const out = join(dir.path, "out");
    const io = captureIO();
    assert.equal(await main(["--out", out, "--config", join(dir.path, "settings.json"), "--max-attempts", "1", "--allow-private-networks", join(dir.path, "urls.txt")], io), 0, io.err());
    const [entry] = (await readDeadLetters(out)).entries;
    assert.equal(entry.url, url);
    assert.equal(entry.code, "connect_failed");
    assert.match(io.out(), /dead-lettered\s+1\s+connect_failed 1/);
  });
});

describe("local CLI: bad lines do not stop the run", () => {
  const fixture = useDirAndPageServer();

  it("a non-URL line becomes a dead letter with its line number, duplicates are queued once and reported, and the run exits 0", async () => {
    const urlsFile = join(fixture.dir.path, "urls.txt");
    const settings = join(fixture.dir.path, "settings.json");
    const out = join(fixture.dir.path, "out");
    await writeFile(settings, JSON.stringify({ perDomainDelayMs: 0 }));
    await writeFile(urlsFile, [`${fixture.server.url("/ok/1")}`, "# a comment", "", "www.example.com/no-scheme", fixture.server.url("/ok/2"), fixture.server.url("/ok/1"), `${fixture.server.url("/ok/2")}#again`].join("\n"));

    const run = await runCli(["--out", out, "--config", settings, "--allow-private-networks", urlsFile]);

    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /urls\.txt:4: "www\.example\.com\/no-scheme" is not an absolute URL; write it with its scheme such as https:\/\/www\.example\.com\/no-scheme/);
    assert.match(run.stderr, /2 duplicate line\(s\) in .*urls\.txt, each URL is queued once: line 6 \(same URL as line 1\), line 7 \(same URL as line 5\)/);
    assert.match(run.stderr, /warning: --allow-private-networks is on/);
    const { entries } = await readDeadLetters(out);
    assert.deepEqual(entries.map((entry) => [entry.rawLine, entry.line, entry.code]), [["www.example.com/no-scheme", 4, "url_invalid"]]);
    assert.equal((await resultFiles(out)).length, 2);
    assert.equal((await readResult(out, fixture.server.url("/ok/1")))?.status, "ok");
    assert.equal(fixture.server.hits("/ok/1"), 1, "a duplicate is fetched once");
    assert.match(run.stdout, /^scrape-fleet: all 2 URLs finished \(2 in /);
    assert.match(run.stdout, /dead-lettered\s+0\n/);
    assert.match(run.stdout, /not URLs\s+1\s+url_invalid 1 \(lines of the list, kept in the dead letters\)/);

    // Run again on the same list: the problems are counted, not listed again.
    const again = captureIO();
    assert.equal(await main(["--out", out, "--config", settings, "--allow-private-networks", urlsFile], again), 0, again.err());
    assert.doesNotMatch(again.err(), /no-scheme|same URL as line/);
    assert.match(again.err(), /urls\.txt still has 1 line\(s\) that are not URLs \(in .*dead-letters\.jsonl\) and 2 duplicate line\(s\), reported when it was first read/);
  });

  it("URLs can come from stdin with -", async () => {
    const out = join(fixture.dir.path, "out");
    const settings = join(fixture.dir.path, "settings.json");
    await writeFile(settings, JSON.stringify({ perDomainDelayMs: 0 }));
    const io = captureIO(`${fixture.server.url("/ok/a")}\n${fixture.server.url("/missing/b")}\n`);
    const code = await main(["--out", out, "--config", settings, "--allow-private-networks", "-"], io);
    assert.equal(code, 0, io.err());
    assert.match(io.err(), /2 URL\(s\) queued from stdin/);
    assert.equal((await readResult(out, fixture.server.url("/ok/a")))?.status, "ok");
    assert.equal((await readResult(out, fixture.server.url("/missing/b")))?.code, "http_4xx");

    const rerun = captureIO(`${fixture.server.url("/ok/a")}\n${fixture.server.url("/missing/b")}\n`);
    assert.equal(await main(["--out", out, "--config", settings, "--allow-private-networks", "-"], rerun), 0, rerun.err());
    assert.match(rerun.out(), new RegExp(`^scrape-fleet: nothing to do: all 2 were finished by earlier runs \\(delete ${out.replace(/[/\\.]/g, "\\$&")} to start over\\)\n`));
    assert.doesNotMatch(rerun.out(), /pages\/s|this run/);
    assert.equal(fixture.server.requests.length, 2, "nothing was fetched again");
  });

  it("a page refused by the SSRF guard is recorded, and the summary says how to allow local addresses for testing", async () => {
    const out = join(fixture.dir.path, "out");
    const io = captureIO(`${fixture.server.url("/ok/a")}\n`);
    assert.equal(await main(["--out", out, "-"], io), 0, io.err());
    assert.equal((await readResult(out, fixture.server.url("/ok/a")))?.code, "ssrf_refused");
    assert.deepEqual(fixture.server.requests, [], "nothing reached the loopback server");
    const hint = "ssrf_refused: loopback and private addresses are refused; for local testing pass --allow-private-networks";
    assert.equal(io.out().split(hint).length - 1, 1, io.out());
  });
});
