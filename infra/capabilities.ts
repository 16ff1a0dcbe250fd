/**
 * The fleet's capabilities, one table for the three clouds: for each, the
 * resource types that serve it on each cloud, a short label for the README
 * (`npm run docs` renders the "Cloud by cloud" table from it), and a check
 * over a mocked plan that the capability is there WITH THE SAME MEANING: the
 * same number of deliveries before a dead letter, the same bound on pages in
 * flight, the same settings document, the same alarms to the same channel.
 *
 * `clouds` is a `Record<Cloud, …>`, so a capability added for one cloud and
 * not the others does not compile; tests/parity/parity.test.ts runs every
 * check on every stack file.
 *
 * The checks follow the stack outputs into the plan (the `workQueueId` output
 * names the queue whose redrive policy is read, `alertChannel` the channel
 * every alarm must notify), so a check also proves the outputs point at the
 * resources that do the work. They read only recorded resources: this module
 * loads no cloud provider, so `npm run docs` stays fast (the one exception,
 * Azure's host.json, is loaded on use: see `azureMessagesPerInstance`).
 */
import { isDeepStrictEqual } from "node:util";
import { OLDEST_MESSAGE_AGE_FIELD } from "../functions/azure/metrics";
import { SettingsError } from "../shared/errors";
import { parseSettings, SETTING_KEYS } from "../shared/settings";
import type * as AzureWorker from "./azure/worker";
import type { ValidatedFleetArgs } from "./config";
import { FLEET_OUTPUT_NAMES, type Cloud } from "./contract";
import type { RecordedResource } from "./mockRun";

/** What a check reads: one stack's mocked plan, and the stack's validated config. */
export interface PlanEvidence {
  readonly stack: string;
  readonly cloud: Cloud;
  readonly resources: readonly RecordedResource[];
  /** The stack outputs, resolved. */
  readonly outputs: Readonly<Record<string, string>>;
  readonly args: ValidatedFleetArgs;
}

/** How one cloud serves a capability. */
export interface CloudImplementation {
  /** Type tokens of the resources that serve it; each must be in the plan. */
  readonly types: readonly [string, ...string[]];
  /** A few words for the README. */
  readonly label: string;
  /** Throws `CapabilityError` when the plan lacks the capability or gives it another meaning. */
  readonly check: (plan: PlanEvidence) => void;
}

export interface Capability {
  /** The role, as the README's first column names it. */
  readonly role: string;
  /** What "the same" means on every cloud: what the checks hold each cloud to. */
  readonly meaning: string;
  readonly clouds: Readonly<Record<Cloud, CloudImplementation>>;
}

/** A plan that lacks a capability, or gives it another meaning than the other clouds. */
export class CapabilityError extends Error {
  readonly code = "capability_missing";
  constructor(message: string) {
    super(message);
    this.name = "CapabilityError";
  }
}

/** The clouds' names in prose. */
export const CLOUD_NAMES: Readonly<Record<Cloud, string>> = { aws: "AWS", azure: "Azure", gcp: "Google Cloud" };

// ---------------------------------------------------------------------------
// Reading a recorded plan

function fail(detail: string): never {
  throw new CapabilityError(detail);
}

/** `aws:sqs/queue:Queue` → `sqs.Queue`, as the program writes it (`new sqs.Queue`). Component types stay whole. */
export function typeLabel(token: string): string {
  const [provider, module, name] = token.split(":");
  if (provider === "scrape-fleet" || module === undefined || name === undefined) return token;
  return `${module.split("/")[0]}.${name}`;
}

function resourcesOf(plan: PlanEvidence, type: string): RecordedResource[] {
  return plan.resources.filter((resource) => resource.type === type);
}

/** The one resource of `type` that `matches`; `what` says which one, for the message. */
function the(plan: PlanEvidence, type: string, what: string, matches: (resource: RecordedResource) => boolean): RecordedResource {
  const found = resourcesOf(plan, type).filter(matches);
  if (found.length !== 1) fail(`expected one ${typeLabel(type)} ${what}, found ${found.length}${found.length > 0 ? ` (${found.map((resource) => resource.name).join(", ")})` : ""}`);
  return found[0];
}

/** A nested field, or `undefined` when any step is missing. */
function field(value: unknown, ...path: readonly (string | number)[]): unknown {
  let current = value;
  for (const step of path) {
    if (typeof current !== "object" || current === null) return undefined;
    current = (current as Record<string | number, unknown>)[step];
  }
  return current;
}

function text(value: unknown, what: string): string {
  if (typeof value !== "string" || value === "") fail(`${what} is ${JSON.stringify(value)}, not a string`);
  return value;
}

function count(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isFinite(value)) fail(`${what} is ${JSON.stringify(value)}, not a number`);
  return value;
}

function list(value: unknown, what: string): readonly unknown[] {
  if (!Array.isArray(value)) fail(`${what} is ${JSON.stringify(value)}, not a list`);
  return value;
}

function same(actual: unknown, expected: unknown, what: string): void {
  if (!isDeepStrictEqual(actual, expected)) fail(`${what} is ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`);
}

function json(value: unknown, what: string): unknown {
  try {
    return JSON.parse(text(value, what));
  } catch (error) {
    if (error instanceof SyntaxError) fail(`${what} is not JSON: ${error.message}`);
    throw error;
  }
}

