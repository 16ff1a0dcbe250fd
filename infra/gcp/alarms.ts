/**
 * The fleet's alert policies and where they go: an e-mail notification
 * channel (and a webhook channel, when the stack has one). Every policy
 * notifies every channel, when it opens and when it closes.
 *
 * Metrics (https://cloud.google.com/monitoring/api/metrics_gcp):
 * - `pubsub.googleapis.com/subscription/num_undelivered_messages` and
 *   `oldest_unacked_message_age` on the work push subscription;
 * - the dead-letter subscription's `num_undelivered_messages`: like the AWS
 *   dead-letter alarm it stays open until someone drains the dead letters,
 *   where `dead_letter_message_count` is a sparse delta that closes by itself;
 * - `run.googleapis.com/request_count` by `response_code_class`: a gen2
 *   function's requests are its Cloud Run service's. The handler answers a
 *   page-level retry with 429 and only its own faults with 5xx, so the ratio
 *   is the function's error rate, not the scraped sites';
 * - `pubsub.googleapis.com/subscription/push_request_count` with
 *   `response_class="ack"`: the stalled policy's "nothing processed";
 * - the log-based `Pages` counter (./dashboard.ts), by `outcome`: the share of
 *   pages ending `retry` or `malformed` over 15 minutes, the same measure as on
 *   the other clouds. It also opens when the workers cannot read their
 *   settings: then every page is a `settings_unavailable` retry.
 */
import * as pulumi from "@pulumi/pulumi";
import * as monitoring from "@pulumi/gcp/monitoring";
import { PAGE_RETRIES_ALARM } from "../../shared/metricNames";
import type { AlarmThresholds } from "../contract";

