/**
 * One CloudWatch dashboard: the queue, the worker, the fleet's own page
 * metrics (Embedded Metric Format, namespace `ScrapeFleet`, dimension
 * `Fleet=<namePrefix>`) and the alarms' states.
 */
import * as pulumi from "@pulumi/pulumi";
import * as cloudwatch from "@pulumi/aws/cloudwatch";
import { AWS_DEAD_LETTERED_METRIC, METRICS, PAGE_OUTCOME_METRICS } from "../../shared/metricNames";
import { resourceName } from "../naming";

export interface DashboardArgs {
  readonly namePrefix: string;
  readonly workQueueName: pulumi.Input<string>;
  readonly deadLetterQueueName: pulumi.Input<string>;
  readonly functionName: pulumi.Input<string>;
  readonly alarmArns: readonly pulumi.Input<string>[];
  readonly region: pulumi.Input<string>;
  readonly partition: pulumi.Input<string>;
}

/** The AWS console's host per partition (the dashboard link). */
const CONSOLE_HOSTS: Readonly<Record<string, string>> = {
  aws: "console.aws.amazon.com",
  "aws-cn": "console.amazonaws.cn",
  "aws-us-gov": "console.amazonaws-us-gov.com",
};

type MetricLine = readonly (string | Record<string, unknown>)[];

interface Widget {
  readonly title: string;
  readonly metrics: readonly MetricLine[];
  readonly stat?: string;
}

export function createDashboard(name: string, args: DashboardArgs, parent: pulumi.Resource): { dashboard: cloudwatch.Dashboard; url: pulumi.Output<string> } {
  const dashboardName = resourceName("awsCloudWatchDashboard", args.namePrefix, "fleet");
  const body = pulumi
    .all([args.workQueueName, args.deadLetterQueueName, args.functionName, args.region, pulumi.all([...args.alarmArns])])
    .apply(([queue, deadLetters, fn, region, alarms]) => JSON.stringify(dashboardBody({ queue, deadLetters, fn, region, alarms, fleet: args.namePrefix })));
  const dashboard = new cloudwatch.Dashboard(`${name}-dashboard`, { dashboardName, dashboardBody: body }, { parent });
  const url = pulumi.interpolate`https://${pulumi.output(args.partition).apply((partition) => CONSOLE_HOSTS[partition] ?? CONSOLE_HOSTS.aws)}/cloudwatch/home?region=${args.region}#dashboards/dashboard/${dashboard.dashboardName}`;
  return { dashboard, url };
}

function dashboardBody(names: { queue: string; deadLetters: string; fn: string; region: string; alarms: readonly string[]; fleet: string }): Record<string, unknown> {
  const sqs = (metric: string, queue: string, options: Record<string, unknown> = {}): MetricLine => ["AWS/SQS", metric, "QueueName", queue, options];
  const fn = (metric: string, options: Record<string, unknown> = {}): MetricLine => ["AWS/Lambda", metric, "FunctionName", names.fn, options];
  const fleet = (metric: string, options: Record<string, unknown> = {}): MetricLine => [METRICS.namespace, metric, METRICS.fleetDimension, names.fleet, options];

  const widgets: Widget[] = [
    { title: "Work queue depth", stat: "Maximum", metrics: [sqs("ApproximateNumberOfMessagesVisible", names.queue, { label: "waiting" }), sqs("ApproximateNumberOfMessagesNotVisible", names.queue, { label: "in flight" })] },
    { title: "Oldest message age (s)", stat: "Maximum", metrics: [sqs("ApproximateAgeOfOldestMessage", names.queue)] },
    {
      title: "Dead letters",
      stat: "Maximum",
      metrics: [sqs("ApproximateNumberOfMessagesVisible", names.deadLetters, { label: "in the dead-letter queue" }), fleet(AWS_DEAD_LETTERED_METRIC, { stat: "Sum", label: "sent there this minute" })],
    },
    { title: "Invocations, errors, throttles", stat: "Sum", metrics: [fn("Invocations"), fn("Errors"), fn("Throttles")] },
    { title: "Duration (ms)", metrics: [fn("Duration", { stat: "Average" }), fn("Duration", { stat: "p99" }), fn("Duration", { stat: "Maximum" })] },
    { title: "Concurrent workers", stat: "Maximum", metrics: [fn("ConcurrentExecutions")] },
    { title: "Pages by outcome", stat: "Sum", metrics: PAGE_OUTCOME_METRICS.map((metric) => fleet(metric)) },
    { title: "Bytes fetched", stat: "Sum", metrics: [fleet(METRICS.bytesFetched)] },
    { title: "Fetch latency (ms)", metrics: ["p50", "p90", "p99"].map((stat) => fleet(METRICS.fetchLatencyMs, { stat, label: stat })) },
  ];
  const width = 8;
  const height = 6;
  return {
    widgets: [
      { type: "alarm", x: 0, y: 0, width: 24, height: 3, properties: { title: "Alarms", alarms: names.alarms } },
      ...widgets.map((widget, index) => ({
        type: "metric",
        x: (index % 3) * width,
        y: 3 + Math.floor(index / 3) * height,
        width,
        height,
        properties: { title: widget.title, region: names.region, view: "timeSeries", period: 60, stat: widget.stat ?? "Average", metrics: widget.metrics },
      })),
    ],
  };
}
