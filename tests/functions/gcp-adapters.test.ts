/**
 * The Google Cloud adapters against recorded-request fakes on 127.0.0.1 (no
 * Cloud Storage or Parameter Manager emulator installs from npm; the fakes are
 * in tests/support/gcpFakes.ts):
 *
 * - the results store runs the real `@google-cloud/storage` client, pointed at
 *   a fake of the Cloud Storage JSON API's multipart upload with `apiEndpoint`
 *   (the client sends no credentials to a custom endpoint);
 * - the settings source runs its real `fetch` calls against a fake of the
 *   Parameter Manager REST API, with a fixed access token;
 * - the publisher runs its real `fetch` call against a fake of Pub/Sub's
 *   `topics.publish`, which checks the limits the API states (the real
 *   service's answers beyond those can only be checked against the fake).
 */
import { strict as assert } from "node:assert";
import { gunzipSync, gzipSync } from "node:zlib";
import { Storage } from "@google-cloud/storage";
import { createGcsResultStore, storageOptions, storageRetry } from "../../functions/gcp/resultStore";
import { PublishError, createPublisher } from "../../functions/gcp/publisher";
import { decodePushEnvelope } from "../../functions/gcp/pushEnvelope";
import { REDELIVERY_ATTRIBUTES, deadLetterAttributes, fitAttribute, readRedeliveryState, redeliveryAttributes, redeliveryOf } from "../../functions/gcp/redelivery";
import { ParameterManagerError, createParameterManagerSettings, createParameterManagerSource, newestEnabled } from "../../functions/gcp/settingsSource";
import { HandlerConfigError } from "../../functions/handlerConfig";
import { ScrapeError, SettingsError } from "../../shared/errors";
import { createJsonLogger } from "../../shared/logging";
import { rawHtmlKey, resultKey } from "../../shared/result";
import { DEFAULT_SETTINGS } from "../../shared/settings";
import { startCloudStorageFake, startParameterManagerFake, startPubSubFake, type CloudStorageFake, type ParameterManagerFake, type PubSubFake } from "../support/gcpFakes";

