/**
 * Publishes one message to a Pub/Sub topic through the REST API
 * (`projects.topics.publish`), with `fetch` and the runtime account's access
 * token, as the settings source does: the `@google-cloud/pubsub` client is
 * gRPC-first and would add megabytes to the bundle for one call per retried
 * message. https://cloud.google.com/pubsub/docs/reference/rest/v1/projects.topics/publish
 */
import { describeError } from "../../shared/errors";
import { integerOption } from "../handlerConfig";
import { apiErrorMessage } from "./googleApi";

export const PUBSUB_ENDPOINT = "https://pubsub.googleapis.com";

const REQUEST_TIMEOUT_MS = { min: 100, max: 60_000, default: 10_000 } as const;
const TOPIC_NAME = /^projects\/[^/]+\/topics\/[^/]+$/;

/** Pub/Sub refused the publish, or did not answer in time. */
export class PublishError extends Error {
  readonly code = "publish_failed";
  /** The HTTP status, when the API answered. */
  readonly status?: number;

  constructor(message: string, status?: number) {
    super(message);
    this.name = "PublishError";
    this.status = status;
  }
}

export interface PublisherOptions {
  /** An OAuth 2.0 access token for the function's runtime service account. */
  readonly getAccessToken: () => Promise<string>;
  /** Where the API is. @default "https://pubsub.googleapis.com" */
  readonly endpoint?: string;
  /** Time allowed per publish, 100 to 60 000 ms. @default 10000 */
  readonly requestTimeoutMs?: number;
}

export interface OutgoingMessage {
  readonly data: Buffer;
  readonly attributes: Readonly<Record<string, string>>;
}

/**
 * Publishes to `topic` (`projects/<project>/topics/<id>`) and resolves to the
 * new message id; `signal` ends the wait early (the function's own deadline).
 */
export type Publish = (topic: string, message: OutgoingMessage, signal?: AbortSignal) => Promise<string>;

export function createPublisher(options: PublisherOptions): Publish {
  const endpoint = (options.endpoint ?? PUBSUB_ENDPOINT).replace(/\/+$/, "");
  const timeoutMs = integerOption("requestTimeoutMs", options.requestTimeoutMs, REQUEST_TIMEOUT_MS);
  return async (topic, message, signal) => {
    if (!TOPIC_NAME.test(topic)) throw new PublishError(`\`topic\` must be a resource name such as projects/my-project/topics/work (given ${JSON.stringify(topic)})`);
    const token = await options.getAccessToken();
    let response: Response;
    try {
      response = await fetch(`${endpoint}/v1/${topic}:publish`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json" },
        body: JSON.stringify({ messages: [{ data: message.data.toString("base64"), attributes: message.attributes }] }),
        signal: signal === undefined ? AbortSignal.timeout(timeoutMs) : AbortSignal.any([AbortSignal.timeout(timeoutMs), signal]),
      });
    } catch (error) {
      throw new PublishError(`publishing to ${topic} failed before an answer: ${describeError(error)}`);
    }
    const text = await response.text();
    if (!response.ok) {
      const hint = response.status === 403 ? "; the runtime service account needs roles/pubsub.publisher on the topic (infra/gcp/identity.ts grants it; a new grant can take minutes to apply)" : "";
      throw new PublishError(`publishing to ${topic} answered ${response.status}: ${apiErrorMessage(text)}${hint}`, response.status);
    }
    const id = messageIdsOf(text);
    if (!Array.isArray(id) || typeof id[0] !== "string") throw new PublishError(`publishing to ${topic} answered without a message id: ${JSON.stringify(text.slice(0, 300))}`, response.status);
    return id[0];
  };
}

function messageIdsOf(text: string): unknown {
  try {
    return (JSON.parse(text) as { messageIds?: unknown }).messageIds;
  } catch {
    return undefined;
  }
}
