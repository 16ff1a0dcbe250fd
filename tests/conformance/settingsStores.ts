/**
 * Recorded-request fakes, on 127.0.0.1, of the two config stores that have no
 * emulator on npm, answering the requests the runtimes' real settings sources
 * make (the SSM one is shared: tests/support/awsFakes.ts):
 *
 * - Azure App Configuration: the key-value GET of `AppConfigurationClient`.
 *   https://learn.microsoft.com/rest/api/appconfiguration/keyvaluesets/get-key-value
 *   The client signs with a connection string (HMAC) because the SDK refuses
 *   bearer tokens over plain http; the request is otherwise the one the
 *   function makes with its managed identity.
 * - Google Cloud Parameter Manager: list versions, then get the newest one.
 *   https://cloud.google.com/secret-manager/parameter-manager/docs/reference/rest
 *
 * tests/functions/*-adapters.test.ts hold fuller fakes of both, but keep them
 * inside the test files, so these are the small subset this suite needs.
 */
import { AppConfigurationClient } from "@azure/app-configuration";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";

interface LoopbackApi {
  readonly origin: string;
  /** `METHOD /path?query` of every request, oldest first. */
  readonly requests: readonly string[];
  stop(): Promise<void>;
}

async function startApi(route: (request: IncomingMessage, url: URL, response: ServerResponse) => void): Promise<LoopbackApi> {
  const requests: string[] = [];
  const server = createServer((request, response) => {
    requests.push(`${request.method} ${request.url}`);
    route(request, new URL(request.url ?? "/", "http://fake"), response);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error(`fake API has no TCP address (got ${String(address)})`);
  return {
    origin: `http://127.0.0.1:${address.port}`,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const sendJson = (response: ServerResponse, status: number, contentType: string, body: unknown): void => void response.writeHead(status, { "content-type": contentType }).end(JSON.stringify(body));

export interface AppConfigurationFake extends LoopbackApi {
  readonly client: AppConfigurationClient;
  readonly key: string;
  /** Sets the key-value's value, as an operator's edit in the portal would. */
  put(value: string): void;
}

export async function startAppConfigurationFake(key = "settings"): Promise<AppConfigurationFake> {
  let value: string | undefined;
  const api = await startApi((request, url, response) => {
    if (request.method !== "GET" || url.pathname !== `/kv/${key}` || value === undefined) {
      sendJson(response, 404, "application/problem+json; charset=utf-8", { type: "https://azconfig.io/errors/key-not-found", title: "Key not found", status: 404 });
      return;
    }
    sendJson(response, 200, "application/vnd.microsoft.appconfig.kv+json; charset=utf-8", {
      etag: `etag-${api.requests.length}`,
      key,
      label: null,
      content_type: "application/json",
      value,
      tags: {},
      locked: false,
      last_modified: new Date().toISOString(),
    });
  });
  const client = new AppConfigurationClient(`Endpoint=${api.origin};Id=fake-id;Secret=${Buffer.from("fake-secret").toString("base64")}`, {
    retryOptions: { maxRetries: 0 },
    allowInsecureConnection: true,
  });
  return {
    ...api,
    client,
    key,
    put: (next) => {
      value = next;
    },
  };
}

export const FAKE_ACCESS_TOKEN = "ya29.conformance-token";

export interface ParameterManagerFake extends LoopbackApi {
  /** `projects/<p>/locations/global/parameters/<id>` */
  readonly parameter: string;
  /** Adds a new, newest version holding `payload`, as `gcloud parametermanager parameters versions create` would. */
  publish(payload: string): void;
}

export async function startParameterManagerFake(parameter = "projects/conformance/locations/global/parameters/scrape-fleet-settings"): Promise<ParameterManagerFake> {
  const versions: { readonly id: string; readonly createTime: string; readonly payload: string }[] = [];
  const googleError = (code: number, status: string, message: string) => ({ error: { code, status, message } });
  const api = await startApi((request, url, response) => {
    const json = (status: number, body: unknown) => sendJson(response, status, "application/json; charset=utf-8", body);
    if (request.headers.authorization !== `Bearer ${FAKE_ACCESS_TOKEN}`) return json(401, googleError(401, "UNAUTHENTICATED", "no valid token"));
    if (url.pathname === `/v1/${parameter}/versions`) {
      return json(200, { parameterVersions: versions.map(({ id, createTime }) => ({ name: `${parameter}/versions/${id}`, createTime, updateTime: createTime })) });
    }
    const version = versions.find(({ id }) => url.pathname === `/v1/${parameter}/versions/${id}`);
    if (version === undefined) return json(404, googleError(404, "NOT_FOUND", `no ${url.pathname}`));
    return json(200, { name: `${parameter}/versions/${version.id}`, createTime: version.createTime, payload: { data: Buffer.from(version.payload).toString("base64") } });
  });
  return {
    ...api,
    parameter,
    publish: (payload) => {
      // Strictly increasing times, however fast cases follow each other.
      const createTime = new Date(Date.UTC(2025, 0, 1) + versions.length * 1_000).toISOString();
      versions.push({ id: `v${versions.length + 1}`, createTime, payload });
    },
  };
}
