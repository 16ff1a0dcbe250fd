/**
 * `npm run fleet -- cost --stack NAME`: dollars per million pages for the
 * stack's own configuration, line by line, on the three clouds side by side
 * and for the seed's one-page-per-invocation design, with the free tiers
 * apart. See ops/cost/model.ts for the arithmetic and ops/cost/prices/ for the
 * prices and their sources.
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { CLOUDS, type Cloud } from "../../infra/contract";
import { UnknownStackError } from "../../infra/mockRun";
import { SettingsError, describeError } from "../../shared/errors";
import { writeChart } from "../charts/render";
import type { FetchLatency } from "../backend";
import { OPS_EXIT_CODES, type CommandIo, type FleetCommand, type OpsExitCode } from "../command";
import { exitCodeOf } from "../errors";
import { openBackend, type TargetFlags } from "../target";
import { measurePageInputs, type MeasuredInputs } from "../cost/measure";
import { estimate, type CloudEstimate, type LineGroup, type PageInputs } from "../cost/model";
import { applyPriceOverrides, PricesFileError } from "../cost/overrides";
import { PRICE_TABLES, type PriceTable } from "../cost/prices";
import { readStackShape, type StackShape } from "../cost/stack";
import { flagsOrExit, type FlagValues } from "./parseFlags";

/** The time one page takes on the web when `--page-ms` is not given: a typical article fetched with robots.txt cached. */
export const DEFAULT_PAGE_MS = 1000;
/** The month's pages when neither `--pages` nor the stack's rate gives them. */
export const DEFAULT_PAGES = 1_000_000;
/** Minutes of the stack's metrics `--measured` reads by default. */
export const DEFAULT_MEASURED_WINDOW_MINUTES = 60;
/** A month as the cost model bills it, in minutes: 30 days. */
const MINUTES_A_MONTH = 30 * 24 * 60;

const FLAGS = {
  stack: { kind: "string" },
  pages: { kind: "integer", min: 1, max: 1e12 },
  prices: { kind: "string" },
  json: { kind: "switch" },
  chart: { kind: "string" },
  "page-ms": { kind: "integer", min: 1, max: 900_000 },
  "cpu-ms": { kind: "number", min: 0, max: 900_000 },
  measured: { kind: "switch" },
  outputs: { kind: "string" },
  window: { kind: "integer", min: 1, max: 1_440 },
  help: { kind: "switch" },
} as const;

const HELP = `usage: npm run fleet -- cost --stack NAME [--pages N] [--prices FILE] [--page-ms MS] [--cpu-ms MS] [--json] [--chart FILE]
       npm run fleet -- cost --stack NAME --measured [--outputs FILE] [--window MINUTES] [same options]

Dollars per million pages for the stack's configuration (Pulumi.<stack>.yaml:
memoryMb, messagesPerWorker, settings.concurrency, storeRawHtml, resultBatchMaxRecords and
resultBatchWindowMs, log retention),
line by line, on AWS, Azure and Google Cloud side by side, and for the seed's
design (one page per invocation). Free tiers are listed apart. Nothing is
fetched: prices come from ops/cost/prices/ (each row with its source and date).

The per-page inputs are measured on this machine before the table is printed:
the fleet's own code scrapes a ~100 KB loopback page and its log lines, result
record and CPU time are counted. The time a page takes on the web is not
measurable here; give yours with --page-ms (default ${DEFAULT_PAGE_MS}), or read the
deployed stack's own with --measured.

  --stack NAME     the stack (Pulumi.NAME.yaml), required
  --pages N        pages in the month (default ${DEFAULT_PAGES.toLocaleString("en-US")})
  --prices FILE    JSON prices over the built-in ones: {"aws": {"store.write": 0.000005}}
  --page-ms MS     wall time of one page on the web (default ${DEFAULT_PAGE_MS})
  --cpu-ms MS      CPU per page instead of the measured figure
  --json           the estimates as JSON, every line with its quantity and price row
  --chart FILE     an SVG bar chart of the lines per cloud and design
  --measured       read per-page inputs from the deployed stack's own metrics (what
                   \`status\` reads: CloudWatch, Log Analytics, Cloud Monitoring): the
                   average time to fetch a page (FetchLatencyMs) as the page's time on
                   the web, and the pages finished per minute, times 30 days, as the
                   month's pages. The stack publishes no CPU time, record size or log
                   bytes a page: those stay measured on this machine.
  --outputs FILE   with --measured: the stack's saved outputs (\`pulumi stack output
                   --json\`) instead of asking the Pulumi CLI
  --window MIN     with --measured: minutes of metrics to read, 1 to 1,440 (default ${DEFAULT_MEASURED_WINDOW_MINUTES})

Which figure wins: the time on the web is --page-ms, else the stack's average
fetch time (--measured, when it fetched any page in the window), else ${DEFAULT_PAGE_MS} ms;
CPU a page is --cpu-ms, else this machine's measurement; the month's pages are
--pages, else the stack's rate × 30 days (--measured, when it finished any),
else ${DEFAULT_PAGES.toLocaleString("en-US")}. The output says where each came from.

Exit codes: 0 done, 1 the stack's metrics could not be read, 2 usage or stack
config error (nothing run), 3 credentials missing or refused (--measured).`;

