/**
 * Signals under the README's own command, `npm start`: the real npm, the real
 * scripts in package.json, a loopback site. Each run is started in a process
 * group of its own, as a terminal's foreground job is, so a Ctrl-C can be
 * imitated the way the terminal sends it: SIGINT to every process in the group.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { EventEmitter } from "node:events";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { listenForStop } from "../../functions/local/stopSignals";
import { REPO_ROOT, useDirAndPageServer, waitFor } from "./support";

interface NpmRun {
  readonly pid: number;
  readonly done: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null; readonly stdout: string; readonly stderr: string }>;
}

describe("local fleet under npm start: signals", () => {
  const fixture = useDirAndPageServer({ slowMs: 400 });

  async function startNpm(): Promise<NpmRun> {
    const urlsFile = join(fixture.dir.path, "urls.txt");
    const settingsFile = join(fixture.dir.path, "settings.json");
    await writeFile(urlsFile, Array.from({ length: 8 }, (_, index) => fixture.server.url(`/slow/${index}`)).join("\n"));
    await writeFile(settingsFile, JSON.stringify({ perDomainDelayMs: 0, respectRobots: false }));
    const args = ["start", "--", "--out", join(fixture.dir.path, "out"), "--config", settingsFile, "--concurrency", "2", "--allow-private-networks", urlsFile];
    const child = spawn("npm", args, { cwd: REPO_ROOT, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const done = new Promise<Awaited<NpmRun["done"]>>((resolve, reject) => {
      child.once("error", reject);
      child.once("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
    });
    assert.ok(child.pid !== undefined);
    await waitFor(() => fixture.server.requests.length >= 2, 15_000, "the first pages to be fetched");
    return { pid: child.pid, done };
  }

  /** Whether any process is left in the run's process group (npm's pid is the group's id). */
  function groupAlive(pid: number): boolean {
    try {
      process.kill(-pid, 0);
      return true;
    } catch {
      return false;
    }
  }

  it("one Ctrl-C (SIGINT to the whole foreground group) stops gracefully: the pages being fetched finish, exit 130", async () => {
    const run = await startNpm();
    process.kill(-run.pid, "SIGINT");
    const result = await run.done;
    assert.equal(result.code, 130, result.stderr);
    assert.match(result.stderr, /SIGINT: finishing the 2 page\(s\) being fetched, then stopping/);
    assert.doesNotMatch(result.stderr, /stopped at once/, "one keypress heard twice (terminal and npm) is still one Ctrl-C");
    assert.match(result.stdout, /stopped with 2 of 8 URLs finished/);
  });

  it("SIGTERM to the npm process alone stops the fleet too, npm exits with the fleet's code, and nothing is left running", async () => {
    const run = await startNpm();
    process.kill(run.pid, "SIGTERM");
    const result = await run.done;
    assert.equal(result.code, 143, result.stderr);
    assert.match(result.stderr, /SIGTERM: finishing the 2 page\(s\) being fetched/);
    assert.match(result.stdout, /stopped with 2 of 8 URLs finished/, "the summary comes from the fleet itself");
    await waitFor(() => !groupAlive(run.pid), 2_000, "every process of the run to be gone");
  });

  it("SIGINT to the npm process alone (a supervisor's stop) is heard by the fleet: exit 130", async () => {
    const run = await startNpm();
    process.kill(run.pid, "SIGINT");
    const result = await run.done;
    assert.equal(result.code, 130, result.stderr);
    assert.match(result.stderr, /SIGINT: finishing the 2 page\(s\) being fetched/);
  });
});

describe("stop signals: one keypress heard twice is one Ctrl-C", () => {
  it("a repeat within the echo window is the same request; a later one forces the stop", async () => {
    const source = new EventEmitter();
    let clock = 0;
    const heard: string[] = [];
    const stop = listenForStop(source, (signal) => heard.push(signal), { echoWindowMs: 1_000, now: () => clock });
    let forced = false;
    void stop.forced.then(() => (forced = true));

    source.emit("SIGINT", "SIGINT");
    clock = 6; // npm's forward of the terminal's SIGINT
    source.emit("SIGINT", "SIGINT");
    await Promise.resolve();
    assert.deepEqual(heard, ["SIGINT"]);
    assert.equal(stop.signal.aborted, true);
    assert.equal(forced, false, "the echo did not force the stop");

    clock = 2_500; // the person presses Ctrl-C again
    source.emit("SIGINT", "SIGINT");
    assert.equal(await stop.forced, "forced");
    assert.equal(stop.exitCode(), 130);
    stop.dispose();
  });
});
