import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { resultKey } from "../../shared/result";
import { main } from "../../functions/local/cli";
import { REPO_ROOT, captureIO, readDeadLetters, resultFiles, runCli, spawnCli, useDirAndPageServer, waitFor } from "./support";

describe("local fleet killed with SIGKILL and started again", () => {
  const fixture = useDirAndPageServer({ slowMs: 120 });

  it("resumes on the same directory: no URL lost, none duplicated, in-flight pages fetched at most twice", async () => {
    const slow = Array.from({ length: 32 }, (_, index) => `/slow/${index}`);
    const down = ["/down/0", "/down/1"];
    const lines = [
      ...slow.slice(0, 20).map((path) => fixture.server.url(path)),
      "not-a-url",
      fixture.server.url("/slow/3"), // duplicate
      ...down.map((path) => fixture.server.url(path)),
      ...slow.slice(20).map((path) => fixture.server.url(path)),
      "mailto:someone@example.com",
      fixture.server.url("/slow/25"), // duplicate
    ];
    const urlsFile = join(fixture.dir.path, "urls.txt");
    const settingsFile = join(fixture.dir.path, "settings.json");
    const out = join(fixture.dir.path, "out");
    await writeFile(urlsFile, lines.join("\n"));
    await writeFile(settingsFile, JSON.stringify({ perDomainDelayMs: 0, respectRobots: false }));
    const args = ["--out", out, "--config", settingsFile, "--concurrency", "8", "--allow-private-networks", urlsFile];

    const first = spawnCli(args);
    await waitFor(async () => (await resultFiles(out)).length >= 8, 15_000, "eight results from the first run");
    first.child.kill("SIGKILL");
    const killed = await first.done;
    assert.equal(killed.signal, "SIGKILL");
    const beforeResume = (await resultFiles(out)).length;
    assert.ok(beforeResume < slow.length, `the first run was stopped part-way (${beforeResume} results)`);

    const second = await runCli(args);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, /resuming .*: \d+ of 34 URLs were finished by earlier runs; the previous run \(pid \d+\) did not finish, and the \d+ page\(s\) it had in flight are queued again/);

    const files = await resultFiles(out);
    const { lines: deadLines, entries } = await readDeadLetters(out);
    assert.equal(new Set(deadLines).size, deadLines.length, "no dead-letter line is written twice");
    assert.deepEqual(entries.map((entry) => entry.url ?? entry.rawLine).sort(), [...down.map((path) => fixture.server.url(path)), "mailto:someone@example.com", "not-a-url"].sort());
    for (const path of slow) {
      assert.ok(files.includes(resultKey(fixture.server.url(path)).slice("results/".length)), `${path} has its result`);
      assert.ok(fixture.server.hits(path) <= 2, `${path} was fetched ${fixture.server.hits(path)} times; only a page in flight at the kill is fetched again`);
    }
    assert.equal(files.length, slow.length, "one result file per URL, nothing else");
    const fetched = slow.reduce((sum, path) => sum + fixture.server.hits(path), 0);
    assert.ok(fetched <= slow.length + 8, `${fetched} fetches for ${slow.length} pages: at most the 8 in flight at the kill are repeated`);
    for (const name of files) JSON.parse(await readFile(join(out, "results", name), "utf8"));
    assert.deepEqual((await readdir(join(out, "results"))).filter((name) => !name.endsWith(".json")), [], "no temporary files are left behind");
  });

  it("on one paced host every page is acked as it finishes: killed mid-run, the next run fetches only the pages not yet acked (paths relative to INIT_CWD)", async () => {
    const paths = Array.from({ length: 10 }, (_, index) => `/ok/${index}`);
    await writeFile(join(fixture.dir.path, "urls.txt"), paths.map((path) => fixture.server.url(path)).join("\n"));
    await writeFile(join(fixture.dir.path, "settings.json"), JSON.stringify({ perDomainDelayMs: 80, respectRobots: false }));
    // As `npm start` runs it: in the package root, with the user's directory in INIT_CWD.
    const args = ["--out", "out", "--config", "settings.json", "--allow-private-networks", "urls.txt"];
    const env = { INIT_CWD: fixture.dir.path };
    const out = join(fixture.dir.path, "out");

    const first = spawnCli(args, { env });
    await waitFor(async () => (await resultFiles(out)).length >= 3, 10_000, "three results from the first run");
    first.child.kill("SIGKILL");
    await first.done;
    const fetchedByFirst = fixture.server.requests.length;

    const second = await runCli(args, { env });
    assert.equal(second.code, 0, second.stderr);
    const acked = Number(/resuming out: (\d+) of 10 URLs were finished by earlier runs/.exec(second.stderr)?.[1]);
    assert.ok(acked >= 2 && acked < 10, `the killed run had acked ${acked} pages one by one`);
    assert.ok(fetchedByFirst - acked <= 1, `${fetchedByFirst} fetched and ${acked} acked: at most the page in flight was not acked`);
    assert.equal(fixture.server.requests.length - fetchedByFirst, 10 - acked, "the second run fetched exactly the pages not acked");
    assert.equal((await resultFiles(out)).length, 10);
    assert.match(second.stdout, /results {7}out\/results\//);
    await assert.rejects(readdir(join(REPO_ROOT, "out")), "nothing was written to the package root");
  });

  it("a restart while the killed run is still a zombie (its PID still taken) is accepted at once", async () => {
    const urls = Array.from({ length: 40 }, (_, index) => fixture.server.url(`/slow/${index}`));
    const urlsFile = join(fixture.dir.path, "urls.txt");
    const settingsFile = join(fixture.dir.path, "settings.json");
    const out = join(fixture.dir.path, "out");
    await writeFile(urlsFile, urls.join("\n"));
    await writeFile(settingsFile, JSON.stringify({ perDomainDelayMs: 0, respectRobots: false }));
    const args = ["--out", out, "--config", settingsFile, "--concurrency", "4", "--allow-private-networks", urlsFile];

    // The fleet's parent is a shell that becomes `sleep` and never reaps it: once killed, the fleet stays a zombie.
    const quoted = [process.execPath, "--import", "tsx", join(REPO_ROOT, "functions", "local", "cli.ts"), ...args].map((arg) => `'${arg}'`).join(" ");
    const parent = spawn("sh", ["-c", `${quoted} >/dev/null 2>&1 & echo $!; exec sleep 60`], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "ignore"] });
    try {
      const fleetPid = Number(await new Promise<string>((resolveLine) => parent.stdout.once("data", (chunk: Buffer) => resolveLine(chunk.toString().trim()))));
      await waitFor(async () => (await resultFiles(out)).length >= 4, 15_000, "the first results");
      process.kill(fleetPid, "SIGKILL");
      await waitFor(async () => (await readFile(`/proc/${fleetPid}/stat`, "utf8")).split(" ")[2] === "Z", 5_000, "the killed run to be a zombie");

      const io = captureIO();
      assert.equal(await main(args, io), 0, io.err());
      assert.match(io.err(), new RegExp(`the previous run \\(pid ${fleetPid}\\) did not finish`));
      assert.equal((await resultFiles(out)).length, urls.length);
    } finally {
      parent.kill("SIGKILL");
    }
  });
});
