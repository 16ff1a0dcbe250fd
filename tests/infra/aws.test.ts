/**
 * Policies for the AWS fleet, checked on the resources the program registers
 * under mocks for each AWS stack file (no cloud, no Pulumi CLI).
 */
import assert from "node:assert/strict";
import { FLEET_OUTPUT_NAMES } from "../../infra/contract";
import { validateAwsConfig } from "../../infra/aws/config";
import { validOrThrow } from "../../infra/config";
import { settingsParameterName } from "../../infra/aws/configStore";
import { ConcurrentRunError, MOCK_ACCOUNT_ID, mockRun } from "../../infra/mockRun";
import { AWS } from "../../infra/policy/types";
import { LAMBDA_ENV } from "../../functions/aws/environment";
import { EXPIRY_MARGIN_SECONDS } from "../../functions/aws/holds";
import { AWS_DEAD_LETTERED_METRIC, METRICS, PAGE_OUTCOME_METRICS } from "../../shared/metricNames";
import { rawHtmlKey, resultBatchKey, resultKey } from "../../shared/result";
import { parseSettings } from "../../shared/settings";
import { jsonInput, ofType, one, runStack, stackConfig, type MockRunResult, type RecordedResource, withOperatorAddresses } from "../support/stack";

/** AWS types whose Args take `tags`, per the installed provider's .d.ts. */
const TAGGABLE = new Set<string>([AWS.queue, AWS.lambda, AWS.eventSourceMapping, AWS.logGroup, AWS.metricAlarm, AWS.bucket, AWS.topic, AWS.parameter, AWS.role]);
/** AWS types with no `tags` argument. */
const UNTAGGABLE = new Set<string>([AWS.redriveAllowPolicy, AWS.dashboard, AWS.publicAccessBlock, AWS.encryption, AWS.ownershipControls, AWS.bucketPolicy, AWS.lifecycle, AWS.topicPolicy, AWS.topicSubscription, AWS.rolePolicy]);

interface PolicyStatement {
  Sid?: string;
  Effect: string;
  Principal?: unknown;
  Action: string | string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
}

const list = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/**
 * IAM's match of a resource ARN against a policy's Resource: `*` is any run of
 * characters, slashes included, and `?` any one character.
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html#reference_policies_elements_resource_wildcards
 */
