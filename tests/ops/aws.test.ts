import assert from "node:assert/strict";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient, SendMessageBatchCommand } from "@aws-sdk/client-sqs";
import { createHash } from "node:crypto";
import { CreateBucketCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FauxqsServer } from "fauxqs";
import { main } from "../../ops/cli";
import { createS3ResultStore } from "../../functions/aws/resultStore";
import { RESULT_BATCH_CONTENT_TYPE, RESULT_BATCH_PREFIX, resultKey } from "../../shared/result";
import { ResultBatcher } from "../../shared/resultBatcher";
import { loadFauxqs, registerQueue, startControlPlaneFake, startSqsFront, type ControlPlaneFake, type SqsFront } from "./awsFakes";
import { OPS_EXIT_CODES } from "../../ops/command";
import { captureIo, until } from "./support";
import { envOverrides } from "../support/processEnv";

const FUNCTION = "scrape-fleet-test-worker";
const PARAMETER = "/scrape-fleet-test/settings";
const BUCKET = "scrape-fleet-test-results";

describe("fleet on AWS (real SDK clients; fauxqs for SQS and S3, recorded fakes for Lambda, SSM and CloudWatch)", function () {
  this.timeout(30_000);
  let dir: string;
  let fauxqs: FauxqsServer;
  let front: SqsFront;
  let control: ControlPlaneFake;
  let s3: S3Client;
  let sqs: SQSClient;
  let work: { queueUrl: string; queueArn: string };
  let dead: { queueUrl: string; queueArn: string };
  const env = envOverrides();
  let queueSeq = 0;

  const setEnv = env.set;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "fleet-aws-"));
    fauxqs = await loadFauxqs().startFauxqs({ port: 0, logger: false });
    front = await startSqsFront(fauxqs.address);
    // fauxqs's S3 rather than s3rver: s3rver answers InternalError to a listing of more than 1,000 keys.
    s3 = new S3Client({ endpoint: fauxqs.address, forcePathStyle: true, region: "us-east-1", credentials: { accessKeyId: "x", secretAccessKey: "x" } });
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    sqs = new SQSClient({ endpoint: fauxqs.address, region: "us-east-1", credentials: { accessKeyId: "x", secretAccessKey: "x" }, useQueueUrlAsEndpoint: false });
  });
  after(async () => {
    env.restore();
    sqs.destroy();
    await front.stop();
    s3.destroy();
    await fauxqs.stop();
    await rm(dir, { recursive: true, force: true });
  });

  // A fresh pair of queues, control plane and outputs file per test.
  beforeEach(async () => {
    queueSeq += 1;
    dead = fauxqs.createQueue(`fleet-dlq-${queueSeq}`);
    work = fauxqs.createQueue(`fleet-work-${queueSeq}`, { attributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dead.queueArn, maxReceiveCount: "2" }) } });
    registerQueue(work.queueArn, work.queueUrl);
    registerQueue(dead.queueArn, dead.queueUrl);
    control = await startControlPlaneFake({ functionName: FUNCTION, queueArn: work.queueArn, parameterName: PARAMETER, fleetName: "scrape-fleet-test", settings: '{"concurrency":8}' });
    front.intercept = undefined;
    setEnv({
      AWS_ENDPOINT_URL_SQS: front.endpoint,
      AWS_ENDPOINT_URL_S3: fauxqs.address,
      AWS_ENDPOINT_URL_SSM: control.endpoint,
      AWS_ENDPOINT_URL_LAMBDA: control.endpoint,
      AWS_ENDPOINT_URL_CLOUDWATCH: control.endpoint,
      AWS_ACCESS_KEY_ID: "AKIDOPSTEST",
      AWS_SECRET_ACCESS_KEY: "ops-test-secret",
      AWS_SESSION_TOKEN: undefined,
      AWS_PROFILE: undefined,
      AWS_REGION: "us-east-1",
      AWS_EC2_METADATA_DISABLED: "true",
      AWS_MAX_ATTEMPTS: "2",
    });
    const outputs = {
      cloud: "aws",
      workQueueUrl: work.queueUrl,
      workQueueId: work.queueArn,
      deadLetterQueueUrl: dead.queueUrl,
      workerName: FUNCTION,
      resultsBucket: BUCKET,
      configLocation: PARAMETER,
      dashboardUrl: "https://console.aws.amazon.com/cloudwatch/home#dashboards:name=scrape-fleet-test",
      alertChannel: "arn:aws:sns:us-east-1:000000000000:scrape-fleet-test-alerts",
    };
    await writeFile(join(dir, "outputs.json"), JSON.stringify(outputs));
  });
  afterEach(async () => {
    await control.stop();
  });

  const fleet = async (...args: string[]): Promise<{ code: number; out: string; err: string }> => {
    const io = captureIo({ cwd: dir });
    const code = await main([...args, "--outputs", "outputs.json"], io);
    return { code, out: io.out(), err: io.err() };
  };
  /** Messages in a queue, visible or not, as the emulator holds them. */
  const count = async (queueUrl: string): Promise<number> => {
    const messages = fauxqs.inspectQueue(queueUrl.split("/").pop() ?? "")?.messages;
    return (messages?.ready.length ?? 0) + (messages?.inflight.length ?? 0) + (messages?.delayed.length ?? 0);
  };
  const bodiesIn = (queueName: string): string[] => (fauxqs.inspectQueue(queueName)?.messages.ready ?? []).map((message) => message.body);
  const urls = async (count: number, name = "urls.txt"): Promise<void> =>
    writeFile(join(dir, name), Array.from({ length: count }, (_, index) => `https://site.example/page/${index + 1}`).join("\n"));

  it("enqueue sends SendMessageBatch calls of 10 entries, every message in the workers' format", async () => {
    await urls(25);
    const run = await fleet("enqueue", "urls.txt", "--json");
    assert.equal(run.code, 0, run.err);
    assert.equal((JSON.parse(run.out) as { sent: number }).sent, 25);
    assert.equal(front.targets.filter((target) => target === "AmazonSQS.SendMessageBatch").length >= 3, true);
    const bodies = bodiesIn(`fleet-work-${queueSeq}`).map((body) => JSON.parse(body) as { v: number; url: string; depth: number });
    assert.equal(bodies.length, 25);
    assert.deepEqual(bodies.find((body) => body.url.endsWith("/page/7")), { v: 1, url: "https://site.example/page/7", depth: 0 });
  });

  it("a batch with some entries refused re-sends only those; a throttled call is sent again", async () => {
    await urls(10, "refused.txt");
    const sent: number[] = [];
    let call = 0;
    front.intercept = (target, body) => {
      if (target !== "AmazonSQS.SendMessageBatch") return undefined;
      call += 1;
      const entries = body.Entries as { Id: string; MessageBody: string }[];
      sent.push(entries.length);
      if (call === 1) return { status: 400, body: { __type: "com.amazonaws.sqs#RequestThrottled", message: "Rate exceeded" } };
      if (call === 2) {
        // Entries 3 and 8 refused by the service (retryable), the rest taken (answered here, so not queued: the queue shows only the re-send).
        return {
          status: 200,
          body: {
            Successful: entries.filter((entry) => entry.Id !== "3" && entry.Id !== "8").map((entry) => ({ Id: entry.Id, MessageId: `m${entry.Id}`, MD5OfMessageBody: createHash("md5").update(entry.MessageBody).digest("hex") })),
            Failed: [
              { Id: "3", SenderFault: false, Code: "InternalError", Message: "try again" },
              { Id: "8", SenderFault: false, Code: "InternalError", Message: "try again" },
            ],
          },
        };
      }
      return undefined;
    };
    const run = await fleet("enqueue", "refused.txt", "--json");
    assert.equal(run.code, 0, run.err);
    assert.deepEqual(sent.slice(-2), [10, 2], "after the throttled call, the whole batch, then only its two refused entries");
    assert.deepEqual(
      bodiesIn(`fleet-work-${queueSeq}`).map((body) => (JSON.parse(body) as { url: string }).url),
      ["https://site.example/page/4", "https://site.example/page/9"],
      "the re-send carried lines 4 and 9 (entries 3 and 8)",
    );
  });

  it("status reads SQS counts, the mapping's state, the settings and CloudWatch's figures", async () => {
    await sqs.send(new SendMessageBatchCommand({ QueueUrl: work.queueUrl, Entries: [1, 2, 3].map((n) => ({ Id: String(n), MessageBody: `{"url":"https://a.example/${n}"}` })) }));
    await sqs.send(new SendMessageBatchCommand({ QueueUrl: dead.queueUrl, Entries: [{ Id: "1", MessageBody: '{"url":"https://dead.example/"}' }] }));
    control.metricValues.set("ApproximateAgeOfOldestMessage", [42, 30]);
    control.metricValues.set("PagesOk", [60]);
    control.metricValues.set("PagesFailed", [15]);
    control.metricValues.set("PagesRetried", [5]);
    // Two periods of fetch times: the average is the whole window's, not the mean of the periods' means.
    control.metricValues.set("FetchLatencyMs/Sum", [30_000, 6_000]);
    control.metricValues.set("FetchLatencyMs/SampleCount", [50, 10]);
    const run = await fleet("status", "--json", "--window", "5");
    assert.equal(run.code, 0, run.err);
    const status = JSON.parse(run.out) as Record<string, unknown>;
    assert.deepEqual(status, {
      backlog: 3,
      inFlight: 0,
      oldestAgeSeconds: 42,
      deadLetters: 1,
      triggerEnabled: true,
      settingsEnabled: true,
      pagesPerMinute: 15,
      outcomes: { ok: 60, failed: 15, retry: 5, malformed: 0 },
      fetchLatency: { pages: 60, averageMs: 600 },
      windowMinutes: 5,
    });
    const request = control.metricRequests[0] as { MetricDataQueries: { MetricStat: { Metric: { Dimensions: { Name: string; Value: string }[] } } }[] };
    assert.deepEqual(request.MetricDataQueries[1]?.MetricStat.Metric.Dimensions, [{ Name: "Fleet", Value: "scrape-fleet-test" }], "the fleet's dimension comes from the function's FLEET_NAME");
  });

  it("loadtest sends --count distinct URLs in batches of 10 and watches SQS and CloudWatch until a worker has drained them", async () => {
    control.metricValues.set("PagesOk", [20]);
    control.metricValues.set("PagesRetried", [5]);
    const callsBefore = front.targets.length;
    const io = captureIo({ cwd: dir });
    const done = main(["loadtest", "--outputs", "outputs.json", "--target", "https://site.example/p?q=1", "--count", "25", "--interval", "0.1", "--timeout", "20", "--json"], io);
    await until(() => /loadtest: 0 s: backlog 25/.test(io.err()), 10_000, "the first reading after the send");
    // A stand-in worker takes every message off the queue, as the Lambda poller would.
    const bodies: string[] = [];
    for (;;) {
      const { Messages: messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: work.queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 30 }));
      if (messages.length === 0) break;
      bodies.push(...messages.map((message) => message.Body ?? ""));
      await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: work.queueUrl, Entries: messages.map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle ?? "" })) }));
    }
    assert.equal(await done, 0, io.err());
    const report = JSON.parse(io.out()) as { run: string; sent: number; end: string; series: { backlog: number; outcomeShares?: Record<string, number> }[] };
    assert.deepEqual([report.sent, report.end], [25, "drained"]);
    assert.equal(front.targets.slice(callsBefore).filter((target) => target === "AmazonSQS.SendMessageBatch").length, 3, "10 + 10 + 5");
    const messages = bodies.map((body) => JSON.parse(body) as { url: string; id: string; metadata: Record<string, string> });
    assert.equal(new Set(messages.map((message) => message.url)).size, 25, "each message its own URL");
    assert.ok(messages.every((message) => message.url.startsWith(`https://site.example/p?q=1&loadtest=${report.run}-`) && message.metadata.loadtest === report.run));
    assert.deepEqual([report.series[0]?.backlog, report.series.at(-1)?.backlog], [25, 0]);
    assert.deepEqual(report.series.at(-1)?.outcomeShares, { ok: 0.8, failed: 0, retry: 0.2, malformed: 0 });
  });

  it("cost --measured takes the page's time on the web and the month's pages from the stack's CloudWatch metrics; CPU stays this machine's", async () => {
    control.metricValues.set("FetchLatencyMs/Sum", [84_000]);
    control.metricValues.set("FetchLatencyMs/SampleCount", [120]);
    control.metricValues.set("PagesOk", [110]);
    control.metricValues.set("PagesFailed", [10]);
    control.metricValues.set("PagesRetried", [30]);
    const run = await fleet("cost", "--stack", "aws-prod", "--measured", "--json");
    assert.equal(run.code, 0, run.err);
    const cost = JSON.parse(run.out) as {
      pages: number;
      inputs: { wallMs: number; cpuMs: number };
      origins: Record<string, string>;
      fromStack: { fleet: string; windowMinutes: number; pagesPerMinute: number; fetchLatency: { pages: number; averageMs: number } };
      estimates: { fleet: { aws: { variable: { group: string; quantity: number }[] } } };
    };
    assert.deepEqual(cost.origins, { wallMs: "stack", cpuMs: "this machine", pages: "stack" });
    assert.equal(cost.inputs.wallMs, 700, "84,000 ms over 120 fetches");
    assert.deepEqual([cost.fromStack.fleet, cost.fromStack.windowMinutes, cost.fromStack.pagesPerMinute], ["aws outputs outputs.json", 60, 2]);
    assert.equal(cost.pages, 2 * 60 * 24 * 30, "120 pages finished in the 60-minute window, for 30 days");
    // aws-prod takes 10 messages at 10 at once, at 1 GB: one round of 700 ms an invocation.
    const compute = cost.estimates.fleet.aws.variable.find((line) => line.group === "compute");
    assert.ok(Math.abs((compute?.quantity ?? 0) - (cost.pages / 10) * 0.7) < 1e-6, JSON.stringify(compute));
    const queries = (control.metricRequests[0] as { MetricDataQueries: { Id: string; MetricStat: { Period: number } }[] }).MetricDataQueries;
    assert.equal(queries.find((query) => query.Id === "fetch_count")?.MetricStat.Period, 3_600, "the whole window in one period");

    const otherCloud = await fleet("cost", "--stack", "gcp-prod", "--measured");
    assert.equal(otherCloud.code, 2);
    assert.match(otherCloud.err, /outputs outputs\.json is a fleet on aws, but Pulumi\.gcp-prod\.yaml is one on gcp; name the outputs of that same stack/);
  });

  it("pause disables the event source mapping and writes enabled: false as a new SSM version; resume undoes both", async () => {
    const paused = await fleet("pause");
    assert.equal(paused.code, 0, paused.err);
    assert.equal(control.mappingState, "Disabled");
    assert.deepEqual(control.parameterVersions.map((value) => JSON.parse(value) as unknown), [{ concurrency: 8 }, { concurrency: 8, enabled: false }]);
    assert.match((await fleet("status")).out, /PAUSED \(trigger stopped, settings enabled: false\)/);

    assert.equal((await fleet("pause")).code, 0, "pausing twice is harmless");
    assert.equal(control.parameterVersions.length, 2, "and writes no new version");
    const resumed = await fleet("resume");
    assert.equal(resumed.code, 0, resumed.err);
    assert.equal(control.mappingState, "Enabled");
    assert.deepEqual(JSON.parse(control.parameterVersions.at(-1) ?? "") as unknown, { concurrency: 8, enabled: true });
  });

  it("settings set validates before writing: a bad value is refused with the key, the value and the fix; a good one is a new version", async () => {
    const refused = await fleet("settings", "set", "concurrency=999");
    assert.equal(refused.code, 2);
    assert.match(refused.err, /`concurrency` must be an integer from 1 to 256 \(given 999\); set a value in range/);
    assert.equal(control.parameterVersions.length, 1, "nothing written");
    const set = await fleet("settings", "set", "concurrency=4", 'blockedDomains=["bad.example"]');
    assert.equal(set.code, 0, set.err);
    assert.match(set.out, /concurrency: 8 → 4/);
    assert.match(set.out, /written \(version 2\)/);
    const got = JSON.parse((await fleet("settings", "get", "--json")).out) as { version: string; effective: { concurrency: number; blockedDomains: string[] } };
    assert.deepEqual([got.version, got.effective.concurrency, got.effective.blockedDomains], ["2", 4, ["bad.example"]]);
  });

  it("dead-letters list shows each URL and attempts; redrive --limit sends before it deletes, so a failed delete loses nothing", async () => {
    await sqs.send(new SendMessageBatchCommand({ QueueUrl: dead.queueUrl, Entries: [1, 2, 3, 4].map((n) => ({ Id: String(n), MessageBody: `{"v":1,"url":"https://dead.example/${n}"}` })) }));
    const listed = JSON.parse((await fleet("dead-letters", "list", "--json")).out) as { url: string; attempts: number }[];
    assert.deepEqual(listed.map((letter) => letter.url).sort(), [1, 2, 3, 4].map((n) => `https://dead.example/${n}`));
    assert.equal(await count(dead.queueUrl), 4, "listing moved nothing");

    front.intercept = (target) => (target === "AmazonSQS.DeleteMessageBatch" ? { status: 500, body: { __type: "com.amazonaws.sqs#InternalError", message: "We encountered an internal error." } } : undefined);
    const interrupted = await fleet("dead-letters", "redrive", "--limit", "2");
    assert.equal(interrupted.code, 1);
    assert.equal(await count(work.queueUrl), 2, "the copies were sent");
    assert.equal(await count(dead.queueUrl), 4, "and the originals stay until a delete succeeds");

    front.intercept = undefined;
    const moved = await fleet("dead-letters", "redrive", "--json");
    assert.equal(moved.code, 0, moved.err);
    assert.ok(front.targets.includes("AmazonSQS.StartMessageMoveTask"), "a redrive of all is an SQS move task");
    // The two received by the failed redrive are invisible for its 60 s visibility timeout; the move task takes the visible two.
    assert.equal((JSON.parse(moved.out) as { moved: number }).moved, 2);
    assert.equal(await count(dead.queueUrl), 2, "the two in flight stay in the dead-letter queue until they are visible again");
    assert.equal(new Set(bodiesIn(`fleet-work-${queueSeq}`)).size, 4, "every dead letter is in the work queue, none lost");
  });

  it("dead-letters purge needs --yes", async () => {
    await sqs.send(new SendMessageBatchCommand({ QueueUrl: dead.queueUrl, Entries: [{ Id: "1", MessageBody: '{"url":"https://dead.example/"}' }] }));
    assert.equal((await fleet("dead-letters", "purge")).code, 2);
    assert.equal(await count(dead.queueUrl), 1);
    assert.equal((await fleet("dead-letters", "purge", "--yes")).code, 0);
    assert.equal(await count(dead.queueUrl), 0);
  });

  it("results export pages through ListObjectsV2 past 1,000 keys and streams JSON Lines and CSV", async function () {
    this.timeout(60_000);
    const total = 1_003;
    for (let start = 0; start < total; start += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, total - start) }, (_, offset) => {
          const url = `https://site.example/r/${start + offset}`;
          const record = { schema: "scrape-fleet/result@1", key: resultKey(url), url, status: (start + offset) % 10 === 0 ? "failed" : "ok", fetchedAt: "2026-12-01T00:00:00.000Z", attempt: 1 };
          return s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: resultKey(url), Body: JSON.stringify(record) }));
        }),
      );
    }
    const exported = await fleet("results", "export", "--out", "all.jsonl");
    assert.equal(exported.code, 0, exported.err);
    const lines = (await readFile(join(dir, "all.jsonl"), "utf8")).trim().split("\n");
    assert.equal(lines.length, total);
    const failed = await fleet("results", "export", "--format", "csv", "--status", "failed");
    assert.equal(failed.out.trim().split("\n").length, 1 + Math.ceil(total / 10));
  });

  it("results export stopped by Ctrl-C while a store read is in flight is exit 130, not an error", async () => {
    const io = captureIo({ cwd: dir });
    // An S3 endpoint that takes the listing and never answers it: Ctrl-C
    // arrives while the SDK's request is in flight, which the SDK rejects with an AbortError.
    const held: ServerResponse[] = [];
    const stalled = createServer((_request, response) => {
      held.push(response);
      io.controller.abort();
    });
    await new Promise<void>((resolve) => stalled.listen(0, "127.0.0.1", resolve));
    try {
      setEnv({ AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${(stalled.address() as AddressInfo).port}` });
      const code = await main(["results", "export", "--outputs", "outputs.json"], io);
      assert.equal(code, OPS_EXIT_CODES.interrupted, io.err());
      assert.doesNotMatch(io.err(), /error|aborted/i);
      assert.match(io.err(), /exported 0 record\(s\)/);
      assert.equal(held.length, 1, "the listing was in flight");
    } finally {
      for (const response of held) response.destroy();
      await new Promise((resolve) => stalled.close(resolve));
    }
  });

  it("a batch object the worker's S3 store writes lands as application/x-ndjson, and export keeps each URL's newest record across it and a per-page object", async () => {
    const bucket = `${BUCKET}-batches`;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const outputs = JSON.parse(await readFile(join(dir, "outputs.json"), "utf8")) as Record<string, string>;
    await writeFile(join(dir, "outputs.json"), JSON.stringify({ ...outputs, resultsBucket: bucket }));
    const record = (url: string, fetchedAt: string, attempt: number) => ({ schema: "scrape-fleet/result@1", key: resultKey(url), url, status: "ok", fetchedAt, attempt });
    const older = record("https://site.example/again", "2026-12-01T00:00:00.000Z", 1);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: older.key, Body: JSON.stringify(older), ContentType: "application/json" }));

    const batcher = new ResultBatcher({ store: createS3ResultStore({ client: s3, bucket }) });
    const limits = { maxRecords: 2, windowMs: 1_000 };
    await Promise.all([batcher.add(JSON.stringify(record("https://site.example/again", "2026-12-01T00:05:00.000Z", 2)), limits), batcher.add(JSON.stringify(record("https://site.example/once", "2026-12-01T00:05:00.000Z", 1)), limits)]);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: RESULT_BATCH_PREFIX }));
    assert.equal(listed.Contents?.length, 1);
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: listed.Contents?.[0]?.Key }));
    assert.equal(head.ContentType, RESULT_BATCH_CONTENT_TYPE);

    const exported = await fleet("results", "export");
    assert.equal(exported.code, 0, exported.err);
    const records = exported.out.trim().split("\n").map((line) => JSON.parse(line) as { url: string; attempt: number });
    assert.deepEqual(records.map((each) => [each.url, each.attempt]).sort(), [["https://site.example/again", 2], ["https://site.example/once", 1]]);
  });

  it("pause and status work for an operator who may not read metrics: the queue's figures show, and the missing ones are named with the permission", async () => {
    control.denied.add("GraniteServiceVersion20100801.GetMetricData");
    const paused = await fleet("pause");
    assert.equal(paused.code, 0, paused.err);
    assert.match(paused.out, /paused .*: trigger stopped, settings enabled: false/);
    const status = await fleet("status", "--json");
    assert.equal(status.code, 0, status.err);
    const read = JSON.parse(status.out) as { triggerEnabled: boolean; pagesPerMinute?: number; unread?: string[] };
    assert.deepEqual([read.triggerEnabled, read.pagesPerMinute], [false, undefined]);
    assert.match(read.unread?.[0] ?? "", /^oldest age, pages\/min, outcomes and fetch time: reading the metrics failed \(.*AccessDenied.*\); they need cloudwatch:GetMetricData and lambda:GetFunctionConfiguration$/);
  });

  it("an expired credential is exit code 3 with the chain and the fix, not a stack trace", async () => {
    control.failWith = "ExpiredTokenException";
    const run = await fleet("settings", "get");
    assert.equal(run.code, 3);
    assert.match(run.err, /AWS default credential provider chain .* gave no usable credentials \(ssm:GetParameter: ExpiredTokenException/);
    assert.match(run.err, /aws sso login/);
    assert.doesNotMatch(run.err, /\n\s+at /);
  });

  it("no credentials at all is exit code 3 naming the chain", async () => {
    const empty = join(dir, "empty-aws-config");
    await writeFile(empty, "");
    setEnv({ AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_PROFILE: "nobody", AWS_CONFIG_FILE: empty, AWS_SHARED_CREDENTIALS_FILE: empty, AWS_WEB_IDENTITY_TOKEN_FILE: undefined, AWS_CONTAINER_CREDENTIALS_FULL_URI: undefined, AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: undefined });
    try {
      const run = await fleet("status");
      assert.equal(run.code, 3, run.err);
      assert.match(run.err, /AWS default credential provider chain/);
    } finally {
      setEnv({ AWS_ACCESS_KEY_ID: "AKIDOPSTEST", AWS_SECRET_ACCESS_KEY: "ops-test-secret", AWS_PROFILE: undefined, AWS_CONFIG_FILE: undefined, AWS_SHARED_CREDENTIALS_FILE: undefined });
    }
  });
});
