/**
 * `npm run fleet -- loadtest`, two ways:
 * - without a fleet named: the local fleet against a loopback site with a
 *   chosen latency, size and failure profile, at several concurrencies; per
 *   level the throughput, the time per page (p50/p95/p99), the CPU per page
 *   and the peak memory of the fleet's process. This is how to size
 *   `concurrency` and `memoryMb` before deploying. Each level is a fresh
 *   process of the real fleet (ops/loadtest/fleetRun.ts); the site runs in
 *   this one.
 * - with `--stack`, `--outputs` or `--local`: a load test of that fleet as it
 *   runs, `--count` messages for a `--target` the operator names, watched
 *   until drained (ops/loadtest/deployed.ts).
 */
import { resolve } from "node:path";
import { writeChart } from "../charts/render";
import { OPS_EXIT_CODES, type CommandIo, type FleetCommand, type OpsExitCode } from "../command";
import { deployedLoadTestChartSpec, formatLoadTest, parseTarget, runDeployedLoadTest } from "../loadtest/deployed";
import { runLocalFleet, type FleetRunReport } from "../loadtest/fleetRun";
import { startProfileSite } from "../loadtest/site";
import { OpsUsageError } from "../errors";
import { guarded, withBackend } from "../run";
import { DEFAULT_SITE, parseLatency, type SiteProfile } from "../simulate/site";
import { flagsOrExit, type FlagValues } from "./parseFlags";

/** Flags of the local load test only. */
const LOCAL_FLAGS = {
  levels: { kind: "string" },
  pages: { kind: "integer", min: 1, max: 1_000_000 },
  latency: { kind: "string" },
  "failure-rate": { kind: "number", min: 0, max: 0.99 },
  hosts: { kind: "integer", min: 1, max: 1000 },
  "page-bytes": { kind: "integer", min: 100, max: 10_000_000 },
  delay: { kind: "integer", min: 0, max: 600_000 },
} as const;

/** Flags of the load test of a running fleet only. */
const FLEET_FLAGS = {
  target: { kind: "string" },
  count: { kind: "integer", min: 1, max: 1_000_000 },
  interval: { kind: "number", min: 0.1, max: 3_600 },
  timeout: { kind: "number", min: 1, max: 604_800 },
  window: { kind: "integer", min: 1, max: 60 },
  "in-flight": { kind: "integer", min: 1, max: 64 },
  config: { kind: "string" },
} as const;

const FLAGS = {
  ...LOCAL_FLAGS,
  ...FLEET_FLAGS,
  stack: { kind: "string" },
  outputs: { kind: "string" },
  local: { kind: "string" },
  json: { kind: "switch" },
  chart: { kind: "string" },
  help: { kind: "switch" },
} as const;

export const DEFAULT_LEVELS = [1, 4, 16, 64, 256] as const;

/**
 * Seconds between status reads of a deployed fleet: CloudWatch, Azure Monitor
 * and Cloud Monitoring hold the fleet's figures per minute and show them a
 * minute or more late, so reading more often adds calls, not detail
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_concepts.html#Metric,
 * https://cloud.google.com/monitoring/api/metrics_gcp_p_z#gcp-pubsub).
 * A local fleet's queue is read directly, at once.
 */
export const DEFAULT_INTERVAL_SECONDS = { cloud: 15, local: 2 } as const;
/** The watch's default limit: an hour from the first send. */
export const DEFAULT_TIMEOUT_SECONDS = 3_600;
/** Minutes each reading's rate and outcome shares cover. */
export const DEFAULT_WINDOW_MINUTES = 5;

