import { ScrapeError } from "./errors";

/** The version of the message contract this core reads. */
export const MESSAGE_VERSION = 1;

/**
 * The largest message body accepted, in bytes. Below the smallest queue limit
 * (Service Bus Standard: 256 KB) so a message that works on one cloud works on
 * all of them.
 */
export const MAX_MESSAGE_BYTES = 64 * 1024;

/** Largest `depth` a message may carry. */
export const MAX_DEPTH = 100;

/**
 * One unit of work: scrape this URL.
 *
 * Producers send JSON such as `{"v":1,"url":"https://example.com/"}`. Only
 * `url` is required; `v` defaults to 1.
 */
export interface ScrapeMessage {
  /** Contract version. @default 1 */
  readonly v: 1;
  /** The page to fetch: absolute http(s) URL. */
  readonly url: string;
  /** Caller's correlation id, copied into the result record. */
  readonly id?: string;
  /** Crawl depth of this URL from its seed, 0 to 100. @default 0 */
  readonly depth: number;
  /** Caller's string, number or boolean fields, copied into the result record. */
  readonly metadata?: Readonly<Record<string, string | number | boolean>>;
}

const KNOWN_FIELDS = new Set(["v", "url", "id", "depth", "metadata"]);

/**
 * Reads a message body (a string, bytes, or an already-decoded object, as the
 * clouds hand them over) into a `ScrapeMessage`.
 *
 * Throws `ScrapeError` with a `message_*` code when the body cannot be read as
 * a message. A URL that parses but may not be fetched is not rejected here:
 * that is the URL policy's job, so the failure can be recorded under the URL.
 */
export function parseMessage(body: unknown): ScrapeMessage {
  const raw = decodeBody(body);
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new ScrapeError("message_not_object", `message must be a JSON object such as {"url":"https://example.com/"}, got ${describeJsonType(raw)}`);
  }
  const record = raw as Record<string, unknown>;

  const version = record.v ?? MESSAGE_VERSION;
  if (version !== MESSAGE_VERSION) {
    throw new ScrapeError("message_unsupported_version", `message field \`v\` is ${JSON.stringify(version)}; this worker reads version ${MESSAGE_VERSION}: send "v":1 or omit it`);
  }

  const url = record.url;
  if (typeof url !== "string" || url.trim() === "") {
    throw new ScrapeError("message_missing_url", `message field \`url\` is required and must be a non-empty string (given ${url === undefined ? "nothing" : preview(url)}); send {"url":"https://example.com/"}`);
  }

  const unknown = Object.keys(record).filter((key) => !KNOWN_FIELDS.has(key));
  if (unknown.length > 0) {
    throw new ScrapeError("message_invalid_field", `message has unknown field(s) ${unknown.map((k) => `\`${k}\``).join(", ")}; put caller data under \`metadata\``);
  }

  const id = record.id;
  if (id !== undefined && (typeof id !== "string" || id.length > 256)) {
    throw new ScrapeError("message_invalid_field", `message field \`id\` must be a string of at most 256 characters (given ${preview(id)})`);
  }

  const depth = record.depth ?? 0;
  if (typeof depth !== "number" || !Number.isInteger(depth) || depth < 0 || depth > MAX_DEPTH) {
    throw new ScrapeError("message_invalid_field", `message field \`depth\` must be an integer from 0 to ${MAX_DEPTH} (given ${preview(depth)})`);
  }

  const metadata = record.metadata;
  if (metadata !== undefined && !isFlatMetadata(metadata)) {
    throw new ScrapeError("message_invalid_field", `message field \`metadata\` must be an object of string, number or boolean values (given ${preview(metadata)})`);
  }

  return {
    v: MESSAGE_VERSION,
    url: url.trim(),
    depth,
    ...(id === undefined ? {} : { id }),
    ...(metadata === undefined ? {} : { metadata }),
  };
}

/** Serialises a message the way every producer in this project sends it. */
export function encodeMessage(message: Pick<ScrapeMessage, "url"> & Partial<ScrapeMessage>): string {
  return JSON.stringify({ v: MESSAGE_VERSION, ...message });
}

function decodeBody(body: unknown): unknown {
  if (typeof body === "string" || body instanceof Uint8Array) {
    const size = typeof body === "string" ? Buffer.byteLength(body) : body.byteLength;
    if (size > MAX_MESSAGE_BYTES) {
      throw new ScrapeError("message_too_large", `message is ${size} bytes; the limit is ${MAX_MESSAGE_BYTES}: send one URL per message`);
    }
    const text = typeof body === "string" ? body : Buffer.from(body).toString("utf8");
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new ScrapeError("message_not_json", `message is not JSON (${JSON.stringify(text.slice(0, 80))}); send {"url":"https://example.com/"}`, { cause: error });
    }
  }
  return body;
}

/** A value for an error message: JSON, cut short so a large field does not fill every log line. */
function preview(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}

function isFlatMetadata(value: unknown): value is Record<string, string | number | boolean> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  return Object.values(value).every((v) => typeof v === "string" || typeof v === "boolean" || (typeof v === "number" && Number.isFinite(v)));
}

function describeJsonType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return `a ${typeof value}`;
}
