/**
 * The per-page inputs of the cost model, measured on this machine by running
 * the fleet's own code on loopback pages: the AWS handler itself (its page
 * lines, its EMF metrics line and its `sqs_batch` line, through the logger it
 * is given in production), and the shared worker with Google Cloud's and
 * Azure's loggers and metric writers. Every byte of log counted here is a byte
 * the deployed fleet writes; what the platform adds around them (Lambda's
 * START/END/REPORT, a Cloud Run request log) is in the model, with its source.
 *
 * The page is a generated ~100 KB article with a few hundred links, close to
 * the bench corpus (tests/bench/corpusServer.ts), so the result record holds
 * the 500 links `maxLinks` keeps.
 */
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";
import type { SQSEvent } from "aws-lambda";
import { createSqsHandler } from "../../functions/aws/index";
import { createEmfMetrics } from "../../functions/aws/metrics";
import { createWindowMetrics } from "../../functions/azure/metrics";
import { createLogMetrics } from "../../functions/gcp/metrics";
import { createJsonLogger } from "../../shared/logging";
import type { ResultStore, StoredObject } from "../../shared/ports";
import { parseSettings } from "../../shared/settings";
import { createWorker } from "../../shared/worker";

export interface MeasuredInputs {
  readonly pages: number;
  /** CPU of this process per page (worker, handler and the loopback server's cached writes). */
  readonly cpuMsPerPage: number;
  /** Bytes of one result record (JSON). */
  readonly resultBytes: number;
  /** Bytes of one gzip raw-HTML object, when `storeRawHtml` is on. */
  readonly rawBytes: number;
  /** Bytes of one queue message body. */
  readonly messageBytes: number;
  /** AWS: the handler's lines per page (page line + its share of the EMF line), and its lines per invocation (`sqs_batch`). */
  readonly aws: { readonly bytesPerPage: number; readonly bytesPerInvocation: number; readonly eventsPerPage: number };
  /** Google Cloud: the page line and the page_metric line, per page. */
  readonly gcp: { readonly bytesPerPage: number; readonly eventsPerPage: number };
  /** Azure: the page trace line per page; one fleet_metrics line per instance and 10-second window. */
  readonly azure: { readonly bytesPerPage: number; readonly bytesPerWindow: number };
  /** Peak resident memory of this process during the measurement, MB. */
  readonly peakRssMb: number;
}

/** Keeps byte counts per kind, so the store costs (almost) nothing. */
class CountingStore implements ResultStore {
  results = 0;
  resultBytes = 0;
  raws = 0;
  rawBytes = 0;
  async put(object: StoredObject): Promise<void> {
    const size = typeof object.body === "string" ? Buffer.byteLength(object.body) : object.body.byteLength;
    if (object.key.startsWith("raw/")) {
      this.raws += 1;
      this.rawBytes += size;
    } else {
      this.results += 1;
      this.resultBytes += size;
    }
  }
}

class ByteCounter {
  bytes = 0;
  lines = 0;
  readonly write = (line: string): void => {
    this.bytes += Buffer.byteLength(line);
    this.lines += 1;
  };
}

function articlePage(): string {
  const parts = ["<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>An article about scraping at scale</title>"];
  parts.push("<meta name=\"description\" content=\"A page of the size and shape of a news article.\"><link rel=\"canonical\" href=\"/article\"></head><body>");
  parts.push(`<nav>${Array.from({ length: 60 }, (_, i) => `<a href="/section/${i}">Section ${i}</a>`).join(" ")}</nav>`);
  for (let p = 0; parts.join("").length < 100_000; p++) {
    parts.push(`<p>Paragraph ${p}: the fleet fetches, extracts and records. ${Array.from({ length: 6 }, (_, i) => `<a href="/story/${p}-${i}">story ${p}.${i}</a>`).join(", ")}</p>`);
  }
  parts.push("</body></html>");
  return parts.join("");
}

