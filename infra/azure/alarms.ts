/**
 * The fleet's alerts and where they go: one action group (e-mail, and an
 * HTTPS webhook when the stack has one) on every alert rule.
 *
 * - backlog: Service Bus `ActiveMessages` on the work queue above `backlogMessages`;
 * - dead letters, two rules. `DeadletteredMessages` is a count of what sits
 *   in the dead-letter queue, so an alert on it fires when the queue stops
 *   being empty (from any cause, expiry included) and then stays fired: later
 *   dead letters would notify nobody. So the fleet's dead-letters alarm
 *   ("dead-lettered") counts the handler's `message_dead_lettered` lines (one
 *   per message, on the delivery Service Bus dead-letters) and, stateless,
 *   notifies for every 5 minutes that brought new ones; the metric alert
 *   ("dead-letters") stays as the catch-all for the queue holding any;
 * - stalled: work waiting and none completed for `stalledMinutes`. A metric
 *   alert cannot say it: `CompleteMessage` has no data points while nothing
 *   completes, and a metric alert skips a series with no data, so it would
 *   never fire on dead workers. A log search alert evaluates even an empty
 *   result, so the namespace's metrics go to the workspace (diagnostic
 *   setting; `ActiveMessages` cannot be exported, `IncomingMessages` and
 *   `CompleteMessage` can) and the rule fires when messages arrived
 *   `stalledMinutes` ago or more and none has been completed since;
 * - page retries: the share of pages ending `retry` or `malformed` over 15
 *   minutes, from the fleet's metric lines, at `retryRatePercent` (every page
 *   of a worker that cannot read its settings ends `settings_unavailable`);
 * - oldest message: Service Bus has no metric for the age of the oldest
 *   waiting message, so the handler reports the age (now − `enqueuedTimeUtc`)
 *   of every message it receives, and the metric line of each window carries
 *   the largest (functions/azure/metrics.ts). A log alert fires when that age
 *   passes `oldestMessageAgeSeconds`. It sees the messages the fleet reaches:
 *   when nothing is received at all, the stalled alert is the one that fires.
 * - errors: invocations that failed for a reason other than the handler's own
 *   settlement (a retry or a malformed message is abandoned by throwing, which
 *   Functions counts as a failure), as a share of all invocations — the same
 *   meaning as Lambda's `Errors` on AWS: crashes, timeouts, host failures.
 *
 * Metric names and dimensions:
 * https://learn.microsoft.com/azure/azure-monitor/reference/supported-metrics/microsoft-servicebus-namespaces-metrics
 */
import * as pulumi from "@pulumi/pulumi";
import * as monitor from "@pulumi/azure-native/monitor";
import { DEAD_LETTERED_EVENT } from "../../functions/azure/appSettings";
import { eventLinesKql, fleetMetricsLinesKql, OLDEST_MESSAGE_AGE_FIELD } from "../../functions/azure/metrics";
import { OUTCOME_METRIC, PAGE_OUTCOME_METRICS, PAGE_RETRIES_ALARM } from "../../shared/metricNames";
import { AZURE_LIMITS } from "../cloudLimits";
import type { AlarmThresholds } from "../contract";
import type { AzureAlarmName, AzureLogAlarmName, AzureMetricAlarmName } from "./config";

/** The handler's settlement errors (functions/azure/index.ts), which are not failures of the fleet. */
export const SETTLEMENT_ERROR_CODES = ["message_abandoned", "message_malformed", "message_exhausted"] as const;

/**
 * Service Bus metrics a diagnostic setting can send to Log Analytics
 * (`AzureMetrics`, namespace totals per minute); `ActiveMessages` and
 * `DeadletteredMessages` cannot be exported.
 * https://learn.microsoft.com/azure/azure-monitor/reference/supported-metrics/microsoft-servicebus-namespaces-metrics
 */
export const EXPORTED_QUEUE_METRICS = ["IncomingMessages", "CompleteMessage"] as const;

/** The diagnostic setting that sends the namespace's metrics to the workspace (one name per namespace). */
export const QUEUE_METRICS_EXPORT = "scrape-fleet-queue-metrics";

