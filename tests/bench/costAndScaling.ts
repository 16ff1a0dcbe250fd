/**
 * Part 4 of `npm run bench` (see run.ts): cost per million pages at the
 * default and the `*-prod` settings, the simulator against a real local run
 * of BENCH_CALIBRATION_PAGES pages, batched result records against one
 * object a record on the real local fleet (objects written, against the cost
 * model's records per object), and the local load-test curve.
 */
import { CLOUDS } from "../../infra/contract";
import { formatLevels, levelFigures, DEFAULT_LEVELS } from "../../ops/commands/loadtest";
import { measurePageInputs } from "../../ops/cost/measure";
import { estimate, resultBatching, type PageInputs } from "../../ops/cost/model";
import { PRICE_TABLES } from "../../ops/cost/prices";
import { readStackShape, shapeFromConfig, type StackShape } from "../../ops/cost/stack";
import { runLocalFleet } from "../../ops/loadtest/fleetRun";
import { startProfileSite } from "../../ops/loadtest/site";
import { calibrate } from "../../ops/simulate/calibrate";
import { pageInputs } from "../../ops/commands/cost";
import { DEFAULT_SETTINGS, parseSettings } from "../../shared/settings";

const CALIBRATION_PAGES = Number(process.env.BENCH_CALIBRATION_PAGES ?? 20_000);

export async function costAndScaling(): Promise<void> {
  const measured = await measurePageInputs();
  // The command's own defaults: 1,000 ms a page on the web, the measured CPU.
  const inputs: PageInputs = pageInputs(measured, {});
  const usd = (value: number) => `$${value.toFixed(2)}`;
  const shapes: [string, StackShape][] = [
    ["program defaults", shapeFromConfig("default", { cloud: "aws", alertEmail: "ops@example.com" })],
    ...["aws-prod", "azure-prod", "gcp-prod"].map((stack): [string, StackShape] => [stack, readStackShape(stack)]),
  ];
  console.log("");
  console.log(`dollars per million pages (1,000 ms a page on the web; CPU ${inputs.cpuMs.toFixed(1)} ms, record ${(inputs.resultBytes / 1024).toFixed(1)} KB, measured here)`);
  console.log("");
  console.log("| settings | AWS | Azure | Google Cloud | one page per invocation (AWS / Azure / GCP) | result writes' share on AWS |");
  console.log("|---|---|---|---|---|---|");
  for (const [label, shape] of shapes) {
    const fleet = CLOUDS.map((cloud) => estimate(cloud, shape, inputs, PRICE_TABLES[cloud], 1_000_000, "fleet"));
    const seed = CLOUDS.map((cloud) => estimate(cloud, shape, inputs, PRICE_TABLES[cloud], 1_000_000, "seed"));
    const writes = fleet[0].variable.filter((line) => line.group === "result writes").reduce((sum, line) => sum + line.usd, 0);
    console.log(`| ${label} | ${fleet.map((one) => usd(one.perMillionUsd)).join(" | ")} | ${seed.map((one) => usd(one.perMillionUsd)).join(" / ")} | ${Math.round((writes / fleet[0].variableUsd) * 100)} % |`);
  }

  const profile = { latencyMs: { min: 50, max: 400 }, failureRate: 0.05, hosts: 20 };
  const calibration = await calibrate({ pages: CALIBRATION_PAGES, concurrency: 32, perDomainDelayMs: 500, profile });
  const pct = (value: number) => `${value >= 0 ? "+" : ""}${(value * 100).toFixed(1)} %`;
  console.log("");
  console.log(`simulator vs the local fleet: ${CALIBRATION_PAGES.toLocaleString("en-US")} pages, 50-400 ms, 5 % transient failures, 20 hosts at 500 ms, concurrency 32 (measured: first page after ${(calibration.startMs / 1000).toFixed(1)} s, thread ${calibration.threadMsPerPage.toFixed(1)} ms a page)`);
  console.log("");
  console.log("| figure | measured | predicted | error |");
  console.log("|---|---|---|---|");
  console.log(`| drain time | ${calibration.measured.drainSeconds.toFixed(1)} s | ${calibration.predicted.drainSeconds.toFixed(1)} s | ${pct(calibration.error.drainSeconds)} |`);
  console.log(`| 90 % of the pages done | ${calibration.measured.drain90Seconds.toFixed(1)} s | ${calibration.predicted.drain90Seconds.toFixed(1)} s | ${pct(calibration.error.drain90Seconds)} |`);
  console.log(`| throughput | ${calibration.measured.pagesPerSecond.toFixed(1)} pages/s | ${calibration.predicted.pagesPerSecond.toFixed(1)} pages/s | ${pct(calibration.error.pagesPerSecond)} |`);

  const site = await startProfileSite({ profile: { ...profile, failureRate: 0 } });
  try {
    await resultBatchingRuns(site.url);
    const levels = [];
    let offset = 0;
    for (const level of DEFAULT_LEVELS) {
      const pages = Math.min(1000, Math.max(40, level * 20));
      const urls = Array.from({ length: pages }, (_, i) => site.url(offset + i));
      offset += pages;
      levels.push(levelFigures(level, pages, await runLocalFleet({ urls, concurrency: level, perDomainDelayMs: 0 })));
    }
    console.log("");
    console.log(formatLevels({ ...profile, failureRate: 0 }, levels));
  } finally {
    await site.close();
  }
}