export const costCommand: FleetCommand = {
  name: "cost",
  summary: "dollars per million pages for a stack, on the three clouds and for one page per invocation",
  help: HELP,
  async run(args, io) {
    const parsed = flagsOrExit(args, FLAGS, "cost", HELP, io);
    if ("exit" in parsed) return parsed.exit;
    const { flags } = parsed;
    if (typeof flags.stack !== "string") {
      io.stderr.write("cost: --stack NAME is required (the stack whose Pulumi.NAME.yaml to price)\n");
      return OPS_EXIT_CODES.usage;
    }
    if (!flags.measured) {
      const stray = ["outputs", "window"].filter((name) => flags[name] !== undefined);
      if (stray.length > 0) {
        io.stderr.write(`cost: ${stray.map((name) => `--${name}`).join(", ")} go with --measured (reading the deployed stack's metrics); add --measured, or leave them out\n`);
        return OPS_EXIT_CODES.usage;
      }
    }
    const prepared = await prepare("cost", flags.stack, typeof flags.prices === "string" ? flags.prices : undefined, io);
    if (typeof prepared === "number") return prepared;
    const { shape, tables } = prepared;

    let fromStack: StackMeasurement | undefined;
    if (flags.measured) {
      const windowMinutes = typeof flags.window === "number" ? flags.window : DEFAULT_MEASURED_WINDOW_MINUTES;
      const target = typeof flags.outputs === "string" ? { outputs: flags.outputs } : { stack: shape.stack };
      try {
        fromStack = await readStackMeasurement(target, { expected: shape.cloud, why: `Pulumi.${shape.stack}.yaml` }, windowMinutes, io);
      } catch (error) {
        io.stderr.write(`cost: --measured: ${describeError(error)}\n`);
        return exitCodeOf(error);
      }
      if (fromStack.fetchLatency === undefined && flags["page-ms"] === undefined) {
        io.stderr.write(`cost: ${fromStack.fleet} fetched no page in the last ${windowMinutes} min, so the time on the web stays assumed (${DEFAULT_PAGE_MS} ms); pass --window with a busier span, or --page-ms\n`);
      }
    }

    const measured = await measurePageInputs({ batchSize: shape.messagesPerWorker, fleetName: `scrape-fleet-${shape.stack}` });
    const inputs = pageInputs(measured, flags, fromStack?.fetchLatency?.averageMs);
    const month = monthPages(flags, fromStack);
    const origins = inputOrigins(flags, fromStack, month.origin);
    const report = costReport(shape, inputs, tables, month.pages);

    if (flags.json) io.stdout.write(`${JSON.stringify({ stack: shape, pages: month.pages, inputs, origins, ...(fromStack === undefined ? {} : { fromStack }), measured, estimates: report }, null, 2)}\n`);
    else io.stdout.write(formatCostTable(shape, inputs, measured, report, tables, origins, fromStack));
    if (typeof flags.chart === "string") {
      const file = resolve(io.cwd, flags.chart);
      await writeChart(file, costChartSpec(shape.stack, report));
      io.stderr.write(`cost: chart written to ${file}\n`);
    }
    return OPS_EXIT_CODES.ok;
  },
};