/**
 * The stalled rule's window: the shortest window log search alerts accept
 * that covers 4 × `stalledMinutes`, so work that arrived before the stall
 * began is still in view when it has waited `stalledMinutes`.
 */
export function stalledLookbackMinutes(stalledMinutes: number): number {
  const windows = AZURE_LIMITS.logAlertWindowsMinutes;
  return windows.find((window) => window >= 4 * stalledMinutes) ?? windows[windows.length - 1];
}

/** `PT<n>M` / `PT<n>H` / `P<n>D`. */
export function isoMinutes(minutes: number): string {
  if (minutes % 1440 === 0) return `P${minutes / 1440}D`;
  return minutes % 60 === 0 ? `PT${minutes / 60}H` : `PT${minutes}M`;
}

/** The largest message age each window reported, in seconds. */
export function oldestMessageAgeKql(): string {
  return [fleetMetricsLinesKql("appInsights"), `| project timestamp, ${OLDEST_MESSAGE_AGE_FIELD} = todouble(line.${OLDEST_MESSAGE_AGE_FIELD})`].join("\n");
}

/** Pages ending `retry` or `malformed`, in percent of all pages, over the rule's window. */
export function retryRateKql(): string {
  const count = (metric: string) => `sum(toint(line.${metric}))`;
  return [
    fleetMetricsLinesKql("appInsights"),
    `| summarize pages = ${PAGE_OUTCOME_METRICS.map(count).join(" + ")}, sentBack = ${PAGE_RETRIES_ALARM.sentBack.map((outcome) => count(OUTCOME_METRIC[outcome])).join(" + ")}`,
    "| extend RetryRatePercent = iff(pages == 0, 0.0, 100.0 * sentBack / pages)",
    "| project RetryRatePercent",
  ].join("\n");
}

/**
 * Messages the worker dead-lettered (functions/azure/index.ts
 * `DEAD_LETTERED_EVENT`) among the lines ingested in the last 5 minutes, the
 * rule's frequency: each line is counted by one evaluation, however late it
 * was ingested within the window.
 */
export function deadLetteredKql(): string {
  return [eventLinesKql(DEAD_LETTERED_EVENT, "appInsights"), "| where ingestion_time() > ago(5m)", "| summarize DeadLettered = dcount(tostring(line.messageId))"].join("\n");
}

/**
 * Minutes since work arrived with none completed after it: 0 when every
 * arrival was followed by a completion. Over the namespace's exported metrics
 * (`AzureMetrics`), per minute. A retry's copy arrives when it is scheduled,
 * just before its original completes, so retries do not count as waiting.
 */
export function stalledKql(namespaceName: string): string {
  return [
    "let moves = AzureMetrics",
    `    | where ResourceProvider == "MICROSOFT.SERVICEBUS" and Resource =~ "${namespaceName}"`,
    `    | where MetricName in (${EXPORTED_QUEUE_METRICS.map((metric) => `"${metric}"`).join(", ")}) and Total > 0;`,
    'let lastCompleted = toscalar(moves | where MetricName == "CompleteMessage" | summarize max(TimeGenerated));',
    "moves",
    '| where MetricName == "IncomingMessages" and (isnull(lastCompleted) or TimeGenerated > lastCompleted)',
    "| summarize waitingSince = min(TimeGenerated)",
    "| extend StalledMinutes = iff(isnull(waitingSince), 0.0, (now() - waitingSince) / 1m)",
    "| project StalledMinutes",
  ].join("\n");
}

/** Failed invocations that were not the handler settling a message, in percent of all invocations, per 5 minutes. */
export function errorRateKql(): string {
  return [
    "let settled = exceptions",
    `    | where ${SETTLEMENT_ERROR_CODES.map((code) => `outerMessage has "${code}" or innermostMessage has "${code}"`).join(" or ")}`,
    "    | distinct operation_Id;",
    "requests",
    "| summarize invocations = count(), failed = countif(success == false and operation_Id !in (settled)) by bin(timestamp, 5m)",
    "| extend ErrorRatePercent = iff(invocations == 0, 0.0, 100.0 * failed / invocations)",
    "| project timestamp, ErrorRatePercent",
  ].join("\n");
}