/**
 * The same pages through the real local fleet twice: one object a record
 * (the default, the baseline) and `resultBatchMaxRecords` 100 with a 200 ms
 * window; the objects each run wrote, and what `cost` assumes for the second
 * (ops/cost/model.ts `resultBatching`, with the baseline's mean page time).
 */
async function resultBatchingRuns(url: (index: number) => string): Promise<void> {
  const pages = 2_000;
  const concurrency = 10;
  const batching = { resultBatchMaxRecords: 100, resultBatchWindowMs: 200 };
  const urls = Array.from({ length: pages }, (_, i) => url(1_000_000 + i));
  const baseline = await runLocalFleet({ urls, concurrency, perDomainDelayMs: 0 });
  const batched = await runLocalFleet({ urls, concurrency, perDomainDelayMs: 0, settings: batching });
  for (const [label, run] of [["one object a record", baseline], ["batched", batched]] as const) {
    if (run.ok !== pages) throw new Error(`${label}: ${run.ok} of ${pages} pages ok`);
  }
  if (baseline.recordObjects !== pages) throw new Error(`one object a record wrote ${baseline.recordObjects} objects for ${pages} pages`);
  const meanPageMs = baseline.pageMs.reduce((sum, ms) => sum + ms, 0) / baseline.pageMs.length;
  const model = resultBatching(parseSettings({ ...DEFAULT_SETTINGS, ...batching }), concurrency, meanPageMs);
  const perObject = (run: typeof baseline) => (pages / run.recordObjects).toFixed(1);
  console.log("");
  console.log(`batched result records on the real local fleet: ${pages.toLocaleString("en-US")} pages of 50-400 ms (mean ${meanPageMs.toFixed(0)} ms), concurrency ${concurrency}`);
  console.log("");
  console.log("| run | record objects written | records per object | cost model's records per object | drain | CPU |");
  console.log("|---|---|---|---|---|---|");
  console.log(`| one object a record (baseline) | ${baseline.recordObjects.toLocaleString("en-US")} | ${perObject(baseline)} | 1 | ${(baseline.drainMs / 1000).toFixed(1)} s | ${(baseline.cpuMs / 1000).toFixed(1)} s |`);
  console.log(`| resultBatchMaxRecords 100, resultBatchWindowMs 200 | ${batched.recordObjects.toLocaleString("en-US")} | ${perObject(batched)} | ${model.recordsPerObject.toFixed(1)} | ${(batched.drainMs / 1000).toFixed(1)} s | ${(batched.cpuMs / 1000).toFixed(1)} s |`);
}
