import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { normalizeUrl } from "../../shared/result";
import type { SettingKey } from "../../shared/settings";
import { createWorker } from "../../shared/worker";
import { runFleet } from "../../functions/local/fleet";
import { LocalQueue } from "../../functions/local/queue";
import { FileResultStore } from "../../functions/local/resultStore";
import { watchSettingsFile } from "../../functions/local/settingsSource";
import { readResult, resultFiles, spawnCli, useDirAndPageServer, waitFor } from "./support";

describe("local settings file is re-read while the fleet runs", () => {
  const fixture = useDirAndPageServer({ slowMs: 100 });
  const settingsPath = (): string => join(fixture.dir.path, "settings.json");

  it("an edit takes effect, and a later bad edit is reported while the last good settings stay", async () => {
    await writeFile(settingsPath(), JSON.stringify({ perDomainDelayMs: 0 }));
    const reloads: SettingKey[][] = [];
    const errors: string[] = [];
    const settings = await watchSettingsFile({
      path: settingsPath(),
      pollIntervalMs: 20,
      onReload: (changed) => reloads.push([...changed]),
      onError: (error) => errors.push(error instanceof Error ? error.message : String(error)),
    });
    try {
      await writeFile(settingsPath(), JSON.stringify({ perDomainDelayMs: 0, blockedDomains: ["example.com"] }));
      await waitFor(async () => (await settings.get()).blockedDomains.length === 1, 2_000, "the edit to apply");
      assert.deepEqual(reloads, [["blockedDomains"]]);

      await writeFile(settingsPath(), JSON.stringify({ perDomainDelayMs: -5 }));
      await waitFor(() => errors.length > 0, 2_000, "the bad edit to be reported");
      assert.match(errors[0], /`perDomainDelayMs` must be an integer from 0 to 600000 \(given -5\)/);
      assert.deepEqual((await settings.get()).blockedDomains, ["example.com"], "the last good settings stay in force");
    } finally {
      settings.close();
    }
  });

  it("enabled: false pauses the run (no new page is started) and enabled: true resumes it to the end", async () => {
    await writeFile(settingsPath(), JSON.stringify({ perDomainDelayMs: 0, respectRobots: false }));
    const settings = await watchSettingsFile({ path: settingsPath(), pollIntervalMs: 20 });
    const queue = LocalQueue.open(join(fixture.dir.path, "queue.sqlite"));
    const results = new FileResultStore(fixture.dir.path);
    const worker = createWorker({ settings, results, allowPrivateNetworks: true });
    const urls = Array.from({ length: 12 }, (_, index) => fixture.server.url(`/slow/${index}`));
    queue.enqueue(urls.map((url) => ({ key: normalizeUrl(url), url, body: JSON.stringify({ url }) })));
    const pauses: boolean[] = [];
    let requestsWhenPaused = -1;
    try {
      const run = runFleet({
        queue,
        worker,
        settings,
        concurrency: 2,
        idlePollMs: 20,
        onPause: (paused) => {
          pauses.push(paused);
          if (paused) requestsWhenPaused = fixture.server.requests.length;
        },
      });
      await waitFor(() => fixture.server.requests.length >= 3, 5_000, "the first pages");
      await writeFile(settingsPath(), JSON.stringify({ perDomainDelayMs: 0, respectRobots: false, enabled: false }));
      await waitFor(() => pauses.includes(true), 2_000, "the pause");
      await new Promise((resolve) => setTimeout(resolve, 400));
      assert.ok(fixture.server.requests.length <= requestsWhenPaused + 2, `only the 2 pages already in flight may start after the pause (${requestsWhenPaused} → ${fixture.server.requests.length})`);
      assert.ok(fixture.server.requests.length < urls.length, "the run did not go on while paused");

      await writeFile(settingsPath(), JSON.stringify({ perDomainDelayMs: 0, respectRobots: false, enabled: true }));
      assert.equal(await run, "finished");
      assert.deepEqual(pauses, [true, false]);
      assert.equal((await resultFiles(fixture.dir.path)).length, urls.length);
      assert.equal(queue.counts().ok, urls.length);
      assert.equal(queue.counts().dead, 0, "pausing used up no attempts");
    } finally {
      await worker.close();
      queue.close();
      settings.close();
    }
  });

  it("blockedDomains added mid-run through the CLI stops fetches to that host: those URLs are recorded as domain_blocked", async () => {
    const settingsFile = settingsPath();
    const out = join(fixture.dir.path, "out");
    const urlsFile = join(fixture.dir.path, "urls.txt");
    const urls = Array.from({ length: 40 }, (_, index) => fixture.server.url(`/slow/${index}`));
    await writeFile(urlsFile, urls.join("\n"));
    await writeFile(settingsFile, JSON.stringify({ perDomainDelayMs: 0, respectRobots: false }));

    const cli = spawnCli(["--out", out, "--config", settingsFile, "--concurrency", "2", "--allow-private-networks", urlsFile]);
    await waitFor(async () => (await resultFiles(out)).length >= 3, 10_000, "the first results");
    await writeFile(settingsFile, JSON.stringify({ perDomainDelayMs: 0, respectRobots: false, blockedDomains: ["127.0.0.1"] }));
    const run = await cli.done;

    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /settings reloaded from .*settings\.json: blockedDomains=\["127\.0\.0\.1"\]/);
    const records = await Promise.all(urls.map((url) => readResult(out, url)));
    const blocked = urls.filter((_, index) => records[index]?.code === "domain_blocked");
    assert.ok(blocked.length > 0, "URLs after the edit are blocked");
    assert.ok(records.every((record) => record?.status === "ok" || record?.code === "domain_blocked"), "every URL has a record, ok before the edit or blocked after it");
    for (const url of blocked) assert.equal(fixture.server.hits(new URL(url).pathname), 0, `${url} was never fetched`);
  });
});
