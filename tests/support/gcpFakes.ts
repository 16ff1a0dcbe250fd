/**
 * Recorded-request fakes, on 127.0.0.1, of the two Google Cloud APIs the
 * adapters call (no Cloud Storage or Parameter Manager emulator installs from
 * npm):
 *
 * - the Cloud Storage JSON API's multipart upload, for the real
 *   `@google-cloud/storage` client pointed at it with `apiEndpoint` (the client
 *   sends no credentials to a custom endpoint);
 *   https://cloud.google.com/storage/docs/uploading-objects#uploading-an-object
 * - the Parameter Manager REST API (list versions, get one, create one), for the settings
 *   source's own `fetch` calls with a fixed access token.
 *   https://cloud.google.com/secret-manager/parameter-manager/docs/reference/rest
 * - the Pub/Sub REST API's `topics.publish`, for the handler's publisher
 *   (functions/gcp/publisher.ts), with a fixed access token.
 *   https://cloud.google.com/pubsub/docs/reference/rest/v1/projects.topics/publish
 */
import { CRC32C } from "@google-cloud/storage";
import { createServer, type IncomingHttpHeaders, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

/** One request a Google Cloud fake received. */
export interface RecordedGoogleRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers: IncomingHttpHeaders;
}

/** What a route answers; `undefined` leaves the request unanswered until `close`. */
/** A JSON answer (`body`), or a media download's bytes as stored (`media`). */
export type RouteAnswer = { readonly status: number; readonly body: unknown } | { readonly status: number; readonly media: string } | undefined;

export interface RecordingServer {
  readonly endpoint: string;
  readonly requests: RecordedGoogleRequest[];
  close(): Promise<void>;
}

