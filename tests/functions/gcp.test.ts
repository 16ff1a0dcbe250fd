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
import { createPublisher } from "../../functions/gcp/publisher";
import { MAX_HOLD_SECONDS, REDELIVERY_ATTRIBUTES } from "../../functions/gcp/redelivery";
import { TRANSIENT_RETRY_BACKOFF } from "../../shared/backoff";
import { HandlerConfigError } from "../../functions/handlerConfig";
import { ScrapeError } from "../../shared/errors";
import { createJsonLogger } from "../../shared/logging";
import { resultKey } from "../../shared/result";
import { parseSettings, type FleetSettings } from "../../shared/settings";
import { startPubSubFake, type PubSubFake } from "../support/gcpFakes";
import { startLoopbackServer, type LoopbackServer } from "../support/loopback/server";
import { MemoryResultStore, StallingStore } from "../support/memoryStore";
import { commonPages, exampleLookup } from "../support/pages";

/** `*.example` → 127.0.0.1, except `metadata.example` → Google's metadata server address (refused even with the switch on). */
const stubLookup = exampleLookup({ "metadata.example": { address: "169.254.169.254", family: 4 } });

const FAST_SETTINGS = { perDomainDelayMs: 0, respectRobots: false, connectTimeoutMs: 1_000, headersTimeoutMs: 5_000, bodyIdleTimeoutMs: 5_000, pageDeadlineMs: 5_000 };
const SUBSCRIPTION = "projects/test-project/subscriptions/scrape-fleet-test-work-push";
const RETRY_TOPIC = "projects/test-project/topics/scrape-fleet-test-retry";
const DEAD_LETTER_TOPIC = "projects/test-project/topics/scrape-fleet-test-dlq";
const A = REDELIVERY_ATTRIBUTES;