/** The stack and the price tables, or the exit code after the error was written. */
export async function prepare(command: string, stack: string, pricesFile: string | undefined, io: CommandIo): Promise<{ shape: StackShape; tables: Record<Cloud, PriceTable> } | OpsExitCode> {
  let shape: StackShape;
  try {
    shape = readStackShape(stack);
  } catch (error) {
    if (!(error instanceof UnknownStackError || error instanceof SettingsError)) throw error;
    io.stderr.write(`${command}: ${error.message}\n`);
    return OPS_EXIT_CODES.usage;
  }
  let tables: Record<Cloud, PriceTable> = { ...PRICE_TABLES };
  if (pricesFile !== undefined) {
    const file = resolve(io.cwd, pricesFile);
    try {
      tables = applyPriceOverrides(tables, await readFile(file, "utf8"), pricesFile, new Date().toISOString().slice(0, 10));
    } catch (error) {
      if (error instanceof PricesFileError) io.stderr.write(`${command}: ${error.message}\n`);
      else io.stderr.write(`${command}: --prices ${pricesFile} cannot be read (${describeError(error)}); pass a JSON file you can read\n`);
      return OPS_EXIT_CODES.usage;
    }
  }
  return { shape, tables };
}

/** What `--measured` read from the deployed stack: `status` over the window. */
export interface StackMeasurement {
  /** The fleet, as the backend names it (`aws stack aws-prod`). */
  readonly fleet: string;
  readonly windowMinutes: number;
  readonly pagesPerMinute?: number;
  readonly outcomes?: Readonly<Record<string, number>>;
  readonly fetchLatency?: FetchLatency;
}

/** Reads the stack's figures through its operations backend, the same reads as `status`. */
export async function readStackMeasurement(target: TargetFlags, cloud: { readonly expected: Cloud; readonly why: string }, windowMinutes: number, io: CommandIo): Promise<StackMeasurement> {
  const backend = await openBackend(target, io, { cloud });
  try {
    const status = await backend.status(windowMinutes);
    return {
      fleet: backend.description,
      windowMinutes,
      ...(status.pagesPerMinute === undefined ? {} : { pagesPerMinute: status.pagesPerMinute }),
      ...(status.outcomes === undefined ? {} : { outcomes: status.outcomes }),
      ...(status.fetchLatency === undefined ? {} : { fetchLatency: status.fetchLatency }),
    };
  } finally {
    await backend.close();
  }
}

/** Where each input the stack could give came from; the rest are always this machine's (see `formatCostTable`). */
export interface InputOrigins {
  readonly wallMs: "--page-ms" | "stack" | "assumed";
  readonly cpuMs: "--cpu-ms" | "this machine";
  readonly pages: "--pages" | "stack" | "assumed";
}

/** The month's pages: `--pages`, else the stack's finished pages a minute × 30 days, else the default. */
export function monthPages(flags: FlagValues, fromStack: StackMeasurement | undefined): { readonly pages: number; readonly origin: InputOrigins["pages"] } {
  if (typeof flags.pages === "number") return { pages: flags.pages, origin: "--pages" };
  const perMinute = fromStack?.pagesPerMinute ?? 0;
  if (perMinute > 0) return { pages: Math.round(perMinute * MINUTES_A_MONTH), origin: "stack" };
  return { pages: DEFAULT_PAGES, origin: "assumed" };
}

