/**
 * Dollars for N pages on each cloud, line by line, from a stack's shape, the
 * per-page inputs and the price tables. Pure arithmetic: every quantity is
 * named, so a reader can check one line against the cloud's bill.
 *
 * Two designs for the same pages: the fleet as deployed (a batch of
 * `messagesPerWorker` per invocation on AWS, that many concurrent executions
 * per instance on Azure and Google Cloud), and the seed's design, one page per
 * invocation and per instance at a time, which shows what batching and
 * concurrency save.
 */
import type { Cloud } from "../../infra/contract";
import { priceOf, type PriceTable } from "./prices";
import { DEFAULT_REGIONS, type StackShape } from "./stack";

export type Design = "fleet" | "seed";

/** The per-page inputs; `measurePageInputs` gives all but `wallMs`. */
export interface PageInputs {
  /** Time one page takes on the web (fetch and robots), ms; the model's main assumption. */
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly resultBytes: number;
  readonly rawBytes: number;
  readonly messageBytes: number;
  readonly awsLogBytesPerPage: number;
  readonly awsLogEventsPerPage: number;
  readonly awsLogBytesPerInvocation: number;
  readonly gcpLogBytesPerPage: number;
  readonly gcpLogEventsPerPage: number;
  readonly azureLogBytesPerPage: number;
  readonly azureLogBytesPerWindow: number;
}

export type LineGroup = "compute" | "requests" | "queue" | "result writes" | "storage" | "log ingestion" | "log storage" | "config reads" | "metrics" | "alarms" | "dashboard" | "queue base";

export interface CostLine {
  readonly group: LineGroup;
  /** The price row the line bills. */
  readonly priceId: string;
  readonly quantity: number;
  readonly unit: string;
  readonly usd: number;
  /** How the quantity was reached, in one line. */
  readonly basis: string;
}

export interface CloudEstimate {
  readonly cloud: Cloud;
  readonly region: string;
  readonly design: Design;
  readonly pages: number;
  /** Lines that grow with the pages. */
  readonly variable: readonly CostLine[];
  /** Lines billed per month whatever the pages (base charges, metrics, alarms). */
  readonly monthly: readonly CostLine[];
  /** Free grants per month, in dollars they take off this month's bill. */
  readonly free: readonly { readonly item: string; readonly usd: number; readonly source: string }[];
  readonly variableUsd: number;
  readonly monthlyUsd: number;
  readonly freeUsd: number;
  /** The variable lines per million pages. */
  readonly perMillionUsd: number;
  /** What this month costs for `pages`: variable + monthly − free. */
  readonly monthTotalUsd: number;
}

const GB = 1e9;
const GIB = 1024 ** 3;
const HOURS_PER_MONTH = 730;
const SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600;

/**
 * Lambda gives a function CPU in proportion to its memory, one full vCPU at
 * 1,769 MB. https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html
 */
const LAMBDA_MB_PER_VCPU = 1769;
/**
 * Flex Consumption instance sizes and their vCPUs: 512 MB has 0.25, 2,048 MB 1, 4,096 MB 2.
 * https://learn.microsoft.com/azure/azure-functions/flex-consumption-plan#instance-memory
 */
const FLEX_SIZES = [
  { memoryMb: 512, vcpu: 0.25 },
  { memoryMb: 2048, vcpu: 1 },
  { memoryMb: 4096, vcpu: 2 },
] as const;
/**
 * Lambda's pollers: while the queue is idle, five long-poll it all the time
 * (20 s waits, so 3 ReceiveMessage calls a minute each), and with a maximum
 * concurrency set they do not drop to two.
 * https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html
 */
const LAMBDA_IDLE_POLLERS = 5;
const LONG_POLL_SECONDS = 20;
/** SendMessageBatch, ReceiveMessage and DeleteMessageBatch take at most 10 messages. https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html */
const SQS_BATCH = 10;
/**
 * CloudWatch Logs counts each event's message bytes plus 26 bytes.
 * https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html
 */
