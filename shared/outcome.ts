import type { ErrorCode } from "./errors";

/**
 * One message as a queue delivered it, in the shape every adapter builds from
 * its cloud's event.
 */
export interface QueueItem {
  /** The queue's id for this delivery (SQS messageId, Service Bus messageId, Pub/Sub messageId). */
  readonly id: string;
  /** The raw body: text, bytes, or an object the runtime already decoded. */
  readonly body: unknown;
  /** Which delivery this is, 1 for the first. */
  readonly attempt: number;
}

/**
 * What became of one message. Every adapter maps these the same way:
 * - `ok`, `failed`: done; the record is stored; the message is deleted / completed / acked.
 * - `retry`: the queue redelivers it (and dead-letters it after the configured attempts).
 * - `malformed`: cannot be read; it goes to the dead-letter path with `reason`.
 */
export type Outcome =
  | { readonly kind: "ok"; readonly key: string }
  | { readonly kind: "failed"; readonly code: ErrorCode; readonly key: string; readonly reason: string }
  | { readonly kind: "retry"; readonly code: ErrorCode; readonly reason: string; readonly retryAfterMs?: number }
  | { readonly kind: "malformed"; readonly code: ErrorCode; readonly reason: string };

export interface ItemOutcome {
  readonly id: string;
  readonly outcome: Outcome;
}