describe("Google Cloud Storage results store (recorded-request fake of the GCS JSON API on loopback; no GCS emulator installs from npm)", () => {
  let fake: CloudStorageFake;

  before(async () => {
    fake = await startCloudStorageFake("results");
  });

  after(async () => {
    await fake.close();
  });

  beforeEach(() => {
    fake.objects.clear();
    fake.requests.length = 0;
    fake.unavailableReplies = 0;
  });

  // The production retry policy, its back-off capped at the client's 1 s floor so the retry test stays short.
  const retryOptions = { ...storageRetry(), maxRetryDelay: 1 };
  const store = (bucket = "results") => createGcsResultStore({ bucket: new Storage(storageOptions({ apiEndpoint: fake.endpoint, projectId: "test-project", retryOptions })).bucket(bucket) });

  it("writes a result record as application/json under its key, in one multipart request", async () => {
    const key = resultKey("https://shop.example/a");
    const record = { schema: "scrape-fleet/result@1", key, url: "https://shop.example/a", status: "ok" };
    await store().put({ key, body: JSON.stringify(record), contentType: "application/json" });
    assert.equal(fake.requests.length, 1);
    const stored = fake.objects.get(key);
    assert.equal(stored?.metadata.contentType, "application/json");
    assert.equal(stored?.metadata.contentEncoding, undefined);
    assert.deepEqual(JSON.parse(stored?.body.toString("utf8") ?? "null"), record);
  });

  it("writes raw HTML as gzip bytes with contentEncoding gzip and the page's content type", async () => {
    const key = rawHtmlKey("https://shop.example/a");
    const page = "<html><title>Grüße</title></html>";
    await store().put({ key, body: gzipSync(page), contentType: "text/html; charset=utf-8", contentEncoding: "gzip" });
    const stored = fake.objects.get(key);
    assert.equal(stored?.metadata.contentType, "text/html; charset=utf-8");
    assert.equal(stored?.metadata.contentEncoding, "gzip");
    assert.equal(gunzipSync(stored?.body ?? Buffer.alloc(0)).toString("utf8"), page);
  });

  it("a redelivered message overwrites its record: no generation precondition is sent", async () => {
    const key = resultKey("https://shop.example/again");
    await store().put({ key, body: '{"attempt":1}', contentType: "application/json" });
    await store().put({ key, body: '{"attempt":2}', contentType: "application/json" });
    assert.equal(fake.objects.get(key)?.body.toString(), '{"attempt":2}');
    assert.ok(fake.requests.every((request) => !request.url.searchParams.has("ifGenerationMatch")), "an ifGenerationMatch precondition would refuse the overwrite");
  });

  it("a transient 503 from Cloud Storage is retried by the client, and the write succeeds", async () => {
    fake.unavailableReplies = 1;
    const key = resultKey("https://shop.example/retry");
    await store().put({ key, body: "{}", contentType: "application/json" });
    assert.equal(fake.requests.length, 2);
    assert.ok(fake.objects.has(key));
  });

  it("a write to a missing bucket fails with the API's error, so the worker sends the message back", async () => {
    await assert.rejects(store("no-such-bucket").put({ key: "results/x.json", body: "{}", contentType: "application/json" }), /bucket does not exist/i);
  });

  it("an already aborted signal starts no upload", async () => {
    const controller = new AbortController();
    controller.abort(new Error("gave up"));
    await assert.rejects(store().put({ key: "results/x.json", body: "{}", contentType: "application/json" }, { signal: controller.signal }), /gave up/);
    assert.equal(fake.requests.length, 0);
  });

  it("a write Cloud Storage never answers is abandoned when the signal fires (file.save takes no signal, so the adapter stops waiting)", async () => {
    const hanging = await startCloudStorageFake("results");
    hanging.mode = "hang";
    try {
      const hangingStore = createGcsResultStore({ bucket: new Storage(storageOptions({ apiEndpoint: hanging.endpoint, projectId: "test-project", retryOptions })).bucket("results") });
      const started = Date.now();
      await assert.rejects(
        hangingStore.put({ key: resultKey("https://shop.example/hang"), body: "{}", contentType: "application/json" }, { signal: AbortSignal.timeout(300) }),
        (error: unknown) => error instanceof DOMException && error.name === "TimeoutError",
      );
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 250 && elapsed < 1_500, `gave up after ${elapsed} ms; the signal fired at 300 ms`);
      assert.equal(hanging.requests.length, 1, "the upload reached the fake and was left unanswered");
    } finally {
      await hanging.close();
    }
  });
});

const PARAMETER = "projects/test-project/locations/global/parameters/scrape-fleet-test-settings";
const TOKEN = "ya29.test-token";

