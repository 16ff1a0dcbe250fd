/**
 * Recorded-request fakes, on 127.0.0.1, of the Google Cloud APIs the
 * operations backend calls over REST (ops/backends/gcp.ts). No Pub/Sub, Cloud
 * Monitoring or Cloud Functions emulator installs from npm (the Pub/Sub
 * emulator ships with the gcloud CLI and speaks gRPC), so each fake answers
 * the calls as the REST reference documents them and keeps just enough state
 * to check what the adapter did:
 *
 * - a GCE metadata server, the last link of the application default
 *   credentials chain, found through `GCE_METADATA_HOST`; it hands out the one
 *   access token the other fakes accept;
 *   https://cloud.google.com/compute/docs/access/authenticate-workloads#applications
 * - Pub/Sub: topics.publish, subscriptions get / modifyPushConfig / pull /
 *   acknowledge / modifyAckDeadline / seek;
 *   https://cloud.google.com/pubsub/docs/reference/rest
 * - Cloud Monitoring timeSeries.list, Cloud Functions v2 functions.list, and
 *   Cloud Storage objects.list / objects.get (alt=media).
 */
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { googleError, startRecordingServer, type RecordedGoogleRequest, type RouteAnswer } from "../support/gcpFakes";

export const FAKE_TOKEN = "ya29.fake-token";

export interface MetadataFake {
  /** `127.0.0.1:<port>`, for GCE_METADATA_HOST. */
  readonly host: string;
  tokenRequests: number;
  close(): Promise<void>;
}

