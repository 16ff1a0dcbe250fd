/**
 * The Azure handler end to end: real `InvocationContext`s from @azure/functions
 * with Service Bus trigger metadata as the host sends it (camel case, single
 * message), the shared worker with its real fetcher, and a page server on
 * 127.0.0.1. A message is completed when `handle` resolves and abandoned when
 * it rejects (the host's auto-completion), so each test checks which.
 *
 * The page server is a loopback address, which the SSRF guard refuses by
 * default, so these workers run with the operator switch
 * `allowPrivateNetworks` on; link-local and cloud metadata addresses stay
 * refused with it on (one test sends 169.254.169.254, which is refused before
 * any connection is opened).
 */
import { InvocationContext, type LogLevel, type TriggerMetadata } from "@azure/functions";
import { strict as assert } from "node:assert";
import { METRICS } from "../../shared/metricNames";
import { resultKey } from "../../shared/result";
import { DEFAULT_SETTINGS, type FleetSettings } from "../../shared/settings";
import { AZURE_APP_SETTINGS, SCRAPE_FUNCTION_NAME, SERVICE_BUS_CONNECTION } from "../../functions/azure/appSettings";
import { DEAD_LETTERED_EVENT } from "../../functions/azure/appSettings";
import { createAzureHandler, createServiceBusHandler, MessageAbandonedError, MessageExhaustedError, MessageMalformedError, scrapeTrigger, type ServiceBusHandler } from "../../functions/azure/index";
import { REDELIVERY_PROPERTIES } from "../../functions/azure/redelivery";
import { PAUSE_HOLD, TRANSIENT_RETRY_BACKOFF } from "../../shared/backoff";
import { FLEET_METRICS_EVENT, OLDEST_MESSAGE_AGE_FIELD, type FleetMetricsLine } from "../../functions/azure/metrics";
import { HandlerConfigError } from "../../functions/handlerConfig";
import { startLoopbackServer, type LoopbackServer } from "../support/loopback/server";
import { MemoryResultStore, StallingStore } from "../support/memoryStore";
import { busyPage, goodPage, slowPage } from "../support/pages";
import { copyDelivery, RecordingScheduler, startAppConfigurationFake } from "../support/azureFakes";
import { createAppConfigurationSettings } from "../../functions/azure/settingsSource";


interface LogEntry {
  readonly level: LogLevel;
  readonly text: string;
}

/** A context as the host builds it for one Service Bus message. */
function serviceBusContext(logs: LogEntry[], metadata: Partial<TriggerMetadata> = {}): InvocationContext {
  const messageId = String(metadata.messageId ?? `msg-${Math.random().toString(16).slice(2)}`);
  return new InvocationContext({
    invocationId: `inv-${messageId}`,
    functionName: SCRAPE_FUNCTION_NAME,
    logHandler: (level, ...args) => logs.push({ level, text: args.map(String).join(" ") }),
    options: { trigger: { type: "serviceBusTrigger", name: "message", queueName: "%WORK_QUEUE_NAME%", connection: SERVICE_BUS_CONNECTION, cardinality: "one" } },
    triggerMetadata: {
      messageId,
      deliveryCount: 1,
      // The host writes .NET DateTimes without a zone designator; they are UTC.
      enqueuedTimeUtc: new Date(Date.now() - 42_000).toISOString().replace("Z", ""),
      lockedUntilUtc: new Date(Date.now() + 60_000).toISOString(),
      sequenceNumber: 7,
      contentType: "application/json",
      applicationProperties: {},
      ...metadata,
    },
  });
}

type LoggedLine = Readonly<Record<string, unknown>> & { readonly level: LogLevel };
const jsonLines = (logs: readonly LogEntry[]): LoggedLine[] => logs.flatMap(({ level, text }) => (text.startsWith("{") ? [{ ...(JSON.parse(text) as Record<string, unknown>), level }] : []));

