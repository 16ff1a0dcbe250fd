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
import { OPS_EXIT_CODES, type CommandIo, type FleetCommand, type OpsExitCode } from "../command";
import { measurePageInputs, type MeasuredInputs } from "../cost/measure";
import { estimate, type CloudEstimate, type LineGroup, type PageInputs } from "../cost/model";
import { applyPriceOverrides, PricesFileError } from "../cost/overrides";
import { PRICE_TABLES, type PriceTable } from "../cost/prices";
import { readStackShape, type StackShape } from "../cost/stack";
import { flagsOrExit, type FlagValues } from "./parseFlags";

/** The time one page takes on the web when `--page-ms` is not given: a typical article fetched with robots.txt cached. */
export const DEFAULT_PAGE_MS = 1000;

const FLAGS = {
  stack: { kind: "string" },
  pages: { kind: "integer", min: 1, max: 1e12 },
  prices: { kind: "string" },
  json: { kind: "switch" },
  chart: { kind: "string" },
  "page-ms": { kind: "integer", min: 1, max: 900_000 },
  "cpu-ms": { kind: "number", min: 0, max: 900_000 },
  measured: { kind: "switch" },
  help: { kind: "switch" },
} as const;

const HELP = `usage: npm run fleet -- cost --stack NAME [--pages N] [--prices FILE] [--page-ms MS] [--cpu-ms MS] [--json] [--chart FILE]

Dollars per million pages for the stack's configuration (Pulumi.<stack>.yaml:
memoryMb, messagesPerWorker, settings.concurrency, storeRawHtml, resultBatchMaxRecords and
resultBatchWindowMs, log retention),
line by line, on AWS, Azure and Google Cloud side by side, and for the seed's
design (one page per invocation). Free tiers are listed apart. Nothing is
fetched: prices come from ops/cost/prices/ (each row with its source and date).

The per-page inputs are measured on this machine before the table is printed:
the fleet's own code scrapes a ~100 KB loopback page and its log lines, result
record and CPU time are counted. The time a page takes on the web is not
measurable here; give yours with --page-ms (default ${DEFAULT_PAGE_MS}).

  --stack NAME     the stack (Pulumi.NAME.yaml), required
  --pages N        pages in the month (default 1,000,000)
  --prices FILE    JSON prices over the built-in ones: {"aws": {"store.write": 0.000005}}
  --page-ms MS     wall time of one page on the web (default ${DEFAULT_PAGE_MS})
  --cpu-ms MS      CPU per page instead of the measured figure
  --json           the estimates as JSON, every line with its quantity and price row
  --chart FILE     an SVG bar chart of the lines per cloud and design
  --measured       (not available yet) per-page inputs from a deployed stack's metrics

Exit codes: 0 done, 2 usage or stack config error (nothing run).`;

export const costCommand: FleetCommand = {
  name: "cost",
  summary: "dollars per million pages for a stack, on the three clouds and for one page per invocation",
  help: HELP,
  async run(args, io) {
    const parsed = flagsOrExit(args, FLAGS, "cost", HELP, io);
    if ("exit" in parsed) return parsed.exit;
    const { flags } = parsed;
    if (flags.measured) {
      io.stderr.write("cost: --measured is not in this build; give --page-ms and --cpu-ms from your dashboard instead (npm run fleet -- status --stack NAME shows pages per minute)\n");
      return OPS_EXIT_CODES.usage;
    }
    if (typeof flags.stack !== "string") {
      io.stderr.write("cost: --stack NAME is required (the stack whose Pulumi.NAME.yaml to price)\n");
      return OPS_EXIT_CODES.usage;
    }
    const prepared = await prepare("cost", flags.stack, typeof flags.prices === "string" ? flags.prices : undefined, io);
    if (typeof prepared === "number") return prepared;
    const { shape, tables } = prepared;

    const measured = await measurePageInputs({ batchSize: shape.messagesPerWorker, fleetName: `scrape-fleet-${shape.stack}` });
    const inputs = pageInputs(measured, flags);
    const pages = typeof flags.pages === "number" ? flags.pages : 1_000_000;
    const report = costReport(shape, inputs, tables, pages);

    if (flags.json) io.stdout.write(`${JSON.stringify({ stack: shape, pages, inputs, measured, estimates: report }, null, 2)}\n`);
    else io.stdout.write(formatCostTable(shape, inputs, measured, report, tables, flags["page-ms"] === undefined));
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

export function pageInputs(measured: MeasuredInputs, flags: FlagValues): PageInputs {
  return {
    wallMs: typeof flags["page-ms"] === "number" ? flags["page-ms"] : DEFAULT_PAGE_MS,
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

export function formatCostTable(shape: StackShape, inputs: PageInputs, measured: MeasuredInputs, report: CostReport, tables: Readonly<Record<Cloud, PriceTable>>, pageMsAssumed: boolean): string {
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
    `per page: ${inputs.wallMs} ms on the web (${pageMsAssumed ? "assumed; set --page-ms" : "--page-ms"}), ${inputs.cpuMs.toFixed(1)} ms CPU, record ${kb(inputs.resultBytes)}, raw HTML ${kb(inputs.rawBytes)} gzip; fleet log lines ${Math.round(inputs.awsLogBytesPerPage)} B (AWS), ${Math.round(inputs.azureLogBytesPerPage)} B (Azure), ${Math.round(inputs.gcpLogBytesPerPage)} B (Google Cloud)`,
    `  (measured on this machine over ${measured.pages} loopback pages of ~100 KB; Azure takes the stack's memory rounded up to a Flex size, Google Cloud ${shape.gcpCpu} vCPU)`,
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
