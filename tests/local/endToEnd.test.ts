import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { resultKey } from "../../shared/result";
import { readDeadLetters, readResult, resultFiles, runCli, useDirAndPageServer } from "./support";

/** 40 URLs: pages that work, 404s, 503-then-200s, pages that are always down, slow pages. */
function mixedPaths(): { readonly ok: string[]; readonly missing: string[]; readonly flaky: string[]; readonly down: string[]; readonly slow: string[] } {
  const range = (kind: string, count: number): string[] => Array.from({ length: count }, (_, index) => `/${kind}/${index}`);
  return { ok: range("ok", 24), missing: range("missing", 5), flaky: range("flaky", 5), down: range("down", 2), slow: range("slow", 4) };
}

describe("local fleet end to end (child process, loopback server)", () => {
  const fixture = useDirAndPageServer({ slowMs: 400 });

  it("every URL ends as exactly one result file or one dead letter, and the run exits 0", async () => {
    const paths = mixedPaths();
    const all = [...paths.ok, ...paths.missing, ...paths.flaky, ...paths.down, ...paths.slow];
    const urlsFile = join(fixture.dir.path, "urls.txt");
    const settingsFile = join(fixture.dir.path, "settings.json");
    const out = join(fixture.dir.path, "out");
    await writeFile(urlsFile, all.map((path) => fixture.server.url(path)).join("\n"));
    await writeFile(settingsFile, JSON.stringify({ perDomainDelayMs: 0, respectRobots: false }));

    const run = await runCli(["--out", out, "--config", settingsFile, "--concurrency", "8", "--allow-private-networks", urlsFile]);
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stderr, /ExperimentalWarning/, "node:sqlite's experimental warning is filtered out");

    const { entries, lines } = await readDeadLetters(out);
    const deadUrls = new Set(entries.map((entry) => entry.url));
    assert.equal(deadUrls.size, lines.length, "no URL is dead-lettered twice");
    const files = new Set(await resultFiles(out));
    for (const path of all) {
      const url = fixture.server.url(path);
      const hasResult = files.has(resultKey(url).slice("results/".length));
      assert.equal(Number(hasResult) + Number(deadUrls.has(url)), 1, `${path} has exactly one of: a result, a dead letter`);
    }
    assert.equal(files.size + deadUrls.size, all.length, "nothing else was written");

    for (const path of [...paths.ok, ...paths.slow]) assert.equal((await readResult(out, fixture.server.url(path)))?.status, "ok", path);
    for (const path of paths.missing) {
      const record = await readResult(out, fixture.server.url(path));
      assert.deepEqual([record?.status, record?.code, record?.httpStatus], ["failed", "http_4xx", 404], path);
    }
    for (const path of paths.flaky) {
      const record = await readResult(out, fixture.server.url(path));
      assert.deepEqual([record?.status, record?.attempt], ["ok", 2], `${path} succeeded on its second delivery`);
    }
    for (const path of paths.down) {
      const letter = entries.find((entry) => entry.url === fixture.server.url(path));
      assert.deepEqual([letter?.code, letter?.attempts, letter?.line], ["http_5xx", 5, all.indexOf(path) + 1], path);
      assert.equal(fixture.server.hits(path), 5, `${path} was tried the default five times`);
    }

    assert.match(run.stdout, /all 40 URLs finished/);
    assert.match(run.stdout, /ok\s+33/);
    assert.match(run.stdout, /failed\s+5\s+http_4xx 5/);
    assert.match(run.stdout, /dead-lettered\s+2\s+http_5xx 2/);
    assert.match(run.stdout, /pages\/s/);
    assert.match(run.stdout, new RegExp(`results\\s+${out.replace(/[/\\.]/g, "\\$&")}/results/`));
  });
});
