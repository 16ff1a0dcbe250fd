/**
 * The CrossGuard policy pack's rules (infra/policy), run offline over each
 * stack's mocked plan (no Pulumi CLI): each rule's resource part over the
 * recorded inputs, its stack part over the recorded outputs, as CrossGuard
 * would (infra/policy/evaluate.ts). The real plans break no rule; a plan with
 * one resource deliberately broken makes that rule name the resource and the
 * fix. The pack's index.ts is never imported: its PolicyPack serves gRPC.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import { REPO_ROOT } from "../../infra/bundle";
import { unknownCheckingProxy, UnknownValueError, type ResourceValidationArgs, type StackValidationArgs } from "@pulumi/policy";
import { checkPlan, type PlannedResource, type RuleViolation } from "../../infra/policy/evaluate";
import { fleetPolicies, policiesOf, rulesMarkdown } from "../../infra/policy/pack";
import {
  ackMargin,
  alarmHasAction,
  buildServiceAccount,
  alarmMissingData,
  alarmShape,
  deadLetterAlarm,
  deadLetterPath,
  encryptionAtRest,
  FLEET_RULES,
  flexSiteConfig,
  fleetTags,
  lambdaEnvironment,
  leastPrivilege,
  logRetention,
  nodeRuntime,
  noPublicStorage,
  requiredApis,
  parameterSize,
  queueRetention,
} from "../../infra/policy/rules";
import { AWS, AZURE, GCP } from "../../infra/policy/types";
import { web as webDefaults } from "@pulumi/azure-native/types/input";
import type { FleetRule } from "../../infra/policy/view";
import { runStack } from "../support/stack";

type Props = Record<string, unknown>;
type Plan = readonly PlannedResource[];

/** Every stack file; the mocks answer with each cloud's real id formats (infra/<cloud>/mockState.ts), so rules that match by id see what the cloud would give. */
const STACKS = ["dev", "aws-prod", "azure-prod", "gcp-prod"] as const;

async function planOf(stack: string): Promise<Plan> {
  return (await runStack(stack)).resources;
}

const format = (violations: readonly RuleViolation[]) => violations.map((found) => `\n  [${found.rule}] ${found.message}`).join("") || " (none)";

/** The one resource of `type` whose logical name ends with `suffix`. */
function find(plan: Plan, type: string, suffix = ""): PlannedResource {
  const found = plan.filter((resource) => resource.type === type && resource.name.endsWith(suffix));
  assert.equal(found.length, 1, `expected one ${type} named *${suffix}, found: ${found.map((resource) => resource.name).join(", ")}`);
  return found[0];
}

/** The plan with `target` replaced by a copy whose inputs and outputs both went through `change` (the cached plan is shared, never mutated). */
function withChanged(plan: Plan, target: PlannedResource, change: (props: Props) => void): Plan {
  const copy = (props: Readonly<Props>) => {
    const cloned = structuredClone(props) as Props;
    change(cloned);
    return cloned;
  };
  return plan.map((resource) => (resource === target ? { ...resource, inputs: copy(resource.inputs), outputs: copy(resource.outputs) } : resource));
}

const without = (plan: Plan, target: PlannedResource): Plan => plan.filter((resource) => resource !== target);

/** The object at `keys` under `props`, for a change deep inside it. */
function at(props: Props, ...keys: string[]): Props {
  return keys.reduce<Props>((current, key) => current[key] as Props, props);
}

interface BrokenPlan {
  readonly stack: string;
  /** What was broken, as the test name says it. */
  readonly title: string;
  readonly rule: FleetRule;
  /** Returns the broken plan and the resource the rule must name. */
  readonly breakPlan: (plan: Plan) => { plan: Plan; culprit: PlannedResource };
  /** What the fix in the message must say. */
  readonly fix: RegExp;
}

const changed = (type: string, suffix: string, change: (props: Props) => void) => (plan: Plan) => {
  const culprit = find(plan, type, suffix);
  return { plan: withChanged(plan, culprit, change), culprit };
};

