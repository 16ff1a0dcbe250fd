/**
 * How one resource names another in the stack rules: by the values a
 * reference resolves to (an ARN, a bucket name, a topic id), since that is
 * what both a finished deployment's outputs and a mocked plan hold.
 */
import { AWS, GCP } from "./types";
import { items, jsonDocument, numeric, read, text, type ResourceView } from "./view";

/** The names an S3 bucket is referred to by: its configurations take `bucket`, its name, which is also its id. */
export function bucketNames(bucket: ResourceView): string[] {
  return [text(read(bucket.props, "bucket")), text(read(bucket.props, "id"))].filter((name): name is string => name !== undefined);
}

/** The bucket-level configurations (public access block, encryption) whose `bucket` is this bucket. */
export function boundTo(bucket: ResourceView, configurations: readonly ResourceView[]): ResourceView[] {
  const names = bucketNames(bucket);
  return configurations.filter((configuration) => names.includes(text(read(configuration.props, "bucket")) ?? ""));
}

export interface RedrivePolicy {
  readonly deadLetterTargetArn?: string;
  readonly maxReceiveCount?: number;
}

/** An SQS queue's redrive policy (a JSON string input), or undefined when it has none. */
export function redrivePolicy(queue: ResourceView): RedrivePolicy | undefined {
  const document = jsonDocument(read(queue.props, "redrivePolicy"));
  if (typeof document !== "object" || document === null) return undefined;
  return { deadLetterTargetArn: text(read(document, "deadLetterTargetArn")), maxReceiveCount: numeric(read(document, "maxReceiveCount")) };
}

/** The SQS queues other queues' redrive policies name: the stack's dead-letter queues. */
export function sqsDeadLetterQueues(resources: readonly ResourceView[]): ResourceView[] {
  const queues = resources.filter((resource) => resource.type === AWS.queue);
  const targets = new Set(queues.map((queue) => redrivePolicy(queue)?.deadLetterTargetArn).filter((arn): arn is string => arn !== undefined));
  return queues.filter((queue) => targets.has(text(read(queue.props, "arn")) ?? ""));
}

/**
 * Whether `reference` names `topic`. Subscriptions and dead-letter policies
 * take a topic's full id, `projects/<project>/topics/<name>`; a subscription
 * also accepts the short name.
 */
export function namesTopic(reference: string | undefined, topic: ResourceView): boolean {
  if (reference === undefined) return false;
  const id = text(read(topic.props, "id"));
  const name = text(read(topic.props, "name"));
  return reference === id || reference === name || (name !== undefined && reference.endsWith(`/topics/${name}`));
}

/** The Pub/Sub topics named by a subscription's `deadLetterPolicy.deadLetterTopic`, with the subscriptions that name them. */
export function deadLetterTopics(resources: readonly ResourceView[]): { topic: ResourceView; sources: ResourceView[] }[] {
  const subscriptions = resources.filter((resource) => resource.type === GCP.subscription);
  return resources
    .filter((resource) => resource.type === GCP.topic)
    .map((topic) => ({ topic, sources: subscriptions.filter((subscription) => namesTopic(deadLetterTopicOf(subscription), topic)) }))
    .filter(({ sources }) => sources.length > 0);
}

export function deadLetterTopicOf(subscription: ResourceView): string | undefined {
  return text(read(subscription.props, "deadLetterPolicy", "deadLetterTopic"));
}

/** The subscriptions whose `topic` is `topic`. */
export function subscriptionsOf(topic: ResourceView, resources: readonly ResourceView[]): ResourceView[] {
  return resources.filter((resource) => resource.type === GCP.subscription && namesTopic(text(read(resource.props, "topic")), topic));
}

/** An SQS queue's or Pub/Sub subscription's own name. */
export function nameOf(resource: ResourceView): string | undefined {
  return text(read(resource.props, "name"));
}

/** Every string a list property holds (alarm actions, notification channels). */
export function strings(value: unknown): string[] {
  return items(value)
    .map((item) => text(item))
    .filter((item): item is string => item !== undefined);
}