export interface AlarmsArgs {
  readonly resourceGroupName: pulumi.Input<string>;
  readonly location: pulumi.Input<string>;
  readonly names: { readonly actionGroup: string; readonly actionGroupShortName: string; readonly alerts: Readonly<Record<AzureAlarmName, string>> };
  readonly alertEmail: string;
  /** A Pulumi secret; never printed. */
  readonly alertWebhookUrl?: pulumi.Output<string>;
  readonly thresholds: AlarmThresholds;
  readonly namespaceId: pulumi.Input<string>;
  readonly namespaceName: pulumi.Input<string>;
  readonly queueName: pulumi.Input<string>;
  readonly appInsightsId: pulumi.Input<string>;
  /** The Log Analytics workspace behind Application Insights: the namespace's metrics go there too. */
  readonly workspaceId: pulumi.Input<string>;
  readonly tags: Readonly<Record<string, string>>;
}

export interface Alarms {
  readonly actionGroup: monitor.ActionGroup;
  readonly metricAlerts: readonly monitor.MetricAlert[];
  readonly logAlerts: readonly monitor.ScheduledQueryRule[];
  readonly queueMetricsExport: monitor.DiagnosticSetting;
}

const SERVICE_BUS_NAMESPACE = "Microsoft.ServiceBus/namespaces";

