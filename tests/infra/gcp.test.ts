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
import { GCP_LIMITS } from "../../infra/cloudLimits";
import { cpuProblem, defaultWorkerCpu, validateGcpConfig } from "../../infra/gcp/config";
import { programVersionId } from "../../infra/gcp/configStore";
import { FILTERS } from "../../infra/gcp/alarms";
import { PAGES_BY_OUTCOME } from "../../infra/gcp/dashboard";
import { MAX_HOLD_SECONDS } from "../../functions/gcp/redelivery";
import { deliveryOffsetSeconds, SAFETY_NET_DELIVERIES } from "../../infra/gcp/queue";
import { transientFailureToDeadLetterMs } from "../../infra/gcp/recovery";
import { visibilitySeconds } from "../../functions/aws/holds";
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
  [GCP.artifactRepository]: "labels",
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

    it("enables Cloud Resource Manager, through which every project-level grant is made", () => {
      assert.ok(ofType(result, GCP.projectIamMember).length > 0);
      assert.ok(ofType(result, GCP.service).some((service) => service.inputs.service === "cloudresourcemanager.googleapis.com"));
    });
  });

  describe("Pub/Sub", () => {
    it("the dead-letter topic has its own subscription, so dead letters are kept, for 31 days (the most Pub/Sub keeps), never expiring", () => {
      const dlqTopic = one(result, GCP.topic, "-dlq");
      const dlqSubscription = subscriptionNamed("-dlq-sub");
      assert.equal(dlqSubscription.inputs.topic, `projects/${project}/topics/${str(dlqTopic.inputs.name, "topic name")}`);
      assert.equal(dlqSubscription.inputs.messageRetentionDuration, "2678400s");
      assert.deepEqual(dlqSubscription.inputs.expirationPolicy, { ttl: "" });
    });

    const topicId = (suffix: string) => `projects/${project}/topics/${str(one(result, GCP.topic, suffix).inputs.name, "topic name")}`;

    it("two push subscriptions, on the work topic and on the retry topic, each with Pub/Sub's own dead-letter policy at its maximum as a safety net", () => {
      for (const [subscription, topic] of [["-work-push", "-work"], ["-retry-push", "-retry"]]) {
        const push = subscriptionNamed(subscription);
        assert.equal(push.inputs.topic, topicId(topic));
        assert.deepEqual(push.inputs.deadLetterPolicy, { deadLetterTopic: topicId("-dlq"), maxDeliveryAttempts: GCP_LIMITS.maxDeliveryAttempts.max });
      }
    });

    it("the stack's maxDeliveryAttempts is counted by the handler: the function is told it and where to publish", () => {
      const env = serviceConfig().environmentVariables as Record<string, string>;
      assert.deepEqual([env[FUNCTION_ENV.maxDeliveryAttempts], env[FUNCTION_ENV.retryTopic], env[FUNCTION_ENV.deadLetterTopic]], [String(args.maxDeliveryAttempts), topicId("-retry"), topicId("-dlq")]);
    });

    it("the retry subscription keeps a held copy past the longest hold, and its safety net does not dead-letter it first", () => {
      const retry = subscriptionNamed("-retry-push");
      assert.ok(Number.parseInt(str(retry.inputs.messageRetentionDuration, "retention"), 10) > MAX_HOLD_SECONDS);
      assert.ok(deliveryOffsetSeconds(SAFETY_NET_DELIVERIES) >= MAX_HOLD_SECONDS, `${SAFETY_NET_DELIVERIES} deliveries span ${deliveryOffsetSeconds(SAFETY_NET_DELIVERIES)} s`);
    });

    it("a paused fleet stays paused across pulumi up: both push configs are set on create, then left to `fleet pause` / `fleet resume`", () => {
      for (const name of ["-work-push", "-retry-push"]) assert.deepEqual(subscriptionNamed(name).ignoreChanges, ["pushConfig"], name);
      assert.deepEqual(subscriptionNamed("-dlq-sub").ignoreChanges, [], "the dead-letter subscription is pull and fully managed");
    });

    it("both push subscriptions retry with back-off, never expire, and have an ack deadline of the function timeout + 60 s for a cold start and Cloud Run's queue", () => {
      for (const name of ["-work-push", "-retry-push"]) {
        const push = subscriptionNamed(name);
        assert.deepEqual(push.inputs.retryPolicy, { minimumBackoff: "10s", maximumBackoff: "600s" });
        assert.deepEqual(push.inputs.expirationPolicy, { ttl: "" });
        assert.equal(push.inputs.ackDeadlineSeconds, args.functionTimeoutSeconds + GCP_LIMITS.ackMarginSeconds);
      }
    });

    it("both push the wrapped envelope to the function's run.app URL with an OIDC token of the invoker account, audience that URL", () => {
      for (const name of ["-work-push", "-retry-push"]) {
        const pushConfig = subscriptionNamed(name).inputs.pushConfig as Record<string, unknown>;
        assert.equal(pushConfig.pushEndpoint, functionUrl());
        assert.deepEqual(pushConfig.oidcToken, { serviceAccountEmail: accountEmail("-invoker-sa"), audience: functionUrl() });
        assert.equal(pushConfig.noWrapper, undefined, "the handler decodes the wrapped push envelope");
      }
    });

    it("the Pub/Sub service agent may publish to the dead-letter topic and subscribe to both push subscriptions, or it cannot dead-letter", () => {
      const agentPublishers = ofType(result, GCP.topicIamMember).filter((grant) => grant.inputs.member === PUBSUB_AGENT);
      assert.deepEqual(agentPublishers.map((grant) => [grant.inputs.topic, grant.inputs.role]), [[one(result, GCP.topic, "-dlq").inputs.name, "roles/pubsub.publisher"]]);
      const subscribers = ofType(result, GCP.subscriptionIamMember);
      assert.deepEqual(
        subscribers.map((grant) => [grant.inputs.subscription, grant.inputs.role, grant.inputs.member]).sort(),
        [subscriptionNamed("-retry-push").inputs.name, subscriptionNamed("-work-push").inputs.name].sort().map((name) => [name, "roles/pubsub.subscriber", PUBSUB_AGENT]),
      );
      assert.equal(one(result, GCP.serviceIdentity).inputs.service, "pubsub.googleapis.com");
    });

    it("the runtime account may publish to the retry and dead-letter topics only", () => {
      const runtimePublishers = ofType(result, GCP.topicIamMember).filter((grant) => grant.inputs.member === `serviceAccount:${accountEmail("-runtime-sa")}`);
      assert.deepEqual(runtimePublishers.map((grant) => [grant.inputs.topic, grant.inputs.role]).sort(), [[one(result, GCP.topic, "-dlq").inputs.name, "roles/pubsub.publisher"], [one(result, GCP.topic, "-retry").inputs.name, "roles/pubsub.publisher"]].sort());
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

    it("is built by its own build account (full resource name) into the fleet's image repository, with exactly the build's roles", () => {
      const build = fn().inputs.buildConfig as Record<string, unknown>;
      assert.equal(build.serviceAccount, `projects/${project}/serviceAccounts/${accountEmail("-build-sa")}`);
      const repository = one(result, GCP.artifactRepository);
      assert.equal(repository.inputs.format, "DOCKER");
      assert.equal(build.dockerRepository, `projects/${project}/locations/${region}/repositories/${str(repository.inputs.repositoryId, "repositoryId")}`);
      const buildMember = `serviceAccount:${accountEmail("-build-sa")}`;
      const grants = result.resources.filter((resource) => resource.inputs.member === buildMember);
      assert.deepEqual(grants.map((grant) => [grant.type, grant.inputs.role]).sort(), [
        [GCP.artifactRepositoryIamMember, "roles/artifactregistry.writer"],
        [GCP.bucketIamMember, "roles/storage.objectViewer"],
        [GCP.projectIamMember, "roles/logging.logWriter"],
        [GCP.projectIamMember, "roles/storage.objectViewer"],
      ].sort());
      const sourceCopy = grants.find((grant) => grant.type === GCP.projectIamMember && grant.inputs.role === "roles/storage.objectViewer");
      assert.match(String((sourceCopy?.inputs.condition as Record<string, unknown>).expression), /startsWith\("projects\/_\/buckets\/gcf-v2-sources-"\)/);
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
      const grants = ofType(result, GCP.bucketIamMember).filter((grant) => grant.inputs.member === `serviceAccount:${accountEmail("-runtime-sa")}`);
      assert.equal(grants.length, 1);
      assert.deepEqual([grants[0].inputs.bucket, grants[0].inputs.role, grants[0].inputs.member], [`${one(result, GCP.bucket, "-results").name}-0a1b2c3`, "roles/storage.objectUser", `serviceAccount:${accountEmail("-runtime-sa")}`]);
      // No IAM condition narrows the grant to object-name prefixes, so batch objects under results/batches/ are covered.
      assert.equal(grants[0].inputs.condition, undefined);
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

    it("makes project-level grants only where the cloud has no narrower form: the settings reader, the build's log writer and its conditioned source-copy reader", () => {
      const projectGrants = ofType(result, GCP.projectIamMember);
      assert.deepEqual(
        projectGrants.map((grant) => [grant.inputs.role, grant.inputs.member]).sort(),
        [
          ["roles/parametermanager.parameterViewer", `serviceAccount:${accountEmail("-runtime-sa")}`],
          ["roles/logging.logWriter", `serviceAccount:${accountEmail("-build-sa")}`],
          ["roles/storage.objectViewer", `serviceAccount:${accountEmail("-build-sa")}`],
        ].sort(),
      );
      assert.ok(!projectGrants.some((grant) => grant.inputs.role === "roles/storage.objectViewer" && grant.inputs.condition === undefined));
    });

    it("runs the function, builds it and signs the pushes with three different accounts", () => {
      assert.equal(new Set([accountEmail("-runtime-sa"), accountEmail("-build-sa"), accountEmail("-invoker-sa")]).size, 3);
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
      assert.equal(policies().length, 6);
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
      const expected = [METRICS.pagesOk, METRICS.pagesFailed, METRICS.pagesRetried, METRICS.pagesMalformed, PAGES_BY_OUTCOME, METRICS.bytesFetched, METRICS.fetchLatencyMs].map((metric) => `${args.namePrefix}/${metric}`);
      assert.deepEqual(metrics.map((metric) => metric.inputs.name).sort(), expected.sort());
      const logBucket = one(result, GCP.logBucket);
      for (const metric of metrics) {
        assert.match(str(metric.inputs.filter, "filter"), new RegExp(`jsonPayload.event="${PAGE_METRIC_EVENT}" AND jsonPayload.Fleet="${args.namePrefix}"`));
        assert.equal(metric.inputs.bucketName, `projects/${project}/locations/${region}/buckets/${str(logBucket.inputs.bucketId, "bucketId")}`);
      }
      assert.equal(one(result, GCP.logMetric, METRICS.fetchLatencyMs).inputs.valueExtractor, `EXTRACT(jsonPayload.${METRICS.fetchLatencyMs})`);
      assert.deepEqual(one(result, GCP.logMetric, `-metric-${PAGES_BY_OUTCOME}`).inputs.labelExtractors, { outcome: "EXTRACT(jsonPayload.outcome)" });
    });

    it("alerts when retryRatePercent of the pages in 15 minutes end retry or malformed (also when the workers cannot read their settings)", () => {
      const [condition] = conditions("page-retries");
      const threshold = condition.conditionThreshold;
      const pages = `metric.type = "logging.googleapis.com/user/${args.namePrefix}/${PAGES_BY_OUTCOME}"`;
      assert.equal(threshold.denominatorFilter, pages);
      assert.equal(threshold.filter, `${pages} AND metric.labels.outcome = monitoring.regex.full_match("retry|malformed")`);
      assert.deepEqual([threshold.comparison, threshold.thresholdValue], ["COMPARISON_GE", args.alarms.retryRatePercent / 100]);
      for (const aggregations of [threshold.aggregations, threshold.denominatorAggregations]) {
        assert.deepEqual(aggregations, [{ alignmentPeriod: "900s", perSeriesAligner: "ALIGN_DELTA", crossSeriesReducer: "REDUCE_SUM" }]);
      }
      const documentation = one(result, GCP.alertPolicy, "-page-retries").inputs.documentation as Record<string, unknown>;
      assert.match(str(documentation.content, "documentation"), /settings_unavailable/);
    });

    it("the dashboard charts the queue, the function, every fleet metric and every alert policy", () => {
      const body = str(one(result, GCP.dashboard).inputs.dashboardJson, "dashboardJson");
      for (const metric of Object.values(METRICS).filter((name) => name !== METRICS.namespace && name !== METRICS.fleetDimension)) {
        assert.ok(body.includes(`logging.googleapis.com/user/${args.namePrefix}/${metric}`), `no chart for ${metric}`);
      }
      for (const needle of ["num_undelivered_messages", "oldest_unacked_message_age", "push_request_count", "run.googleapis.com/request_count"]) assert.ok(body.includes(needle), `no chart for ${needle}`);
      for (const subscription of ["-work-push", "-retry-push", "-dlq-sub"]) {
        const name = str(subscriptionNamed(subscription).inputs.name, "subscription name");
        assert.ok(body.includes(JSON.stringify(FILTERS.backlog(name))), `no backlog chart for ${name}`);
      }
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

    it("an ack deadline shorter than the function timeout + 60 s names both and the fix", async () => {
      const error = await failure({ "scrape-fleet:ackDeadlineSeconds": "150" });
      assert.match(error.message, /`scrape-fleet:ackDeadlineSeconds` is shorter than functionTimeoutSeconds \(120\) \+ 60 s.*\(given 150\).*pulumi config set scrape-fleet:ackDeadlineSeconds 180/);
    });

    it("a stalled window above 23.5 hours is refused before anything is declared", async () => {
      const error = await failure({ "scrape-fleet:alarms": JSON.stringify({ stalledMinutes: 1440 }) });
      assert.match(error.message, /`scrape-fleet:alarms.stalledMinutes` is above 1410 \(23.5 hours\).*\(given 1440\).*pulumi config set --path scrape-fleet:alarms.stalledMinutes 1410/);
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

  it("derives the ack deadline as the function timeout + 60 s", () => {
    assert.equal(gcpConfig(valid, fleet).ackDeadlineSeconds, 180);
    assert.equal(gcpConfig(valid, { ...fleet, functionTimeoutSeconds: 5 }).ackDeadlineSeconds, 65);
    assert.equal(gcpConfig(valid, { ...fleet, functionTimeoutSeconds: 540 }).ackDeadlineSeconds, GCP_LIMITS.ackDeadlineSeconds.max);
  });

  it("refuses a function timeout above 540 s: with the 60 s margin the push would outlast Pub/Sub's 600 s ack deadline", () => {
    const [issue] = issuesOf(valid, { ...fleet, functionTimeoutSeconds: 541 });
    assert.deepEqual([issue.key, issue.value], ["scrape-fleet:functionTimeoutSeconds", 541]);
    assert.match(issue.fix, /pulumi config set scrape-fleet:functionTimeoutSeconds 540/);
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

  it("refuses a stalled window above 1410 minutes, the longest missing-data window Cloud Monitoring takes, and takes 1410", () => {
    assert.deepEqual(issuesOf(valid, { ...fleet, alarms: { stalledMinutes: 1411 } }).map((issue) => issue.key), ["scrape-fleet:alarms.stalledMinutes"]);
    assert.deepEqual(issuesOf(valid, { ...fleet, alarms: { stalledMinutes: 1410 } }), []);
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

describe("Google Cloud recovery time (the handler's own schedule over the deployed subscription)", () => {
  const { fleet } = stackConfig(STACK);
  const awsToDeadLetterMs = (attempts: number, random: () => number) => {
    let seconds = 0;
    for (let receive = 1; receive <= attempts; receive += 1) seconds += visibilitySeconds({ kind: "retry", code: "http_5xx", reason: "503" }, receive, random) ?? 0;
    return seconds * 1000;
  };

  it("with the stack's defaults, a page's first transient failure is dead-lettered no sooner than an hour later", () => {
    assert.equal(fleet.args.maxDeliveryAttempts, 5);
    const shortest = transientFailureToDeadLetterMs(fleet.args);
    assert.ok(shortest >= 3_600_000, `${shortest / 60_000} minutes`);
  });

  it("gives a failing site the time the AWS handler gives it, within one retry-subscription step per hold", () => {
    for (const random of [() => 0, () => 0.999_999]) {
      for (const maxDeliveryAttempts of [5, 8]) {
        const gcp = transientFailureToDeadLetterMs({ maxDeliveryAttempts }, random);
        const aws = awsToDeadLetterMs(maxDeliveryAttempts, random);
        assert.ok(gcp >= aws && gcp <= aws + maxDeliveryAttempts * 600_000, `${maxDeliveryAttempts} attempts: Google Cloud ${gcp / 60_000} min, AWS ${aws / 60_000} min`);
      }
    }
  });
});
