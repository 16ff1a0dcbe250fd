/**
 * How long a failing site has to recover on Azure before its messages are
 * dead-lettered, from the deployed settings and the handler's own delay
 * function (functions/azure/redelivery.ts, the fleet's retry policy from
 * shared/backoff.ts): the arithmetic the worker runs, not a figure typed by hand.
 *
 * After each of the `maxDeliveryAttempts` failed deliveries the handler
 * schedules a copy for the backoff; the copy that arrives after the last one
 * is not fetched but abandoned until Service Bus dead-letters it, which takes
 * milliseconds. So the time is the sum of the `maxDeliveryAttempts` delays.
 */
import { redeliveryDelaySeconds } from "../../functions/azure/redelivery";
import { TRANSIENT_FAILURE } from "../recovery";
import type { ValidatedFleetArgs } from "../config";


/**
 * Milliseconds from a page's first transient failure to its dead letter, with
 * `random()` as the backoff's jitter (0, the default: the shortest time; just
 * under 1: the longest). The worker's own run on each delivery is left out (a
 * failing fetch takes seconds), so this is a lower bound.
 */
export function transientFailureToDeadLetterMs(args: Pick<ValidatedFleetArgs, "maxDeliveryAttempts">, random: () => number = () => 0): number {
  let seconds = 0;
  for (let deliveries = 1; deliveries <= args.maxDeliveryAttempts; deliveries += 1) seconds += redeliveryDelaySeconds(TRANSIENT_FAILURE, deliveries, random);
  return seconds * 1000;
}
