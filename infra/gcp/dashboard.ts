/**
 * The fleet's own metrics as log-based metrics over the worker's page lines
 * (functions/gcp/metrics.ts), and one Cloud Monitoring dashboard with the
 * same panels as the AWS one: the queue, the worker, the pages, and the alert
 * policies' states.
 */
import * as pulumi from "@pulumi/pulumi";
import * as logging from "@pulumi/gcp/logging";
import * as monitoring from "@pulumi/gcp/monitoring";
import { PAGE_METRIC_EVENT } from "../../functions/gcp/metrics";
import { METRICS, OUTCOME_METRIC, PAGE_OUTCOME_METRICS } from "../../shared/metricNames";
import { resourceName } from "../naming";
import { FILTERS } from "./alarms";

export interface FleetMetricsArgs {
  readonly namePrefix: string;
  readonly project: string;
  /** The worker's log bucket (`projects/<p>/locations/<l>/buckets/<id>`): the metrics count what is routed there. */
  readonly logBucket: pulumi.Input<string>;
}

/** `logging.googleapis.com/user/<namePrefix>/<metric>`: the names in shared/metricNames.ts under the fleet's prefix. */
export function logMetricName(namePrefix: string, metric: string): string {
  return resourceName("gcpLogMetric", namePrefix, metric);
}

/**
 * One more counter over the same page lines, labelled by `outcome`: the
 * retry-rate alert divides its retry and malformed series by all of them,
 * which a filter can only do within one metric (./alarms.ts).
 */
export const PAGES_BY_OUTCOME = "Pages";

const pageLines = (namePrefix: string) => `jsonPayload.event="${PAGE_METRIC_EVENT}" AND jsonPayload.${METRICS.fleetDimension}="${namePrefix}"`;

/**
 * One counter per outcome (the line carries `<Outcome metric>: 1`), and two
 * distributions: bytes on the wire per page and fetch latency. Bucket-scoped,
 * so they count the entries the sink routes to the worker's log bucket.
 */
export function createFleetMetrics(name: string, args: FleetMetricsArgs, opts: pulumi.CustomResourceOptions): logging.Metric[] {
  const { project, namePrefix } = args;
  const counters = (Object.entries(OUTCOME_METRIC) as [string, string][]).map(
    ([outcome, metric]) =>
      new logging.Metric(
        `${name}-metric-${metric}`,
        {
          project,
          bucketName: args.logBucket,
          name: logMetricName(namePrefix, metric),
          description: `scrape-fleet pages with outcome ${outcome}`,
          filter: `${pageLines(namePrefix)} AND jsonPayload.outcome="${outcome}"`,
          metricDescriptor: { metricKind: "DELTA", valueType: "INT64", unit: "1" },
        },
        opts,
      ),
  );
  const distribution = (metric: string, unit: string, scale: number, description: string) =>
    new logging.Metric(
      `${name}-metric-${metric}`,
      {
        project,
        bucketName: args.logBucket,
        name: logMetricName(namePrefix, metric),
        description,
        filter: `${pageLines(namePrefix)} AND jsonPayload.${metric}>0`,
        valueExtractor: `EXTRACT(jsonPayload.${metric})`,
        metricDescriptor: { metricKind: "DELTA", valueType: "DISTRIBUTION", unit },
        bucketOptions: { exponentialBuckets: { numFiniteBuckets: 32, growthFactor: 2, scale } },
      },
      opts,
    );
  const pagesByOutcome = new logging.Metric(
    `${name}-metric-${PAGES_BY_OUTCOME}`,
    {
      project,
      bucketName: args.logBucket,
      name: logMetricName(namePrefix, PAGES_BY_OUTCOME),
      description: "scrape-fleet pages, by outcome (ok, failed, retry, malformed)",
      filter: pageLines(namePrefix),
      labelExtractors: { outcome: "EXTRACT(jsonPayload.outcome)" },
      metricDescriptor: { metricKind: "DELTA", valueType: "INT64", unit: "1", labels: [{ key: "outcome", valueType: "STRING", description: "The page's outcome." }] },
    },
    opts,
  );
  return [
    ...counters,
    pagesByOutcome,
    distribution(METRICS.bytesFetched, "By", 256, "scrape-fleet response bytes on the wire, per page"),
    distribution(METRICS.fetchLatencyMs, "ms", 1, "scrape-fleet time to fetch one page, redirects included"),
  ];
}

export interface DashboardArgs {
  readonly namePrefix: string;
  readonly project: string;
  readonly workSubscriptionName: string;
  /** Where held messages wait for their time (functions/gcp/redelivery.ts). */
  readonly retrySubscriptionName: string;
  readonly deadLetterSubscriptionName: string;
  readonly functionName: string;
  /** Alert policy resource names, for one alert chart each. */
  readonly alertPolicyNames: readonly pulumi.Input<string>[];
  /** The log-based metrics must exist before a chart can name them. */
  readonly metrics: readonly logging.Metric[];
}

