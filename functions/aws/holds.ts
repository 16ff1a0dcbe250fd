/**
 * How long a message the handler sends back stays away: its new visibility,
 * chosen by its outcome (`visibilitySeconds`) and cut so that the message
 * still reaches the dead-letter queue before SQS deletes it (`holdSeconds`).
 * Pure (no SDK), so the Pulumi program's recovery figures (infra/aws/recovery.ts)
 * run the handler's own arithmetic.
 *
 * Every receive counts towards the queue's `maxReceiveCount`, however long the
 * message was held; what a hold changes is how many receives a wait costs.
 * `malformed` messages keep the queue's timeout: they are on their way to the
 * dead-letter queue and nothing is gained by changing when.
 */
import { AWS_LIMITS } from "../../infra/cloudLimits";
import { retryDelaySeconds } from "../../shared/backoff";
import type { Outcome } from "../../shared/outcome";

/**
 * The longest visibility SQS accepts is 12 hours, counted from the receive,
 * and a request for more than the time left is refused rather than cut down
 * (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ChangeMessageVisibility.html).
 * Lambda received the batch before the invocation: at most the batching window
 * (300 s at most) plus the function's run (900 s at most) ago. A hold up to
 * what is left after both is always valid.
 * https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
 */
export const MAX_HOLD_SECONDS = AWS_LIMITS.sqsMaxVisibilityTimeoutSeconds - AWS_LIMITS.batchingWindowSeconds.max - AWS_LIMITS.lambdaMaxTimeoutSeconds;

/**
 * The visibility, in whole seconds, for a message the handler returns with
 * `outcome` after receive number `attempt` (1 for the first); undefined when
 * the queue's own timeout should apply (no `retry` outcome).
 * - a `retryAfterMs` (429, 503, or robots.txt answering so): that wait, rounded
 *   up, from 0 to MAX_HOLD_SECONDS: the site said when, so no jitter is added;
 * - `fleet_paused`: PAUSE_HOLD;
 * - any other retry: the fleet's transient backoff (`transientRetryDelayMs`),
 *   with `random()` (0 ≤ x < 1) as the jitter.
 * That is shared/backoff.ts `retryDelaySeconds`, the policy every cloud uses,
 * bounded here by what one SQS visibility change can hold.
 */
export function visibilitySeconds(outcome: Outcome, attempt: number, random: () => number): number | undefined {
  if (outcome.kind !== "retry") return undefined;
  return clampHold(retryDelaySeconds(outcome, attempt, random));
}

function clampHold(seconds: number): number {
  return Math.min(MAX_HOLD_SECONDS, Math.max(0, seconds));
}

/**
 * What the work queue allows a message, as the Pulumi program configured it
 * (passed to the handler through its environment, see environment.ts).
 */
export interface QueueLimits {
  /**
   * The queue's `messageRetentionSeconds`. SQS deletes a message this long
   * after it was first sent, holds included, and silently: an expired message
   * never reaches the dead-letter queue. A message redriven from the
   * dead-letter queue is sent anew, with a new `SentTimestamp`
   * (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-configure-dead-letter-queue-redrive.html).
   * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html
   */
  readonly retentionSeconds: number;
  /** The redrive policy's `maxReceiveCount`: the receive after this many moves the message to the dead-letter queue. */
  readonly maxReceiveCount: number;
  /** The queue's visibility timeout: how long a receive the handler does not hold (a malformed message, a crash, a failed change) keeps the message away. */
  readonly visibilityTimeoutSeconds: number;
}

/**
 * Kept free before expiry after the last receive's time away: the moment the
 * poller takes to receive a message that has become visible, and the batching
 * window (300 s at most) before the move to the dead-letter queue.
 */
export const EXPIRY_MARGIN_SECONDS = 900;

/** Seconds a message that keeps failing can stay in its queue: every receive held for the visibility timeout, and the margin. */
export function receivesSeconds(maxReceiveCount: number, visibilityTimeoutSeconds: number): number {
  return maxReceiveCount * visibilityTimeoutSeconds + EXPIRY_MARGIN_SECONDS;
}

/** The most receives whose `receivesSeconds` fit in `retentionSeconds`. */
export function fittingReceives(retentionSeconds: number, visibilityTimeoutSeconds: number): number {
  return Math.floor((retentionSeconds - EXPIRY_MARGIN_SECONDS) / visibilityTimeoutSeconds);
}

/**
 * The longest hold after receive number `attempt` that still leaves time for
 * every later receive at the queue's visibility timeout, and for the
 * dead-letter move, before the message expires at `sentAtMs` + retention.
 * Each hold cut to this keeps the same true for the next receive, so a message
 * that keeps failing is dead-lettered, never deleted unseen. Negative when
 * even no hold is too long (the time left was spent waiting in a backlog).
 */
export function holdBudgetSeconds(limits: QueueLimits, sentAtMs: number, attempt: number, nowMs: number): number {
  const secondsLeft = Math.floor((sentAtMs + limits.retentionSeconds * 1_000 - nowMs) / 1_000);
  const laterReceives = Math.max(0, limits.maxReceiveCount - Math.max(1, attempt));
  return secondsLeft - laterReceives * limits.visibilityTimeoutSeconds - EXPIRY_MARGIN_SECONDS;
}

/** When and where a message was received, for `holdSeconds`. */
export interface HoldContext {
  /** The queue's limits; left out, holds are not cut. */
  readonly limits?: QueueLimits;
  /** The message's first send, in epoch milliseconds (the record's `SentTimestamp`); left out, holds are not cut. */
  readonly sentAtMs?: number;
  /** Now, in epoch milliseconds. */
  readonly nowMs: number;
}

/**
 * The visibility, in whole seconds, for a message returned with `outcome`
 * after receive `attempt`: `visibilitySeconds`, cut to `holdBudgetSeconds`
 * (never below 0: with no time to spare, the message comes back at once and
 * spends its receives instead of expiring). Undefined when the queue's own
 * timeout applies.
 */
export function holdSeconds(outcome: Outcome, attempt: number, random: () => number, context: HoldContext): number | undefined {
  const wanted = visibilitySeconds(outcome, attempt, random);
  if (wanted === undefined || context.limits === undefined || context.sentAtMs === undefined) return wanted;
  return Math.max(0, Math.min(wanted, holdBudgetSeconds(context.limits, context.sentAtMs, attempt, context.nowMs)));
}
