import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { logMetricName } from "../../infra/gcp/dashboard";
import { queueNames } from "../../infra/gcp/queue";
import { resourceName } from "../../infra/naming";
import { main } from "../../ops/cli";
import { Storage } from "@google-cloud/storage";
import { createGcsResultStore, storageOptions } from "../../functions/gcp/resultStore";
import { RESULT_BATCH_CONTENT_TYPE, RESULT_BATCH_PREFIX, resultKey } from "../../shared/result";
import { ResultBatcher } from "../../shared/resultBatcher";
import { startCloudStorageFake, startParameterManagerFake, type ParameterManagerFake } from "../support/gcpFakes";
import { startGoogleApisFake, startMetadataFake, type GoogleApisFake, type MetadataFake } from "./gcpFakes";
import { captureIo, until } from "./support";
import { envOverrides } from "../support/processEnv";

const PROJECT = "test-project";
const FLEET = "scrape-fleet-test";
const FUNCTION = `${FLEET}-worker`;
const FUNCTION_URI = "https://scrape-fleet-test-worker-abc123-ew.a.run.app";
const BUCKET = `${FLEET}-results`;
const names = queueNames(FLEET);
const WORK_TOPIC = `projects/${PROJECT}/topics/${names.workTopic}`;
const WORK_SUBSCRIPTION = `projects/${PROJECT}/subscriptions/${names.workSubscription}`;
const DLQ_SUBSCRIPTION = `projects/${PROJECT}/subscriptions/${names.deadLetterSubscription}`;
/** The push configuration infra/gcp/queue.ts gives the subscription: the function's URL as endpoint and audience, the invoker account of infra/gcp/identity.ts. */
const DEPLOYED_PUSH = { pushEndpoint: FUNCTION_URI, oidcToken: { serviceAccountEmail: `${resourceName("gcpServiceAccountId", FLEET, "push")}@${PROJECT}.iam.gserviceaccount.com`, audience: FUNCTION_URI } };

