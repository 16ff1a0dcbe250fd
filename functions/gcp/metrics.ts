/**
 * The fleet's metrics on Google Cloud: one structured JSON log line per page,
 * which log-based metrics (`infra/gcp/dashboard.ts`) count and measure. No
 * Cloud Monitoring API call, so recording a page costs no network round trip
 * and no IAM permission; Cloud Run ships stdout to Cloud Logging, where a JSON
 * line becomes the entry's `jsonPayload`.
 * https://cloud.google.com/logging/docs/structured-logging
 * https://cloud.google.com/logging/docs/logs-based-metrics
 *
 * The fields carry the names in `shared/metricNames.ts`, as on AWS, so a log
 * query reads the same words as the dashboards.
 */
import { METRICS, OUTCOME_METRIC } from "../../shared/metricNames";
import type { Metrics } from "../../shared/ports";

/** The `event` of a page line: the log-based metrics' filters select it. */
export const PAGE_METRIC_EVENT = "page_metric";

export interface LogMetricsOptions {
  /** The fleet's name (env `FLEET_NAME`), written as the `Fleet` field the metrics filter on. */
  readonly fleetName: string;
  /** Where the line goes. @default process.stdout */
  readonly write?: (line: string) => void;
}

/**
 * One line per page:
 * `{"severity":"INFO","event":"page_metric","Fleet":"…","outcome":"ok","PagesOk":1,"BytesFetched":5120,"FetchLatencyMs":84}`.
 * `FetchLatencyMs` is left out when nothing was fetched, so the latency
 * distribution holds real fetches only; `code` is kept for log queries, not
 * as a metric label (one label value per code would multiply the series).
 */
export function createLogMetrics(options: LogMetricsOptions): Metrics {
  const write = options.write ?? ((line: string) => process.stdout.write(line));
  return {
    recordPage(metric) {
      write(
        `${JSON.stringify({
          severity: "INFO",
          event: PAGE_METRIC_EVENT,
          [METRICS.fleetDimension]: options.fleetName,
          outcome: metric.outcome,
          ...(metric.code === undefined ? {} : { code: metric.code }),
          ...(metric.host === undefined ? {} : { host: metric.host }),
          [OUTCOME_METRIC[metric.outcome]]: 1,
          [METRICS.bytesFetched]: metric.bytesOnWire,
          ...(metric.fetchMs > 0 ? { [METRICS.fetchLatencyMs]: metric.fetchMs } : {}),
        })}\n`,
      );
    },
  };
}
