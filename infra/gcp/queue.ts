/**
 * The work topic, the dead-letter topic with its own subscription, and our
 * own push subscription to the function.
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
import { resourceName } from "../naming";

/** How long dead letters wait in their subscription: 7 days, the subscription maximum. */
export const DEAD_LETTER_RETENTION = "604800s";
/** Work messages unacknowledged for 4 days are dropped, as on SQS: a weekend outage can still drain. */
export const WORK_RETENTION = "345600s";
/**
 * Redelivery back-off after a non-2xx answer: 10 s, doubling, at most 600 s
 * (Pub/Sub's range is 0–600 s).
 */
export const RETRY_BACKOFF = { minimumBackoff: "10s", maximumBackoff: "600s" } as const;
/** `ttl: ""` means never: the default deletes a subscription after 31 days without activity, which a quiet fleet reaches. */
export const NEVER_EXPIRE = { ttl: "" } as const;

/** The topics' and subscriptions' names: the alert and dashboard filters name the subscriptions too. */
export function queueNames(namePrefix: string) {
  return {
    workTopic: resourceName("gcpPubSubTopic", namePrefix, "work"),
    deadLetterTopic: resourceName("gcpPubSubTopic", namePrefix, "dlq"),
    workSubscription: resourceName("gcpPubSubSubscription", namePrefix, "work-push"),
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
  readonly deadLetterTopic: pubsub.Topic;
  /** Pull subscription on the dead-letter topic: without one, dead letters are published to no one and lost. */
  readonly deadLetterSubscription: pubsub.Subscription;
}

export function createTopics(name: string, args: TopicsArgs, opts: pulumi.CustomResourceOptions): Topics {
  const { project, labels } = args;
  const names = queueNames(args.namePrefix);
  const workTopic = new pubsub.Topic(`${name}-work`, { project, name: names.workTopic, labels }, opts);
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
  return { workTopic, deadLetterTopic, deadLetterSubscription };
}

export interface PushSubscriptionArgs {
  readonly namePrefix: string;
  readonly project: string;
  readonly workTopic: pubsub.Topic;
  readonly deadLetterTopic: pubsub.Topic;
  /** Deliveries before a message is dead-lettered, 5–100 (same meaning as SQS `maxReceiveCount`). */
  readonly maxDeliveryAttempts: number;
  /** Also the push request's timeout; at least the function timeout (./config.ts). */
  readonly ackDeadlineSeconds: number;
  /** The function's HTTPS URL (its Cloud Run service's run.app URI): the push endpoint and the OIDC audience. */
  readonly endpoint: pulumi.Input<string>;
  /** The invoker service account whose OIDC token Pub/Sub attaches. */
  readonly invokerEmail: pulumi.Input<string>;
  readonly labels: Readonly<Record<string, string>>;
}

/**
 * The push subscription. The default (wrapped) payload is kept: it carries the
 * message id and `deliveryAttempt` in the JSON body the handler decodes
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
export function createPushSubscription(name: string, args: PushSubscriptionArgs, opts: pulumi.CustomResourceOptions): pubsub.Subscription {
  return new pubsub.Subscription(
    `${name}-work-push`,
    {
      project: args.project,
      name: queueNames(args.namePrefix).workSubscription,
      topic: args.workTopic.id,
      ackDeadlineSeconds: args.ackDeadlineSeconds,
      messageRetentionDuration: WORK_RETENTION,
      expirationPolicy: NEVER_EXPIRE,
      retryPolicy: RETRY_BACKOFF,
      deadLetterPolicy: { deadLetterTopic: args.deadLetterTopic.id, maxDeliveryAttempts: args.maxDeliveryAttempts },
      pushConfig: {
        pushEndpoint: args.endpoint,
        oidcToken: { serviceAccountEmail: args.invokerEmail, audience: args.endpoint },
      },
      labels: args.labels,
    },
    { ...opts, ignoreChanges: ["pushConfig"] },
  );
}