export function inputOrigins(flags: FlagValues, fromStack: StackMeasurement | undefined, pages: InputOrigins["pages"]): InputOrigins {
  return {
    wallMs: typeof flags["page-ms"] === "number" ? "--page-ms" : fromStack?.fetchLatency !== undefined ? "stack" : "assumed",
    cpuMs: typeof flags["cpu-ms"] === "number" ? "--cpu-ms" : "this machine",
    pages,
  };
}

/** The model's inputs: the flags first, then the stack's average fetch time (`--measured`), then this machine's measurements and the defaults. */
export function pageInputs(measured: MeasuredInputs, flags: FlagValues, stackFetchMs?: number): PageInputs {
  return {
    wallMs: typeof flags["page-ms"] === "number" ? flags["page-ms"] : (stackFetchMs ?? DEFAULT_PAGE_MS),
    cpuMs: typeof flags["cpu-ms"] === "number" ? flags["cpu-ms"] : measured.cpuMsPerPage,
    resultBytes: measured.resultBytes,
    rawBytes: measured.rawBytes,
    messageBytes: measured.messageBytes,
    awsLogBytesPerPage: measured.aws.bytesPerPage,
    awsLogEventsPerPage: measured.aws.eventsPerPage,
    awsLogBytesPerInvocation: measured.aws.bytesPerInvocation,
    gcpLogBytesPerPage: measured.gcp.bytesPerPage,
    gcpLogEventsPerPage: measured.gcp.eventsPerPage,
    azureLogBytesPerPage: measured.azure.bytesPerPage,
    azureLogBytesPerWindow: measured.azure.bytesPerWindow,
  };
}

export interface CostReport {
  readonly fleet: Readonly<Record<Cloud, CloudEstimate>>;
  readonly seed: Readonly<Record<Cloud, CloudEstimate>>;
}

export function costReport(shape: StackShape, inputs: PageInputs, tables: Readonly<Record<Cloud, PriceTable>>, pages: number): CostReport {
  const of = (design: "fleet" | "seed") => Object.fromEntries(CLOUDS.map((cloud) => [cloud, estimate(cloud, shape, inputs, tables[cloud], pages, design)])) as Record<Cloud, CloudEstimate>;
  return { fleet: of("fleet"), seed: of("seed") };
}

const ORIGIN_WORDS: Readonly<Record<InputOrigins[keyof InputOrigins], string>> = {
  "--page-ms": "--page-ms",
  "--cpu-ms": "--cpu-ms",
  "--pages": "--pages",
  stack: "the stack's metrics",
  "this machine": "measured on this machine",
  assumed: "assumed",
};

const GROUPS: readonly LineGroup[] = ["compute", "requests", "queue", "result writes", "storage", "log ingestion", "log storage", "config reads"];
const MONTHLY_GROUPS: readonly LineGroup[] = ["queue", "queue base", "config reads", "metrics", "alarms", "dashboard"];

function usd(value: number): string {
  if (value === 0) return "0";
  return value >= 100 ? `$${value.toFixed(0)}` : value >= 0.01 ? `$${value.toFixed(2)}` : `$${value.toPrecision(2)}`;
}

function groupUsd(lines: CloudEstimate["variable"], group: LineGroup): number {
  return lines.filter((line) => line.group === group).reduce((total, line) => total + line.usd, 0);
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  return rows.map((row) => row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]) : cell.padStart(widths[column]))).join("   ").trimEnd()).join("\n");
}

