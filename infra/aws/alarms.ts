/**
 * The fleet's alarms and where they go: an SNS topic with an e-mail
 * subscription (and an HTTPS webhook, when the stack has one). Every alarm
 * notifies on ALARM and again on OK.
 */
import * as pulumi from "@pulumi/pulumi";
import * as cloudwatch from "@pulumi/aws/cloudwatch";
import * as sns from "@pulumi/aws/sns";
import { AWS_DEAD_LETTERED_METRIC, METRICS, OUTCOME_METRIC, PAGE_RETRIES_ALARM } from "../../shared/metricNames";
import type { AlarmThresholds } from "../contract";
import { resourceName } from "../naming";

export interface AlarmsArgs {
  readonly namePrefix: string;
  readonly alertEmail: string;
  /** A Pulumi secret; never printed. */
  readonly alertWebhookUrl?: pulumi.Output<string>;
  readonly thresholds: AlarmThresholds;
  readonly workQueueName: pulumi.Input<string>;
  readonly deadLetterQueueName: pulumi.Input<string>;
  readonly functionName: pulumi.Input<string>;
  /** The `Fleet` dimension of the worker's own metrics (its FLEET_NAME). */
  readonly fleetName: string;
  readonly accountId: pulumi.Input<string>;
  readonly region: pulumi.Input<string>;
  readonly partition: pulumi.Input<string>;
  readonly tags: Readonly<Record<string, string>>;
}

export interface Alarms {
  readonly topic: sns.Topic;
  readonly alarms: readonly cloudwatch.MetricAlarm[];
}

/** SQS publishes its metrics every minute; Lambda's too. */
const MINUTE = 60;
const FIVE_MINUTES = 300;

/**
 * The alert topic is not KMS-encrypted: CloudWatch can only publish to an
 * encrypted topic if the key policy lets cloudwatch.amazonaws.com use the key,
 * and the AWS-managed `alias/aws/sns` key's policy cannot be changed to allow
 * it, so alarms would be dropped silently
 * (https://repost.aws/knowledge-center/cloudwatch-configure-alarm-sns).
 * A customer key would cost a monthly fee to protect alarm names and thresholds,
 * which hold no secrets.
 */
