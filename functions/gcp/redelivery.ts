/**
 * When a message the handler cannot finish now comes back, and when it is
 * dead-lettered: the handler's own schedule, carried in the message's
 * attributes, because Pub/Sub has none that fits.
 *
 * Why not answer non-2xx and let the subscription retry: every non-2xx push is
 * a delivery attempt, Pub/Sub waits at most 600 s between two (`retryPolicy`),
 * and it slows the whole subscription's pushes while they fail ("Pub/Sub
 * dynamically adjusts the rate of push requests based on the rate at which it
 * receives success responses", https://cloud.google.com/pubsub/docs/push). So
 * a failing site's messages would spend their 5 attempts in about 2.5 minutes,
 * a paced host's messages would spend attempts on waiting their turn, and both
 * would slow every other message of the backlog.
 *
 * Instead (one message per push request):
 * - done (`ok`, `failed`): 200, acknowledged;
 * - `malformed`: published to the dead-letter topic with its code and reason, then acknowledged;
 * - any `retry`: acknowledged and published again to the retry topic with
 *   the attributes below: a "not before" time and the count of transient
 *   failures so far. The retry topic's own push subscription delivers it at
 *   once; until its time has come the handler answers 425 in a few
 *   milliseconds, and that subscription's back-off (10 s doubling to 600 s)
 *   brings it back, so a hold of T costs about 7 + (T − 630 s) / 600 s quick
 *   refusals (18 for two hours), all on the retry subscription: the work
 *   subscription only sees acknowledgements and is never slowed.
 * - The hold is the one the AWS handler uses, from one shared place
 *   (shared/backoff.ts): `transientRetryDelayMs` by failure count for a
 *   transient failure, the site's Retry-After when it sent one, PAUSE_HOLD
 *   (doubling, by its own count) while the fleet is paused, and the host's
 *   next free slot for `domain_delay`. Pauses and pacing are not failures and
 *   spend no attempt.
 * - After the stack's `maxDeliveryAttempts` transient failures, the message is
 *   held once more and then dead-lettered without another fetch: as on SQS,
 *   which moves a message on the receive after its last hold, so a failing
 *   site gets the same time on both clouds (infra/gcp/recovery.ts).
 *
 * Nothing is lost: the handler acknowledges only after Pub/Sub accepted the
 * new copy (or the dead letter); if that publish fails it answers 503 and
 * Pub/Sub redelivers the message as it was. A copy published whose answer is
 * lost comes back twice, which at-least-once delivery allows anyway. Both push
 * subscriptions keep Pub/Sub's own dead-letter policy as a safety net (100
 * deliveries: a function that crashes on a message, or Cloud Run refusing
 * pushes while every instance is busy), see infra/gcp/queue.ts.
 */
import { retryDelaySeconds } from "../../shared/backoff";
import type { Outcome } from "../../shared/outcome";

/** The attributes the handler sets on a message it publishes again. Other attributes are carried over unchanged. */
export const REDELIVERY_ATTRIBUTES = {
  /** Transient failures so far (the stack's `maxDeliveryAttempts` counts these). */
  failures: "scrapeFleetFailures",
  /** Pause holds so far (PAUSE_HOLD doubles with each). */
  pauses: "scrapeFleetPauses",
  /** Epoch milliseconds before which the message is not worked on. */
  notBefore: "scrapeFleetNotBefore",
  /** The last outcome's code and reason: on a dead letter, why. */
  code: "scrapeFleetCode",
  reason: "scrapeFleetReason",
} as const;

/**
 * The longest hold, in seconds: 12 hours, as on SQS. The retry subscription
 * must still hold the copy then (retention, infra/gcp/queue.ts) and its safety
 * net must not dead-letter it first: its deliveries, at most 600 s apart after
 * the first seven, cover 630 + 600 × 93 s ≈ 15.7 h over 100 deliveries.
 */
export const MAX_HOLD_SECONDS = 43_200;

/** Pub/Sub refuses an attribute value over 1024 bytes. https://cloud.google.com/pubsub/quotas#resource_limits */
const MAX_ATTRIBUTE_BYTES = 1024;

/** What the attributes say about a message's earlier deliveries. */
export interface RedeliveryState {
  readonly failures: number;
  readonly pauses: number;
  /** Epoch milliseconds; undefined when the message may be worked on now. */
  readonly notBeforeMs?: number;
  readonly code?: string;
  readonly reason?: string;
}

/**
 * Reads the handler's attributes. A value that is not a whole number ≥ 0 (a
 * producer's attribute of the same name, say) counts as absent, so the
 * message is worked on; nothing here can make it skip its attempts.
 */
