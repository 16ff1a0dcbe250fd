/**
 * How long a failing site has to recover on AWS before its messages are
 * dead-lettered, from the deployed settings and the handler's own hold
 * function (functions/aws/holds.ts, which takes the fleet's transient backoff
 * from shared/backoff.ts): the same arithmetic the worker runs, not a figure
 * typed by hand.
 */
import { holdSeconds, type QueueLimits } from "../../functions/aws/holds";
import { TRANSIENT_FAILURE } from "../recovery";
import type { ValidatedFleetArgs } from "../config";
import { minimumVisibilityTimeout, WORK_QUEUE_RETENTION_SECONDS } from "./config";

/**
 * Milliseconds from a page's first transient failure to its dead letter: the
 * holds after each of the `maxDeliveryAttempts` failed receives (SQS moves the
 * message at the receive after the last), each cut to the work queue's
 * retention as the handler cuts it. `random` is the backoff's jitter: 0, the
 * default, gives the shortest time. The worker's own run on each receive is
 * left out (a failing fetch takes seconds), so this is a lower bound.
 */
export function transientFailureToDeadLetterMs(
  args: Pick<ValidatedFleetArgs, "maxDeliveryAttempts" | "functionTimeoutSeconds">,
  random: () => number = () => 0,
  visibilityTimeoutSeconds = minimumVisibilityTimeout(args.functionTimeoutSeconds, 0),
): number {
  const limits: QueueLimits = { retentionSeconds: WORK_QUEUE_RETENTION_SECONDS, maxReceiveCount: args.maxDeliveryAttempts, visibilityTimeoutSeconds };
  let elapsedMs = 0;
  for (let attempt = 1; attempt <= args.maxDeliveryAttempts; attempt += 1) {
    elapsedMs += (holdSeconds(TRANSIENT_FAILURE, attempt, random, { limits, sentAtMs: 0, nowMs: elapsedMs }) ?? 0) * 1_000;
  }
  return elapsedMs;
}
