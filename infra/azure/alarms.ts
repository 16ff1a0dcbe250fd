/**
 * The fleet's alerts and where they go: one action group (e-mail, and an
 * HTTPS webhook when the stack has one) on every alert rule.
 *
 * - backlog: Service Bus `ActiveMessages` on the work queue above `backlogMessages`;
 * - dead letters: `DeadletteredMessages` on the work queue above 0;
 * - stalled: messages waiting (`ActiveMessages` minimum > 0) and none
 *   completed (`CompleteMessage` total < 1) for `stalledMinutes`;
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
import { FLEET_METRICS_EVENT, OLDEST_MESSAGE_AGE_FIELD } from "../../functions/azure/metrics";
import type { AlarmThresholds } from "../contract";
import type { AzureAlarmName, AzureLogAlarmName, AzureMetricAlarmName } from "./config";

/** The handler's settlement errors (functions/azure/index.ts), which are not failures of the fleet. */
export const SETTLEMENT_ERROR_CODES = ["message_abandoned", "message_malformed"] as const;

/**
 * Metric alert windows Azure Monitor accepts.
 * https://learn.microsoft.com/azure/templates/microsoft.insights/metricalerts#metricalertproperties
 */
export const METRIC_ALERT_WINDOWS_MINUTES = [1, 5, 15, 30, 60, 360, 720, 1440] as const;

/** The shortest accepted window that covers `minutes`: a stall is only called after `stalledMinutes` at least. */
export function stalledWindowMinutes(minutes: number): number {
  return METRIC_ALERT_WINDOWS_MINUTES.find((window) => window >= minutes) ?? METRIC_ALERT_WINDOWS_MINUTES[METRIC_ALERT_WINDOWS_MINUTES.length - 1];
}

/** `PT<n>M` / `PT<n>H`. */
export function isoMinutes(minutes: number): string {
  return minutes % 60 === 0 ? `PT${minutes / 60}H` : `PT${minutes}M`;
}

/** Each window's metric line (see functions/azure/metrics.ts), parsed. */
export function fleetMetricsLinesKql(): string {
  return [
    "traces",
    `| where message has "${FLEET_METRICS_EVENT}"`,
    "| extend line = parse_json(message)",
    `| where tostring(line.event) == "${FLEET_METRICS_EVENT}"`,
  ].join("\n");
}

/** The largest message age each window reported, in seconds. */
export function oldestMessageAgeKql(): string {
  return [fleetMetricsLinesKql(), `| project timestamp, ${OLDEST_MESSAGE_AGE_FIELD} = todouble(line.${OLDEST_MESSAGE_AGE_FIELD})`].join("\n");
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
  readonly queueName: pulumi.Input<string>;
  readonly appInsightsId: pulumi.Input<string>;
  readonly tags: Readonly<Record<string, string>>;
}

export interface Alarms {
  readonly actionGroup: monitor.ActionGroup;
  readonly metricAlerts: readonly monitor.MetricAlert[];
  readonly logAlerts: readonly monitor.ScheduledQueryRule[];
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
  const stalledWindow = stalledWindowMinutes(thresholds.stalledMinutes);
  const metricAlerts = [
    metricAlert("backlog", `${thresholds.backlogMessages} or more messages wait in the work queue`, 2, 5, [
      { name: "ActiveMessages", metricName: "ActiveMessages", operator: "GreaterThanOrEqual", threshold: thresholds.backlogMessages, timeAggregation: "Average" },
    ]),
    metricAlert("dead-letters", "Messages reached the work queue's dead-letter sub-queue ($DeadLetterQueue)", 1, 5, [
      { name: "DeadletteredMessages", metricName: "DeadletteredMessages", operator: "GreaterThan", threshold: 0, timeAggregation: "Maximum" },
    ]),
    metricAlert("stalled", `Messages have waited ${stalledWindow} minutes with none completed`, 1, stalledWindow, [
      { name: "Waiting", metricName: "ActiveMessages", operator: "GreaterThan", threshold: 0, timeAggregation: "Minimum" },
      { name: "NoneCompleted", metricName: "CompleteMessage", operator: "LessThan", threshold: 1, timeAggregation: "Total" },
    ]),
  ];

  const logAlert = (alarm: AzureLogAlarmName, description: string, severity: number, query: string, column: string, threshold: number) =>
    new monitor.ScheduledQueryRule(
      `${name}-${alarm}`,
      {
        resourceGroupName: args.resourceGroupName,
        ruleName: args.names.alerts[alarm],
        location: args.location,
        kind: "LogAlert",
        description,
        severity,
        enabled: true,
        autoMitigate: true,
        scopes: [args.appInsightsId],
        evaluationFrequency: "PT5M",
        windowSize: "PT15M",
        criteria: {
          allOf: [{ query, timeAggregation: "Maximum", metricMeasureColumn: column, operator: "GreaterThanOrEqual", threshold, failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 } }],
        },
        actions: { actionGroups: [actionGroup.id] },
        tags: args.tags,
      },
      { parent },
    );

  const logAlerts = [
    logAlert("oldest-message", `A message ${thresholds.oldestMessageAgeSeconds} s old or older was received from the work queue`, 2, oldestMessageAgeKql(), OLDEST_MESSAGE_AGE_FIELD, thresholds.oldestMessageAgeSeconds),
    logAlert("errors", `${thresholds.errorRatePercent}% or more of worker invocations failed`, 1, errorRateKql(), "ErrorRatePercent", thresholds.errorRatePercent),
  ];

  return { actionGroup, metricAlerts, logAlerts };
}

interface MetricCriterion {
  readonly name: string;
  readonly metricName: string;
  readonly operator: "GreaterThan" | "GreaterThanOrEqual" | "LessThan";
  readonly threshold: number;
  readonly timeAggregation: "Average" | "Minimum" | "Maximum" | "Total";
}