function iamResourceMatches(pattern: string, arn: string): boolean {
  const expression = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${expression}$`).test(arn);
}
const statements = (resource: RecordedResource, key = "policy") => jsonInput<{ Statement: PolicyStatement[] }>(resource, key).Statement;

for (const stack of ["aws-prod", "dev"]) {
  describe(`AWS fleet, stack ${stack} (under Pulumi mocks)`, () => {
    let result: MockRunResult;
    const { fleet, raw, config } = stackConfig(stack);
    const args = fleet.args;
    const aws = validOrThrow(validateAwsConfig({ ...raw, region: config["aws:region"] }, args), `stack ${stack} config (AWS)`);

    before(async () => {
      result = await runStack(stack);
    });

    const workQueue = () => one(result, AWS.queue, "-work");
    const deadLetterQueue = () => one(result, AWS.queue, "-dlq");
    const worker = () => one(result, AWS.lambda);
    const bucket = () => one(result, AWS.bucket);
    const topic = () => one(result, AWS.topic);

    it("the work queue redrives to the DLQ after 5 receives", () => {
      const redrive = jsonInput<{ deadLetterTargetArn: string; maxReceiveCount: number }>(workQueue(), "redrivePolicy");
      assert.equal(redrive.deadLetterTargetArn, deadLetterQueue().outputs.arn);
      assert.equal(redrive.maxReceiveCount, 5);
      assert.equal(redrive.maxReceiveCount, args.maxDeliveryAttempts);
    });

    it("the DLQ allows redrive only from the work queue", () => {
      const allow = one(result, AWS.redriveAllowPolicy);
      assert.equal(allow.inputs.queueUrl, deadLetterQueue().outputs.url);
      assert.deepEqual(jsonInput(allow, "redriveAllowPolicy"), { redrivePermission: "byQueue", sourceQueueArns: [workQueue().outputs.arn] });
    });

    it("both queues are encrypted, and dead letters are kept at least as long as work", () => {
      for (const queue of [workQueue(), deadLetterQueue()]) assert.equal(queue.inputs.sqsManagedSseEnabled, true, queue.name);
      assert.equal(deadLetterQueue().inputs.messageRetentionSeconds, 14 * 24 * 3600);
      assert.ok((deadLetterQueue().inputs.messageRetentionSeconds as number) >= (workQueue().inputs.messageRetentionSeconds as number));
    });

    it("visibility timeout is at least 6x the function timeout", () => {
      const timeout = worker().inputs.timeout as number;
      assert.equal(timeout, args.functionTimeoutSeconds);
      assert.ok((workQueue().inputs.visibilityTimeoutSeconds as number) >= 6 * timeout, `${String(workQueue().inputs.visibilityTimeoutSeconds)} < 6 x ${timeout}`);
      assert.equal(workQueue().inputs.visibilityTimeoutSeconds, aws.visibilityTimeoutSeconds);
    });

    it("the event source mapping reports batch item failures and bounds concurrency at maxWorkers", () => {
      const mapping = one(result, AWS.eventSourceMapping);
      assert.deepEqual(mapping.inputs.functionResponseTypes, ["ReportBatchItemFailures"]);
      assert.deepEqual(mapping.inputs.scalingConfig, { maximumConcurrency: args.maxWorkers });
      assert.equal(mapping.inputs.batchSize, args.messagesPerWorker);
      assert.equal(mapping.inputs.maximumBatchingWindowInSeconds, aws.batchWindowSeconds);
      assert.equal(mapping.inputs.eventSourceArn, workQueue().outputs.arn);
      assert.equal(mapping.inputs.functionName, worker().outputs.arn);
    });

    it("a paused fleet stays paused across pulumi up: the mapping's enabled is left to `fleet pause` / `fleet resume`", () => {
      const mapping = one(result, AWS.eventSourceMapping);
      assert.deepEqual(mapping.ignoreChanges, ["enabled"]);
      assert.equal(mapping.inputs.enabled, undefined, "the program never sets enabled, so a new mapping starts enabled (the provider's default)");
    });

    it("no reserved concurrency below maximumConcurrency", () => {
      const reserved = worker().inputs.reservedConcurrentExecutions;
      const maximum = (one(result, AWS.eventSourceMapping).inputs.scalingConfig as { maximumConcurrency: number }).maximumConcurrency;
      assert.ok(reserved === undefined || reserved === -1 || (reserved as number) >= maximum, `reserved ${String(reserved)} < ${maximum}`);
    });

    it("the bucket blocks all public access", () => {
      const block = one(result, AWS.publicAccessBlock);
      assert.equal(block.inputs.bucket, bucket().outputs.id);
      for (const flag of ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"]) assert.equal(block.inputs[flag], true, flag);
      assert.deepEqual(one(result, AWS.ownershipControls).inputs.rule, { objectOwnership: "BucketOwnerEnforced" });
    });

    it("the bucket is encrypted and denies non-TLS", () => {
      const [rule] = one(result, AWS.encryption).inputs.rules as { applyServerSideEncryptionByDefault: { sseAlgorithm: string } }[];
      assert.ok(["AES256", "aws:kms"].includes(rule.applyServerSideEncryptionByDefault.sseAlgorithm));
      const policy = one(result, AWS.bucketPolicy);
      assert.equal(policy.inputs.bucket, bucket().outputs.id);
      const deny = statements(policy).find((statement) => statement.Effect === "Deny");
      assert.ok(deny, "no Deny statement");
      assert.deepEqual(deny.Condition, { Bool: { "aws:SecureTransport": "false" } });
      assert.equal(deny.Principal, "*");
      const arn = bucket().outputs.arn as string;
      assert.deepEqual(list(deny.Resource).sort(), [arn, `${arn}/*`].sort());
    });

    it("raw HTML expires", () => {
      const rules = one(result, AWS.lifecycle).inputs.rules as { filter?: { prefix?: string }; expiration?: { days: number }; status: string }[];
      const raw = rules.find((rule) => rule.filter?.prefix === "raw/");
      assert.ok(raw, "no rule for raw/");
      assert.equal(raw.status, "Enabled");
      assert.equal(raw.expiration?.days, args.rawHtmlRetentionDays);
      assert.ok(rules.every((rule) => rule.expiration === undefined || rule.filter?.prefix === "raw/"), "only raw/ expires: result records are kept");
    });

    it("every alarm has an alarm action and an OK action on the alert topic", () => {
      const alarms = ofType(result, AWS.metricAlarm);
      assert.deepEqual(alarms.map((alarm) => alarm.name.slice(args.namePrefix.length + 1)).sort(), ["backlog", "dead-letter-arrivals", "dead-letters", "error-rate", "oldest-message", "page-retries", "stalled", "throttles"]);
      const topicArn = topic().outputs.arn;
      for (const alarm of alarms) {
        assert.deepEqual(alarm.inputs.alarmActions, [topicArn], alarm.name);
        assert.deepEqual(alarm.inputs.okActions, [topicArn], alarm.name);
        assert.ok(["notBreaching", "breaching", "ignore", "missing"].includes(alarm.inputs.treatMissingData as string), alarm.name);
      }
    });

    it("the alarms use the stack's thresholds on the fleet's own queue and function", () => {
      const alarm = (suffix: string) => one(result, AWS.metricAlarm, `-${suffix}`);
      assert.equal(alarm("backlog").inputs.threshold, args.alarms.backlogMessages);
      assert.deepEqual(alarm("backlog").inputs.dimensions, { QueueName: workQueue().outputs.name });
      assert.equal(alarm("oldest-message").inputs.threshold, args.alarms.oldestMessageAgeSeconds);
      assert.deepEqual(alarm("dead-letters").inputs.dimensions, { QueueName: deadLetterQueue().outputs.name });
      assert.equal(alarm("dead-letters").inputs.comparisonOperator, "GreaterThanThreshold");
      assert.equal(alarm("dead-letters").inputs.threshold, 0);
      assert.equal(alarm("dead-letters").inputs.treatMissingData, "ignore", "keeps ALARM while SQS publishes nothing for the idle dead-letter queue");
      assert.deepEqual(
        [alarm("dead-letter-arrivals").inputs.namespace, alarm("dead-letter-arrivals").inputs.metricName, alarm("dead-letter-arrivals").inputs.dimensions],
        [METRICS.namespace, AWS_DEAD_LETTERED_METRIC, { [METRICS.fleetDimension]: (worker().inputs.environment as { variables: Record<string, string> }).variables[LAMBDA_ENV.fleetName] }],
      );
      assert.equal(alarm("error-rate").inputs.threshold, args.alarms.errorRatePercent);
      assert.equal(alarm("page-retries").inputs.threshold, args.alarms.retryRatePercent);
      const pageQueries = (alarm("page-retries").inputs.metricQueries as { id: string; metric?: { namespace: string; metricName: string; dimensions: Record<string, string>; period: number } }[]).filter((query) => query.metric !== undefined);
      assert.deepEqual(
        pageQueries.map((query) => [query.metric?.namespace, query.metric?.metricName, query.metric?.dimensions, query.metric?.period]),
        PAGE_OUTCOME_METRICS.map((metric) => [METRICS.namespace, metric, { [METRICS.fleetDimension]: args.namePrefix }, 900]),
      );
      assert.equal(alarm("stalled").inputs.evaluationPeriods, args.alarms.stalledMinutes);
      assert.deepEqual(alarm("throttles").inputs.dimensions, { FunctionName: worker().outputs.name });
    });

    it("the topic policy lets CloudWatch publish", () => {
      const policy = one(result, AWS.topicPolicy);
      assert.equal(policy.inputs.arn, topic().outputs.arn);
      const publish = statements(policy).find((statement) => statement.Effect === "Allow" && list(statement.Action).includes("sns:Publish"));
      assert.ok(publish, "no Allow sns:Publish statement");
      assert.deepEqual(publish.Principal, { Service: "cloudwatch.amazonaws.com" });
      assert.equal(publish.Resource, topic().outputs.arn);
      assert.equal(publish.Condition?.StringEquals?.["aws:SourceAccount"], MOCK_ACCOUNT_ID);
      // An AWS-managed SNS key would stop CloudWatch from publishing at all.
      assert.equal(topic().inputs.kmsMasterKeyId, undefined);
    });

    it("alarms are e-mailed to alertEmail, and no webhook is subscribed without one", () => {
      const subscriptions = ofType(result, AWS.topicSubscription);
      assert.deepEqual(
        subscriptions.map((subscription) => [subscription.inputs.protocol, subscription.inputs.endpoint, subscription.inputs.topic]),
        [["email", args.alertEmail, topic().outputs.arn]],
      );
    });

    it("the role grants no wildcard action or resource", () => {
      const granted = statements(one(result, AWS.rolePolicy));
      const actions = granted.flatMap((statement) => list(statement.Action)).sort();
      const resources = granted.flatMap((statement) => list(statement.Resource)).sort();
      assert.ok(granted.every((statement) => statement.Effect === "Allow"));
      assert.ok(actions.every((action) => !action.includes("*")), `wildcard action in ${actions.join(", ")}`);
      assert.ok(resources.every((resource) => resource !== "*" && /^arn:aws:[a-z0-9-]+:[a-z0-9-]*:\d*:[^*]/.test(resource)), `wildcard resource in ${resources.join(", ")}`);
      assert.deepEqual(actions, ["logs:CreateLogStream", "logs:PutLogEvents", "s3:PutObject", "sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage", "ssm:GetParameter"]);
      const bucketArn = bucket().outputs.arn as string;
      assert.deepEqual(
        resources,
        [workQueue().outputs.arn, workQueue().outputs.arn, `${bucketArn}/results/*`, `${bucketArn}/raw/*`, one(result, AWS.parameter).outputs.arn, `${one(result, AWS.logGroup).outputs.arn}:*`].sort(),
      );
      // The handler delays the retries it returns on the work queue, and may change no other queue's messages (the DLQ's included).
      const visibility = granted.filter((statement) => list(statement.Action).includes("sqs:ChangeMessageVisibility"));
      assert.deepEqual(visibility.map((statement) => [list(statement.Action), statement.Resource]), [[["sqs:ChangeMessageVisibility"], workQueue().outputs.arn]]);
      const trust = statements(one(result, AWS.role), "assumeRolePolicy");
      assert.deepEqual(trust.map((statement) => [statement.Principal, statement.Action]), [[{ Service: "lambda.amazonaws.com" }, "sts:AssumeRole"]]);
    });

    it("the worker may write every key it writes: per-page records, batch objects under results/batches/ and raw HTML, and nothing outside them", () => {
      const bucketArn = bucket().outputs.arn as string;
      const writable = statements(one(result, AWS.rolePolicy))
        .filter((statement) => statement.Effect === "Allow" && list(statement.Action).includes("s3:PutObject"))
        .flatMap((statement) => list(statement.Resource));
      const allowed = (key: string) => writable.some((pattern) => iamResourceMatches(pattern, `${bucketArn}/${key}`));
      for (const key of [resultKey("https://shop.example/a"), resultBatchKey(Date.now()), rawHtmlKey("https://shop.example/a")]) assert.ok(allowed(key), `${key} is not in ${writable.join(", ")}`);
      for (const key of ["settings.json", "batches/x.jsonl", "resultsx/a.json"]) assert.ok(!allowed(key), `${key} should not be writable`);
    });

    it("the function's runtime is Node 22+ on arm64", () => {
      const runtime = /^nodejs(\d+)\.x$/.exec(worker().inputs.runtime as string);
      assert.ok(runtime && Number(runtime[1]) >= 22, `runtime ${String(worker().inputs.runtime)}`);
      assert.deepEqual(worker().inputs.architectures, ["arm64"]);
      assert.equal(worker().inputs.handler, "index.handler");
      assert.equal(worker().inputs.role, one(result, AWS.role).outputs.arn);
    });

    it("the function gets exactly the environment the handler reads, with source maps on", () => {
      const variables = (worker().inputs.environment as { variables: Record<string, string> }).variables;
      assert.deepEqual(variables, {
        [LAMBDA_ENV.resultsBucket]: bucket().outputs.bucket,
        [LAMBDA_ENV.settingsParameter]: settingsParameterName(args.namePrefix),
        [LAMBDA_ENV.fleetName]: args.namePrefix,
        [LAMBDA_ENV.queueRetentionSeconds]: String(workQueue().inputs.messageRetentionSeconds),
        [LAMBDA_ENV.queueMaxReceiveCount]: String((jsonInput(workQueue(), "redrivePolicy") as { maxReceiveCount: number }).maxReceiveCount),
        [LAMBDA_ENV.queueVisibilityTimeoutSeconds]: String(workQueue().inputs.visibilityTimeoutSeconds),
        NODE_OPTIONS: "--enable-source-maps",
      });
    });

    it("a message that keeps failing is dead-lettered before the work queue's retention ends: every receive at the visibility timeout, plus the margin, fits", () => {
      const receives = (jsonInput(workQueue(), "redrivePolicy") as { maxReceiveCount: number }).maxReceiveCount * (workQueue().inputs.visibilityTimeoutSeconds as number);
      assert.ok(receives + EXPIRY_MARGIN_SECONDS <= (workQueue().inputs.messageRetentionSeconds as number));
    });

    it("the log group has retention", () => {
      const logGroup = one(result, AWS.logGroup);
      assert.equal(logGroup.inputs.name, `/aws/lambda/${String(worker().inputs.name)}`);
      assert.equal(logGroup.inputs.retentionInDays, args.logRetentionDays);
      assert.deepEqual(worker().inputs.loggingConfig, { logFormat: "Text", logGroup: logGroup.inputs.name });
    });

    it("the settings parameter starts with the stack's settings, and an operator's edit is not reverted by the next pulumi up", () => {
      const parameter = one(result, AWS.parameter);
      assert.equal(parameter.inputs.name, settingsParameterName(args.namePrefix));
      assert.equal(parameter.inputs.type, "String");
      assert.equal(parameter.inputs.tier, Buffer.byteLength(parameter.inputs.value as string) <= 4_096 ? "Standard" : "Advanced");
      assert.deepEqual(JSON.parse(parameter.inputs.value as string), parseSettings(JSON.parse(raw.settings ?? "{}")));
      assert.deepEqual(parameter.ignoreChanges, ["value"]);
    });

    it("a change of the settings parameter's tier recreates it (SSM refuses Advanced back to Standard), deleting the old one first since its name is fixed", () => {
      const parameter = one(result, AWS.parameter);
      assert.deepEqual(parameter.replaceOnChanges, ["tier"]);
      assert.equal(parameter.deleteBeforeReplace, true);
    });

    it("every taggable resource carries the fleet's tags", () => {
      const awsResources = result.resources.filter((resource) => resource.custom && resource.type.startsWith("aws:"));
      const unclassified = awsResources.filter((resource) => !TAGGABLE.has(resource.type) && !UNTAGGABLE.has(resource.type)).map((resource) => resource.type);
      assert.deepEqual(unclassified, [], "a new resource type: add it to TAGGABLE or UNTAGGABLE");
      const expected = { app: "scrape-fleet", stack, "managed-by": "pulumi", ...args.tags };
      for (const resource of awsResources.filter((candidate) => TAGGABLE.has(candidate.type))) {
        assert.deepEqual(resource.inputs.tags, expected, `${resource.type} ${resource.name}`);
      }
    });

    it("stack outputs are exactly FLEET_OUTPUT_NAMES", () => {
      assert.deepEqual(Object.keys(result.outputs).sort(), [...FLEET_OUTPUT_NAMES].sort());
      assert.equal(result.outputs.workQueueUrl, workQueue().outputs.url);
      assert.equal(result.outputs.workQueueId, workQueue().outputs.arn);
      assert.equal(result.outputs.deadLetterQueueUrl, deadLetterQueue().outputs.url);
      assert.equal(result.outputs.workerName, worker().outputs.name);
      assert.equal(result.outputs.resultsBucket, bucket().outputs.bucket);
      assert.equal(result.outputs.configLocation, settingsParameterName(args.namePrefix));
      assert.equal(result.outputs.alertChannel, topic().outputs.arn);
      const region = stackConfig(stack).config["aws:region"];
      assert.equal(result.outputs.dashboardUrl, `https://console.aws.amazon.com/cloudwatch/home?region=${region}#dashboards/dashboard/${String(one(result, AWS.dashboard).inputs.dashboardName)}`);
    });

    it("the dashboard charts the fleet's own metrics under its Fleet dimension", () => {
      const body = jsonInput<{ widgets: { properties: { metrics?: unknown[][] } }[] }>(one(result, AWS.dashboard), "dashboardBody");
      const lines = body.widgets.flatMap((widget) => widget.properties.metrics ?? []);
      const fleetMetrics = lines.filter((line) => line[0] === "ScrapeFleet").map((line) => [line[1], line[2], line[3]]);
      for (const metric of ["PagesOk", "PagesFailed", "PagesRetried", "PagesMalformed", "BytesFetched", "FetchLatencyMs"]) {
        assert.ok(fleetMetrics.some(([name, dimension, value]) => name === metric && dimension === "Fleet" && value === args.namePrefix), metric);
      }
      assert.ok(lines.some((line) => line[0] === "AWS/Lambda" && line[1] === "ConcurrentExecutions" && line[3] === worker().outputs.name));
    });
  });
}

describe("AWS fleet options (under Pulumi mocks)", () => {
  it("a webhook from a secret config value is subscribed, and its URL is recorded only as a secret", async () => {
    const result = await runStack("dev", { configOverrides: { "scrape-fleet:alertWebhookUrl": { secret: "https://hooks.example.com/alerts" } } });
    const webhook = ofType(result, AWS.topicSubscription).find((subscription) => subscription.inputs.protocol === "https");
    assert.ok(webhook, "no https subscription");
    assert.equal(webhook.inputs.endpoint, "https://hooks.example.com/alerts");
    assert.deepEqual(webhook.secretInputs, ["endpoint"]);
  });

  it("pushSettings makes the next pulumi up write the stack's settings over the store's", async () => {
    const result = await runStack("dev", { configOverrides: { "scrape-fleet:pushSettings": "true" } });
    assert.deepEqual(one(result, AWS.parameter).ignoreChanges, []);
  });

  it("a second mocked run while one is under way is refused, and the first completes", async () => {
    const first = mockRun({ stack: "dev", configOverrides: withOperatorAddresses("dev") });
    await assert.rejects(mockRun({ stack: "aws-prod" }), ConcurrentRunError);
    assert.equal((await first).stack, "dev");
  });

  it("two stacks in one process each see only their own config", async () => {
    const dev = await runStack("dev");
    const prod = await runStack("aws-prod");
    const overridden = await runStack("dev", { configOverrides: { "scrape-fleet:memoryMb": "2048" } });
    assert.equal(one(dev, AWS.lambda).inputs.memorySize, 256);
    assert.equal(one(prod, AWS.lambda).inputs.memorySize, 1024);
    assert.equal(one(overridden, AWS.lambda).inputs.memorySize, 2048);
    assert.match(prod.outputs.workQueueUrl, /^https:\/\/sqs\.us-west-2\./);
    assert.match(dev.outputs.workQueueUrl, /^https:\/\/sqs\.us-east-1\./);
    assert.match(dev.outputs.workerName, /-dev-worker$/);
  });
});
