/**
 * `npm run fleet -- loadtest`: the local fleet against a loopback site with a
 * chosen latency, size and failure profile, at several concurrencies; per
 * level the throughput, the time per page (p50/p95/p99), the CPU per page and
 * the peak memory of the fleet's process. This is how to size `concurrency`
 * and `memoryMb` before deploying. Each level is a fresh process of the real
 * fleet (ops/loadtest/fleetRun.ts); the site runs in this one.
 */
import { resolve } from "node:path";
import { writeChart } from "../charts/render";
import { OPS_EXIT_CODES, type FleetCommand } from "../command";
import { runLocalFleet, type FleetRunReport } from "../loadtest/fleetRun";
import { startProfileSite } from "../loadtest/site";
import { DEFAULT_SITE, parseLatency, type SiteProfile } from "../simulate/site";
import { flagsOrExit } from "./parseFlags";

const FLAGS = {
  levels: { kind: "string" },
  pages: { kind: "integer", min: 1, max: 1_000_000 },
  latency: { kind: "string" },
  "failure-rate": { kind: "number", min: 0, max: 0.99 },
  hosts: { kind: "integer", min: 1, max: 1000 },
  "page-bytes": { kind: "integer", min: 100, max: 10_000_000 },
  delay: { kind: "integer", min: 0, max: 600_000 },
  stack: { kind: "string" },
  json: { kind: "switch" },
  chart: { kind: "string" },
  help: { kind: "switch" },
} as const;

export const DEFAULT_LEVELS = [1, 4, 16, 64, 256] as const;

const HELP = `usage: npm run fleet -- loadtest [--levels 1,4,16,64,256] [--pages N] [--latency 50-400] [--failure-rate 0] [--hosts 20] [--page-bytes 20000] [--delay 0] [--json] [--chart FILE]

Serves a site on 127.0.0.1 (--hosts ports, each page after --latency ms, a
share --failure-rate answered 503, --page-bytes of HTML) and runs the local
fleet over it once per concurrency level, each in a fresh process. Prints per
level: pages per second, time per page (p50, p95, p99), CPU per page and the
fleet process's peak memory.

  --levels L,...   concurrencies from 1 to 256 (default ${DEFAULT_LEVELS.join(",")})
  --pages N        pages per level (default: 20 per unit of concurrency, 40 to 1,000)
  --delay MS       perDomainDelayMs for the run (default 0: measure the fleet, not the politeness)
  --chart FILE     SVG: throughput and p95 per level

The deployed load test (--stack, which enqueues to a target you own) is not in
this build.

Exit codes: 0 done, 1 a level's run failed (the output says which), 2 usage error.`;

export interface LevelFigures {
  readonly concurrency: number;
  readonly pages: number;
  readonly pagesPerSecond: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly cpuMsPerPage: number;
  readonly peakRssMb: number;
  readonly failed: number;
  readonly deadLetters: number;
}

export function percentile(sorted: readonly number[], share: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(share * sorted.length) - 1)];
}

export function levelFigures(concurrency: number, pages: number, report: FleetRunReport): LevelFigures {
  const sorted = [...report.pageMs].sort((a, b) => a - b);
  return {
    concurrency,
    pages,
    pagesPerSecond: report.drainMs > 0 ? (report.ok / report.drainMs) * 1000 : 0,
    p50Ms: percentile(sorted, 0.5),
    p95Ms: percentile(sorted, 0.95),
    p99Ms: percentile(sorted, 0.99),
    cpuMsPerPage: report.cpuMs / pages,
    peakRssMb: report.maxRssMb,
    failed: report.failed,
    deadLetters: report.deadLetters,
  };
}

