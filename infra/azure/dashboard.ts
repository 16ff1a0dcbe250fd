/**
 * The fleet's dashboard: an Azure Monitor workbook on the fleet's Application
 * Insights, with the same panels as the AWS dashboard — queue depth, age of
 * the oldest message received, dead letters, invocations, errors, duration,
 * instances, and the fleet's own metrics (pages by outcome, bytes, fetch
 * latency).
 *
 * A workbook rather than a portal dashboard: it mixes Service Bus metric
 * charts with KQL over the fleet's trace lines in one document, and its JSON
 * is the gallery format the portal exports, so it can be edited there and
 * pasted back. https://learn.microsoft.com/azure/azure-monitor/visualize/workbooks-overview
 */
import * as pulumi from "@pulumi/pulumi";
import * as applicationinsights from "@pulumi/azure-native/applicationinsights";
import { OLDEST_MESSAGE_AGE_FIELD } from "../../functions/azure/metrics";
import { METRICS, PAGE_OUTCOME_METRICS } from "../../shared/metricNames";
import { fleetMetricsLinesKql } from "../../functions/azure/metrics";
import { errorRateKql, oldestMessageAgeKql } from "./alarms";
import { guidFrom } from "./identity";

export interface DashboardArgs {
  readonly resourceGroupName: pulumi.Input<string>;
  readonly location: pulumi.Input<string>;
  readonly namePrefix: string;
  readonly subscriptionId: pulumi.Input<string>;
  readonly namespaceId: pulumi.Input<string>;
  readonly queueName: pulumi.Input<string>;
  readonly appInsightsId: pulumi.Input<string>;
  readonly tags: Readonly<Record<string, string>>;
}

/** Workbook metric aggregations (the portal's enum): 3 maximum, 4 average. */
const AGGREGATION = { maximum: 3, average: 4 } as const;
const DAY_MS = 86_400_000;

/** A KQL panel over Application Insights. */
function queryPanel(name: string, title: string, query: string, appInsightsId: string, visualization: "timechart" | "linechart" = "timechart"): Record<string, unknown> {
  return {
    type: 3,
    name,
    content: { version: "KqlItem/1.0", title, query, size: 0, queryType: 0, resourceType: "microsoft.insights/components", crossComponentResources: [appInsightsId], timeContext: { durationMs: DAY_MS }, visualization },
  };
}

/** A Service Bus metric panel, filtered to the work queue. */
function metricPanel(name: string, title: string, metric: string, aggregation: number, namespaceId: string, queueName: string): Record<string, unknown> {
  return {
    type: 10,
    name,
    content: {
      version: "MetricsItem/2.0",
      title,
      size: 0,
      chartType: 2,
      resourceType: "microsoft.servicebus/namespaces",
      metricScope: 0,
      resourceIds: [namespaceId],
      timeContext: { durationMs: DAY_MS },
      metrics: [{ namespace: "microsoft.servicebus/namespaces", metric: `microsoft.servicebus/namespaces--${metric}`, aggregation }],
      filters: [{ key: "EntityName", operator: 0, values: [queueName] }],
    },
  };
}

/** The workbook's gallery JSON. */
export function workbookDocument(args: { readonly namePrefix: string; readonly namespaceId: string; readonly queueName: string; readonly appInsightsId: string }): Record<string, unknown> {
  const { namespaceId, queueName, appInsightsId } = args;
  const lines = fleetMetricsLinesKql("appInsights");
  return {
    version: "Notebook/1.0",
    items: [
      { type: 1, name: "title", content: { json: `## scrape-fleet ${args.namePrefix}\nWork queue \`${queueName}\`. Alerts go to the fleet's action group.` } },
      metricPanel("queue-depth", "Messages waiting (ActiveMessages)", "ActiveMessages", AGGREGATION.average, namespaceId, queueName),
      queryPanel("oldest-age", "Oldest message received, seconds", `${oldestMessageAgeKql()}\n| summarize max(${OLDEST_MESSAGE_AGE_FIELD}) by bin(timestamp, 5m)`, appInsightsId),
      metricPanel("dead-letters", "Dead-lettered messages (DeadletteredMessages)", "DeadletteredMessages", AGGREGATION.maximum, namespaceId, queueName),
      queryPanel("invocations", "Invocations", "requests\n| summarize invocations = count() by bin(timestamp, 5m)", appInsightsId),
      queryPanel("errors", "Failed invocations, % (settlement excluded)", errorRateKql(), appInsightsId),
      queryPanel("duration", "Invocation duration, ms", "requests\n| summarize p50 = percentile(duration, 50), p95 = percentile(duration, 95), max = max(duration) by bin(timestamp, 5m)", appInsightsId),
      queryPanel("instances", "Instances", "requests\n| summarize instances = dcount(cloud_RoleInstance) by bin(timestamp, 5m)", appInsightsId),
      queryPanel("pages", "Pages by outcome", `${lines}\n| summarize ${PAGE_OUTCOME_METRICS.map((metric) => `${metric} = sum(toint(line.${metric}))`).join(", ")} by bin(timestamp, 5m)`, appInsightsId),
      queryPanel("bytes", "Bytes fetched", `${lines}\n| summarize ${METRICS.bytesFetched} = sum(tolong(line.${METRICS.bytesFetched})) by bin(timestamp, 5m)`, appInsightsId),
      queryPanel(
        "fetch-latency",
        "Fetch latency, ms (mean and max)",
        `${lines}\n| extend latency = line.${METRICS.fetchLatencyMs}\n| summarize fetches = sum(toint(latency.count)), total = sum(todouble(latency.sum)), max = max(todouble(latency.max)) by bin(timestamp, 5m)\n| project timestamp, mean = iff(fetches == 0, 0.0, total / fetches), max`,
        appInsightsId,
      ),
    ],
    fallbackResourceIds: [appInsightsId],
  };
}

export function createDashboard(name: string, args: DashboardArgs, parent: pulumi.Resource): { workbook: applicationinsights.Workbook; url: pulumi.Output<string> } {
  const workbook = new applicationinsights.Workbook(
    `${name}-dashboard`,
    {
      resourceGroupName: args.resourceGroupName,
      location: args.location,
      // A workbook's name must be a GUID: derived, so every run names the same one.
      resourceName: pulumi.output(args.subscriptionId).apply((subscriptionId) => guidFrom(`${subscriptionId}/${args.namePrefix}/workbook`)),
      kind: "shared",
      category: "workbook",
      displayName: `scrape-fleet ${args.namePrefix}`,
      sourceId: args.appInsightsId,
      serializedData: pulumi
        .all([args.namespaceId, args.queueName, args.appInsightsId])
        .apply(([namespaceId, queueName, appInsightsId]) => JSON.stringify(workbookDocument({ namePrefix: args.namePrefix, namespaceId, queueName, appInsightsId }))),
      tags: args.tags,
    },
    { parent },
  );
  return { workbook, url: pulumi.interpolate`https://portal.azure.com/#resource${workbook.id}` };
}
