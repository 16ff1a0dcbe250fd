/**
 * Rules 3 and 4: every queue has a dead-letter path, and every dead-letter
 * path has an alarm, so a message the fleet cannot process is neither retried
 * forever nor dropped unseen.
 */
import { deadLetterTopicOf, deadLetterTopics, nameOf, namesTopic, redrivePolicy, sqsDeadLetterQueues, subscriptionsOf } from "./references";
import { AWS, AZURE, GCP } from "./types";
import { display, items, numeric, read, text, violation, type FleetRule, type ResourceView, type Violation } from "./view";

/**
 * A push subscription has a `pushConfig` block; a pull subscription's is
 * absent (or null in a deployment's outputs). The endpoint inside is not read:
 * in a preview it is the function's URL, not known yet.
 */
function pushes(subscription: ResourceView): boolean {
  const config = read(subscription.props, "pushConfig");
  return typeof config === "object" && config !== null;
}

function checkQueueResource(resource: ResourceView): string[] {
  const { props } = resource;
  const at = display(resource);
  switch (resource.type) {
    case AZURE.queue: {
      const problems: string[] = [];
      const deliveries = numeric(read(props, "maxDeliveryCount"));
      if (deliveries === undefined || deliveries < 1) problems.push(`${at} has no maxDeliveryCount (${JSON.stringify(read(props, "maxDeliveryCount"))}). Fix: set maxDeliveryCount to the deliveries before a message is dead-lettered (the stack's maxDeliveryAttempts).`);
      if (read(props, "deadLetteringOnMessageExpiration") !== true) problems.push(`${at} drops expired messages instead of dead-lettering them. Fix: set deadLetteringOnMessageExpiration: true.`);
      return problems;
    }
    case GCP.subscription:
      if (pushes(resource) && deadLetterTopicOf(resource) === undefined) {
        return [`${at} pushes with no dead-letter policy, so a message that keeps failing is retried until it expires. Fix: set deadLetterPolicy: { deadLetterTopic: <dead-letter topic>.id, maxDeliveryAttempts }.`];
      }
      return [];
    default:
      return [];
  }
}

function checkQueueStack(resources: readonly ResourceView[]): Violation[] {
  const found: Violation[] = [];

  const queues = resources.filter((resource) => resource.type === AWS.queue);
  const queueArns = new Set(queues.map((queue) => text(read(queue.props, "arn"))));
  const deadLetterQueues = new Set(sqsDeadLetterQueues(resources));
  for (const queue of queues.filter((candidate) => !deadLetterQueues.has(candidate))) {
    const redrive = redrivePolicy(queue);
    if (redrive?.deadLetterTargetArn === undefined) {
      found.push(violation(queue, `${display(queue)} has no redrivePolicy and no queue names it as its dead-letter queue. Fix: set redrivePolicy: JSON.stringify({ deadLetterTargetArn: <dead-letter queue>.arn, maxReceiveCount }).`));
    } else if (!queueArns.has(redrive.deadLetterTargetArn)) {
      found.push(violation(queue, `${display(queue)} dead-letters to ${redrive.deadLetterTargetArn}, which is not a queue of this stack, so no alarm of the stack watches it. Fix: dead-letter to a queue of this stack.`));
    } else if (redrive.maxReceiveCount === undefined || redrive.maxReceiveCount < 1) {
      found.push(violation(queue, `${display(queue)} has a redrivePolicy without a maxReceiveCount of 1 or more. Fix: set maxReceiveCount (the stack's maxDeliveryAttempts).`));
    }
  }

  const topics = resources.filter((resource) => resource.type === GCP.topic);
  const subscriptions = resources.filter((resource) => resource.type === GCP.subscription);
  const deadLetter = deadLetterTopics(resources);
  for (const subscription of subscriptions) {
    const target = deadLetterTopicOf(subscription);
    if (target !== undefined && !topics.some((topic) => namesTopic(target, topic))) {
      found.push(violation(subscription, `${display(subscription)} dead-letters to ${target}, which is not a topic of this stack, so no subscription or alert of the stack reads it. Fix: dead-letter to a topic of this stack.`));
    }
    const onDeadLetterTopic = deadLetter.some(({ topic }) => namesTopic(text(read(subscription.props, "topic")), topic));
    if (target === undefined && !pushes(subscription) && !onDeadLetterTopic) {
      found.push(violation(subscription, `${display(subscription)} pulls with no dead-letter policy and is not itself on a dead-letter topic. Fix: set deadLetterPolicy: { deadLetterTopic: <dead-letter topic>.id, maxDeliveryAttempts }.`));
    }
  }
  for (const { topic } of deadLetter) {
    if (subscriptionsOf(topic, resources).length === 0) {
      found.push(violation(topic, `${display(topic)} receives dead letters but has no subscription, so Pub/Sub publishes them to no one and they are lost. Fix: add a pull subscription on it (long retention, no expiry).`));
    }
  }
  return found;
}

