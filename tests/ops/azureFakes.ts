/**
 * A recorded-request fake, on 127.0.0.1, of the Service Bus REST runtime API
 * and the two Azure Resource Manager resources the Azure operations backend
 * reads and writes (no Service Bus emulator and no ARM emulator installs from
 * npm). It speaks the documented requests and answers:
 * - Send Message Batch: POST /{queue}/messages, `application/vnd.microsoft.servicebus.json`
 *   https://learn.microsoft.com/rest/api/servicebus/send-message-batch
 * - Peek-Lock: POST /{queue}/$DeadLetterQueue/messages/head → 201 with
 *   `BrokerProperties`, custom properties as headers and the lock's `Location`;
 *   DELETE on it completes, PUT unlocks; 204 when empty
 *   https://learn.microsoft.com/rest/api/servicebus/peek-lock-message-non-destructive-read
 * - Receive and Delete: DELETE /{queue}/$DeadLetterQueue/messages/head
 * - ARM: GET the queue (`countDetails`), POST sites/{app}/config/appsettings/list,
 *   PUT sites/{app}/config/appsettings (replaces the whole set).
 * - ARM: GET the stack's Log Analytics workspace (its `customerId`), and the
 *   Log Analytics query API on that id (POST /v1/workspaces/{customerId}/query):
 *   the fake cannot run KQL, so it answers the one query the backend sends
 *   (the `fleet_metrics` lines of one fleet, summed) by summing the lines it
 *   holds in `AppTraces` itself, in the documented response shape.
 *   https://learn.microsoft.com/rest/api/loganalytics/workspaces/get
 *   https://learn.microsoft.com/azure/azure-monitor/logs/api/request-format
 *   https://learn.microsoft.com/azure/azure-monitor/logs/api/response-format
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeServiceBusMessage {
  readonly id: string;
  readonly sequenceNumber: number;
  readonly body: string;
  readonly contentType?: string;
  deliveryCount: number;
  readonly enqueuedAt: Date;
  readonly properties: Readonly<Record<string, string>>;
  lockToken?: string;
}

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly authorization: string | undefined;
  readonly contentType: string | undefined;
  readonly bytes: number;
}

/** What a test answers instead of the fake: a status, or undefined to let the fake answer. */
export type AzureIntercept = (request: RecordedRequest) => number | undefined;

export interface AzureControlFake {
  /** `http://127.0.0.1:<port>`: Service Bus's and ARM's base for the test. */
  readonly endpoint: string;
  readonly queueName: string;
  readonly queueResourceId: string;
  readonly siteResourceId: string;
  readonly work: FakeServiceBusMessage[];
  readonly deadLetters: FakeServiceBusMessage[];
  readonly requests: RecordedRequest[];
  /** The function app's app settings, as ARM holds them. */
  appSettings: Record<string, string>;
  intercept: AzureIntercept | undefined;
  /** The workspace's AppTraces rows: when each was ingested and its Message. */
  readonly traces: { readonly time: Date; readonly message: string }[];
  /** The bodies of the log queries received. */
  readonly logQueries: { readonly query: string; readonly timespan: string }[];
  /** Releases every lock, as Service Bus does when the lock duration ends. */
  expireLocks(): void;
  /** Puts a message into the dead-letter sub-queue, as Service Bus does after maxDeliveryCount. */
  deadLetter(body: string, deliveryCount: number, properties?: Record<string, string>): void;
  stop(): Promise<void>;
}

const SUBSCRIPTION = "00000000-0000-0000-0000-000000000000";

