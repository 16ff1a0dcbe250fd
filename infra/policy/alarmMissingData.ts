/**
 * A dead-letter alarm stays in ALARM while dead letters remain. SQS stops
 * publishing a queue's metrics after 6 hours without activity
 * (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/monitoring-using-cloudwatch.html),
 * and nothing reads a dead-letter queue until someone acts on it, so its
 * metrics stop while it still holds messages. With `notBreaching` the alarm
 * then sends an OK; with `missing` (the default) it drops to
 * INSUFFICIENT_DATA. `ignore` keeps the state it has until a real datapoint
 * arrives (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#alarms-and-missing-data).
 */
import { nameOf, sqsDeadLetterQueues } from "./references";
import { AWS } from "./types";
import { display, items, read, text, violation, type FleetRule, type ResourceView, type Violation } from "./view";

/** The SQS queue names an alarm reads, directly or in its metric queries. */
function sqsQueuesOf(alarm: ResourceView): string[] {
  const direct = { namespace: read(alarm.props, "namespace"), dimensions: read(alarm.props, "dimensions") };
  const queried = items(read(alarm.props, "metricQueries")).map((query) => ({ namespace: read(query, "metric", "namespace"), dimensions: read(query, "metric", "dimensions") }));
  return [direct, ...queried]
    .filter((metric) => metric.namespace === "AWS/SQS")
    .map((metric) => text(read(metric.dimensions, "QueueName")))
    .filter((name): name is string => name !== undefined);
}

function checkStack(resources: readonly ResourceView[]): Violation[] {
  const deadLetterNames = new Set(sqsDeadLetterQueues(resources).map(nameOf).filter((name): name is string => name !== undefined));
  return resources
    .filter((resource) => resource.type === AWS.metricAlarm)
    .filter((alarm) => sqsQueuesOf(alarm).some((queue) => deadLetterNames.has(queue)))
    .filter((alarm) => text(read(alarm.props, "treatMissingData")) !== "ignore")
    .map((alarm) =>
      violation(
        alarm,
        `${display(alarm)} watches a dead-letter queue with treatMissingData ${JSON.stringify(read(alarm.props, "treatMissingData") ?? "missing")}: SQS stops publishing the queue's metrics after 6 hours without activity, and the alarm then clears (or goes to INSUFFICIENT_DATA) while dead letters remain. Fix: set treatMissingData: "ignore".`,
      ),
    );
}

export const alarmMissingData: FleetRule = {
  name: "alarm-missing-data",
  description: "A dead-letter alarm does not clear itself when the queue's metrics stop.",
  checks: ['CloudWatch alarm on an `AWS/SQS` metric of a dead-letter queue: `treatMissingData: "ignore"`'],
  checkStack,
};
