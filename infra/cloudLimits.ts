/**
 * The clouds' documented ranges and refusals that the stack-config validation
 * reads, in one table, each with the page that states it. A value the cloud
 * would refuse at `pulumi up` (or accept and then misbehave with) is refused
 * here first, with the key and the fix, before any resource is declared.
 *
 * One exported section per cloud.
 */

/** Google Cloud. */
export const GCP_LIMITS = {
  /**
   * A subscription's ack deadline, in seconds. For push delivery it is also
   * the push request's timeout (provider docs of `pubsub.Subscription.ackDeadlineSeconds`).
   * https://cloud.google.com/pubsub/docs/lease-management
   */
  ackDeadlineSeconds: { min: 10, max: 600 },
  /**
   * Seconds the ack deadline keeps over the function timeout. Pub/Sub's clock
   * starts when it sends the push, before Cloud Run has an instance for it: a
   * request that finds every instance busy waits up to 3.5 × the instances'
   * average start time or 10 s, whichever is longer, and a cold start comes on
   * top (https://cloud.google.com/run/docs/about-instance-autoscaling,
   * "exceeding maximum instances"). 60 s holds a 10 s start three and a half
   * times plus the start itself; without it, a slow success is delivered again.
   */
  ackMarginSeconds: 60,
  /**
   * A subscription keeps unacknowledged messages 10 minutes to 31 days
   * (`messageRetentionDuration`, provider docs of `pubsub.Subscription`).
   * https://cloud.google.com/pubsub/docs/subscription-properties#retention
   */
  subscriptionRetentionSeconds: { min: 600, max: 31 * 24 * 3600 },
  /**
   * `deadLetterPolicy.maxDeliveryAttempts`: 5 to 100.
   * https://cloud.google.com/pubsub/docs/handling-failures#dead_letter_topic
   */
  maxDeliveryAttempts: { min: 5, max: 100 },
  /**
   * `retryPolicy` back-off between two deliveries of one message, 0 to 600 s;
   * applied "on a best effort basis": the delay can be more or less.
   * https://cloud.google.com/pubsub/docs/reference/rest/v1/projects.subscriptions#RetryPolicy
   */
  retryBackoffSeconds: { min: 0, max: 600 },
  /**
   * A metric-absence condition's window, in minutes: whole minutes, at least
   * 2 (provider docs of `conditionAbsent.duration`) and at most 23.5 hours.
   * https://cloud.google.com/monitoring/alerts/metric-absence
   */
  absenceWindowMinutes: { min: 2, max: 1410 },
  /** Log bucket retention, in days. https://cloud.google.com/logging/docs/buckets#custom-retention */
  logBucketRetentionDays: { min: 1, max: 3650 },
} as const;