interface Chart {
  readonly title: string;
  readonly dataSets: readonly { readonly filter: string; readonly aligner: string; readonly reducer?: string; readonly groupBy?: readonly string[]; readonly legend?: string }[];
}

export function createDashboard(name: string, args: DashboardArgs, opts: pulumi.CustomResourceOptions): { dashboard: monitoring.Dashboard; url: pulumi.Output<string> } {
  const dashboardJson = pulumi.all([...args.alertPolicyNames]).apply((policies) => JSON.stringify(dashboardBody(args, policies)));
  const dashboard = new monitoring.Dashboard(`${name}-dashboard`, { project: args.project, dashboardJson }, { ...opts, dependsOn: [...args.metrics] });
  // The id is `projects/<number>/dashboards/<id>`; the console link takes the last part.
  const url = dashboard.id.apply((id) => `https://console.cloud.google.com/monitoring/dashboards/custom/${id.split("/").pop()}?project=${args.project}`);
  return { dashboard, url };
}

function dashboardBody(args: DashboardArgs, policies: readonly string[]): Record<string, unknown> {
  const userMetric = (metric: string) => `metric.type = "logging.googleapis.com/user/${logMetricName(args.namePrefix, metric)}"`;
  const percentiles = (filter: string, stats: readonly string[]) => stats.map((stat) => ({ filter, aligner: `ALIGN_PERCENTILE_${stat}`, legend: `p${stat}` }));
  const charts: Chart[] = [
    { title: "Work backlog (undelivered messages)", dataSets: [{ filter: FILTERS.backlog(args.workSubscriptionName), aligner: "ALIGN_MAX" }] },
    { title: "Oldest message age (s)", dataSets: [{ filter: FILTERS.oldestAge(args.workSubscriptionName), aligner: "ALIGN_MAX" }] },
    { title: "Messages held for a retry", dataSets: [{ filter: FILTERS.backlog(args.retrySubscriptionName), aligner: "ALIGN_MAX" }] },
    { title: "Dead letters waiting", dataSets: [{ filter: FILTERS.backlog(args.deadLetterSubscriptionName), aligner: "ALIGN_MAX" }] },
    { title: "Push deliveries by response (per s)", dataSets: [{ filter: FILTERS.pushRequests(args.workSubscriptionName), aligner: "ALIGN_RATE", reducer: "REDUCE_SUM", groupBy: ["metric.labels.response_class"] }] },
    { title: "Function requests by status class (per s)", dataSets: [{ filter: FILTERS.functionRequests(args.functionName), aligner: "ALIGN_RATE", reducer: "REDUCE_SUM", groupBy: ["metric.labels.response_code_class"] }] },
    {
      title: "Function instances",
      dataSets: [{ filter: `resource.type = "cloud_run_revision" AND resource.labels.service_name = "${args.functionName}" AND metric.type = "run.googleapis.com/container/instance_count"`, aligner: "ALIGN_MAX", reducer: "REDUCE_SUM", groupBy: ["metric.labels.state"] }],
    },
    { title: "Pages by outcome (per minute)", dataSets: PAGE_OUTCOME_METRICS.map((metric) => ({ filter: userMetric(metric), aligner: "ALIGN_SUM", reducer: "REDUCE_SUM", legend: metric })) },
    { title: "Bytes fetched per page", dataSets: percentiles(userMetric(METRICS.bytesFetched), ["50", "95"]) },
    { title: "Fetch latency (ms)", dataSets: percentiles(userMetric(METRICS.fetchLatencyMs), ["50", "95", "99"]) },
  ];
  const width = 16;
  const height = 16;
  // A row of alert charts (four to a row) above the metric charts (three to a row).
  const alertTiles = policies.map((policy, index) => ({ xPos: (index % 4) * 12, yPos: Math.floor(index / 4) * 8, width: 12, height: 8, widget: { title: "Alert", alertChart: { name: policy } } }));
  const alertRows = Math.ceil(policies.length / 4) * 8;
  return {
    displayName: `${args.namePrefix} fleet`,
    mosaicLayout: {
      columns: 48,
      tiles: [
        ...alertTiles,
        ...charts.map((chart, index) => ({
          xPos: (index % 3) * width,
          yPos: alertRows + Math.floor(index / 3) * height,
          width,
          height,
          widget: {
            title: chart.title,
            xyChart: {
              dataSets: chart.dataSets.map((set) => ({
                plotType: "LINE",
                ...(set.legend ? { legendTemplate: set.legend } : {}),
                timeSeriesQuery: {
                  timeSeriesFilter: {
                    filter: set.filter,
                    aggregation: { alignmentPeriod: "60s", perSeriesAligner: set.aligner, ...(set.reducer ? { crossSeriesReducer: set.reducer, groupByFields: set.groupBy ?? [] } : {}) },
                  },
                },
              })),
            },
          },
        })),
      ],
    },
  };
}