/** A push body exactly as Pub/Sub sends it (wrapped format; `deliveryAttempt` null as from a subscription without a dead-letter policy). */
function pushBody(messageId: string, data: string | undefined, deliveryAttempt: number | null = 1, attributes: Record<string, string> = {}): Record<string, unknown> {
  return {
    message: { ...(data === undefined ? {} : { data }), attributes: { source: "test", ...attributes }, messageId, message_id: messageId, publishTime: "2025-01-02T03:04:05.678Z", publish_time: "2025-01-02T03:04:05.678Z" },
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
  let pubsub: PubSubFake;
  let server: Server;
  let endpoint: string;
  const url = (host: string, path: string) => `http://${host}:${pages.port}${path}`;

  function buildHandler(overrides: Partial<PushHandlerDeps> = {}): PushHandler {
    handler = createPushHandler({
      worker: { settings: { get: async () => settings }, results: store, allowPrivateNetworks: true, lookup: stubLookup },
      logger: createJsonLogger({ write: (line) => logLines.push(line) }),
      metrics: createLogMetrics({ fleetName: "test-fleet", write: (line) => metricLines.push(line) }),
      // The jitter at its floor: each hold is the backoff's lower bound.
      redelivery: { publish: createPublisher({ endpoint: pubsub.endpoint, getAccessToken: async () => pubsub.accessToken }), retryTopic: RETRY_TOPIC, deadLetterTopic: DEAD_LETTER_TOPIC, maxDeliveryAttempts: 5, random: () => 0 },
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
    pubsub = await startPubSubFake([RETRY_TOPIC, DEAD_LETTER_TOPIC]);
    server = getTestServer(TEST_FUNCTION);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });

  after(async () => {
    await pubsub.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  beforeEach(async () => {
    pages = await startLoopbackServer({ ...commonPages(), "/down": (_request, response) => response.writeHead(500).end() });
    pubsub.published.length = 0;
    pubsub.denied = false;
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

  it("a good page is acknowledged (200) and its ok record stored with the push's message id, as attempt failures so far + 1 (not Pub/Sub's delivery count)", async () => {
    const answer = await post(pushBody("m-good", scrapeMessage(url("shop.example", "/good")), 7, { [A.failures]: "1" }));
    assert.equal(answer.status, 200);
    assert.equal(answer.body.outcome, "ok");
    const record = store.record(url("shop.example", "/good"));
    assert.equal(record?.status, "ok");
    assert.equal(record?.content?.title, "Good page");
    assert.equal(record?.messageId, "m-good");
    assert.equal(record?.attempt, 2);
  });

  const onTopic = (topic: string) => pubsub.published.filter((message) => message.topic === topic);

  describe("a page that cannot be finished now is acknowledged and published again with a hold (no non-2xx push)", () => {
    it("a 500 without Retry-After: a copy on the retry topic, one failure counted, held by the shared backoff's first step, data and attributes kept", async () => {
      const data = scrapeMessage(url("shop.example", "/down"));
      const before = Date.now();
      const answer = await post(pushBody("m-down", data));
      assert.deepEqual([answer.status, answer.body.outcome, answer.body.code, answer.body.handedOnTo], [202, "retry", "http_5xx", "retry"]);
      const [copy] = onTopic(RETRY_TOPIC);
      assert.equal(copy.data.toString("base64"), data);
      assert.equal(copy.attributes.source, "test");
      assert.deepEqual([copy.attributes[A.failures], copy.attributes[A.pauses], copy.attributes[A.code]], ["1", "0", "http_5xx"]);
      const hold = Number(copy.attributes[A.notBefore]) - before;
      // random() = 0: half the first ceiling.
      assert.ok(hold >= (TRANSIENT_RETRY_BACKOFF.first / 2) * 1000 && hold < (TRANSIENT_RETRY_BACKOFF.first / 2) * 1000 + 5_000, `held ${hold} ms`);
      assert.equal(store.objects.size, 0);
      assert.deepEqual(onTopic(DEAD_LETTER_TOPIC), []);
    });

    it("a 503 with Retry-After: 1 is held for the site's second, and counted", async () => {
      const before = Date.now();
      const answer = await post(pushBody("m-busy", scrapeMessage(url("shop.example", "/busy")), 1, { [A.failures]: "2" }));
      assert.deepEqual([answer.status, answer.body.code, answer.body.holdSeconds, answer.body.failures], [202, "http_5xx", 1, 3]);
      const hold = Number(onTopic(RETRY_TOPIC)[0].attributes[A.notBefore]) - before;
      assert.ok(hold >= 1_000 && hold < 3_000, `held ${hold} ms`);
    });

    it("the fourth failure is held by the backoff's fourth step (×4 per failure)", async () => {
      const answer = await post(pushBody("m-down-4", scrapeMessage(url("shop.example", "/down")), 1, { [A.failures]: "3" }));
      assert.deepEqual([answer.body.holdSeconds, answer.body.failures], [(TRANSIENT_RETRY_BACKOFF.first * TRANSIENT_RETRY_BACKOFF.factor ** 3) / 2, 4]);
    });

    it("a copy whose hold has not ended is refused in a moment (425): no fetch, no metric, no publish", async () => {
      const answer = await post(pushBody("m-early", scrapeMessage(url("shop.example", "/good")), 3, { [A.failures]: "1", [A.notBefore]: String(Date.now() + 60_000) }));
      assert.deepEqual([answer.status, answer.body.outcome], [425, "held"]);
      assert.equal(pages.requests.length, 0);
      assert.deepEqual([metricLines.length, pubsub.published.length], [0, 0]);
    });

    it("a copy whose hold has ended is worked on, as attempt failures + 1", async () => {
      const answer = await post(pushBody("m-due", scrapeMessage(url("shop.example", "/good")), 4, { [A.failures]: "2", [A.notBefore]: String(Date.now() - 1) }));
      assert.deepEqual([answer.status, answer.body.outcome, answer.body.attempt], [200, "ok", 3]);
      assert.equal(store.record(url("shop.example", "/good"))?.attempt, 3);
    });

    it("the last failure is held once more; the copy that comes back is dead-lettered without a fetch, with the last code and reason", async () => {
      const last = await post(pushBody("m-last", scrapeMessage(url("shop.example", "/down")), 1, { [A.failures]: "4" }));
      assert.deepEqual([last.status, last.body.handedOnTo, last.body.failures, last.body.holdSeconds], [202, "retry", 5, Math.ceil(TRANSIENT_RETRY_BACKOFF.max / 2)]);
      const copy = onTopic(RETRY_TOPIC)[0];
      const requestsBefore = pages.requests.length;
      const due = await post(pushBody("m-last-copy", copy.data.toString("base64"), 1, { ...copy.attributes, [A.notBefore]: String(Date.now() - 1) }));
      assert.deepEqual([due.status, due.body.handedOnTo], [202, "deadLetter"]);
      assert.equal(pages.requests.length, requestsBefore);
      const [deadLetter] = onTopic(DEAD_LETTER_TOPIC);
      assert.equal(deadLetter.data.toString("base64"), copy.data.toString("base64"));
      assert.equal(deadLetter.attributes[A.code], "http_5xx");
      assert.match(deadLetter.attributes[A.reason], /5 transient failures \(maxDeliveryAttempts 5\).*500/);
      assert.equal(deadLetter.attributes[A.notBefore], undefined);
      assert.ok(logLines.some((line) => line.includes('"message_dead_lettered"')));
    });

    it("a worker that has never read its settings (settings_unavailable) follows the same schedule: counted, held by the shared backoff, no fetch", async () => {
      buildHandler({ worker: { settings: { get: async () => Promise.reject(new ScrapeError("settings_unavailable", "no good settings yet")) }, results: store, allowPrivateNetworks: true, lookup: stubLookup } });
      const answer = await post(pushBody("m-nosettings", scrapeMessage(url("shop.example", "/good")), 1, { [A.failures]: "1" }));
      assert.deepEqual([answer.status, answer.body.code, answer.body.failures, answer.body.holdSeconds], [202, "settings_unavailable", 2, (TRANSIENT_RETRY_BACKOFF.first * TRANSIENT_RETRY_BACKOFF.factor) / 2]);
      assert.equal(pages.requests.length, 0);
      const metric = JSON.parse(metricLines.at(-1) ?? "{}") as Record<string, unknown>;
      assert.deepEqual([metric.outcome, metric.code], ["retry", "settings_unavailable"]);
    });

    it("a results store outage is a counted retry (store_failed), held and published again", async () => {
      store.failing = true;
      const answer = await post(pushBody("m-store", scrapeMessage(url("shop.example", "/good"))));
      assert.deepEqual([answer.status, answer.body.code, answer.body.failures], [202, "store_failed", 1]);
    });

    it("with the kill switch off, no page is fetched and no attempt is spent: held 15 min, doubling per pause", async () => {
      settings = parseSettings({ ...FAST_SETTINGS, enabled: false });
      const first = await post(pushBody("m-paused", scrapeMessage(url("shop.example", "/good")), 1, { [A.failures]: "2" }));
      assert.deepEqual([first.status, first.body.code, first.body.holdSeconds, first.body.failures], [202, "fleet_paused", 900, 2]);
      const again = await post(pushBody("m-paused-2", scrapeMessage(url("shop.example", "/good")), 1, { [A.failures]: "2", [A.pauses]: "3" }));
      assert.equal(again.body.holdSeconds, 900 * 2 ** 3);
      assert.equal(onTopic(RETRY_TOPIC)[1].attributes[A.pauses], "4");
      assert.equal(pages.requests.length, 0);
    });

    it("a paced host (domain_delay) spends no attempt: held until its next slot", async () => {
      settings = parseSettings({ ...FAST_SETTINGS, perDomainDelayMs: 60_000 });
      buildHandler({ timeoutSeconds: 5, deadlineMarginMs: 3_000 });
      assert.equal((await post(pushBody("m-paced-1", scrapeMessage(url("shop.example", "/good"))))).status, 200);
      const answer = await post(pushBody("m-paced-2", scrapeMessage(url("shop.example", "/other")), 1, { [A.failures]: "1" }));
      assert.deepEqual([answer.status, answer.body.code, answer.body.failures], [202, "domain_delay", 1]);
      assert.ok(Number(answer.body.holdSeconds) > 50 && Number(answer.body.holdSeconds) <= 60, `held ${String(answer.body.holdSeconds)} s`);
    });

    it("no hold is longer than 12 hours, whatever Retry-After says", async () => {
      await pages.close();
      pages = await startLoopbackServer({ "/later": (_request, response) => response.writeHead(429, { "retry-after": String(7 * 24 * 3600) }).end() });
      const answer = await post(pushBody("m-later", scrapeMessage(url("shop.example", "/later"))));
      assert.deepEqual([answer.body.code, answer.body.holdSeconds], ["http_429", MAX_HOLD_SECONDS]);
    });

    it("when Pub/Sub refuses the publish, the message is not acknowledged (503) and comes back as it was, with a log line naming the fix", async () => {
      pubsub.denied = true;
      const answer = await post(pushBody("m-denied", scrapeMessage(url("shop.example", "/down"))));
      assert.equal(answer.status, 503);
      const line = logLines.map((text) => JSON.parse(text) as Record<string, unknown>).find((entry) => entry.event === "redelivery_publish_failed");
      assert.deepEqual([line?.messageId, line?.pubsubDeliveryAttempt], ["m-denied", 1]);
      assert.match(String(line?.fix), /roles\/pubsub\.publisher/);
    });
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

  describe("a message that cannot be read is dead-lettered by the handler; a body that is no push envelope is refused (400)", () => {
    const malformed: ReadonlyArray<readonly [string, string, string]> = [
      ["malformed JSON in data", base64("{url: https://example.com/"), "message_not_json"],
      ["data that is JSON but no scrape message", base64(JSON.stringify({ v: 1, id: "job-7" })), "message_missing_url"],
    ];
    for (const [name, data, code] of malformed) {
      it(`${name} → published to the dead-letter topic with code ${code}, acknowledged (202), nothing stored`, async () => {
        const answer = await post(pushBody("m-bad", data));
        assert.deepEqual([answer.status, answer.body.outcome, answer.body.code, answer.body.handedOnTo], [202, "malformed", code, "deadLetter"]);
        const [deadLetter] = onTopic(DEAD_LETTER_TOPIC);
        assert.deepEqual([deadLetter.data.toString("base64"), deadLetter.attributes[A.code], deadLetter.attributes.source], [data, code, "test"]);
        assert.equal(store.objects.size, 0);
        const metric = JSON.parse(metricLines.at(-1) ?? "{}") as Record<string, unknown>;
        assert.deepEqual([metric.outcome, metric.PagesMalformed], ["malformed", 1]);
      });
    }

    const unreadable: ReadonlyArray<readonly [string, Record<string, unknown> | string]> = [
      ["missing data", pushBody("m-nodata", undefined)],
      ["data that is not base64", pushBody("m-b64", "not base64!!")],
      ["a body that is not a push envelope", { hello: "world" }],
    ];
    for (const [name, body] of unreadable) {
      it(`${name} → 400 push_envelope_invalid, left to Pub/Sub's own dead-letter policy`, async () => {
        const answer = await post(body);
        assert.deepEqual([answer.status, answer.body.outcome, answer.body.code], [400, "malformed", "push_envelope_invalid"]);
        assert.equal(pubsub.published.length, 0);
      });
    }

    it("the refusal is logged with the message id and the reason, so the dead letter can be matched to it", async () => {
      await post(pushBody("m-b64", "%%%"));
      const line = logLines.map((text) => JSON.parse(text) as Record<string, unknown>).find((entry) => entry.event === "push_rejected");
      assert.equal(line?.messageId, "m-b64");
      assert.match(String(line?.reason), /not base64/);
    });
  });

  it("answers before the function's timeout: a page still loading at the deadline comes back as worker_deadline, published again (202)", async () => {
    buildHandler({ timeoutSeconds: 2, deadlineMarginMs: 1_400 });
    const started = Date.now();
    const answer = await post(pushBody("m-slow", scrapeMessage(url("shop.example", "/slow"))));
    const elapsed = Date.now() - started;
    assert.deepEqual([answer.status, answer.body.code], [202, "worker_deadline"]);
    assert.ok(elapsed < 2_000, `answered after ${elapsed} ms; the timeout is 2000 ms`);
    assert.ok(elapsed >= 550, `gave up after ${elapsed} ms, before its 600 ms deadline`);
  });

  it("a result write that never finishes is abandoned a second before the function's timeout (margin − 1 s after the worker's deadline): store_failed, published again", async () => {
    const target = url("shop.example", "/good");
    store = new StallingStore(resultKey(target));
    // Timeout 2 s, margin 1 200 ms: the worker's deadline is at 800 ms, and writes get 200 ms more.
    buildHandler({ timeoutSeconds: 2, deadlineMarginMs: 1_200 });
    const started = Date.now();
    const answer = await post(pushBody("m-stalled", scrapeMessage(target)));
    const elapsed = Date.now() - started;
    assert.deepEqual([answer.status, answer.body.code], [202, "store_failed"]);
    assert.match(String(answer.body.reason), /writeGraceMs/);
    assert.ok(elapsed >= 950 && elapsed < 1_500, `answered after ${elapsed} ms; writes were due to be abandoned at 1000 ms, and the timeout is 2000 ms`);
  });

  it("a push without deliveryAttempt (a subscription without a dead-letter policy) is still worked on, with a warning naming the missing safety net", async () => {
    const answer = await post(pushBody("m-noattempt", scrapeMessage(url("shop.example", "/good")), null));
    assert.equal(answer.status, 200);
    assert.ok(logLines.some((line) => line.includes('"delivery_attempt_missing"') && line.includes("dead-letter policy")));
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