const HELP = `usage: npm run fleet -- loadtest [--levels 1,4,16,64,256] [--pages N] [--latency 50-400] [--failure-rate 0] [--hosts 20] [--page-bytes 20000] [--delay 0] [--json] [--chart FILE]
       npm run fleet -- loadtest (--stack NAME | --outputs FILE | --local DIR) --target URL --count N [--interval S] [--timeout S] [--window MIN] [--json] [--chart FILE]

Without a fleet named: serves a site on 127.0.0.1 (--hosts ports, each page
after --latency ms, a share --failure-rate answered 503, --page-bytes of HTML)
and runs the local fleet over it once per concurrency level, each in a fresh
process. Prints per level: pages per second, time per page (p50, p95, p99), CPU
per page and the fleet process's peak memory.

  --levels L,...   concurrencies from 1 to 256 (default ${DEFAULT_LEVELS.join(",")})
  --pages N        pages per level (default: 20 per unit of concurrency, 40 to 1,000)
  --delay MS       perDomainDelayMs for the run (default 0: measure the fleet, not the politeness)
  --chart FILE     SVG: throughput and p95 per level

With --stack NAME, --outputs FILE or --local DIR: loads that fleet as it runs.
Sends --count messages for --target through the work queue (as \`enqueue\`
does: the queue's largest batches, refused entries re-sent), each URL made
distinct with ?loadtest=<run>-<n> so no queue or store folds them into one,
then reads \`status\` every --interval seconds until the backlog and the
messages in flight are gone, --timeout passes or Ctrl-C. Prints the readings
over time: backlog, in flight, dead letters, messages drained a minute since
the reading before, and the fleet's pages per minute and outcome shares.
--target and --count are required: there is no default target. Load only a
site you own or may load: every message is a real fetch by the fleet, paced
only by the stack's perDomainDelayMs per worker.

  --target URL     the page to fetch, an absolute http(s) URL on your host (required)
  --count N        messages to send, 1 to 1,000,000 (required)
  --interval S     seconds between status reads, 0.1 to 3,600 (default ${DEFAULT_INTERVAL_SECONDS.cloud} for a
                   stack, whose metrics are per minute; ${DEFAULT_INTERVAL_SECONDS.local} for --local)
  --timeout S      stop watching this many seconds after the first send, drained or not
                   (default ${DEFAULT_TIMEOUT_SECONDS}); the messages stay queued
  --window MIN     minutes each reading's pages/min and outcome shares cover, 1 to 60 (default ${DEFAULT_WINDOW_MINUTES})
  --in-flight N    batches sent at once, 1 to 64 (default: the backend's)
  --config FILE    with --local: the settings file the local fleet runs with
  --json           the run and every reading as JSON
  --chart FILE     SVG: backlog and in flight, pages per minute and outcome shares over time

Exit codes: 0 done, 1 failed (the output says which), 2 usage error (nothing run
or sent), 3 credentials missing or refused, 130 interrupted. Failed: a level's
run failed, the fleet had not drained at --timeout, or the queue refused messages.`;

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
  summary: "the local fleet on a loopback site at concurrencies 1 to 256, or a running fleet loaded with --count pages of your --target",
  help: HELP,
  async run(args, io) {
    const parsed = flagsOrExit(args, FLAGS, "loadtest", HELP, io);
    if ("exit" in parsed) return parsed.exit;
    const { flags } = parsed;
    const usage = (message: string) => {
      io.stderr.write(`loadtest: ${message}\n`);
      return OPS_EXIT_CODES.usage;
    };
    const given = (names: readonly string[]) => names.filter((name) => flags[name] !== undefined).map((name) => `--${name}`);
    const fleetNamed = given(["stack", "outputs", "local"]);
    if (fleetNamed.length > 0) {
      const localOnly = given(Object.keys(LOCAL_FLAGS));
      if (localOnly.length > 0) return usage(`${localOnly.join(", ")} belong to the local load test on a loopback site; with ${fleetNamed.join(", ")} the load is --count messages for --target`);
      return loadRunningFleet(flags, io);
    }
    const fleetOnly = given(Object.keys(FLEET_FLAGS));
    if (fleetOnly.length > 0) return usage(`${fleetOnly.join(", ")} go with the fleet to load: add --stack NAME, --outputs FILE or --local DIR (without one, loadtest runs the local fleet on a loopback site)`);
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

/** `--stack`, `--outputs` or `--local`: the load test of a running fleet. Refuses to start without --target and --count. */
async function loadRunningFleet(flags: FlagValues, io: CommandIo): Promise<OpsExitCode> {
  const text = (name: string): string | undefined => (typeof flags[name] === "string" ? (flags[name] as string) : undefined);
  const fleet = text("stack") !== undefined ? `--stack ${text("stack")}` : text("outputs") !== undefined ? `--outputs ${text("outputs")}` : `--local ${text("local")}`;
  if (text("target") === undefined) {
    io.stderr.write(`loadtest: ${fleet} needs --target URL, the page the fleet will fetch --count times; there is no default target. Name a page on a host you own: --target https://your-host.example/page\n`);
    return OPS_EXIT_CODES.usage;
  }
  if (typeof flags.count !== "number") {
    io.stderr.write(`loadtest: ${fleet} needs --count N, how many messages to send for --target (1 to 1,000,000), such as --count 1000\n`);
    return OPS_EXIT_CODES.usage;
  }
  const count = flags.count;
  let target: URL;
  try {
    target = parseTarget(text("target") as string, { allowPrivateNetworks: text("local") !== undefined });
  } catch (error) {
    if (!(error instanceof OpsUsageError)) throw error;
    io.stderr.write(`loadtest: ${error.message}\n`);
    return OPS_EXIT_CODES.usage;
  }
  return guarded("loadtest", io, async () => {
    const local = text("local") !== undefined;
    const intervalSeconds = typeof flags.interval === "number" ? flags.interval : local ? DEFAULT_INTERVAL_SECONDS.local : DEFAULT_INTERVAL_SECONDS.cloud;
    const targetFlags = { stack: text("stack"), outputs: text("outputs"), local: text("local"), config: text("config") };
    // As `enqueue` does: a local fleet's run drains its queue and ends, so the
    // queue is filled first and `npm start -- --out DIR` started beside the watch.
    return withBackend(targetFlags, io, { createLocal: true }, async (backend) => {
      const report = await runDeployedLoadTest({
        backend,
        target,
        count,
        intervalMs: intervalSeconds * 1_000,
        timeoutMs: (typeof flags.timeout === "number" ? flags.timeout : DEFAULT_TIMEOUT_SECONDS) * 1_000,
        windowMinutes: typeof flags.window === "number" ? flags.window : DEFAULT_WINDOW_MINUTES,
        io,
        ...(typeof flags["in-flight"] === "number" ? { inFlight: flags["in-flight"] } : {}),
      });
      if (flags.json) io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else io.stdout.write(formatLoadTest(report));
      const chart = text("chart");
      if (chart !== undefined) {
        const file = resolve(io.cwd, chart);
        await writeChart(file, deployedLoadTestChartSpec(report));
        io.stderr.write(`loadtest: chart written to ${file}\n`);
      }
      if (report.end === "interrupted") return OPS_EXIT_CODES.interrupted;
      if (report.end === "timeout") {
        const last = report.series.at(-1);
        io.stderr.write(`loadtest: ${backend.description} had not drained when --timeout ${report.seconds.toFixed(0)} s ended the watch (backlog ${last?.backlog ?? "unknown"}, in flight ${last?.inFlight ?? "–"}); the messages stay queued. Watch on with \`npm run fleet -- status ${fleet} --watch\`, or give a longer --timeout next time\n`);
        return OPS_EXIT_CODES.failed;
      }
      return report.failed > 0 ? OPS_EXIT_CODES.failed : OPS_EXIT_CODES.ok;
    });
  });
}

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
