/**
 * The Cloud Function end to end: real Pub/Sub push envelopes POSTed to the
 * Functions Framework's own server (`getTestServer`) on 127.0.0.1, the real
 * handler and shared worker (real fetcher, extractor), against a page server
 * on 127.0.0.1.
 *
 * The workers here run with `allowPrivateNetworks: true` because the page
 * server is on loopback, which the SSRF guard refuses by default. The switch
 * never opens link-local or cloud-metadata addresses (169.254.169.254 is
 * Google's metadata server too), so the SSRF cases below must still be
 * refused, and nothing is dialled for them. Host names `*.example` map to
 * 127.0.0.1 through an injected resolver; no outside name is resolved.
 */
import { strict as assert } from "node:assert";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { http } from "@google-cloud/functions-framework";
import { getFunction, getTestServer } from "@google-cloud/functions-framework/testing";
import { createCloudFunctionHandler, createPushHandler, type PushHandler, type PushHandlerDeps } from "../../functions/gcp";
import { ENTRY_POINT } from "../../functions/gcp/environment";
import { createLogMetrics } from "../../functions/gcp/metrics";
import { HandlerConfigError } from "../../functions/handlerConfig";
import { createJsonLogger } from "../../shared/logging";
import { resultKey } from "../../shared/result";
import { parseSettings, type FleetSettings } from "../../shared/settings";
import { startLoopbackServer, type LoopbackServer } from "../support/loopback/server";
import { MemoryResultStore, StallingStore } from "../support/memoryStore";
import { commonPages, exampleLookup } from "../support/pages";

/** `*.example` → 127.0.0.1, except `metadata.example` → Google's metadata server address (refused even with the switch on). */
const stubLookup = exampleLookup({ "metadata.example": { address: "169.254.169.254", family: 4 } });

const FAST_SETTINGS = { perDomainDelayMs: 0, respectRobots: false, connectTimeoutMs: 1_000, headersTimeoutMs: 5_000, bodyIdleTimeoutMs: 5_000, pageDeadlineMs: 5_000 };
const SUBSCRIPTION = "projects/test-project/subscriptions/scrape-fleet-test-work-push";

/** A push body exactly as Pub/Sub sends it (wrapped format; `deliveryAttempt` null as from a subscription without a dead-letter policy). */
function pushBody(messageId: string, data: string | undefined, deliveryAttempt: number | null = 1): Record<string, unknown> {
  return {
    message: { ...(data === undefined ? {} : { data }), attributes: { source: "test" }, messageId, message_id: messageId, publishTime: "2025-01-02T03:04:05.678Z", publish_time: "2025-01-02T03:04:05.678Z" },
    subscription: SUBSCRIPTION,
    ...(deliveryAttempt === null ? {} : { deliveryAttempt }),
  };
}

const base64 = (text: string) => Buffer.from(text, "utf8").toString("base64");
const scrapeMessage = (url: string) => base64(JSON.stringify({ v: 1, url }));


interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/** The name the tests register their handler under (the production one is `ENTRY_POINT`). */
const TEST_FUNCTION = "scrapeWorkerUnderTest";

