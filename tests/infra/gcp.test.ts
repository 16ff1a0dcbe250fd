/**
 * Policies for the Google Cloud fleet, checked on the resources the program
 * registers under mocks for the `gcp-prod` stack file (no cloud, no Pulumi
 * CLI). The mocks answer with the ids and URLs Google Cloud would give (topic
 * ids, function URL, service account emails, the Pub/Sub service agent), so
 * the policies can follow references from one resource to another.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { ENTRY_POINT, FUNCTION_ENV } from "../../functions/gcp/environment";
import { PAGE_METRIC_EVENT } from "../../functions/gcp/metrics";
import { validOrThrow } from "../../infra/config";
import { FLEET_OUTPUT_NAMES } from "../../infra/contract";
import { ACK_DEADLINE_SECONDS, cpuProblem, defaultWorkerCpu, validateGcpConfig } from "../../infra/gcp/config";
import { programVersionId } from "../../infra/gcp/configStore";
import { REQUIRED_SERVICES } from "../../infra/gcp/services";
import { bundleGcpWorker, workerPackageJson, WORKER_RUNTIME } from "../../infra/gcp/worker";
import { MOCK_PROJECT_NUMBER } from "../../infra/gcp/mockState";
import { mockRun, type ConfigOverride } from "../../infra/mockRun";
import { GCP } from "../../infra/policy/types";
import { gcpLabels, fleetTags } from "../../infra/tags";
import { METRICS } from "../../shared/metricNames";
import { SettingsError } from "../../shared/errors";
import { parseSettings } from "../../shared/settings";
import { ofType, one, runStack, stackConfig, type MockRunResult, withOperatorAddresses } from "../support/stack";

const STACK = "gcp-prod";

/** Types whose Args take `labels` (or `userLabels`), per the installed provider's .d.ts. */
const LABELED: Readonly<Record<string, "labels" | "userLabels">> = {
  [GCP.topic]: "labels",
  [GCP.subscription]: "labels",
  [GCP.function]: "labels",
  [GCP.bucket]: "labels",
  [GCP.parameter]: "labels",
  [GCP.notificationChannel]: "userLabels",
  [GCP.alertPolicy]: "userLabels",
};

const PUBSUB_AGENT = `serviceAccount:service-${MOCK_PROJECT_NUMBER}@gcp-sa-pubsub.iam.gserviceaccount.com`;
const PRIMITIVE_ROLES = ["roles/owner", "roles/editor", "roles/viewer"];

const str = (value: unknown, what: string): string => {
  if (typeof value !== "string") throw new Error(`${what} is not a string: ${JSON.stringify(value)}`);
  return value;
};

const run = (configOverrides: Readonly<Record<string, ConfigOverride>> = {}) => runStack(STACK, { configOverrides });

