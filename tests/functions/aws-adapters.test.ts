/**
 * The AWS adapters against loopback servers: the S3 results store against a
 * real S3-compatible server (s3rver), the SSM settings source against a
 * recorded-request fake of the SSM JSON API (no SSM emulator installs from
 * npm), and the EMF metrics lines as CloudWatch would parse them.
 */
import { strict as assert } from "node:assert";
import { gunzipSync, gzipSync } from "node:zlib";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { createEmfMetrics } from "../../functions/aws/metrics";
import { createS3ResultStore } from "../../functions/aws/resultStore";
import { createSsmSettings, createSsmSettingsSource } from "../../functions/aws/settingsSource";
import { ScrapeError } from "../../shared/errors";
import { createJsonLogger } from "../../shared/logging";
import { rawHtmlKey, resultKey } from "../../shared/result";
import { DEFAULT_SETTINGS } from "../../shared/settings";
import { startSsmFake, type SsmFake } from "../support/awsFakes";
import { startLocalS3, type LocalS3 } from "../support/s3rver";

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

  it("a missing parameter keeps the defaults and logs it as unreadable, naming the parameter", async () => {
    const settings = createSsmSettings({ client: ssm.client, parameterName, logger: logger(), now: () => clock });
    assert.deepEqual(await settings.get(), DEFAULT_SETTINGS);
    const [error] = logLines.filter((line) => line.level === "error");
    assert.equal(error.event, "settings_unreadable");
    assert.match(String(error.error), /ParameterNotFound/);
    assert.equal(error.source, `ssm:${parameterName}`);
  });
});

describe("AWS EMF metrics lines", () => {
  const lines = () => {
    const written: string[] = [];
    const metrics = createEmfMetrics({ fleetName: "prod-fleet", write: (line) => written.push(line), now: () => 1_700_000_000_000 });
    return { written, metrics };
  };

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
      { PagesOk: "Count", PagesFailed: "Count", PagesRetried: "Count", PagesMalformed: "Count", BytesFetched: "Bytes", FetchLatencyMs: "Milliseconds" },
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
