/**
 * The output directory's storage failing under the fleet: a read-only --out,
 * a disk that fills up mid-run, a damaged or truncated queue file. Each is
 * reported with the path, the cause and the fix, and nothing stored is lost.
 * The full disk and the read-only directory are real tmpfs mounts (root only).
 */
import assert from "node:assert/strict";
import { mkdir, open, rename, rm, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { QUEUE_FILE, main } from "../../functions/local/cli";
import { captureIO, mountTmpfs, readResult, resultFiles, useDirAndPageServer } from "./support";

describe("local fleet storage failures", () => {
  const fixture = useDirAndPageServer();

  async function setUp(paths: readonly string[]): Promise<{ urlsFile: string; settingsFile: string; urls: string[] }> {
    const urls = paths.map((path) => fixture.server.url(path));
    const urlsFile = join(fixture.dir.path, "urls.txt");
    const settingsFile = join(fixture.dir.path, "settings.json");
    await writeFile(urlsFile, urls.join("\n"));
    await writeFile(settingsFile, JSON.stringify({ perDomainDelayMs: 0, respectRobots: false }));
    return { urlsFile, settingsFile, urls };
  }

  it("a read-only --out is a usage error (exit 2) naming the directory and the fix, not SQLite's 'unable to open database file' alone", async function () {
    const out = join(fixture.dir.path, "ro");
    await mkdir(out);
    const mount = mountTmpfs(out, { sizeKb: 64, readOnly: true });
    if (!mount) this.skip();
    try {
      const { urlsFile } = await setUp(["/ok/1"]);
      const io = captureIO();
      assert.equal(await main(["--out", out, "--allow-private-networks", urlsFile], io), 2, io.err());
      assert.match(io.err(), new RegExp(`error: --out ${out} cannot be written \\(.+\\); pass a directory you can write to, or make this one writable`));
      assert.equal(fixture.server.requests.length, 0, "nothing was fetched");
    } finally {
      mount.unmount();
    }
  });

  it("a disk that fills up mid-run stops the run with the cause and the fix; after freeing space the same command finishes, and no recorded page is lost", async function () {
    const out = join(fixture.dir.path, "small");
    await mkdir(out);
    const mount = mountTmpfs(out, { sizeKb: 8_192 });
    if (!mount) this.skip();
    try {
      const { urlsFile, settingsFile, urls } = await setUp(Array.from({ length: 150 }, (_, index) => `/ok/${index}`));
      // Leave about 290 KB: room for the queue and some results, not for all of them (the WAL alone grows to 4 MB between checkpoints).
      const filler = join(out, "filler");
      const handle = await open(filler, "w");
      await handle.write(Buffer.alloc(7_900 * 1_024));
      await handle.close();
      const argv = ["--out", out, "--config", settingsFile, "--concurrency", "4", "--allow-private-networks", urlsFile];

      const full = captureIO();
      assert.equal(await main(argv, full), 1, full.err());
      assert.match(full.err(), new RegExp(`error: the disk holding ${out} is full \\(database or disk is full\\); free some space and run the same command again: every page recorded so far is kept`));
      assert.doesNotMatch(full.err(), /cannot rollback/);
      const recordedBefore = (await resultFiles(out)).length;
      assert.ok(recordedBefore < urls.length, `the disk filled before the end (${recordedBefore} results)`);

      await rm(filler);
      const resumed = captureIO();
      assert.equal(await main(argv, resumed), 0, resumed.err());
      assert.match(resumed.out(), /all 150 URLs finished/);
      for (const url of urls) assert.equal((await readResult(out, url))?.status, "ok", `${url} has its result`);
      const fetched = urls.reduce((sum, url) => sum + fixture.server.hits(new URL(url).pathname), 0);
      assert.ok(fetched <= urls.length + 8, `${fetched} fetches for ${urls.length} pages: only the pages in flight when the disk filled were fetched again`);
    } finally {
      mount.unmount();
    }
  });

  it("a queue file truncated to 0 bytes is said to be so; URLs with a result are kept and not fetched again, the rest are fetched", async () => {
    const { urlsFile, settingsFile, urls } = await setUp(["/ok/1", "/ok/2", "/missing/3"]);
    const out = join(fixture.dir.path, "out");
    const argv = ["--out", out, "--config", settingsFile, "--allow-private-networks", urlsFile];
    assert.equal(await main(argv, captureIO()), 0);
    const firstResult = await readResult(out, urls[0]);

    await truncate(join(out, QUEUE_FILE), 0);
    await writeFile(urlsFile, [...urls, fixture.server.url("/ok/4")].join("\n"));
    const io = captureIO();
    assert.equal(await main(argv, io), 0, io.err());
    assert.match(io.err(), new RegExp(`${join(out, QUEUE_FILE)} was empty \\(0 bytes: truncated\\), so what earlier runs did is known only from their results: 3 URL\\(s\\) of the list already have a result in .*results/ and are kept, not fetched again; the other 1 are queued`));
    assert.deepEqual(fixture.server.requests, ["/ok/1", "/ok/2", "/missing/3", "/ok/4"], "only the new URL was fetched");
    assert.deepEqual(await readResult(out, urls[0]), firstResult, "the earlier result is untouched");
    assert.equal((await resultFiles(out)).length, 4);
    assert.match(io.out(), /ok\s+3/);
    assert.match(io.out(), /failed\s+1\s+http_4xx 1/);
  });

  it("a damaged queue file is named with the cause and the fix, and the results are kept", async () => {
    const { urlsFile, settingsFile } = await setUp(["/ok/1"]);
    const out = join(fixture.dir.path, "out");
    const argv = ["--out", out, "--config", settingsFile, "--allow-private-networks", urlsFile];
    assert.equal(await main(argv, captureIO()), 0);
    // Keep SQLite's header, overwrite the pages after it.
    const handle = await open(join(out, QUEUE_FILE), "r+");
    await handle.write(Buffer.alloc(8_192, 0x5a), 0, 8_192, 4_096);
    await handle.close();
    const io = captureIO();
    assert.equal(await main(argv, io), 1);
    assert.match(io.err(), /queue\.sqlite (is damaged|is not a scrape-fleet queue) \(database disk image is malformed\); move it aside or delete it and run again \(the results in .*results\/ are kept/);
    assert.equal((await resultFiles(out)).length, 1);

    // The fix the message gives: move the queue aside and run again.
    await rename(join(out, QUEUE_FILE), join(out, "queue.damaged"));
    const again = captureIO();
    assert.equal(await main(argv, again), 0, again.err());
    assert.match(again.err(), /queue\.sqlite was missing, so what earlier runs did is known only from their results: 1 URL\(s\) of the list already have a result .* \(to fetch everything again, delete .* or pass another --out\)/);
    assert.equal(fixture.server.hits("/ok/1"), 1, "the page with a result was not fetched again");
  });
});

