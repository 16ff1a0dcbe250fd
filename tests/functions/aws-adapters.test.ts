/**
 * The AWS adapters against loopback servers: the S3 results store against a
 * real S3-compatible server (s3rver), the SSM settings source and the SQS
 * visibility changes against recorded-request fakes of the SSM and SQS JSON
 * APIs (no SSM or SQS emulator installs from npm), and the EMF metrics lines
 * as CloudWatch would parse them.
 */
import { strict as assert } from "node:assert";
import { gunzipSync, gzipSync } from "node:zlib";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { createServer, type Socket } from "node:net";
import { SDK_REQUEST_HANDLER } from "../../functions/aws";
import { createEmfMetrics } from "../../functions/aws/metrics";
import { createS3ResultStore } from "../../functions/aws/resultStore";
import { createSsmSettings, createSsmSettingsSource } from "../../functions/aws/settingsSource";
import { EXPIRY_MARGIN_SECONDS, MAX_HOLD_SECONDS, holdBudgetSeconds, holdSeconds, visibilitySeconds } from "../../functions/aws/holds";
import { changeVisibility, queueUrlFromArn } from "../../functions/aws/visibility";
import { PAUSE_HOLD, TRANSIENT_RETRY_BACKOFF } from "../../shared/backoff";
import { ScrapeError, type ErrorCode } from "../../shared/errors";
import { createJsonLogger } from "../../shared/logging";
import type { Outcome } from "../../shared/outcome";
import { rawHtmlKey, resultKey } from "../../shared/result";
import { QUEUE_URL, receiptHandleOf, sqsRecord, startSqsFake, startSsmFake, type SqsFake, type SsmFake } from "../support/awsFakes";
import { startLocalS3, type LocalS3 } from "../support/s3rver";

