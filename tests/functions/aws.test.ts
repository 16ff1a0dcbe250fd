/**
 * The Lambda handler end to end: real SQS event shapes in, the real handler
 * code and shared worker (real fetcher, extractor), `SQSBatchResponse` out,
 * against a page server on 127.0.0.1.
 *
 * The workers here run with `allowPrivateNetworks: true` because the page
 * server is on loopback, which the SSRF guard refuses by default. The switch
 * never opens link-local or cloud-metadata addresses, so the SSRF cases below
 * must still be refused, and nothing is dialled for them. (A private address
 * such as 10.0.0.1 would be opened by the switch, so it is not used: it would
 * send a packet off this machine.) Host names `*.example` map to 127.0.0.1
 * through an injected resolver; no outside name is resolved.
 */
import { strict as assert } from "node:assert";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import type { SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { LambdaConfigError, createLambdaHandler, createSqsHandler, type SqsHandler, type SqsHandlerDeps } from "../../functions/aws";
import { createEmfMetrics } from "../../functions/aws/metrics";
import { createSsmSettings } from "../../functions/aws/settingsSource";
import { createJsonLogger } from "../../shared/logging";
import { resultKey, type ResultRecord } from "../../shared/result";
import { parseSettings, type FleetSettings } from "../../shared/settings";
import { lambdaContext, sqsEvent, sqsRecord, startSsmFake, type SsmFake } from "../support/awsFakes";
import { startLoopbackServer, type LoopbackServer } from "../support/loopback/server";
import { MemoryResultStore } from "../support/memoryStore";
import { commonPages, exampleLookup } from "../support/pages";
import { startLocalS3 } from "../support/s3rver";

/** `*.example` → 127.0.0.1, except `imds.example` → the EC2 metadata service's IPv6 address (refused even with the private-network switch). */
const stubLookup = exampleLookup({ "imds.example": { address: "fd00:ec2::254", family: 6 } });

const FAST_SETTINGS = { perDomainDelayMs: 0, respectRobots: false, connectTimeoutMs: 1_000, headersTimeoutMs: 5_000, bodyIdleTimeoutMs: 5_000, pageDeadlineMs: 5_000 };

const failedIds = (response: SQSBatchResponse) => response.batchItemFailures.map((failure) => failure.itemIdentifier);

describe("AWS Lambda handler (SQS)", () => {
  let pages: LoopbackServer;
  let store: MemoryResultStore;
  let settings: FleetSettings;
  let emfLines: string[];
  let logLines: string[];
  let handler: SqsHandler | undefined;
  const url = (host: string, path: string) => `http://${host}:${pages.port}${path}`;
  const requestedPaths = () => pages.requests.map((request) => request.path);
  const message = (target: string) => JSON.stringify({ v: 1, url: target });

  function buildHandler(overrides: Partial<SqsHandlerDeps> = {}): SqsHandler {
    handler = createSqsHandler({
      worker: { settings: { get: async () => settings }, results: store, allowPrivateNetworks: true, lookup: stubLookup },
      logger: createJsonLogger({ write: (line) => logLines.push(line) }),
      metrics: createEmfMetrics({ fleetName: "test-fleet", write: (line) => emfLines.push(line) }),
      ...overrides,
    });
    return handler;
  }

  beforeEach(async () => {
    pages = await startLoopbackServer(commonPages());
    store = new MemoryResultStore();
    settings = parseSettings(FAST_SETTINGS);
    emfLines = [];
    logLines = [];
  });

  afterEach(async () => {
    await handler?.close();
    handler = undefined;
    await pages.close();
  });

  describe("a mixed batch", () => {
    let records: SQSRecord[];
    let response: SQSBatchResponse;

    beforeEach(async () => {
      records = [
        sqsRecord({ messageId: "good", body: message(url("shop.example", "/good")) }),
        sqsRecord({ messageId: "busy", body: message(url("shop.example", "/busy")) }),
        sqsRecord({ messageId: "gone", body: message(url("news.example", "/gone")), receiveCount: 3 }),
        sqsRecord({ messageId: "metadata", body: message("http://169.254.169.254/latest/meta-data/iam/security-credentials/") }),
        sqsRecord({ messageId: "imds-by-name", body: message("http://imds.example/latest/meta-data/") }),
        sqsRecord({ messageId: "not-json", body: "{url: https://example.com/" }),
        sqsRecord({ messageId: "no-url", body: JSON.stringify({ v: 1, id: "job-7" }) }),
      ];
      response = await buildHandler().handle(sqsEvent(records), lambdaContext(30_000));
    });

    it("returns exactly the transient failure and the malformed records in batchItemFailures", () => {
      assert.deepEqual(failedIds(response), ["busy", "not-json", "no-url"]);
    });

    it("stores an ok record for the good page and failed records for the 404 and the SSRF attempts, and nothing else", () => {
      assert.deepEqual(
        [...store.objects.keys()].sort(),
        [url("shop.example", "/good"), url("news.example", "/gone"), "http://169.254.169.254/latest/meta-data/iam/security-credentials/", "http://imds.example/latest/meta-data/"].map(resultKey).sort(),
      );
      const good = store.record(url("shop.example", "/good"));
      assert.equal(good?.status, "ok");
      assert.equal(good?.content?.title, "Good page");
      assert.equal(good?.messageId, "good");
      const gone = store.record(url("news.example", "/gone"));
      assert.deepEqual([gone?.status, gone?.code, gone?.httpStatus], ["failed", "http_4xx", 404]);
      assert.equal(store.record("http://169.254.169.254/latest/meta-data/iam/security-credentials/")?.code, "ssrf_refused");
      assert.equal(store.record("http://imds.example/latest/meta-data/")?.code, "ssrf_refused");
      assert.equal(store.record(url("shop.example", "/busy")), undefined);
    });

    it("takes the attempt number from ApproximateReceiveCount", () => {
      assert.equal(store.record(url("news.example", "/gone"))?.attempt, 3);
      assert.equal(store.record(url("shop.example", "/good"))?.attempt, 1);
    });

    it("requests only the loopback pages: the SSRF targets are refused before any connection", () => {
      assert.deepEqual(requestedPaths().sort(), ["/busy", "/gone", "/good"]);
    });

    it("writes one EMF line for the whole batch with the outcome counts", () => {
      assert.equal(emfLines.length, 1);
      const line = JSON.parse(emfLines[0]) as Record<string, unknown>;
      assert.deepEqual(
        [line.PagesOk, line.PagesFailed, line.PagesRetried, line.PagesMalformed],
        [1, 3, 1, 2],
      );
      assert.equal(line.Fleet, "test-fleet");
    });
  });

  it("answers before the Lambda deadline: unfinished messages come back as failures", async () => {
    settings = parseSettings({ ...FAST_SETTINGS, concurrency: 1 });
    const records = [
      sqsRecord({ messageId: "quick", body: message(url("shop.example", "/good")) }),
      sqsRecord({ messageId: "slow", body: message(url("news.example", "/slow")) }),
      sqsRecord({ messageId: "queued", body: message(url("shop.example", "/other")) }),
    ];
    const started = Date.now();
    const remainingMs = 1_200;
    const response = await buildHandler({ deadlineMarginMs: 400 }).handle(sqsEvent(records), lambdaContext(remainingMs));
    const elapsed = Date.now() - started;
    assert.ok(elapsed < remainingMs, `answered after ${elapsed} ms of ${remainingMs} ms`);
    assert.ok(elapsed >= remainingMs - 400 - 50, `gave up after ${elapsed} ms, before its deadline`);
    assert.deepEqual(failedIds(response), ["slow", "queued"]);
    assert.deepEqual([...store.objects.keys()], [resultKey(url("shop.example", "/good"))]);
  });

  it("with the kill switch off in SSM, every message comes back and no page is fetched", async () => {
    const ssm: SsmFake = await startSsmFake();
    try {
      ssm.parameters.set("/scrape-fleet/test/settings", { value: JSON.stringify({ ...FAST_SETTINGS, enabled: false }) });
      const logger = createJsonLogger({ write: (line) => logLines.push(line) });
      const records = [sqsRecord({ messageId: "a", body: message(url("shop.example", "/good")) }), sqsRecord({ messageId: "b", body: message(url("news.example", "/other")) })];
      const response = await buildHandler({
        worker: { settings: createSsmSettings({ client: ssm.client, parameterName: "/scrape-fleet/test/settings", logger }), results: store, allowPrivateNetworks: true, lookup: stubLookup },
      }).handle(sqsEvent(records), lambdaContext(30_000));
      assert.deepEqual(failedIds(response), ["a", "b"]);
      assert.deepEqual(requestedPaths(), []);
      assert.equal(store.objects.size, 0);
      assert.equal(ssm.requests.length, 1);
    } finally {
      await ssm.stop();
    }
  });

  it("a results store outage sends every fetched message back, and the handler still answers", async () => {
    store.failing = true;
    const records = [sqsRecord({ messageId: "a", body: message(url("shop.example", "/good")) }), sqsRecord({ messageId: "b", body: message(url("news.example", "/gone")) })];
    const response = await buildHandler().handle(sqsEvent(records), lambdaContext(30_000));
    assert.deepEqual(failedIds(response), ["a", "b"]);
  });

  it("a receive count that is not a number is read as a first delivery, with a warning", async () => {
    const record = sqsRecord({ messageId: "odd", body: message(url("shop.example", "/good")) });
    const response = await buildHandler().handle(sqsEvent([{ ...record, attributes: { ...record.attributes, ApproximateReceiveCount: "many" } }]), lambdaContext(30_000));
    assert.deepEqual(failedIds(response), []);
    assert.equal(store.record(url("shop.example", "/good"))?.attempt, 1);
    assert.ok(logLines.some((line) => line.includes('"receive_count_invalid"') && line.includes('"many"')));
  });

  it("an invocation that is not an SQS event returns no failures and logs an error saying how to invoke it", async () => {
    const response = await buildHandler().handle(JSON.parse('{"key": "value"}') as SQSEvent, lambdaContext(30_000));
    assert.deepEqual(response, { batchItemFailures: [] });
    assert.ok(logLines.some((line) => line.includes('"event_not_sqs"')));
  });

  it("rejects a deadline margin out of range, naming the option and the value", () => {
    assert.throws(() => buildHandler({ deadlineMarginMs: -5 }), (error: unknown) => error instanceof LambdaConfigError && /`deadlineMarginMs`.*\(given -5\)/.test(error.message));
  });

  it("the deployed wiring keeps the SSRF guard on: loopback URLs are refused and recorded in S3 (s3rver), settings read from SSM (recorded-request fake)", async () => {
    const [s3, ssm] = await Promise.all([startLocalS3(["results"]), startSsmFake()]);
    ssm.parameters.set("/fleet/settings", { value: JSON.stringify(FAST_SETTINGS) });
    // The SDK takes its endpoints, Region and credentials from the environment, as on Lambda.
    const sdkEnv: Record<string, string> = {
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_ENDPOINT_URL_SSM: `http://127.0.0.1:${ssm.port}`,
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "S3RVER",
      AWS_SECRET_ACCESS_KEY: "S3RVER",
      AWS_EC2_METADATA_DISABLED: "true",
    };
    const saved = Object.fromEntries(Object.keys(sdkEnv).map((name) => [name, process.env[name]]));
    Object.assign(process.env, sdkEnv);
    const stdout: string[] = [];
    const write = process.stdout.write;
    try {
      handler = createLambdaHandler({ RESULTS_BUCKET: "results", SETTINGS_PARAMETER: "/fleet/settings", FLEET_NAME: "prod-fleet" });
      const targets = [`http://127.0.0.1:${pages.port}/good`, `http://[::1]:${pages.port}/good`];
      process.stdout.write = (chunk: string | Uint8Array) => stdout.push(String(chunk)) > 0;
      const response = await handler.handle(sqsEvent(targets.map((target, i) => sqsRecord({ messageId: `m${i}`, body: message(target) }))), lambdaContext(30_000));
      process.stdout.write = write;

      assert.deepEqual(failedIds(response), []);
      assert.deepEqual(requestedPaths(), []);
      for (const target of targets) {
        const object = await s3.client.send(new GetObjectCommand({ Bucket: "results", Key: resultKey(target) }));
        const record = JSON.parse(await object.Body!.transformToString()) as ResultRecord;
        assert.deepEqual([record.status, record.code], ["failed", "ssrf_refused"]);
      }
      assert.deepEqual(ssm.requests.map((request) => request.body.Name), ["/fleet/settings"]);
      const emf = stdout.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => "_aws" in line);
      assert.deepEqual(emf.map((line) => [line.Fleet, line.PagesFailed]), [["prod-fleet", 2]]);
    } finally {
      process.stdout.write = write;
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      await Promise.all([s3.stop(), ssm.stop()]);
    }
  });

  it("the deployed wiring refuses to start without its environment, naming the variable", () => {
    assert.throws(
      () => createLambdaHandler({ FLEET_NAME: "f", SETTINGS_PARAMETER: "/p" }),
      (error: unknown) => error instanceof LambdaConfigError && error.message.includes("RESULTS_BUCKET"),
    );
  });
});
