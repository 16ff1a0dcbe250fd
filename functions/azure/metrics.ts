/**
 * The fleet's metrics on Azure, as one JSON trace line per instance and time
 * window, written through the Functions host's logging to Application Insights
 * (the `traces` table). The host ships its telemetry in batches, so recording a
 * page costs no network call; the alerts and the workbook sum the lines with
 * KQL (`traces | where message has "fleet_metrics"`).
 *
 * Why not Application Insights custom metrics: from the Node.js worker they
 * need the Application Insights SDK in the function (a second telemetry
 * pipeline beside the host's, and more cold-start code), and the metric names
 * and dimensions would still have to be declared twice. A trace line carries
 * the same numbers under the names in shared/metricNames.ts.
 */
import { METRICS, OUTCOME_METRIC } from "../../shared/metricNames";
import type { Metrics, PageMetric } from "../../shared/ports";
import { integerOption } from "../handlerConfig";

/** The trace event the lines carry, and the Azure-only field beside the shared metric names. */
export const FLEET_METRICS_EVENT = "fleet_metrics";

/**
 * The KQL that selects the handler's JSON log lines of one `event`, parsed as
 * `line`, from the Application Insights traces the host writes. The same rows
 * have two schemas: the Application Insights resource (what the alert rules
 * and the dashboard query) names them `traces` / `message`, the Log Analytics
 * workspace behind it (what `fleet status` queries) `AppTraces` / `Message`.
 * https://learn.microsoft.com/azure/azure-monitor/app/convert-classic-resource#table-structure
 */
export function eventLinesKql(event: string, scope: "appInsights" | "workspace"): string {
  const { table, message } = scope === "appInsights" ? { table: "traces", message: "message" } : { table: "AppTraces", message: "Message" };
  return [table, `| where ${message} has "${event}"`, `| extend line = parse_json(${message})`, `| where tostring(line.event) == "${event}"`].join("\n");
}

/** Every window's metrics line (below), parsed as `line`. */
export function fleetMetricsLinesKql(scope: "appInsights" | "workspace"): string {
  return eventLinesKql(FLEET_METRICS_EVENT, scope);
}

/**
 * Service Bus has no metric for the age of the oldest waiting message, so the
 * handler reports the age of each message it receives (now minus its
 * `enqueuedTimeUtc`) and each line carries the window's largest. Seconds.
 */
export const OLDEST_MESSAGE_AGE_FIELD = "OldestMessageAgeSeconds";

/** The fields of one line, for the KQL that reads them (infra/azure/alarms.ts, dashboard.ts). */
export interface FleetMetricsLine {
  readonly event: typeof FLEET_METRICS_EVENT;
  readonly fleet: string;
  /** ISO time the window opened and closed. */
  readonly from: string;
  readonly to: string;
  readonly [METRICS.pagesOk]: number;
  readonly [METRICS.pagesFailed]: number;
  readonly [METRICS.pagesRetried]: number;
  readonly [METRICS.pagesMalformed]: number;
  readonly [METRICS.bytesFetched]: number;
  /** Pages that were fetched, with the sum and largest of their fetch times, so averages add up across lines. */
  readonly [METRICS.fetchLatencyMs]: { readonly count: number; readonly sum: number; readonly max: number };
  readonly [OLDEST_MESSAGE_AGE_FIELD]: number;
  /** Failure codes and their counts. */
  readonly codes: Readonly<Record<string, number>>;
}

/** `Metrics` that collect a window of pages and hand it over as one line. */
export interface WindowMetrics extends Metrics {
  /** Notes the age of a message when it was received. */
  observeMessageAge(ageSeconds: number): void;
  /**
   * The window as one line, and a new window, when the window is at least
   * `flushIntervalMs` old or `force` is set; `undefined` when it is not due or
   * holds nothing.
   */
  takeLine(force: boolean): string | undefined;
}

export interface WindowMetricsOptions {
  /** The `fleet` field's value (app setting `FLEET_NAME`). */
  readonly fleetName: string;
  /**
   * How long a window collects before it is written, in milliseconds. Shorter
   * windows lose less when an instance is stopped mid-work, longer ones write
   * fewer lines. 1000 to 300 000. @default 10000
   */
  readonly flushIntervalMs?: number;
  /** Clock in epoch milliseconds. @default Date.now */
  readonly now?: () => number;
}

export const FLUSH_INTERVAL_MS = { min: 1_000, max: 300_000, default: 10_000 } as const;

export function createWindowMetrics(options: WindowMetricsOptions): WindowMetrics {
  const now = options.now ?? Date.now;
  const interval = integerOption("flushIntervalMs", options.flushIntervalMs, FLUSH_INTERVAL_MS);
  let window = emptyWindow(now());

  return {
    recordPage(metric) {
      window.pages[metric.outcome] += 1;
      window.bytes += metric.bytesOnWire;
      if (metric.fetchMs > 0) {
        window.fetches += 1;
        window.fetchMsSum += metric.fetchMs;
        window.fetchMsMax = Math.max(window.fetchMsMax, metric.fetchMs);
      }
      if (metric.code !== undefined) window.codes[metric.code] = (window.codes[metric.code] ?? 0) + 1;
    },
    observeMessageAge(ageSeconds) {
      if (Number.isFinite(ageSeconds)) window.oldestAgeSeconds = Math.max(window.oldestAgeSeconds ?? 0, Math.round(ageSeconds));
    },
    takeLine(force) {
      const at = now();
      const { pages } = window;
      const empty = pages.ok + pages.failed + pages.retry + pages.malformed === 0 && window.oldestAgeSeconds === undefined;
      if (empty || (!force && at - window.openedAt < interval)) return undefined;
      const closed = window;
      window = emptyWindow(at);
      const line: FleetMetricsLine = {
        event: FLEET_METRICS_EVENT,
        fleet: options.fleetName,
        from: new Date(closed.openedAt).toISOString(),
        to: new Date(at).toISOString(),
        [OUTCOME_METRIC.ok]: closed.pages.ok,
        [OUTCOME_METRIC.failed]: closed.pages.failed,
        [OUTCOME_METRIC.retry]: closed.pages.retry,
        [OUTCOME_METRIC.malformed]: closed.pages.malformed,
        [METRICS.bytesFetched]: closed.bytes,
        [METRICS.fetchLatencyMs]: { count: closed.fetches, sum: closed.fetchMsSum, max: closed.fetchMsMax },
        [OLDEST_MESSAGE_AGE_FIELD]: closed.oldestAgeSeconds ?? 0,
        codes: closed.codes,
      };
      return JSON.stringify(line);
    },
  };
}

interface Window {
  readonly openedAt: number;
  readonly pages: Record<PageMetric["outcome"], number>;
  bytes: number;
  fetches: number;
  fetchMsSum: number;
  fetchMsMax: number;
  /** Unset until a message's age is known. */
  oldestAgeSeconds?: number;
  readonly codes: Record<string, number>;
}

function emptyWindow(openedAt: number): Window {
  return { openedAt, pages: { ok: 0, failed: 0, retry: 0, malformed: 0 }, bytes: 0, fetches: 0, fetchMsSum: 0, fetchMsMax: 0, codes: {} };
}