describe("Google Cloud Function (Pub/Sub push)", () => {
  let pages: LoopbackServer;
  let store: MemoryResultStore;
  let settings: FleetSettings;
  let logLines: string[];
  let metricLines: string[];
  let handler: PushHandler | undefined;
  let server: Server;
  let endpoint: string;
  const url = (host: string, path: string) => `http://${host}:${pages.port}${path}`;

  function buildHandler(overrides: Partial<PushHandlerDeps> = {}): PushHandler {
    handler = createPushHandler({
      worker: { settings: { get: async () => settings }, results: store, allowPrivateNetworks: true, lookup: stubLookup },
      logger: createJsonLogger({ write: (line) => logLines.push(line) }),
      metrics: createLogMetrics({ fleetName: "test-fleet", write: (line) => metricLines.push(line) }),
      timeoutSeconds: 30,
      ...overrides,
    });
    return handler;
  }

  async function post(body: unknown, init: RequestInit = {}): Promise<Answer> {
    const response = await fetch(endpoint, { method: "POST", headers: { "content-type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body), ...init });
    const text = await response.text();
    return { status: response.status, body: text === "" ? {} : (JSON.parse(text) as Record<string, unknown>) };
  }

  before(async () => {
    // Registered once: the framework's registry is process-wide. The handler it calls is rebuilt per test.
    http(TEST_FUNCTION, (request, response) => {
      if (handler === undefined) throw new Error("no handler built for this test");
      return handler.handle(request, response);
    });
    server = getTestServer(TEST_FUNCTION);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  beforeEach(async () => {
    pages = await startLoopbackServer(commonPages());
    store = new MemoryResultStore();
    settings = parseSettings(FAST_SETTINGS);
    logLines = [];
    metricLines = [];
    buildHandler();
  });

  afterEach(async () => {
    await handler?.close();
    handler = undefined;
    await pages.close();
  });

  it("a good page is acknowledged (200) and its ok record stored with the push's message id and delivery attempt", async () => {
    const answer = await post(pushBody("m-good", scrapeMessage(url("shop.example", "/good")), 2));
    assert.equal(answer.status, 200);
    assert.equal(answer.body.outcome, "ok");
    const record = store.record(url("shop.example", "/good"));
    assert.equal(record?.status, "ok");
    assert.equal(record?.content?.title, "Good page");
    assert.equal(record?.messageId, "m-good");
    assert.equal(record?.attempt, 2);
  });

  it("a transient 503 from the site is not acknowledged (429), so Pub/Sub redelivers it, and nothing is stored", async () => {
    const answer = await post(pushBody("m-busy", scrapeMessage(url("shop.example", "/busy"))));
    assert.equal(answer.status, 429);
    assert.deepEqual([answer.body.outcome, answer.body.code], ["retry", "http_5xx"]);
    assert.equal(store.objects.size, 0);
  });

  it("a permanent 404 is acknowledged (200) with a failure record, so it is not retried", async () => {
    const answer = await post(pushBody("m-gone", scrapeMessage(url("news.example", "/gone"))));
    assert.equal(answer.status, 200);
    assert.deepEqual([answer.body.outcome, answer.body.code], ["failed", "http_4xx"]);
    const record = store.record(url("news.example", "/gone"));
    assert.deepEqual([record?.status, record?.code, record?.httpStatus], ["failed", "http_4xx", 404]);
  });

  it("SSRF to the metadata server (169.254.169.254, by address or by name) is refused and recorded, with no connection made", async () => {
    const byAddress = "http://169.254.169.254/computeMetadata/v1/instance/service-accounts/default/token";
    const byName = "http://metadata.example/computeMetadata/v1/";
    const answers = [await post(pushBody("m-ssrf-1", scrapeMessage(byAddress))), await post(pushBody("m-ssrf-2", scrapeMessage(byName)))];
    assert.deepEqual(answers.map((answer) => [answer.status, answer.body.code]), [[200, "ssrf_refused"], [200, "ssrf_refused"]]);
    assert.equal(store.record(byAddress)?.code, "ssrf_refused");
    assert.equal(store.record(byName)?.code, "ssrf_refused");
    assert.equal(pages.requests.length, 0);
  });

  describe("a message that cannot be read is refused (400), never acknowledged, so Pub/Sub dead-letters it after maxDeliveryAttempts", () => {
    const cases: ReadonlyArray<readonly [string, Record<string, unknown> | string, string]> = [
      ["malformed JSON in data", pushBody("m-json", base64("{url: https://example.com/")), "message_not_json"],
      ["data that is JSON but no scrape message", pushBody("m-nourl", base64(JSON.stringify({ v: 1, id: "job-7" }))), "message_missing_url"],
      ["missing data", pushBody("m-nodata", undefined), "push_envelope_invalid"],
      ["data that is not base64", pushBody("m-b64", "not base64!!"), "push_envelope_invalid"],
      ["a body that is not a push envelope", { hello: "world" }, "push_envelope_invalid"],
    ];
    for (const [name, body, code] of cases) {
      it(`${name} → 400 with code ${code}, nothing stored`, async () => {
        const answer = await post(body);
        assert.equal(answer.status, 400);
        assert.deepEqual([answer.body.outcome, answer.body.code], ["malformed", code]);
        assert.equal(store.objects.size, 0);
        const metric = JSON.parse(metricLines.at(-1) ?? "{}") as Record<string, unknown>;
        assert.deepEqual([metric.outcome, metric.PagesMalformed], ["malformed", 1]);
      });
    }

    it("the refusal is logged with the message id and the reason, so the dead letter can be matched to it", async () => {
      await post(pushBody("m-b64", "%%%"));
      const line = logLines.map((text) => JSON.parse(text) as Record<string, unknown>).find((entry) => entry.event === "push_rejected");
      assert.equal(line?.messageId, "m-b64");
      assert.match(String(line?.reason), /not base64/);
    });
  });

  it("a results store outage answers 503 (a function error, so the errors alert sees it) and the message comes back", async () => {
    store.failing = true;
    const answer = await post(pushBody("m-store", scrapeMessage(url("shop.example", "/good"))));
    assert.deepEqual([answer.status, answer.body.code], [503, "store_failed"]);
  });

  it("answers before the function's timeout: a page still loading at the deadline comes back as worker_deadline (429)", async () => {
    buildHandler({ timeoutSeconds: 2, deadlineMarginMs: 1_400 });
    const started = Date.now();
    const answer = await post(pushBody("m-slow", scrapeMessage(url("shop.example", "/slow"))));
    const elapsed = Date.now() - started;
    assert.deepEqual([answer.status, answer.body.code], [429, "worker_deadline"]);
    assert.ok(elapsed < 2_000, `answered after ${elapsed} ms; the timeout is 2000 ms`);
    assert.ok(elapsed >= 550, `gave up after ${elapsed} ms, before its 600 ms deadline`);
  });

  it("a result write that never finishes is abandoned a second before the function's timeout (margin − 1 s after the worker's deadline), answering 503 store_failed", async () => {
    const target = url("shop.example", "/good");
    store = new StallingStore(resultKey(target));
    // Timeout 2 s, margin 1 200 ms: the worker's deadline is at 800 ms, and writes get 200 ms more.
    buildHandler({ timeoutSeconds: 2, deadlineMarginMs: 1_200 });
    const started = Date.now();
    const answer = await post(pushBody("m-stalled", scrapeMessage(target)));
    const elapsed = Date.now() - started;
    assert.deepEqual([answer.status, answer.body.code], [503, "store_failed"]);
    assert.match(String(answer.body.reason), /writeGraceMs/);
    assert.ok(elapsed >= 950 && elapsed < 1_500, `answered after ${elapsed} ms; writes were due to be abandoned at 1000 ms, and the timeout is 2000 ms`);
  });

  it("a push without deliveryAttempt is read as a first delivery, with a warning naming the missing dead-letter policy", async () => {
    const answer = await post(pushBody("m-noattempt", scrapeMessage(url("shop.example", "/good")), null));
    assert.equal(answer.status, 200);
    assert.equal(store.record(url("shop.example", "/good"))?.attempt, 1);
    assert.ok(logLines.some((line) => line.includes('"delivery_attempt_missing"') && line.includes("dead-letter policy")));
  });

  it("with the kill switch off, the message comes back (429 fleet_paused) and no page is fetched", async () => {
    settings = parseSettings({ ...FAST_SETTINGS, enabled: false });
    const answer = await post(pushBody("m-paused", scrapeMessage(url("shop.example", "/good"))));
    assert.deepEqual([answer.status, answer.body.code], [429, "fleet_paused"]);
    assert.equal(pages.requests.length, 0);
  });

  it("writes one metric line per page with the fleet, the outcome counter, the bytes and the latency", async () => {
    await post(pushBody("m-good", scrapeMessage(url("shop.example", "/good"))));
    assert.equal(metricLines.length, 1);
    const line = JSON.parse(metricLines[0]) as Record<string, unknown>;
    assert.deepEqual([line.event, line.Fleet, line.outcome, line.PagesOk, line.severity], ["page_metric", "test-fleet", "ok", 1, "INFO"]);
    assert.ok(typeof line.BytesFetched === "number" && line.BytesFetched > 0);
    assert.ok(typeof line.FetchLatencyMs === "number" && line.FetchLatencyMs > 0);
  });

  it("answers 405 to anything but POST", async () => {
    const response = await fetch(endpoint, { method: "GET" });
    assert.equal(response.status, 405);
    assert.equal(response.headers.get("allow"), "POST");
  });

  it("rejects a deadline margin at or above the timeout, naming the option and the value", () => {
    assert.throws(() => buildHandler({ timeoutSeconds: 2, deadlineMarginMs: 2_000 }), (error: unknown) => error instanceof HandlerConfigError && /`deadlineMarginMs`.*\(given 2000\)/.test(error.message));
  });

  it("the deployed wiring refuses to start without its environment, naming the variable and the fix", () => {
    assert.throws(
      () => createCloudFunctionHandler({ FLEET_NAME: "f", FUNCTION_TIMEOUT_SECONDS: "120", SETTINGS_PARAMETER: "projects/p/locations/global/parameters/s" }),
      (error: unknown) => error instanceof HandlerConfigError && /environment variable RESULTS_BUCKET is not set.*redeploy the stack/.test(error.message),
    );
  });

  it("importing the function registers the HTTP entry point the infra names in buildConfig.entryPoint", () => {
    assert.equal(typeof getFunction(ENTRY_POINT), "function");
  });
});