function output(plan: PlanEvidence, name: string): string {
  return text(plan.outputs[name], `stack output ${name}`);
}

/**
 * The initial settings document: every `SETTING_KEYS` key written out (the
 * worker never depends on a default the store lacks), and, parsed by the
 * worker's own `parseSettings`, the stack's settings.
 */
function checkSettingsDocument(value: unknown, what: string, plan: PlanEvidence): void {
  const document = json(value, what);
  if (typeof document !== "object" || document === null || Array.isArray(document)) fail(`${what} is not a JSON object`);
  const missing = SETTING_KEYS.filter((key) => !(key in document));
  if (missing.length > 0) fail(`${what} lacks ${missing.join(", ")}`);
  try {
    same(parseSettings(document, what), plan.args.settings, `${what}, parsed with parseSettings,`);
  } catch (error) {
    if (error instanceof SettingsError) fail(error.message);
    throw error;
  }
}

// ---------------------------------------------------------------------------
// Each cloud's resources, found through the stack outputs

const AWS = {
  queue: "aws:sqs/queue:Queue",
  fn: "aws:lambda/function:Function",
  trigger: "aws:lambda/eventSourceMapping:EventSourceMapping",
  bucket: "aws:s3/bucket:Bucket",
  publicAccessBlock: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
  encryption: "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
  parameter: "aws:ssm/parameter:Parameter",
  alarm: "aws:cloudwatch/metricAlarm:MetricAlarm",
  topic: "aws:sns/topic:Topic",
  subscription: "aws:sns/topicSubscription:TopicSubscription",
  dashboard: "aws:cloudwatch/dashboard:Dashboard",
  fleet: "scrape-fleet:aws:Fleet",
} as const;

const AZURE = {
  namespace: "azure-native:servicebus:Namespace",
  queue: "azure-native:servicebus:Queue",
  app: "azure-native:web:WebApp",
  blob: "azure-native:storage:Blob",
  deployment: "azure-native:resources:Deployment",
  account: "azure-native:storage:StorageAccount",
  container: "azure-native:storage:BlobContainer",
  store: "azure-native:appconfiguration:ConfigurationStore",
  keyValue: "azure-native:appconfiguration:KeyValue",
  metricAlert: "azure-native:monitor:MetricAlert",
  logAlert: "azure-native:monitor:ScheduledQueryRule",
  actionGroup: "azure-native:monitor:ActionGroup",
  workbook: "azure-native:applicationinsights:Workbook",
  fleet: "scrape-fleet:azure:Fleet",
} as const;

const GCP = {
  topic: "gcp:pubsub/topic:Topic",
  subscription: "gcp:pubsub/subscription:Subscription",
  topicMember: "gcp:pubsub/topicIAMMember:TopicIAMMember",
  subscriptionMember: "gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember",
  fn: "gcp:cloudfunctionsv2/function:Function",
  bucket: "gcp:storage/bucket:Bucket",
  parameter: "gcp:parametermanager/parameter:Parameter",
  version: "gcp:parametermanager/parameterVersion:ParameterVersion",
  policy: "gcp:monitoring/alertPolicy:AlertPolicy",
  channel: "gcp:monitoring/notificationChannel:NotificationChannel",
  dashboard: "gcp:monitoring/dashboard:Dashboard",
  fleet: "scrape-fleet:gcp:Fleet",
} as const;

const aws = {
  workQueue: (plan: PlanEvidence) => the(plan, AWS.queue, "whose ARN is the workQueueId output", (queue) => queue.outputs.arn === output(plan, "workQueueId")),
  deadLetterQueue: (plan: PlanEvidence) => the(plan, AWS.queue, "whose URL is the deadLetterQueueUrl output", (queue) => queue.outputs.url === output(plan, "deadLetterQueueUrl")),
  worker: (plan: PlanEvidence) => the(plan, AWS.fn, "named by the workerName output", (fn) => fn.outputs.name === output(plan, "workerName")),
  trigger: (plan: PlanEvidence) => {
    const fn = aws.worker(plan);
    return the(plan, AWS.trigger, `invoking ${fn.name}`, (mapping) => mapping.inputs.functionName === fn.outputs.arn);
  },
  queueName: (queue: RecordedResource) => text(queue.outputs.name, `${queue.name} name`),
};

const azure = {
  workQueue: (plan: PlanEvidence) => the(plan, AZURE.queue, "whose id is the workQueueId output", (queue) => queue.outputs.id === output(plan, "workQueueId")),
  namespace: (plan: PlanEvidence) => {
    const queue = azure.workQueue(plan);
    return the(plan, AZURE.namespace, `holding queue ${queue.name}`, (namespace) => namespace.outputs.name === queue.inputs.namespaceName);
  },
  app: (plan: PlanEvidence) => the(plan, AZURE.app, "named by the workerName output", (app) => app.outputs.name === output(plan, "workerName")),
  appSetting: (app: RecordedResource, name: string) => {
    const entry = list(field(app.inputs, "siteConfig", "appSettings"), `${app.name} siteConfig.appSettings`).find((setting) => field(setting, "name") === name);
    return field(entry, "value");
  },
};