export async function startAzureControlFake(options: { readonly queueName: string; readonly appName: string; readonly appSettings: Record<string, string>; readonly workspaceName?: string }): Promise<AzureControlFake> {
  const group = `/subscriptions/${SUBSCRIPTION}/resourceGroups/fleet-rg`;
  const workspacePath = `${group}/providers/Microsoft.OperationalInsights/workspaces/${options.workspaceName ?? "fleet-logs"}`;
  const customerId = randomUUID();
  const logsPath = `/v1/workspaces/${customerId}/query`;
  const queueResourceId = `${group}/providers/Microsoft.ServiceBus/namespaces/fleet-sb/queues/${options.queueName}`;
  const siteResourceId = `${group}/providers/Microsoft.Web/sites/${options.appName}`;
  const queuePath = `/${options.queueName}`;
  const deadLetterPath = `${queuePath}/$DeadLetterQueue`;
  let sequence = 0;
  const fake: AzureControlFake = {
    endpoint: "",
    queueName: options.queueName,
    queueResourceId,
    siteResourceId,
    work: [],
    deadLetters: [],
    requests: [],
    appSettings: { ...options.appSettings },
    traces: [],
    logQueries: [],
    intercept: undefined,
    expireLocks() {
      for (const message of fake.deadLetters) delete message.lockToken;
    },
    deadLetter(body, deliveryCount, properties = { DeadLetterReason: "MaxDeliveryCountExceeded", DeadLetterErrorDescription: "Message could not be consumed after 5 delivery attempts." }) {
      fake.deadLetters.push({ id: randomUUID(), sequenceNumber: ++sequence, body, deliveryCount, enqueuedAt: new Date(Date.UTC(2026, 11, 1, 12)), properties });
    },
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
    },
  };

  const json = (response: ServerResponse, status: number, body: unknown): void => void response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
  const lockPath = (message: FakeServiceBusMessage): string => `${deadLetterPath}/messages/${message.id}/${message.lockToken}`;
  const deliver = (response: ServerResponse, message: FakeServiceBusMessage, locked: boolean): void => {
    message.deliveryCount += 1;
    const broker = { DeliveryCount: message.deliveryCount, SequenceNumber: message.sequenceNumber, EnqueuedTimeUtc: message.enqueuedAt.toUTCString(), ...(message.contentType ? { ContentType: message.contentType } : {}), ...(locked ? { LockToken: message.lockToken } : {}) };
    const headers: Record<string, string> = { brokerproperties: JSON.stringify(broker), "content-type": message.contentType ?? "application/octet-stream" };
    for (const [name, value] of Object.entries(message.properties)) headers[name] = JSON.stringify(value);
    if (locked) headers.location = `${fake.endpoint}${lockPath(message)}`;
    response.writeHead(locked ? 201 : 200, headers).end(message.body);
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? "/", "http://fake");
    // Node keeps `$` as sent; a client may percent-encode it.
    const path = decodeURIComponent(url.pathname);
    let text = "";
    for await (const chunk of request) text += (chunk as Buffer).toString("utf8");
    const recorded: RecordedRequest = { method: request.method ?? "", path, authorization: request.headers.authorization, contentType: request.headers["content-type"], bytes: Buffer.byteLength(text) };
    fake.requests.push(recorded);
    const forced = fake.intercept?.(recorded);
    if (forced !== undefined) return json(response, forced, { error: { code: "Intercepted", message: `answered ${forced} by the test` } });
    if (!request.headers.authorization?.startsWith("Bearer ")) return json(response, 401, { error: { code: "Unauthorized", message: "no bearer token" } });

    if (request.method === "POST" && path === `${queuePath}/messages`) {
      if (!request.headers["content-type"]?.startsWith("application/vnd.microsoft.servicebus.json")) return json(response, 400, { error: "batch content type expected" });
      for (const entry of JSON.parse(text) as { Body: string; BrokerProperties?: { ContentType?: string } }[]) {
        fake.work.push({ id: randomUUID(), sequenceNumber: ++sequence, body: entry.Body, ...(entry.BrokerProperties?.ContentType ? { contentType: entry.BrokerProperties.ContentType } : {}), deliveryCount: 0, enqueuedAt: new Date(), properties: {} });
      }
      return void response.writeHead(201).end();
    }
    if (path === `${deadLetterPath}/messages/head`) {
      if (request.method === "POST") {
        const message = fake.deadLetters.find((candidate) => candidate.lockToken === undefined);
        if (!message) return void response.writeHead(204).end();
        message.lockToken = randomUUID();
        return deliver(response, message, true);
      }
      if (request.method === "DELETE") {
        const message = fake.deadLetters.find((candidate) => candidate.lockToken === undefined);
        if (!message) return void response.writeHead(204).end();
        fake.deadLetters.splice(fake.deadLetters.indexOf(message), 1);
        return deliver(response, message, false);
      }
    }
    const lock = /^\/[^/]+\/\$DeadLetterQueue\/messages\/([\w-]+)\/([\w-]+)$/.exec(path);
    if (lock && (request.method === "DELETE" || request.method === "PUT")) {
      const message = fake.deadLetters.find((candidate) => candidate.id === lock[1]);
      if (!message || message.lockToken !== lock[2]) return json(response, 410, { error: "lock lost" });
      if (request.method === "DELETE") fake.deadLetters.splice(fake.deadLetters.indexOf(message), 1);
      else delete message.lockToken;
      return void response.writeHead(200).end();
    }

    if (request.method === "POST" && path === logsPath) {
      const body = JSON.parse(text) as { query: string; timespan: string };
      fake.logQueries.push(body);
      const fleet = /tostring\(line\.fleet\) == "([^"]+)"/.exec(body.query)?.[1];
      const minutes = Number(/^PT(\d+)M$/.exec(body.timespan)?.[1] ?? Number.NaN);
      if (fleet === undefined || !Number.isFinite(minutes)) return json(response, 400, { error: { code: "BadArgumentError", message: "the fake answers the backend's fleet_metrics query only" } });
      const since = Date.now() - minutes * 60_000;
      const totals = { ok: 0, failed: 0, retry: 0, malformed: 0, fetched: 0, fetchMs: 0 };
      for (const trace of fake.traces) {
        if (trace.time.getTime() < since) continue;
        const line = JSON.parse(trace.message) as Record<string, unknown>;
        if (line.event !== "fleet_metrics" || line.fleet !== fleet) continue;
        const latency = line.FetchLatencyMs as { count: number; sum: number };
        totals.ok += Number(line.PagesOk);
        totals.failed += Number(line.PagesFailed);
        totals.retry += Number(line.PagesRetried);
        totals.malformed += Number(line.PagesMalformed);
        totals.fetched += latency.count;
        totals.fetchMs += latency.sum;
      }
      const columns = Object.keys(totals).map((name) => ({ name, type: name === "fetchMs" ? "real" : "long" }));
      return json(response, 200, { tables: [{ name: "PrimaryResult", columns, rows: [Object.values(totals)] }] });
    }
    if (url.searchParams.get("api-version") === null) return json(response, 400, { error: { code: "MissingApiVersionParameter" } });
    if (request.method === "GET" && path === workspacePath) return json(response, 200, { id: workspacePath, name: options.workspaceName ?? "fleet-logs", properties: { customerId } });
    if (request.method === "GET" && path === queueResourceId) {
      const active = fake.work.length;
      return json(response, 200, {
        id: queueResourceId,
        name: options.queueName,
        properties: { messageCount: active + fake.deadLetters.length, countDetails: { activeMessageCount: active, deadLetterMessageCount: fake.deadLetters.length, scheduledMessageCount: 0, transferMessageCount: 0, transferDeadLetterMessageCount: 0 } },
      });
    }
    if (request.method === "POST" && path === `${siteResourceId}/config/appsettings/list`) return json(response, 200, { name: "appsettings", properties: fake.appSettings });
    if (request.method === "PUT" && path === `${siteResourceId}/config/appsettings`) {
      fake.appSettings = { ...(JSON.parse(text) as { properties: Record<string, string> }).properties };
      return json(response, 200, { name: "appsettings", properties: fake.appSettings });
    }
    return json(response, 404, { error: { code: "NotFound", message: `${request.method} ${path}` } });
  };

  const server = createServer((request, response) => void handle(request, response).catch((error: unknown) => json(response, 500, { error: String(error) })));
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  (fake as { endpoint: string }).endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}