const CLOUDWATCH_EVENT_OVERHEAD = 26;
/**
 * Lambda's own START, END and REPORT lines per invocation in the Text log
 * format the fleet uses (infra/aws/worker.ts): about 60, 50 and 200 bytes.
 * https://docs.aws.amazon.com/lambda/latest/dg/nodejs-logging.html
 */
const LAMBDA_PLATFORM_BYTES = { bytes: 310, events: 3 } as const;
/**
 * Estimate: a trace row in Application Insights carries ~600 bytes of
 * columns around the message (operation ids, role, SDK version, custom
 * dimensions), and the host writes a request row and two traces
 * ("Executing", "Executed") per execution.
 * https://learn.microsoft.com/azure/azure-monitor/logs/cost-logs#data-size-calculation
 */
const APP_INSIGHTS_ROW_OVERHEAD = 600;
const AZURE_HOST_ROWS_PER_EXECUTION = 3;
/** Each Azure instance writes one fleet_metrics line per window (functions/azure/metrics.ts). */
const AZURE_METRICS_WINDOW_SECONDS = 10;
/** Log Analytics keeps 31 days (Application Insights data 90) at no charge. https://learn.microsoft.com/azure/azure-monitor/logs/data-retention-configure */
const AZURE_INCLUDED_RETENTION_DAYS = 90;
/**
 * Estimate: a LogEntry adds ~400 bytes of metadata (resource labels,
 * timestamps, insertId) around a JSON payload, and Cloud Run writes a request
 * log (~900 bytes) per push request. Cloud Logging bills the entry's size.
 * https://cloud.google.com/logging/quotas#log-limits
 */
const LOG_ENTRY_OVERHEAD = 400;
const CLOUD_RUN_REQUEST_LOG_BYTES = 900;
/** Cloud Logging's _Default bucket keeps 30 days at no charge. https://cloud.google.com/logging/docs/routing/overview#default-bucket */
const GCP_INCLUDED_RETENTION_DAYS = 30;
/**
 * Pub/Sub bills each publish and each push request at least 1,000 bytes; a
 * push body wraps the message in base64 inside a JSON envelope (~350 bytes
 * of ids and times). https://cloud.google.com/pubsub/pricing
 */
const PUBSUB_MIN_REQUEST_BYTES = 1000;
const PUSH_ENVELOPE_BYTES = 350;
/** Messages per publish request from a producer that batches: 100, the Pub/Sub client libraries' default batch. https://cloud.google.com/pubsub/docs/batch-messaging */
const PUBLISH_BATCH = 100;
/** Service Bus operations per message: send, receive, complete. https://learn.microsoft.com/azure/service-bus-messaging/service-bus-faq#pricing */
const SERVICE_BUS_OPERATIONS_PER_MESSAGE = 3;
/** App Configuration Standard includes 200,000 requests a store a day. https://azure.microsoft.com/en-us/pricing/details/app-configuration/ */
const APP_CONFIGURATION_DAILY_QUOTA = 200_000;
/**
 * The fleet's EMF line carries seven metrics under one dimension set
 * (functions/aws/metrics.ts: four page outcomes, dead letters, bytes, latency);
 * tests/ops/costUnits.test.ts counts them in a line the handler writes.
 */
export const EMF_METRICS = 7;
/** Six log-based metrics (infra/gcp/dashboard.ts), written once a minute per series; the latency is a distribution (80 bytes a point). */
const GCP_LOG_METRIC_BYTES_PER_MONTH = (5 * 8 + 80) * 43_200;
/**
 * What each cloud bills for the program's alarms, in its own unit; checked
 * against the mocked plan of every cloud in tests/ops/costUnits.test.ts.
 * - AWS: per alarm metric, a metric-math alarm counting each metric it reads
 *   (infra/aws/alarms.ts: five single-metric alarms, error rate 2, page
 *   retries 4, stalled 2). https://aws.amazon.com/cloudwatch/pricing/
 * - Azure: a metric alert per time series it monitors (infra/azure/alarms.ts:
 *   2), a log search alert by its evaluation frequency (5, every 5 minutes).
 *   https://azure.microsoft.com/en-us/pricing/details/monitor/
 * - Google Cloud: per condition of an alerting policy (infra/gcp/alarms.ts:
 *   five policies of one condition, stalled with two).
 *   https://cloud.google.com/stackdriver/pricing#alerting-pricing
 */
