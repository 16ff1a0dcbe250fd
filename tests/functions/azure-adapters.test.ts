/**
 * The Azure adapters against local stand-ins, each started and stopped here:
 * - the Blob result store against Azurite (npm), on 127.0.0.1 with in-memory
 *   storage and telemetry off, using Azurite's published development account
 *   key (a public test credential, not a secret);
 * - the App Configuration settings source against a recorded-request fake: a
 *   loopback HTTP server answering the key-value GET the real
 *   `AppConfigurationClient` makes. App Configuration has no emulator on npm.
 *   The client signs with a connection string (HMAC) here because the SDK
 *   refuses bearer tokens over plain http; the request is otherwise the one the
 *   function makes with its managed identity.
 */
import { AppConfigurationClient } from "@azure/app-configuration";
import { BlobServiceClient, type ContainerClient } from "@azure/storage-blob";
import { strict as assert } from "node:assert";
import { spawn, type ChildProcess } from "node:child_process";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { gzipSync, gunzipSync } from "node:zlib";
import type { LogLevel } from "../../shared/ports";
import { DEFAULT_SETTINGS } from "../../shared/settings";
import { createBlobResultStore } from "../../functions/azure/resultStore";
import { createAppConfigurationSettings, createAppConfigurationSettingsSource } from "../../functions/azure/settingsSource";

/** Azurite's well-known development account (https://learn.microsoft.com/azure/storage/common/storage-use-azurite#well-known-storage-account-and-key). */
const AZURITE_ACCOUNT = "devstoreaccount1";
const AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

interface Azurite {
  readonly blobEndpoint: string;
  stop(): Promise<void>;
}

