import assert from "node:assert/strict";
import type { AccessToken, TokenCredential } from "@azure/identity";
import { BlobServiceClient, type ContainerClient } from "@azure/storage-blob";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SCRAPE_DISABLED_SETTING } from "../../functions/azure/appSettings";
import { createWindowMetrics } from "../../functions/azure/metrics";
import { AzureBackend, azureFleetAddress } from "../../ops/backends/azure";
import { enqueue } from "../../ops/commands/enqueue";
import { main } from "../../ops/cli";
import { CredentialsError, OpsUsageError, exitCodeOf } from "../../ops/errors";
import { openInput } from "../../ops/input";
import { runDeployedLoadTest } from "../../ops/loadtest/deployed";
import type { StackOutputs } from "../../ops/target";
import { createBlobResultStore } from "../../functions/azure/resultStore";
import { RESULT_BATCH_CONTENT_TYPE, RESULT_BATCH_PREFIX, resultKey } from "../../shared/result";
import { ResultBatcher } from "../../shared/resultBatcher";
import { newestResults } from "../../shared/resultReader";
import { startAppConfigurationFake, type AppConfigurationFake } from "../support/azureFakes";
import { azuriteConnectionString, startAzurite, type Azurite } from "../support/azurite";
import { startAzureControlFake, type AzureControlFake } from "./azureFakes";
import { renderStatus } from "../../ops/commands/status";
import { captureIo, until } from "./support";
import { envOverrides } from "../support/processEnv";
import { pauseFleet, resumeFleet } from "../../ops/backend";

const APP = "scrape-fleet-test-fn";
const CONTAINER = "results";

/** Hands out a token per scope and records the scopes asked for, as DefaultAzureCredential would after `az login`. */
class RecordingCredential implements TokenCredential {
  readonly scopes: string[] = [];
  async getToken(scopes: string | string[]): Promise<AccessToken> {
    const scope = Array.isArray(scopes) ? scopes.join(" ") : scopes;
    this.scopes.push(scope);
    return { token: `token-for-${scope}`, expiresOnTimestamp: Date.now() + 3_600_000 };
  }
}