export const BILLED_ALARMS = { awsAlarmMetrics: 13, azureMetricAlertSeries: 2, azureLogAlertsEvery5Minutes: 5, gcpAlertConditions: 7 } as const;

/** What batching result records (runtime setting `resultBatchMaxRecords` above 1) does to a page. */
export interface ResultBatching {
  /** Records per result-record write: 1 with batching off. */
  readonly recordsPerObject: number;
  /** How long a page waits, on average, for its batch object once its record is ready, in ms. */
  readonly waitMs: number;
}

/**
 * Records per batch object and the wait they cost, for `concurrency` (C)
 * pages in flight in one process, each `wallMs` (W) on the web
 * (shared/resultBatcher.ts). A batch opens when a page's record is ready and
 * is written after `resultBatchWindowMs` (T), when it holds
 * `resultBatchMaxRecords` (M), or when every page of the process waits for
 * it. A page keeps its slot until its object has landed, about T / 2 after
 * its record is ready (the first record of a batch waits the whole window,
 * the last hardly at all), so in steady state a process finishes
 * C / (W + T / 2) pages a millisecond, and the window gathers those on top of
 * the record that opened it; no slot adds a second record to the same batch.
 *   records per object E = min(M, C, 1 + C × T / (W + T / 2))
 * Checked against the real local fleet (tests/ops/resultBatchModel.test.ts
 * and `npm run bench`): at C 10, T 200 ms and W 231 ms it predicts 7.0 records
 * an object where a run wrote 6.8. One page at a time (C = 1) flushes at
 * once: E = 1, no wait.
 */
export function resultBatching(settings: StackShape["settings"], concurrency: number, wallMs: number): ResultBatching {
  const maxRecords = settings.resultBatchMaxRecords;
  const windowMs = settings.resultBatchWindowMs;
  if (maxRecords === 1 || concurrency === 1) return { recordsPerObject: 1, waitMs: 0 };
  const waitMs = windowMs / 2;
  return { recordsPerObject: Math.min(maxRecords, concurrency, 1 + (concurrency * windowMs) / (wallMs + waitMs)), waitMs };
}

/** Pages one execution unit works on at once, for a design. */
export function concurrencyOf(shape: StackShape, design: Design): number {
  return design === "seed" ? 1 : Math.max(1, Math.min(shape.settings.concurrency, shape.messagesPerWorker));
}