export function readRedeliveryState(attributes: Readonly<Record<string, string>>): RedeliveryState {
  const count = (key: string) => {
    const value = attributes[key];
    return value !== undefined && /^\d{1,9}$/.test(value) ? Number(value) : 0;
  };
  const notBefore = attributes[REDELIVERY_ATTRIBUTES.notBefore];
  return {
    failures: count(REDELIVERY_ATTRIBUTES.failures),
    pauses: count(REDELIVERY_ATTRIBUTES.pauses),
    ...(notBefore !== undefined && /^\d{1,15}$/.test(notBefore) ? { notBeforeMs: Number(notBefore) } : {}),
    ...(attributes[REDELIVERY_ATTRIBUTES.code] === undefined ? {} : { code: attributes[REDELIVERY_ATTRIBUTES.code] }),
    ...(attributes[REDELIVERY_ATTRIBUTES.reason] === undefined ? {} : { reason: attributes[REDELIVERY_ATTRIBUTES.reason] }),
  };
}

/** What becomes of a message after its outcome. */
export type Redelivery =
  | { readonly kind: "done" }
  | { readonly kind: "republish"; readonly holdSeconds: number; readonly state: RedeliveryState }
  | { readonly kind: "deadLetter"; readonly code: string; readonly reason: string };

/** Codes that wait for something other than the site's recovery, and spend no attempt. */
const UNCOUNTED: ReadonlySet<string> = new Set(["fleet_paused", "domain_delay"]);

/**
 * The hold, in whole seconds from 0 to MAX_HOLD_SECONDS, after a `retry`
 * outcome, given the state the message arrived with: the fleet's retry policy
 * (shared/backoff.ts `retryDelaySeconds`), counting a pause by the pauses so
 * far and anything else by the transient failures so far, since pauses spend
 * no attempt here. `random()` (0 ≤ x < 1) is the jitter.
 */
export function holdSeconds(outcome: Extract<Outcome, { kind: "retry" }>, before: Pick<RedeliveryState, "failures" | "pauses">, random: () => number): number {
  const attempt = outcome.code === "fleet_paused" ? before.pauses + 1 : before.failures + 1;
  return Math.min(MAX_HOLD_SECONDS, retryDelaySeconds(outcome, attempt, random));
}

/** The message's fate after `outcome`, given the state it arrived with and the stack's `maxDeliveryAttempts`. */
export function redeliveryOf(outcome: Outcome, state: RedeliveryState, maxDeliveryAttempts: number, random: () => number): Redelivery {
  switch (outcome.kind) {
    case "ok":
    case "failed":
      return { kind: "done" };
    case "malformed":
      return { kind: "deadLetter", code: outcome.code, reason: outcome.reason };
    case "retry": {
      const counted = !UNCOUNTED.has(outcome.code);
      const next: RedeliveryState = {
        failures: counted ? Math.min(state.failures + 1, maxDeliveryAttempts) : state.failures,
        pauses: outcome.code === "fleet_paused" ? state.pauses + 1 : state.pauses,
        code: outcome.code,
        reason: outcome.reason,
      };
      return { kind: "republish", holdSeconds: holdSeconds(outcome, state, random), state: next };
    }
  }
}

/** Whether a message arriving with `state` has used its attempts and its last hold: it is dead-lettered without another fetch. */
export function attemptsSpent(state: RedeliveryState, maxDeliveryAttempts: number): boolean {
  return state.failures >= maxDeliveryAttempts;
}

/** The attributes of the copy published again: the message's own, with the handler's replaced. */
export function redeliveryAttributes(original: Readonly<Record<string, string>>, state: RedeliveryState, notBeforeMs: number): Record<string, string> {
  return {
    ...original,
    [REDELIVERY_ATTRIBUTES.failures]: String(state.failures),
    [REDELIVERY_ATTRIBUTES.pauses]: String(state.pauses),
    [REDELIVERY_ATTRIBUTES.notBefore]: String(notBeforeMs),
    ...(state.code === undefined ? {} : { [REDELIVERY_ATTRIBUTES.code]: state.code }),
    ...(state.reason === undefined ? {} : { [REDELIVERY_ATTRIBUTES.reason]: fitAttribute(state.reason) }),
  };
}

/** The attributes of a dead letter: the message's own (the handler's schedule removed), with why. */
export function deadLetterAttributes(original: Readonly<Record<string, string>>, code: string, reason: string): Record<string, string> {
  const kept = Object.fromEntries(Object.entries(original).filter(([key]) => key !== REDELIVERY_ATTRIBUTES.notBefore));
  return { ...kept, [REDELIVERY_ATTRIBUTES.code]: code, [REDELIVERY_ATTRIBUTES.reason]: fitAttribute(reason) };
}

/** `text` cut to at most 1024 UTF-8 bytes, on a character boundary. */
export function fitAttribute(text: string): string {
  if (Buffer.byteLength(text, "utf8") <= MAX_ATTRIBUTE_BYTES) return text;
  let cut = "";
  for (const character of text) {
    if (Buffer.byteLength(cut + character, "utf8") > MAX_ATTRIBUTE_BYTES - 3) break;
    cut += character;
  }
  return `${cut}…`;
}
