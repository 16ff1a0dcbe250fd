import assert from "node:assert/strict";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLOUDS } from "../../infra/contract";
import { OPS_EXIT_CODES } from "../../ops/command";
import { DEFAULT_PAGE_MS, DEFAULT_PAGES, costCommand, inputOrigins, monthPages, pageInputs } from "../../ops/commands/cost";
import type { MeasuredInputs } from "../../ops/cost/measure";
import { estimate, resultBatching, type CloudEstimate, type PageInputs } from "../../ops/cost/model";
import { PRICE_TABLES } from "../../ops/cost/prices";
import { readStackShape } from "../../ops/cost/stack";
import { parseSettings } from "../../shared/settings";
import { AWS_PRICES } from "../../ops/cost/prices/aws";
import { AZURE_PRICES } from "../../ops/cost/prices/azure";
import { GCP_PRICES } from "../../ops/cost/prices/gcp";
import { captureIo } from "./captureIo";

interface CostJson {
  readonly pages: number;
  readonly stack: { readonly memoryMb: number; readonly messagesPerWorker: number; readonly settings: { readonly concurrency: number; readonly storeRawHtml: boolean } };
  readonly inputs: { readonly wallMs: number; readonly awsLogBytesPerPage: number; readonly gcpLogBytesPerPage: number; readonly azureLogBytesPerPage: number; readonly resultBytes: number };
  readonly estimates: { readonly fleet: Record<string, CloudEstimate>; readonly seed: Record<string, CloudEstimate> };
}

async function costJson(args: readonly string[], cwd?: string): Promise<{ json: CostJson; err: string }> {
  const io = captureIo(cwd);
  const code = await costCommand.run([...args, "--json"], io);
  assert.equal(code, OPS_EXIT_CODES.ok, io.err());
  return { json: JSON.parse(io.out()) as CostJson, err: io.err() };
}

const sumOf = (lines: readonly { usd: number }[]) => lines.reduce((total, line) => total + line.usd, 0);
const groupOf = (estimate: CloudEstimate, group: string) => sumOf(estimate.variable.filter((line) => line.group === group));