export interface AlarmsArgs {
  readonly namePrefix: string;
  readonly project: string;
  readonly alertEmail: string;
  /** A Pulumi secret; never printed. */
  readonly alertWebhookUrl?: pulumi.Output<string>;
  readonly thresholds: AlarmThresholds;
  /** Subscription and service names as Cloud Monitoring labels them (short ids). */
  readonly workSubscriptionName: string;
  readonly deadLetterSubscriptionName: string;
  readonly functionName: string;
  /** The log-based page counter labelled by outcome (`<namePrefix>/Pages`, ./dashboard.ts). */
  readonly pagesMetricName: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface Alarms {
  /** The e-mail channel: the fleet's `alertChannel` output. */
  readonly emailChannel: monitoring.NotificationChannel;
  readonly channels: readonly monitoring.NotificationChannel[];
  readonly policies: readonly monitoring.AlertPolicy[];
}

const subscriptionMetric = (metric: string, subscription: string) =>
  `resource.type = "pubsub_subscription" AND resource.labels.subscription_id = "${subscription}" AND metric.type = "pubsub.googleapis.com/subscription/${metric}"`;
const functionRequests = (functionName: string) =>
  `resource.type = "cloud_run_revision" AND resource.labels.service_name = "${functionName}" AND metric.type = "run.googleapis.com/request_count"`;

/** Filters the policies and the dashboard share. */
export const FILTERS = {
  backlog: (subscription: string) => subscriptionMetric("num_undelivered_messages", subscription),
  oldestAge: (subscription: string) => subscriptionMetric("oldest_unacked_message_age", subscription),
  pushRequests: (subscription: string) => subscriptionMetric("push_request_count", subscription),
  acknowledgedPushes: (subscription: string) => `${subscriptionMetric("push_request_count", subscription)} AND metric.labels.response_class = "ack"`,
  functionRequests,
  functionErrors: (functionName: string) => `${functionRequests(functionName)} AND metric.labels.response_code_class = "5xx"`,
  pages: (metricName: string) => `metric.type = "logging.googleapis.com/user/${metricName}"`,
  // The label match the filter syntax documents (https://cloud.google.com/monitoring/api/v3/filters).
  retriedPages: (metricName: string) => `metric.type = "logging.googleapis.com/user/${metricName}" AND metric.labels.outcome = monitoring.regex.full_match("${PAGE_RETRIES_ALARM.sentBack.join("|")}")`,
} as const;

const MINUTE = "60s";
const FIVE_MINUTES = "300s";
const PAGE_RETRIES_WINDOW = `${PAGE_RETRIES_ALARM.windowMinutes * 60}s`;
const maxPerMinute = [{ alignmentPeriod: MINUTE, perSeriesAligner: "ALIGN_MAX" }];

export function createAlarms(name: string, args: AlarmsArgs, opts: pulumi.CustomResourceOptions): Alarms {
  const { project, labels } = args;
  // Cloud Monitoring e-mails the address directly: no confirmation step, unlike SNS.
  const emailChannel = new monitoring.NotificationChannel(
    `${name}-alerts-email`,
    { project, displayName: `${args.namePrefix} alerts (e-mail)`, type: "email", labels: { email_address: args.alertEmail }, userLabels: labels },
    opts,
  );
  const channels = [emailChannel];
  if (args.alertWebhookUrl !== undefined) {
    // `sensitiveLabels` holds only auth_token, password and service_key; the
    // URL is a plain label, so it stays a Pulumi secret (encrypted in the
    // state) through `additionalSecretOutputs`.
    channels.push(
      new monitoring.NotificationChannel(
        `${name}-alerts-webhook`,
        { project, displayName: `${args.namePrefix} alerts (webhook)`, type: "webhook_tokenauth", labels: { url: args.alertWebhookUrl }, userLabels: labels },
        { ...opts, additionalSecretOutputs: ["labels"] },
      ),
    );
  }
  const notificationChannels = channels.map((channel) => channel.name);
  // Notify on close too, as CloudWatch's okActions and Azure's resolved
  // notifications do, so the channel learns when an alarm has cleared.
  // https://cloud.google.com/monitoring/api/ref_v3/rest/v3/projects.alertPolicies#AlertStrategy
  const alertStrategy = { notificationPrompts: ["OPENED", "CLOSED"] };
  const policy = (key: string, displayName: string, documentation: string, conditions: monitoring.AlertPolicyArgs["conditions"], combiner = "OR") =>
    new monitoring.AlertPolicy(
      `${name}-${key}`,
      { project, displayName: `${args.namePrefix}: ${displayName}`, combiner, conditions, notificationChannels, alertStrategy, documentation: { content: documentation, mimeType: "text/markdown" }, userLabels: labels },
      opts,
    );

  const t = args.thresholds;
  const work = args.workSubscriptionName;
  const stalledWindow = `${t.stalledMinutes * 60}s`;
  const policies = [
    policy("backlog", "work backlog", `${t.backlogMessages} or more messages wait in subscription \`${work}\`. Raise maxWorkers or messagesPerWorker, or look for a slow site.`, [
      {
        displayName: `undelivered messages >= ${t.backlogMessages}`,
        conditionThreshold: { filter: FILTERS.backlog(work), comparison: "COMPARISON_GE", thresholdValue: t.backlogMessages, duration: "0s", aggregations: [{ alignmentPeriod: FIVE_MINUTES, perSeriesAligner: "ALIGN_MAX" }] },
      },
    ]),
    policy("oldest-message", "oldest message age", `A message has waited ${t.oldestMessageAgeSeconds} s or more in subscription \`${work}\`.`, [
      {
        displayName: `oldest unacked message >= ${t.oldestMessageAgeSeconds} s`,
        conditionThreshold: { filter: FILTERS.oldestAge(work), comparison: "COMPARISON_GE", thresholdValue: t.oldestMessageAgeSeconds, duration: "0s", aggregations: maxPerMinute },
      },
    ]),
    policy("dead-letters", "dead letters", `Messages wait in dead-letter subscription \`${args.deadLetterSubscriptionName}\`: see them (\`npm run fleet -- dead-letters list --stack <stack>\`), fix the cause, then move them back to the work topic (\`npm run fleet -- dead-letters redrive --stack <stack>\`: each is acknowledged only after it was republished).`, [
      {
        displayName: "dead letters > 0",
        conditionThreshold: { filter: FILTERS.backlog(args.deadLetterSubscriptionName), comparison: "COMPARISON_GT", thresholdValue: 0, duration: "0s", aggregations: maxPerMinute },
      },
    ]),
    policy("error-rate", "function error rate", `${t.errorRatePercent}% or more of the worker's requests answered 5xx (crash, timeout, results store or internal error). See the worker's logs.`, [
      {
        displayName: `5xx share >= ${t.errorRatePercent}%`,
        conditionThreshold: {
          filter: FILTERS.functionErrors(args.functionName),
          denominatorFilter: FILTERS.functionRequests(args.functionName),
          aggregations: [{ alignmentPeriod: FIVE_MINUTES, perSeriesAligner: "ALIGN_DELTA", crossSeriesReducer: "REDUCE_SUM", groupByFields: ["resource.labels.service_name"] }],
          denominatorAggregations: [{ alignmentPeriod: FIVE_MINUTES, perSeriesAligner: "ALIGN_DELTA", crossSeriesReducer: "REDUCE_SUM", groupByFields: ["resource.labels.service_name"] }],
          comparison: "COMPARISON_GE",
          thresholdValue: t.errorRatePercent / 100,
          duration: "0s",
        },
      },
    ]),
    policy(
      "page-retries",
      "page retry rate",
      `${t.retryRatePercent}% or more of the pages in ${PAGE_RETRIES_ALARM.windowMinutes} minutes ended \`retry\` or \`malformed\`. Look at the worker's \`page_metric\` lines by \`code\`: many \`http_5xx\` or timeouts mean failing sites; \`store_failed\` a results bucket the worker cannot write; \`settings_unavailable\` a worker that cannot read its settings parameter (check the runtime account's roles/parametermanager.parameterViewer and that the parameter has an enabled version).`,
      [
        {
          displayName: `retry or malformed share >= ${t.retryRatePercent}%`,
          conditionThreshold: {
            filter: FILTERS.retriedPages(args.pagesMetricName),
            denominatorFilter: FILTERS.pages(args.pagesMetricName),
            aggregations: [{ alignmentPeriod: PAGE_RETRIES_WINDOW, perSeriesAligner: "ALIGN_DELTA", crossSeriesReducer: "REDUCE_SUM" }],
            denominatorAggregations: [{ alignmentPeriod: PAGE_RETRIES_WINDOW, perSeriesAligner: "ALIGN_DELTA", crossSeriesReducer: "REDUCE_SUM" }],
            comparison: "COMPARISON_GE",
            thresholdValue: t.retryRatePercent / 100,
            duration: "0s",
          },
        },
      ],
    ),
    // Both conditions at once: messages waited the whole window and not one
    // push was acknowledged in it. An idle, empty queue opens neither.
    policy(
      "stalled",
      "stalled",
      `Messages have waited ${t.stalledMinutes} minutes with none processed: the worker fails every message, the fleet is paused (\`enabled: false\`), or the push subscription cannot reach the function.`,
      [
        { displayName: "messages waiting", conditionThreshold: { filter: FILTERS.backlog(work), comparison: "COMPARISON_GT", thresholdValue: 0, duration: stalledWindow, aggregations: [{ alignmentPeriod: MINUTE, perSeriesAligner: "ALIGN_MIN" }] } },
        { displayName: "no push acknowledged", conditionAbsent: { filter: FILTERS.acknowledgedPushes(work), duration: stalledWindow, aggregations: [{ alignmentPeriod: MINUTE, perSeriesAligner: "ALIGN_SUM" }] } },
      ],
      "AND",
    ),
  ];
  return { emailChannel, channels, policies };
}
