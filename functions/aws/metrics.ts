/**
 * The fleet's metrics as CloudWatch Embedded Metric Format: one JSON log line
 * per batch, which CloudWatch Logs turns into metrics. No PutMetricData call,
 * so recording a page costs no network round trip and no IAM permission.
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
 */
import { AWS_DEAD_LETTERED_METRIC, METRICS, OUTCOME_METRIC } from "../../shared/metricNames";
import type { Metrics, PageMetric } from "../../shared/ports";

/** `Metrics` that collect a batch's pages and write them once, when the batch ends. */
export interface BatchMetrics extends Metrics {
  /** Adds `count` messages returned on their last delivery (on their way to the dead-letter queue) to the batch. */
  recordDeadLetters(count: number): void;
  /** Writes the pages and dead letters recorded since the last flush as one EMF line; writes nothing when there were none. */
  flush(): void;
}

export interface EmfMetricsOptions {
  /** The `Fleet` dimension's value (env `FLEET_NAME`). */
  readonly fleetName: string;
  /** Where the line goes. @default process.stdout */
  readonly write?: (line: string) => void;
  /** Clock in epoch milliseconds, for the line's timestamp. @default Date.now */
  readonly now?: () => number;
}

/**
 * The spec allows at most 100 values for one metric in one document. Beyond
 * that, the latencies go out on further lines that carry only the latency,
 * rather than being averaged, so the percentiles stay right.
 */
const MAX_VALUES_PER_METRIC = 100;

export function createEmfMetrics(options: EmfMetricsOptions): BatchMetrics {
  const write = options.write ?? ((line: string) => process.stdout.write(line));
  const now = options.now ?? Date.now;
  let batch = emptyBatch();

  return {
    recordPage(metric) {
      batch.pages[metric.outcome] += 1;
      batch.bytes += metric.bytesOnWire;
      if (metric.fetchMs > 0) batch.latencies.push(metric.fetchMs);
      if (metric.code !== undefined) batch.codes[metric.code] = (batch.codes[metric.code] ?? 0) + 1;
    },
    recordDeadLetters(count) {
      batch.deadLetters += count;
    },
    flush() {
      const { pages, bytes, latencies, codes, deadLetters } = batch;
      batch = emptyBatch();
      if (pages.ok + pages.failed + pages.retry + pages.malformed + deadLetters === 0) return;
      const timestamp = now();
      const first = latencies.slice(0, MAX_VALUES_PER_METRIC);
      write(
        emfLine(options.fleetName, timestamp, {
          [OUTCOME_METRIC.ok]: { value: pages.ok, unit: "Count" },
          [OUTCOME_METRIC.failed]: { value: pages.failed, unit: "Count" },
          [OUTCOME_METRIC.retry]: { value: pages.retry, unit: "Count" },
          [OUTCOME_METRIC.malformed]: { value: pages.malformed, unit: "Count" },
          [AWS_DEAD_LETTERED_METRIC]: { value: deadLetters, unit: "Count" },
          [METRICS.bytesFetched]: { value: bytes, unit: "Bytes" },
          ...(first.length > 0 ? { [METRICS.fetchLatencyMs]: { value: first, unit: "Milliseconds" } } : {}),
        }, { codes }),
      );
      for (let start = MAX_VALUES_PER_METRIC; start < latencies.length; start += MAX_VALUES_PER_METRIC) {
        write(emfLine(options.fleetName, timestamp, { [METRICS.fetchLatencyMs]: { value: latencies.slice(start, start + MAX_VALUES_PER_METRIC), unit: "Milliseconds" } }, {}));
      }
    },
  };
}

interface Batch {
  readonly pages: Record<PageMetric["outcome"], number>;
  bytes: number;
  readonly latencies: number[];
  /** Failure codes and their counts: kept in the line for Logs Insights, not as metrics (one dimension value per code would multiply the metric count). */
  readonly codes: Record<string, number>;
  deadLetters: number;
}

function emptyBatch(): Batch {
  return { pages: { ok: 0, failed: 0, retry: 0, malformed: 0 }, bytes: 0, latencies: [], codes: {}, deadLetters: 0 };
}

type EmfUnit = "Count" | "Bytes" | "Milliseconds";

/** One EMF document: the `_aws` metadata, the dimension value, and each metric's value at the root. */
function emfLine(
  fleetName: string,
  timestamp: number,
  metrics: Readonly<Record<string, { readonly value: number | readonly number[]; readonly unit: EmfUnit }>>,
  extra: Readonly<Record<string, unknown>>,
): string {
  const entries = Object.entries(metrics);
  const document = {
    _aws: {
      Timestamp: timestamp,
      CloudWatchMetrics: [
        {
          Namespace: METRICS.namespace,
          Dimensions: [[METRICS.fleetDimension]],
          Metrics: entries.map(([name, { unit }]) => ({ Name: name, Unit: unit })),
        },
      ],
    },
    ...extra,
    [METRICS.fleetDimension]: fleetName,
    ...Object.fromEntries(entries.map(([name, { value }]) => [name, value])),
  };
  return `${JSON.stringify(document)}\n`;
}
