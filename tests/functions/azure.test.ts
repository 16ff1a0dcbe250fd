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
import { createAzureHandler, createServiceBusHandler, MessageAbandonedError, MessageMalformedError, scrapeTrigger, type ServiceBusHandler } from "../../functions/azure/index";
import { FLEET_METRICS_EVENT, OLDEST_MESSAGE_AGE_FIELD, type FleetMetricsLine } from "../../functions/azure/metrics";
import { HandlerConfigError } from "../../functions/handlerConfig";
import { startLoopbackServer, type LoopbackServer } from "../support/loopback/server";
import { MemoryResultStore, StallingStore } from "../support/memoryStore";
import { busyPage, goodPage, slowPage } from "../support/pages";


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
    handler = createServiceBusHandler({
      fleetName: "sf-test",
      functionTimeoutMs: 30_000,
      deadlineMarginMs: 200,
      maxRetryHoldMs: 250,
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

  it("abandons a transient failure (503) so Service Bus redelivers it, storing nothing", async () => {
    const url = server.url("/busy");
    await assert.rejects(handler.handle(JSON.stringify({ url }), serviceBusContext([], { messageId: "busy-1" })), (error: unknown) => {
      assert.ok(error instanceof MessageAbandonedError);
      assert.equal(error.outcome.code, "http_5xx");
      return true;
    });
    assert.equal(store.record(url), undefined);
  });

  it("holds a retry that carries Retry-After for at most maxRetryHoldMs before abandoning it", async () => {
    const started = Date.now();
    await assert.rejects(handler.handle({ url: server.url("/polite-busy") }, serviceBusContext([])), MessageAbandonedError);
    const held = Date.now() - started;
    assert.ok(held >= 240 && held < 1_000, `held ${held} ms; expected the 250 ms cap, not the 1 s Retry-After`);
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
  });

  it("abandons a message whose lock ends before its page answers, within the lock", async () => {
    const started = Date.now();
    // Lock 900 ms away, deadline margin 200 ms: the worker gives up at 700 ms.
    const lockedUntilUtc = new Date(started + 900).toISOString();
    await assert.rejects(handler.handle({ url: server.url("/slow") }, serviceBusContext([], { lockedUntilUtc })), (error: unknown) => {
      assert.ok(error instanceof MessageAbandonedError);
      assert.equal(error.outcome.code, "worker_deadline");
      return true;
    });
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 650 && elapsed < 900, `answered after ${elapsed} ms: at the deadline, before the lock ran out`);
  });

  it("a result write that never finishes is abandoned a second before the lock runs out (margin − 1 s after the worker's deadline), and the message is abandoned for redelivery", async () => {
    const url = server.url("/good");
    const stalled = createServiceBusHandler({
      fleetName: "sf-test",
      functionTimeoutMs: 30_000,
      deadlineMarginMs: 1_200,
      worker: { settings: { get: async () => settings }, results: new StallingStore(resultKey(url)), allowPrivateNetworks: true },
    });
    try {
      const started = Date.now();
      // Lock 1 800 ms away, margin 1 200 ms: the worker's deadline is at 600 ms, and writes get 200 ms more.
      const lockedUntilUtc = new Date(started + 1_800).toISOString();
      await assert.rejects(stalled.handle({ url }, serviceBusContext([], { lockedUntilUtc })), (error: unknown) => {
        assert.ok(error instanceof MessageAbandonedError);
        assert.equal(error.outcome.code, "store_failed");
        assert.match(error.outcome.reason, /writeGraceMs/);
        return true;
      });
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
  });
});
