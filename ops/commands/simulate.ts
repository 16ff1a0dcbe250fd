/**
 * `npm run fleet -- simulate --stack NAME --backlog N`: the stack's fleet
 * draining a backlog, in simulated time (ops/simulate/), over a site profile;
 * prints the drain time, peak workers, throughput, backlog and oldest age over
 * time, dead letters and what the pages cost (ops/cost/model.ts).
 */
import { resolve } from "node:path";
import { writeChart } from "../charts/render";
import { OPS_EXIT_CODES, type FleetCommand } from "../command";
import { measurePageInputs } from "../cost/measure";
import { estimate } from "../cost/model";
import { simulate, type FleetShape, type Platform, type SimResult } from "../simulate/index";
import { DEFAULT_SITE, parseLatency, type SiteProfile } from "../simulate/site";
import { pageInputs, prepare } from "./cost";
import { flagsOrExit } from "./parseFlags";

const FLAGS = {
  stack: { kind: "string" },
  backlog: { kind: "integer", min: 1, max: 100_000_000 },
  latency: { kind: "string" },
  "failure-rate": { kind: "number", min: 0, max: 0.99 },
  hosts: { kind: "integer", min: 1, max: 1_000_000 },
  platform: { kind: "string" },
  seed: { kind: "integer", min: 1, max: 2 ** 31 },
  prices: { kind: "string" },
  json: { kind: "switch" },
  chart: { kind: "string" },
  help: { kind: "switch" },
} as const;

const PLATFORMS: readonly Platform[] = ["aws", "azure", "gcp", "local"];

const HELP = `usage: npm run fleet -- simulate --stack NAME --backlog N [--latency 50-400] [--failure-rate 0.05] [--hosts 20] [--platform aws|azure|gcp|local] [--seed N] [--json] [--chart FILE]

Simulates the stack's fleet (maxWorkers, messagesPerWorker, concurrency,
perDomainDelayMs, maxDeliveryAttempts from Pulumi.<stack>.yaml) draining a
backlog of N pages spread over --hosts hosts, each page taking --latency ms
(uniform) and failing for a moment (503) with --failure-rate. Each cloud
scales as its documentation says (sources in ops/simulate/<cloud>.ts); the
local model is checked against the real local fleet by a test.

  --platform P     simulate another platform with the stack's numbers (default: the stack's cloud)
  --seed N         the random draws (default 1); the same seed gives the same run
  --chart FILE     SVG: pages per second, backlog, workers and oldest age over time

Exit codes: 0 done, 2 usage or stack config error (nothing run).`;

export const simulateCommand: FleetCommand = {
  name: "simulate",
  summary: "time to drain a backlog with the stack's scaling, politeness and retries, and its cost",
  help: HELP,
  async run(args, io) {
    const parsed = flagsOrExit(args, FLAGS, "simulate", HELP, io);
    if ("exit" in parsed) return parsed.exit;
    const { flags } = parsed;
    const usage = (message: string) => {
      io.stderr.write(`simulate: ${message}\n`);
      return OPS_EXIT_CODES.usage;
    };
    if (typeof flags.stack !== "string") return usage("--stack NAME is required (the stack whose Pulumi.NAME.yaml to simulate)");
    if (typeof flags.backlog !== "number") return usage("--backlog N is required (the pages waiting on the queue)");
    const latency = typeof flags.latency === "string" ? parseLatency(flags.latency) : DEFAULT_SITE.latencyMs;
    if (latency === undefined) return usage(`--latency must be MS or MIN-MAX in milliseconds, such as 50-400 (given ${JSON.stringify(flags.latency)})`);
    const platform = flags.platform === undefined ? undefined : PLATFORMS.find((name) => name === flags.platform);
    if (flags.platform !== undefined && platform === undefined) return usage(`--platform must be one of ${PLATFORMS.join(", ")} (given ${JSON.stringify(flags.platform)})`);

    const prepared = await prepare("simulate", flags.stack, typeof flags.prices === "string" ? flags.prices : undefined, io);
    if (typeof prepared === "number") return prepared;
    const { shape, tables } = prepared;
    const site: SiteProfile = { latencyMs: latency, failureRate: typeof flags["failure-rate"] === "number" ? flags["failure-rate"] : DEFAULT_SITE.failureRate, hosts: typeof flags.hosts === "number" ? flags.hosts : DEFAULT_SITE.hosts };
    const fleet: FleetShape = {
      maxWorkers: shape.maxWorkers,
      messagesPerWorker: shape.messagesPerWorker,
      concurrency: shape.settings.concurrency,
      maxDeliveryAttempts: shape.maxDeliveryAttempts,
      functionTimeoutSeconds: shape.functionTimeoutSeconds,
      perDomainDelayMs: shape.settings.perDomainDelayMs,
      pageDeadlineMs: shape.settings.pageDeadlineMs,
    };
    const measured = await measurePageInputs({ batchSize: shape.messagesPerWorker, fleetName: `scrape-fleet-${shape.stack}` });
    const chosen = platform ?? shape.cloud;
    const result = simulate({ platform: chosen, fleet, site, backlog: flags.backlog, seed: typeof flags.seed === "number" ? flags.seed : 1, threadMsPerPage: measured.cpuMsPerPage });
    const costCloud = chosen === "local" ? shape.cloud : chosen;
    const wallMs = Math.round((latency.min + latency.max) / 2);
    const cost = estimate(costCloud, shape, pageInputs(measured, { "page-ms": wallMs }), tables[costCloud], flags.backlog, "fleet");

    if (flags.json) io.stdout.write(`${JSON.stringify({ platform: chosen, fleet, site, backlog: flags.backlog, result, cost }, null, 2)}\n`);
    else io.stdout.write(formatSimulation(shape.stack, chosen, fleet, site, flags.backlog, result, cost.variableUsd, costCloud));
    if (typeof flags.chart === "string") {
      const file = resolve(io.cwd, flags.chart);
      await writeChart(file, simulationChartSpec(`${shape.stack} on ${chosen}: ${flags.backlog.toLocaleString("en-US")} pages`, result));
      io.stderr.write(`simulate: chart written to ${file}\n`);
    }
    return OPS_EXIT_CODES.ok;
  },
};

