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
import { createLambdaHandler, createSqsHandler, type SqsHandler, type SqsHandlerDeps } from "../../functions/aws";
import { LAMBDA_ENV } from "../../functions/aws/environment";
import { EXPIRY_MARGIN_SECONDS } from "../../functions/aws/holds";
import { createEmfMetrics } from "../../functions/aws/metrics";
import { createSsmSettings } from "../../functions/aws/settingsSource";
import { HandlerConfigError } from "../../functions/handlerConfig";
import { ScrapeError } from "../../shared/errors";
import { createJsonLogger } from "../../shared/logging";
import { resultKey, type ResultRecord } from "../../shared/result";
import { parseSettings, type FleetSettings } from "../../shared/settings";
import { QUEUE_URL, lambdaContext, receiptHandleOf, sqsEvent, sqsRecord, startSqsFake, startSsmFake, type SqsFake, type SsmFake } from "../support/awsFakes";
import { startLoopbackServer, type LoopbackHandler, type LoopbackServer } from "../support/loopback/server";
import { MemoryResultStore, StallingStore } from "../support/memoryStore";
import { commonPages, exampleLookup } from "../support/pages";
import { startLocalS3 } from "../support/s3rver";
import { envOverrides } from "../support/processEnv";

/** `*.example` → 127.0.0.1, except `imds.example` → the EC2 metadata service's IPv6 address (refused even with the private-network switch). */
const stubLookup = exampleLookup({ "imds.example": { address: "fd00:ec2::254", family: 6 } });

const FAST_SETTINGS = { perDomainDelayMs: 0, respectRobots: false, connectTimeoutMs: 1_000, headersTimeoutMs: 5_000, bodyIdleTimeoutMs: 5_000, pageDeadlineMs: 5_000 };


/** The environment infra/aws/worker.ts sets on the function. */
const DEPLOYED_ENV = {
  [LAMBDA_ENV.resultsBucket]: "results",
  [LAMBDA_ENV.settingsParameter]: "/fleet/settings",
  [LAMBDA_ENV.fleetName]: "prod-fleet",
  [LAMBDA_ENV.queueRetentionSeconds]: "345600",
  [LAMBDA_ENV.queueMaxReceiveCount]: "5",
  [LAMBDA_ENV.queueVisibilityTimeoutSeconds]: "720",
};

const failedIds = (response: SQSBatchResponse) => response.batchItemFailures.map((failure) => failure.itemIdentifier);

/** Beyond the shared pages: a 429 asking for 7 s, and a 503 that names no wait. */
const EXTRA_PAGES: Record<string, LoopbackHandler> = {
  "/limited": (_request, response) => response.writeHead(429, { "retry-after": "7" }).end(),
  "/down": (_request, response) => response.writeHead(503).end(),
};

/**
 * Runs `body` with the SDK's endpoints, Region and credentials in the
 * environment, as Lambda sets them, and puts the environment back after.
 */