export const deadLetterPath: FleetRule = {
  name: "dead-letter-path",
  description: "Every queue has a dead-letter path.",
  checks: [
    "SQS queue: a `redrivePolicy` naming a queue of this stack with `maxReceiveCount` ≥ 1, unless another queue's redrive names it (it is a dead-letter queue)",
    "Service Bus queue: `maxDeliveryCount` set and `deadLetteringOnMessageExpiration: true` (dead letters go to its `$DeadLetterQueue`)",
    "Pub/Sub subscription: a push subscription has a `deadLetterPolicy`; a pull subscription has one unless it reads a dead-letter topic; every dead-letter topic is a topic of this stack with a subscription of its own",
  ],
  checkResource: checkQueueResource,
  checkStack: checkQueueStack,
};

/**
 * SQS metrics that see messages SQS moved into a dead-letter queue.
 * `NumberOfMessagesSent` does not: it counts only messages sent by a caller.
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/dead-letter-queues-alarms-cloudwatch.html
 */
const SQS_DEAD_LETTER_METRICS = ["ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage"];

/** The (namespace, metric, QueueName) triples an alarm watches, directly or in its metric queries. */
function sqsMetricsOf(alarm: ResourceView): { metricName?: string; queueName?: string }[] {
  const direct = { namespace: read(alarm.props, "namespace"), metricName: read(alarm.props, "metricName"), dimensions: read(alarm.props, "dimensions") };
  const queried = items(read(alarm.props, "metricQueries")).map((query) => ({ namespace: read(query, "metric", "namespace"), metricName: read(query, "metric", "metricName"), dimensions: read(query, "metric", "dimensions") }));
  return [direct, ...queried].filter((metric) => metric.namespace === "AWS/SQS").map((metric) => ({ metricName: text(metric.metricName), queueName: text(read(metric.dimensions, "QueueName")) }));
}

/** Whether a Service Bus metric alert watches `DeadletteredMessages` on the queue named `queueName` (or on every queue of its namespace). */
function watchesDeadLetters(alert: ResourceView, queueName: string | undefined): boolean {
  return items(read(alert.props, "criteria", "allOf")).some((criterion) => {
    if (text(read(criterion, "metricName")) !== "DeadletteredMessages") return false;
    const entity = items(read(criterion, "dimensions")).find((dimension) => text(read(dimension, "name")) === "EntityName");
    if (entity === undefined) return true;
    const values = items(read(entity, "values")).map((value) => text(value));
    return values.includes("*") || (queueName !== undefined && values.includes(queueName));
  });
}

/** Every filter or query of a Cloud Monitoring alert policy's conditions. */
function conditionFilters(policy: ResourceView): string[] {
  return items(read(policy.props, "conditions")).flatMap((condition) =>
    [
      read(condition, "conditionThreshold", "filter"),
      read(condition, "conditionThreshold", "denominatorFilter"),
      read(condition, "conditionAbsent", "filter"),
      read(condition, "conditionMonitoringQueryLanguage", "query"),
      read(condition, "conditionPrometheusQueryLanguage", "query"),
    ]
      .map((filter) => text(filter))
      .filter((filter): filter is string => filter !== undefined),
  );
}