async function servePage(): Promise<{ readonly origin: string; close(): Promise<void> }> {
  const gzip = gzipSync(articlePage());
  const server = createServer((_, response) => response.writeHead(200, { "content-type": "text/html; charset=utf-8", "content-encoding": "gzip" }).end(gzip));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

const WARM_UP_BATCHES = 3;

export interface MeasureOptions {
  /** Pages per cloud writer. @default 30 */
  readonly pages?: number;
  /** Messages per AWS invocation (the stack's `messagesPerWorker`). @default 10 */
  readonly batchSize?: number;
  /** The fleet name the log lines carry. @default "scrape-fleet-prod" */
  readonly fleetName?: string;
}

export async function measurePageInputs(options: MeasureOptions = {}): Promise<MeasuredInputs> {
  const pages = options.pages ?? 30;
  const batchSize = Math.max(1, options.batchSize ?? 10);
  const fleetName = options.fleetName ?? "scrape-fleet-prod";
  const site = await servePage();
  const settings = parseSettings({ perDomainDelayMs: 0, respectRobots: false, storeRawHtml: true, concurrency: Math.min(batchSize, 16) });
  const workerOptions = (store: ResultStore) => ({ settings: { get: async () => settings }, results: store, allowPrivateNetworks: true });
  const message = (i: number) => JSON.stringify({ v: 1, url: `${site.origin}/article/${i}`, id: `job-${i}` });
  try {
    // AWS: the real handler, an SQS event per batch.
    const awsStore = new CountingStore();
    const awsLog = new ByteCounter();
    const aws = createSqsHandler({ worker: workerOptions(awsStore), logger: createJsonLogger({ base: { fleet: fleetName }, write: awsLog.write }), metrics: createEmfMetrics({ fleetName, write: awsLog.write }) });
    // Warm-up batches first, so the JIT's compile time is not billed to every page.
    for (let round = 0; round < WARM_UP_BATCHES; round++) {
      await aws.handle({ Records: Array.from({ length: batchSize }, (_, i) => sqsRecord(message(-1 - round * batchSize - i))) }, { awsRequestId: randomUUID(), getRemainingTimeInMillis: () => 60_000 });
    }
    awsLog.bytes = 0;
    awsLog.lines = 0;
    const cpuBefore = process.cpuUsage();
    let invocations = 0;
    for (let start = 0; start < pages; start += batchSize) {
      const count = Math.min(batchSize, pages - start);
      const event: SQSEvent = { Records: Array.from({ length: count }, (_, i) => sqsRecord(message(start + i))) };
      await aws.handle(event, { awsRequestId: randomUUID(), getRemainingTimeInMillis: () => 60_000 });
      invocations += 1;
    }
    const cpu = process.cpuUsage(cpuBefore);
    await aws.close();
    // The sqs_batch line is one per invocation; the rest (page lines, EMF) scale with pages.
    const batchLine = new ByteCounter();
    createJsonLogger({ base: { fleet: fleetName }, write: batchLine.write }).log("info", "sqs_batch", { requestId: randomUUID(), records: batchSize, returned: 0, ms: 1234 });
    const awsPerPage = (awsLog.bytes - invocations * batchLine.bytes) / pages;
    const awsEventsPerPage = (awsLog.lines - invocations) / pages;

    // Google Cloud: the shared worker with the function's logger and per-page metric line.
    const gcpLog = new ByteCounter();
    const gcp = createWorker({ ...workerOptions(new CountingStore()), logger: createJsonLogger({ base: { fleet: fleetName }, write: gcpLog.write }), metrics: createLogMetrics({ fleetName, write: gcpLog.write }) });
    for (let i = 0; i < pages; i++) await gcp.processBatch([{ id: `g${i}`, body: message(i), attempt: 1 }]);
    await gcp.close();

    // Azure: the function's invocation logger. Outside an invocation it writes to the console, so its lines are
    // counted through stand-in console methods; loading the function module outside the Functions host makes
    // @azure/functions warn that it runs in test mode, which is true here and kept off the user's terminal.
    const azureLog = new ByteCounter();
    const windows = createWindowMetrics({ fleetName });
    const { createInvocationLogger } = withConsoleSilenced((): typeof import("../../functions/azure/index") => require("../../functions/azure/index"));
    const azureLogger = createInvocationLogger(fleetName);
    const azure = createWorker({ ...workerOptions(new CountingStore()), logger: { log: (level, event, fields) => withConsoleCounted(azureLog, () => azureLogger.log(level, event, fields)) }, metrics: windows });
    for (let i = 0; i < pages; i++) await azure.processBatch([{ id: `z${i}`, body: message(i), attempt: 1 }]);
    await azure.close();
    const windowLine = windows.takeLine(true) ?? "";

    return {
      pages,
      cpuMsPerPage: (cpu.user + cpu.system) / 1000 / pages,
      resultBytes: awsStore.resultBytes / Math.max(1, awsStore.results),
      rawBytes: awsStore.rawBytes / Math.max(1, awsStore.raws),
      messageBytes: Buffer.byteLength(message(0)),
      aws: { bytesPerPage: awsPerPage, bytesPerInvocation: batchLine.bytes, eventsPerPage: awsEventsPerPage },
      gcp: { bytesPerPage: gcpLog.bytes / pages, eventsPerPage: gcpLog.lines / pages },
      azure: { bytesPerPage: azureLog.bytes / pages, bytesPerWindow: Buffer.byteLength(windowLine) },
      peakRssMb: process.resourceUsage().maxRSS / 1024,
    };
  } finally {
    await site.close();
  }
}

function sqsRecord(body: string): SQSEvent["Records"][number] {
  const id = randomUUID();
  return {
    messageId: id,
    receiptHandle: id,
    body,
    attributes: { ApproximateReceiveCount: "1", SentTimestamp: String(Date.now()), SenderId: "cost-model", ApproximateFirstReceiveTimestamp: String(Date.now()) },
    messageAttributes: {},
    md5OfBody: "",
    eventSource: "aws:sqs",
    eventSourceARN: "arn:aws:sqs:us-east-1:123456789012:work",
    awsRegion: "us-east-1",
  };
}

function withConsoleSilenced<T>(load: () => T): T {
  const saved = console.warn;
  console.warn = () => undefined;
  try {
    return load();
  } finally {
    console.warn = saved;
  }
}

/** Runs `write` with the console's log methods counting into `counter` instead of printing. */
function withConsoleCounted(counter: ByteCounter, write: () => void): void {
  const saved = { info: console.info, warn: console.warn, error: console.error, debug: console.debug, log: console.log };
  const count = (line: unknown) => counter.write(`${String(line)}\n`);
  Object.assign(console, { info: count, warn: count, error: count, debug: count, log: count });
  try {
    write();
  } finally {
    Object.assign(console, saved);
  }
}