export const loadtestCommand: FleetCommand = {
  name: "loadtest",
  summary: "the local fleet against a loopback site at concurrencies 1 to 256: throughput, latency, CPU and memory",
  help: HELP,
  async run(args, io) {
    const parsed = flagsOrExit(args, FLAGS, "loadtest", HELP, io);
    if ("exit" in parsed) return parsed.exit;
    const { flags } = parsed;
    const usage = (message: string) => {
      io.stderr.write(`loadtest: ${message}\n`);
      return OPS_EXIT_CODES.usage;
    };
    if (flags.stack !== undefined) return usage("--stack (a load test of a deployed fleet) is not in this build; run without --stack for the local load test");
    const levels = typeof flags.levels === "string" ? flags.levels.split(",").map((level) => Number(level.trim())) : [...DEFAULT_LEVELS];
    const badLevel = levels.find((level) => !Number.isInteger(level) || level < 1 || level > 256);
    if (badLevel !== undefined || levels.length === 0) return usage(`--levels must be whole numbers from 1 to 256, comma-separated, such as 1,4,16 (given ${JSON.stringify(flags.levels)})`);
    const latency = typeof flags.latency === "string" ? parseLatency(flags.latency) : DEFAULT_SITE.latencyMs;
    if (latency === undefined) return usage(`--latency must be MS or MIN-MAX in milliseconds, such as 50-400 (given ${JSON.stringify(flags.latency)})`);
    const profile: SiteProfile = { latencyMs: latency, failureRate: typeof flags["failure-rate"] === "number" ? flags["failure-rate"] : 0, hosts: typeof flags.hosts === "number" ? flags.hosts : DEFAULT_SITE.hosts };
    const site = await startProfileSite({ profile, pageBytes: typeof flags["page-bytes"] === "number" ? flags["page-bytes"] : undefined });
    const results: LevelFigures[] = [];
    let offset = 0;
    try {
      for (const level of levels) {
        if (io.signal.aborted) return OPS_EXIT_CODES.interrupted;
        const pages = typeof flags.pages === "number" ? flags.pages : Math.min(1000, Math.max(40, level * 20));
        io.stderr.write(`loadtest: concurrency ${level}, ${pages} pages...\n`);
        // Fresh URLs per level, so no level finds another's results.
        const urls = Array.from({ length: pages }, (_, i) => site.url(offset + i));
        offset += pages;
        const report = await runLocalFleet({ urls, concurrency: level, perDomainDelayMs: typeof flags.delay === "number" ? flags.delay : 0 });
        if (report.exitCode !== 0) {
          io.stderr.write(`loadtest: the fleet exited ${report.exitCode} at concurrency ${level}\n`);
          return OPS_EXIT_CODES.failed;
        }
        results.push(levelFigures(level, pages, report));
      }
    } finally {
      await site.close();
    }
    if (flags.json) io.stdout.write(`${JSON.stringify({ profile, levels: results }, null, 2)}\n`);
    else io.stdout.write(formatLevels(profile, results));
    if (typeof flags.chart === "string") {
      const file = resolve(io.cwd, flags.chart);
      await writeChart(file, loadtestChartSpec(results));
      io.stderr.write(`loadtest: chart written to ${file}\n`);
    }
    return OPS_EXIT_CODES.ok;
  },
};

export function formatLevels(profile: SiteProfile, levels: readonly LevelFigures[]): string {
  const header = ["concurrency", "pages", "pages/s", "p50 ms", "p95 ms", "p99 ms", "CPU ms/page", "peak MB", "failed"];
  const rows = levels.map((level) => [level.concurrency, level.pages, level.pagesPerSecond.toFixed(1), level.p50Ms, level.p95Ms, level.p99Ms, level.cpuMsPerPage.toFixed(1), level.peakRssMb.toFixed(0), level.failed].map(String));
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)));
  const line = (cells: readonly string[]) => cells.map((cell, column) => cell.padStart(widths[column])).join("  ");
  return [`local fleet on a loopback site: ${profile.latencyMs.min}-${profile.latencyMs.max} ms a page, ${(profile.failureRate * 100).toFixed(1)} % failures, ${profile.hosts} hosts`, "", line(header), ...rows.map(line), ""].join("\n");
}

export function loadtestChartSpec(levels: readonly LevelFigures[]) {
  const values = levels.flatMap((level) => [
    { concurrency: level.concurrency, measure: "pages per second", value: level.pagesPerSecond },
    { concurrency: level.concurrency, measure: "p95 ms per page", value: level.p95Ms },
    { concurrency: level.concurrency, measure: "CPU ms per page", value: level.cpuMsPerPage },
    { concurrency: level.concurrency, measure: "peak memory MB", value: level.peakRssMb },
  ]);
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: "local fleet load test",
    data: { values },
    facet: { row: { field: "measure", type: "nominal", title: null } },
    spec: {
      width: 480,
      height: 110,
      mark: { type: "line", point: true },
      encoding: {
        x: { field: "concurrency", type: "quantitative", scale: { type: "log", base: 2 }, title: "concurrency" },
        y: { field: "value", type: "quantitative", title: null },
      },
    },
    resolve: { scale: { y: "independent" } },
  } as const;
}
