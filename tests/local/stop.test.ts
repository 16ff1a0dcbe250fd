import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { main } from "../../functions/local/cli";
import { captureIO, resultFiles, useDirAndPageServer, waitFor } from "./support";

describe("local fleet stopped with Ctrl-C", () => {
  const fixture = useDirAndPageServer({ slowMs: 100 });

  it("SIGINT finishes the pages in flight, exits 130 with a resumable summary, and the next run finishes the rest", async () => {
    const urls = Array.from({ length: 15 }, (_, index) => fixture.server.url(`/slow/${index}`));
    const urlsFile = join(fixture.dir.path, "urls.txt");
    const settingsFile = join(fixture.dir.path, "settings.json");
    const out = join(fixture.dir.path, "out");
    await writeFile(urlsFile, urls.join("\n"));
    await writeFile(settingsFile, JSON.stringify({ perDomainDelayMs: 0, respectRobots: false }));
    const argv = ["--out", out, "--config", settingsFile, "--concurrency", "3", "--allow-private-networks", urlsFile];

    const io = captureIO();
    const running = main(argv, io);
    await waitFor(async () => (await resultFiles(out)).length >= 4, 5_000, "the first results");
    io.raise("SIGINT");
    const requestsAtSignal = fixture.server.requests.length;
    assert.equal(await running, 130);
    assert.match(io.err(), /SIGINT: finishing the \d page\(s\) being fetched, then stopping; pages not yet started go back to the queue/);
    assert.match(io.out(), /stopped with \d+ of 15 URLs finished .* run the same command again to resume the other \d+/);
    const afterFirst = (await resultFiles(out)).length;
    assert.equal(afterFirst, fixture.server.requests.length, "every page that had started was finished and recorded");
    assert.ok(afterFirst <= requestsAtSignal + 3, "no page was started after the signal beyond the 3 already claimed");
    assert.ok(afterFirst < urls.length);

    const again = captureIO();
    assert.equal(await main(argv, again), 0, again.err());
    assert.doesNotMatch(again.err(), /did not finish/, "a clean stop leaves no claims behind");
    assert.equal((await resultFiles(out)).length, urls.length);
    assert.equal(fixture.server.requests.length, urls.length, "no page was fetched twice");
  });

});

describe("local fleet stopped with Ctrl-C while its last pages are being fetched", () => {
  // Slow enough that the signal surely arrives while the pages are still being fetched.
  const fixture = useDirAndPageServer({ slowMs: 400 });

  it("a stop after the last page has started, with every page then finishing, is a complete run: exit 0", async () => {
    const urls = Array.from({ length: 3 }, (_, index) => fixture.server.url(`/slow/${index}`));
    const urlsFile = join(fixture.dir.path, "urls.txt");
    const settingsFile = join(fixture.dir.path, "settings.json");
    await writeFile(urlsFile, urls.join("\n"));
    await writeFile(settingsFile, JSON.stringify({ perDomainDelayMs: 0, respectRobots: false }));

    const io = captureIO();
    const running = main(["--out", join(fixture.dir.path, "out"), "--config", settingsFile, "--allow-private-networks", urlsFile], io);
    await waitFor(() => fixture.server.requests.length === 3, 5_000, "all three pages to be requested");
    io.raise("SIGINT");
    assert.equal(await running, 0, io.err());
    assert.match(io.err(), /SIGINT: finishing the 3 page\(s\) being fetched/, "the signal came while the pages were being fetched");
    assert.match(io.out(), /^scrape-fleet: all 3 URLs finished/);
    assert.doesNotMatch(io.out(), /stopped with|not finished/);
  });
});
