/**
 * Runs the real local fleet (`npm start`'s `main`, functions/local/cli.ts) in
 * a child process of its own over a list of URLs, and reports what a sizing
 * needs: the drain time from the first claim to the last answer, each page's
 * time (the `--verbose` page lines' `ms`), the CPU the fleet's process used
 * and its peak resident memory. A process per run, so one run's memory and
 * CPU are not counted in the next, and the site's work (in the parent) is
 * not counted at all.
 */
import { fork } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface FleetRunReport {
  readonly drainMs: number;
  readonly ok: number;
  readonly failed: number;
  readonly deadLetters: number;
  /** ms of each finished page, from the fleet's own page lines (wait for the host's slot included). */
  readonly pageMs: readonly number[];
  /** When each page finished ok, ms after the first page began. */
  readonly completions: readonly number[];
  readonly cpuMs: number;
  readonly maxRssMb: number;
  readonly exitCode: number;
  /** Result record objects the run wrote: one a page, or the JSON Lines batch objects when `resultBatchMaxRecords` is above 1. */
  readonly recordObjects: number;
}

export interface FleetRunOptions {
  readonly urls: readonly string[];
  readonly concurrency: number;
  readonly perDomainDelayMs: number;
  readonly maxAttempts?: number;
  /** More runtime settings for the run's settings file (such as `resultBatchMaxRecords`). @default none */
  readonly settings?: Readonly<Record<string, unknown>>;
}

export async function runLocalFleet(options: FleetRunOptions): Promise<FleetRunReport> {
  const dir = await mkdtemp(join(tmpdir(), "scrape-fleet-run-"));
  try {
    await writeFile(join(dir, "urls.txt"), `${options.urls.join("\n")}\n`);
    await writeFile(join(dir, "settings.json"), JSON.stringify({ ...options.settings, perDomainDelayMs: options.perDomainDelayMs, respectRobots: false, concurrency: options.concurrency }));
    const args = ["--out", join(dir, "out"), "--config", join(dir, "settings.json"), "--concurrency", String(options.concurrency), "--max-attempts", String(options.maxAttempts ?? 5), "--allow-private-networks", "--verbose", join(dir, "urls.txt")];
    return await new Promise<FleetRunReport>((resolve, reject) => {
      const child = fork(join(__dirname, "fleetChild.ts"), args, { execArgv: ["--import", "tsx"], stdio: ["ignore", "ignore", "ignore", "ipc"] });
      child.once("message", (report: FleetRunReport) => resolve(report));
      child.once("error", reject);
      child.once("exit", (code) => reject(new Error(`the fleet's process exited (${code}) before reporting`)));
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