/** Where the inputs came from, in words: the stack's figures first, then this machine's, then what stays assumed. */
function describeOrigins(shape: StackShape, inputs: PageInputs, measured: MeasuredInputs, origins: InputOrigins, fromStack: StackMeasurement | undefined, pages: number): string[] {
  const lines: string[] = [];
  const count = (value: number) => Math.round(value).toLocaleString("en-US");
  if (fromStack !== undefined) {
    const outcomes = fromStack.outcomes ?? {};
    const total = Object.values(outcomes).reduce((sum, value) => sum + value, 0);
    const shares = Object.entries(outcomes)
      .filter(([, value]) => value > 0)
      .map(([name, value]) => `${name} ${Math.round((value / total) * 100)} %`)
      .join(", ");
    const read = [
      fromStack.fetchLatency === undefined ? "no page fetched" : `${count(fromStack.fetchLatency.pages)} pages fetched in ${Math.round(fromStack.fetchLatency.averageMs)} ms on average (FetchLatencyMs)`,
      fromStack.pagesPerMinute === undefined ? "no page rate published" : `${fromStack.pagesPerMinute.toFixed(1)} pages finished a minute${shares === "" ? "" : ` (${shares})`}`,
    ];
    lines.push(`  from ${fromStack.fleet}, last ${fromStack.windowMinutes} min: ${read.join("; ")}`);
    const used = [
      origins.wallMs === "stack" ? "the average fetch time as the time on the web (robots.txt, cached per origin, and the wait for a host's turn are not in it)" : undefined,
      origins.pages === "stack" ? `that rate × 30 days as the month's pages (${count(pages)})` : undefined,
    ].filter((text): text is string => text !== undefined);
    lines.push(`    used: ${used.length > 0 ? used.join("; ") : "nothing (the flags or the defaults win; see --help)"}`);
    const retries = (outcomes.retry ?? 0) + (outcomes.malformed ?? 0);
    if (retries > 0) lines.push(`    ${Math.round((retries / total) * 100)} % of the stack's deliveries were sent back (retry, malformed): each is one more delivery, which the figures below do not price`);
  }
  const machine = [origins.cpuMs === "this machine" ? "CPU a page" : undefined, "the result record", "raw HTML", "the fleet's log lines"].filter((text): text is string => text !== undefined);
  lines.push(`  measured on this machine over ${measured.pages} loopback pages of ~100 KB: ${machine.join(", ")}${fromStack === undefined ? "" : " (the stack publishes none of these)"}; Azure takes the stack's memory rounded up to a Flex size, Google Cloud ${shape.gcpCpu} vCPU`);
  const assumed = [
    origins.wallMs === "assumed" ? `${inputs.wallMs} ms on the web (set --page-ms${fromStack === undefined ? ", or read the stack's with --measured" : ""})` : undefined,
    origins.pages === "assumed" ? `${count(pages)} pages in the month (set --pages)` : undefined,
    "what the platforms log around the fleet's lines (ops/cost/model.ts, with sources)",
  ].filter((text): text is string => text !== undefined);
  lines.push(`  assumed: ${assumed.join("; ")}`);
  return lines;
}