export function estimate(cloud: Cloud, shape: StackShape, inputs: PageInputs, table: PriceTable, pages: number, design: Design): CloudEstimate {
  const region = cloud === shape.cloud ? shape.region : DEFAULT_REGIONS[cloud];
  const price = (id: string) => priceOf(table, id, region);
  const line = (group: LineGroup, priceId: string, quantity: number, basis: string): CostLine => {
    const row = price(priceId);
    return { group, priceId, quantity, unit: row.unit, usd: quantity * row.usd, basis };
  };
  const concurrency = concurrencyOf(shape, design);
  const batching = resultBatching(shape.settings, concurrency, inputs.wallMs);
  const rawWritesPerPage = shape.settings.storeRawHtml ? 1 : 0;
  const writesPerPage = 1 / batching.recordsPerObject + rawWritesPerPage;
  const storedGb = (pages * inputs.resultBytes + (shape.settings.storeRawHtml ? pages * inputs.rawBytes * Math.min(1, shape.rawHtmlRetentionDays / 30) : 0)) / GB;
  const common = {
    writes: line("result writes", "store.write", pages * writesPerPage, writesBasis(shape, concurrency, inputs.wallMs, batching)),
    storage: line("storage", "store.gbMonth", storedGb, `${Math.round(inputs.resultBytes)} B a record${shape.settings.storeRawHtml ? ` + ${Math.round(inputs.rawBytes)} B raw for ${shape.rawHtmlRetentionDays} days` : ""}, one month`),
  };
  // A page holds its execution slot until its batch object lands. On AWS the
  // invocation's last round writes the open batch at once (every page waits),
  // so only earlier rounds wait; an Azure or Google Cloud execution always does.
  const slotMs = inputs.wallMs + batching.waitMs;
  const waitBasis = batching.waitMs > 0 ? `; ${fmt(inputs.wallMs)} ms a page + ~${fmt(batching.waitMs)} ms for its batch object` : "";
  let variable: CostLine[];
  let monthly: CostLine[];

  if (cloud === "aws") {
    const batch = design === "seed" ? 1 : shape.messagesPerWorker;
    // The worker is one Node.js thread: more than one vCPU does not make its CPU work faster.
    const vcpu = Math.min(1, shape.memoryMb / LAMBDA_MB_PER_VCPU);
    const invocations = pages / batch;
    // Each round of pages but the last also waits for its batch object before its lanes take the next pages.
    const rounds = Math.ceil(batch / concurrency);
    const invocationMs = Math.max(rounds * inputs.wallMs + (rounds - 1) * batching.waitMs, (batch * inputs.cpuMs) / vcpu);
    const gbSeconds = invocations * (invocationMs / 1000) * (shape.memoryMb / 1024);
    const sqsRequests = pages / SQS_BATCH + invocations * 2 * Math.ceil(batch / SQS_BATCH);
    const logEvents = pages * inputs.awsLogEventsPerPage + invocations * (1 + LAMBDA_PLATFORM_BYTES.events);
    const logGb = (pages * inputs.awsLogBytesPerPage + invocations * (inputs.awsLogBytesPerInvocation + LAMBDA_PLATFORM_BYTES.bytes) + logEvents * CLOUDWATCH_EVENT_OVERHEAD) / GB;
    const instanceSeconds = invocations * (invocationMs / 1000);
    variable = [
      line("compute", "compute.gbSecond", gbSeconds, `${fmt(invocations)} invocations × ${fmt(invocationMs)} ms × ${shape.memoryMb} MB`),
      line("requests", "compute.request", invocations, `${batch} message${batch > 1 ? "s" : ""} an invocation`),
      line("queue", "queue.request", sqsRequests, `send in 10s; receive + delete per ${Math.min(batch, SQS_BATCH)}`),
      common.writes,
      common.storage,
      line("log ingestion", "logs.ingestGb", logGb, `${fmt(inputs.awsLogBytesPerPage)} B a page + ${fmt(inputs.awsLogBytesPerInvocation + LAMBDA_PLATFORM_BYTES.bytes)} B an invocation (measured + Lambda's own)`),
      line("log storage", "logs.gbMonth", logGb * (shape.logRetentionDays / 30), `kept ${shape.logRetentionDays} days (uncompressed: an upper bound)`),
      line("config reads", "config.read", instanceSeconds / (shape.settings.settingsTtlMs / 1000), `one read per busy instance every ${shape.settings.settingsTtlMs / 1000} s`),
    ];
    monthly = [
      line("queue", "queue.request", LAMBDA_IDLE_POLLERS * (SECONDS_PER_MONTH / LONG_POLL_SECONDS), `${LAMBDA_IDLE_POLLERS} pollers long-polling ${LONG_POLL_SECONDS} s`),
      line("metrics", "metrics.metricMonth", EMF_METRICS, `${EMF_METRICS} EMF metrics, one dimension`),
      line("alarms", "alarms.alarmMonth", BILLED_ALARMS.awsAlarmMetrics, `8 alarms reading ${BILLED_ALARMS.awsAlarmMetrics} metrics`),
      line("dashboard", "dashboard.month", 1, "one dashboard"),
    ];
  } else if (cloud === "azure") {
    const size = FLEX_SIZES.find((candidate) => candidate.memoryMb >= shape.memoryMb) ?? FLEX_SIZES[FLEX_SIZES.length - 1];
    const instanceSeconds = Math.max((pages * slotMs) / 1000 / concurrency, (pages * inputs.cpuMs) / 1000 / size.vcpu);
    const gbSeconds = instanceSeconds * (size.memoryMb / 1024);
    const logBytes =
      pages * (inputs.azureLogBytesPerPage + APP_INSIGHTS_ROW_OVERHEAD) +
      pages * AZURE_HOST_ROWS_PER_EXECUTION * APP_INSIGHTS_ROW_OVERHEAD +
      (instanceSeconds / AZURE_METRICS_WINDOW_SECONDS) * (inputs.azureLogBytesPerWindow + APP_INSIGHTS_ROW_OVERHEAD);
    const configReads = instanceSeconds / (shape.settings.settingsTtlMs / 1000);
    variable = [
      line("compute", "compute.gbSecond", gbSeconds, `${fmt(instanceSeconds)} busy instance-s (${concurrency} at once${waitBasis}) × ${size.memoryMb} MB`),
      line("requests", "compute.request", pages, "one execution a message"),
      line("queue", "queue.request", pages * SERVICE_BUS_OPERATIONS_PER_MESSAGE, `${SERVICE_BUS_OPERATIONS_PER_MESSAGE} operations a message (send, receive, complete)`),
      common.writes,
      common.storage,
      line("log ingestion", "logs.ingestGb", logBytes / GB, `${fmt(inputs.azureLogBytesPerPage)} B a page (measured) + ~${APP_INSIGHTS_ROW_OVERHEAD} B a row, ${AZURE_HOST_ROWS_PER_EXECUTION} host rows an execution (estimate)`),
      line("log storage", "logs.gbMonth", (logBytes / GB) * Math.max(0, shape.logRetentionDays - AZURE_INCLUDED_RETENTION_DAYS) / 30, `kept ${shape.logRetentionDays} days, ${AZURE_INCLUDED_RETENTION_DAYS} included`),
      // Within the daily quota these reads are paid by the store's daily charge (below); only the excess is billed.
      line("config reads", "config.read", Math.max(0, configReads - APP_CONFIGURATION_DAILY_QUOTA * 30), `${fmt(configReads)} reads, ${APP_CONFIGURATION_DAILY_QUOTA.toLocaleString("en-US")} a day included`),
    ];
    monthly = [
      line("queue base", "queue.baseHour", HOURS_PER_MONTH, "Service Bus Standard namespace"),
      line("config reads", "config.storeDay", HOURS_PER_MONTH / 24, "App Configuration Standard store"),
      line("alarms", "alarms.alarmMonth", BILLED_ALARMS.azureMetricAlertSeries, `${BILLED_ALARMS.azureMetricAlertSeries} metric alerts, one time series each`),
      line("alarms", "alarms.logAlarmMonth", BILLED_ALARMS.azureLogAlertsEvery5Minutes, `${BILLED_ALARMS.azureLogAlertsEvery5Minutes} log search alerts, every 5 minutes`),
    ];
  } else {
    const cpu = shape.gcpCpu;
    // Request-based billing rounds each busy stretch up to 100 ms; one page at a time, that is every request.
    const busyMs = concurrency === 1 ? Math.ceil(Math.max(inputs.wallMs, inputs.cpuMs / cpu) / 100) * 100 : Math.max(slotMs / concurrency, inputs.cpuMs / cpu);
    const instanceSeconds = (pages * busyMs) / 1000;
    const pushBytes = Math.max(PUBSUB_MIN_REQUEST_BYTES, Math.ceil((inputs.messageBytes * 4) / 3) + PUSH_ENVELOPE_BYTES);
    const publishBytes = Math.max(PUBSUB_MIN_REQUEST_BYTES, PUBLISH_BATCH * inputs.messageBytes) / PUBLISH_BATCH;
    const logBytes = pages * (inputs.gcpLogBytesPerPage + inputs.gcpLogEventsPerPage * LOG_ENTRY_OVERHEAD + CLOUD_RUN_REQUEST_LOG_BYTES);
    variable = [
      line("compute", "compute.vcpuSecond", instanceSeconds * cpu, `${fmt(instanceSeconds)} busy instance-s (${concurrency} at once${waitBasis}) × ${cpu} vCPU`),
      line("compute", "compute.gbSecond", instanceSeconds * (shape.memoryMb / 1024), `× ${shape.memoryMb} MiB`),
      line("requests", "compute.request", pages, "one push request a message"),
      line("queue", "queue.tib", (pages * (pushBytes + publishBytes)) / (1024 * GIB), `${fmt(pushBytes)} B a push + ${fmt(publishBytes)} B a publish (1,000 B minimum a request)`),
      common.writes,
      common.storage,
      line("log ingestion", "logs.ingestGb", logBytes / GIB, `${fmt(inputs.gcpLogBytesPerPage)} B a page (measured) + ~${LOG_ENTRY_OVERHEAD} B an entry + ~${CLOUD_RUN_REQUEST_LOG_BYTES} B request log (estimate)`),
      line("log storage", "logs.gbMonth", (logBytes / GIB) * Math.max(0, shape.logRetentionDays - GCP_INCLUDED_RETENTION_DAYS) / 30, `kept ${shape.logRetentionDays} days, ${GCP_INCLUDED_RETENTION_DAYS} included`),
      line("config reads", "config.read", instanceSeconds / (shape.settings.settingsTtlMs / 1000), `one read per busy instance every ${shape.settings.settingsTtlMs / 1000} s`),
    ];
    monthly = [line("metrics", "metrics.mib", GCP_LOG_METRIC_BYTES_PER_MONTH / 1024 ** 2, "6 log-based metrics, one series each"), line("alarms", "alarms.alarmMonth", BILLED_ALARMS.gcpAlertConditions, `${BILLED_ALARMS.gcpAlertConditions} alerting conditions in 6 policies`)];
  }

  const all = [...variable, ...monthly];
  const free = table.freeTiers
    .map((tier) => {
      const used = all.filter((candidate) => candidate.priceId === tier.offsets).reduce((sum, candidate) => sum + candidate.quantity, 0);
      return { item: tier.item, usd: Math.min(used, tier.perMonth) * price(tier.offsets).usd, source: tier.source };
    })
    .filter((grant) => grant.usd > 0);
  const variableUsd = sum(variable);
  const monthlyUsd = sum(monthly);
  const freeUsd = free.reduce((total, grant) => total + grant.usd, 0);
  return { cloud, region, design, pages, variable, monthly, free, variableUsd, monthlyUsd, freeUsd, perMillionUsd: (variableUsd / pages) * 1e6, monthTotalUsd: variableUsd + monthlyUsd - freeUsd };
}

