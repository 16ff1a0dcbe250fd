/**
 * Reads the body of a Pub/Sub push request (the default, wrapped format):
 *
 *   {"message": {"data": "<base64>", "attributes": {...}, "messageId": "...", "publishTime": "..."},
 *    "subscription": "projects/<p>/subscriptions/<s>", "deliveryAttempt": 2}
 *
 * `deliveryAttempt` sits beside `message`, not inside it, and is set only when
 * the subscription has a dead-letter policy (ours always has); without one
 * Pub/Sub reports no count, so the handler falls back to 1 and says so.
 * https://cloud.google.com/pubsub/docs/push (the wrapped format)
 * https://cloud.google.com/pubsub/docs/reference/rest/v1/PubsubMessage (`data` is base64)
 * https://cloud.google.com/pubsub/docs/reference/rest/v1/projects.subscriptions/pull#receivedmessage
 *   (`deliveryAttempt`: 1 + NACKs + ack-deadline expiries, 0 without a dead-letter policy)
 *
 * The wrapped format is kept (no `pushConfig.noWrapper`) because it carries
 * the message id and the delivery attempt in the body, where one parser reads
 * them; unwrapped delivery moves them to `x-goog-pubsub-*` headers.
 */

/** One push delivery, decoded. */
export interface PushDelivery {
  readonly messageId: string;
  /** The message's data, decoded from base64. */
  readonly data: Buffer;
  /** The message's attributes (string values only; an envelope without any gives `{}`). */
  readonly attributes: Readonly<Record<string, string>>;
  /** 1 on the first delivery; 1 as well when Pub/Sub sent no count (see `attemptKnown`). */
  readonly deliveryAttempt: number;
  /** False when the body carried no valid `deliveryAttempt` (a subscription without a dead-letter policy). */
  readonly attemptKnown: boolean;
}

/** The code of a push body the handler cannot read (outcome `malformed`); listed in the README's error-code table. */
export const PUSH_ENVELOPE_INVALID = "push_envelope_invalid";

/** A push body that is not a readable Pub/Sub push, or whose message has no usable data. */
export class PushEnvelopeError extends Error {
  readonly code = PUSH_ENVELOPE_INVALID;
  /** The message id, when the envelope got far enough to have one. */
  readonly messageId?: string;

  constructor(message: string, messageId?: string) {
    super(message);
    this.name = "PushEnvelopeError";
    this.messageId = messageId;
  }
}

/** Standard or URL-safe base64, padded or not (proto3 JSON accepts both for `bytes`). */
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

/**
 * Decodes a push body as the Functions Framework hands it over: an object when
 * the request was `application/json` (Pub/Sub's content type), else text or bytes.
 * Throws `PushEnvelopeError` naming what is missing or wrong.
 */
export function decodePushEnvelope(body: unknown): PushDelivery {
  const envelope = asObject(typeof body === "string" || Buffer.isBuffer(body) ? parseJson(body.toString()) : body);
  if (envelope === undefined) {
    throw new PushEnvelopeError(`the request body is not a Pub/Sub push envelope (a JSON object with a \`message\`); got ${describe(body)}`);
  }
  const message = asObject(envelope.message);
  if (message === undefined) {
    throw new PushEnvelopeError(`the push envelope has no \`message\` object (given ${describe(envelope.message)})`);
  }
  // The v1 push format sends both spellings; older examples show only `message_id`.
  const messageId = message.messageId ?? message.message_id;
  if (typeof messageId !== "string" || messageId === "") {
    throw new PushEnvelopeError(`the push envelope's message has no \`messageId\` (given ${describe(messageId)})`);
  }
  const data = message.data;
  if (typeof data !== "string" || data === "") {
    throw new PushEnvelopeError(`message ${messageId} has no \`data\`: publish the scrape message as the data, such as {"url":"https://example.com/"}`, messageId);
  }
  if (!BASE64.test(data) || data.replace(/=+$/, "").length % 4 === 1) {
    throw new PushEnvelopeError(`message ${messageId} has \`data\` that is not base64 (${JSON.stringify(data.slice(0, 40))})`, messageId);
  }

  const attempt = envelope.deliveryAttempt;
  const attemptKnown = typeof attempt === "number" && Number.isInteger(attempt) && attempt >= 1;
  const attributes = Object.fromEntries(Object.entries(asObject(message.attributes) ?? {}).filter((entry): entry is [string, string] => typeof entry[1] === "string"));
  return {
    messageId,
    data: Buffer.from(data, "base64"),
    attributes,
    deliveryAttempt: attemptKnown ? attempt : 1,
    attemptKnown,
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function asObject(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value) ? (value as Record<string, unknown>) : undefined;
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (Buffer.isBuffer(value)) return `${value.byteLength} bytes of non-JSON`;
  const text = typeof value === "string" ? JSON.stringify(value.slice(0, 60)) : JSON.stringify(value)?.slice(0, 60);
  return text ?? typeof value;
}