describe("fleet on Azure (Service Bus REST and ARM: recorded-request fake; App Configuration: recorded-request fake; Blob: Azurite)", function () {
  this.timeout(30_000);
  let azurite: Azurite;
  let container: ContainerClient;
  let control: AzureControlFake;
  let store: AppConfigurationFake;
  let credential: RecordingCredential;
  let backend: AzureBackend;
  let dir: string;
  let containerSeq = 0;

  before(async () => {
    azurite = await startAzurite();
  });
  after(async () => {
    await azurite.stop();
  });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "fleet-azure-"));
    control = await startAzureControlFake({ queueName: "work", appName: APP, appSettings: { FLEET_NAME: "scrape-fleet-test", WORK_QUEUE_NAME: "work" }, workspaceName: "scrape-fleet-test-logs" });
    store = await startAppConfigurationFake("settings");
    store.put('{"concurrency":8}');
    containerSeq += 1;
    container = BlobServiceClient.fromConnectionString(azuriteConnectionString(azurite)).getContainerClient(`${CONTAINER}${containerSeq}`);
    await container.create();
    credential = new RecordingCredential();
    const outputs: StackOutputs = {
      cloud: "azure",
      workQueueUrl: `${control.endpoint}/work`,
      workQueueId: control.queueResourceId,
      deadLetterQueueUrl: `${control.endpoint}/work/$DeadLetterQueue`,
      workerName: APP,
      resultsBucket: `devstoreaccount1/${CONTAINER}${containerSeq}`,
      configLocation: `${store.endpoint}/kv/settings`,
      dashboardUrl: "https://portal.azure.com/",
      alertChannel: "/subscriptions/x/actionGroups/y",
    };
    backend = new AzureBackend(azureFleetAddress(outputs, "stack azure-test"), "stack azure-test", {
      credential,
      resourceManager: control.endpoint,
      logAnalytics: control.endpoint,
      settings: store.client,
      results: container,
      resultsPageSize: 7,
    });
  });
  afterEach(async () => {
    await backend.close();
    await control.stop();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  const send = async (count: number, inFlight?: number) => {
    const path = join(dir, "urls.txt");
    await writeFile(path, Array.from({ length: count }, (_, index) => `https://site.example/page/${index + 1}`).join("\n"));
    const io = captureIo();
    return enqueue({ backend, input: await openInput(path, "urls.txt", io.stdin), checkpoint: undefined, dryRun: false, io, random: () => 0, ...(inFlight === undefined ? {} : { inFlight }) });
  };

  it("enqueue posts REST batches of up to 500 messages within 192 KiB, with a Service Bus token, every body in the workers' format", async () => {
    const report = await send(2_500);
    assert.equal(report.sent, 2_500);
    const batches = control.requests.filter((request) => request.method === "POST" && request.path === "/work/messages");
    assert.equal(batches.length, 5, "2,500 messages in 5 batches");
    assert.ok(batches.every((request) => request.contentType === "application/vnd.microsoft.servicebus.json" && request.bytes < 256 * 1024));
    assert.equal(batches[0]?.authorization, "Bearer token-for-https://servicebus.azure.net/.default");
    assert.equal(control.work.length, 2_500);
    assert.deepEqual(JSON.parse(control.work[6]?.body ?? ""), { v: 1, url: "https://site.example/page/7", depth: 0 });
    assert.equal(control.work[0]?.contentType, "application/json");
    assert.equal(credential.scopes.length, 1, "one token, kept for every batch");
  });

  it("a throttled batch is sent again whole; a batch refused as invalid counts every entry failed", async () => {
    let calls = 0;
    control.intercept = (request) => (request.path === "/work/messages" && ++calls === 1 ? 429 : undefined);
    const retried = await send(5);
    assert.deepEqual([retried.sent, retried.failed], [5, 0]);
    assert.equal(calls, 2);
    control.intercept = (request) => (request.path === "/work/messages" ? 400 : undefined);
    const refused = await send(3);
    assert.deepEqual([refused.sent, refused.failed], [0, 3]);
    // 403 on a send is Service Bus's "quota exceeded or message too large", not a refused credential.
    control.intercept = (request) => (request.path === "/work/messages" ? 403 : undefined);
    const full = await send(2);
    assert.deepEqual([full.sent, full.failed], [0, 2]);
  });

  it("status reads countDetails from the queue resource and the trigger state from the app settings", async () => {
    await send(4);
    control.deadLetter('{"v":1,"url":"https://site.example/dead","depth":0}', 5);
    const status = await backend.status(15);
    assert.deepEqual(status, {
      backlog: 4,
      deadLetters: 1,
      triggerEnabled: true,
      settingsEnabled: true,
      pagesPerMinute: 0,
      outcomes: { ok: 0, failed: 0, retry: 0, malformed: 0 },
      windowMinutes: 15,
    });
    assert.ok(control.requests.some((request) => request.method === "GET" && request.path === control.queueResourceId && request.authorization === "Bearer token-for-https://management.azure.com/.default"));
  });

  // Log Analytics is checked against a recorded-request fake only: it sums the lines itself, since no KQL engine runs on loopback.
  it("status sums the workers' fleet_metrics lines in the stack's workspace: pages a minute, outcomes and the average fetch time", async () => {
    let clock = Date.now();
    const lines = createWindowMetrics({ fleetName: "scrape-fleet-test", flushIntervalMs: 1_000, now: () => clock });
    for (const fetchMs of [100, 300, 500]) lines.recordPage({ outcome: "ok", bytesOnWire: 1_000, fetchMs });
    lines.recordPage({ outcome: "retry", code: "http_5xx", bytesOnWire: 0, fetchMs: 700 });
    lines.recordPage({ outcome: "failed", code: "domain_blocked", bytesOnWire: 0, fetchMs: 0 });
    clock += 10_000;
    control.traces.push({ time: new Date(), message: lines.takeLine(true) ?? "" });
    // Another fleet's line in the same workspace, and one of ours from before the window, count for nothing.
    const other = createWindowMetrics({ fleetName: "another-fleet" });
    other.recordPage({ outcome: "ok", bytesOnWire: 1, fetchMs: 9_000 });
    control.traces.push({ time: new Date(), message: other.takeLine(true) ?? "" });
    lines.recordPage({ outcome: "ok", bytesOnWire: 1, fetchMs: 9_000 });
    control.traces.push({ time: new Date(Date.now() - 20 * 60_000), message: lines.takeLine(true) ?? "" });

    const status = await backend.status(15);
    assert.deepEqual(status.outcomes, { ok: 3, failed: 1, retry: 1, malformed: 0 });
    assert.equal(status.pagesPerMinute, 4 / 15);
    assert.deepEqual(status.fetchLatency, { pages: 4, averageMs: 400 }, "the failed page was never fetched");
    const [query] = control.logQueries;
    assert.equal(query?.timespan, "PT15M");
    assert.match(query?.query ?? "", /^AppTraces\n/);
    assert.match(query?.query ?? "", /tostring\(line\.fleet\) == "scrape-fleet-test"/, "the fleet comes from the app's FLEET_NAME");
    const queries = () => control.requests.filter((request) => request.path.startsWith("/v1/workspaces/"));
    assert.equal(queries()[0]?.authorization, "Bearer token-for-https://api.loganalytics.io/.default", "the query API's own audience, not ARM's");

    await backend.status(15);
    assert.equal(queries().length, 2);
    assert.equal(control.requests.filter((request) => request.method === "GET" && request.path.endsWith("/workspaces/scrape-fleet-test-logs")).length, 1, "the workspace's customerId is read once");
  });

  it("status without access to the workspace still shows the queue, and names the figures it could not read and the role they need", async () => {
    control.work.push(...Array.from({ length: 3 }, (_, n) => ({ id: `m${n}`, sequenceNumber: n + 1, body: JSON.stringify({ url: `https://site.example/${n}` }), deliveryCount: 0, enqueuedAt: new Date(), properties: {} })));
    // The workspace named from FLEET_NAME is not there: the query answers 404, as it would 403 without Log Analytics Reader.
    control.appSettings = { ...control.appSettings, FLEET_NAME: "scrape-fleet-elsewhere" };
    const status = await backend.status(15);
    assert.equal(status.backlog, 3);
    assert.equal(status.pagesPerMinute, undefined);
    assert.equal(status.unread?.length, 1);
    assert.match(status.unread?.[0] ?? "", /pages\/min, outcomes and fetch time: the Log Analytics query failed \(.*404.*\); they need Log Analytics Reader/);
    assert.match(renderStatus(backend.description, status), /not read {8}pages\/min/);
  });

  it("a load test sends REST batches and watches the queue's countDetails and the workspace's lines until the work is gone", async () => {
    const io = captureIo();
    const done = runDeployedLoadTest({ backend, target: new URL("https://site.example/p"), count: 30, intervalMs: 100, timeoutMs: 20_000, windowMinutes: 5, io });
    await until(() => /loadtest: 0 s: backlog 30,/.test(io.err()), 10_000, "the first reading after the send");
    // The workers complete every message and write their window's line.
    const bodies = control.work.splice(0).map((message) => JSON.parse(message.body) as { url: string });
    const lines = createWindowMetrics({ fleetName: "scrape-fleet-test" });
    for (let n = 0; n < 30; n += 1) lines.recordPage({ outcome: n < 27 ? "ok" : "failed", code: n < 27 ? undefined : "http_4xx", bytesOnWire: 2_000, fetchMs: 250 });
    control.traces.push({ time: new Date(), message: lines.takeLine(true) ?? "" });
    const report = await done;
    assert.deepEqual([report.sent, report.failed, report.end], [30, 0, "drained"]);
    assert.equal(new Set(bodies.map((body) => body.url)).size, 30);
    assert.equal(report.series.at(-1)?.inFlight, undefined, "Service Bus counts no in-flight figure");
    assert.deepEqual(report.series.at(-1)?.outcomeShares, { ok: 0.9, failed: 0.1, retry: 0, malformed: 0 });
    assert.equal(report.series.at(-1)?.pagesPerMinute, 6);
  });

  it("pause sets AzureWebJobs.scrape.Disabled by putting back the whole app-settings set, and enabled: false; resume undoes both; each is idempotent", async () => {
    assert.equal(SCRAPE_DISABLED_SETTING, "AzureWebJobs.scrape.Disabled");
    await pauseFleet(backend);
    await pauseFleet(backend);
    assert.deepEqual(control.appSettings, { FLEET_NAME: "scrape-fleet-test", WORK_QUEUE_NAME: "work", "AzureWebJobs.scrape.Disabled": "true" });
    assert.equal(control.requests.filter((request) => request.method === "PUT").length, 1, "the second pause writes nothing");
    assert.deepEqual(JSON.parse(store.value() ?? ""), { concurrency: 8, enabled: false });
    const paused = await backend.status(15);
    assert.deepEqual([paused.triggerEnabled, paused.settingsEnabled], [false, false]);
    await resumeFleet(backend);
    assert.deepEqual(control.appSettings, { FLEET_NAME: "scrape-fleet-test", WORK_QUEUE_NAME: "work" });
    assert.deepEqual(JSON.parse(store.value() ?? ""), { concurrency: 8, enabled: true });
    assert.equal(store.revisions.length, 3, "the first value, then pause's and resume's writes, each a revision");
  });

  it("settings are the App Configuration key-value, versioned by its etag and written as application/json", async () => {
    const read = await backend.readSettings();
    assert.deepEqual(read, { document: { concurrency: 8 }, version: "etag-1" });
    const written = await backend.writeSettings({ concurrency: 4 });
    assert.equal(written.version, "etag-2");
    const put = store.requests.find((request) => request.method === "PUT");
    assert.equal(put?.url.pathname, "/kv/settings");
    assert.deepEqual(JSON.parse(store.value() ?? ""), { concurrency: 4 });
    store.put("not json");
    await assert.rejects(backend.readSettings(), /key settings is not JSON \("not json"\); write a valid document/);
  });

  it("dead-letters list locks and then unlocks: nothing leaves the sub-queue, the reason and attempts are shown", async () => {
    control.deadLetter('{"v":1,"url":"https://site.example/a","depth":0}', 5);
    control.deadLetter("not a message", 5);
    control.deadLetter('{"v":1,"url":"https://site.example/c","depth":0}', 5);
    const letters = await backend.listDeadLetters(2);
    assert.equal(letters.length, 2);
    assert.deepEqual(letters[0], { url: "https://site.example/a", reason: "MaxDeliveryCountExceeded: Message could not be consumed after 5 delivery attempts.", attempts: 5, time: "2026-12-01T12:00:00.000Z" });
    assert.equal(letters[1]?.body, "not a message");
    assert.equal(control.deadLetters.length, 3);
    assert.ok(control.deadLetters.every((message) => message.lockToken === undefined), "every lock released");
  });

  it("a listing that outlasts the lock duration ends at the first message handed out again, listing none twice", async () => {
    control.deadLetter('{"v":1,"url":"https://site.example/a","depth":0}', 5);
    control.deadLetter('{"v":1,"url":"https://site.example/b","depth":0}', 5);
    let heads = 0;
    control.intercept = (request) => {
      // After the second lock, every lock expires: the next peek-lock gets the first message again.
      if (request.path.endsWith("/messages/head") && request.method === "POST" && ++heads === 3) control.expireLocks();
      return undefined;
    };
    const letters = await backend.listDeadLetters(50);
    assert.deepEqual(letters.map((letter) => letter.url), ["https://site.example/a", "https://site.example/b"]);
    assert.ok(control.deadLetters.every((message) => message.lockToken === undefined));
  });

  it("redrive sends each round to the work queue before completing it; a refused send unlocks and loses nothing", async () => {
    for (let index = 0; index < 110; index += 1) control.deadLetter(`{"v":1,"url":"https://site.example/d${index}","depth":0}`, 5);
    control.intercept = (request) => (request.path === "/work/messages" ? 503 : undefined);
    await assert.rejects(backend.redriveDeadLetters(undefined, () => undefined, new AbortController().signal), /HTTP 503/);
    assert.equal(control.deadLetters.length, 110, "nothing completed without a send");
    assert.ok(control.deadLetters.every((message) => message.lockToken === undefined));
    control.intercept = undefined;
    const progress: number[] = [];
    const moved = await backend.redriveDeadLetters(undefined, (step) => progress.push(step.moved), new AbortController().signal);
    assert.equal(moved, 110);
    assert.deepEqual(progress, [100, 110]);
    assert.equal(control.deadLetters.length, 0);
    assert.equal(control.work.length, 110);
    // Every completion came after the send that carried its message.
    const order = control.requests.map((request) => `${request.method} ${request.path.startsWith("/work/$DeadLetterQueue/messages/head") ? "head" : request.path === "/work/messages" ? "send" : "lock"}`);
    const firstSend = order.lastIndexOf("POST send", order.indexOf("DELETE lock"));
    assert.ok(firstSend >= 0 && firstSend < order.indexOf("DELETE lock"));
  });

  it("redrive --limit moves only that many", async () => {
    for (let index = 0; index < 5; index += 1) control.deadLetter(`{"v":1,"url":"https://site.example/l${index}","depth":0}`, 5);
    assert.equal(await backend.redriveDeadLetters(2, () => undefined, new AbortController().signal), 2);
    assert.deepEqual([control.work.length, control.deadLetters.length], [2, 3]);
  });

  it("purge receives and deletes until the sub-queue is empty, and says how many", async () => {
    for (let index = 0; index < 30; index += 1) control.deadLetter(`{"v":1,"url":"https://site.example/p${index}","depth":0}`, 5);
    assert.equal(await backend.purgeDeadLetters(), 30);
    assert.equal(control.deadLetters.length, 0);
  });

  it("results export streams every record through the listing's continuation pages (Azurite)", async () => {
    const urls = Array.from({ length: 20 }, (_, index) => `https://site.example/r${index}`);
    for (const url of urls) {
      const body = JSON.stringify({ url, status: "ok", fetchedAt: "2026-12-01T00:00:00Z" });
      await container.getBlockBlobClient(resultKey(url)).upload(body, Buffer.byteLength(body));
    }
    await container.getBlockBlobClient("raw/skip.html.gz").upload("x", 1);
    // Pages of 7 blobs: all 20 records arrive only if each page's continuation token is followed.
    const seen: string[] = [];
    for await (const found of newestResults(backend, new AbortController().signal)) seen.push(found.kind === "record" ? String(found.record.url) : `unreadable ${found.object}`);
    assert.deepEqual(seen.sort(), [...urls].sort());
  });

  it("a batch object the worker's Blob store writes lands as application/x-ndjson, and export keeps each URL's newest record across it and a per-page blob (Azurite)", async () => {
    const record = (url: string, fetchedAt: string, attempt: number) => ({ schema: "scrape-fleet/result@1", key: resultKey(url), url, status: "ok", fetchedAt, attempt });
    const older = JSON.stringify(record("https://site.example/again", "2026-12-01T00:00:00.000Z", 1));
    await container.getBlockBlobClient(resultKey("https://site.example/again")).upload(older, Buffer.byteLength(older));

    const batcher = new ResultBatcher({ store: createBlobResultStore({ container }) });
    const limits = { maxRecords: 2, windowMs: 1_000 };
    await Promise.all([batcher.add(JSON.stringify(record("https://site.example/again", "2026-12-01T00:05:00.000Z", 2)), limits), batcher.add(JSON.stringify(record("https://site.example/once", "2026-12-01T00:05:00.000Z", 1)), limits)]);
    const batches: string[] = [];
    for await (const blob of container.listBlobsFlat({ prefix: RESULT_BATCH_PREFIX })) batches.push(blob.name);
    assert.equal(batches.length, 1);
    assert.equal((await container.getBlobClient(batches[0]).getProperties()).contentType, RESULT_BATCH_CONTENT_TYPE);

    const seen: [string, number][] = [];
    for await (const found of newestResults(backend, new AbortController().signal)) if (found.kind === "record") seen.push([String(found.record.url), Number(found.record.attempt)]);
    assert.deepEqual(seen.sort(), [["https://site.example/again", 2], ["https://site.example/once", 1]]);
  });

  it("a refused token is a CredentialsError naming DefaultAzureCredential and `az login` (exit code 3)", async () => {
    control.intercept = (request) => (request.path === control.queueResourceId ? 401 : undefined);
    const error = await backend.status(15).catch((caught: unknown) => caught);
    assert.ok(error instanceof CredentialsError);
    assert.equal(exitCodeOf(error), 3);
    assert.match(error.message, /DefaultAzureCredential .* gave no usable credentials \(Service Bus queues\/read: AzureHttpError: Service Bus queues\/read: HTTP 401/);
    assert.match(error.message, /az login/);
  });

  it("reads the stack outputs into addresses, and refuses outputs that are not an Azure fleet's, naming the output and the value", () => {
    const outputs: StackOutputs = {
      cloud: "azure",
      workQueueUrl: "https://fleet-sb.servicebus.windows.net/work",
      workQueueId: "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.ServiceBus/namespaces/fleet-sb/queues/work",
      deadLetterQueueUrl: "https://fleet-sb.servicebus.windows.net/work/$DeadLetterQueue",
      workerName: "fleet-fn",
      resultsBucket: "fleetresults/results",
      configLocation: "https://fleet-config.azconfig.io/kv/settings",
      dashboardUrl: "https://portal.azure.com/",
      alertChannel: "/subscriptions/x/actionGroups/y",
    };
    const address = azureFleetAddress(outputs, "stack azure-prod");
    assert.equal(address.siteResourceId, "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Web/sites/fleet-fn");
    assert.deepEqual([address.configEndpoint, address.settingsKey, address.resultsAccount, address.resultsContainer], ["https://fleet-config.azconfig.io", "settings", "fleetresults", "results"]);
    assert.throws(() => azureFleetAddress({ ...outputs, workQueueId: "arn:aws:sqs:us-east-1:1:q" }, "stack azure-prod"), (error: Error) => error instanceof OpsUsageError && /workQueueId "arn:aws:sqs:us-east-1:1:q" is not a Service Bus queue resource id/.test(error.message));
    assert.throws(() => azureFleetAddress({ ...outputs, configLocation: "/fleet/settings" }, "stack azure-prod"), /configLocation "\/fleet\/settings" is not <App Configuration endpoint>\/kv\/<key>/);
  });

  it("through the command: no credential at all (Azure CLI not installed) is exit code 3 with the chain and the fix", async () => {
    const outputs = {
      cloud: "azure",
      workQueueUrl: "https://fleet-sb.servicebus.windows.net/work",
      workQueueId: control.queueResourceId,
      deadLetterQueueUrl: "https://fleet-sb.servicebus.windows.net/work/$DeadLetterQueue",
      workerName: APP,
      resultsBucket: "fleetresults/results",
      configLocation: "https://fleet-config.azconfig.io/kv/settings",
      dashboardUrl: "https://portal.azure.com/",
      alertChannel: "/subscriptions/x/actionGroups/y",
    };
    await writeFile(join(dir, "outputs.json"), JSON.stringify(outputs));
    // Only the Azure CLI credential, and no `az` on PATH: the chain fails before any request leaves.
    const env = envOverrides();
    env.set({ AZURE_TOKEN_CREDENTIALS: "AzureCliCredential", PATH: dir });
    try {
      const io = captureIo({ cwd: dir });
      const code = await main(["dead-letters", "list", "--outputs", "outputs.json"], io);
      assert.equal(code, 3, io.err());
      assert.match(io.err(), /DefaultAzureCredential .* gave no usable credentials/);
      assert.match(io.err(), /az login/);
      assert.doesNotMatch(io.err(), /\n\s+at /);
    } finally {
      env.restore();
    }
  });
});