/** Starts `azurite-blob` as a child process on a port the OS picks, and waits for its "listens on" line. */
async function startAzurite(): Promise<Azurite> {
  const child: ChildProcess = spawn(
    process.execPath,
    [require.resolve("azurite/dist/src/blob/main.js"), "--blobHost", "127.0.0.1", "--blobPort", "0", "--inMemoryPersistence", "--skipApiVersionCheck", "--loose", "--disableTelemetry"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const blobEndpoint = await new Promise<string>((resolve, reject) => {
    let output = "";
    const timer = setTimeout(() => reject(new Error(`azurite did not start within 10 s: ${output}`)), 10_000);
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8");
      const match = /listens on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`azurite exited with ${code}: ${output}`));
    });
  });
  return {
    blobEndpoint,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

describe("Azure adapters", function () {
  this.timeout(15_000);

  describe("Blob result store (against Azurite)", () => {
    let azurite: Azurite;
    let container: ContainerClient;

    before(async () => {
      azurite = await startAzurite();
      const service = BlobServiceClient.fromConnectionString(
        `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${azurite.blobEndpoint}/${AZURITE_ACCOUNT};`,
      );
      container = service.getContainerClient("results");
      await container.create();
    });
    after(async () => {
      await azurite?.stop();
    });

    it("stores a record under its key with its content type", async () => {
      const store = createBlobResultStore({ container });
      await store.put({ key: "results/abc.json", body: JSON.stringify({ status: "ok" }), contentType: "application/json" });
      const blob = container.getBlockBlobClient("results/abc.json");
      const properties = await blob.getProperties();
      assert.equal(properties.contentType, "application/json");
      assert.deepEqual(JSON.parse((await blob.downloadToBuffer()).toString("utf8")), { status: "ok" });
    });

    it("stores raw HTML gzip-encoded, with Content-Encoding gzip", async () => {
      const store = createBlobResultStore({ container });
      const html = "<html><body>raw</body></html>";
      await store.put({ key: "raw/abc.html.gz", body: gzipSync(html), contentType: "text/html; charset=utf-8", contentEncoding: "gzip" });
      const blob = container.getBlockBlobClient("raw/abc.html.gz");
      const properties = await blob.getProperties();
      assert.equal(properties.contentEncoding, "gzip");
      assert.equal(properties.contentType, "text/html; charset=utf-8");
      assert.equal(gunzipSync(await blob.downloadToBuffer()).toString("utf8"), html);
    });

    it("an aborted signal reaches the upload: the call rejects with the SDK's AbortError and no blob is written", async () => {
      const store = createBlobResultStore({ container });
      const controller = new AbortController();
      controller.abort();
      const started = Date.now();
      await assert.rejects(store.put({ key: "results/aborted.json", body: "{}", contentType: "application/json" }, { signal: controller.signal }), (error: unknown) => error instanceof Error && error.name === "AbortError");
      assert.ok(Date.now() - started < 500, "rejected at once, without the SDK's tries");
      assert.equal(await container.getBlockBlobClient("results/aborted.json").exists(), false);
    });

    it("overwrites an earlier record under the same key (a redelivered message replaces it)", async () => {
      const store = createBlobResultStore({ container });
      await store.put({ key: "results/same.json", body: '{"attempt":1}', contentType: "application/json" });
      await store.put({ key: "results/same.json", body: '{"attempt":2}', contentType: "application/json" });
      const body = await container.getBlockBlobClient("results/same.json").downloadToBuffer();
      assert.deepEqual(JSON.parse(body.toString("utf8")), { attempt: 2 });
    });
  });

  describe("App Configuration settings source (recorded-request fake of the key-value GET)", () => {
    let document = JSON.stringify({ concurrency: 16, blockedDomains: ["blocked.example"] });
    let status = 200;

    /** Answers as the service does: https://learn.microsoft.com/rest/api/appconfiguration/keyvaluesets/get-key-value */
    const keyValue = (_req: IncomingMessage, res: ServerResponse) => {
      if (status !== 200) {
        res.writeHead(status, { "content-type": "application/problem+json; charset=utf-8" }).end(JSON.stringify({ type: "https://azconfig.io/errors/key-not-found", title: "Key not found", status }));
        return;
      }
      res
        .writeHead(200, { "content-type": "application/vnd.microsoft.appconfig.kv+json; charset=utf-8", etag: '"etag-1"', "last-modified": new Date().toUTCString() })
        .end(JSON.stringify({ etag: "etag-1", key: "settings", label: null, content_type: "application/json", value: document, tags: {}, locked: false, last_modified: new Date().toISOString() }));
    };

    /** A loopback server routing on the path alone: the client adds its api-version to the query string. */
    async function fakeStore(): Promise<{ client: AppConfigurationClient; endpoint: string; close(): Promise<void>; paths: string[]; authorizations: string[] }> {
      const paths: string[] = [];
      const authorizations: string[] = [];
      const http = createServer((req, res) => {
        paths.push(`${req.method} ${req.url}`);
        authorizations.push(String(req.headers.authorization ?? ""));
        if ((req.url ?? "").split("?")[0] === "/kv/settings" && req.method === "GET") keyValue(req, res);
        else res.writeHead(404).end();
      });
      await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
      const address = http.address();
      if (address === null || typeof address === "string") throw new Error("fake store has no TCP address");
      const endpoint = `http://127.0.0.1:${address.port}`;
      const client = new AppConfigurationClient(`Endpoint=${endpoint};Id=fake-id;Secret=${Buffer.from("fake-secret").toString("base64")}`, { retryOptions: { maxRetries: 0 }, allowInsecureConnection: true });
      return {
        client,
        endpoint,
        paths,
        authorizations,
        close: () =>
          new Promise<void>((resolve) => {
            http.closeAllConnections();
            http.close(() => resolve());
          }),
      };
    }

    it("reads the settings document with one signed GET of the key", async () => {
      status = 200;
      const fake = await fakeStore();
      try {
        const source = createAppConfigurationSettingsSource({ client: fake.client, endpoint: fake.endpoint, key: "settings" });
        assert.equal(await source.read(), document);
        assert.equal(fake.paths.length, 1);
        assert.match(fake.paths[0], /^GET \/kv\/settings\?api-version=/);
        assert.match(fake.authorizations[0], /^HMAC-SHA256 Credential=fake-id/);
      } finally {
        await fake.close();
      }
    });

    it("gives the worker the store's settings merged over the defaults", async () => {
      status = 200;
      document = JSON.stringify({ concurrency: 16, blockedDomains: ["blocked.example"] });
      const fake = await fakeStore();
      try {
        const settings = createAppConfigurationSettings({ client: fake.client, endpoint: fake.endpoint, key: "settings", logger: { log: () => undefined } });
        const current = await settings.get();
        assert.equal(current.concurrency, 16);
        assert.deepEqual(current.blockedDomains, ["blocked.example"]);
        assert.equal(current.maxRedirects, DEFAULT_SETTINGS.maxRedirects);
      } finally {
        await fake.close();
      }
    });

    it("keeps the defaults and logs settings_unreadable when the key is missing (404)", async () => {
      status = 404;
      const fake = await fakeStore();
      const logged: { level: LogLevel; event: string; fields?: Readonly<Record<string, unknown>> }[] = [];
      try {
        const settings = createAppConfigurationSettings({ client: fake.client, endpoint: fake.endpoint, key: "settings", logger: { log: (level, event, fields) => logged.push({ level, event, fields }) } });
        assert.deepEqual(await settings.get(), DEFAULT_SETTINGS);
        assert.equal(fake.paths.length, 1, "the store was asked");
        assert.equal(logged[0]?.event, "settings_unreadable");
        assert.match(String(logged[0]?.fields?.error), /Key not found|404/);
        assert.match(String(logged[0]?.fields?.source), /\/kv\/settings$/);
      } finally {
        await fake.close();
        status = 200;
      }
    });

    it("keeps the defaults and logs settings_invalid with the bad key when the document does not validate", async () => {
      status = 200;
      document = JSON.stringify({ concurrency: 0 });
      const fake = await fakeStore();
      const logged: { event: string; fields?: Readonly<Record<string, unknown>> }[] = [];
      try {
        const settings = createAppConfigurationSettings({ client: fake.client, endpoint: fake.endpoint, key: "settings", logger: { log: (_level, event, fields) => logged.push({ event, fields }) } });
        assert.equal((await settings.get()).concurrency, DEFAULT_SETTINGS.concurrency);
        assert.equal(logged[0]?.event, "settings_invalid");
        assert.match(JSON.stringify(logged[0]?.fields?.issues), /concurrency/);
      } finally {
        await fake.close();
      }
    });
  });
});
