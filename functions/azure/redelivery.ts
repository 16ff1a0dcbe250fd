/**
 * How a message the worker sends back comes back later: a scheduled re-send.
 *
 * Service Bus makes an abandoned message available again at once, so the
 * Functions host's only answer to a throw (abandon) would spend the
 * `maxDeliveryCount` deliveries of a failing site's pages within seconds. The
 * handler therefore sends a copy of the message scheduled for the fleet's
 * retry delay (shared/backoff.ts `retryDelaySeconds`, the same policy AWS
 * applies through the message's visibility) and completes the original only
 * once Service Bus has accepted the copy. If the send fails, the original is
 * abandoned instead and comes straight back: a message is never lost, and at
 * worst (the send succeeded, the completion did not) it is fetched twice,
 * which overwrites the same result record.
 * https://learn.microsoft.com/azure/service-bus-messaging/message-sequencing#scheduled-messages
 *
 * Why not hold the message under its lock instead: a lock lasts at most 5
 * minutes and the host renews it only while the invocation runs, so an hour
 * of holds would keep an instance and one of its `maxConcurrentCalls` slots
 * busy doing nothing (Flex bills the instance's memory for that time), and a
 * hold ends with the function timeout anyway. A scheduled send costs one
 * Service Bus operation (Standard tier bills per million) and nothing while
 * it waits.
 *
 * A copy is a new message to Service Bus under the same message id (the work
 * queue has no duplicate detection, which would drop it: infra/azure/queue.ts):
 * its `deliveryCount` starts at 1 and its time to live again. So the copy carries the deliveries already spent
 * (`REDELIVERY_PROPERTIES.deliveries`) and the handler counts a delivery as
 * spent + `deliveryCount`. A copy that arrives with every delivery spent is not
 * fetched: the handler abandons it until Service Bus dead-letters it
 * (`MaxDeliveryCountExceeded`, a few milliseconds each), and the copy's
 * application properties say why (`lastCode`, `lastReason`), where the
 * dead-letter queue's reader sees them.
 */
import type { OperationOptionsBase, ServiceBusMessage, ServiceBusSender } from "@azure/service-bus";
import { retryDelaySeconds } from "../../shared/backoff";
import type { Outcome } from "../../shared/outcome";

/** The application properties a copy carries. */
export const REDELIVERY_PROPERTIES = {
  /** Deliveries spent on the earlier copies and the original. */
  deliveries: "scrapeFleetDeliveries",
  /** When the original was enqueued (ISO 8601): the message's age counts from it. */
  firstEnqueuedTimeUtc: "scrapeFleetFirstEnqueuedTimeUtc",
  /** The outcome code and reason that sent the message back last. */
  lastCode: "scrapeFleetLastCode",
  lastReason: "scrapeFleetLastReason",
} as const;

/** What the handler needs of a Service Bus sender: `ServiceBusSender` itself, or a fake in tests. */
export type MessageScheduler = Pick<ServiceBusSender, "scheduleMessages">;

/** Longest reason kept in a copy's properties: the whole message must stay well under 256 KB. */
const MAX_REASON_LENGTH = 500;

/** The deliveries spent before this copy, from its application properties: 0 for an original. */
export function deliveriesBefore(applicationProperties: unknown): number {
  if (typeof applicationProperties !== "object" || applicationProperties === null) return 0;
  const value = Number((applicationProperties as Record<string, unknown>)[REDELIVERY_PROPERTIES.deliveries]);
  return Number.isInteger(value) && value > 0 ? value : 0;
}

/** The original's enqueue time a copy carries, in epoch milliseconds; undefined for an original. */
export function firstEnqueuedAt(applicationProperties: unknown): number | undefined {
  if (typeof applicationProperties !== "object" || applicationProperties === null) return undefined;
  const value = (applicationProperties as Record<string, unknown>)[REDELIVERY_PROPERTIES.firstEnqueuedTimeUtc];
  const time = typeof value === "string" ? Date.parse(value) : Number.NaN;
  return Number.isNaN(time) ? undefined : time;
}

/** The message as the trigger handed it over, and what the copy must keep of it. */
export interface ReceivedMessage {
  /** The body as the host decoded it: text, bytes, or JSON it parsed. */
  readonly body: unknown;
  readonly messageId: string;
  readonly contentType?: string;
  readonly correlationId?: string;
  readonly subject?: string;
  readonly applicationProperties: Readonly<Record<string, unknown>>;
  /** Epoch milliseconds the original was enqueued, when known. */
  readonly firstEnqueuedAt?: number;
}

/** The body's bytes, as the producer sent them for text and bytes; JSON the host parsed is written back as JSON. */
function bodyBytes(body: unknown): Uint8Array {
  if (body instanceof Uint8Array) return body;
  if (typeof body === "string") return Buffer.from(body, "utf8");
  return Buffer.from(JSON.stringify(body) ?? "null", "utf8");
}

/**
 * The copy to schedule after `deliveries` deliveries ended in `outcome`. The
 * body goes as bytes (a data section): the SDK would JSON-quote a string.
 */
export function redeliveryCopy(message: ReceivedMessage, deliveries: number, outcome: Extract<Outcome, { kind: "retry" }>): ServiceBusMessage {
  const isText = typeof message.body === "string" || message.body instanceof Uint8Array;
  const contentType = message.contentType ?? (isText ? undefined : "application/json");
  return {
    body: bodyBytes(message.body),
    messageId: message.messageId,
    ...(contentType === undefined ? {} : { contentType }),
    ...(message.correlationId === undefined ? {} : { correlationId: message.correlationId }),
    ...(message.subject === undefined ? {} : { subject: message.subject }),
    applicationProperties: {
      ...(message.applicationProperties as Record<string, string | number | boolean>),
      [REDELIVERY_PROPERTIES.deliveries]: deliveries,
      ...(message.firstEnqueuedAt === undefined ? {} : { [REDELIVERY_PROPERTIES.firstEnqueuedTimeUtc]: new Date(message.firstEnqueuedAt).toISOString() }),
      [REDELIVERY_PROPERTIES.lastCode]: outcome.code,
      [REDELIVERY_PROPERTIES.lastReason]: outcome.reason.slice(0, MAX_REASON_LENGTH),
    },
  };
}

/**
 * Seconds until the copy of a message whose delivery number `deliveries`
 * ended in `outcome` is due: the fleet's retry policy as is. Service Bus
 * schedules a message for any future time, so nothing bounds it here.
 */
export function redeliveryDelaySeconds(outcome: Extract<Outcome, { kind: "retry" }>, deliveries: number, random: () => number): number {
  return retryDelaySeconds(outcome, deliveries, random);
}

export interface Redelivery {
  /** Epoch milliseconds the copy is due. */
  readonly at: number;
  readonly delaySeconds: number;
}

/**
 * Schedules the copy of a message whose delivery number `deliveries` ended in
 * `outcome`, at the fleet's retry delay. Resolves once Service Bus holds the
 * copy; rejects (and schedules nothing) when it does not.
 */
export async function scheduleRedelivery(
  scheduler: MessageScheduler,
  message: ReceivedMessage,
  deliveries: number,
  outcome: Extract<Outcome, { kind: "retry" }>,
  clock: { readonly now: number; readonly random: () => number },
  options: OperationOptionsBase,
): Promise<Redelivery> {
  const delaySeconds = redeliveryDelaySeconds(outcome, deliveries, clock.random);
  const at = clock.now + delaySeconds * 1000;
  await scheduler.scheduleMessages(redeliveryCopy(message, deliveries, outcome), new Date(at), options);
  return { at, delaySeconds };
}