describe(`Google Cloud fleet, stack ${STACK} (under Pulumi mocks)`, () => {
  let result: MockRunResult;
  const { fleet, config } = stackConfig(STACK);
  const args = fleet.args;
  const project = config["gcp:project"];
  const region = config["gcp:region"];

  before(async () => {
    result = await run();
  });

  const subscriptionNamed = (suffix: string) => one(result, GCP.subscription, suffix);
  const fn = () => one(result, GCP.function);
  const serviceConfig = () => fn().inputs.serviceConfig as Record<string, unknown>;
  const accountEmail = (suffix: string) => `${str(one(result, GCP.serviceAccount, suffix).inputs.accountId, "accountId")}@${project}.iam.gserviceaccount.com`;
  const functionUrl = () => `https://${str(fn().inputs.name, "function name")}-abc123xyz-uc.a.run.app`;

  describe("services", () => {
    it("enables exactly the required APIs, and none is disabled when the fleet is destroyed", () => {
      const services = ofType(result, GCP.service);
      assert.deepEqual(services.map((service) => service.inputs.service).sort(), Object.keys(REQUIRED_SERVICES).sort());
      for (const service of services) assert.equal(service.inputs.disableOnDestroy, false, `${String(service.inputs.service)} would be disabled on destroy`);
    });

    it("needs no Eventarc API: the function is triggered by our push subscription", () => {
      assert.ok(!ofType(result, GCP.service).some((service) => service.inputs.service === "eventarc.googleapis.com"));
    });
  });

  describe("Pub/Sub", () => {
    it("the dead-letter topic has its own subscription, so dead letters are kept, for 7 days, never expiring", () => {
      const dlqTopic = one(result, GCP.topic, "-dlq");
      const dlqSubscription = subscriptionNamed("-dlq-sub");
      assert.equal(dlqSubscription.inputs.topic, `projects/${project}/topics/${str(dlqTopic.inputs.name, "topic name")}`);
      assert.equal(dlqSubscription.inputs.messageRetentionDuration, "604800s");
      assert.deepEqual(dlqSubscription.inputs.expirationPolicy, { ttl: "" });
    });

    it("the push subscription reads the work topic and dead-letters to the dead-letter topic after maxDeliveryAttempts", () => {
      const push = subscriptionNamed("-work-push");
      assert.equal(push.inputs.topic, `projects/${project}/topics/${str(one(result, GCP.topic, "-work").inputs.name, "topic name")}`);
      assert.deepEqual(push.inputs.deadLetterPolicy, { deadLetterTopic: `projects/${project}/topics/${str(one(result, GCP.topic, "-dlq").inputs.name, "topic name")}`, maxDeliveryAttempts: args.maxDeliveryAttempts });
      assert.equal(args.maxDeliveryAttempts, 5);
    });

    it("the push subscription retries with back-off, never expires, and has an ack deadline that covers the function timeout", () => {
      const push = subscriptionNamed("-work-push");
      assert.deepEqual(push.inputs.retryPolicy, { minimumBackoff: "10s", maximumBackoff: "600s" });
      assert.deepEqual(push.inputs.expirationPolicy, { ttl: "" });
      const ack = push.inputs.ackDeadlineSeconds as number;
      assert.ok(ack >= args.functionTimeoutSeconds && ack <= ACK_DEADLINE_SECONDS.max, `ack deadline ${ack} s vs timeout ${args.functionTimeoutSeconds} s`);
    });

    it("pushes the wrapped envelope to the function's run.app URL with an OIDC token of the invoker account, audience that URL", () => {
      const pushConfig = subscriptionNamed("-work-push").inputs.pushConfig as Record<string, unknown>;
      assert.equal(pushConfig.pushEndpoint, functionUrl());
      assert.deepEqual(pushConfig.oidcToken, { serviceAccountEmail: accountEmail("-invoker-sa"), audience: functionUrl() });
      assert.equal(pushConfig.noWrapper, undefined, "the handler decodes the wrapped push envelope");
    });

    it("a paused fleet stays paused across pulumi up: the push config is set on create, then left to `fleet pause` / `fleet resume`", () => {
      assert.deepEqual(subscriptionNamed("-work-push").ignoreChanges, ["pushConfig"]);
      assert.deepEqual(subscriptionNamed("-dlq-sub").ignoreChanges, [], "the dead-letter subscription is pull and fully managed");
    });

    it("the Pub/Sub service agent may publish to the dead-letter topic and subscribe to the work subscription, or attempts are not counted", () => {
      const publisher = one(result, GCP.topicIamMember);
      assert.deepEqual([publisher.inputs.topic, publisher.inputs.role, publisher.inputs.member], [one(result, GCP.topic, "-dlq").inputs.name, "roles/pubsub.publisher", PUBSUB_AGENT]);
      const subscriber = one(result, GCP.subscriptionIamMember);
      assert.deepEqual([subscriber.inputs.subscription, subscriber.inputs.role, subscriber.inputs.member], [subscriptionNamed("-work-push").inputs.name, "roles/pubsub.subscriber", PUBSUB_AGENT]);
      assert.equal(one(result, GCP.serviceIdentity).inputs.service, "pubsub.googleapis.com");
    });

    it("the Pub/Sub service agent may mint tokens for the invoker account only", () => {
      const grant = one(result, GCP.serviceAccountIamMember);
      assert.deepEqual(
        [grant.inputs.serviceAccountId, grant.inputs.role, grant.inputs.member],
        [`projects/${project}/serviceAccounts/${accountEmail("-invoker-sa")}`, "roles/iam.serviceAccountTokenCreator", PUBSUB_AGENT],
      );
    });
  });

  describe("worker", () => {
    it("is triggered by our push subscription, not by an Eventarc trigger (no eventTrigger)", () => {
      assert.equal(fn().inputs.eventTrigger, undefined);
    });

    it(`runs on ${WORKER_RUNTIME} (undici 8 needs Node >= 22.19) from the HTTP entry point the handler registers`, () => {
      const build = fn().inputs.buildConfig as Record<string, unknown>;
      assert.equal(build.runtime, "nodejs24");
      assert.equal(build.entryPoint, ENTRY_POINT);
    });

    it("bounds the fleet at maxWorkers instances × messagesPerWorker requests, with a whole vCPU for concurrency above 1", () => {
      const service = serviceConfig();
      assert.deepEqual([service.maxInstanceCount, service.maxInstanceRequestConcurrency], [args.maxWorkers, args.messagesPerWorker]);
      assert.equal(service.availableMemory, `${args.memoryMb}Mi`);
      assert.ok(Number(service.availableCpu) >= 1, `availableCpu ${String(service.availableCpu)} with concurrency ${args.messagesPerWorker}`);
      assert.equal(service.timeoutSeconds, args.functionTimeoutSeconds);
    });

    it("accepts internal traffic only, runs as its own runtime account, and is told where its results and settings are", () => {
      const service = serviceConfig();
      assert.equal(service.ingressSettings, "ALLOW_INTERNAL_ONLY");
      assert.equal(service.serviceAccountEmail, accountEmail("-runtime-sa"));
      const env = service.environmentVariables as Record<string, string>;
      assert.equal(env[FUNCTION_ENV.resultsBucket], one(result, GCP.bucket, "-results").inputs.name ?? `${one(result, GCP.bucket, "-results").name}-0a1b2c3`);
      assert.equal(env[FUNCTION_ENV.settingsParameter], `projects/${project}/locations/global/parameters/${str(one(result, GCP.parameter).inputs.parameterId, "parameterId")}`);
      assert.equal(env[FUNCTION_ENV.timeoutSeconds], String(args.functionTimeoutSeconds));
      assert.equal(env[FUNCTION_ENV.fleetName], args.namePrefix);
    });

    it("is built from a content-hashed zip in the source bucket, so a code change redeploys", () => {
      const object = one(result, GCP.bucketObject);
      const source = (fn().inputs.buildConfig as { source: { storageSource: Record<string, unknown> } }).source.storageSource;
      assert.match(str(object.inputs.name, "object name"), /^worker-[0-9a-f]{16}\.zip$/);
      assert.deepEqual([source.object, source.bucket], [object.inputs.name, `${one(result, GCP.bucket, "-source").name}-0a1b2c3`]);
      assert.equal(object.inputs.bucket, source.bucket);
    });

    it("the zip's package.json starts the bundle and pins the Functions Framework the tests ran; the bundle leaves the framework out", () => {
      const packageJson = JSON.parse(workerPackageJson()) as { main: string; dependencies: Record<string, string> };
      assert.equal(packageJson.main, "index.js");
      const installed = (JSON.parse(readFileSync(require.resolve("@google-cloud/functions-framework").replace(/build[\\/]src[\\/]index\.js$/, "package.json"), "utf8")) as { version: string }).version;
      assert.deepEqual(packageJson.dependencies, { "@google-cloud/functions-framework": installed });
      const code = readFileSync(bundleGcpWorker().files[0].path, "utf8");
      assert.match(code, /require\("@google-cloud\/functions-framework"\)/);
    });

    it("only the invoker account may invoke it, through the function's Cloud Run service (gen2)", () => {
      const grant = one(result, GCP.runServiceIamMember);
      assert.deepEqual([grant.inputs.name, grant.inputs.location, grant.inputs.role, grant.inputs.member], [fn().inputs.name, region, "roles/run.invoker", `serviceAccount:${accountEmail("-invoker-sa")}`]);
      assert.equal(ofType(result, GCP.functionIamMember).length, 0);
      for (const resource of result.resources) assert.ok(!JSON.stringify(resource.inputs).includes("allUsers"), `${resource.name} grants allUsers`);
    });

    it("keeps its logs logRetentionDays in their own bucket, routed by a sink and kept out of _Default", () => {
      const bucket = one(result, GCP.logBucket);
      assert.equal(bucket.inputs.retentionDays, args.logRetentionDays);
      const sink = one(result, GCP.logSink);
      const exclusion = one(result, GCP.logExclusion);
      assert.equal(sink.inputs.destination, `logging.googleapis.com/projects/${project}/locations/${region}/buckets/${str(bucket.inputs.bucketId, "bucketId")}`);
      assert.equal(sink.inputs.filter, `resource.type="cloud_run_revision" AND resource.labels.service_name="${str(fn().inputs.name, "function name")}"`);
      assert.equal(exclusion.inputs.filter, sink.inputs.filter);
    });
  });

  describe("results and settings", () => {
    it("the results bucket enforces public access prevention and uniform bucket-level access", () => {
      for (const bucket of ofType(result, GCP.bucket)) {
        assert.equal(bucket.inputs.publicAccessPrevention, "enforced", bucket.name);
        assert.equal(bucket.inputs.uniformBucketLevelAccess, true, bucket.name);
      }
    });

    it("deletes raw HTML after rawHtmlRetentionDays and keeps the records", () => {
      assert.deepEqual(one(result, GCP.bucket, "-results").inputs.lifecycleRules, [{ action: { type: "Delete" }, condition: { age: args.rawHtmlRetentionDays, matchesPrefixes: ["raw/"] } }]);
    });

    it("the runtime account may create and overwrite objects in the results bucket only (objectUser: overwrite needs delete)", () => {
      const grants = ofType(result, GCP.bucketIamMember);
      assert.equal(grants.length, 1);
      assert.deepEqual([grants[0].inputs.bucket, grants[0].inputs.role, grants[0].inputs.member], [`${one(result, GCP.bucket, "-results").name}-0a1b2c3`, "roles/storage.objectUser", `serviceAccount:${accountEmail("-runtime-sa")}`]);
    });

    it("holds the stack's settings as the JSON parameter's first version, named `initial`", () => {
      assert.equal(one(result, GCP.parameter).inputs.format, "JSON");
      const version = one(result, GCP.parameterVersion);
      assert.equal(version.inputs.parameterVersionId, "initial");
      assert.equal(version.inputs.parameter, `projects/${project}/locations/global/parameters/${str(one(result, GCP.parameter).inputs.parameterId, "parameterId")}`);
      assert.deepEqual(parseSettings(JSON.parse(str(version.inputs.parameterData, "parameterData"))), args.settings);
    });
  });

  describe("identity", () => {
    it("grants no primitive role (owner, editor, viewer) to anyone", () => {
      for (const resource of result.resources) {
        if (typeof resource.inputs.role === "string") assert.ok(!PRIMITIVE_ROLES.includes(resource.inputs.role), `${resource.name} grants ${resource.inputs.role}`);
      }
    });

    it("makes one project-level grant, the settings reader the provider offers no parameter-level form for, and no log writer", () => {
      const projectGrants = ofType(result, GCP.projectIamMember);
      assert.deepEqual(projectGrants.map((grant) => [grant.inputs.role, grant.inputs.member]), [["roles/parametermanager.parameterViewer", `serviceAccount:${accountEmail("-runtime-sa")}`]]);
      assert.ok(!result.resources.some((resource) => resource.inputs.role === "roles/logging.logWriter"));
    });

    it("runs the function and signs the pushes with two different accounts", () => {
      assert.notEqual(accountEmail("-runtime-sa"), accountEmail("-invoker-sa"));
    });
  });

  describe("alerts and dashboard", () => {
    const policies = () => ofType(result, GCP.alertPolicy);
    const conditions = (key: string) => one(result, GCP.alertPolicy, `-${key}`).inputs.conditions as Record<string, Record<string, unknown>>[];
    const workSubscription = () => str(subscriptionNamed("-work-push").inputs.name, "subscription name");

    it("every alert policy has the notification channel", () => {
      const channel = one(result, GCP.notificationChannel);
      assert.equal(channel.inputs.type, "email");
      assert.deepEqual(channel.inputs.labels, { email_address: args.alertEmail });
      assert.equal(policies().length, 5);
      for (const policy of policies()) assert.deepEqual(policy.inputs.notificationChannels, [`projects/${project}/notificationChannels/${channel.name}`], policy.name);
    });

    it("every alert policy notifies when it opens and when it closes", () => {
      for (const policy of policies()) assert.deepEqual(policy.inputs.alertStrategy, { notificationPrompts: ["OPENED", "CLOSED"] }, policy.name);
    });

    it("alerts on the work backlog and the oldest message's age at the stack's thresholds", () => {
      const [backlog] = conditions("backlog");
      assert.match(str(backlog.conditionThreshold.filter, "filter"), new RegExp(`subscription_id = "${workSubscription()}".*subscription/num_undelivered_messages`));
      assert.equal(backlog.conditionThreshold.thresholdValue, args.alarms.backlogMessages);
      const [oldest] = conditions("oldest-message");
      assert.match(str(oldest.conditionThreshold.filter, "filter"), /subscription\/oldest_unacked_message_age/);
      assert.equal(oldest.conditionThreshold.thresholdValue, args.alarms.oldestMessageAgeSeconds);
    });

    it("alerts as soon as one message waits in the dead-letter subscription", () => {
      const [condition] = conditions("dead-letters");
      assert.match(str(condition.conditionThreshold.filter, "filter"), new RegExp(`subscription_id = "${str(subscriptionNamed("-dlq-sub").inputs.name, "name")}"`));
      assert.deepEqual([condition.conditionThreshold.comparison, condition.conditionThreshold.thresholdValue], ["COMPARISON_GT", 0]);
    });

    it("alerts on the function's 5xx share of Cloud Run requests at errorRatePercent", () => {
      const [condition] = conditions("error-rate");
      const threshold = condition.conditionThreshold;
      assert.match(str(threshold.filter, "filter"), /run\.googleapis\.com\/request_count.*response_code_class = "5xx"/);
      assert.match(str(threshold.denominatorFilter, "denominator"), new RegExp(`service_name = "${str(fn().inputs.name, "name")}".*request_count"$`));
      assert.equal(threshold.thresholdValue, args.alarms.errorRatePercent / 100);
    });

    it("alerts when messages wait stalledMinutes with no push acknowledged (both conditions)", () => {
      const policy = one(result, GCP.alertPolicy, "-stalled");
      assert.equal(policy.inputs.combiner, "AND");
      const [waiting, idle] = conditions("stalled");
      assert.equal(waiting.conditionThreshold.duration, `${args.alarms.stalledMinutes * 60}s`);
      assert.match(str(idle.conditionAbsent.filter, "filter"), /push_request_count.*response_class = "ack"/);
      assert.equal(idle.conditionAbsent.duration, `${args.alarms.stalledMinutes * 60}s`);
    });

    it("counts the fleet's pages with log-based metrics named after shared/metricNames.ts, over the worker's log bucket", () => {
      const metrics = ofType(result, GCP.logMetric);
      const expected = [METRICS.pagesOk, METRICS.pagesFailed, METRICS.pagesRetried, METRICS.pagesMalformed, METRICS.bytesFetched, METRICS.fetchLatencyMs].map((metric) => `${args.namePrefix}/${metric}`);
      assert.deepEqual(metrics.map((metric) => metric.inputs.name).sort(), expected.sort());
      const logBucket = one(result, GCP.logBucket);
      for (const metric of metrics) {
        assert.match(str(metric.inputs.filter, "filter"), new RegExp(`jsonPayload.event="${PAGE_METRIC_EVENT}" AND jsonPayload.Fleet="${args.namePrefix}"`));
        assert.equal(metric.inputs.bucketName, `projects/${project}/locations/${region}/buckets/${str(logBucket.inputs.bucketId, "bucketId")}`);
      }
      assert.equal(one(result, GCP.logMetric, METRICS.fetchLatencyMs).inputs.valueExtractor, `EXTRACT(jsonPayload.${METRICS.fetchLatencyMs})`);
    });

    it("the dashboard charts the queue, the function, every fleet metric and every alert policy", () => {
      const body = str(one(result, GCP.dashboard).inputs.dashboardJson, "dashboardJson");
      for (const metric of Object.values(METRICS).filter((name) => name !== METRICS.namespace && name !== METRICS.fleetDimension)) {
        assert.ok(body.includes(`logging.googleapis.com/user/${args.namePrefix}/${metric}`), `no chart for ${metric}`);
      }
      for (const needle of ["num_undelivered_messages", "oldest_unacked_message_age", "push_request_count", "run.googleapis.com/request_count"]) assert.ok(body.includes(needle), `no chart for ${needle}`);
      const tiles = (JSON.parse(body) as { mosaicLayout: { tiles: { widget: { alertChart?: { name: string } } }[] } }).mosaicLayout.tiles;
      assert.deepEqual(tiles.filter((tile) => tile.widget.alertChart).map((tile) => tile.widget.alertChart?.name).sort(), policies().map((policy) => `projects/${project}/alertPolicies/${policy.name}`).sort());
    });
  });

  describe("labels and outputs", () => {
    it("puts the fleet's GCP-safe labels on every labelable resource", () => {
      const expected = gcpLabels(fleetTags(STACK, { environment: "production" }));
      let checked = 0;
      for (const resource of result.resources) {
        const field = LABELED[resource.type];
        if (field === undefined) continue;
        assert.deepEqual(resource.inputs[field], expected, `${resource.type} ${resource.name}`);
        checked += 1;
      }
      assert.ok(checked >= 12, `only ${checked} labeled resources`);
    });

    it("stack outputs are exactly FLEET_OUTPUT_NAMES, with the work topic, dead-letter subscription and settings parameter ids", () => {
      assert.deepEqual(Object.keys(result.outputs).sort(), [...FLEET_OUTPUT_NAMES].sort());
      assert.equal(result.outputs.workQueueUrl, `projects/${project}/topics/${str(one(result, GCP.topic, "-work").inputs.name, "name")}`);
      assert.equal(result.outputs.deadLetterQueueUrl, `projects/${project}/subscriptions/${str(subscriptionNamed("-dlq-sub").inputs.name, "name")}`);
      assert.equal(result.outputs.configLocation, `projects/${project}/locations/global/parameters/${str(one(result, GCP.parameter).inputs.parameterId, "parameterId")}`);
      assert.match(result.outputs.dashboardUrl, /^https:\/\/console\.cloud\.google\.com\/monitoring\/dashboards\/custom\/0f1e2d3c-4b5a\?project=/);
    });
  });

  describe("with a webhook and pushSettings", () => {
    let variant: MockRunResult;
    before(async () => {
      variant = await run({ "scrape-fleet:alertWebhookUrl": { secret: "https://hooks.example/alerts?token=s3cret" }, "scrape-fleet:pushSettings": "true" });
    });

    it("adds a webhook channel whose URL stays a secret, and every policy notifies both channels", () => {
      const channels = ofType(variant, GCP.notificationChannel);
      const webhook = channels.find((channel) => channel.inputs.type === "webhook_tokenauth");
      assert.ok(webhook, "no webhook channel");
      assert.ok(webhook.secretInputs.includes("labels"), "the webhook URL is not a secret input");
      for (const policy of ofType(variant, GCP.alertPolicy)) assert.equal((policy.inputs.notificationChannels as string[]).length, 2, policy.name);
    });

    it("names the program's settings version after the settings' hash, so changed settings become the newest version", () => {
      assert.equal(one(variant, GCP.parameterVersion).inputs.parameterVersionId, programVersionId(args.settings, true));
      assert.match(programVersionId(args.settings, true), /^stack-[0-9a-f]{12}$/);
      assert.notEqual(programVersionId(args.settings, true), programVersionId({ ...args.settings, concurrency: 1 }, true));
    });
  });

  describe("bad input fails `pulumi up` with the key and the fix", () => {
    // mockRun directly, not the cached runStack: its cache key drops `undefined` (a removed key) and would hand back the valid run.
    const failure = (configOverrides: Record<string, string | undefined>) => mockRun({ stack: STACK, configOverrides: withOperatorAddresses(STACK, configOverrides) }).then(
      () => assert.fail("the stack ran"),
      (error: unknown) => {
        assert.ok(error instanceof SettingsError, `not a SettingsError: ${String(error)}`);
        return error;
      },
    );

    it("a missing gcp:project names the key and `pulumi config set gcp:project`", async () => {
      const error = await failure({ "gcp:project": undefined });
      assert.match(error.message, /`gcp:project` is required.*pulumi config set gcp:project/);
    });

    it("a missing gcp:region names the key and the fix", async () => {
      const error = await failure({ "gcp:region": undefined });
      assert.match(error.message, /`gcp:region` is required.*pulumi config set gcp:region us-central1/);
    });

    it("a missing alert e-mail names scrape-fleet:alertEmail", async () => {
      const error = await failure({ "scrape-fleet:alertEmail": undefined });
      assert.match(error.message, /`scrape-fleet:alertEmail` is required/);
    });

    it("maxDeliveryAttempts outside 5–100 (Pub/Sub's range) names the value", async () => {
      for (const value of ["4", "101"]) {
        const error = await failure({ "scrape-fleet:maxDeliveryAttempts": value });
        assert.match(error.message, new RegExp(`\`scrape-fleet:maxDeliveryAttempts\` must be an integer from 5 to 100 \\(given "${value}"\\)`));
      }
    });

    it("an ack deadline shorter than the function timeout names both and the fix", async () => {
      const error = await failure({ "scrape-fleet:ackDeadlineSeconds": "60" });
      assert.match(error.message, /`scrape-fleet:ackDeadlineSeconds` is shorter than functionTimeoutSeconds \(120\).*\(given 60\).*pulumi config set scrape-fleet:ackDeadlineSeconds 120/);
    });
  });
});

