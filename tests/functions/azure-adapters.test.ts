/**
 * The Azure adapters against local stand-ins, each started and stopped here:
 * - the Blob result store against Azurite (npm), on 127.0.0.1 with in-memory
 *   storage and telemetry off, using Azurite's published development account
 *   key (a public test credential, not a secret);
 * - the App Configuration settings source against a recorded-request fake of
 *   the key-value GET (tests/support/azureFakes.ts): App Configuration has no
 *   emulator on npm.
 */
import { BlobServiceClient, type ContainerClient } from "@azure/storage-blob";
import { strict as assert } from "node:assert";
import { gzipSync, gunzipSync } from "node:zlib";
import type { LogLevel } from "../../shared/ports";
import { ScrapeError } from "../../shared/errors";
import { DEFAULT_SETTINGS } from "../../shared/settings";
import { createBlobResultStore } from "../../functions/azure/resultStore";
import { createAppConfigurationSettings, createAppConfigurationSettingsSource } from "../../functions/azure/settingsSource";
import { startAppConfigurationFake, type AppConfigurationFake } from "../support/azureFakes";
import { azuriteConnectionString, startAzurite, type Azurite } from "../support/azurite";

describe("Azure adapters", function () {
  this.timeout(15_000);

  describe("Blob result store (against Azurite)", () => {
    let azurite: Azurite;
    let container: ContainerClient;

    before(async () => {
      azurite = await startAzurite();
      const service = BlobServiceClient.fromConnectionString(azuriteConnectionString(azurite));
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
    const document = JSON.stringify({ concurrency: 16, blockedDomains: ["blocked.example"] });
    let fake: AppConfigurationFake;

    beforeEach(async () => {
      fake = await startAppConfigurationFake("settings");
    });
    afterEach(async () => {
      await fake.close();
    });

    it("reads the settings document with one signed GET of the key", async () => {
      fake.put(document);
      const source = createAppConfigurationSettingsSource({ client: fake.client, endpoint: fake.endpoint, key: "settings" });
      assert.equal(await source.read(), document);
      assert.equal(fake.requests.length, 1);
      const [request] = fake.requests;
      assert.match(`${request.method} ${request.url.pathname}${request.url.search}`, /^GET \/kv\/settings\?api-version=/);
      assert.match(String(request.headers.authorization ?? ""), /^HMAC-SHA256 Credential=fake-id/);
    });

    it("gives the worker the store's settings merged over the defaults", async () => {
      fake.put(document);
      const settings = createAppConfigurationSettings({ client: fake.client, endpoint: fake.endpoint, key: "settings", logger: { log: () => undefined } });
      const current = await settings.get();
      assert.equal(current.concurrency, 16);
      assert.deepEqual(current.blockedDomains, ["blocked.example"]);
      assert.equal(current.maxRedirects, DEFAULT_SETTINGS.maxRedirects);
    });

    it("fails closed (settings_unavailable, no defaults) and logs settings_unreadable when the key is missing (404)", async () => {
      const logged: { level: LogLevel; event: string; fields?: Readonly<Record<string, unknown>> }[] = [];
      const settings = createAppConfigurationSettings({ client: fake.client, endpoint: fake.endpoint, key: "settings", logger: { log: (level, event, fields) => logged.push({ level, event, fields }) } });
      await assert.rejects(settings.get(), (error) => error instanceof ScrapeError && error.code === "settings_unavailable");
      assert.equal(fake.requests.length, 1, "the store was asked");
      assert.equal(logged[0]?.event, "settings_unreadable");
      assert.match(String(logged[0]?.fields?.error), /Key not found|404/);
      assert.match(String(logged[0]?.fields?.source), /\/kv\/settings$/);
    });

    it("fails closed and logs settings_invalid with the bad key when the first document does not validate", async () => {
      fake.put(JSON.stringify({ concurrency: 0 }));
      const logged: { event: string; fields?: Readonly<Record<string, unknown>> }[] = [];
      const settings = createAppConfigurationSettings({ client: fake.client, endpoint: fake.endpoint, key: "settings", logger: { log: (_level, event, fields) => logged.push({ event, fields }) } });
      await assert.rejects(settings.get(), (error) => error instanceof ScrapeError && error.code === "settings_unavailable");
      assert.equal(logged[0]?.event, "settings_invalid");
      assert.match(JSON.stringify(logged[0]?.fields?.issues), /concurrency/);
    });
  });
});
