/**
 * The fleet's own metric names, shared by the code that emits them (the AWS
 * handler's Embedded Metric Format lines) and the code that charts and alarms
 * on them (infra/aws/dashboard.ts), so the two cannot drift apart.
 */
import type { PageMetric } from "./ports";

export const METRICS = {
  /** CloudWatch namespace of every fleet metric. */
  namespace: "ScrapeFleet",
  /** The one dimension; its value is the fleet's name prefix (`scrape-fleet-<stack>`). */
  fleetDimension: "Fleet",
  /** Pages stored with status `ok`. Count. */
  pagesOk: "PagesOk",
  /** Pages stored with status `failed` (permanent failures). Count. */
  pagesFailed: "PagesFailed",
  /** Pages handed back to the queue for another delivery. Count. */
  pagesRetried: "PagesRetried",
  /** Messages that could not be read (sent to the dead-letter path). Count. */
  pagesMalformed: "PagesMalformed",
  /** Response bytes on the wire. Bytes. */
  bytesFetched: "BytesFetched",
  /** Time to fetch one page, redirects included. Milliseconds. */
  fetchLatencyMs: "FetchLatencyMs",
} as const;

/** Which page-outcome metric each page outcome adds one to. */
export const OUTCOME_METRIC = {
  ok: METRICS.pagesOk,
  failed: METRICS.pagesFailed,
  retry: METRICS.pagesRetried,
  malformed: METRICS.pagesMalformed,
} as const satisfies Record<PageMetric["outcome"], string>;

/** The page-outcome metrics, in the order dashboards show them. */
/**
 * AWS only: messages the Lambda handler returned on their last delivery, which
 * SQS moves to the dead-letter queue at their next receive (Count). The other
 * clouds see each dead letter in their own metrics (Service Bus, Pub/Sub).
 */
export const AWS_DEAD_LETTERED_METRIC = "MessagesDeadLettered";

export const PAGE_OUTCOME_METRICS = [OUTCOME_METRIC.ok, OUTCOME_METRIC.failed, OUTCOME_METRIC.retry, OUTCOME_METRIC.malformed] as const;

/**
 * The page-retries alarm, the same measure on every cloud: the share of the
 * pages of the last `windowMinutes` whose outcome was one of `sentBack`.
 */
export const PAGE_RETRIES_ALARM = { windowMinutes: 15, sentBack: ["retry", "malformed"] } as const satisfies { readonly windowMinutes: number; readonly sentBack: readonly PageMetric["outcome"][] };