describe("Azure Functions handler (Service Bus queue trigger)", function () {
  this.timeout(10_000);
  let server: LoopbackServer;
  let store: MemoryResultStore;
  let handler: ServiceBusHandler;
  let scheduler: RecordingScheduler;
  const settings: FleetSettings = { ...DEFAULT_SETTINGS, perDomainDelayMs: 0, connectTimeoutMs: 1_000, headersTimeoutMs: 2_000 };

  before(async () => {
    server = await startLoopbackServer({
      "/good": goodPage,
      // A 503 without Retry-After: abandoned at once.
      "/busy": (_req, res) => res.writeHead(503, { "content-type": "text/plain" }).end("try later"),
      "/polite-busy": busyPage,
      "/slow": slowPage,
    });
  });
  after(async () => {
    await handler?.close();
    await server.close();
  });
  beforeEach(async () => {
    await handler?.close();
    store = new MemoryResultStore();
    scheduler = new RecordingScheduler();
    handler = createServiceBusHandler({
      fleetName: "sf-test",
      functionTimeoutMs: 30_000,
      deadlineMarginMs: 200,
      maxDeliveryAttempts: 5,
      scheduler,
      // The jitter's lower end: each delay is exactly half its ceiling.
      random: () => 0,
      worker: { settings: { get: async () => settings }, results: store, allowPrivateNetworks: true },
    });
  });

  it("registers one single-message trigger on the work queue, with an identity-based connection and auto-completion", () => {
    assert.equal(scrapeTrigger.cardinality, "one");
    assert.equal(scrapeTrigger.autoCompleteMessages, true);
    assert.equal(scrapeTrigger.queueName, `%${AZURE_APP_SETTINGS.queueName}%`);
    assert.equal(scrapeTrigger.connection, SERVICE_BUS_CONNECTION);
    assert.equal(typeof scrapeTrigger.handler, "function");
  });

  it("completes a good page's message and stores its record (message body as the host decodes JSON)", async () => {
    const logs: LogEntry[] = [];
    const url = server.url("/good");
    await handler.handle({ v: 1, url, id: "caller-1" }, serviceBusContext(logs, { messageId: "good-1" }));
    const record = store.record(url);
    assert.equal(record?.status, "ok");
    assert.equal(record?.content?.title, "Good page");
    assert.equal(record?.messageId, "good-1");
    assert.equal(record?.attempt, 1);
  });

  it("completes a permanent failure (404) after storing a failure record", async () => {
    const url = server.url("/gone");
    await handler.handle(JSON.stringify({ url }), serviceBusContext([], { messageId: "gone-1", deliveryCount: 2 }));
    const record = store.record(url);
    assert.equal(record?.status, "failed");
    assert.equal(record?.code, "http_4xx");
    assert.equal(record?.attempt, 2, "the delivery count becomes the record's attempt");
  });

  it("a transient failure (503) schedules a copy for the backoff and completes the original, storing nothing", async () => {
    const url = server.url("/busy");
    const before = Date.now();
    await handler.handle({ url }, serviceBusContext([], { messageId: "busy-1", correlationId: "corr-1", applicationProperties: { producer: "crawler-7" } }));
    assert.equal(store.record(url), undefined);
    assert.equal(scheduler.scheduled.length, 1);
    const [{ message, at }] = scheduler.scheduled;
    const delay = at.getTime() - before;
    // The first delay is 30-60 s (TRANSIENT_RETRY_BACKOFF with the jitter at 0: 30 s), as on AWS.
    assert.ok(delay >= (TRANSIENT_RETRY_BACKOFF.first / 2) * 1000 && delay < (TRANSIENT_RETRY_BACKOFF.first / 2) * 1000 + 5_000, `due in ${delay} ms`);
    assert.equal(message.messageId, "busy-1");
    assert.equal(message.correlationId, "corr-1");
    assert.equal(message.contentType, "application/json");
    assert.deepEqual(JSON.parse(Buffer.from(message.body as Uint8Array).toString("utf8")), { url });
    assert.equal(message.applicationProperties?.producer, "crawler-7", "the producer's own properties are kept");
    assert.equal(message.applicationProperties?.[REDELIVERY_PROPERTIES.deliveries], 1);
    assert.equal(message.applicationProperties?.[REDELIVERY_PROPERTIES.lastCode], "http_5xx");
  });

  it("a text body goes back byte for byte (the SDK would JSON-quote a string)", async () => {
    const text = JSON.stringify({ url: server.url("/busy") });
    await handler.handle(text, serviceBusContext([], { contentType: "text/plain" }));
    const [{ message }] = scheduler.scheduled;
    assert.ok(message.body instanceof Uint8Array);
    assert.equal(Buffer.from(message.body).toString("utf8"), text);
    assert.equal(message.contentType, "text/plain");
  });

  it("a retry with Retry-After is scheduled for that wait, holding no lock", async () => {
    const before = Date.now();
    await handler.handle({ url: server.url("/polite-busy") }, serviceBusContext([]));
    assert.ok(Date.now() - before < 1_000, "answered without waiting");
    const delay = scheduler.scheduled[0].at.getTime() - before;
    assert.ok(delay >= 1_000 && delay < 3_000, `due in ${delay} ms: the page's 1 s Retry-After`);
  });

  it("the paused fleet's hold doubles per delivery (15 min, 30 min, ...), counted across copies", async () => {
    const paused = createServiceBusHandler({
      fleetName: "sf-test",
      functionTimeoutMs: 30_000,
      maxDeliveryAttempts: 5,
      scheduler,
      worker: { settings: { get: async () => ({ ...settings, enabled: false }) }, results: store, allowPrivateNetworks: true },
    });
    try {
      const before = Date.now();
      await paused.handle({ url: server.url("/good") }, serviceBusContext([], { applicationProperties: { [REDELIVERY_PROPERTIES.deliveries]: 1 } }));
      const delay = scheduler.scheduled[0].at.getTime() - before;
      assert.ok(Math.abs(delay - PAUSE_HOLD.firstSeconds * PAUSE_HOLD.factor * 1000) < 5_000, `due in ${delay} ms, the second delivery's 30 min`);
      assert.equal(scheduler.scheduled[0].message.applicationProperties?.[REDELIVERY_PROPERTIES.lastCode], "fleet_paused");
    } finally {
      await paused.close();
    }
  });

  it("never loses a message: when the copy cannot be scheduled, the original is abandoned (back at once), with a log line and the fix", async () => {
    scheduler.failWith = new Error("ServiceBusError: Unauthorized (401)");
    const logs: LogEntry[] = [];
    await assert.rejects(handler.handle({ url: server.url("/busy") }, serviceBusContext(logs, { messageId: "busy-2" })), (error: unknown) => {
      assert.ok(error instanceof MessageAbandonedError);
      assert.equal(error.outcome.code, "http_5xx");
      return true;
    });
    const logged = jsonLines(logs).find((line) => line.event === "redelivery_failed");
    assert.equal(logged?.messageId, "busy-2");
    assert.match(String(logged?.error), /Unauthorized/);
    assert.match(String(logged?.fix), /Azure Service Bus Data Owner/);
  });

  it("fails closed: a worker that never read its settings (the key is missing from App Configuration) fetches nothing and reschedules the message as settings_unavailable on the backoff, counted as a retried page", async () => {
    const appConfig = await startAppConfigurationFake();
    const logs: LogEntry[] = [];
    const blind = createServiceBusHandler({
      fleetName: "sf-test",
      functionTimeoutMs: 30_000,
      maxDeliveryAttempts: 5,
      scheduler,
      random: () => 0,
      worker: { settings: createAppConfigurationSettings({ client: appConfig.client, endpoint: appConfig.endpoint, key: appConfig.key, logger: { log: () => undefined } }), results: new MemoryResultStore(), allowPrivateNetworks: true },
    });
    try {
      const fetchesBefore = server.requests.length;
      const before = Date.now();
      await blind.handle({ url: server.url("/good") }, serviceBusContext(logs, { messageId: "blind-1" }));
      assert.equal(server.requests.length, fetchesBefore, "nothing fetched on built-in defaults");
      const [copy] = scheduler.scheduled;
      assert.equal(copy?.message.applicationProperties?.[REDELIVERY_PROPERTIES.lastCode], "settings_unavailable");
      const delay = copy.at.getTime() - before;
      assert.ok(delay >= 30_000 && delay < 35_000, `due in ${delay} ms: the backoff's first step, not at once`);
      const line = jsonLines(logs).find((entry) => entry.event === FLEET_METRICS_EVENT) as unknown as FleetMetricsLine | undefined;
      assert.equal(line?.[METRICS.pagesRetried], 1);
      assert.equal(line?.codes.settings_unavailable, 1);
    } finally {
      await blind.close();
      await appConfig.close();
    }
  });

  it("a failing site's message is fetched maxDeliveryAttempts times over the backoff, then dead-lettered with its last reason, as Service Bus would", async () => {
    const url = server.url("/busy");
    const logs: LogEntry[] = [];
    const fetchesBefore = server.requests.filter((request) => request.path === "/busy").length;
    let body: unknown = { url };
    let metadata: Partial<TriggerMetadata> = { messageId: "doomed-1" };
    const delays: number[] = [];
    // Five deliveries fetch the page; each schedules a copy.
    for (let delivery = 1; delivery <= 5; delivery += 1) {
      const before = Date.now();
      await handler.handle(body, serviceBusContext(logs, metadata));
      const copy = scheduler.scheduled[delivery - 1];
      assert.ok(copy, `delivery ${delivery} scheduled a copy`);
      assert.equal(copy.message.applicationProperties?.[REDELIVERY_PROPERTIES.deliveries], delivery);
      delays.push(Math.round((copy.at.getTime() - before) / 1000));
      ({ body, metadata } = copyDelivery(copy));
    }
    assert.equal(server.requests.filter((request) => request.path === "/busy").length - fetchesBefore, 5);
    // TRANSIENT_RETRY_BACKOFF's lower end: 30 s, 2 min, 8 min, 32 min, 1 h 4 min.
    assert.deepEqual(delays, [30, 120, 480, 1_920, 3_600]);
    // The sixth arrival is not fetched: abandoned until its own deliveryCount reaches maxDeliveryCount (5).
    for (let deliveryCount = 1; deliveryCount <= 5; deliveryCount += 1) {
      await assert.rejects(handler.handle(body, serviceBusContext(logs, { ...metadata, deliveryCount })), MessageExhaustedError);
    }
    assert.equal(server.requests.filter((request) => request.path === "/busy").length - fetchesBefore, 5, "no fetch after the last delivery");
    assert.equal(scheduler.scheduled.length, 5);
    const deadLettered = jsonLines(logs).filter((line) => line.event === DEAD_LETTERED_EVENT);
    assert.equal(deadLettered.length, 1, "one line, on the delivery Service Bus dead-letters");
    assert.deepEqual([deadLettered[0].messageId, deadLettered[0].deliveries, deadLettered[0].code], ["doomed-1", 5, "http_5xx"]);
    assert.match(String(deadLettered[0].reason), /503/);
  });

  it("completes an SSRF attempt at the metadata address (169.254.169.254) as a refused failure, even with private networks allowed", async () => {
    const url = "http://169.254.169.254/latest/meta-data/";
    await handler.handle({ url }, serviceBusContext([]));
    const record = store.record(url);
    assert.equal(record?.status, "failed");
    assert.equal(record?.code, "ssrf_refused");
  });

  it("abandons a malformed message (dead-lettered after maxDeliveryCount) and logs the real reason with its message id", async () => {
    const logs: LogEntry[] = [];
    await assert.rejects(handler.handle("{not json", serviceBusContext(logs, { messageId: "bad-1", deliveryCount: 5 })), (error: unknown) => {
      assert.ok(error instanceof MessageMalformedError);
      assert.equal(error.outcome.code, "message_not_json");
      return true;
    });
    const logged = jsonLines(logs).find((line) => line.event === "message_malformed");
    assert.equal(logged?.level, "error");
    assert.equal(logged?.messageId, "bad-1");
    assert.equal(logged?.deliveryCount, 5);
    assert.match(String(logged?.reason), /not JSON/);
    assert.equal(store.objects.size, 0);
    const deadLettered = jsonLines(logs).find((line) => line.event === DEAD_LETTERED_EVENT);
    assert.deepEqual([deadLettered?.messageId, deadLettered?.code], ["bad-1", "message_not_json"], "its fifth delivery is the one Service Bus dead-letters");
  });

  it("reschedules a message whose lock ends before its page answers, within the lock", async () => {
    const started = Date.now();
    // Lock 900 ms away, deadline margin 200 ms: the worker gives up at 700 ms.
    const lockedUntilUtc = new Date(started + 900).toISOString();
    await handler.handle({ url: server.url("/slow") }, serviceBusContext([], { lockedUntilUtc }));
    assert.equal(scheduler.scheduled[0]?.message.applicationProperties?.[REDELIVERY_PROPERTIES.lastCode], "worker_deadline");
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 650 && elapsed < 900, `answered after ${elapsed} ms: at the deadline, before the lock ran out`);
  });

  it("a result write that never finishes is abandoned a second before the lock runs out (margin − 1 s after the worker's deadline), and the message is rescheduled", async () => {
    const url = server.url("/good");
    const stalled = createServiceBusHandler({
      fleetName: "sf-test",
      functionTimeoutMs: 30_000,
      deadlineMarginMs: 1_200,
      maxDeliveryAttempts: 5,
      scheduler,
      worker: { settings: { get: async () => settings }, results: new StallingStore(resultKey(url)), allowPrivateNetworks: true },
    });
    try {
      const started = Date.now();
      // Lock 1 800 ms away, margin 1 200 ms: the worker's deadline is at 600 ms, and writes get 200 ms more.
      const lockedUntilUtc = new Date(started + 1_800).toISOString();
      await stalled.handle({ url }, serviceBusContext([], { lockedUntilUtc }));
      const properties = scheduler.scheduled[0]?.message.applicationProperties;
      assert.equal(properties?.[REDELIVERY_PROPERTIES.lastCode], "store_failed");
      assert.match(String(properties?.[REDELIVERY_PROPERTIES.lastReason]), /writeGraceMs/);
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 750 && elapsed < 1_300, `answered after ${elapsed} ms; writes were due to be abandoned at 800 ms, and the lock ends at 1800 ms`);
    } finally {
      await stalled.close();
    }
  });

  it("writes the fleet's metrics as one trace line with the oldest message age when the instance goes idle", async () => {
    const logs: LogEntry[] = [];
    await handler.handle({ url: server.url("/good") }, serviceBusContext(logs));
    const lines = jsonLines(logs).filter((line) => line.event === FLEET_METRICS_EVENT) as unknown as FleetMetricsLine[];
    assert.equal(lines.length, 1);
    const [line] = lines;
    assert.equal(line[METRICS.pagesOk], 1);
    assert.equal(line[METRICS.pagesRetried], 0);
    assert.ok(line[METRICS.bytesFetched] > 0);
    assert.equal(line[METRICS.fetchLatencyMs].count, 1);
    assert.ok(line[OLDEST_MESSAGE_AGE_FIELD] >= 41 && line[OLDEST_MESSAGE_AGE_FIELD] < 60, `age ${line[OLDEST_MESSAGE_AGE_FIELD]} s`);
    assert.equal(line.fleet, "sf-test");
  });

  it("writes the worker's page log lines through the invocation's context", async () => {
    const logs: LogEntry[] = [];
    await handler.handle({ url: server.url("/good") }, serviceBusContext(logs, { messageId: "log-1" }));
    const page = jsonLines(logs).find((line) => line.event === "page");
    assert.equal(page?.messageId, "log-1");
    assert.equal(page?.outcome, "ok");
  });

  it("the deployed wiring refuses to start without its app settings, naming the setting and the fix", () => {
    assert.throws(
      () => createAzureHandler({ [AZURE_APP_SETTINGS.functionTimeoutSeconds]: "120" }),
      (error: unknown) => error instanceof HandlerConfigError && /app setting FLEET_NAME is not set.*redeploy the stack/.test(error.message),
    );
    assert.throws(
      () => createAzureHandler({ [AZURE_APP_SETTINGS.fleetName]: "f", [AZURE_APP_SETTINGS.functionTimeoutSeconds]: "120", [AZURE_APP_SETTINGS.maxDeliveryAttempts]: "five" }),
      (error: unknown) => error instanceof HandlerConfigError && /app setting \w+ must be a whole number of 1 or more \(given "five"\).*redeploy the stack/.test(error.message),
    );
  });
});