const BROKEN: readonly BrokenPlan[] = [
  {
    stack: "gcp-prod",
    title: "a gen2 function without buildConfig.serviceAccount",
    rule: buildServiceAccount,
    breakPlan: changed(GCP.function, "-worker", (props) => delete (props.buildConfig as Props).serviceAccount),
    fix: /set buildConfig\.serviceAccount to its `name` \(projects\/<project>\/serviceAccounts\/<email>\)/,
  },
  {
    stack: "gcp-prod",
    title: "a gen2 function whose build account is a bare e-mail",
    rule: buildServiceAccount,
    breakPlan: changed(GCP.function, "-worker", (props) => ((props.buildConfig as Props).serviceAccount = "build@p.iam.gserviceaccount.com")),
    fix: /not the full resource name/,
  },
  {
    stack: "gcp-prod",
    title: "a stack that does not enable Cloud Resource Manager but makes project-level grants",
    rule: requiredApis,
    breakPlan: (plan) => ({
      plan: without(plan, plan.find((resource) => resource.type === GCP.service && resource.inputs.service === "cloudresourcemanager.googleapis.com") ?? assert.fail("no Cloud Resource Manager service")),
      culprit: find(plan, GCP.projectIamMember, "-runtime-settings"),
    }),
    fix: /needs cloudresourcemanager\.googleapis\.com.*projects\.Service \{ service: "cloudresourcemanager\.googleapis\.com"/,
  },
  {
    stack: "gcp-prod",
    title: "a push subscription whose ack deadline is just the function timeout",
    rule: ackMargin,
    breakPlan: changed(GCP.subscription, "-work-push", (props) => (props.ackDeadlineSeconds = 120)),
    fix: /ack deadline of 120 s, less than its timeout \(120 s\) \+ 60 s.*set ackDeadlineSeconds to at least 180/,
  },
  {
    stack: "dev",
    title: "an SQS queue without server-side encryption",
    rule: encryptionAtRest,
    breakPlan: changed(AWS.queue, "-work", (props) => delete props.sqsManagedSseEnabled),
    fix: /sqsManagedSseEnabled: true/,
  },
  {
    stack: "aws-prod",
    title: "an S3 bucket whose encryption configuration was dropped",
    rule: encryptionAtRest,
    breakPlan: (plan) => ({ plan: without(plan, find(plan, AWS.encryption)), culprit: find(plan, AWS.bucket) }),
    fix: /BucketServerSideEncryptionConfiguration .*sseAlgorithm: "AES256"/,
  },
  {
    stack: "dev",
    title: "an unencrypted SNS topic that no alarm publishes to (the alert topic stays exempt)",
    rule: encryptionAtRest,
    breakPlan: (plan) => {
      const alerts = find(plan, AWS.topic, "-alerts");
      const culprit: PlannedResource = {
        ...alerts,
        name: `${alerts.name}-copy`,
        urn: `${String(alerts.urn)}-copy`,
        outputs: { ...alerts.outputs, arn: `${String(alerts.outputs.arn)}-copy` },
      };
      return { plan: [...plan, culprit], culprit };
    },
    fix: /set kmsMasterKeyId/,
  },
  {
    stack: "azure-prod",
    title: "a storage account that accepts TLS 1.0",
    rule: encryptionAtRest,
    breakPlan: changed(AZURE.storageAccount, "-results", (props) => (props.minimumTlsVersion = "TLS1_0")),
    fix: /minimumTlsVersion: "TLS1_2"/,
  },
  {
    stack: "gcp-prod",
    title: 'a Cloud Storage bucket with publicAccessPrevention "inherited"',
    rule: noPublicStorage,
    breakPlan: (plan) => {
      const culprit = plan.filter((resource) => resource.type === GCP.bucket).find((bucket) => bucket.name.includes("results"));
      assert.ok(culprit, "no results bucket");
      return { plan: withChanged(plan, culprit, (props) => (props.publicAccessPrevention = "inherited")), culprit };
    },
    fix: /publicAccessPrevention: "enforced"/,
  },
  {
    stack: "aws-prod",
    title: "an S3 public access block with ignorePublicAcls off",
    rule: noPublicStorage,
    breakPlan: changed(AWS.publicAccessBlock, "", (props) => (props.ignorePublicAcls = false)),
    fix: /set all four of blockPublicAcls, blockPublicPolicy, ignorePublicAcls, restrictPublicBuckets to true/,
  },
  {
    stack: "dev",
    title: "an S3 bucket whose public access block was dropped",
    rule: noPublicStorage,
    breakPlan: (plan) => ({ plan: without(plan, find(plan, AWS.publicAccessBlock)), culprit: find(plan, AWS.bucket) }),
    fix: /add one with bucket: <this bucket>\.id and blockPublicAcls: true/,
  },
  {
    stack: "azure-prod",
    title: 'a blob container with publicAccess "Blob"',
    rule: noPublicStorage,
    breakPlan: changed(AZURE.blobContainer, "-results-container", (props) => (props.publicAccess = "Blob")),
    fix: /publicAccess: "None"/,
  },
  {
    stack: "aws-prod",
    title: "a work queue whose redrivePolicy was removed",
    rule: deadLetterPath,
    breakPlan: changed(AWS.queue, "-work", (props) => delete props.redrivePolicy),
    fix: /set redrivePolicy: JSON\.stringify\(\{ deadLetterTargetArn/,
  },
  {
    stack: "azure-prod",
    title: "a Service Bus queue that drops expired messages",
    rule: deadLetterPath,
    breakPlan: changed(AZURE.queue, "-work", (props) => (props.deadLetteringOnMessageExpiration = false)),
    fix: /deadLetteringOnMessageExpiration: true/,
  },
  {
    stack: "gcp-prod",
    title: "a push subscription without a dead-letter policy",
    rule: deadLetterPath,
    breakPlan: changed(GCP.subscription, "-work-push", (props) => delete props.deadLetterPolicy),
    fix: /set deadLetterPolicy: \{ deadLetterTopic/,
  },
  {
    stack: "gcp-prod",
    title: "a dead-letter topic whose subscription was dropped",
    rule: deadLetterPath,
    breakPlan: (plan) => ({ plan: without(plan, find(plan, GCP.subscription, "-dlq-sub")), culprit: find(plan, GCP.topic, "-dlq") }),
    fix: /add a pull subscription on it/,
  },
  {
    stack: "dev",
    title: "a dead-letter queue whose alarm was dropped",
    rule: deadLetterAlarm,
    breakPlan: (plan) => ({ plan: without(plan, find(plan, AWS.metricAlarm, "-dead-letters")), culprit: find(plan, AWS.queue, "-dlq") }),
    fix: /MetricAlarm on AWS\/SQS ApproximateNumberOfMessagesVisible, dimensions \{ QueueName: "scrape-fleet-dev-dlq" \}/,
  },
  {
    stack: "azure-prod",
    title: "a Service Bus queue whose DeadletteredMessages alert was dropped",
    rule: deadLetterAlarm,
    breakPlan: (plan) => ({ plan: without(plan, find(plan, AZURE.metricAlert, "-dead-letters")), culprit: find(plan, AZURE.queue, "-work") }),
    fix: /metricName "DeadletteredMessages"/,
  },
  {
    stack: "gcp-prod",
    title: "a dead-letter topic whose alert policy was dropped",
    rule: deadLetterAlarm,
    breakPlan: (plan) => ({ plan: without(plan, find(plan, GCP.alertPolicy, "-dead-letters")), culprit: find(plan, GCP.topic, "-dlq") }),
    fix: /pubsub\.googleapis\.com\/subscription\/num_undelivered_messages/,
  },
  {
    stack: "aws-prod",
    title: "a CloudWatch alarm with empty alarmActions",
    rule: alarmHasAction,
    breakPlan: changed(AWS.metricAlarm, "-backlog", (props) => (props.alarmActions = [])),
    fix: /set alarmActions: \[<alert topic>\.arn\]/,
  },
  {
    stack: "azure-prod",
    title: "a metric alert with no actions",
    rule: alarmHasAction,
    breakPlan: changed(AZURE.metricAlert, "-backlog", (props) => (props.actions = [])),
    fix: /actions: \[\{ actionGroupId/,
  },
  {
    stack: "gcp-prod",
    title: "an alert policy with no notification channels",
    rule: alarmHasAction,
    breakPlan: changed(GCP.alertPolicy, "-stalled", (props) => (props.notificationChannels = [])),
    fix: /set notificationChannels/,
  },
  {
    stack: "dev",
    title: 'a role policy with an added "Action": "*" statement',
    rule: leastPrivilege,
    breakPlan: changed(AWS.rolePolicy, "", (props) => {
      const document = JSON.parse(props.policy as string) as { Statement: unknown[] };
      document.Statement.push({ Sid: "Everything", Effect: "Allow", Action: "*", Resource: "*" });
      props.policy = JSON.stringify(document);
    }),
    fix: /list the exact actions/,
  },
  {
    stack: "azure-prod",
    title: "a role assignment at resource-group scope",
    rule: leastPrivilege,
    breakPlan: changed(AZURE.roleAssignment, "-queue-owner", (props) => (props.scope = (props.scope as string).replace(/\/providers\/.*$/, ""))),
    fix: /scope it to the one resource/,
  },
  {
    stack: "gcp-prod",
    title: "a roles/editor binding",
    rule: leastPrivilege,
    breakPlan: changed(GCP.projectIamMember, "-runtime-settings", (props) => (props.role = "roles/editor")),
    fix: /grant the narrowest predefined role/,
  },
  {
    stack: "dev",
    title: "a log group without retentionInDays",
    rule: logRetention,
    breakPlan: changed(AWS.logGroup, "", (props) => delete props.retentionInDays),
    fix: /set retentionInDays/,
  },
  {
    stack: "aws-prod",
    title: "a Lambda function whose log group was dropped",
    rule: logRetention,
    breakPlan: (plan) => ({ plan: without(plan, find(plan, AWS.logGroup)), culprit: find(plan, AWS.lambda) }),
    fix: /add an aws\.cloudwatch\.LogGroup named "\/aws\/lambda\/scrape-fleet-aws-prod-worker"/,
  },
  {
    stack: "azure-prod",
    title: "a Log Analytics workspace without retentionInDays",
    rule: logRetention,
    breakPlan: changed(AZURE.workspace, "", (props) => delete props.retentionInDays),
    fix: /set retentionInDays/,
  },
  {
    stack: "gcp-prod",
    title: "a log bucket without retentionDays",
    rule: logRetention,
    breakPlan: changed(GCP.logBucket, "", (props) => delete props.retentionDays),
    fix: /set retentionDays/,
  },
  {
    stack: "dev",
    title: "a Lambda function on nodejs20.x",
    rule: nodeRuntime,
    breakPlan: changed(AWS.lambda, "", (props) => (props.runtime = "nodejs20.x")),
    fix: /"nodejs24\.x"/,
  },
  {
    stack: "azure-prod",
    title: "a function app on Node.js 20",
    rule: nodeRuntime,
    breakPlan: changed(AZURE.webApp, "", (props) => (at(props, "functionAppConfig", "runtime").version = "20")),
    fix: /\{ name: "node", version: "22" \}/,
  },
  {
    stack: "azure-prod",
    title: "a Flex function app given only siteConfig.minTlsVersion, as azure-native sends it (with its netFrameworkVersion default)",
    rule: flexSiteConfig,
    // The provider's own defaults function, as WebApp applies it to any siteConfig.
    breakPlan: changed(AZURE.webApp, "", (props) => (props.siteConfig = webDefaults.siteConfigArgsProvideDefaults({ minTlsVersion: "1.2" }))),
    fix: /siteConfig\.netFrameworkVersion.*Fix: leave siteConfig out entirely/,
  },
  {
    stack: "gcp-prod",
    title: "a Cloud Function on nodejs20",
    rule: nodeRuntime,
    breakPlan: changed(GCP.function, "", (props) => (at(props, "buildConfig").runtime = "nodejs20")),
    fix: /buildConfig\.runtime to "nodejs24"/,
  },
  {
    stack: "aws-prod",
    title: "an SQS queue missing its managed-by tag",
    rule: fleetTags,
    breakPlan: changed(AWS.queue, "-dlq", (props) => delete at(props, "tags")["managed-by"]),
    fix: /lacks the fleet's tags managed-by=pulumi\. Fix: pass the fleet's tags/,
  },
  {
    stack: "azure-prod",
    title: "a Service Bus namespace tagged for another stack",
    rule: fleetTags,
    breakPlan: changed(AZURE.namespace, "", (props) => (at(props, "tags").stack = "dev")),
    fix: /lacks the fleet's tags stack=azure-prod/,
  },
  {
    stack: "gcp-prod",
    title: "a Cloud Storage bucket missing its stack label",
    rule: fleetTags,
    breakPlan: (plan) => {
      const culprit = plan.filter((resource) => resource.type === GCP.bucket).find((bucket) => bucket.name.includes("results"));
      assert.ok(culprit, "no results bucket");
      return { plan: withChanged(plan, culprit, (props) => delete at(props, "labels").stack), culprit };
    },
    fix: /lacks the fleet's labels stack=gcp-prod\. Fix: .* through gcpLabels\) as labels/,
  },
  {
    stack: "dev",
    title: "a resource of a type nobody classified for tags",
    rule: fleetTags,
    breakPlan: (plan) => {
      const queue = find(plan, AWS.queue, "-work");
      const culprit: PlannedResource = { ...queue, type: "aws:kinesis/stream:Stream", name: "scrape-fleet-dev-stream" };
      return { plan: [...plan, culprit], culprit };
    },
    fix: /add the type to TAGGED or UNTAGGED in infra\/policy\/tagging\.ts/,
  },
  {
    stack: "aws-prod",
    title: "a work queue whose 5 receives at a 12 h visibility timeout outlast its 4-day retention",
    rule: queueRetention,
    breakPlan: changed(AWS.queue, "-work", (props) => (props.visibilityTimeoutSeconds = 43_200 * 2)),
    fix: /lower maxReceiveCount to \d+ or the visibility timeout, or raise messageRetentionSeconds/,
  },
  {
    stack: "dev",
    title: "a dead-letter queue that keeps messages no longer than its source",
    rule: queueRetention,
    breakPlan: changed(AWS.queue, "-dlq", (props) => (props.messageRetentionSeconds = 345_600)),
    fix: /set messageRetentionSeconds on the dead-letter queue above the source's/,
  },
  {
    stack: "aws-prod",
    title: "a worker told a longer queue retention than its queue keeps",
    rule: queueRetention,
    breakPlan: changed(AWS.lambda, "", (props) => (at(props, "environment", "variables").QUEUE_RETENTION_SECONDS = "1209600")),
    fix: /set QUEUE_RETENTION_SECONDS from the queue's own setting/,
  },
  {
    stack: "aws-prod",
    title: 'a dead-letter alarm with treatMissingData "notBreaching"',
    rule: alarmMissingData,
    breakPlan: changed(AWS.metricAlarm, "-dead-letters", (props) => (props.treatMissingData = "notBreaching")),
    fix: /set treatMissingData: "ignore"/,
  },
  {
    stack: "aws-prod",
    title: "a math alarm with a second metric query returning data",
    rule: alarmShape,
    breakPlan: changed(AWS.metricAlarm, "-page-retries", (props) => ((props.metricQueries as Props[]).find((query) => query.id === "pages")!.returnData = true)),
    fix: /has 2 metric queries returning data: .* set returnData: true on the alarm's expression and false on every other query/,
  },
  {
    stack: "aws-prod",
    title: "a math alarm reading 11 metrics",
    rule: alarmShape,
    breakPlan: changed(AWS.metricAlarm, "-page-retries", (props) => {
      const queries = props.metricQueries as Props[];
      const metric = queries.find((query) => query.metric !== undefined)!;
      for (let extra = 0; extra < 7; extra += 1) queries.push({ ...structuredClone(metric), id: `extra${extra}` });
    }),
    fix: /reads 11 metrics: CloudWatch refuses a math alarm over more than 10/,
  },
  {
    stack: "dev",
    title: "an alarm period of 90 s",
    rule: alarmShape,
    breakPlan: changed(AWS.metricAlarm, "-backlog", (props) => (props.period = 90)),
    fix: /period of 90 s: CloudWatch takes 10, 30 or a multiple of 60\. Fix: use 120/,
  },
  {
    stack: "aws-prod",
    title: "a stalled alarm on more datapoints than evaluation periods",
    rule: alarmShape,
    breakPlan: changed(AWS.metricAlarm, "-stalled", (props) => (props.datapointsToAlarm = (props.evaluationPeriods as number) + 1)),
    fix: /Fix: set datapointsToAlarm to \d+ or less/,
  },
  {
    stack: "aws-prod",
    title: "a worker environment over 4 KB",
    rule: lambdaEnvironment,
    breakPlan: changed(AWS.lambda, "", (props) => (at(props, "environment", "variables").EXTRA_SETTINGS = "x".repeat(4_000))),
    fix: /bytes of environment variables \(keys and values\): Lambda refuses more than 4096/,
  },
  {
    stack: "dev",
    title: "a settings parameter over 4 KB in the Standard tier",
    rule: parameterSize,
    breakPlan: changed(AWS.parameter, "-settings", (props) => (props.value = JSON.stringify({ blockedDomains: Array.from({ length: 300 }, (_unused, index) => `blocked-${index}.example`) }))),
    fix: /set tier: "Advanced"/,
  },
  {
    stack: "aws-prod",
    title: 'a settings parameter over 8 KB, even with tier "Advanced"',
    rule: parameterSize,
    breakPlan: changed(AWS.parameter, "-settings", (props) => {
      props.tier = "Advanced";
      props.value = "x".repeat(8_193);
    }),
    fix: /shorten the value to 8192 bytes or less/,
  },
];

describe("policy pack rules over each stack's mocked plan", function () {
  // The first stack run of a process loads the provider SDKs; later ones are cached.
  this.timeout(30_000);

  for (const stack of STACKS) {
    for (const rule of FLEET_RULES) {
      it(`${stack}: the plan breaks no ${rule.name} rule`, async () => {
        const violations = checkPlan(await planOf(stack), [rule]);
        assert.equal(violations.length, 0, `${rule.name} on ${stack}:${format(violations)}`);
      });
    }
  }

  for (const broken of BROKEN) {
    it(`${broken.rule.name} flags ${broken.title} (${broken.stack}), naming it and the fix`, async () => {
      const { plan, culprit } = broken.breakPlan(await planOf(broken.stack));
      const violations = checkPlan(plan, [broken.rule]);
      const onCulprit = violations.filter((found) => found.type === culprit.type && found.name === culprit.name);
      assert.ok(onCulprit.length > 0, `no ${broken.rule.name} violation on ${culprit.type} ${culprit.name}; reported:${format(violations)}`);
      for (const found of onCulprit) assert.ok(found.message.includes(`"${culprit.name}"`), `the message does not name the resource: ${found.message}`);
      assert.ok(
        onCulprit.some((found) => broken.fix.test(found.message)),
        `no message states the fix ${String(broken.fix)}:${format(onCulprit)}`,
      );
    });
  }

  it("every rule has a broken plan that makes it fire", () => {
    assert.deepEqual([...new Set(BROKEN.map((broken) => broken.rule.name))].sort(), FLEET_RULES.map((rule) => rule.name).sort());
  });
});

describe("policy pack rules read CrossGuard's and the mocks' shapes alike", () => {
  const SECRET = { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270" };
  const lambda = (runtime: unknown) => ({ type: AWS.lambda, name: "worker", urn: "urn:pulumi:dev::scrape-fleet::aws:lambda/function:Function::worker", props: { runtime } });

  it("a value wrapped as a secret is read as its plain value", () => {
    const check = nodeRuntime.checkResource;
    assert.ok(check);
    assert.deepEqual(check(lambda({ ...SECRET, value: "nodejs24.x" })), []);
    assert.equal(check(lambda({ ...SECRET, value: "nodejs20.x" })).length, 1);
  });

  it("a resource with none of its properties known (unknowns are undefined under mocks) is checked without crashing any rule", () => {
    for (const rule of FLEET_RULES) {
      for (const type of [AWS.lambda, AWS.queue, AWS.rolePolicy, AZURE.roleAssignment, AZURE.storageAccount, GCP.subscription, GCP.alertPolicy]) {
        assert.doesNotThrow(() => rule.checkResource?.({ type, name: "unknown", props: {} }), `${rule.name} on ${type}`);
      }
      assert.doesNotThrow(() => rule.checkStack?.([{ type: AWS.queue, name: "q", props: { redrivePolicy: undefined } }]), rule.name);
    }
  });

  /** CrossGuard's sentinel for a string not known in a preview (@pulumi/policy proxy.js `unknownStringValue`). */
  const UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

  it("in a preview, a list of references not known yet still counts as an alarm's actions", () => {
    const check = alarmHasAction.checkResource;
    assert.ok(check);
    const props = unknownCheckingProxy({ alarmActions: [UNKNOWN_STRING], okActions: [UNKNOWN_STRING] }) as Props;
    assert.deepEqual(check({ type: AWS.metricAlarm, name: "backlog", props }), []);
    const alert = unknownCheckingProxy({ actions: [{ actionGroupId: UNKNOWN_STRING }] }) as Props;
    assert.deepEqual(alarmHasAction.checkResource?.({ type: AZURE.metricAlert, name: "backlog", props: alert }), []);
  });

  it("in a preview, a policy document not known yet is left to CrossGuard's advisory \"can't run during preview\"", () => {
    const props = unknownCheckingProxy({ role: "worker", policy: UNKNOWN_STRING }) as Props;
    assert.throws(() => leastPrivilege.checkResource?.({ type: AWS.rolePolicy, name: "worker-policy", props }), UnknownValueError);
  });

  it("the tags rule reads the stack from the URN", () => {
    const check = fleetTags.checkResource;
    assert.ok(check);
    const tags = { app: "scrape-fleet", "managed-by": "pulumi", stack: "dev" };
    assert.deepEqual(check({ type: AWS.queue, name: "q", urn: "urn:pulumi:dev::scrape-fleet::aws:sqs/queue:Queue::q", props: { tags } }), []);
    assert.match(check({ type: AWS.queue, name: "q", urn: "urn:pulumi:aws-prod::scrape-fleet::aws:sqs/queue:Queue::q", props: { tags } })[0], /stack=aws-prod/);
  });
});

describe("the policy pack folder", () => {
  const folder = path.join(REPO_ROOT, "infra", "policy");

  it("has what the Pulumi CLI loads: PulumiPolicy.yaml with runtime nodejs, and a package.json with the version PolicyPack reads", () => {
    const project = parseYaml(readFileSync(path.join(folder, "PulumiPolicy.yaml"), "utf8")) as { runtime?: unknown; description?: unknown };
    assert.equal(project.runtime, "nodejs");
    assert.equal(typeof project.description, "string");
    const manifest = JSON.parse(readFileSync(path.join(folder, "package.json"), "utf8")) as { version?: string; main?: string; dependencies?: unknown };
    assert.match(manifest.version ?? "", /^\d+\.\d+\.\d+$/);
    assert.equal(manifest.main, "index.ts");
    assert.equal(manifest.dependencies, undefined, "the pack resolves its dependencies from the repository root; its own would be a second @pulumi/pulumi");
  });

  it("its README lists every rule", () => {
    const readme = readFileSync(path.join(folder, "README.md"), "utf8");
    for (const rule of FLEET_RULES) assert.ok(readme.includes(`| \`${rule.name}\` |`), `infra/policy/README.md has no row for ${rule.name}`);
  });

  it("its readme text states every rule and every check", () => {
    const markdown = rulesMarkdown();
    for (const rule of FLEET_RULES) {
      assert.ok(markdown.includes(`| \`${rule.name}\` | ${rule.description} |`), rule.name);
      for (const check of rule.checks) assert.ok(markdown.includes(check), `${rule.name}: ${check}`);
    }
  });

  it("makes every rule mandatory policies with unique kebab-case names", () => {
    const policies = fleetPolicies();
    const names = policies.map((policy) => policy.name);
    assert.equal(new Set(names).size, names.length, names.join(", "));
    for (const policy of policies) {
      assert.match(policy.name, /^[a-z]+(-[a-z]+)*$/);
      assert.equal(policy.enforcementLevel, "mandatory", policy.name);
    }
    assert.deepEqual(names.filter((name) => !name.endsWith("-stack")), FLEET_RULES.filter((rule) => rule.checkResource).map((rule) => rule.name));
  });

  it("hands CrossGuard's resource and stack arguments to the rules and reports what they find, against the offending URN", async () => {
    const plan = await planOf("dev");
    const fn = find(plan, AWS.lambda);
    const reported: { message: string; urn?: string }[] = [];
    const report = (message: string, urn?: string) => reported.push({ message, urn });
    const [resourcePolicy] = policiesOf(nodeRuntime);
    assert.ok("validateResource" in resourcePolicy && typeof resourcePolicy.validateResource === "function");
    await resourcePolicy.validateResource(crossGuardResource(fn, { ...fn.inputs, runtime: "nodejs20.x" }), report);
    assert.equal(reported.length, 1);
    assert.match(reported[0].message, /nodejs20\.x/);

    reported.length = 0;
    const stackPolicy = policiesOf(deadLetterAlarm).find((policy) => policy.name === "dead-letter-alarm-stack");
    assert.ok(stackPolicy && "validateStack" in stackPolicy);
    const alarm = find(plan, AWS.metricAlarm, "-dead-letters");
    await stackPolicy.validateStack(crossGuardStack(without(plan, alarm)), report);
    const deadLetterQueue = find(plan, AWS.queue, "-dlq");
    assert.deepEqual(reported.map((found) => found.urn), [deadLetterQueue.urn]);
  });
});

/** CrossGuard's `ResourceValidationArgs` for a planned resource (the parts the rules read are real; the rest inert). */
function crossGuardResource(resource: PlannedResource, props: Props): ResourceValidationArgs {
  return {
    type: resource.type,
    name: resource.name,
    urn: resource.urn ?? "",
    props,
    opts: { protect: false, ignoreChanges: [], aliases: [], customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 }, additionalSecretOutputs: [] },
    stackTags: new Map(),
    isType: () => false,
    asType: () => undefined,
    getConfig: <T extends object>() => ({}) as T,
    notApplicable: (reason?: string) => {
      throw new Error(`not applicable: ${String(reason)}`);
    },
  };
}

/** CrossGuard's `StackValidationArgs` over a plan's outputs. */
function crossGuardStack(plan: Plan): StackValidationArgs {
  const base = crossGuardResource(plan[0], {});
  return {
    resources: plan.map((resource) => ({ ...crossGuardResource(resource, resource.outputs), dependencies: [], propertyDependencies: {} })),
    stackTags: base.stackTags,
    getConfig: base.getConfig,
    notApplicable: base.notApplicable,
  };
}