describe("Google Cloud config (pure)", () => {
  const fleet = { functionTimeoutSeconds: 120, messagesPerWorker: 10, memoryMb: 1024, logRetentionDays: 30, alarms: { stalledMinutes: 15 } };
  const valid = { project: "my-project-1", region: "us-central1" };
  const issuesOf = (raw: Parameters<typeof validateGcpConfig>[0], limits = fleet) => {
    const validation = validateGcpConfig(raw, limits);
    return validation.ok ? [] : validation.issues;
  };
  const gcpConfig = (raw: Parameters<typeof validateGcpConfig>[0], limits = fleet) => validOrThrow(validateGcpConfig(raw, limits), "stack config (Google Cloud)");

  it("derives the ack deadline from the function timeout, at least Pub/Sub's 10 s", () => {
    assert.equal(gcpConfig(valid, fleet).ackDeadlineSeconds, 120);
    assert.equal(gcpConfig(valid, { ...fleet, functionTimeoutSeconds: 5 }).ackDeadlineSeconds, 10);
  });

  it("refuses a function timeout above 600 s: a push request may not take longer", () => {
    assert.deepEqual(issuesOf(valid, { ...fleet, functionTimeoutSeconds: 900 }).map((issue) => issue.key), ["scrape-fleet:functionTimeoutSeconds"]);
  });

  it("gives concurrency above 1 a whole vCPU, and one request at a time the runtime's default share", () => {
    assert.equal(defaultWorkerCpu(512, 10), "1");
    assert.equal(defaultWorkerCpu(512, 1), "0.333");
    assert.equal(defaultWorkerCpu(8192, 10), "2");
    assert.equal(defaultWorkerCpu(16_384, 1), "4");
  });

  it("refuses a CPU and memory combination Cloud Run cannot run, with a CPU that fits", () => {
    assert.match(String(cpuProblem(0.5, 512, 10)), /only one request at a time/);
    assert.match(String(cpuProblem(1, 8192, 1)), /allows 128 to 4096 MiB/);
    assert.match(String(cpuProblem(4, 1024, 1)), /allows 2048 to 16384 MiB/);
    const [issue] = issuesOf({ ...valid, workerCpu: "0.5" });
    assert.deepEqual([issue.key, issue.value], ["scrape-fleet:workerCpu", "0.5"]);
    assert.match(issue.fix, /pulumi config set scrape-fleet:workerCpu 1/);
  });

  it("refuses a stalled window below 2 minutes and a log retention above 3650 days", () => {
    assert.deepEqual(
      issuesOf(valid, { ...fleet, logRetentionDays: 3653, alarms: { stalledMinutes: 1 } }).map((issue) => issue.key),
      ["scrape-fleet:logRetentionDays", "scrape-fleet:alarms.stalledMinutes"],
    );
  });

  it("reports every bad key at once", () => {
    assert.deepEqual(issuesOf({ ackDeadlineSeconds: "700" }).map((issue) => issue.key), ["gcp:project", "gcp:region", "scrape-fleet:ackDeadlineSeconds"]);
  });
});