describe("Google Cloud Parameter Manager settings source (recorded-request fake of the REST API on loopback; no emulator installs from npm)", () => {
  let fake: ParameterManagerFake;

  before(async () => {
    fake = await startParameterManagerFake({ parameter: PARAMETER, accessToken: TOKEN });
  });

  after(async () => {
    await fake.close();
  });

  beforeEach(() => {
    fake.requests.length = 0;
    fake.pageSize = 100;
    fake.denied = false;
    fake.versions = [
      { id: "initial", createTime: "2025-01-01T00:00:00.000000001Z", payload: JSON.stringify({ concurrency: 4 }) },
      { id: "v2", createTime: "2025-01-01T00:00:00.000000002Z", payload: JSON.stringify({ concurrency: 6 }) },
      { id: "v3-disabled", createTime: "2025-02-01T00:00:00Z", payload: JSON.stringify({ concurrency: 99 }), disabled: true },
    ];
  });

  const source = () => createParameterManagerSource({ parameter: PARAMETER, getAccessToken: async () => TOKEN, endpoint: fake.endpoint });

  it("reads the newest enabled version's document with the runtime account's bearer token", async () => {
    const text = await source().read();
    assert.deepEqual(JSON.parse(String(text)), { concurrency: 6 });
    assert.deepEqual(
      fake.requests.map((request) => request.url.pathname),
      [`/v1/${PARAMETER}/versions`, `/v1/${PARAMETER}/versions/v2`],
    );
  });

  it("follows nextPageToken through a long version history", async () => {
    fake.pageSize = 1;
    const text = await source().read();
    assert.deepEqual(JSON.parse(String(text)), { concurrency: 6 });
    assert.equal(fake.requests.filter((request) => request.url.pathname.endsWith("/versions")).length, 3);
  });

  it("a refresh with no new version costs one list call, not a second payload read", async () => {
    const reader = source();
    await reader.read();
    fake.requests.length = 0;
    await reader.read();
    assert.deepEqual(fake.requests.map((request) => request.url.pathname), [`/v1/${PARAMETER}/versions`]);
  });

  it("a parameter with no enabled version is a settings error whose fix adds one", async () => {
    fake.versions = fake.versions.map((version) => ({ ...version, disabled: true }));
    await assert.rejects(source().read(), (error: unknown) => error instanceof SettingsError && /no enabled version/.test(error.message) && /versions create/.test(error.message));
  });

  it("a 403 names the role the runtime account needs", async () => {
    fake.denied = true;
    await assert.rejects(source().read(), (error: unknown) => error instanceof ParameterManagerError && error.status === 403 && /parameterViewer/.test(error.message));
  });

  it("refuses a parameter that is not a full resource name, quoting it", () => {
    assert.throws(() => createParameterManagerSource({ parameter: "settings", getAccessToken: async () => TOKEN }), (error: unknown) => error instanceof ParameterManagerError && /given "settings"/.test(error.message));
  });

  it("refuses a request timeout outside 100 to 60 000 ms, naming the option and the value", () => {
    for (const requestTimeoutMs of [99, 60_001, 1.5]) {
      assert.throws(
        () => createParameterManagerSource({ parameter: PARAMETER, getAccessToken: async () => TOKEN, requestTimeoutMs }),
        (error: unknown) => error instanceof HandlerConfigError && error.message.includes(`\`requestTimeoutMs\` must be an integer from 100 to 60000 (given ${requestTimeoutMs})`),
      );
    }
  });

  it("picks the newest version to the nanosecond, skipping disabled ones", () => {
    const newest = newestEnabled([
      { name: "a", createTime: "2025-01-01T00:00:00.000000009Z" },
      { name: "b", createTime: "2025-01-01T00:00:00.00000001Z" },
      { name: "c", createTime: "2025-01-01T00:00:01Z", disabled: true },
    ]);
    assert.equal(newest?.name, "b");
  });

  describe("through the TTL cache", () => {
    let clock: number;
    let logLines: string[];
    const cache = () => createParameterManagerSettings({ parameter: PARAMETER, getAccessToken: async () => TOKEN, endpoint: fake.endpoint, logger: createJsonLogger({ write: (line) => logLines.push(line) }), now: () => clock });

    beforeEach(() => {
      clock = 0;
      logLines = [];
    });

    it("a version added while the fleet runs takes effect after settingsTtlMs, with no redeploy", async () => {
      const settings = cache();
      assert.equal((await settings.get()).concurrency, 6);
      fake.versions.push({ id: "v4", createTime: "2025-03-01T00:00:00Z", payload: JSON.stringify({ concurrency: 3 }) });
      clock = DEFAULT_SETTINGS.settingsTtlMs - 1;
      assert.equal((await settings.get()).concurrency, 6);
      clock = DEFAULT_SETTINGS.settingsTtlMs;
      assert.equal((await settings.get()).concurrency, 3);
    });

    it("an invalid newest version leaves the last good settings in force and logs settings_invalid with the key", async () => {
      const settings = cache();
      assert.equal((await settings.get()).concurrency, 6);
      fake.versions.push({ id: "v4", createTime: "2025-03-01T00:00:00Z", payload: JSON.stringify({ concurrency: 0 }) });
      clock = DEFAULT_SETTINGS.settingsTtlMs;
      assert.equal((await settings.get()).concurrency, 6);
      const line = JSON.parse(logLines.at(-1) ?? "{}") as Record<string, unknown>;
      assert.equal(line.event, "settings_invalid");
      assert.match(String(line.error), /`concurrency`/);
    });

    it("an unreadable parameter fails closed (settings_unavailable, no defaults) and logs settings_unreadable", async () => {
      fake.denied = true;
      const settings = cache();
      await assert.rejects(settings.get(), (error) => error instanceof ScrapeError && error.code === "settings_unavailable");
      assert.equal((JSON.parse(logLines.at(-1) ?? "{}") as Record<string, unknown>).event, "settings_unreadable");
    });
  });
});