/** How the result writes were counted, with the batching formula's figures when it is on. */
function writesBasis(shape: StackShape, concurrency: number, wallMs: number, batching: ResultBatching): string {
  const raw = shape.settings.storeRawHtml ? " + raw HTML, 1 a page" : "";
  const { resultBatchMaxRecords: maxRecords, resultBatchWindowMs: windowMs } = shape.settings;
  if (maxRecords === 1) return `${shape.settings.storeRawHtml ? 2 : 1} object${shape.settings.storeRawHtml ? "s" : ""} a page (record${raw ? " + raw HTML" : ""})`;
  if (concurrency === 1) return `1 record object a page (one page at a time: each batch is written at once)${raw}`;
  return `1 record object per ${fmt(batching.recordsPerObject)} pages: min(resultBatchMaxRecords ${maxRecords}, ${concurrency} at once, 1 + ${concurrency} × window ${windowMs} ms / (${fmt(wallMs)} ms a page + ${fmt(batching.waitMs)} ms wait))${raw}`;
}

function sum(lines: readonly CostLine[]): number {
  return lines.reduce((total, candidate) => total + candidate.usd, 0);
}

function fmt(value: number): string {
  return value >= 100 ? Math.round(value).toLocaleString("en-US") : value.toFixed(value >= 10 ? 1 : 2).replace(/\.?0+$/, "");
}
