/**
 * The work topic, the retry topic, the dead-letter topic with its own
 * subscription, and our own push subscriptions (work and retry) to the
 * function.
 *
 * The handler chooses when a message it cannot finish comes back, and when it
 * is dead-lettered (functions/gcp/redelivery.ts): it acknowledges the message
 * and publishes it again to the retry topic with a hold. The retry topic has
 * its own push subscription so that the quick refusals of held copies (425
 * until their time) slow only that subscription's pushes, never the work
 * subscription's (https://cloud.google.com/pubsub/docs/push: Pub/Sub adjusts
 * a subscription's push rate to its success responses).
 *
 * The function has no `eventTrigger`: the subscription Eventarc would create
 * for it is Eventarc's, not the program's, keeps messages 24 hours and
 * discards what is not delivered by then unless a dead-letter topic is set on
 * it by hand (https://cloud.google.com/eventarc/docs/retry-events). Our own
 * push subscription carries the dead-letter policy, the retry back-off and the
 * OIDC identity the function's invoker grant names, all under Pulumi.
 */
import * as pulumi from "@pulumi/pulumi";
import * as pubsub from "@pulumi/gcp/pubsub";
import { GCP_LIMITS } from "../cloudLimits";
import { resourceName } from "../naming";

/**
 * How long dead letters wait in their subscription: 31 days, the most a
 * subscription keeps a message (../cloudLimits.ts), so an operator back from
 * a long absence still finds them. Storage beyond 7 days is billed, at the
 * price of a few kilobytes per dead letter.
 * https://cloud.google.com/pubsub/pricing#storage_costs
 */
export const DEAD_LETTER_RETENTION = `${GCP_LIMITS.subscriptionRetentionSeconds.max}s`;
/**
 * Messages unacknowledged for 4 days are dropped, as on SQS: a weekend outage
 * can still drain. A held copy is a new message with its own 4 days, far
 * beyond the longest hold (MAX_HOLD_SECONDS, 12 h).
 */
export const WORK_RETENTION = "345600s";
/**
 * Redelivery back-off after a non-2xx answer: 10 s, doubling, at most 600 s
 * (Pub/Sub's range is 0–600 s). On the retry subscription this is the step
 * in which a held copy comes back (functions/gcp/redelivery.ts).
 */
export const RETRY_BACKOFF = { minimumBackoff: "10s", maximumBackoff: `${GCP_LIMITS.retryBackoffSeconds.max}s` } as const;
/**
 * Deliveries before Pub/Sub itself dead-letters a message: its maximum, 100.
 * The stack's `maxDeliveryAttempts` is counted by the handler (attributes);
 * Pub/Sub's count is the net under it, for what the handler cannot answer:
 * a function that crashes or times out on a message, a publish that keeps
 * failing, Cloud Run refusing pushes (429) while every instance is busy, and
 * on the retry subscription the refusals of a held copy, which for the
 * longest hold come to fewer than 80 (RETRY_BACKOFF, above).
 */
export const SAFETY_NET_DELIVERIES = GCP_LIMITS.maxDeliveryAttempts.max;
/** `ttl: ""` means never: the default deletes a subscription after 31 days without activity, which a quiet fleet reaches. */
export const NEVER_EXPIRE = { ttl: "" } as const;

/** The topics' and subscriptions' names: the alert and dashboard filters name the subscriptions too. */
export function queueNames(namePrefix: string) {
  return {
    workTopic: resourceName("gcpPubSubTopic", namePrefix, "work"),
    retryTopic: resourceName("gcpPubSubTopic", namePrefix, "retry"),
    deadLetterTopic: resourceName("gcpPubSubTopic", namePrefix, "dlq"),
    workSubscription: resourceName("gcpPubSubSubscription", namePrefix, "work-push"),
    retrySubscription: resourceName("gcpPubSubSubscription", namePrefix, "retry-push"),
    deadLetterSubscription: resourceName("gcpPubSubSubscription", namePrefix, "dlq"),
  } as const;
}