export async function startMetadataFake(): Promise<MetadataFake> {
  const state = { tokenRequests: 0 };
  const server = createServer((request, response) => {
    const headers = { "metadata-flavor": "Google", "content-type": "application/json" };
    if (request.headers["metadata-flavor"] !== "Google") return void response.writeHead(403, headers).end("{}");
    if (request.url?.startsWith("/computeMetadata/v1/instance/service-accounts/default/token")) {
      state.tokenRequests += 1;
      return void response.writeHead(200, headers).end(JSON.stringify({ access_token: FAKE_TOKEN, expires_in: 3599, token_type: "Bearer" }));
    }
    response.writeHead(200, headers).end("{}");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return Object.assign(state, {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
}

export interface FakePubsubMessage {
  readonly messageId: string;
  readonly data: string;
  readonly publishTime: string;
  readonly attributes?: Record<string, string>;
  /** The ackId of the pull that holds it, until acknowledged or given back. */
  leasedBy?: string;
}

export interface FakePushConfig {
  pushEndpoint?: string;
  oidcToken?: { serviceAccountEmail: string; audience: string };
}

export interface GoogleApisFakeOptions {
  readonly project: string;
  readonly workTopic: string;
  readonly workSubscription: string;
  readonly deadLetterSubscription: string;
  readonly bucket: string;
  readonly functionName: string;
  readonly functionUri: string;
  readonly fleetName: string;
  readonly pushConfig: FakePushConfig;
}

export interface GoogleApisFake {
  readonly endpoint: string;
  readonly requests: RecordedGoogleRequest[];
  /** Bodies published to the work topic, decoded, in order. */
  readonly published: string[];
  /** Messages in each publish call. */
  readonly publishSizes: number[];
  readonly deadLetters: FakePubsubMessage[];
  pushConfig: FakePushConfig;
  /** Newest value per `<metric type>|<subscription id>` (`<metric type>|` for the fleet's log-based metrics). */
  readonly metrics: Map<string, number>;
  /** A distribution metric's window (count and mean) per metric type, such as the fleet's FetchLatencyMs. */
  readonly distributions: Map<string, { readonly count: number; readonly mean: number }>;
  readonly objects: Map<string, string>;
  /** Objects per objects.list page. @default 1000 */
  listPageSize: number;
  /** Answers the n-th publish call (1-based) instead of the topic, when it returns an answer. */
  onPublish?: (call: number) => RouteAnswer;
  /** Answers every request 401, as for a revoked token. */
  unauthenticated: boolean;
  close(): Promise<void>;
}

export async function startGoogleApisFake(options: GoogleApisFakeOptions): Promise<GoogleApisFake> {
  const { project } = options;
  const state = {
    published: [] as string[],
    publishSizes: [] as number[],
    deadLetters: [] as FakePubsubMessage[],
    pushConfig: options.pushConfig,
    metrics: new Map<string, number>(),
    distributions: new Map<string, { readonly count: number; readonly mean: number }>(),
    objects: new Map<string, string>(),
    listPageSize: 1_000,
    onPublish: undefined as ((call: number) => RouteAnswer) | undefined,
    unauthenticated: false,
  };
  let publishCalls = 0;
  const json = (body: Buffer): Record<string, unknown> => (body.length === 0 ? {} : (JSON.parse(body.toString("utf8")) as Record<string, unknown>));
  const server = await startRecordingServer((request, body, url) => {
    if (state.unauthenticated || request.headers.authorization !== `Bearer ${FAKE_TOKEN}`) return { status: 401, body: googleError(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.") };
    const path = decodeURIComponent(url.pathname);
    const method = request.method ?? "";
    if (method === "POST" && path === `/v1/${options.workTopic}:publish`) {
      publishCalls += 1;
      const answer = state.onPublish?.(publishCalls);
      if (answer) return answer;
      const messages = json(body).messages as { data: string }[];
      state.publishSizes.push(messages.length);
      state.published.push(...messages.map((message) => Buffer.from(message.data, "base64").toString("utf8")));
      return { status: 200, body: { messageIds: messages.map(() => randomUUID()) } };
    }
    if (method === "GET" && path === `/v1/${options.workSubscription}`) {
      return { status: 200, body: { name: options.workSubscription, topic: options.workTopic, pushConfig: state.pushConfig, ackDeadlineSeconds: 130 } };
    }
    if (method === "POST" && path === `/v1/${options.workSubscription}:modifyPushConfig`) {
      state.pushConfig = (json(body).pushConfig ?? {}) as FakePushConfig;
      return { status: 200, body: {} };
    }
    const dlq = options.deadLetterSubscription;
    if (method === "POST" && path === `/v1/${dlq}:pull`) {
      const pull = json(body);
      if (pull.returnImmediately !== true) return undefined; // a long-poll on an empty subscription would hang: left unanswered, the test times out
      const max = Number(pull.maxMessages);
      const taken = state.deadLetters.filter((message) => message.leasedBy === undefined).slice(0, max);
      for (const message of taken) message.leasedBy = randomUUID();
      return { status: 200, body: { receivedMessages: taken.map((message) => ({ ackId: message.leasedBy, message: { data: message.data, messageId: message.messageId, publishTime: message.publishTime, attributes: message.attributes } })) } };
    }
    if (method === "POST" && path === `/v1/${dlq}:acknowledge`) {
      const ackIds = new Set(json(body).ackIds as string[]);
      state.deadLetters.splice(0, state.deadLetters.length, ...state.deadLetters.filter((message) => message.leasedBy === undefined || !ackIds.has(message.leasedBy)));
      return { status: 200, body: {} };
    }
    if (method === "POST" && path === `/v1/${dlq}:modifyAckDeadline`) {
      const request = json(body);
      const ackIds = new Set(request.ackIds as string[]);
      if (request.ackDeadlineSeconds === 0) for (const message of state.deadLetters) if (message.leasedBy !== undefined && ackIds.has(message.leasedBy)) message.leasedBy = undefined;
      return { status: 200, body: {} };
    }
    if (method === "POST" && path === `/v1/${dlq}:seek`) {
      const time = Date.parse(String(json(body).time));
      state.deadLetters.splice(0, state.deadLetters.length, ...state.deadLetters.filter((message) => Date.parse(message.publishTime) > time));
      return { status: 200, body: {} };
    }
    if (method === "GET" && path === `/v3/projects/${project}/timeSeries`) {
      const filter = url.searchParams.get("filter") ?? "";
      const metric = /metric\.type = "([^"]+)"/.exec(filter)?.[1];
      const subscription = /resource\.labels\.subscription_id = "([^"]+)"/.exec(filter)?.[1];
      const distribution = state.distributions.get(metric ?? "");
      if (distribution !== undefined) {
        const value = { distributionValue: { count: String(distribution.count), mean: distribution.mean } };
        return { status: 200, body: { timeSeries: [{ valueType: "DISTRIBUTION", points: [{ interval: { endTime: new Date().toISOString() }, value }] }] } };
      }
      const value = state.metrics.get(`${metric}|${subscription ?? ""}`);
      return { status: 200, body: value === undefined ? {} : { timeSeries: [{ points: [{ interval: { endTime: new Date().toISOString() }, value: { int64Value: String(value) } }] }] } };
    }
    if (method === "GET" && path === `/v2/projects/${project}/locations/-/functions`) {
      const fn = (name: string, uri: string, fleetName: string) => ({ name: `projects/${project}/locations/europe-west1/functions/${name}`, serviceConfig: { uri, environmentVariables: { FLEET_NAME: fleetName } } });
      return url.searchParams.get("pageToken") === "2"
        ? { status: 200, body: { functions: [fn(options.functionName, options.functionUri, options.fleetName)] } }
        : { status: 200, body: { functions: [fn("another-function", "https://another-function-xyz.a.run.app", "other")], nextPageToken: "2" } };
    }
    const bucketPath = `/storage/v1/b/${options.bucket}/o`;
    if (method === "GET" && path === bucketPath) {
      const prefix = url.searchParams.get("prefix") ?? "";
      const names = [...state.objects.keys()].filter((name) => name.startsWith(prefix)).sort();
      const start = Number(url.searchParams.get("pageToken") ?? "0");
      const next = start + state.listPageSize < names.length ? String(start + state.listPageSize) : undefined;
      return { status: 200, body: { items: names.slice(start, start + state.listPageSize).map((name) => ({ name })), ...(next ? { nextPageToken: next } : {}) } };
    }
    if (method === "GET" && path.startsWith(`${bucketPath}/`) && url.searchParams.get("alt") === "media") {
      const text = state.objects.get(path.slice(bucketPath.length + 1));
      return text === undefined ? { status: 404, body: googleError(404, "NOT_FOUND", "No such object") } : { status: 200, media: text };
    }
    return { status: 404, body: googleError(404, "NOT_FOUND", `unexpected ${method} ${path}`) };
  });
  return Object.assign(state, server);
}