export function createAlarms(name: string, args: AlarmsArgs, parent: pulumi.Resource): Alarms {
  const actionGroup = new monitor.ActionGroup(
    `${name}-alerts`,
    {
      resourceGroupName: args.resourceGroupName,
      actionGroupName: args.names.actionGroup,
      // Action groups are global resources.
      location: "Global",
      groupShortName: args.names.actionGroupShortName,
      enabled: true,
      emailReceivers: [{ name: "email", emailAddress: args.alertEmail, useCommonAlertSchema: true }],
      webhookReceivers: args.alertWebhookUrl === undefined ? [] : [{ name: "webhook", serviceUri: args.alertWebhookUrl, useCommonAlertSchema: true }],
      tags: args.tags,
    },
    { parent },
  );

  const onQueue = [{ name: "EntityName", operator: "Include", values: [args.queueName] }];
  const metricAlert = (alarm: AzureMetricAlarmName, description: string, severity: number, windowMinutes: number, allOf: readonly MetricCriterion[]) =>
    new monitor.MetricAlert(
      `${name}-${alarm}`,
      {
        resourceGroupName: args.resourceGroupName,
        ruleName: args.names.alerts[alarm],
        location: "global",
        description,
        severity,
        enabled: true,
        autoMitigate: true,
        scopes: [args.namespaceId],
        windowSize: isoMinutes(windowMinutes),
        evaluationFrequency: isoMinutes(Math.min(windowMinutes, 5)),
        criteria: { odataType: "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria", allOf: allOf.map((criterion) => ({ criterionType: "StaticThresholdCriterion", metricNamespace: SERVICE_BUS_NAMESPACE, dimensions: onQueue, ...criterion })) },
        actions: [{ actionGroupId: actionGroup.id }],
        tags: args.tags,
      },
      { parent },
    );

  const { thresholds } = args;
  const metricAlerts = [
    metricAlert("backlog", `${thresholds.backlogMessages} or more messages wait in the work queue`, 2, 5, [
      { name: "ActiveMessages", metricName: "ActiveMessages", operator: "GreaterThanOrEqual", threshold: thresholds.backlogMessages, timeAggregation: "Average" },
    ]),
    metricAlert("dead-letters", "The work queue's dead-letter sub-queue ($DeadLetterQueue) holds messages (fires when it stops being empty, from any cause)", 2, 5, [
      { name: "DeadletteredMessages", metricName: "DeadletteredMessages", operator: "GreaterThan", threshold: 0, timeAggregation: "Maximum" },
    ]),
  ];

  const queueMetricsExport = new monitor.DiagnosticSetting(
    `${name}-queue-metrics`,
    { name: QUEUE_METRICS_EXPORT, resourceUri: args.namespaceId, workspaceId: args.workspaceId, metrics: [{ category: "AllMetrics", enabled: true }] },
    { parent },
  );

  interface LogAlert {
    readonly description: string;
    readonly severity: number;
    readonly query: pulumi.Input<string>;
    readonly column: string;
    readonly threshold: number;
    readonly windowMinutes: number;
    /** Stateful alerts notify once until resolved; stateless ones on every evaluation whose condition holds. */
    readonly stateful: boolean;
    readonly scope: pulumi.Input<string>;
    readonly dependsOn?: pulumi.Resource[];
  }
  const logAlert = (alarm: AzureLogAlarmName, alert: LogAlert) =>
    new monitor.ScheduledQueryRule(
      `${name}-${alarm}`,
      {
        resourceGroupName: args.resourceGroupName,
        ruleName: args.names.alerts[alarm],
        location: args.location,
        kind: "LogAlert",
        description: alert.description,
        severity: alert.severity,
        enabled: true,
        autoMitigate: alert.stateful,
        scopes: [alert.scope],
        evaluationFrequency: "PT5M",
        windowSize: isoMinutes(alert.windowMinutes),
        criteria: {
          allOf: [
            { query: alert.query, timeAggregation: "Maximum", metricMeasureColumn: alert.column, operator: "GreaterThanOrEqual", threshold: alert.threshold, failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 } },
          ],
        },
        actions: { actionGroups: [actionGroup.id] },
        tags: args.tags,
      },
      { parent, dependsOn: alert.dependsOn },
    );

  const onAppInsights = { scope: args.appInsightsId, windowMinutes: 15, stateful: true } as const;
  const logAlerts = [
    logAlert("oldest-message", { ...onAppInsights, description: `A message ${thresholds.oldestMessageAgeSeconds} s old or older was received from the work queue`, severity: 2, query: oldestMessageAgeKql(), column: OLDEST_MESSAGE_AGE_FIELD, threshold: thresholds.oldestMessageAgeSeconds }),
    logAlert("errors", { ...onAppInsights, description: `${thresholds.errorRatePercent}% or more of worker invocations failed`, severity: 1, query: errorRateKql(), column: "ErrorRatePercent", threshold: thresholds.errorRatePercent }),
    logAlert("page-retries", {
      ...onAppInsights,
      windowMinutes: PAGE_RETRIES_ALARM.windowMinutes,
      description: `${thresholds.retryRatePercent}% or more of pages went back to the queue (retry) or could not be read (malformed) over ${PAGE_RETRIES_ALARM.windowMinutes} minutes; settings_unavailable on every page means the workers cannot read their settings`,
      severity: 2,
      query: retryRateKql(),
      column: "RetryRatePercent",
      threshold: thresholds.retryRatePercent,
    }),
    // Stateless, over the lines ingested since the last evaluation: every 5 minutes with new dead letters notifies.
    logAlert("dead-lettered", { scope: args.appInsightsId, windowMinutes: 15, stateful: false, description: "The worker dead-lettered messages (each after maxDeliveryAttempts deliveries): read them in the work queue's $DeadLetterQueue", severity: 1, query: deadLetteredKql(), column: "DeadLettered", threshold: 1 }),
    logAlert("stalled", {
      scope: args.workspaceId,
      // Arrivals far enough back to see work that has waited the whole `stalledMinutes`.
      windowMinutes: stalledLookbackMinutes(thresholds.stalledMinutes),
      stateful: true,
      description: `Messages have waited ${thresholds.stalledMinutes} minutes with none completed`,
      severity: 1,
      query: pulumi.output(args.namespaceName).apply(stalledKql),
      column: "StalledMinutes",
      threshold: thresholds.stalledMinutes,
      dependsOn: [queueMetricsExport],
    }),
  ];

  return { actionGroup, metricAlerts, logAlerts, queueMetricsExport };
}

interface MetricCriterion {
  readonly name: string;
  readonly metricName: string;
  readonly operator: "GreaterThan" | "GreaterThanOrEqual" | "LessThan";
  readonly threshold: number;
  readonly timeAggregation: "Average" | "Minimum" | "Maximum" | "Total";
}