const gcp = {
  workTopic: (plan: PlanEvidence) => the(plan, GCP.topic, "whose id is the workQueueId output", (topic) => topic.outputs.id === output(plan, "workQueueId")),
  workSubscription: (plan: PlanEvidence) => {
    const topic = gcp.workTopic(plan);
    return the(plan, GCP.subscription, `on topic ${topic.name}`, (subscription) => subscription.inputs.topic === topic.outputs.id);
  },
  deadLetterSubscription: (plan: PlanEvidence) =>
    the(plan, GCP.subscription, "whose id is the deadLetterQueueUrl output", (subscription) => subscription.outputs.id === output(plan, "deadLetterQueueUrl")),
  worker: (plan: PlanEvidence) => the(plan, GCP.fn, "named by the workerName output", (fn) => fn.outputs.name === output(plan, "workerName")),
  shortName: (resource: RecordedResource) => text(resource.inputs.name, `${resource.name} name`),
};

// ---------------------------------------------------------------------------
// Pages in flight: maxWorkers × messagesPerWorker, read from each cloud's own knobs

/**
 * The Azure per-instance bound is host.json `extensions.serviceBus.maxConcurrentCalls`,
 * and host.json lives inside the deployment zip. The mocked plan records that
 * zip without its entries (an archive's assets are a promise the mock monitor
 * never resolves), so the zip is checked through its identity instead: the
 * package blob that one deploy runs carries the sha256 of every entry
 * (`metadata.packagesha256`), and only the package built with host.json
 * `maxConcurrentCalls = messagesPerWorker` has that sha256. Loaded on use,
 * so that rendering the README does not load `@pulumi/azure-native`.
 */
function azureMessagesPerInstance(plan: PlanEvidence): number {
  const deployment = the(plan, AZURE.deployment, "deploying the worker's package", () => true);
  const blobName = text(field(deployment.inputs, "properties", "parameters", "blobName", "value"), "the one deploy's blobName parameter");
  const blob = the(plan, AZURE.blob, `named ${blobName}`, (candidate) => candidate.inputs.blobName === blobName);
  const recorded = text(field(blob.inputs, "metadata", "packagesha256"), `${blob.name} metadata.packagesha256`);
  const worker = require("./azure/worker") as typeof AzureWorker;
  const host = { maxConcurrentCalls: plan.args.messagesPerWorker, functionTimeoutSeconds: plan.args.functionTimeoutSeconds };
  const built = worker.workerPackage(worker.bundleAzureWorker(), host);
  if (built.sha256 !== recorded) fail(`the deployed package (sha256 ${recorded}) is not the one whose host.json has maxConcurrentCalls ${host.maxConcurrentCalls} (sha256 ${built.sha256})`);
  return count(field(worker.hostJson(host), "extensions", "serviceBus", "maxConcurrentCalls"), "host.json extensions.serviceBus.maxConcurrentCalls");
}

/** The most pages the fleet works on at once, per cloud: instances × messages per instance. */
export const IN_FLIGHT_PAGES: Readonly<Record<Cloud, (plan: PlanEvidence) => number>> = {
  aws: (plan) => {
    const trigger = aws.trigger(plan);
    return count(field(trigger.inputs, "scalingConfig", "maximumConcurrency"), "scalingConfig.maximumConcurrency") * count(trigger.inputs.batchSize, "batchSize");
  },
  azure: (plan) => count(field(azure.app(plan).inputs, "functionAppConfig", "scaleAndConcurrency", "maximumInstanceCount"), "functionAppConfig.scaleAndConcurrency.maximumInstanceCount") * azureMessagesPerInstance(plan),
  gcp: (plan) => {
    const service = field(gcp.worker(plan).inputs, "serviceConfig");
    return count(field(service, "maxInstanceCount"), "serviceConfig.maxInstanceCount") * count(field(service, "maxInstanceRequestConcurrency"), "serviceConfig.maxInstanceRequestConcurrency");
  },
};

/** The most pages in flight the plan allows. */
export function maxInFlightPages(plan: PlanEvidence): number {
  return IN_FLIGHT_PAGES[plan.cloud](plan);
}

// ---------------------------------------------------------------------------
// Alarms: the same five kinds on every cloud, each to the alert channel

/** The alarm kinds every cloud has, and their meaning. */
export const ALARM_KINDS = {
  backlog: "backlog at `backlogMessages`",
  oldestMessageAge: "oldest message at `oldestMessageAgeSeconds`",
  deadLetters: "dead letters > 0",
  workerErrors: "worker error rate at `errorRatePercent`",
  stalled: "messages waiting and none processed for `stalledMinutes`",
} as const;
export type AlarmKind = keyof typeof ALARM_KINDS;

interface AlarmWiring {
  /** The types alarms are made of. */
  readonly types: readonly string[];
  /** Which alarm is which kind, by what it measures and its threshold. */
  readonly is: Readonly<Record<AlarmKind, (alarm: RecordedResource, plan: PlanEvidence) => boolean>>;
  /** Where an alarm sends its notifications. */
  readonly notifies: (alarm: RecordedResource) => readonly unknown[];
  /** Throws unless the `alertChannel` output is a channel that reaches `alertEmail`. */
  readonly channelReachesEmail: (plan: PlanEvidence) => void;
}

