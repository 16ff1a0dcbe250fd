/**
 * How long a failing site has on Google Cloud: the time from a page's first
 * transient failure (a 5xx without Retry-After) to its dead letter, computed
 * from the deployed settings and the handler's own schedule
 * (functions/gcp/redelivery.ts), not stated by hand.
 *
 * The handler holds the message after each of its `maxDeliveryAttempts`
 * failures (`holdSeconds`, the shared backoff) and dead-letters it when the
 * last hold ends. A held copy is worked on at the first delivery of the retry
 * subscription at or after its time: Pub/Sub delivers it at once and then
 * after each of the subscription's back-off steps (`deliveryOffsetSeconds`,
 * from RETRY_BACKOFF), so each hold is rounded up to the next delivery. Pub/Sub
 * applies its back-off "on a best effort basis"; the figure assumes it keeps it.
 */
import { holdSeconds, MAX_HOLD_SECONDS } from "../../functions/gcp/redelivery";
import type { FleetArgs } from "../contract";
import { TRANSIENT_FAILURE } from "../recovery";
import { deliveryOffsetSeconds, SAFETY_NET_DELIVERIES } from "./queue";

/** Seconds until the first delivery of a held copy at or after `hold` seconds: when the handler works on it again. */
export function heldUntilSeconds(hold: number): number {
  for (let delivery = 1; delivery <= SAFETY_NET_DELIVERIES; delivery += 1) {
    const offset = deliveryOffsetSeconds(delivery);
    if (offset >= hold) return offset;
  }
  throw new Error(`a ${hold} s hold outlasts the retry subscription's ${SAFETY_NET_DELIVERIES} deliveries (the longest hold is ${MAX_HOLD_SECONDS} s)`);
}

/**
 * Milliseconds from a page's first transient failure to its dead letter, with
 * `random()` as the backoff's jitter (0: the shortest; just under 1: the longest).
 */
export function transientFailureToDeadLetterMs(args: Pick<FleetArgs, "maxDeliveryAttempts">, random: () => number = () => 0): number {
  let seconds = 0;
  for (let failures = 0; failures < args.maxDeliveryAttempts; failures += 1) {
    seconds += heldUntilSeconds(holdSeconds(TRANSIENT_FAILURE, { failures, pauses: 0 }, random));
  }
  return seconds * 1000;
}