function duration(seconds: number): string {
  if (seconds < 120) return `${seconds.toFixed(1)} s`;
  if (seconds < 7200) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

export function formatSimulation(stack: string, platform: Platform, fleet: FleetShape, site: SiteProfile, backlog: number, result: SimResult, usd: number, costCloud: string): string {
  const step = Math.max(1, Math.ceil(result.timeline.length / 12));
  const rows = result.timeline.filter((_, index) => index % step === 0 || index === result.timeline.length - 1);
  const lines = [
    `simulated ${backlog.toLocaleString("en-US")} pages on ${platform} with the stack ${stack}: maxWorkers ${fleet.maxWorkers}, messagesPerWorker ${fleet.messagesPerWorker}, concurrency ${fleet.concurrency}, perDomainDelayMs ${fleet.perDomainDelayMs}, maxDeliveryAttempts ${fleet.maxDeliveryAttempts}`,
    `site: ${site.latencyMs.min}-${site.latencyMs.max} ms a page, ${(site.failureRate * 100).toFixed(1)} % transient failures, ${site.hosts} hosts`,
    "",
    `time to drain      ${duration(result.drainSeconds)}`,
    `99 % of pages by   ${duration(result.ninetyNinePercentSeconds)}${result.drainSeconds > 2 * result.ninetyNinePercentSeconds ? " (the last pages wait out their retry backoff)" : ""}`,
    `throughput         ${result.pagesPerSecond.toFixed(1)} pages/s`,
    `peak workers       ${result.peakWorkers}`,
    `deliveries         ${result.deliveries.toLocaleString("en-US")} (${(result.deliveries / backlog).toFixed(2)} a page)`,
    `ok                 ${result.ok.toLocaleString("en-US")}`,
    `dead letters       ${result.deadLetters.toLocaleString("en-US")}`,
    `cost on ${costCloud.padEnd(10)} $${usd.toFixed(2)} for these pages (cost --stack ${stack} for the lines)`,
    "",
    "  time      pages/s   backlog   oldest age   workers",
    ...rows.map((point) => `  ${duration(point.second).padStart(8)}  ${String(point.pagesPerSecond).padStart(7)}  ${point.backlog.toLocaleString("en-US").padStart(8)}  ${duration(point.oldestAgeSeconds).padStart(11)}  ${String(point.workers).padStart(8)}`),
    "",
  ];
  return lines.join("\n");
}

/** One panel per measure over time, each with its own scale. */
export function simulationChartSpec(title: string, result: SimResult) {
  const step = Math.max(1, Math.ceil(result.timeline.length / 400));
  const values = result.timeline
    .filter((_, index) => index % step === 0)
    .flatMap((point) => [
      { second: point.second, measure: "pages per second", value: point.pagesPerSecond },
      { second: point.second, measure: "backlog", value: point.backlog },
      { second: point.second, measure: "workers", value: point.workers },
      { second: point.second, measure: "oldest message age (s)", value: point.oldestAgeSeconds },
    ]);
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title,
    data: { values },
    facet: { row: { field: "measure", type: "nominal", title: null } },
    spec: {
      width: 640,
      height: 120,
      mark: "line",
      encoding: {
        x: { field: "second", type: "quantitative", title: "seconds" },
        y: { field: "value", type: "quantitative", title: null },
      },
    },
    resolve: { scale: { y: "independent" } },
  } as const;
}