function checkAlarms(wiring: AlarmWiring): (plan: PlanEvidence) => void {
  return (plan) => {
    wiring.channelReachesEmail(plan);
    const channel = output(plan, "alertChannel");
    const alarms = plan.resources.filter((resource) => wiring.types.includes(resource.type));
    for (const kind of Object.keys(ALARM_KINDS) as AlarmKind[]) {
      const matching = alarms.filter((alarm) => wiring.is[kind](alarm, plan));
      if (matching.length !== 1) fail(`expected one ${kind} alarm (${ALARM_KINDS[kind]}), found ${matching.length}${matching.length > 0 ? `: ${matching.map((alarm) => alarm.name).join(", ")}` : ""}`);
      if (!wiring.notifies(matching[0]).includes(channel)) fail(`the ${kind} alarm ${matching[0].name} does not notify the alertChannel output ${channel}`);
    }
  };
}

const awsMetricQueries = (alarm: RecordedResource) => (Array.isArray(alarm.inputs.metricQueries) ? (alarm.inputs.metricQueries as unknown[]) : []);
const awsQueriesMetric = (alarm: RecordedResource, metric: string, dimension: string, value: string) =>
  awsMetricQueries(alarm).some((query) => field(query, "metric", "metricName") === metric && field(query, "metric", "dimensions", dimension) === value);
const awsOnQueue = (alarm: RecordedResource, metric: string, queue: RecordedResource) => alarm.inputs.metricName === metric && field(alarm.inputs, "dimensions", "QueueName") === aws.queueName(queue);

const AWS_ALARMS: AlarmWiring = {
  types: [AWS.alarm],
  is: {
    backlog: (alarm, plan) => awsOnQueue(alarm, "ApproximateNumberOfMessagesVisible", aws.workQueue(plan)) && alarm.inputs.threshold === plan.args.alarms.backlogMessages,
    oldestMessageAge: (alarm, plan) => awsOnQueue(alarm, "ApproximateAgeOfOldestMessage", aws.workQueue(plan)) && alarm.inputs.threshold === plan.args.alarms.oldestMessageAgeSeconds,
    deadLetters: (alarm, plan) => awsOnQueue(alarm, "ApproximateNumberOfMessagesVisible", aws.deadLetterQueue(plan)) && alarm.inputs.threshold === 0 && alarm.inputs.comparisonOperator === "GreaterThanThreshold",
    workerErrors: (alarm, plan) => awsQueriesMetric(alarm, "Errors", "FunctionName", output(plan, "workerName")) && alarm.inputs.threshold === plan.args.alarms.errorRatePercent,
    // One-minute datapoints, `stalledMinutes` of them in a row.
    stalled: (alarm, plan) =>
      awsQueriesMetric(alarm, "NumberOfMessagesDeleted", "QueueName", aws.queueName(aws.workQueue(plan))) &&
      alarm.inputs.evaluationPeriods === plan.args.alarms.stalledMinutes &&
      alarm.inputs.datapointsToAlarm === plan.args.alarms.stalledMinutes,
  },
  notifies: (alarm) => (Array.isArray(alarm.inputs.alarmActions) ? alarm.inputs.alarmActions : []),
  channelReachesEmail: (plan) => {
    const topic = the(plan, AWS.topic, "whose ARN is the alertChannel output", (candidate) => candidate.outputs.arn === output(plan, "alertChannel"));
    the(plan, AWS.subscription, `e-mailing ${plan.args.alertEmail} from ${topic.name}`, (subscription) => subscription.inputs.topic === topic.outputs.arn && subscription.inputs.protocol === "email" && subscription.inputs.endpoint === plan.args.alertEmail);
  },
};

const azureCriteria = (alarm: RecordedResource) => (Array.isArray(field(alarm.inputs, "criteria", "allOf")) ? (field(alarm.inputs, "criteria", "allOf") as unknown[]) : []);
const azureOnQueue = (criterion: unknown, plan: PlanEvidence) =>
  (Array.isArray(field(criterion, "dimensions")) ? (field(criterion, "dimensions") as unknown[]) : []).some(
    (dimension) => field(dimension, "name") === "EntityName" && Array.isArray(field(dimension, "values")) && (field(dimension, "values") as unknown[]).includes(azure.workQueue(plan).outputs.name),
  );
const azureMetric = (alarm: RecordedResource, plan: PlanEvidence, metric: string, operator: string, threshold: number) =>
  alarm.type === AZURE.metricAlert && azureCriteria(alarm).some((criterion) => field(criterion, "metricName") === metric && field(criterion, "operator") === operator && field(criterion, "threshold") === threshold && azureOnQueue(criterion, plan));
/** `PT15M`, `PT1H`: an ISO 8601 duration of minutes or hours, in minutes. */
const isoMinutes = (value: unknown) => {
  const match = /^PT(?:(\d+)H)?(?:(\d+)M)?$/.exec(String(value));
  return match === null ? Number.NaN : Number(match[1] ?? 0) * 60 + Number(match[2] ?? 0);
};
const azureLogAlert = (alarm: RecordedResource, column: string, threshold: number) =>
  alarm.type === AZURE.logAlert &&
  azureCriteria(alarm).some((criterion) => field(criterion, "metricMeasureColumn") === column && field(criterion, "operator") === "GreaterThanOrEqual" && field(criterion, "threshold") === threshold);

