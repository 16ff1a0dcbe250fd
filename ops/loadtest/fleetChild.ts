/**
 * The child process of `runLocalFleet`: runs the local fleet's `main` with
 * the arguments it was given and sends its report to the parent.
 */
import { EventEmitter } from "node:events";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { PassThrough, Writable } from "node:stream";
import { main } from "../../functions/local/cli";
import { DEAD_LETTERS_FILE } from "../../functions/local/deadLetters";
import { RESULT_BATCH_PREFIX, RESULT_PREFIX } from "../../shared/result";
import type { FleetRunReport } from "./fleetRun";

async function run(): Promise<void> {
  const pageMs: number[] = [];
  const finishedAt: number[] = [];
  let firstAt: number | undefined;
  let lastAt = 0;
  const outcomes = { ok: 0, failed: 0 };
  let pending = "";
  const stderr = new Writable({
    write(chunk: Buffer, _encoding, done) {
      pending += chunk.toString();
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        if (!line.startsWith("{")) continue;
        const entry = JSON.parse(line) as { event?: string; outcome?: string; ms?: number; time?: string };
        if (entry.event !== "page") continue;
        const at = Date.parse(entry.time ?? "");
        firstAt ??= at - (entry.ms ?? 0);
        firstAt = Math.min(firstAt, at - (entry.ms ?? 0));
        lastAt = Math.max(lastAt, at);
        if (entry.outcome === "ok" || entry.outcome === "failed") {
          outcomes[entry.outcome] += 1;
          pageMs.push(entry.ms ?? 0);
          if (entry.outcome === "ok") finishedAt.push(at);
        }
      }
      done();
    },
  });
  const cpuBefore = process.cpuUsage();
  const exitCode = await main(process.argv.slice(2), { stdout: new PassThrough().resume(), stderr, stdin: new PassThrough(), signals: new EventEmitter(), cwd: process.cwd() });
  const cpu = process.cpuUsage(cpuBefore);
  const outDir = process.argv[process.argv.indexOf("--out") + 1];
  const deadLetters = await readFile(join(outDir, DEAD_LETTERS_FILE), "utf8").then(
    (text) => text.split("\n").filter((line) => line.trim() !== "").length,
    () => 0,
  );
  const filesIn = async (prefix: string, suffix: string) => (await readdir(join(outDir, prefix)).catch(() => [])).filter((name) => name.endsWith(suffix)).length;
  const report: FleetRunReport = {
    drainMs: firstAt === undefined ? 0 : lastAt - firstAt,
    ok: outcomes.ok,
    failed: outcomes.failed,
    deadLetters,
    pageMs,
    completions: finishedAt.map((at) => at - (firstAt ?? at)).sort((a, b) => a - b),
    cpuMs: (cpu.user + cpu.system) / 1000,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
    exitCode,
    recordObjects: (await filesIn(RESULT_PREFIX, ".json")) + (await filesIn(RESULT_BATCH_PREFIX, ".jsonl")),
  };
  process.send?.(report, () => process.exit(0));
}

void run();
