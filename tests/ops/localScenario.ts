/**
 * The local fleet operated end to end through `npm run fleet`: enqueue N URLs
 * into a fresh local fleet, run it against a loopback server on which every
 * 50th page fails until it is "fixed", list and redrive the dead letters, run
 * again, export the results as JSON Lines and CSV. Every step's counts are
 * checked to add up exactly. The test runs it at 1,000 URLs to keep the suite
 * fast; `npm run bench` runs it at 10,000 and reports each step's time.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main as runLocalFleet } from "../../functions/local/cli";
import { main } from "../../ops/cli";
import { captureIO } from "../local/support";
import { captureIo } from "./support";

/** Every 50th page answers 503 until the fix: those URLs end as dead letters. */
export const BROKEN_EVERY = 50;

export interface ScenarioTimings {
  /** Milliseconds per step. */
  readonly [step: string]: number;
}

export async function runLocalScenario(urls: number): Promise<ScenarioTimings> {
  assert.ok(urls % BROKEN_EVERY === 0, `use a multiple of ${BROKEN_EVERY} URLs`);
  const dir = await mkdtemp(join(tmpdir(), "fleet-local-"));
  let fixed = false;
  const server = createServer((request, response) => {
    const id = Number(/\/page\/(\d+)/.exec(request.url ?? "")?.[1]);
    if (!fixed && id % BROKEN_EVERY === 0) return void response.writeHead(503, { "retry-after": "0" }).end("down");
    response.writeHead(200, { "content-type": "text/html" }).end(`<title>Page ${id}</title>`);
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const timings: Record<string, number> = {};
  const timed = async <T>(step: string, work: () => Promise<T>): Promise<T> => {
    const startedAt = performance.now();
    const result = await work();
    timings[step] = (timings[step] ?? 0) + performance.now() - startedAt;
    return result;
  };
  const fleet = async (...args: string[]): Promise<string> => {
    const io = captureIo({ cwd: dir });
    const code = await main(args, io);
    assert.equal(code, 0, `fleet ${args.join(" ")}: ${io.err()}`);
    return io.out();
  };
  const fleetJson = async <T>(...args: string[]): Promise<T> => JSON.parse(await fleet(...args, "--json")) as T;
  // The local run reads a URLs file as well; a URL already queued adds nothing, so it works on what enqueue sent.
  const runOnce = async (): Promise<void> => {
    const io = captureIO("", dir);
    const code = await runLocalFleet(["--out", "fleet", "--config", "fleet/settings.json", "--max-attempts", "2", "--allow-private-networks", "one.txt"], io);
    assert.equal(code, 0, io.err());
  };

  try {
    await writeFile(join(dir, "urls.txt"), Array.from({ length: urls }, (_, index) => `${origin}/page/${index + 1}`).join("\n"));
    await writeFile(join(dir, "one.txt"), `${origin}/page/1\n`);
    const enqueued = await timed("enqueue", () => fleetJson<{ sent: number }>("enqueue", "urls.txt", "--local", "fleet"));
    assert.equal(enqueued.sent, urls);
    // Written through the command, so validated like any operator's change.
    await fleet("settings", "set", "perDomainDelayMs=0", "respectRobots=false", "concurrency=64", "--local", "fleet");
    const queued = await fleetJson<{ backlog: number; deadLetters: number }>("status", "--local", "fleet");
    assert.deepEqual([queued.backlog, queued.deadLetters], [urls, 0]);

    await timed("run", runOnce);
    const broken = urls / BROKEN_EVERY;
    const afterRun = await fleetJson<{ backlog: number; deadLetters: number; outcomes: Record<string, number> }>("status", "--local", "fleet", "--window", "60");
    assert.deepEqual([afterRun.backlog, afterRun.deadLetters], [0, broken]);
    assert.deepEqual(afterRun.outcomes, { ok: urls - broken, failed: 0, dead: broken });

    const listed = await fleetJson<{ url: string; code: string; attempts: number }[]>("dead-letters", "list", "--limit", "10000", "--local", "fleet");
    assert.equal(listed.length, broken);
    assert.ok(listed.every((letter) => letter.code === "http_5xx" && letter.attempts === 2 && Number(letter.url.split("/").pop()) % BROKEN_EVERY === 0));

    fixed = true;
    const redriven = await timed("redrive", () => fleetJson<{ moved: number }>("dead-letters", "redrive", "--local", "fleet"));
    assert.equal(redriven.moved, broken);
    assert.equal((await readFile(join(dir, "fleet", "dead-letters.jsonl"), "utf8")).trim(), "", "the dead-letters file follows the table");
    await timed("run", runOnce);
    const final = await fleetJson<{ backlog: number; deadLetters: number }>("status", "--local", "fleet");
    assert.deepEqual([final.backlog, final.deadLetters], [0, 0]);

    await timed("export", () => fleet("results", "export", "--local", "fleet", "--out", "results.jsonl"));
    const records = (await readFile(join(dir, "results.jsonl"), "utf8"))
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { url: string; status: string });
    assert.equal(records.length, urls);
    assert.equal(new Set(records.map((record) => record.url)).size, urls, "one record per URL");
    assert.ok(records.every((record) => record.status === "ok"));

    const rows = (await fleet("results", "export", "--local", "fleet", "--format", "csv", "--status", "ok")).trim().split("\n");
    assert.equal(rows[0], "url,status,code,httpStatus,finalUrl,title,contentType,bytesOnWire,fetchMs,fetchedAt,attempt,id");
    assert.equal(rows.length, urls + 1);
    assert.equal(await fleet("results", "export", "--local", "fleet", "--status", "failed"), "");
    return timings;
  } finally {
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
}