const AZURE_ALARMS: AlarmWiring = {
  types: [AZURE.metricAlert, AZURE.logAlert],
  is: {
    backlog: (alarm, plan) => azureCriteria(alarm).length === 1 && azureMetric(alarm, plan, "ActiveMessages", "GreaterThanOrEqual", plan.args.alarms.backlogMessages),
    // Service Bus has no oldest-message metric: the worker logs each message's age, a log query alerts on the largest.
    oldestMessageAge: (alarm, plan) => azureLogAlert(alarm, OLDEST_MESSAGE_AGE_FIELD, plan.args.alarms.oldestMessageAgeSeconds),
    deadLetters: (alarm, plan) => azureMetric(alarm, plan, "DeadletteredMessages", "GreaterThan", 0),
    workerErrors: (alarm, plan) => azureLogAlert(alarm, "ErrorRatePercent", plan.args.alarms.errorRatePercent) && /\brequests\b/.test(String(field(azureCriteria(alarm)[0], "query"))),
    // Metric alert windows come in fixed sizes: the smallest at least `stalledMinutes`.
    stalled: (alarm, plan) =>
      azureMetric(alarm, plan, "ActiveMessages", "GreaterThan", 0) && azureMetric(alarm, plan, "CompleteMessage", "LessThan", 1) && isoMinutes(alarm.inputs.windowSize) >= plan.args.alarms.stalledMinutes,
  },
  notifies: (alarm) =>
    alarm.type === AZURE.metricAlert
      ? (Array.isArray(alarm.inputs.actions) ? alarm.inputs.actions : []).map((action: unknown) => field(action, "actionGroupId"))
      : (Array.isArray(field(alarm.inputs, "actions", "actionGroups")) ? (field(alarm.inputs, "actions", "actionGroups") as unknown[]) : []),
  channelReachesEmail: (plan) => {
    const group = the(plan, AZURE.actionGroup, "whose id is the alertChannel output", (candidate) => candidate.outputs.id === output(plan, "alertChannel"));
    const receivers = list(group.inputs.emailReceivers, `${group.name} emailReceivers`);
    if (!receivers.some((receiver) => field(receiver, "emailAddress") === plan.args.alertEmail)) fail(`action group ${group.name} does not e-mail ${plan.args.alertEmail}`);
  },
};

const gcpConditions = (policy: RecordedResource) => (Array.isArray(policy.inputs.conditions) ? (policy.inputs.conditions as unknown[]) : []);
const gcpThreshold = (policy: RecordedResource, filterParts: readonly string[], threshold: number, comparison: string) =>
  gcpConditions(policy).some((condition) => {
    const filter = String(field(condition, "conditionThreshold", "filter"));
    return filterParts.every((part) => filter.includes(part)) && field(condition, "conditionThreshold", "thresholdValue") === threshold && field(condition, "conditionThreshold", "comparison") === comparison;
  });
const onSubscription = (subscription: RecordedResource) => `subscription_id = "${gcp.shortName(subscription)}"`;

const GCP_ALARMS: AlarmWiring = {
  types: [GCP.policy],
  is: {
    backlog: (policy, plan) =>
      gcpConditions(policy).length === 1 && gcpThreshold(policy, ["num_undelivered_messages", onSubscription(gcp.workSubscription(plan))], plan.args.alarms.backlogMessages, "COMPARISON_GE"),
    oldestMessageAge: (policy, plan) => gcpThreshold(policy, ["oldest_unacked_message_age", onSubscription(gcp.workSubscription(plan))], plan.args.alarms.oldestMessageAgeSeconds, "COMPARISON_GE"),
    deadLetters: (policy, plan) => gcpThreshold(policy, ["num_undelivered_messages", onSubscription(gcp.deadLetterSubscription(plan))], 0, "COMPARISON_GT"),
    // A ratio: 5xx responses over all requests of the worker's service.
    workerErrors: (policy, plan) =>
      gcpThreshold(policy, [`service_name = "${output(plan, "workerName")}"`, `response_code_class = "5xx"`], plan.args.alarms.errorRatePercent / 100, "COMPARISON_GE") &&
      gcpConditions(policy).some((condition) => typeof field(condition, "conditionThreshold", "denominatorFilter") === "string"),
    stalled: (policy, plan) =>
      policy.inputs.combiner === "AND" &&
      gcpConditions(policy).some((condition) => {
        const filter = String(field(condition, "conditionAbsent", "filter"));
        return filter.includes("push_request_count") && filter.includes(onSubscription(gcp.workSubscription(plan))) && field(condition, "conditionAbsent", "duration") === `${plan.args.alarms.stalledMinutes * 60}s`;
      }),
  },
  notifies: (policy) => (Array.isArray(policy.inputs.notificationChannels) ? policy.inputs.notificationChannels : []),
  channelReachesEmail: (plan) => {
    const channel = the(plan, GCP.channel, "whose name is the alertChannel output", (candidate) => candidate.outputs.name === output(plan, "alertChannel"));
    same([channel.inputs.type, field(channel.inputs, "labels", "email_address")], ["email", plan.args.alertEmail], `${channel.name} type and e-mail address`);
  },
};