async function withSdkEnvironment(endpoints: { readonly s3: string; readonly ssm: string; readonly sqs: string }, body: () => Promise<void>): Promise<void> {
  const sdkEnv: Record<string, string> = {
    AWS_ENDPOINT_URL_S3: endpoints.s3,
    AWS_ENDPOINT_URL_SSM: endpoints.ssm,
    AWS_ENDPOINT_URL_SQS: endpoints.sqs,
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "S3RVER",
    AWS_SECRET_ACCESS_KEY: "S3RVER",
    AWS_EC2_METADATA_DISABLED: "true",
  };
  const env = envOverrides();
  env.set(sdkEnv);
  try {
    await body();
  } finally {
    env.restore();
  }
}

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
    pages = await startLoopbackServer({ ...commonPages(), ...EXTRA_PAGES });
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

  it("a result write that never finishes is abandoned a second before the Lambda deadline (margin − 1 s after the worker's), and only its message comes back", async () => {
    const stuckUrl = url("news.example", "/other");
    store = new StallingStore(resultKey(stuckUrl));
    settings = parseSettings({ ...FAST_SETTINGS, concurrency: 2 });
    const records = [sqsRecord({ messageId: "stored", body: message(url("shop.example", "/good")) }), sqsRecord({ messageId: "stuck", body: message(stuckUrl) })];
    const started = Date.now();
    const remainingMs = 2_000;
    // Margin 1 200 ms: the worker's deadline is at 800 ms, and writes get 200 ms more.
    const response = await buildHandler({ deadlineMarginMs: 1_200 }).handle(sqsEvent(records), lambdaContext(remainingMs));
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 950 && elapsed < 1_500, `answered after ${elapsed} ms; writes were due to be abandoned at 1000 ms, and Lambda stops the function at ${remainingMs} ms`);
    assert.deepEqual(failedIds(response), ["stuck"]);
    assert.equal(store.record(url("shop.example", "/good"))?.status, "ok");
    assert.ok(logLines.some((line) => line.includes('"store_failed"') && line.includes("writeGraceMs")), "the abandoned write is logged, naming the grace");
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
    for (const payload of ['{"key": "value"}', "null"]) {
      const response = await buildHandler().handle(JSON.parse(payload) as SQSEvent, lambdaContext(30_000));
      assert.deepEqual(response, { batchItemFailures: [] }, payload);
    }
    assert.ok(logLines.some((line) => line.includes('"event_not_sqs"')));
  });

  it("records without a message id or body are skipped with a log line naming their positions, never thrown on nor named without an itemIdentifier", async () => {
    const good = sqsRecord({ messageId: "good", body: message(url("shop.example", "/good")) });
    const down = sqsRecord({ messageId: "down", body: message(url("shop.example", "/down")) });
    const batches: unknown[][] = [[null], [42], ["text"], [{ messageId: "", body: "{}" }], [{ messageId: "no-body" }], [null, good, 42, down]];
    for (const records of batches) {
      logLines = [];
      const response = await buildHandler().handle({ Records: records } as unknown as SQSEvent, lambdaContext(30_000));
      const expected = records.includes(down) ? ["down"] : [];
      assert.deepEqual(failedIds(response), expected, JSON.stringify(records));
      assert.ok(response.batchItemFailures.every((failure) => typeof failure.itemIdentifier === "string" && failure.itemIdentifier !== ""));
      const invalid = logLines.map((line) => JSON.parse(line) as Record<string, unknown>).find((line) => line.event === "record_invalid");
      assert.deepEqual(invalid?.positions, records.length === 1 ? [0] : [0, 2], JSON.stringify(records));
      await handler?.close();
    }
    assert.ok(store.record(url("shop.example", "/good")), "the good record of the mixed batch was still processed");
  });

  it("rejects a deadline margin out of range, naming the option and the value", () => {
    assert.throws(() => buildHandler({ deadlineMarginMs: -5 }), (error: unknown) => error instanceof HandlerConfigError && /`deadlineMarginMs`.*\(given -5\)/.test(error.message));
  });

  describe("when a returned message comes back (ChangeMessageVisibilityBatch, recorded-request fake of the SQS JSON API)", () => {
    let sqs: SqsFake;
    const logged = (event: string) => logLines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.event === event);

    beforeEach(async () => {
      sqs = await startSqsFake();
    });
    afterEach(async () => {
      await sqs.stop();
    });

    /** A handler on the SQS fake, with the backoff's jitter fixed at its middle. */
    const heldHandler = (overrides: Partial<SqsHandlerDeps> = {}) => buildHandler({ sqs: sqs.client, random: () => 0.5, ...overrides });
    const entries = () => sqs.requests.flatMap((request) => (request.body.Entries ?? []).map((entry) => [entry.ReceiptHandle, entry.VisibilityTimeout]));

    it("a 429 with Retry-After: 7 comes back after 7 s", async () => {
      const response = await heldHandler().handle(sqsEvent([sqsRecord({ messageId: "limited", body: message(url("shop.example", "/limited")) })]), lambdaContext(30_000));
      assert.deepEqual(failedIds(response), ["limited"]);
      assert.deepEqual(entries(), [[receiptHandleOf("limited"), 7]]);
      assert.equal(sqs.requests[0].body.QueueUrl, QUEUE_URL);
    });

    it("a paused fleet holds each message 15 min after its first receive, doubling per receive (1 h after the third)", async () => {
      settings = parseSettings({ ...FAST_SETTINGS, enabled: false });
      const records = [
        sqsRecord({ messageId: "first", body: message(url("shop.example", "/good")) }),
        sqsRecord({ messageId: "third", body: message(url("news.example", "/other")), receiveCount: 3 }),
      ];
      const response = await heldHandler().handle(sqsEvent(records), lambdaContext(30_000));
      assert.deepEqual(failedIds(response), ["first", "third"]);
      assert.deepEqual(requestedPaths(), []);
      assert.equal(sqs.requests.length, 1, "one call for the batch");
      assert.deepEqual(entries(), [[receiptHandleOf("first"), 900], [receiptHandleOf("third"), 3_600]]);
    });

    it("a hold is cut so the message is dead-lettered before the queue's retention deletes it: a paused message near its expiry comes back with just enough time for its later receives", async () => {
      settings = parseSettings({ ...FAST_SETTINGS, enabled: false });
      const queueLimits = { retentionSeconds: 4 * 86_400, maxReceiveCount: 5, visibilityTimeoutSeconds: 720 };
      const clock = Date.now();
      // Sent 3 days 20 h ago, on its 5th and last receive: 4 h left, of which the margin before expiry is kept (the pause wants 4 h).
      const sentAtMs = clock - (3 * 86_400 + 20 * 3_600) * 1_000;
      const records = [
        sqsRecord({ messageId: "old", body: message(url("shop.example", "/good")), receiveCount: 5, sentAtMs }),
        sqsRecord({ messageId: "young", body: message(url("shop.example", "/good")), receiveCount: 3 }),
      ];
      const response = await heldHandler({ queueLimits, now: () => clock }).handle(sqsEvent(records), lambdaContext(30_000));
      assert.deepEqual(failedIds(response), ["old", "young"]);
      assert.deepEqual(entries(), [[receiptHandleOf("old"), 4 * 3_600 - EXPIRY_MARGIN_SECONDS], [receiptHandleOf("young"), 3_600]]);
    });

    it("messages returned on their last delivery are counted as dead letters in the batch's EMF line; finished ones and earlier deliveries are not", async () => {
      const queueLimits = { retentionSeconds: 4 * 86_400, maxReceiveCount: 5, visibilityTimeoutSeconds: 720 };
      const records = [
        sqsRecord({ messageId: "last-down", body: message(url("shop.example", "/down")), receiveCount: 5 }),
        sqsRecord({ messageId: "last-bad", body: "not json", receiveCount: 6 }),
        sqsRecord({ messageId: "last-good", body: message(url("shop.example", "/good")), receiveCount: 5 }),
        sqsRecord({ messageId: "early-down", body: message(url("shop.example", "/down")), receiveCount: 4 }),
      ];
      const response = await heldHandler({ queueLimits }).handle(sqsEvent(records), lambdaContext(30_000));
      assert.deepEqual(failedIds(response), ["last-down", "last-bad", "early-down"]);
      assert.deepEqual(emfLines.map((line) => (JSON.parse(line) as Record<string, unknown>).MessagesDeadLettered), [2]);
    });

    it("a worker that cannot read its settings sends the batch back as settings_unavailable on the transient backoff (30–60 s on the first receive), not the pause hold, and fetches nothing", async () => {
      const unreadable = { get: async (): Promise<FleetSettings> => Promise.reject(new ScrapeError("settings_unavailable", "no good settings read yet")) };
      const records = [sqsRecord({ messageId: "first", body: message(url("shop.example", "/good")) }), sqsRecord({ messageId: "second", body: message(url("shop.example", "/good")), receiveCount: 2 })];
      const response = await heldHandler({ worker: { settings: unreadable, results: store, allowPrivateNetworks: true, lookup: stubLookup } }).handle(sqsEvent(records), lambdaContext(30_000));
      assert.deepEqual(failedIds(response), ["first", "second"]);
      assert.deepEqual(requestedPaths(), []);
      assert.deepEqual(entries(), [[receiptHandleOf("first"), 45], [receiptHandleOf("second"), 180]]);
      assert.deepEqual(emfLines.map((line) => JSON.parse(line) as Record<string, unknown>).map((line) => [line.PagesRetried, line.codes]), [[2, { settings_unavailable: 2 }]]);
    });

    it("a 503 without Retry-After backs off from the receive count: on the second receive 2–4 min (3 min at the jitter's middle)", async () => {
      const record = sqsRecord({ messageId: "down", body: message(url("shop.example", "/down")), receiveCount: 2 });
      const response = await heldHandler().handle(sqsEvent([record]), lambdaContext(30_000));
      assert.deepEqual(failedIds(response), ["down"]);
      assert.deepEqual(entries(), [[receiptHandleOf("down"), 180]]);
    });

    it("ok, failed and malformed messages get no visibility call; only the retry in the batch does", async () => {
      const records = [
        sqsRecord({ messageId: "good", body: message(url("shop.example", "/good")) }),
        sqsRecord({ messageId: "gone", body: message(url("news.example", "/gone")) }),
        sqsRecord({ messageId: "not-json", body: "{url: https://example.com/" }),
        sqsRecord({ messageId: "busy", body: message(url("busy.example", "/busy")) }),
      ];
      const response = await heldHandler().handle(sqsEvent(records), lambdaContext(30_000));
      assert.deepEqual(failedIds(response), ["not-json", "busy"]);
      assert.deepEqual(entries(), [[receiptHandleOf("busy"), 1]]);
    });

    it("a batch with nothing to hold makes no call", async () => {
      const records = [sqsRecord({ messageId: "good", body: message(url("shop.example", "/good")) }), sqsRecord({ messageId: "no-url", body: JSON.stringify({ v: 1 }) })];
      const response = await heldHandler().handle(sqsEvent(records), lambdaContext(30_000));
      assert.deepEqual(failedIds(response), ["no-url"]);
      assert.equal(sqs.requests.length, 0);
    });

    it("when SQS answers 500, the same messages still come back and the failure is logged with their ids", async () => {
      sqs.mode = "error";
      settings = parseSettings({ ...FAST_SETTINGS, enabled: false });
      const records = [sqsRecord({ messageId: "a", body: message(url("shop.example", "/good")) }), sqsRecord({ messageId: "b", body: message(url("news.example", "/other")) })];
      const response = await heldHandler().handle(sqsEvent(records), lambdaContext(30_000));
      assert.deepEqual(failedIds(response), ["a", "b"]);
      assert.equal(sqs.requests.length, 1);
      const [failure] = logged("visibility_change_failed");
      assert.deepEqual(failure.messageIds, ["a", "b"]);
      assert.match(String(failure.error), /internal error/i);
      assert.equal(logged("sqs_batch")[0].held, 0);
    });

    it("when SQS does not answer, the handler gives up on it before the Lambda deadline and still returns the right messages", async () => {
      sqs.mode = "hang";
      settings = parseSettings({ ...FAST_SETTINGS, enabled: false });
      const records = [sqsRecord({ messageId: "a", body: message(url("shop.example", "/good")) }), sqsRecord({ messageId: "b", body: message(url("news.example", "/other")) })];
      const remainingMs = 1_000;
      const started = Date.now();
      const response = await heldHandler({ deadlineMarginMs: 500 }).handle(sqsEvent(records), lambdaContext(remainingMs));
      const elapsed = Date.now() - started;
      assert.deepEqual(failedIds(response), ["a", "b"]);
      assert.ok(elapsed < remainingMs, `answered after ${elapsed} ms of ${remainingMs} ms`);
      assert.equal(sqs.requests.length, 1, "the call was made");
      assert.match(String(logged("visibility_change_failed")[0]?.error), /before the handler's deadline/);
    });

    it("an entry SQS refuses is logged with its message id and code; the other messages are held", async () => {
      settings = parseSettings({ ...FAST_SETTINGS, enabled: false });
      sqs.refusedEntries.set(receiptHandleOf("expired"), "ReceiptHandleIsInvalid");
      const records = [sqsRecord({ messageId: "expired", body: message(url("shop.example", "/good")) }), sqsRecord({ messageId: "held", body: message(url("news.example", "/other")) })];
      const response = await heldHandler().handle(sqsEvent(records), lambdaContext(30_000));
      assert.deepEqual(failedIds(response), ["expired", "held"]);
      assert.deepEqual(logged("visibility_change_refused").map((line) => [line.messageId, line.code]), [["expired", "ReceiptHandleIsInvalid"]]);
      assert.equal(sqs.visibilityOf(receiptHandleOf("held")), 900);
      assert.equal(logged("sqs_batch")[0].held, 1);
    });
  });

  it("the deployed wiring keeps the SSRF guard on: loopback URLs are refused and recorded in S3 (s3rver), settings read from SSM, no visibility call for finished messages (recorded-request fakes)", async () => {
    const [s3, ssm, sqs] = await Promise.all([startLocalS3(["results"]), startSsmFake(), startSqsFake()]);
    ssm.parameters.set("/fleet/settings", { value: JSON.stringify(FAST_SETTINGS) });
    const stdout: string[] = [];
    const write = process.stdout.write;
    try {
      await withSdkEnvironment({ s3: s3.endpoint, ssm: `http://127.0.0.1:${ssm.port}`, sqs: sqs.endpoint }, async () => {
        handler = createLambdaHandler(DEPLOYED_ENV);
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
        assert.equal(sqs.requests.length, 0, "no message was returned, so no visibility was changed");
        const emf = stdout.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => "_aws" in line);
        assert.deepEqual(emf.map((line) => [line.Fleet, line.PagesFailed]), [["prod-fleet", 2]]);
      });
    } finally {
      process.stdout.write = write;
      await Promise.all([s3.stop(), ssm.stop(), sqs.stop()]);
    }
  });

  it("the deployed wiring holds a paused fleet's messages through AWS_ENDPOINT_URL_SQS, naming the queue by the URL its record's ARN stands for (recorded-request fakes)", async () => {
    const [ssm, sqs] = await Promise.all([startSsmFake(), startSqsFake()]);
    ssm.parameters.set("/fleet/settings", { value: JSON.stringify({ ...FAST_SETTINGS, enabled: false }) });
    const write = process.stdout.write;
    try {
      // Nothing is written to S3 while paused; its endpoint still points at loopback.
      await withSdkEnvironment({ s3: sqs.endpoint, ssm: `http://127.0.0.1:${ssm.port}`, sqs: sqs.endpoint }, async () => {
        handler = createLambdaHandler(DEPLOYED_ENV);
        process.stdout.write = () => true;
        const response = await handler.handle(sqsEvent([sqsRecord({ messageId: "paused-1", body: message(url("shop.example", "/good")) })]), lambdaContext(30_000));
        process.stdout.write = write;

        assert.deepEqual(failedIds(response), ["paused-1"]);
        assert.deepEqual(sqs.requests.map((request) => [request.target, request.body.QueueUrl]), [["AmazonSQS.ChangeMessageVisibilityBatch", QUEUE_URL]]);
        assert.equal(sqs.requests[0].headers["content-type"], "application/x-amz-json-1.0");
        assert.match(String(sqs.requests[0].headers.authorization), /^AWS4-HMAC-SHA256 Credential=S3RVER\/\d{8}\/us-east-1\/sqs\/aws4_request/);
        assert.equal(sqs.visibilityOf(receiptHandleOf("paused-1")), 900);
      });
    } finally {
      process.stdout.write = write;
      await Promise.all([ssm.stop(), sqs.stop()]);
    }
  });

  it("the deployed wiring refuses to start without its environment, naming the variable and the fix", () => {
    assert.throws(
      () => createLambdaHandler({ FLEET_NAME: "f", SETTINGS_PARAMETER: "/p" }),
      (error: unknown) => error instanceof HandlerConfigError && /environment variable RESULTS_BUCKET is not set.*redeploy the stack/.test(error.message),
    );
    assert.throws(
      () => createLambdaHandler({ ...DEPLOYED_ENV, [LAMBDA_ENV.queueMaxReceiveCount]: "five" }),
      (error: unknown) => error instanceof HandlerConfigError && /environment variable QUEUE_MAX_RECEIVE_COUNT must be a whole number.*\(given "five"\).*redeploy the stack/.test(error.message),
    );
  });
});