export function createAlarms(name: string, args: AlarmsArgs, parent: pulumi.Resource): Alarms {
  const topic = new sns.Topic(`${name}-alerts`, { name: resourceName("awsSnsTopic", args.namePrefix, "alerts"), displayName: "scrape-fleet alarms", tags: args.tags }, { parent });

  new sns.TopicPolicy(
    `${name}-alerts-policy`,
    {
      arn: topic.arn,
      policy: pulumi.jsonStringify({
        Version: "2012-10-17",
        Statement: [
          {
            Sid: "CloudWatchAlarmsPublish",
            Effect: "Allow",
            Principal: { Service: "cloudwatch.amazonaws.com" },
            Action: "sns:Publish",
            Resource: topic.arn,
            // Only this account's alarms (confused-deputy guard).
            Condition: {
              StringEquals: { "aws:SourceAccount": args.accountId },
              ArnLike: { "aws:SourceArn": pulumi.interpolate`arn:${args.partition}:cloudwatch:${args.region}:${args.accountId}:alarm:*` },
            },
          },
        ],
      }),
    },
    { parent },
  );

  // The address gets a confirmation e-mail; alarms reach it once the link is followed.
  new sns.TopicSubscription(`${name}-alerts-email`, { topic: topic.arn, protocol: "email", endpoint: args.alertEmail }, { parent });
  if (args.alertWebhookUrl !== undefined) {
    // The endpoint must answer SNS's SubscriptionConfirmation request.
    new sns.TopicSubscription(`${name}-alerts-webhook`, { topic: topic.arn, protocol: "https", endpoint: args.alertWebhookUrl }, { parent });
  }

  // Every alarm notifies on ALARM and on OK. Unless it says otherwise, it
  // reads missing data as "no work" rather than failure: SQS stops publishing
  // for an idle queue, and Lambda and the worker's page metrics publish only
  // for minutes with work.
  const alarm = (key: string, description: string, condition: Omit<cloudwatch.MetricAlarmArgs, "name" | "alarmDescription" | "alarmActions" | "okActions" | "tags">) =>
    new cloudwatch.MetricAlarm(
      `${name}-${key}`,
      {
        name: resourceName("awsCloudWatchAlarm", args.namePrefix, key),
        alarmDescription: description,
        alarmActions: [topic.arn],
        okActions: [topic.arn],
        treatMissingData: "notBreaching",
        tags: args.tags,
        ...condition,
      },
      { parent },
    );
  const t = args.thresholds;

  const alarms = [
    alarm("backlog", `${t.backlogMessages} or more messages are waiting in the work queue.`, {
      namespace: "AWS/SQS",
      metricName: "ApproximateNumberOfMessagesVisible",
      dimensions: { QueueName: args.workQueueName },
      statistic: "Maximum",
      period: FIVE_MINUTES,
      evaluationPeriods: 1,
      comparisonOperator: "GreaterThanOrEqualToThreshold",
      threshold: t.backlogMessages,
    }),
    alarm("oldest-message", `A message has waited ${t.oldestMessageAgeSeconds} s or more in the work queue.`, {
      namespace: "AWS/SQS",
      metricName: "ApproximateAgeOfOldestMessage",
      dimensions: { QueueName: args.workQueueName },
      statistic: "Maximum",
      period: MINUTE,
      evaluationPeriods: 1,
      comparisonOperator: "GreaterThanOrEqualToThreshold",
      threshold: t.oldestMessageAgeSeconds,
    }),
    alarm("dead-letters", "Messages are in the dead-letter queue: read them, fix the cause, then redrive them.", {
      namespace: "AWS/SQS",
      metricName: "ApproximateNumberOfMessagesVisible",
      dimensions: { QueueName: args.deadLetterQueueName },
      statistic: "Maximum",
      period: MINUTE,
      evaluationPeriods: 1,
      comparisonOperator: "GreaterThanThreshold",
      threshold: 0,
      // Nothing reads the dead-letter queue until someone acts on it, and SQS
      // stops publishing an inactive queue's metrics after 6 hours
      // (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/monitoring-using-cloudwatch.html):
      // "notBreaching" would then send an OK while dead letters remain. The
      // alarm keeps its state until a real datapoint (a redrive or a purge
      // wakes the queue) says 0. See infra/policy/alarmMissingData.ts.
      treatMissingData: "ignore",
    }),
    // The dead-letter queue's depth stays above 0 until someone redrives it,
    // so the alarm above fires once. This one fires for every minute in which
    // the worker returned messages on their last delivery (each moves to the
    // dead-letter queue at its next receive), and clears the minute after.
    alarm("dead-letter-arrivals", "Messages were just sent to the dead-letter queue after their last delivery: read the worker's log for their codes.", {
      namespace: METRICS.namespace,
      metricName: AWS_DEAD_LETTERED_METRIC,
      dimensions: { [METRICS.fleetDimension]: args.fleetName },
      statistic: "Sum",
      period: MINUTE,
      evaluationPeriods: 1,
      comparisonOperator: "GreaterThanThreshold",
      threshold: 0,
    }),
    // The handler answers for every message and never throws, so Lambda's
    // Errors count only invocations that crashed, timed out or could not
    // start (a missing environment variable, an out-of-memory kill): the
    // worker itself failing, every message of the batch coming back. Failing
    // pages are the page-retries alarm's.
    alarm("error-rate", `${t.errorRatePercent}% or more of worker invocations crashed, timed out or could not start.`, {
      metricQueries: [
        { id: "errors", metric: { namespace: "AWS/Lambda", metricName: "Errors", dimensions: { FunctionName: args.functionName }, stat: "Sum", period: FIVE_MINUTES }, returnData: false },
        { id: "invocations", metric: { namespace: "AWS/Lambda", metricName: "Invocations", dimensions: { FunctionName: args.functionName }, stat: "Sum", period: FIVE_MINUTES }, returnData: false },
        { id: "errorRate", expression: "IF(invocations > 0, 100 * FILL(errors, 0) / invocations, 0)", label: "Error rate (%)", returnData: true },
      ],
      evaluationPeriods: 1,
      comparisonOperator: "GreaterThanOrEqualToThreshold",
      threshold: t.errorRatePercent,
    }),
    // The share of pages that end `retry` or `malformed`, from the page
    // metrics the handler writes (EMF, functions/aws/metrics.ts). It sees what
    // Lambda's Errors cannot: sites failing, a results store refusing writes,
    // workers that cannot read their settings (every page `settings_unavailable`),
    // and a paused fleet's messages going back. No pages, no datapoint: no work.
    alarm("page-retries", `${t.retryRatePercent}% or more of the pages of the last ${PAGE_RETRIES_ALARM.windowMinutes} minutes went back to the queue (retry) or could not be read (malformed).`, {
      metricQueries: [
        ...(["ok", "failed", "retry", "malformed"] as const).map((outcome) => ({
          id: outcome,
          metric: { namespace: METRICS.namespace, metricName: OUTCOME_METRIC[outcome], dimensions: { [METRICS.fleetDimension]: args.fleetName }, stat: "Sum", period: PAGE_RETRIES_ALARM.windowMinutes * MINUTE },
          returnData: false,
        })),
        { id: "pages", expression: "FILL(ok, 0) + FILL(failed, 0) + FILL(retry, 0) + FILL(malformed, 0)", returnData: false },
        { id: "retryRate", expression: `IF(pages > 0, 100 * (${PAGE_RETRIES_ALARM.sentBack.map((outcome) => `FILL(${outcome}, 0)`).join(" + ")}) / pages, 0)`, label: "Pages retried or malformed (%)", returnData: true },
      ],
      evaluationPeriods: 1,
      comparisonOperator: "GreaterThanOrEqualToThreshold",
      threshold: t.retryRatePercent,
    }),
    alarm("throttles", "The worker was throttled: the account's concurrency limit is below maxWorkers, or another function uses it.", {
      namespace: "AWS/Lambda",
      metricName: "Throttles",
      dimensions: { FunctionName: args.functionName },
      statistic: "Sum",
      period: FIVE_MINUTES,
      evaluationPeriods: 1,
      comparisonOperator: "GreaterThanThreshold",
      threshold: 0,
    }),
    // Stalled: messages wait but none is deleted, minute after minute.
    alarm("stalled", `Messages have waited for ${t.stalledMinutes} minutes with none processed: the worker is failing every message, or its trigger is disabled.`, {
      metricQueries: [
        { id: "visible", metric: { namespace: "AWS/SQS", metricName: "ApproximateNumberOfMessagesVisible", dimensions: { QueueName: args.workQueueName }, stat: "Minimum", period: MINUTE }, returnData: false },
        { id: "deleted", metric: { namespace: "AWS/SQS", metricName: "NumberOfMessagesDeleted", dimensions: { QueueName: args.workQueueName }, stat: "Sum", period: MINUTE }, returnData: false },
        { id: "stalled", expression: "IF(FILL(visible, 0) > 0 AND FILL(deleted, 0) == 0, 1, 0)", label: "Stalled (1 = yes)", returnData: true },
      ],
      evaluationPeriods: t.stalledMinutes,
      datapointsToAlarm: t.stalledMinutes,
      comparisonOperator: "GreaterThanOrEqualToThreshold",
      threshold: 1,
    }),
  ];

  return { topic, alarms };
}