// ---------------------------------------------------------------------------
// The table

export const CAPABILITIES = [
  {
    role: "work queue",
    meaning: "producers send to the `workQueueUrl` output; `workQueueId` is the same queue",
    clouds: {
      aws: {
        types: [AWS.queue],
        label: "SQS queue",
        check: (plan) => same(aws.workQueue(plan).outputs.url, output(plan, "workQueueUrl"), "the work queue's URL"),
      },
      azure: {
        types: [AZURE.namespace, AZURE.queue],
        label: "Service Bus queue in a Standard namespace",
        check: (plan) =>
          same(output(plan, "workQueueUrl"), `https://${text(azure.namespace(plan).outputs.name, "namespace name")}.servicebus.windows.net/${text(azure.workQueue(plan).outputs.name, "queue name")}`, "the workQueueUrl output"),
      },
      gcp: {
        types: [GCP.topic, GCP.subscription],
        label: "Pub/Sub topic, pushed to the worker by one subscription",
        check: (plan) => {
          same(output(plan, "workQueueUrl"), gcp.workTopic(plan).outputs.id, "the workQueueUrl output");
          gcp.workSubscription(plan);
        },
      },
    },
  },
  {
    role: "dead letters",
    meaning: "a message is moved aside after `maxDeliveryAttempts` deliveries and kept where the `deadLetterQueueUrl` output points",
    clouds: {
      aws: {
        types: [AWS.queue],
        label: "SQS dead-letter queue; redrive policy `maxReceiveCount`",
        check: (plan) => {
          const redrive = json(aws.workQueue(plan).inputs.redrivePolicy, "the work queue's redrivePolicy");
          same(field(redrive, "maxReceiveCount"), plan.args.maxDeliveryAttempts, "redrivePolicy.maxReceiveCount");
          same(field(redrive, "deadLetterTargetArn"), aws.deadLetterQueue(plan).outputs.arn, "redrivePolicy.deadLetterTargetArn");
        },
      },
      azure: {
        types: [AZURE.queue],
        label: "the queue's own `$DeadLetterQueue`; `maxDeliveryCount`",
        check: (plan) => {
          same(azure.workQueue(plan).inputs.maxDeliveryCount, plan.args.maxDeliveryAttempts, "the queue's maxDeliveryCount");
          same(output(plan, "deadLetterQueueUrl"), `${output(plan, "workQueueUrl")}/$DeadLetterQueue`, "the deadLetterQueueUrl output");
        },
      },
      gcp: {
        types: [GCP.topic, GCP.subscription, GCP.topicMember, GCP.subscriptionMember],
        label: "dead-letter topic and its own subscription; `deadLetterPolicy.maxDeliveryAttempts`",
        check: (plan) => {
          const work = gcp.workSubscription(plan);
          same(field(work.inputs, "deadLetterPolicy", "maxDeliveryAttempts"), plan.args.maxDeliveryAttempts, "deadLetterPolicy.maxDeliveryAttempts");
          const deadLetterTopic = text(field(work.inputs, "deadLetterPolicy", "deadLetterTopic"), "deadLetterPolicy.deadLetterTopic");
          same(gcp.deadLetterSubscription(plan).inputs.topic, deadLetterTopic, "the dead-letter subscription's topic");
          // Pub/Sub dead-letters with its own service agent: without these two grants it keeps redelivering instead.
          // https://cloud.google.com/pubsub/docs/handling-failures#grant_forwarding_permissions
          const topicName = text(the(plan, GCP.topic, "that is the dead-letter topic", (topic) => topic.outputs.id === deadLetterTopic).inputs.name, "dead-letter topic name");
          the(plan, GCP.topicMember, "letting Pub/Sub publish dead letters", (member) => member.inputs.topic === topicName && member.inputs.role === "roles/pubsub.publisher");
          the(plan, GCP.subscriptionMember, "letting Pub/Sub take dead letters off the work subscription", (member) => member.inputs.subscription === gcp.shortName(work) && member.inputs.role === "roles/pubsub.subscriber");
        },
      },
    },
  },
  {
    role: "worker, bounded",
    meaning: "fed by the work queue, never more than `maxWorkers × messagesPerWorker` pages in flight",
    clouds: {
      aws: {
        types: [AWS.fn, AWS.trigger],
        label: "Lambda function fed by an event source mapping; `maximumConcurrency` × `batchSize`",
        check: (plan) => {
          same(aws.trigger(plan).inputs.eventSourceArn, aws.workQueue(plan).outputs.arn, "the event source mapping's queue");
          same(maxInFlightPages(plan), plan.args.maxWorkers * plan.args.messagesPerWorker, "pages in flight");
        },
      },
      azure: {
        types: [AZURE.app, AZURE.blob, AZURE.deployment],
        label: "Function app on Flex Consumption, its package deployed by one deploy; `maximumInstanceCount` × host.json `maxConcurrentCalls`",
        check: (plan) => {
          const app = azure.app(plan);
          same(azure.appSetting(app, "WORK_QUEUE_NAME"), azure.workQueue(plan).outputs.name, "the app setting WORK_QUEUE_NAME");
          same(azure.appSetting(app, "ServiceBusConnection__fullyQualifiedNamespace"), `${text(azure.namespace(plan).outputs.name, "namespace name")}.servicebus.windows.net`, "the app's Service Bus namespace");
          same(maxInFlightPages(plan), plan.args.maxWorkers * plan.args.messagesPerWorker, "pages in flight");
        },
      },
      gcp: {
        types: [GCP.fn],
        label: "Cloud Function (gen2) the subscription pushes to; `maxInstanceCount` × `maxInstanceRequestConcurrency`",
        check: (plan) => {
          same(field(gcp.workSubscription(plan).inputs, "pushConfig", "pushEndpoint"), field(gcp.worker(plan).outputs, "serviceConfig", "uri"), "the push endpoint");
          same(maxInFlightPages(plan), plan.args.maxWorkers * plan.args.messagesPerWorker, "pages in flight");
        },
      },
    },
  },
  {
    role: "results store",
    meaning: "private (no public access possible) and encrypted at rest; the `resultsBucket` output",
    clouds: {
      aws: {
        types: [AWS.bucket, AWS.publicAccessBlock, AWS.encryption],
        label: "S3 bucket, all public access blocked, SSE-S3",
        check: (plan) => {
          const bucket = the(plan, AWS.bucket, "named by the resultsBucket output", (candidate) => candidate.outputs.bucket === output(plan, "resultsBucket"));
          const block = the(plan, AWS.publicAccessBlock, `on ${bucket.name}`, (candidate) => candidate.inputs.bucket === bucket.outputs.id);
          same(["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"].map((flag) => block.inputs[flag]), [true, true, true, true], "the four public access blocks");
          const encryption = the(plan, AWS.encryption, `on ${bucket.name}`, (candidate) => candidate.inputs.bucket === bucket.outputs.id);
          const algorithm = field(encryption.inputs, "rules", 0, "applyServerSideEncryptionByDefault", "sseAlgorithm");
          if (algorithm !== "AES256" && algorithm !== "aws:kms") fail(`default encryption is ${JSON.stringify(algorithm)}`);
        },
      },
      azure: {
        types: [AZURE.account, AZURE.container],
        label: "Storage account (no public blob access, Entra ID only, infrastructure encryption) and private container",
        check: (plan) => {
          const [accountName, containerName] = output(plan, "resultsBucket").split("/");
          const account = the(plan, AZURE.account, `named ${accountName}`, (candidate) => candidate.inputs.accountName === accountName);
          same([account.inputs.allowBlobPublicAccess, account.inputs.allowSharedKeyAccess], [false, false], "allowBlobPublicAccess and allowSharedKeyAccess");
          same(field(account.inputs, "encryption", "services", "blob", "enabled"), true, "blob encryption");
          const container = the(plan, AZURE.container, `named ${containerName} in ${accountName}`, (candidate) => candidate.inputs.containerName === containerName && candidate.inputs.accountName === accountName);
          same(container.inputs.publicAccess, "None", "the container's publicAccess");
        },
      },
      gcp: {
        types: [GCP.bucket],
        label: "Cloud Storage bucket, public access prevention enforced, uniform access, Google-managed encryption",
        check: (plan) => {
          const bucket = the(plan, GCP.bucket, "named by the resultsBucket output", (candidate) => candidate.outputs.name === output(plan, "resultsBucket"));
          same([bucket.inputs.publicAccessPrevention, bucket.inputs.uniformBucketLevelAccess], ["enforced", true], "publicAccessPrevention and uniformBucketLevelAccess");
          // Cloud Storage encrypts every object at rest, with Google-managed keys unless a KMS key is named:
          // https://cloud.google.com/storage/docs/encryption/default-keys
          const kmsKey = field(bucket.inputs, "encryption", "defaultKmsKeyName");
          if (bucket.inputs.encryption !== undefined && typeof kmsKey !== "string") fail(`encryption is ${JSON.stringify(bucket.inputs.encryption)} without a KMS key`);
        },
      },
    },
  },
  {
    role: "runtime settings",
    meaning: "the store at the `configLocation` output starts with the stack's settings: every settings key, valid for `parseSettings`",
    clouds: {
      aws: {
        types: [AWS.parameter],
        label: "SSM parameter (JSON)",
        check: (plan) => {
          const parameter = the(plan, AWS.parameter, "named by the configLocation output", (candidate) => candidate.outputs.name === output(plan, "configLocation"));
          checkSettingsDocument(parameter.inputs.value, `${parameter.name} value`, plan);
        },
      },
      azure: {
        types: [AZURE.store, AZURE.keyValue],
        label: "App Configuration store, one JSON key-value",
        check: (plan) => {
          const location = new URL(output(plan, "configLocation"));
          const store = the(plan, AZURE.store, `at ${location.origin}`, (candidate) => candidate.outputs.endpoint === location.origin);
          const key = location.pathname.replace(/^\/kv\//, "");
          const keyValue = the(plan, AZURE.keyValue, `named ${key} in ${store.name}`, (candidate) => candidate.inputs.keyValueName === key && candidate.inputs.configStoreName === store.outputs.name);
          checkSettingsDocument(keyValue.inputs.value, `${keyValue.name} value`, plan);
        },
      },
      gcp: {
        types: [GCP.parameter, GCP.version],
        label: "Parameter Manager parameter (JSON) and its version",
        check: (plan) => {
          const parameter = the(plan, GCP.parameter, "named by the configLocation output", (candidate) => candidate.outputs.name === output(plan, "configLocation"));
          const version = the(plan, GCP.version, `of ${parameter.name}`, (candidate) => candidate.inputs.parameter === parameter.outputs.id);
          checkSettingsDocument(version.inputs.parameterData, `${version.name} parameterData`, plan);
        },
      },
    },
  },
  {
    role: "alarms",
    meaning: `the same five kinds (${Object.values(ALARM_KINDS).join("; ")}), each to the \`alertChannel\` output, which e-mails \`alertEmail\``,
    clouds: {
      aws: { types: [AWS.alarm, AWS.topic, AWS.subscription], label: "CloudWatch alarms to an SNS topic", check: checkAlarms(AWS_ALARMS) },
      azure: { types: [AZURE.metricAlert, AZURE.logAlert, AZURE.actionGroup], label: "Azure Monitor metric and log alerts to an action group", check: checkAlarms(AZURE_ALARMS) },
      gcp: { types: [GCP.policy, GCP.channel], label: "Cloud Monitoring alert policies to a notification channel", check: checkAlarms(GCP_ALARMS) },
    },
  },
  {
    role: "dashboard",
    meaning: "one dashboard over the work queue and the worker, linked by the `dashboardUrl` output",
    clouds: {
      aws: {
        types: [AWS.dashboard],
        label: "CloudWatch dashboard",
        check: (plan) => {
          const dashboard = the(plan, AWS.dashboard, "in the plan", () => true);
          if (!output(plan, "dashboardUrl").endsWith(`#dashboards/dashboard/${text(dashboard.inputs.dashboardName, "dashboardName")}`)) fail(`the dashboardUrl output does not link to ${dashboard.name}`);
          const body = text(dashboard.inputs.dashboardBody, "dashboardBody");
          for (const name of [aws.queueName(aws.workQueue(plan)), output(plan, "workerName")]) if (!body.includes(`"${name}"`)) fail(`the dashboard does not chart ${name}`);
        },
      },
      azure: {
        types: [AZURE.workbook],
        label: "Azure Monitor workbook",
        check: (plan) => {
          const workbook = the(plan, AZURE.workbook, "in the plan", () => true);
          same(output(plan, "dashboardUrl"), `https://portal.azure.com/#resource${text(workbook.outputs.id, "workbook id")}`, "the dashboardUrl output");
          const data = text(workbook.inputs.serializedData, "serializedData");
          if (!data.includes(text(azure.namespace(plan).outputs.id, "namespace id"))) fail("the workbook does not chart the work queue's namespace");
        },
      },
      gcp: {
        types: [GCP.dashboard],
        label: "Cloud Monitoring dashboard",
        check: (plan) => {
          const dashboard = the(plan, GCP.dashboard, "in the plan", () => true);
          const id = text(dashboard.outputs.id, "dashboard id").split("/").pop() ?? "";
          if (!output(plan, "dashboardUrl").includes(`/dashboards/custom/${id}`)) fail(`the dashboardUrl output does not link to dashboard ${id}`);
          const body = text(dashboard.inputs.dashboardJson, "dashboardJson");
          for (const name of [gcp.shortName(gcp.workSubscription(plan)), output(plan, "workerName")]) if (!body.includes(name)) fail(`the dashboard does not chart ${name}`);
        },
      },
    },
  },
  {
    role: "stack outputs",
    meaning: `the same names on every cloud: ${FLEET_OUTPUT_NAMES.map((name) => `\`${name}\``).join(", ")}`,
    clouds: {
      aws: { types: [AWS.fleet], label: "outputs of the AWS fleet component", check: (plan) => checkOutputNames(plan) },
      azure: { types: [AZURE.fleet], label: "outputs of the Azure fleet component", check: (plan) => checkOutputNames(plan) },
      gcp: { types: [GCP.fleet], label: "outputs of the Google Cloud fleet component", check: (plan) => checkOutputNames(plan) },
    },
  },
] as const satisfies readonly Capability[];

function checkOutputNames(plan: PlanEvidence): void {
  const missing = FLEET_OUTPUT_NAMES.filter((name) => typeof plan.outputs[name] !== "string" || plan.outputs[name] === "");
  if (missing.length > 0) fail(`stack outputs missing or empty: ${missing.join(", ")}`);
}

/**
 * Checks one capability on one plan: every listed type is in the plan, then
 * the cloud's own check. Throws `CapabilityError` naming the stack, the cloud
 * and what is missing or different.
 */
export function checkCapability(capability: Capability, plan: PlanEvidence): void {
  const implementation = capability.clouds[plan.cloud];
  try {
    for (const type of implementation.types) if (resourcesOf(plan, type).length === 0) fail(`no ${typeLabel(type)} (${type}) in the plan`);
    implementation.check(plan);
  } catch (error) {
    if (error instanceof CapabilityError) throw new CapabilityError(`${capability.role} on stack ${plan.stack} (${CLOUD_NAMES[plan.cloud]}): ${error.message}`);
    throw error;
  }
}