function filterNamesSubscription(filter: string, subscription: string): boolean {
  const escaped = subscription.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`subscription_id"?\\s*=\\s*"?${escaped}"?(?![\\w.-])`).test(filter);
}

function checkAlarmStack(resources: readonly ResourceView[]): Violation[] {
  const found: Violation[] = [];

  const alarms = resources.filter((resource) => resource.type === AWS.metricAlarm);
  for (const queue of sqsDeadLetterQueues(resources)) {
    const name = nameOf(queue);
    const watched = alarms.some((alarm) => sqsMetricsOf(alarm).some((metric) => metric.queueName === name && SQS_DEAD_LETTER_METRICS.includes(metric.metricName ?? "")));
    if (!watched) {
      found.push(
        violation(
          queue,
          `${display(queue)} is a dead-letter queue with no alarm on it. Fix: add an aws.cloudwatch.MetricAlarm on AWS/SQS ApproximateNumberOfMessagesVisible, dimensions { QueueName: ${JSON.stringify(name)} }, GreaterThanThreshold 0, with alarmActions (NumberOfMessagesSent does not count messages SQS moves there).`,
        ),
      );
    }
  }

  const alerts = resources.filter((resource) => resource.type === AZURE.metricAlert);
  for (const queue of resources.filter((resource) => resource.type === AZURE.queue)) {
    const name = text(read(queue.props, "name")) ?? text(read(queue.props, "queueName"));
    if (!alerts.some((alert) => watchesDeadLetters(alert, name))) {
      found.push(
        violation(
          queue,
          `${display(queue)} has no alert on its dead-letter sub-queue. Fix: add a monitor.MetricAlert on the namespace with a criterion metricName "DeadletteredMessages", operator GreaterThan, threshold 0, dimensions [{ name: "EntityName", operator: "Include", values: [${JSON.stringify(name)}] }], and actions.`,
        ),
      );
    }
  }

  const policies = resources.filter((resource) => resource.type === GCP.alertPolicy);
  const filters = policies.flatMap(conditionFilters);
  for (const { topic, sources } of deadLetterTopics(resources)) {
    const readers = subscriptionsOf(topic, resources)
      .map(nameOf)
      .filter((name): name is string => name !== undefined);
    const sourceNames = sources.map(nameOf).filter((name): name is string => name !== undefined);
    const watched = filters.some(
      (filter) =>
        (filter.includes("pubsub.googleapis.com/subscription/") && readers.some((reader) => filterNamesSubscription(filter, reader))) ||
        (filter.includes("pubsub.googleapis.com/subscription/dead_letter_message_count") && sourceNames.some((source) => filterNamesSubscription(filter, source))),
    );
    if (!watched) {
      const reader = readers[0] ?? "<its subscription>";
      found.push(
        violation(
          topic,
          `${display(topic)} receives dead letters and no alert policy watches them. Fix: add a monitoring.AlertPolicy with notificationChannels whose condition filters resource.labels.subscription_id = "${reader}" AND metric.type = "pubsub.googleapis.com/subscription/num_undelivered_messages", COMPARISON_GT 0.`,
        ),
      );
    }
  }
  return found;
}

export const deadLetterAlarm: FleetRule = {
  name: "dead-letter-alarm",
  description: "Every dead-letter path has an alarm.",
  checks: [
    "SQS dead-letter queue: a CloudWatch alarm on `AWS/SQS` `ApproximateNumberOfMessagesVisible` (or `ApproximateAgeOfOldestMessage`) with its `QueueName`",
    "Service Bus queue: a metric alert on `DeadletteredMessages` whose `EntityName` dimension names the queue (or every queue)",
    "Pub/Sub dead-letter topic: an alert policy on a subscription of it (or on `dead_letter_message_count` of the subscription that dead-letters to it)",
  ],
  checkStack: checkAlarmStack,
};