/** A loopback HTTP server with one route function, recording every request once its body has arrived. */
export async function startRecordingServer(route: (request: IncomingMessage, body: Buffer, url: URL) => RouteAnswer): Promise<RecordingServer> {
  const requests: RecordedGoogleRequest[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const url = new URL(request.url ?? "/", "http://fake");
      requests.push({ method: request.method ?? "", url, headers: request.headers });
      const answer = route(request, Buffer.concat(chunks), url);
      if (answer === undefined) return;
      if ("media" in answer) response.writeHead(answer.status, { "content-type": "application/octet-stream" }).end(answer.media);
      else response.writeHead(answer.status, { "content-type": "application/json" }).end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Google APIs answer errors as `{"error":{"code":403,"message":"...","status":"PERMISSION_DENIED"}}`. */
export const googleError = (code: number, status: string, message: string) => ({ error: { code, status, message } });

/** One object the Cloud Storage fake holds: the metadata part and the media part of its upload. */
export interface StoredGcsObject {
  readonly metadata: Record<string, unknown>;
  readonly body: Buffer;
}

/** Splits a `multipart/related` upload into its metadata part and its media part. */
function parseMultipart(contentType: string | undefined, body: Buffer): StoredGcsObject {
  const boundary = /boundary=([^;]+)/.exec(contentType ?? "")?.[1];
  if (!boundary) throw new Error(`not a multipart upload: ${contentType}`);
  const parts = body
    .toString("latin1")
    .split(`--${boundary}`)
    .slice(1, -1)
    .map((part) => {
      const split = part.indexOf("\r\n\r\n");
      return Buffer.from(part.slice(split + 4, part.length - 2), "latin1");
    });
  return { metadata: JSON.parse(parts[0].toString("utf8")) as Record<string, unknown>, body: parts[1] };
}

/** How the Cloud Storage fake answers: `ok` (uploads are stored) or `hang` (every request is read and never answered). */
export type CloudStorageFakeMode = "ok" | "hang";

export interface CloudStorageFake {
  /** `http://127.0.0.1:<port>`, for the client's `apiEndpoint`. */
  readonly endpoint: string;
  readonly requests: RecordedGoogleRequest[];
  /** The uploaded objects of the fake's one bucket, by object name. */
  readonly objects: Map<string, StoredGcsObject>;
  mode: CloudStorageFakeMode;
  /** How many of the next uploads get 503 UNAVAILABLE, each counting down by one. @default 0 */
  unavailableReplies: number;
  close(): Promise<void>;
}

/** A fake holding one bucket, `bucket`; an upload to any other gets 404 as from a missing bucket. */
export async function startCloudStorageFake(bucket = "results"): Promise<CloudStorageFake> {
  const state = { mode: "ok" as CloudStorageFakeMode, unavailableReplies: 0 };
  const objects = new Map<string, StoredGcsObject>();
  const server = await startRecordingServer((request, body, url) => {
    if (state.mode === "hang") return undefined;
    const match = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(url.pathname);
    if (request.method !== "POST" || !match || url.searchParams.get("uploadType") !== "multipart") return { status: 400, body: googleError(400, "INVALID_ARGUMENT", `unexpected ${request.method} ${url.pathname}`) };
    if (match[1] !== bucket) return { status: 404, body: googleError(404, "NOT_FOUND", "The specified bucket does not exist.") };
    if (state.unavailableReplies > 0) {
      state.unavailableReplies -= 1;
      return { status: 503, body: googleError(503, "UNAVAILABLE", "Backend Error") };
    }
    const name = url.searchParams.get("name") ?? "";
    const object = parseMultipart(request.headers["content-type"], body);
    objects.set(name, object);
    const crc = new CRC32C();
    crc.update(object.body);
    return { status: 200, body: { kind: "storage#object", bucket, name, generation: String(objects.size), size: String(object.body.byteLength), crc32c: crc.toString(), ...object.metadata } };
  });
  return Object.assign(state, { ...server, objects });
}

/** One version of the fake's parameter. */
export interface FakeParameterVersion {
  readonly id: string;
  /** RFC 3339 UTC, up to nine fractional digits, as the API gives it. */
  readonly createTime: string;
  /** The version's payload, served base64-encoded as `payload.data`. */
  readonly payload: string;
  readonly disabled?: boolean;
}

export interface ParameterManagerFakeOptions {
  /** @default "projects/test-project/locations/global/parameters/scrape-fleet-settings" */
  readonly parameter?: string;
  /** The only bearer token the fake accepts; any other request gets 401. @default "ya29.fake-token" */
  readonly accessToken?: string;
}

export interface ParameterManagerFake {
  /** `http://127.0.0.1:<port>`, for the settings source's `endpoint`. */
  readonly endpoint: string;
  /** `projects/<p>/locations/global/parameters/<id>` */
  readonly parameter: string;
  readonly accessToken: string;
  readonly requests: RecordedGoogleRequest[];
  /** The parameter's versions in the order the list call returns them; tests may replace or edit them. */
  versions: FakeParameterVersion[];
  /** Versions per list page, whatever page size the client asks, so a test can force paging. @default 100 */
  pageSize: number;
  /** Answers every authenticated request 403 PERMISSION_DENIED, as for an account without the viewer role. @default false */
  denied: boolean;
  /** Adds a version newer than every version held, as `gcloud parametermanager parameters versions create` would. */
  publish(payload: string): void;
  close(): Promise<void>;
}

export async function startParameterManagerFake(options: ParameterManagerFakeOptions = {}): Promise<ParameterManagerFake> {
  const { parameter = "projects/test-project/locations/global/parameters/scrape-fleet-settings", accessToken = "ya29.fake-token" } = options;
  const state = { versions: [] as FakeParameterVersion[], pageSize: 100, denied: false };
  const server = await startRecordingServer((request, body, url) => {
    if (request.headers.authorization !== `Bearer ${accessToken}`) return { status: 401, body: googleError(401, "UNAUTHENTICATED", "no valid token") };
    if (state.denied) return { status: 403, body: googleError(403, "PERMISSION_DENIED", "Permission 'parametermanager.parameterVersions.list' denied") };
    if (request.method === "POST" && url.pathname === `/v1/${parameter}/versions`) {
      // parameterVersions.create: the id in the query, the payload base64 in the body; an id taken is 409.
      const id = url.searchParams.get("parameter_version_id") ?? "";
      if (state.versions.some((candidate) => candidate.id === id)) return { status: 409, body: googleError(409, "ALREADY_EXISTS", `version ${id} exists`) };
      const payload = (JSON.parse(body.toString("utf8")) as { payload: { data: string } }).payload.data;
      const createMs = Math.max(Date.UTC(2025, 0, 1), ...state.versions.map((version) => Date.parse(version.createTime) + 1_000));
      state.versions.push({ id, createTime: new Date(createMs).toISOString(), payload: Buffer.from(payload, "base64").toString("utf8") });
      return { status: 200, body: { name: `${parameter}/versions/${id}`, createTime: new Date(createMs).toISOString() } };
    }
    if (url.pathname === `/v1/${parameter}/versions`) {
      const start = Number(url.searchParams.get("pageToken") ?? "0");
      const page = state.versions.slice(start, start + state.pageSize);
      const next = start + state.pageSize < state.versions.length ? String(start + state.pageSize) : undefined;
      return {
        status: 200,
        body: {
          parameterVersions: page.map((version) => ({ name: `${parameter}/versions/${version.id}`, createTime: version.createTime, updateTime: version.createTime, ...(version.disabled ? { disabled: true } : {}) })),
          ...(next ? { nextPageToken: next } : {}),
        },
      };
    }
    const version = state.versions.find((candidate) => url.pathname === `/v1/${parameter}/versions/${candidate.id}`);
    if (version) return { status: 200, body: { name: `${parameter}/versions/${version.id}`, createTime: version.createTime, payload: { data: Buffer.from(version.payload).toString("base64") } } };
    return { status: 404, body: googleError(404, "NOT_FOUND", `no ${url.pathname}`) };
  });
  return Object.assign(state, {
    ...server,
    parameter,
    accessToken,
    publish(payload: string) {
      // A second after the newest version held (from 2025-01-01), so it is the newest however fast cases follow each other.
      const createMs = Math.max(Date.UTC(2025, 0, 1), ...state.versions.map((version) => Date.parse(version.createTime) + 1_000));
      state.versions.push({ id: `v${state.versions.length + 1}`, createTime: new Date(createMs).toISOString(), payload });
    },
  });
}

/** One message the Pub/Sub fake accepted. */
export interface PublishedMessage {
  readonly topic: string;
  readonly id: string;
  readonly data: Buffer;
  readonly attributes: Readonly<Record<string, string>>;
}

export interface PubSubFake {
  /** `http://127.0.0.1:<port>`, for the publisher's `endpoint`. */
  readonly endpoint: string;
  readonly accessToken: string;
  readonly requests: RecordedGoogleRequest[];
  /** Every accepted message, in order. */
  readonly published: PublishedMessage[];
  /** Topics (`projects/<p>/topics/<id>`) that exist; a publish to any other gets 404 NOT_FOUND. */
  readonly topics: ReadonlySet<string>;
  /** Answers every publish 403 PERMISSION_DENIED, as for an account without the publisher role. @default false */
  denied: boolean;
  close(): Promise<void>;
}

/**
 * A fake holding `topics`. It checks what the API checks on a publish: the
 * bearer token, a JSON body with `messages`, each with base64 `data` or at
 * least one attribute, at most 100 attributes, attribute values of at most
 * 1024 bytes. https://cloud.google.com/pubsub/quotas#resource_limits
 */
export async function startPubSubFake(topics: readonly string[], accessToken = "ya29.fake-token"): Promise<PubSubFake> {
  const state = { denied: false };
  const published: PublishedMessage[] = [];
  const known = new Set(topics);
  const server = await startRecordingServer((request, body, url) => {
    if (request.headers.authorization !== `Bearer ${accessToken}`) return { status: 401, body: googleError(401, "UNAUTHENTICATED", "no valid token") };
    const match = /^\/v1\/(projects\/[^/]+\/topics\/[^/:]+):publish$/.exec(url.pathname);
    if (request.method !== "POST" || !match) return { status: 404, body: googleError(404, "NOT_FOUND", `no ${request.method} ${url.pathname}`) };
    const topic = match[1];
    if (!known.has(topic)) return { status: 404, body: googleError(404, "NOT_FOUND", `Resource not found (resource=${topic}).`) };
    if (state.denied) return { status: 403, body: googleError(403, "PERMISSION_DENIED", `User not authorized to perform this action.`) };
    let messages: unknown;
    try {
      messages = (JSON.parse(body.toString("utf8")) as { messages?: unknown }).messages;
    } catch {
      return { status: 400, body: googleError(400, "INVALID_ARGUMENT", "Invalid JSON payload received.") };
    }
    if (!Array.isArray(messages) || messages.length === 0) return { status: 400, body: googleError(400, "INVALID_ARGUMENT", "No messages were provided.") };
    const ids: string[] = [];
    for (const message of messages as { data?: unknown; attributes?: Record<string, unknown> }[]) {
      const attributes = message.attributes ?? {};
      const entries = Object.entries(attributes);
      if (entries.length > 100 || entries.some(([, value]) => typeof value !== "string" || Buffer.byteLength(value, "utf8") > 1024)) {
        return { status: 400, body: googleError(400, "INVALID_ARGUMENT", "An attribute is over 1024 bytes, not a string, or there are more than 100.") };
      }
      const data = typeof message.data === "string" ? Buffer.from(message.data, "base64") : Buffer.alloc(0);
      if (data.byteLength === 0 && entries.length === 0) return { status: 400, body: googleError(400, "INVALID_ARGUMENT", "Some messages are empty.") };
      const id = String(published.length + 1);
      published.push({ topic, id, data, attributes: attributes as Record<string, string> });
      ids.push(id);
    }
    return { status: 200, body: { messageIds: ids } };
  });
  return Object.assign(state, { ...server, accessToken, published, topics: known });
}