/** A TCP server on loopback that accepts connections and never answers, as a stalled S3 endpoint would. */
async function startSilentServer() {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error(`unexpected server address ${JSON.stringify(address)}`);
  let connections = 0;
  server.on("connection", () => connections++);
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    connections: () => connections,
    stop: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe("AWS S3 results store (against s3rver on loopback)", () => {
  let s3: LocalS3;

  before(async () => {
    s3 = await startLocalS3(["results"]);
  });

  after(async () => {
    await s3.stop();
  });

  async function read(key: string) {
    const object = await s3.client.send(new GetObjectCommand({ Bucket: "results", Key: key }));
    return { contentType: object.ContentType, contentEncoding: object.ContentEncoding, body: Buffer.from(await object.Body!.transformToByteArray()) };
  }

  it("writes a result record as application/json under its key", async () => {
    const store = createS3ResultStore({ client: s3.client, bucket: "results" });
    const key = resultKey("https://shop.example/a");
    const record = { schema: "scrape-fleet/result@1", key, url: "https://shop.example/a", status: "ok" };
    await store.put({ key, body: JSON.stringify(record), contentType: "application/json" });
    const stored = await read(key);
    assert.equal(stored.contentType, "application/json");
    assert.equal(stored.contentEncoding, undefined);
    assert.deepEqual(JSON.parse(stored.body.toString("utf8")), record);
  });

  it("writes raw HTML as gzip bytes with Content-Encoding gzip and the page's content type", async () => {
    const store = createS3ResultStore({ client: s3.client, bucket: "results" });
    const key = rawHtmlKey("https://shop.example/a");
    const page = "<html><title>Grüße</title></html>";
    await store.put({ key, body: gzipSync(page), contentType: "text/html; charset=utf-8", contentEncoding: "gzip" });
    const stored = await read(key);
    assert.equal(stored.contentType, "text/html; charset=utf-8");
    assert.equal(stored.contentEncoding, "gzip");
    assert.equal(gunzipSync(stored.body).toString("utf8"), page);
  });

  it("a write S3 never answers is abandoned when the signal fires, not after the SDK's timeouts and retries (silent server on loopback)", async () => {
    const silent = await startSilentServer();
    // The production request handler: alone, it would give up after 3 attempts of 5 s.
    const client = new S3Client({ endpoint: silent.endpoint, forcePathStyle: true, region: "us-east-1", credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" }, requestHandler: SDK_REQUEST_HANDLER });
    try {
      const store = createS3ResultStore({ client, bucket: "results" });
      const started = Date.now();
      await assert.rejects(
        store.put({ key: "results/x.json", body: "{}", contentType: "application/json" }, { signal: AbortSignal.timeout(300) }),
        (error: unknown) => error instanceof ScrapeError && error.code === "store_failed" && /s3:\/\/results\/results\/x\.json failed: .*abort/i.test(error.message),
      );
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 250 && elapsed < 1_500, `gave up after ${elapsed} ms; the signal fired at 300 ms`);
      assert.equal(silent.connections(), 1, "one attempt reached the server and no retry followed");
    } finally {
      client.destroy();
      await silent.stop();
    }
  });

  it("a failed write names the bucket, the key and S3's reason, as a store_failed error the worker retries", async () => {
    const store = createS3ResultStore({ client: s3.client, bucket: "no-such-bucket" });
    await assert.rejects(
      store.put({ key: "results/x.json", body: "{}", contentType: "application/json" }),
      (error: unknown) => error instanceof ScrapeError && error.code === "store_failed" && /s3:\/\/no-such-bucket\/results\/x\.json failed: .*bucket does not exist/i.test(error.message),
    );
  });
});

describe("AWS SSM settings source (recorded-request fake of the SSM JSON API)", () => {
  const parameterName = "/scrape-fleet/test/settings";
  let ssm: SsmFake;
  let logLines: Record<string, unknown>[];
  let clock: number;

  const logger = () => createJsonLogger({ write: (line) => logLines.push(JSON.parse(line) as Record<string, unknown>) });

  beforeEach(async () => {
    ssm = await startSsmFake();
    logLines = [];
    clock = 1_000_000;
  });

  afterEach(async () => {
    await ssm.stop();
  });

  it("reads the parameter with one GetParameter call naming it", async () => {
    ssm.parameters.set(parameterName, { value: '{"concurrency": 4}' });
    const document = await createSsmSettingsSource({ client: ssm.client, parameterName }).read();
    assert.equal(document, '{"concurrency": 4}');
    assert.equal(ssm.requests.length, 1);
    assert.equal(ssm.requests[0].target, "AmazonSSM.GetParameter");
    assert.equal(ssm.requests[0].headers["content-type"], "application/x-amz-json-1.1");
    assert.deepEqual(ssm.requests[0].body, { Name: parameterName });
  });

  it("a change in the parameter takes effect after settingsTtlMs, not before", async () => {
    ssm.parameters.set(parameterName, { value: JSON.stringify({ concurrency: 4, settingsTtlMs: 5_000 }) });
    const settings = createSsmSettings({ client: ssm.client, parameterName, logger: logger(), now: () => clock });
    assert.equal((await settings.get()).concurrency, 4);

    ssm.parameters.set(parameterName, { value: JSON.stringify({ concurrency: 16, settingsTtlMs: 5_000 }) });
    clock += 4_999;
    assert.equal((await settings.get()).concurrency, 4);
    assert.equal(ssm.requests.length, 1);

    clock += 1;
    assert.equal((await settings.get()).concurrency, 16);
    assert.equal(ssm.requests.length, 2);
  });

  it("a bad document logs an error naming the key and value, and the last good settings stay in force", async () => {
    ssm.parameters.set(parameterName, { value: JSON.stringify({ concurrency: 4, settingsTtlMs: 1_000 }) });
    const settings = createSsmSettings({ client: ssm.client, parameterName, logger: logger(), now: () => clock });
    await settings.get();

    ssm.parameters.set(parameterName, { value: JSON.stringify({ concurrency: 9_999, settingsTtlMs: 1_000 }) });
    clock += 1_000;
    assert.equal((await settings.get()).concurrency, 4);
    const errors = logLines.filter((line) => line.level === "error");
    assert.equal(errors.length, 1);
    assert.equal(errors[0].event, "settings_invalid");
    assert.match(String(errors[0].error), /`concurrency`.*\(given 9999\)/);
    assert.equal(errors[0].source, `ssm:${parameterName}`);
  });

  it("a parameter that is not JSON keeps the last good settings and says so", async () => {
    ssm.parameters.set(parameterName, { value: JSON.stringify({ enabled: false, settingsTtlMs: 1_000 }) });
    const settings = createSsmSettings({ client: ssm.client, parameterName, logger: logger(), now: () => clock });
    assert.equal((await settings.get()).enabled, false);
    ssm.parameters.set(parameterName, { value: "enabled = true" });
    clock += 1_000;
    assert.equal((await settings.get()).enabled, false);
    assert.match(String(logLines.find((line) => line.level === "error")?.error), /not JSON/);
  });

  it("a missing parameter fails closed (settings_unavailable, no defaults) and logs it as unreadable, naming the parameter", async () => {
    const settings = createSsmSettings({ client: ssm.client, parameterName, logger: logger(), now: () => clock });
    await assert.rejects(settings.get(), (error) => error instanceof ScrapeError && error.code === "settings_unavailable");
    const [error] = logLines.filter((line) => line.level === "error");
    assert.equal(error.event, "settings_unreadable");
    assert.match(String(error.error), /ParameterNotFound/);
    assert.equal(error.source, `ssm:${parameterName}`);
  });
});

describe("AWS visibility policy: when a returned message comes back", () => {
  const retry = (code: ErrorCode, retryAfterMs?: number): Outcome => ({ kind: "retry", code, reason: "test", ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });
  const middle = () => 0.5;

  it("a Retry-After is honoured to the second, rounded up, whatever the receive count", () => {
    assert.equal(visibilitySeconds(retry("http_429", 7_000), 1, middle), 7);
    assert.equal(visibilitySeconds(retry("http_5xx", 6_001), 4, middle), 7);
    assert.equal(visibilitySeconds(retry("http_429", 0), 2, middle), 0);
  });

  it("a Retry-After beyond SQS's 12 h limit is cut to what is always left of it after the batching window and the function's run", () => {
    assert.equal(MAX_HOLD_SECONDS, 43_200 - 300 - 900);
    assert.equal(visibilitySeconds(retry("http_429", 48 * 3_600_000), 1, middle), MAX_HOLD_SECONDS);
  });

  it("the kill switch holds 15 min after the first receive and doubles per receive, up to the limit", () => {
    assert.deepEqual([1, 2, 3, 4, 5].map((attempt) => visibilitySeconds(retry("fleet_paused"), attempt, middle)), [900, 1_800, 3_600, 7_200, 14_400]);
    assert.equal(visibilitySeconds(retry("fleet_paused"), 40, middle), MAX_HOLD_SECONDS);
  });

  it("with the default 5 deliveries, a message first received in a pause outlasts more than 7 h of it", () => {
    const held = [1, 2, 3, 4, 5].reduce((sum, attempt) => sum + (visibilitySeconds(retry("fleet_paused"), attempt, middle) ?? 0), 0);
    assert.equal(held, 7 * 3_600 + 45 * 60);
    assert.equal(PAUSE_HOLD.firstSeconds, 15 * 60);
  });

  it("other retries back off ×4 per receive from 30–60 s, with jitter, never past 2 h", () => {
    for (const code of ["http_5xx", "connect_timeout", "worker_deadline", "domain_delay", "store_failed", "settings_unavailable"] as const) {
      assert.deepEqual([0, 0.5, 0.999_999].map((jitter) => visibilitySeconds(retry(code), 1, () => jitter)), [30, 45, 60], code);
    }
    assert.deepEqual([2, 3, 4].map((attempt) => visibilitySeconds(retry("http_5xx"), attempt, () => 0)), [120, 480, 1_920]);
    assert.equal(visibilitySeconds(retry("http_5xx"), 30, () => 0.999_999), TRANSIENT_RETRY_BACKOFF.max);
  });

  it("with the default 5 deliveries, a failing site has at least 1 h 40 min to recover before its messages are dead-lettered", () => {
    const shortest = [1, 2, 3, 4, 5].reduce((sum, attempt) => sum + (visibilitySeconds(retry("http_5xx"), attempt, () => 0) ?? 0), 0);
    assert.ok(shortest >= 100 * 60, `${shortest} s`);
  });

  it("ok, failed and malformed outcomes keep the queue's visibility timeout", () => {
    assert.equal(visibilitySeconds({ kind: "ok", key: "results/a.json" }, 1, middle), undefined);
    assert.equal(visibilitySeconds({ kind: "failed", code: "http_4xx", key: "results/a.json", reason: "404" }, 1, middle), undefined);
    assert.equal(visibilitySeconds({ kind: "malformed", code: "message_not_json", reason: "not JSON" }, 1, middle), undefined);
  });

  describe("holds end before the message expires", () => {
    const limits = { retentionSeconds: 4 * 86_400, maxReceiveCount: 5, visibilityTimeoutSeconds: 720 };
    const hour = 3_600_000;

    it("a young message keeps its full hold", () => {
      assert.equal(holdSeconds(retry("http_429", 11 * hour), 1, middle, { limits, sentAtMs: 0, nowMs: hour }), 11 * 3_600);
    });

    it("an old one is held only as long as its later receives and the dead-letter move still fit", () => {
      const nowMs = 90 * hour; // 6 h left
      const budget = 6 * 3_600 - (5 - 2) * 720 - EXPIRY_MARGIN_SECONDS;
      assert.equal(holdBudgetSeconds(limits, 0, 2, nowMs), budget);
      assert.equal(holdSeconds(retry("fleet_paused"), 2, middle, { limits, sentAtMs: 0, nowMs }), Math.min(1_800, budget));
      assert.equal(holdSeconds(retry("http_429", 11 * hour), 2, middle, { limits, sentAtMs: 0, nowMs }), budget);
    });

    it("with no time to spare the message comes back at once, never with a negative hold", () => {
      assert.equal(holdSeconds(retry("http_5xx"), 1, middle, { limits, sentAtMs: 0, nowMs: 96 * hour }), 0);
    });

    it("a cut hold keeps the rest of the message's life inside the retention, receive after receive, even when every receive asks for the longest hold", () => {
      let nowMs = 60 * hour;
      for (let attempt = 1; attempt <= limits.maxReceiveCount; attempt += 1) {
        nowMs += (holdSeconds(retry("http_429", 48 * hour), attempt, middle, { limits, sentAtMs: 0, nowMs }) ?? 0) * 1_000;
      }
      assert.ok(nowMs <= limits.retentionSeconds * 1_000 - EXPIRY_MARGIN_SECONDS * 1_000, `${nowMs / hour} h`);
    });

    it("without the queue's limits or the record's SentTimestamp, holds are not cut", () => {
      assert.equal(holdSeconds(retry("http_429", 11 * hour), 2, middle, { sentAtMs: 0, nowMs: 95 * hour }), 11 * 3_600);
      assert.equal(holdSeconds(retry("http_429", 11 * hour), 2, middle, { limits, nowMs: 95 * hour }), 11 * 3_600);
    });
  });

  it("the queue URL comes from the record's ARN, in each partition's SQS domain", () => {
    assert.equal(queueUrlFromArn("arn:aws:sqs:us-east-1:123456789012:scrape-fleet-test-work"), QUEUE_URL);
    assert.equal(queueUrlFromArn("arn:aws-us-gov:sqs:us-gov-west-1:123456789012:work"), "https://sqs.us-gov-west-1.amazonaws.com/123456789012/work");
    assert.equal(queueUrlFromArn("arn:aws-cn:sqs:cn-north-1:123456789012:work"), "https://sqs.cn-north-1.amazonaws.com.cn/123456789012/work");
    assert.equal(queueUrlFromArn("arn:aws:sqs:eu-west-1:123456789012:orders.fifo"), "https://sqs.eu-west-1.amazonaws.com/123456789012/orders.fifo");
  });

  it("an ARN that is not an SQS queue's, or in a partition with no known SQS domain, gives no queue URL", () => {
    for (const arn of ["arn:aws:sns:us-east-1:123456789012:topic", "arn:aws:sqs:us-east-1:12345:work", "arn:aws:sqs:us-east-1:123456789012:bad/name", "arn:aws-iso:sqs:us-iso-east-1:123456789012:work", ""]) {
      assert.equal(queueUrlFromArn(arn), undefined, arn);
    }
  });
});

describe("AWS SQS visibility changes (recorded-request fake of the SQS JSON API)", () => {
  let sqs: SqsFake;
  let logLines: Record<string, unknown>[];
  const logger = () => createJsonLogger({ write: (line) => logLines.push(JSON.parse(line) as Record<string, unknown>) });
  const change = (messageId: string, seconds: number, eventSourceARN?: string) => {
    const record = sqsRecord({ messageId, body: "{}" });
    return { record: eventSourceARN === undefined ? record : { ...record, eventSourceARN }, seconds };
  };

  beforeEach(async () => {
    sqs = await startSqsFake();
    logLines = [];
  });

  afterEach(async () => {
    await sqs.stop();
  });

  it("sends one ChangeMessageVisibilityBatch per 10 messages, each entry with its receipt handle and visibility", async () => {
    const changes = Array.from({ length: 23 }, (_, i) => change(`m${i}`, 100 + i));
    const result = await changeVisibility(changes, { client: sqs.client, logger: logger(), signal: AbortSignal.timeout(5_000) });
    assert.deepEqual(result, { changed: 23, unchanged: 0 });
    assert.deepEqual(sqs.requests.map((request) => request.body.Entries?.length).sort(), [10, 10, 3]);
    for (const request of sqs.requests) {
      assert.equal(request.target, "AmazonSQS.ChangeMessageVisibilityBatch");
      assert.equal(request.headers["content-type"], "application/x-amz-json-1.0");
      assert.equal(request.body.QueueUrl, QUEUE_URL);
      const ids = (request.body.Entries ?? []).map((entry) => entry.Id);
      assert.equal(new Set(ids).size, ids.length, "entry ids are distinct within a request");
    }
    for (let i = 0; i < 23; i++) assert.equal(sqs.visibilityOf(receiptHandleOf(`m${i}`)), 100 + i);
  });

  it("a message id repeated in a batch (an at-least-once duplicate) still gets distinct entry ids", async () => {
    const result = await changeVisibility([change("same", 30), change("same", 30)], { client: sqs.client, logger: logger(), signal: AbortSignal.timeout(5_000) });
    assert.deepEqual(result, { changed: 2, unchanged: 0 });
  });

  it("an entry SQS refuses is logged with its message id and SQS's code, and counted unchanged", async () => {
    sqs.refusedEntries.set(receiptHandleOf("old"), "ReceiptHandleIsInvalid");
    const result = await changeVisibility([change("old", 60), change("new", 60)], { client: sqs.client, logger: logger(), signal: AbortSignal.timeout(5_000) });
    assert.deepEqual(result, { changed: 1, unchanged: 1 });
    const [refused] = logLines.filter((line) => line.event === "visibility_change_refused");
    assert.deepEqual([refused.messageId, refused.code, refused.queueUrl], ["old", "ReceiptHandleIsInvalid", QUEUE_URL]);
  });

  it("a record whose ARN names no known queue is left on the queue's timeout with a warning, and its siblings are still changed", async () => {
    const result = await changeVisibility([change("iso", 60, "arn:aws-iso:sqs:us-iso-east-1:123456789012:work"), change("std", 60)], { client: sqs.client, logger: logger(), signal: AbortSignal.timeout(5_000) });
    assert.deepEqual(result, { changed: 1, unchanged: 1 });
    assert.deepEqual(logLines.filter((line) => line.event === "visibility_queue_unknown").map((line) => line.messageId), ["iso"]);
    assert.deepEqual(sqs.requests.flatMap((request) => (request.body.Entries ?? []).map((entry) => entry.ReceiptHandle)), [receiptHandleOf("std")]);
  });

  it("a call SQS fails with a 500 is logged with its message ids, and nothing throws", async () => {
    sqs.mode = "error";
    const result = await changeVisibility([change("a", 60), change("b", 60)], { client: sqs.client, logger: logger(), signal: AbortSignal.timeout(5_000) });
    assert.deepEqual(result, { changed: 0, unchanged: 2 });
    const [failed] = logLines.filter((line) => line.event === "visibility_change_failed");
    assert.deepEqual(failed.messageIds, ["a", "b"]);
    assert.equal(failed.level, "warn");
  });

  it("a call SQS never answers is abandoned when the signal fires, not after the SDK's own timeouts", async () => {
    sqs.mode = "hang";
    const started = Date.now();
    const result = await changeVisibility([change("a", 60)], { client: sqs.client, logger: logger(), signal: AbortSignal.timeout(200) });
    const elapsed = Date.now() - started;
    assert.deepEqual(result, { changed: 0, unchanged: 1 });
    assert.ok(elapsed < 1_000, `gave up after ${elapsed} ms`);
    assert.match(String(logLines.find((line) => line.event === "visibility_change_failed")?.error), /before the handler's deadline/);
  });
});

describe("AWS EMF metrics lines", () => {
  const lines = () => {
    const written: string[] = [];
    const metrics = createEmfMetrics({ fleetName: "prod-fleet", write: (line) => written.push(line), now: () => 1_700_000_000_000 });
    return { written, metrics };
  };

  it("messages returned on their last delivery are counted as MessagesDeadLettered, on a line of their own when the batch recorded no page", () => {
    const { written, metrics } = lines();
    metrics.recordDeadLetters(2);
    metrics.flush();
    metrics.flush();
    assert.equal(written.length, 1, "an empty batch writes nothing");
    assert.equal((JSON.parse(written[0]) as Record<string, unknown>).MessagesDeadLettered, 2);
  });

  it("one batch gives one line that CloudWatch reads as metrics in namespace ScrapeFleet with the Fleet dimension", () => {
    const { written, metrics } = lines();
    metrics.recordPage({ outcome: "ok", bytesOnWire: 1_000, fetchMs: 120 });
    metrics.recordPage({ outcome: "ok", bytesOnWire: 2_500, fetchMs: 80 });
    metrics.recordPage({ outcome: "failed", code: "http_4xx", bytesOnWire: 0, fetchMs: 30 });
    metrics.recordPage({ outcome: "retry", code: "http_5xx", bytesOnWire: 0, fetchMs: 40 });
    metrics.recordPage({ outcome: "malformed", code: "message_not_json", bytesOnWire: 0, fetchMs: 0 });
    metrics.flush();

    assert.equal(written.length, 1);
    assert.ok(written[0].endsWith("\n") && !written[0].slice(0, -1).includes("\n"), "one line");
    const document = JSON.parse(written[0]) as Record<string, unknown> & { _aws: { Timestamp: number; CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] } };
    assert.equal(document._aws.Timestamp, 1_700_000_000_000);
    assert.equal(document._aws.CloudWatchMetrics.length, 1);
    const [directive] = document._aws.CloudWatchMetrics;
    assert.equal(directive.Namespace, "ScrapeFleet");
    assert.deepEqual(directive.Dimensions, [["Fleet"]]);
    assert.deepEqual(
      Object.fromEntries(directive.Metrics.map((metric) => [metric.Name, metric.Unit])),
      { PagesOk: "Count", PagesFailed: "Count", PagesRetried: "Count", PagesMalformed: "Count", MessagesDeadLettered: "Count", BytesFetched: "Bytes", FetchLatencyMs: "Milliseconds" },
    );
    // Every metric and dimension the directive names is a member of the root, as the spec requires.
    for (const name of [...directive.Metrics.map((metric) => metric.Name), ...directive.Dimensions.flat()]) assert.ok(name in document, `${name} at the root`);
    assert.equal(document.Fleet, "prod-fleet");
    assert.deepEqual([document.PagesOk, document.PagesFailed, document.PagesRetried, document.PagesMalformed, document.BytesFetched], [2, 1, 1, 1, 3_500]);
    assert.deepEqual(document.FetchLatencyMs, [120, 80, 30, 40]);
    assert.deepEqual(document.codes, { http_4xx: 1, http_5xx: 1, message_not_json: 1 });
  });

  it("each flush starts a new batch, and a batch with no pages writes nothing", () => {
    const { written, metrics } = lines();
    metrics.recordPage({ outcome: "ok", bytesOnWire: 10, fetchMs: 5 });
    metrics.flush();
    metrics.flush();
    metrics.recordPage({ outcome: "failed", code: "http_4xx", bytesOnWire: 0, fetchMs: 5 });
    metrics.flush();
    assert.equal(written.length, 2);
    const second = JSON.parse(written[1]) as Record<string, unknown>;
    assert.deepEqual([second.PagesOk, second.PagesFailed], [0, 1]);
  });

  it("a batch without fetches leaves out the latency metric rather than naming a metric with no value", () => {
    const { written, metrics } = lines();
    metrics.recordPage({ outcome: "malformed", code: "message_missing_url", bytesOnWire: 0, fetchMs: 0 });
    metrics.flush();
    const document = JSON.parse(written[0]) as { _aws: { CloudWatchMetrics: { Metrics: { Name: string }[] }[] } } & Record<string, unknown>;
    assert.ok(!document._aws.CloudWatchMetrics[0].Metrics.some((metric) => metric.Name === "FetchLatencyMs"));
    assert.ok(!("FetchLatencyMs" in document));
  });

  it("keeps at most 100 latency values per line, as the spec allows, and sends the rest on latency-only lines", () => {
    const { written, metrics } = lines();
    for (let i = 1; i <= 250; i++) metrics.recordPage({ outcome: "ok", bytesOnWire: 1, fetchMs: i });
    metrics.flush();
    const documents = written.map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.deepEqual(documents.map((document) => (document.FetchLatencyMs as number[]).length), [100, 100, 50]);
    assert.equal(documents[0].PagesOk, 250);
    assert.ok(documents.slice(1).every((document) => !("PagesOk" in document) && document.Fleet === "prod-fleet"));
    assert.deepEqual(documents.flatMap((document) => document.FetchLatencyMs as number[]), Array.from({ length: 250 }, (_, i) => i + 1));
  });
});
