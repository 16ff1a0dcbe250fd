/**
 * Azure fakes for the handler and operations tests. A recorded-request fake, on 127.0.0.1, of the Azure App Configuration
 * key-value GET that `AppConfigurationClient.getConfigurationSetting` makes and
 * the PUT of `setConfigurationSetting` (App Configuration has no emulator on npm).
 * https://learn.microsoft.com/rest/api/appconfiguration/keyvaluesets/get-key-value
 * https://learn.microsoft.com/rest/api/appconfiguration/keyvaluesets/put-key-value
 *
 * Its client signs with a connection string (HMAC) because the SDK refuses
 * bearer tokens over plain http; the request is otherwise the one the function
 * makes with its managed identity.
 */
import { AppConfigurationClient } from "@azure/app-configuration";
import type { ServiceBusMessage } from "@azure/service-bus";
import type { MessageScheduler } from "../../functions/azure/redelivery";
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** One request the App Configuration fake received. */
export interface RecordedAppConfigurationRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers: IncomingHttpHeaders;
}

export interface AppConfigurationFake {
  /** A real `AppConfigurationClient` on the fake: HMAC-signed, no retries. */
  readonly client: AppConfigurationClient;
  /** `http://127.0.0.1:<port>`, the store's endpoint. */
  readonly endpoint: string;
  /** The one key the fake holds. */
  readonly key: string;
  readonly requests: RecordedAppConfigurationRequest[];
  /** Sets the key-value's value, as an operator's edit in the portal would; until then the key is missing (404). */
  put(value: string): void;
  /** The key-value's value now, as the last GET or PUT left it. */
  value(): string | undefined;
  /** Every value the key has held, oldest first: the store's revisions. */
  readonly revisions: string[];
  close(): Promise<void>;
}

const sendJson = (response: ServerResponse, status: number, headers: Record<string, string>, body: unknown): void => void response.writeHead(status, headers).end(JSON.stringify(body));

/** Routes on the path alone: the client adds its api-version to the query string. */
export async function startAppConfigurationFake(key = "settings"): Promise<AppConfigurationFake> {
  const requests: RecordedAppConfigurationRequest[] = [];
  const revisions: string[] = [];
  let value: string | undefined;
  let revision = 0;
  const server = createServer(async (request, response) => {
    const url = new URL(request.url ?? "/", "http://fake");
    requests.push({ method: request.method ?? "", url, headers: request.headers });
    if (request.method === "PUT" && url.pathname === `/kv/${key}`) {
      let text = "";
      for await (const chunk of request) text += (chunk as Buffer).toString("utf8");
      value = (JSON.parse(text) as { value: string }).value;
      revisions.push(value);
      revision += 1;
    } else if (request.method !== "GET" || url.pathname !== `/kv/${key}` || value === undefined) {
      sendJson(response, 404, { "content-type": "application/problem+json; charset=utf-8" }, { type: "https://azconfig.io/errors/key-not-found", title: "Key not found", status: 404 });
      return;
    }
    const etag = `etag-${revision}`;
    sendJson(
      response,
      200,
      { "content-type": "application/vnd.microsoft.appconfig.kv+json; charset=utf-8", etag: `"${etag}"`, "last-modified": new Date().toUTCString() },
      { etag, key, label: null, content_type: "application/json", value, tags: {}, locked: false, last_modified: new Date().toISOString() },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new AppConfigurationClient(`Endpoint=${endpoint};Id=fake-id;Secret=${Buffer.from("fake-secret").toString("base64")}`, {
    retryOptions: { maxRetries: 0 },
    allowInsecureConnection: true,
  });
  return {
    client,
    endpoint,
    key,
    requests,
    revisions,
    put(next) {
      value = next;
      revisions.push(next);
      revision += 1;
    },
    value: () => value,
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** One copy the handler scheduled, and when it is due. */
export interface ScheduledCopy {
  readonly message: ServiceBusMessage;
  readonly at: Date;
}

/**
 * A stand-in for the `ServiceBusSender` the handler schedules retries with:
 * Service Bus speaks AMQP, which no loopback emulator on npm serves, so the
 * copies are recorded here (what a real sender would put on the queue) and a
 * test delivers them again with `copyDelivery`, as the host would.
 */
export class RecordingScheduler implements MessageScheduler {
  readonly scheduled: ScheduledCopy[] = [];
  /** Set to make the next calls fail, as a throttled or unauthorised send does. */
  failWith: Error | undefined;

  async scheduleMessages(...[messages, at]: Parameters<MessageScheduler["scheduleMessages"]>): ReturnType<MessageScheduler["scheduleMessages"]> {
    if (this.failWith !== undefined) throw this.failWith;
    for (const message of Array.isArray(messages) ? messages : [messages]) this.scheduled.push({ message: message as ServiceBusMessage, at });
    return [];
  }
}

/**
 * The body and trigger metadata the host hands the function when a scheduled
 * copy arrives: a new message (`deliveryCount` 1, enqueued when due) whose
 * JSON body the host parses, carrying the copy's application properties.
 */
export function copyDelivery(copy: ScheduledCopy): { body: unknown; metadata: Record<string, unknown> } {
  const bytes = Buffer.from(copy.message.body as Uint8Array).toString("utf8");
  const body = copy.message.contentType === "application/json" ? (JSON.parse(bytes) as unknown) : bytes;
  return {
    body,
    metadata: {
      messageId: copy.message.messageId,
      deliveryCount: 1,
      enqueuedTimeUtc: copy.at.toISOString().replace("Z", ""),
      lockedUntilUtc: new Date(Date.now() + 60_000).toISOString(),
      contentType: copy.message.contentType,
      applicationProperties: copy.message.applicationProperties ?? {},
    },
  };
}