describe("Google Cloud Pub/Sub publisher (recorded-request fake of topics.publish on loopback; no emulator installs from npm)", () => {
  const topic = "projects/test-project/topics/scrape-fleet-retry";
  let fake: PubSubFake;

  before(async () => {
    fake = await startPubSubFake([topic]);
  });

  after(async () => {
    await fake.close();
  });

  beforeEach(() => {
    fake.published.length = 0;
    fake.requests.length = 0;
    fake.denied = false;
  });

  const publisher = () => createPublisher({ endpoint: fake.endpoint, getAccessToken: async () => fake.accessToken });

  it("publishes the bytes and attributes with the bearer token and resolves to the new message id", async () => {
    const id = await publisher()(topic, { data: Buffer.from('{"url":"https://example.com/"}'), attributes: { a: "1" } });
    assert.equal(id, "1");
    assert.deepEqual([fake.published[0].data.toString(), fake.published[0].attributes], ['{"url":"https://example.com/"}', { a: "1" }]);
    assert.equal(fake.requests[0].url.pathname, `/v1/${topic}:publish`);
  });

  it("a refusal names the status and, for 403, the role the runtime account needs", async () => {
    fake.denied = true;
    await assert.rejects(
      publisher()(topic, { data: Buffer.from("x"), attributes: {} }),
      (error: unknown) => error instanceof PublishError && error.status === 403 && /answered 403: PERMISSION_DENIED .*; .*roles\/pubsub\.publisher/.test(error.message),
    );
  });

  it("refuses a topic that is not a full resource name before any request", async () => {
    await assert.rejects(publisher()("scrape-fleet-retry", { data: Buffer.from("x"), attributes: {} }), (error: unknown) => error instanceof PublishError && /projects\/my-project\/topics/.test(error.message));
    assert.equal(fake.requests.length, 0);
  });

  it("gives up when its signal aborts (the function's own deadline)", async () => {
    await assert.rejects(publisher()(topic, { data: Buffer.from("x"), attributes: {} }, AbortSignal.abort()), PublishError);
  });
});

describe("Google Cloud redelivery attributes", () => {
  it("the push envelope's attributes reach the handler (string values only)", () => {
    const delivery = decodePushEnvelope({ message: { data: Buffer.from("{}").toString("base64"), messageId: "m", attributes: { a: "1", b: 2 } }, deliveryAttempt: 1 });
    assert.deepEqual(delivery.attributes, { a: "1" });
  });

  it("a producer's attribute that is not a count is read as no failures, so the message is worked on", () => {
    const state = readRedeliveryState({ [REDELIVERY_ATTRIBUTES.failures]: "many", [REDELIVERY_ATTRIBUTES.notBefore]: "soon" });
    assert.deepEqual(state, { failures: 0, pauses: 0 });
  });

  it("a copy keeps the producer's attributes and carries the count, the pauses, the time and the last code", () => {
    const fate = redeliveryOf({ kind: "retry", code: "connect_failed", reason: "refused" }, { failures: 1, pauses: 2 }, 5, () => 0);
    assert.equal(fate.kind, "republish");
    if (fate.kind !== "republish") return;
    assert.deepEqual(redeliveryAttributes({ job: "7" }, fate.state, 1_700_000_000_000), {
      job: "7",
      [REDELIVERY_ATTRIBUTES.failures]: "2",
      [REDELIVERY_ATTRIBUTES.pauses]: "2",
      [REDELIVERY_ATTRIBUTES.notBefore]: "1700000000000",
      [REDELIVERY_ATTRIBUTES.code]: "connect_failed",
      [REDELIVERY_ATTRIBUTES.reason]: "refused",
    });
    assert.equal(fate.holdSeconds, 120);
  });

  it("a dead letter drops the hold time and says why", () => {
    assert.deepEqual(deadLetterAttributes({ job: "7", [REDELIVERY_ATTRIBUTES.notBefore]: "1" }, "message_not_json", "not JSON"), {
      job: "7",
      [REDELIVERY_ATTRIBUTES.code]: "message_not_json",
      [REDELIVERY_ATTRIBUTES.reason]: "not JSON",
    });
  });

  it("a long reason is cut to Pub/Sub's 1024-byte attribute limit on a character boundary", () => {
    const cut = fitAttribute("é".repeat(2000));
    assert.ok(Buffer.byteLength(cut, "utf8") <= 1024);
    assert.ok(cut.endsWith("…") && !cut.includes("\uFFFD"));
    assert.equal(fitAttribute("short"), "short");
  });
});