describe("fleet on Google Cloud (REST with application default credentials; recorded-request fakes of Pub/Sub, Monitoring, Functions, Storage, Parameter Manager and the metadata server)", function () {
  this.timeout(30_000);
  let dir: string;
  let metadata: MetadataFake;
  let apis: GoogleApisFake;
  let parameters: ParameterManagerFake;
  const env = envOverrides();

  const setEnv = env.set;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "fleet-gcp-"));
    metadata = await startMetadataFake();
  });
  after(async () => {
    env.restore();
    await metadata.close();
    await rm(dir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    apis = await startGoogleApisFake({
      project: PROJECT,
      workTopic: WORK_TOPIC,
      workSubscription: WORK_SUBSCRIPTION,
      deadLetterSubscription: DLQ_SUBSCRIPTION,
      bucket: BUCKET,
      functionName: FUNCTION,
      functionUri: FUNCTION_URI,
      fleetName: FLEET,
      pushConfig: structuredClone(DEPLOYED_PUSH),
    });
    parameters = await startParameterManagerFake({ parameter: `projects/${PROJECT}/locations/global/parameters/${FLEET}-settings` });
    parameters.versions.push({ id: "initial", createTime: "2025-01-01T00:00:00.000000001Z", payload: '{"concurrency":8}' });
    setEnv({
      // The application default credentials chain ends at the metadata server; nothing earlier in it may be found.
      GOOGLE_APPLICATION_CREDENTIALS: undefined,
      CLOUDSDK_CONFIG: join(dir, "no-gcloud-config"),
      GCE_METADATA_HOST: metadata.host,
      METADATA_SERVER_DETECTION: "ping-only",
      CLOUDSDK_API_ENDPOINT_OVERRIDES_PUBSUB: apis.endpoint,
      CLOUDSDK_API_ENDPOINT_OVERRIDES_MONITORING: apis.endpoint,
      CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDFUNCTIONS: apis.endpoint,
      CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE: apis.endpoint,
      CLOUDSDK_API_ENDPOINT_OVERRIDES_PARAMETERMANAGER: parameters.endpoint,
    });
    const outputs = {
      cloud: "gcp",
      workQueueUrl: WORK_TOPIC,
      workQueueId: WORK_TOPIC,
      deadLetterQueueUrl: DLQ_SUBSCRIPTION,
      workerName: FUNCTION,
      resultsBucket: BUCKET,
      configLocation: parameters.parameter,
      dashboardUrl: "https://console.cloud.google.com/monitoring/dashboards/builder/x",
      alertChannel: `projects/${PROJECT}/notificationChannels/1`,
    };
    await writeFile(join(dir, "outputs.json"), JSON.stringify(outputs));
  });
  afterEach(async () => {
    await apis.close();
    await parameters.close();
  });

  const fleet = async (...args: string[]): Promise<{ code: number; out: string; err: string }> => {
    const io = captureIo({ cwd: dir });
    const code = await main([...args, "--outputs", "outputs.json"], io);
    return { code, out: io.out(), err: io.err() };
  };
  const urls = async (count: number, name = "urls.txt"): Promise<void> =>
    writeFile(join(dir, name), Array.from({ length: count }, (_, index) => `https://site.example/page/${index + 1}`).join("\n"));
  const deadLetter = (n: number) => ({
    messageId: `d${n}`,
    data: Buffer.from(`{"v":1,"url":"https://dead.example/${n}"}`).toString("base64"),
    publishTime: new Date(Date.now() - 60_000).toISOString(),
    attributes: { CloudPubSubDeadLetterSourceDeliveryCount: "5", CloudPubSubDeadLetterSourceSubscription: names.workSubscription },
  });
  const settingsVersions = () => parameters.versions.map((version) => JSON.parse(version.payload) as unknown);

  it("enqueue publishes batches of up to 1,000 messages with a bearer token from the metadata server", async () => {
    await urls(2_500);
    const run = await fleet("enqueue", "urls.txt", "--json");
    assert.equal(run.code, 0, run.err);
    assert.equal((JSON.parse(run.out) as { sent: number }).sent, 2_500);
    assert.deepEqual([...apis.publishSizes].sort((a, b) => b - a), [1_000, 1_000, 500]);
    assert.equal(new Set(apis.published).size, 2_500);
    assert.deepEqual(JSON.parse(apis.published.find((body) => body.endsWith('/page/7","depth":0}')) ?? "null"), { v: 1, url: "https://site.example/page/7", depth: 0 });
    assert.ok(metadata.tokenRequests >= 1, "the token came through the application default credentials chain");
  });

  it("a publish refused as a whole is sent again when retryable, and reported per line when not", async () => {
    await urls(10, "ten.txt");
    apis.onPublish = (call) => (call === 1 ? { status: 503, body: { error: { code: 503, status: "UNAVAILABLE", message: "try again" } } } : undefined);
    const retried = await fleet("enqueue", "ten.txt", "--json");
    assert.equal(retried.code, 0, retried.err);
    assert.equal(apis.published.length, 10, "the 503'd batch went out once, on the second call");

    apis.onPublish = () => ({ status: 400, body: { error: { code: 400, status: "INVALID_ARGUMENT", message: "bad message" } } });
    const refused = await fleet("enqueue", "ten.txt", "--checkpoint", "second.json");
    assert.equal(refused.code, 1);
    assert.match(refused.err, /line 3: not sent, the queue refused it for good: pubsub\.topics\.publish: 400 INVALID_ARGUMENT bad message/);
  });

  it("status reads the subscriptions' figures and the log-based outcome counters from Cloud Monitoring, the push config and the settings", async () => {
    apis.metrics.set(`pubsub.googleapis.com/subscription/num_undelivered_messages|${names.workSubscription}`, 120);
    apis.metrics.set(`pubsub.googleapis.com/subscription/num_outstanding_messages|${names.workSubscription}`, 20);
    apis.metrics.set(`pubsub.googleapis.com/subscription/oldest_unacked_message_age|${names.workSubscription}`, 42);
    apis.metrics.set(`pubsub.googleapis.com/subscription/num_undelivered_messages|${names.deadLetterSubscription}`, 3);
    // The fleet's log-based outcome counters, under the names infra/gcp/dashboard.ts gives them.
    apis.metrics.set(`logging.googleapis.com/user/${logMetricName(FLEET, "PagesOk")}|`, 60);
    apis.metrics.set(`logging.googleapis.com/user/${logMetricName(FLEET, "PagesFailed")}|`, 15);
    apis.metrics.set(`logging.googleapis.com/user/${logMetricName(FLEET, "PagesRetried")}|`, 5);
    apis.distributions.set(`logging.googleapis.com/user/${logMetricName(FLEET, "FetchLatencyMs")}`, { count: 75, mean: 812.5 });
    const run = await fleet("status", "--json", "--window", "5");
    assert.equal(run.code, 0, run.err);
    assert.deepEqual(JSON.parse(run.out), {
      backlog: 100,
      inFlight: 20,
      oldestAgeSeconds: 42,
      deadLetters: 3,
      triggerEnabled: true,
      settingsEnabled: true,
      pagesPerMinute: 15,
      outcomes: { ok: 60, failed: 15, retry: 5, malformed: 0 },
      fetchLatency: { pages: 75, averageMs: 812.5 },
      windowMinutes: 5,
    });
    const queries = apis.requests.filter((request) => request.url.pathname.endsWith("/timeSeries")).map((request) => request.url.searchParams);
    assert.ok(queries.some((query) => /resource\.type = "pubsub_subscription"/.test(query.get("filter") ?? "")));
    const outcomeQuery = queries.find((query) => query.get("filter")?.includes("PagesOk"));
    assert.deepEqual([outcomeQuery?.get("aggregation.alignmentPeriod"), outcomeQuery?.get("aggregation.perSeriesAligner"), outcomeQuery?.get("aggregation.crossSeriesReducer")], ["300s", "ALIGN_SUM", "REDUCE_SUM"]);
    // The fetch-time distribution is added up as a distribution (checked against a recorded-request fake only).
    const latencyQuery = queries.find((query) => query.get("filter")?.includes("FetchLatencyMs"));
    assert.deepEqual([latencyQuery?.get("aggregation.alignmentPeriod"), latencyQuery?.get("aggregation.perSeriesAligner"), latencyQuery?.get("aggregation.crossSeriesReducer")], ["300s", "ALIGN_DELTA", "REDUCE_SUM"]);
  });

  it("loadtest does not take Cloud Monitoring's late, empty backlog for a drain: it waits to see the work, then its end", async () => {
    const undelivered = `pubsub.googleapis.com/subscription/num_undelivered_messages|${names.workSubscription}`;
    // The newest sample Pub/Sub has written is still the one from before the send.
    apis.metrics.set(undelivered, 0);
    const io = captureIo({ cwd: dir });
    const done = main(["loadtest", "--outputs", "outputs.json", "--target", "https://site.example/p", "--count", "25", "--interval", "0.1", "--timeout", "20", "--json"], io);
    await until(() => /loadtest: 0 s: backlog 0,/.test(io.err()), 10_000, "a reading of the stale sample");
    apis.metrics.set(undelivered, 25);
    await until(() => /backlog 25,/.test(io.err()), 10_000, "a reading that shows the work");
    apis.metrics.set(undelivered, 0);
    apis.metrics.set(`logging.googleapis.com/user/${logMetricName(FLEET, "PagesOk")}|`, 25);
    assert.equal(await done, 0, io.err());
    const report = JSON.parse(io.out()) as { run: string; sent: number; end: string; series: { backlog: number; pagesPerMinute: number }[] };
    assert.deepEqual([report.sent, report.end], [25, "drained"]);
    assert.deepEqual(apis.publishSizes, [25], "one topics.publish call");
    assert.equal(new Set(apis.published.map((body) => (JSON.parse(body) as { url: string }).url)).size, 25);
    assert.equal(report.series[0]?.backlog, 0);
    assert.ok(report.series.some((sample) => sample.backlog === 25));
    assert.equal(report.series.at(-1)?.pagesPerMinute, 5, "25 pages over the 5-minute window");
  });

  it("cost --measured reads the stack's Cloud Monitoring figures and says which inputs came from it; --page-ms still wins", async () => {
    apis.distributions.set(`logging.googleapis.com/user/${logMetricName(FLEET, "FetchLatencyMs")}`, { count: 75, mean: 812.5 });
    apis.metrics.set(`logging.googleapis.com/user/${logMetricName(FLEET, "PagesOk")}|`, 60);
    apis.metrics.set(`logging.googleapis.com/user/${logMetricName(FLEET, "PagesFailed")}|`, 15);
    apis.metrics.set(`logging.googleapis.com/user/${logMetricName(FLEET, "PagesRetried")}|`, 25);
    const run = await fleet("cost", "--stack", "gcp-prod", "--measured", "--window", "30", "--page-ms", "1500");
    assert.equal(run.code, 0, run.err);
    assert.match(run.out, /^per page: 1500 ms on the web \(--page-ms\), [\d.]+ ms CPU \(measured on this machine\)/m);
    assert.match(run.out, /from gcp outputs outputs\.json, last 30 min: 75 pages fetched in 813 ms on average \(FetchLatencyMs\); 2\.5 pages finished a minute \(ok 60 %, failed 15 %, retry 25 %\)/);
    assert.match(run.out, /used: that rate × 30 days as the month's pages \(108,000\)/);
    assert.match(run.out, /25 % of the stack's deliveries were sent back \(retry, malformed\): each is one more delivery, which the figures below do not price/);
    assert.match(run.out, /measured on this machine over \d+ loopback pages of ~100 KB: CPU a page, the result record, raw HTML, the fleet's log lines \(the stack publishes none of these\)/);
    assert.match(run.out, /this month, 108,000 pages/);
    const stray = await fleet("cost", "--stack", "gcp-prod", "--window", "30");
    assert.equal(stray.code, 2);
    assert.match(stray.err, /--outputs, --window go with --measured/);
  });

  it("settings set writes a new Parameter Manager version and keeps the history", async () => {
    const refused = await fleet("settings", "set", "concurrency=999");
    assert.equal(refused.code, 2);
    assert.equal(parameters.versions.length, 1, "nothing written");
    const set = await fleet("settings", "set", "concurrency=4");
    assert.equal(set.code, 0, set.err);
    assert.match(set.out, /concurrency: 8 → 4/);
    assert.deepEqual(settingsVersions(), [{ concurrency: 8 }, { concurrency: 4 }]);
    const got = JSON.parse((await fleet("settings", "get", "--json")).out) as { version: string; effective: { concurrency: number } };
    assert.equal(got.effective.concurrency, 4);
    assert.equal(got.version, parameters.versions[1]?.id);
  });

  it("pause detaches the push endpoint and writes enabled: false; resume restores exactly the config Pulumi set", async () => {
    const paused = await fleet("pause");
    assert.equal(paused.code, 0, paused.err);
    assert.deepEqual(apis.pushConfig, {}, "an empty pushConfig: messages wait as in a pull subscription");
    assert.deepEqual(settingsVersions(), [{ concurrency: 8 }, { concurrency: 8, enabled: false }]);
    assert.match((await fleet("status")).out, /PAUSED \(trigger stopped, settings enabled: false\)/);
    assert.equal((await fleet("pause")).code, 0, "pausing twice is harmless");
    assert.equal(parameters.versions.length, 2, "and writes no new version");

    const resumed = await fleet("resume");
    assert.equal(resumed.code, 0, resumed.err);
    assert.deepEqual(apis.pushConfig, DEPLOYED_PUSH);
    assert.deepEqual(settingsVersions().at(-1), { concurrency: 8, enabled: true });
  });

  it("pause refuses, changing nothing, when the live push config is not the one resume would restore", async () => {
    apis.pushConfig = { pushEndpoint: "https://elsewhere.example/push", oidcToken: { serviceAccountEmail: "someone@test-project.iam.gserviceaccount.com", audience: "x" } };
    const run = await fleet("pause");
    assert.equal(run.code, 2);
    assert.match(run.err, /not to the deployed .* that `resume` restores; nothing was changed: run `npm run fleet -- resume`/);
    assert.equal(apis.pushConfig.pushEndpoint, "https://elsewhere.example/push");
    assert.equal(parameters.versions.length, 1);
  });

  it("dead-letters list consumes nothing; redrive acknowledges only after the publish succeeded; purge needs --yes", async () => {
    apis.deadLetters.push(...[1, 2, 3, 4].map(deadLetter));
    const listed = JSON.parse((await fleet("dead-letters", "list", "--json")).out) as { url: string; attempts: number }[];
    assert.deepEqual(listed.map((letter) => letter.url).sort(), [1, 2, 3, 4].map((n) => `https://dead.example/${n}`));
    assert.equal(listed[0]?.attempts, 5);
    assert.equal(apis.deadLetters.filter((message) => message.leasedBy === undefined).length, 4, "every pulled message was given back");

    apis.onPublish = () => ({ status: 500, body: { error: { code: 500, status: "INTERNAL", message: "boom" } } });
    const failed = await fleet("dead-letters", "redrive");
    assert.equal(failed.code, 1);
    assert.equal(apis.deadLetters.length, 4, "nothing acknowledged when the publish failed");
    assert.equal(apis.deadLetters.filter((message) => message.leasedBy === undefined).length, 4, "and the batch was given back at once");

    apis.onPublish = undefined;
    const rated = await fleet("dead-letters", "redrive", "--rate", "10");
    assert.equal(rated.code, 2, "Pub/Sub has no move rate: --rate is refused, not ignored");
    assert.match(rated.err, /leave out --rate/);
    const moved = await fleet("dead-letters", "redrive", "--json");
    assert.equal(moved.code, 0, moved.err);
    assert.equal((JSON.parse(moved.out) as { moved: number }).moved, 4);
    assert.equal(apis.deadLetters.length, 0);
    assert.deepEqual(apis.published.sort(), [1, 2, 3, 4].map((n) => `{"v":1,"url":"https://dead.example/${n}"}`));

    apis.deadLetters.push(deadLetter(5));
    assert.equal((await fleet("dead-letters", "purge")).code, 2);
    assert.equal(apis.deadLetters.length, 1);
    assert.equal((await fleet("dead-letters", "purge", "--yes")).code, 0);
    assert.equal(apis.deadLetters.length, 0, "seek to now acknowledged it");
  });

  it("results export follows objects.list's pageToken and streams every record", async () => {
    apis.listPageSize = 3;
    for (let n = 0; n < 8; n += 1) {
      const url = `https://site.example/r/${n}`;
      apis.objects.set(resultKey(url), JSON.stringify({ schema: "scrape-fleet/result@1", key: resultKey(url), url, status: n % 4 === 0 ? "failed" : "ok", fetchedAt: "2026-12-01T00:00:00.000Z", attempt: 1 }));
    }
    const exported = await fleet("results", "export", "--out", "all.jsonl");
    assert.equal(exported.code, 0, exported.err);
    assert.equal((await readFile(join(dir, "all.jsonl"), "utf8")).trim().split("\n").length, 8);
    const listings = apis.requests.filter((request) => request.url.pathname === `/storage/v1/b/${BUCKET}/o`);
    assert.deepEqual(
      listings.map((request) => request.url.searchParams.get("prefix")),
      ["results/batches/", "results/", "results/", "results/"],
      "one listing of the (empty) batches, then three pages of three",
    );
    const failed = await fleet("results", "export", "--format", "csv", "--status", "failed");
    assert.equal(failed.out.trim().split("\n").length, 1 + 2);
  });

  // Both sides are recorded-request fakes (no GCS emulator installs from npm): the worker's
  // store uploads to the upload API's fake, whose objects are then served by the listing's.
  it("a batch object the worker's Cloud Storage store writes is uploaded as application/x-ndjson, and export keeps each URL's newest record across it and a per-page object", async () => {
    const uploads = await startCloudStorageFake(BUCKET);
    try {
      const record = (url: string, fetchedAt: string, attempt: number) => ({ schema: "scrape-fleet/result@1", key: resultKey(url), url, status: "ok", fetchedAt, attempt });
      apis.objects.set(resultKey("https://site.example/again"), JSON.stringify(record("https://site.example/again", "2026-12-01T00:00:00.000Z", 1)));
      const batcher = new ResultBatcher({ store: createGcsResultStore({ bucket: new Storage(storageOptions({ apiEndpoint: uploads.endpoint, projectId: PROJECT })).bucket(BUCKET) }) });
      const limits = { maxRecords: 2, windowMs: 1_000 };
      await Promise.all([batcher.add(JSON.stringify(record("https://site.example/again", "2026-12-01T00:05:00.000Z", 2)), limits), batcher.add(JSON.stringify(record("https://site.example/once", "2026-12-01T00:05:00.000Z", 1)), limits)]);
      const [[name, uploaded]] = [...uploads.objects.entries()];
      assert.ok(name.startsWith(RESULT_BATCH_PREFIX), name);
      assert.equal(uploaded.metadata.contentType, RESULT_BATCH_CONTENT_TYPE);
      apis.objects.set(name, uploaded.body.toString("utf8"));

      const exported = await fleet("results", "export");
      assert.equal(exported.code, 0, exported.err);
      const records = exported.out.trim().split("\n").map((line) => JSON.parse(line) as { url: string; attempt: number });
      assert.deepEqual(records.map((each) => [each.url, each.attempt]).sort(), [["https://site.example/again", 2], ["https://site.example/once", 1]]);
    } finally {
      await uploads.close();
    }
  });

  it("a refused token is exit code 3 naming application default credentials and the fix", async () => {
    apis.unauthenticated = true;
    const run = await fleet("status");
    assert.equal(run.code, 3);
    assert.match(run.err, /application default credentials .* gave no usable credentials \(cloudfunctions\.functions\.list: 401/);
    assert.match(run.err, /gcloud auth application-default login/);
  });

  it("no application default credentials at all is exit code 3 with the fix, not a stack trace", async () => {
    setEnv({ METADATA_SERVER_DETECTION: "none" });
    try {
      const run = await fleet("settings", "get");
      assert.equal(run.code, 3, run.err);
      assert.match(run.err, /Google application default credentials .* gave no usable credentials \(Could not load the default credentials/);
      assert.match(run.err, /gcloud auth application-default login/);
      assert.doesNotMatch(run.err, /\n\s+at /);
    } finally {
      setEnv({ METADATA_SERVER_DETECTION: "ping-only" });
    }
  });
});