export function formatCostTable(shape: StackShape, inputs: PageInputs, measured: MeasuredInputs, report: CostReport, tables: Readonly<Record<Cloud, PriceTable>>, origins: InputOrigins, fromStack?: StackMeasurement): string {
  const header = ["", ...CLOUDS.map((cloud) => `${cloud}${cloud === shape.cloud ? " (this stack)" : ""}`)];
  const perMillion = (estimateOf: CloudEstimate, value: number) => (value / estimateOf.pages) * 1e6;
  const rows: string[][] = [["dollars per million pages", ...header.slice(1)]];
  for (const group of GROUPS) rows.push([group, ...CLOUDS.map((cloud) => usd(perMillion(report.fleet[cloud], groupUsd(report.fleet[cloud].variable, group))))]);
  rows.push(["total, this fleet", ...CLOUDS.map((cloud) => usd(report.fleet[cloud].perMillionUsd))]);
  rows.push(["total, one page per invocation", ...CLOUDS.map((cloud) => usd(report.seed[cloud].perMillionUsd))]);
  rows.push(["batching and concurrency save", ...CLOUDS.map((cloud) => `${Math.round((1 - report.fleet[cloud].perMillionUsd / report.seed[cloud].perMillionUsd) * 100)} %`)]);

  const monthRows: string[][] = [[`per month, whatever the pages`, ...header.slice(1)]];
  for (const group of MONTHLY_GROUPS) {
    const values = CLOUDS.map((cloud) => groupUsd(report.fleet[cloud].monthly, group));
    if (values.some((value) => value > 0)) monthRows.push([group, ...values.map(usd)]);
  }
  monthRows.push(["free tiers (taken off)", ...CLOUDS.map((cloud) => `-${usd(report.fleet[cloud].freeUsd)}`)]);
  const pages = report.fleet.aws.pages.toLocaleString("en-US");
  monthRows.push([`this month, ${pages} pages`, ...CLOUDS.map((cloud) => usd(report.fleet[cloud].monthTotalUsd))]);

  const own = report.fleet[shape.cloud];
  const largest = [...GROUPS].map((group) => ({ group, usd: groupUsd(own.variable, group) })).sort((a, b) => b.usd - a.usd)[0];
  const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
  const lines = [
    `cost of the stack ${shape.stack} (${shape.cloud}, ${shape.region}): memoryMb ${shape.memoryMb}, messagesPerWorker ${shape.messagesPerWorker}, concurrency ${shape.settings.concurrency}, storeRawHtml ${shape.settings.storeRawHtml}, ${describeBatching(shape)}, logs kept ${shape.logRetentionDays} days`,
    `per page: ${Math.round(inputs.wallMs)} ms on the web (${ORIGIN_WORDS[origins.wallMs]}), ${inputs.cpuMs.toFixed(1)} ms CPU (${ORIGIN_WORDS[origins.cpuMs]}), record ${kb(inputs.resultBytes)}, raw HTML ${kb(inputs.rawBytes)} gzip; fleet log lines ${Math.round(inputs.awsLogBytesPerPage)} B (AWS), ${Math.round(inputs.azureLogBytesPerPage)} B (Azure), ${Math.round(inputs.gcpLogBytesPerPage)} B (Google Cloud)`,
    ...describeOrigins(shape, inputs, measured, origins, fromStack, report.fleet.aws.pages),
    "",
    table(rows),
    "",
    table(monthRows),
    "",
    `largest line on ${shape.cloud}: ${largest.group}, ${usd(perMillion(own, largest.usd))} of ${usd(own.perMillionUsd)} per million pages (${Math.round((largest.usd / own.variableUsd) * 100)} %)`,
    `prices: list prices read ${[...new Set(CLOUDS.flatMap((cloud) => tables[cloud].rows.map((row) => row.read)))].join(", ")}, each row's source in ops/cost/prices/ (--json prints every line with its price row); override with --prices FILE`,
    "",
  ];
  return lines.join("\n");
}

function describeBatching(shape: StackShape): string {
  const { resultBatchMaxRecords: maxRecords, resultBatchWindowMs: windowMs } = shape.settings;
  return maxRecords === 1 ? "one object a record" : `records batched (resultBatchMaxRecords ${maxRecords}, resultBatchWindowMs ${windowMs})`;
}

/** Stacked bars: dollars per million pages by line, one bar per cloud and design. */
export function costChartSpec(stack: string, report: CostReport) {
  const values = (["fleet", "seed"] as const).flatMap((design) =>
    CLOUDS.flatMap((cloud) => {
      const estimateOf = report[design][cloud];
      return GROUPS.map((group) => ({ bar: `${cloud} ${design === "fleet" ? "fleet" : "1 page/invocation"}`, line: group, usd: (groupUsd(estimateOf.variable, group) / estimateOf.pages) * 1e6 }));
    }),
  );
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: `dollars per million pages, stack ${stack}`,
    width: 480,
    height: 320,
    data: { values },
    mark: "bar",
    encoding: {
      x: { field: "bar", type: "nominal", title: null, sort: null },
      y: { field: "usd", type: "quantitative", title: "US dollars per million pages", aggregate: "sum" },
      color: { field: "line", type: "nominal", title: "line" },
    },
  } as const;
}