describe("cost", function () {
  this.timeout(30_000);
  let dir: string;
  let prod: CostJson;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "cost-"));
    prod = (await costJson(["--stack", "aws-prod", "--page-ms", "1000", "--chart", "cost.svg"], dir)).json;
  });

  it("prices the stack's own config: memory, batch and concurrency from Pulumi.aws-prod.yaml", () => {
    const { memoryMb, messagesPerWorker, settings } = prod.stack;
    assert.deepEqual([memoryMb, messagesPerWorker, settings.concurrency], [1024, 10, 10]);
    const aws = prod.estimates.fleet.aws;
    // 10 messages an invocation at 10 at once take one round of 1,000 ms, at 1 GB.
    const invocations = prod.pages / messagesPerWorker;
    const gbSeconds = invocations * Math.ceil(messagesPerWorker / settings.concurrency) * 1 * (memoryMb / 1024);
    assert.ok(Math.abs(groupOf(aws, "compute") - gbSeconds * 0.0000133334) < 1e-9);
    assert.equal(groupOf(aws, "result writes"), prod.pages * 0.000005);
  });

  it("adds the lines up, keeps the free tiers apart, and shows what one page per invocation would cost", () => {
    for (const cloud of CLOUDS) {
      const fleet = prod.estimates.fleet[cloud];
      const seed = prod.estimates.seed[cloud];
      assert.ok(Math.abs(fleet.variableUsd - sumOf(fleet.variable)) < 1e-9, cloud);
      assert.ok(Math.abs(fleet.monthTotalUsd - (fleet.variableUsd + fleet.monthlyUsd - fleet.freeUsd)) < 1e-9, cloud);
      assert.ok(fleet.free.length > 0, `${cloud} lists its free tiers`);
      assert.ok(seed.perMillionUsd > fleet.perMillionUsd * 1.5, `${cloud}: one page per invocation costs more (${seed.perMillionUsd} vs ${fleet.perMillionUsd})`);
    }
  });

  it("counts the fleet's real log lines per page, not a guess", () => {
    // A page line with the URL, outcome and timing, plus each cloud's metric line: hundreds of bytes, not tens or thousands.
    for (const bytes of [prod.inputs.awsLogBytesPerPage, prod.inputs.gcpLogBytesPerPage, prod.inputs.azureLogBytesPerPage]) assert.ok(bytes > 120 && bytes < 1500, String(bytes));
    assert.ok(prod.inputs.gcpLogBytesPerPage > prod.inputs.azureLogBytesPerPage, "Google Cloud writes a page_metric line per page besides the page line");
    assert.ok(prod.inputs.resultBytes > 5_000, "the record keeps the page's links");
  });

  it("writes an SVG chart holding every cloud's bars and every line", async () => {
    const svg = await readFile(join(dir, "cost.svg"), "utf8");
    assert.match(svg, /^<svg/);
    for (const label of ["aws fleet", "azure 1 page/invocation", "gcp fleet", "result writes", "log ingestion"]) assert.ok(svg.includes(label), label);
  });

  it("takes prices from --prices over the built-in table, and the total moves by exactly that line", async () => {
    await writeFile(join(dir, "prices.json"), JSON.stringify({ aws: { "store.write": 0 } }));
    const { json } = await costJson(["--stack", "aws-prod", "--page-ms", "1000", "--prices", "prices.json"], dir);
    assert.equal(groupOf(json.estimates.fleet.aws, "result writes"), 0);
    const withoutWrites = prod.estimates.fleet.aws.variableUsd - groupOf(prod.estimates.fleet.aws, "result writes");
    assert.ok(Math.abs(json.estimates.fleet.aws.variableUsd - withoutWrites) < 0.05 * withoutWrites, "only the CPU measurement may differ");
  });

  it("refuses a bad price file, an unknown stack and a missing --stack, naming what to fix", async () => {
    const dirIo = captureIo(dir);
    await writeFile(join(dir, "bad.json"), JSON.stringify({ aws: { "store.writes": 1 }, gpc: {} }));
    assert.equal(await costCommand.run(["--stack", "aws-prod", "--prices", "bad.json"], dirIo), OPS_EXIT_CODES.usage);
    assert.match(dirIo.err(), /aws\.store\.writes: no such price row/);
    assert.match(dirIo.err(), /"gpc" is not a cloud/);
    const unknown = captureIo();
    assert.equal(await costCommand.run(["--stack", "staging"], unknown), OPS_EXIT_CODES.usage);
    assert.match(unknown.err(), /no stack file Pulumi\.staging\.yaml/);
    const missing = captureIo();
    assert.equal(await costCommand.run(["--pages", "10"], missing), OPS_EXIT_CODES.usage);
    assert.match(missing.err(), /--stack NAME is required/);
    const badNumber = captureIo();
    assert.equal(await costCommand.run(["--stack", "dev", "--pages", "lots"], badNumber), OPS_EXIT_CODES.usage);
    assert.match(badNumber.err(), /--pages must be a whole number .* \(given "lots"\)/);
  });

  it("takes each input from the flag first, then the deployed stack (--measured), then this machine or the default", () => {
    const measured: MeasuredInputs = {
      pages: 30,
      cpuMsPerPage: 4,
      resultBytes: 18_000,
      rawBytes: 12_000,
      messageBytes: 60,
      aws: { bytesPerPage: 300, bytesPerInvocation: 200, eventsPerPage: 1.1 },
      gcp: { bytesPerPage: 370, eventsPerPage: 2 },
      azure: { bytesPerPage: 190, bytesPerWindow: 400 },
      peakRssMb: 120,
    };
    const stack = { fleet: "aws stack aws-prod", windowMinutes: 60, pagesPerMinute: 10, fetchLatency: { pages: 600, averageMs: 640 } };
    assert.deepEqual([pageInputs(measured, {}).wallMs, pageInputs(measured, {}, 640).wallMs, pageInputs(measured, { "page-ms": 900 }, 640).wallMs], [DEFAULT_PAGE_MS, 640, 900]);
    assert.deepEqual([pageInputs(measured, {}, 640).cpuMs, pageInputs(measured, { "cpu-ms": 2.5 }, 640).cpuMs], [4, 2.5]);
    assert.deepEqual(monthPages({}, stack), { pages: 432_000, origin: "stack" });
    assert.deepEqual(monthPages({ pages: 5_000 }, stack), { pages: 5_000, origin: "--pages" });
    assert.deepEqual(monthPages({}, { ...stack, pagesPerMinute: 0 }), { pages: DEFAULT_PAGES, origin: "assumed" }, "an idle window gives no rate to project");
    assert.deepEqual(inputOrigins({}, stack, "stack"), { wallMs: "stack", cpuMs: "this machine", pages: "stack" });
    assert.deepEqual(inputOrigins({ "page-ms": 900, "cpu-ms": 1 }, stack, "stack"), { wallMs: "--page-ms", cpuMs: "--cpu-ms", pages: "stack" });
    const idle = { fleet: stack.fleet, windowMinutes: 60, pagesPerMinute: 10 };
    assert.equal(inputOrigins({}, idle, "assumed").wallMs, "assumed", "no page fetched in the window: the time on the web stays assumed");
  });

  it("with resultBatchMaxRecords on, record writes follow the stack's settings: one per min(M, C, 1 + C × T / (W + T / 2)) pages, the wait billed where a slot holds it", () => {
    const shape = readStackShape("aws-prod");
    const batched = { ...shape, settings: parseSettings({ ...shape.settings, resultBatchMaxRecords: 100, resultBatchWindowMs: 200 }) };
    const pages = 1_000_000;
    const inputs = prod.inputs as unknown as PageInputs;
    for (const cloud of CLOUDS) {
      const before = estimate(cloud, shape, inputs, PRICE_TABLES[cloud], pages, "fleet");
      const after = estimate(cloud, batched, inputs, PRICE_TABLES[cloud], pages, "fleet");
      const writes = (of: CloudEstimate) => of.variable.find((line) => line.group === "result writes");
      // 10 pages at once, 1,000 ms each, a 200 ms window: 1 + 10 × 200 / (1,000 + 100) = 2.82 records an object.
      assert.ok(Math.abs((writes(after)?.quantity ?? 0) - pages / (1 + 2000 / 1100)) < 1e-6, `${cloud}: ${writes(after)?.quantity}`);
      assert.match(writes(after)?.basis ?? "", /1 record object per 2\.82 pages: min\(resultBatchMaxRecords 100, 10 at once, 1 \+ 10 × window 200 ms \/ \(1,000 ms a page \+ 100 ms wait\)\)/);
      assert.equal(writes(before)?.quantity, pages);
      const seed = estimate(cloud, batched, inputs, PRICE_TABLES[cloud], pages, "seed");
      assert.equal(writes(seed)?.quantity, pages, `${cloud}: one page at a time writes each record at once`);
      const compute = (of: CloudEstimate) => groupOf(of, "compute");
      // AWS's one round flushes at once; an Azure or Google Cloud execution holds its slot ~T/2 longer.
      if (cloud === "aws") assert.equal(compute(after), compute(before));
      else assert.ok(Math.abs(compute(after) / compute(before) - 1.1) < 1e-9, `${cloud}: ${compute(after) / compute(before)}`);
    }
    assert.deepEqual(resultBatching(batched.settings, 10, 100), { recordsPerObject: 10, waitMs: 100 }, "a window as long as a page: every slot adds its record, and none adds two");
    assert.ok(Math.abs(resultBatching(batched.settings, 32, 225).recordsPerObject - (1 + (32 * 200) / 325)) < 1e-9, "pages held for their object fetch nothing meanwhile");
    assert.equal(resultBatching({ ...batched.settings, resultBatchMaxRecords: 4 }, 10, 100).recordsPerObject, 4, "never more than resultBatchMaxRecords");
  });

  it("every price row names its source page and the day it was read", () => {
    for (const table of [AWS_PRICES, AZURE_PRICES, GCP_PRICES]) {
      for (const row of [...table.rows, ...table.freeTiers]) {
        assert.match(row.source, /^https:\/\/(aws\.amazon\.com|azure\.microsoft\.com|cloud\.google\.com)\//, row.id);
        assert.match(row.read, /^\d{4}-\d{2}-\d{2}$/, row.id);
      }
    }
  });
});