export interface TopicsArgs {
  readonly namePrefix: string;
  readonly project: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface Topics {
  readonly workTopic: pubsub.Topic;
  /** Where the handler publishes a message it holds back (functions/gcp/redelivery.ts). */
  readonly retryTopic: pubsub.Topic;
  readonly deadLetterTopic: pubsub.Topic;
  /** Pull subscription on the dead-letter topic: without one, dead letters are published to no one and lost. */
  readonly deadLetterSubscription: pubsub.Subscription;
}

export function createTopics(name: string, args: TopicsArgs, opts: pulumi.CustomResourceOptions): Topics {
  const { project, labels } = args;
  const names = queueNames(args.namePrefix);
  const workTopic = new pubsub.Topic(`${name}-work`, { project, name: names.workTopic, labels }, opts);
  const retryTopic = new pubsub.Topic(`${name}-retry`, { project, name: names.retryTopic, labels }, opts);
  const deadLetterTopic = new pubsub.Topic(`${name}-dlq`, { project, name: names.deadLetterTopic, labels }, opts);
  const deadLetterSubscription = new pubsub.Subscription(
    `${name}-dlq-sub`,
    {
      project,
      name: names.deadLetterSubscription,
      topic: deadLetterTopic.id,
      messageRetentionDuration: DEAD_LETTER_RETENTION,
      expirationPolicy: NEVER_EXPIRE,
      // Read by people (`gcloud pubsub subscriptions pull`), who need time to look.
      ackDeadlineSeconds: 60,
      labels,
    },
    opts,
  );
  return { workTopic, retryTopic, deadLetterTopic, deadLetterSubscription };
}

export interface PushSubscriptionArgs {
  readonly namePrefix: string;
  readonly project: string;
  readonly topics: Pick<Topics, "workTopic" | "retryTopic" | "deadLetterTopic">;
  /** Also the push request's timeout; at least the function timeout + the margin (./config.ts). */
  readonly ackDeadlineSeconds: number;
  /** The function's HTTPS URL (its Cloud Run service's run.app URI): the push endpoint and the OIDC audience. */
  readonly endpoint: pulumi.Input<string>;
  /** The invoker service account whose OIDC token Pub/Sub attaches. */
  readonly invokerEmail: pulumi.Input<string>;
  readonly labels: Readonly<Record<string, string>>;
}

/**
 * The two push subscriptions, work and retry, alike but for their topic. The
 * default (wrapped) payload is kept: it carries the message id, attributes and
 * `deliveryAttempt` in the JSON body the handler decodes
 * (functions/gcp/pushEnvelope.ts); `noWrapper` would move them to headers.
 *
 * `pushConfig` is set on create and then left to `fleet pause` / `fleet
 * resume` (ops/backends/gcp.ts), which detach it (an empty pushConfig makes
 * the subscription pull, so messages wait) and restore exactly this endpoint,
 * audience and account. Without `ignoreChanges`, a `pulumi up --refresh` on a
 * paused fleet would see the empty config and re-attach the endpoint (the
 * provider updates it with modifyPushConfig,
 * https://github.com/hashicorp/terraform-provider-google/issues/455) while the
 * settings still say `enabled: false`: every worker would refuse every message
 * and spend its delivery attempts until the backlog was dead-lettered. The
 * cost: a new function URL (the function replaced, say in another region)
 * reaches the subscription only through `fleet resume`, which re-derives it
 * from the live function.
 */
export function createPushSubscriptions(name: string, args: PushSubscriptionArgs, opts: pulumi.CustomResourceOptions): { work: pubsub.Subscription; retry: pubsub.Subscription } {
  const names = queueNames(args.namePrefix);
  const subscription = (key: string, subscriptionName: string, topic: pubsub.Topic) =>
    new pubsub.Subscription(
      `${name}-${key}-push`,
      {
        project: args.project,
        name: subscriptionName,
        topic: topic.id,
        ackDeadlineSeconds: args.ackDeadlineSeconds,
        messageRetentionDuration: WORK_RETENTION,
        expirationPolicy: NEVER_EXPIRE,
        retryPolicy: RETRY_BACKOFF,
        deadLetterPolicy: { deadLetterTopic: args.topics.deadLetterTopic.id, maxDeliveryAttempts: SAFETY_NET_DELIVERIES },
        pushConfig: {
          pushEndpoint: args.endpoint,
          oidcToken: { serviceAccountEmail: args.invokerEmail, audience: args.endpoint },
        },
        labels: args.labels,
      },
      { ...opts, ignoreChanges: ["pushConfig"] },
    );
  return { work: subscription("work", names.workSubscription, args.topics.workTopic), retry: subscription("retry", names.retrySubscription, args.topics.retryTopic) };
}

/** Seconds from the first delivery of a copy to its n-th (1-based), if Pub/Sub keeps RETRY_BACKOFF exactly: 0, 10, 30, 70, … then 600 s apart. */
export function deliveryOffsetSeconds(delivery: number): number {
  const first = Number.parseInt(RETRY_BACKOFF.minimumBackoff, 10);
  const max = Number.parseInt(RETRY_BACKOFF.maximumBackoff, 10);
  let offset = 0;
  for (let gap = 1; gap < delivery; gap += 1) offset += Math.min(max, first * 2 ** (gap - 1));
  return offset;
}

