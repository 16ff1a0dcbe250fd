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
import { FLEET_METRICS_EVENT, OLDEST_MESSAGE_AGE_FIELD } from "../functions/azure/metrics";
import { FUNCTION_ENV as GCP_FUNCTION_ENV } from "../functions/gcp/environment";
import { SettingsError } from "../shared/errors";
import { METRICS, OUTCOME_METRIC, PAGE_RETRIES_ALARM } from "../shared/metricNames";
import { parseSettings, SETTING_KEYS } from "../shared/settings";
import type * as AzureWorker from "./azure/worker";
import type { ValidatedFleetArgs } from "./config";
import { FLEET_OUTPUT_NAMES, type Cloud } from "./contract";
import type { RecordedResource } from "./mockRun";
import { AWS, AZURE, GCP } from "./policy/types";
import { items, read } from "./policy/view";

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
function exactlyOne(plan: PlanEvidence, type: string, what: string, matches: (resource: RecordedResource) => boolean): RecordedResource {
  const found = resourcesOf(plan, type).filter(matches);
  if (found.length !== 1) fail(`expected one ${typeLabel(type)} ${what}, found ${found.length}${found.length > 0 ? ` (${found.map((resource) => resource.name).join(", ")})` : ""}`);
  return found[0];
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

/** The fleet components' types; every other type comes from the policy pack's tables. */
const FLEET_COMPONENT = { aws: "scrape-fleet:aws:Fleet", azure: "scrape-fleet:azure:Fleet", gcp: "scrape-fleet:gcp:Fleet" } as const satisfies Record<Cloud, string>;

const aws = {
  workQueue: (plan: PlanEvidence) => exactlyOne(plan, AWS.queue, "whose ARN is the workQueueId output", (queue) => queue.outputs.arn === output(plan, "workQueueId")),
  deadLetterQueue: (plan: PlanEvidence) => exactlyOne(plan, AWS.queue, "whose URL is the deadLetterQueueUrl output", (queue) => queue.outputs.url === output(plan, "deadLetterQueueUrl")),
  worker: (plan: PlanEvidence) => exactlyOne(plan, AWS.lambda, "named by the workerName output", (fn) => fn.outputs.name === output(plan, "workerName")),
  trigger: (plan: PlanEvidence) => {
    const fn = aws.worker(plan);
    return exactlyOne(plan, AWS.eventSourceMapping, `invoking ${fn.name}`, (mapping) => mapping.inputs.functionName === fn.outputs.arn);
  },
  queueName: (queue: RecordedResource) => text(queue.outputs.name, `${queue.name} name`),
};

const azure = {
  workQueue: (plan: PlanEvidence) => exactlyOne(plan, AZURE.queue, "whose id is the workQueueId output", (queue) => queue.outputs.id === output(plan, "workQueueId")),
  namespace: (plan: PlanEvidence) => {
    const queue = azure.workQueue(plan);
    return exactlyOne(plan, AZURE.namespace, `holding queue ${queue.name}`, (namespace) => namespace.outputs.name === queue.inputs.namespaceName);
  },
  app: (plan: PlanEvidence) => exactlyOne(plan, AZURE.webApp, "named by the workerName output", (app) => app.outputs.name === output(plan, "workerName")),
  /** The app's settings live in their own `config/appsettings` resource (Flex refuses any siteConfig azure-native would send). */
  appSetting: (plan: PlanEvidence, app: RecordedResource, name: string) => {
    const settings = exactlyOne(plan, AZURE.appSettings, `holding the settings of ${app.name}`, (candidate) => candidate.inputs.name === app.outputs.name);
    return read(settings.inputs, "properties", name);
  },
};

const gcp = {
  workTopic: (plan: PlanEvidence) => exactlyOne(plan, GCP.topic, "whose id is the workQueueId output", (topic) => topic.outputs.id === output(plan, "workQueueId")),
  workSubscription: (plan: PlanEvidence) => {
    const topic = gcp.workTopic(plan);
    return exactlyOne(plan, GCP.subscription, `on topic ${topic.name}`, (subscription) => subscription.inputs.topic === topic.outputs.id);
  },
  deadLetterSubscription: (plan: PlanEvidence) =>
    exactlyOne(plan, GCP.subscription, "whose id is the deadLetterQueueUrl output", (subscription) => subscription.outputs.id === output(plan, "deadLetterQueueUrl")),
  worker: (plan: PlanEvidence) => exactlyOne(plan, GCP.function, "named by the workerName output", (fn) => fn.outputs.name === output(plan, "workerName")),
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
  const deployment = exactlyOne(plan, AZURE.deployment, "deploying the worker's package", () => true);
  const blobName = text(read(deployment.inputs, "properties", "parameters", "blobName", "value"), "the one deploy's blobName parameter");
  const blob = exactlyOne(plan, AZURE.blob, `named ${blobName}`, (candidate) => candidate.inputs.blobName === blobName);
  const recorded = text(read(blob.inputs, "metadata", "packagesha256"), `${blob.name} metadata.packagesha256`);
  const worker = require("./azure/worker") as typeof AzureWorker;
  const host = { maxConcurrentCalls: plan.args.messagesPerWorker, functionTimeoutSeconds: plan.args.functionTimeoutSeconds };
  const built = worker.workerPackage(worker.bundleAzureWorker(), host);
  if (built.sha256 !== recorded) fail(`the deployed package (sha256 ${recorded}) is not the one whose host.json has maxConcurrentCalls ${host.maxConcurrentCalls} (sha256 ${built.sha256})`);
  return count(read(worker.hostJson(host), "extensions", "serviceBus", "maxConcurrentCalls"), "host.json extensions.serviceBus.maxConcurrentCalls");
}

/** The most pages the fleet works on at once, per cloud: instances × messages per instance. */
export const IN_FLIGHT_PAGES: Readonly<Record<Cloud, (plan: PlanEvidence) => number>> = {
  aws: (plan) => {
    const trigger = aws.trigger(plan);
    return count(read(trigger.inputs, "scalingConfig", "maximumConcurrency"), "scalingConfig.maximumConcurrency") * count(trigger.inputs.batchSize, "batchSize");
  },
  azure: (plan) => count(read(azure.app(plan).inputs, "functionAppConfig", "scaleAndConcurrency", "maximumInstanceCount"), "functionAppConfig.scaleAndConcurrency.maximumInstanceCount") * azureMessagesPerInstance(plan),
  gcp: (plan) => {
    const service = read(gcp.worker(plan).inputs, "serviceConfig");
    return count(read(service, "maxInstanceCount"), "serviceConfig.maxInstanceCount") * count(read(service, "maxInstanceRequestConcurrency"), "serviceConfig.maxInstanceRequestConcurrency");
  },
};

/** The most pages in flight the plan allows. */
export function maxInFlightPages(plan: PlanEvidence): number {
  return IN_FLIGHT_PAGES[plan.cloud](plan);
}

// ---------------------------------------------------------------------------
// Alarms: the same six kinds on every cloud, each to the alert channel

/** The alarm kinds every cloud has, and their meaning. */
export const ALARM_KINDS = {
  backlog: "backlog at `backlogMessages`",
  oldestMessageAge: "oldest message at `oldestMessageAgeSeconds`",
  deadLetters: "dead letters > 0",
  workerErrors: "worker error rate at `errorRatePercent`",
  pageRetries: "share of pages ending retry or malformed at `retryRatePercent`",
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

const awsMetricQueries = (alarm: RecordedResource) => items(alarm.inputs.metricQueries);
const awsQueriesMetric = (alarm: RecordedResource, metric: string, dimension: string, value: string) =>
  awsMetricQueries(alarm).some((query) => read(query, "metric", "metricName") === metric && read(query, "metric", "dimensions", dimension) === value);
const awsOnQueue = (alarm: RecordedResource, metric: string, queue: RecordedResource) => alarm.inputs.metricName === metric && read(alarm.inputs, "dimensions", "QueueName") === aws.queueName(queue);

const AWS_ALARMS: AlarmWiring = {
  types: [AWS.metricAlarm],
  is: {
    backlog: (alarm, plan) => awsOnQueue(alarm, "ApproximateNumberOfMessagesVisible", aws.workQueue(plan)) && alarm.inputs.threshold === plan.args.alarms.backlogMessages,
    oldestMessageAge: (alarm, plan) => awsOnQueue(alarm, "ApproximateAgeOfOldestMessage", aws.workQueue(plan)) && alarm.inputs.threshold === plan.args.alarms.oldestMessageAgeSeconds,
    deadLetters: (alarm, plan) => awsOnQueue(alarm, "ApproximateNumberOfMessagesVisible", aws.deadLetterQueue(plan)) && alarm.inputs.threshold === 0 && alarm.inputs.comparisonOperator === "GreaterThanThreshold",
    workerErrors: (alarm, plan) => awsQueriesMetric(alarm, "Errors", "FunctionName", output(plan, "workerName")) && alarm.inputs.threshold === plan.args.alarms.errorRatePercent,
    // The worker's own page metrics (Embedded Metric Format) under its Fleet dimension, summed over the alarm's window.
    pageRetries: (alarm, plan) =>
      alarm.inputs.threshold === plan.args.alarms.retryRatePercent &&
      PAGE_RETRIES_ALARM.sentBack.map((outcome) => OUTCOME_METRIC[outcome]).every((metric) =>
        awsMetricQueries(alarm).some(
          (query) =>
            read(query, "metric", "namespace") === METRICS.namespace &&
            read(query, "metric", "metricName") === metric &&
            read(query, "metric", "dimensions", METRICS.fleetDimension) === plan.args.namePrefix &&
            read(query, "metric", "period") === PAGE_RETRIES_ALARM.windowMinutes * 60,
        ),
      ),
    // One-minute datapoints, `stalledMinutes` of them in a row.
    stalled: (alarm, plan) =>
      awsQueriesMetric(alarm, "NumberOfMessagesDeleted", "QueueName", aws.queueName(aws.workQueue(plan))) &&
      alarm.inputs.evaluationPeriods === plan.args.alarms.stalledMinutes &&
      alarm.inputs.datapointsToAlarm === plan.args.alarms.stalledMinutes,
  },
  notifies: (alarm) => items(alarm.inputs.alarmActions),
  channelReachesEmail: (plan) => {
    const topic = exactlyOne(plan, AWS.topic, "whose ARN is the alertChannel output", (candidate) => candidate.outputs.arn === output(plan, "alertChannel"));
    exactlyOne(plan, AWS.topicSubscription, `e-mailing ${plan.args.alertEmail} from ${topic.name}`, (subscription) => subscription.inputs.topic === topic.outputs.arn && subscription.inputs.protocol === "email" && subscription.inputs.endpoint === plan.args.alertEmail);
  },
};

const azureCriteria = (alarm: RecordedResource) => items(read(alarm.inputs, "criteria", "allOf"));
const azureOnQueue = (criterion: unknown, plan: PlanEvidence) =>
  items(read(criterion, "dimensions")).some((dimension) => read(dimension, "name") === "EntityName" && items(read(dimension, "values")).includes(azure.workQueue(plan).outputs.name));
const azureMetric = (alarm: RecordedResource, plan: PlanEvidence, metric: string, operator: string, threshold: number) =>
  alarm.type === AZURE.metricAlert && azureCriteria(alarm).some((criterion) => read(criterion, "metricName") === metric && read(criterion, "operator") === operator && read(criterion, "threshold") === threshold && azureOnQueue(criterion, plan));
/** `PT15M`, `PT1H`, `P1D`: an ISO 8601 duration of minutes, hours or days, in minutes. */
const isoMinutes = (value: unknown) => {
  const match = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?$/.exec(String(value));
  return match === null ? Number.NaN : Number(match[1] ?? 0) * 1440 + Number(match[2] ?? 0) * 60 + Number(match[3] ?? 0);
};
const azureLogAlert = (alarm: RecordedResource, column: string, threshold: number) =>
  alarm.type === AZURE.scheduledQueryRule &&
  azureCriteria(alarm).some((criterion) => read(criterion, "metricMeasureColumn") === column && read(criterion, "operator") === "GreaterThanOrEqual" && read(criterion, "threshold") === threshold);

const AZURE_ALARMS: AlarmWiring = {
  types: [AZURE.metricAlert, AZURE.scheduledQueryRule],
  is: {
    backlog: (alarm, plan) => azureCriteria(alarm).length === 1 && azureMetric(alarm, plan, "ActiveMessages", "GreaterThanOrEqual", plan.args.alarms.backlogMessages),
    // Service Bus has no oldest-message metric: the worker logs each message's age, a log query alerts on the largest.
    oldestMessageAge: (alarm, plan) => azureLogAlert(alarm, OLDEST_MESSAGE_AGE_FIELD, plan.args.alarms.oldestMessageAgeSeconds),
    // Each message the worker dead-letters, from its message_dead_lettered lines (the DeadletteredMessages gauge alert is the catch-all beside it).
    deadLetters: (alarm) => azureLogAlert(alarm, "DeadLettered", 1) && alarm.inputs.autoMitigate === false,
    workerErrors: (alarm, plan) => azureLogAlert(alarm, "ErrorRatePercent", plan.args.alarms.errorRatePercent) && /\brequests\b/.test(String(read(azureCriteria(alarm)[0], "query"))),
    // The worker's own page counts, from its fleet_metrics lines.
    pageRetries: (alarm, plan) => azureLogAlert(alarm, "RetryRatePercent", plan.args.alarms.retryRatePercent) && String(read(azureCriteria(alarm)[0], "query")).includes(FLEET_METRICS_EVENT),
    // Metric alert windows come in fixed sizes: the smallest at least `stalledMinutes`.
    // A log search alert over the namespace's exported metrics: it evaluates while nothing completes, which a metric alert does not.
    stalled: (alarm, plan) =>
      azureLogAlert(alarm, "StalledMinutes", plan.args.alarms.stalledMinutes) && /\bAzureMetrics\b/.test(String(read(azureCriteria(alarm)[0], "query"))) && isoMinutes(alarm.inputs.windowSize) >= plan.args.alarms.stalledMinutes,
  },
  notifies: (alarm) => (alarm.type === AZURE.metricAlert ? items(alarm.inputs.actions).map((action) => read(action, "actionGroupId")) : items(read(alarm.inputs, "actions", "actionGroups"))),
  channelReachesEmail: (plan) => {
    const group = exactlyOne(plan, AZURE.actionGroup, "whose id is the alertChannel output", (candidate) => candidate.outputs.id === output(plan, "alertChannel"));
    const receivers = list(group.inputs.emailReceivers, `${group.name} emailReceivers`);
    if (!receivers.some((receiver) => read(receiver, "emailAddress") === plan.args.alertEmail)) fail(`action group ${group.name} does not e-mail ${plan.args.alertEmail}`);
  },
};

const gcpConditions = (policy: RecordedResource) => items(policy.inputs.conditions);
const gcpThreshold = (policy: RecordedResource, filterParts: readonly string[], threshold: number, comparison: string) =>
  gcpConditions(policy).some((condition) => {
    const filter = String(read(condition, "conditionThreshold", "filter"));
    return filterParts.every((part) => filter.includes(part)) && read(condition, "conditionThreshold", "thresholdValue") === threshold && read(condition, "conditionThreshold", "comparison") === comparison;
  });
const onSubscription = (subscription: RecordedResource) => `subscription_id = "${gcp.shortName(subscription)}"`;

const GCP_ALARMS: AlarmWiring = {
  types: [GCP.alertPolicy],
  is: {
    backlog: (policy, plan) =>
      gcpConditions(policy).length === 1 && gcpThreshold(policy, ["num_undelivered_messages", onSubscription(gcp.workSubscription(plan))], plan.args.alarms.backlogMessages, "COMPARISON_GE"),
    oldestMessageAge: (policy, plan) => gcpThreshold(policy, ["oldest_unacked_message_age", onSubscription(gcp.workSubscription(plan))], plan.args.alarms.oldestMessageAgeSeconds, "COMPARISON_GE"),
    deadLetters: (policy, plan) => gcpThreshold(policy, ["num_undelivered_messages", onSubscription(gcp.deadLetterSubscription(plan))], 0, "COMPARISON_GT"),
    // A ratio: 5xx responses over all requests of the worker's service.
    workerErrors: (policy, plan) =>
      gcpThreshold(policy, [`service_name = "${output(plan, "workerName")}"`, `response_code_class = "5xx"`], plan.args.alarms.errorRatePercent / 100, "COMPARISON_GE") &&
      gcpConditions(policy).some((condition) => typeof read(condition, "conditionThreshold", "denominatorFilter") === "string"),
    // A ratio of one log-based page counter labelled by outcome: retry and malformed pages over all pages.
    pageRetries: (policy, plan) =>
      gcpConditions(policy).some((condition) => {
        const filter = String(read(condition, "conditionThreshold", "filter"));
        const denominator = String(read(condition, "conditionThreshold", "denominatorFilter"));
        return (
          read(condition, "conditionThreshold", "thresholdValue") === plan.args.alarms.retryRatePercent / 100 &&
          denominator.startsWith('metric.type = "logging.googleapis.com/user/') &&
          !denominator.includes("metric.labels.outcome") &&
          filter === `${denominator} AND metric.labels.outcome = monitoring.regex.full_match("${PAGE_RETRIES_ALARM.sentBack.join("|")}")`
        );
      }),
    stalled: (policy, plan) =>
      policy.inputs.combiner === "AND" &&
      gcpConditions(policy).some((condition) => {
        const filter = String(read(condition, "conditionAbsent", "filter"));
        return filter.includes("push_request_count") && filter.includes(onSubscription(gcp.workSubscription(plan))) && read(condition, "conditionAbsent", "duration") === `${plan.args.alarms.stalledMinutes * 60}s`;
      }),
  },
  notifies: (policy) => items(policy.inputs.notificationChannels),
  channelReachesEmail: (plan) => {
    const channel = exactlyOne(plan, GCP.notificationChannel, "whose name is the alertChannel output", (candidate) => candidate.outputs.name === output(plan, "alertChannel"));
    same([channel.inputs.type, read(channel.inputs, "labels", "email_address")], ["email", plan.args.alertEmail], `${channel.name} type and e-mail address`);
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
          same(read(redrive, "maxReceiveCount"), plan.args.maxDeliveryAttempts, "redrivePolicy.maxReceiveCount");
          same(read(redrive, "deadLetterTargetArn"), aws.deadLetterQueue(plan).outputs.arn, "redrivePolicy.deadLetterTargetArn");
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
        types: [GCP.topic, GCP.subscription, GCP.topicIamMember, GCP.subscriptionIamMember],
        label: "dead-letter topic and its own subscription; the handler counts `maxDeliveryAttempts` (env `MAX_DELIVERY_ATTEMPTS`) and dead-letters, Pub/Sub's `deadLetterPolicy` is the net under it",
        check: (plan) => {
          const work = gcp.workSubscription(plan);
          const env = read(gcp.worker(plan).inputs, "serviceConfig", "environmentVariables");
          same(read(env, GCP_FUNCTION_ENV.maxDeliveryAttempts), String(plan.args.maxDeliveryAttempts), `the function's ${GCP_FUNCTION_ENV.maxDeliveryAttempts}`);
          const deadLetterTopic = text(read(work.inputs, "deadLetterPolicy", "deadLetterTopic"), "deadLetterPolicy.deadLetterTopic");
          same(read(env, GCP_FUNCTION_ENV.deadLetterTopic), deadLetterTopic, `the function's ${GCP_FUNCTION_ENV.deadLetterTopic}`);
          same(gcp.deadLetterSubscription(plan).inputs.topic, deadLetterTopic, "the dead-letter subscription's topic");
          const topicName = text(exactlyOne(plan, GCP.topic, "that is the dead-letter topic", (topic) => topic.outputs.id === deadLetterTopic).inputs.name, "dead-letter topic name");
          const runtime = exactlyOne(plan, GCP.serviceAccount, "that runs the function", (account) => account.outputs.email === read(gcp.worker(plan).inputs, "serviceConfig", "serviceAccountEmail"));
          exactlyOne(plan, GCP.topicIamMember, "letting the function publish dead letters", (member) => member.inputs.topic === topicName && member.inputs.role === "roles/pubsub.publisher" && member.inputs.member === `serviceAccount:${text(runtime.outputs.email, "runtime account email")}`);
          // Pub/Sub dead-letters with its own service agent: without these two grants it keeps redelivering instead.
          // https://cloud.google.com/pubsub/docs/handling-failures#grant_forwarding_permissions
          const agent = text(exactlyOne(plan, GCP.serviceIdentity, "the Pub/Sub service agent", (identity) => identity.inputs.service === "pubsub.googleapis.com").outputs.member, "the Pub/Sub service agent");
          exactlyOne(plan, GCP.topicIamMember, "letting Pub/Sub publish dead letters", (member) => member.inputs.topic === topicName && member.inputs.role === "roles/pubsub.publisher" && member.inputs.member === agent);
          exactlyOne(plan, GCP.subscriptionIamMember, "letting Pub/Sub take dead letters off the work subscription", (member) => member.inputs.subscription === gcp.shortName(work) && member.inputs.role === "roles/pubsub.subscriber");
        },
      },
    },
  },
  {
    role: "worker, bounded",
    meaning: "fed by the work queue, never more than `maxWorkers × messagesPerWorker` pages in flight",
    clouds: {
      aws: {
        types: [AWS.lambda, AWS.eventSourceMapping],
        label: "Lambda function fed by an event source mapping; `maximumConcurrency` × `batchSize`",
        check: (plan) => {
          same(aws.trigger(plan).inputs.eventSourceArn, aws.workQueue(plan).outputs.arn, "the event source mapping's queue");
          same(maxInFlightPages(plan), plan.args.maxWorkers * plan.args.messagesPerWorker, "pages in flight");
        },
      },
      azure: {
        types: [AZURE.webApp, AZURE.appSettings, AZURE.blob, AZURE.deployment],
        label: "Function app on Flex Consumption, its package deployed by one deploy; `maximumInstanceCount` × host.json `maxConcurrentCalls`",
        check: (plan) => {
          const app = azure.app(plan);
          same(azure.appSetting(plan, app, "WORK_QUEUE_NAME"), azure.workQueue(plan).outputs.name, "the app setting WORK_QUEUE_NAME");
          same(azure.appSetting(plan, app, "ServiceBusConnection__fullyQualifiedNamespace"), `${text(azure.namespace(plan).outputs.name, "namespace name")}.servicebus.windows.net`, "the app's Service Bus namespace");
          same(maxInFlightPages(plan), plan.args.maxWorkers * plan.args.messagesPerWorker, "pages in flight");
        },
      },
      gcp: {
        types: [GCP.function],
        label: "Cloud Function (gen2) the subscription pushes to; `maxInstanceCount` × `maxInstanceRequestConcurrency`",
        check: (plan) => {
          same(read(gcp.workSubscription(plan).inputs, "pushConfig", "pushEndpoint"), read(gcp.worker(plan).outputs, "serviceConfig", "uri"), "the push endpoint");
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
          const bucket = exactlyOne(plan, AWS.bucket, "named by the resultsBucket output", (candidate) => candidate.outputs.bucket === output(plan, "resultsBucket"));
          const block = exactlyOne(plan, AWS.publicAccessBlock, `on ${bucket.name}`, (candidate) => candidate.inputs.bucket === bucket.outputs.id);
          same(["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"].map((flag) => block.inputs[flag]), [true, true, true, true], "the four public access blocks");
          const encryption = exactlyOne(plan, AWS.encryption, `on ${bucket.name}`, (candidate) => candidate.inputs.bucket === bucket.outputs.id);
          const algorithm = read(encryption.inputs, "rules", 0, "applyServerSideEncryptionByDefault", "sseAlgorithm");
          if (algorithm !== "AES256" && algorithm !== "aws:kms") fail(`default encryption is ${JSON.stringify(algorithm)}`);
        },
      },
      azure: {
        types: [AZURE.storageAccount, AZURE.blobContainer],
        label: "Storage account (no public blob access, Entra ID only, infrastructure encryption) and private container",
        check: (plan) => {
          const [accountName, containerName] = output(plan, "resultsBucket").split("/");
          const account = exactlyOne(plan, AZURE.storageAccount, `named ${accountName}`, (candidate) => candidate.inputs.accountName === accountName);
          same([account.inputs.allowBlobPublicAccess, account.inputs.allowSharedKeyAccess], [false, false], "allowBlobPublicAccess and allowSharedKeyAccess");
          same(read(account.inputs, "encryption", "services", "blob", "enabled"), true, "blob encryption");
          const container = exactlyOne(plan, AZURE.blobContainer, `named ${containerName} in ${accountName}`, (candidate) => candidate.inputs.containerName === containerName && candidate.inputs.accountName === accountName);
          same(container.inputs.publicAccess, "None", "the container's publicAccess");
        },
      },
      gcp: {
        types: [GCP.bucket],
        label: "Cloud Storage bucket, public access prevention enforced, uniform access, Google-managed encryption",
        check: (plan) => {
          const bucket = exactlyOne(plan, GCP.bucket, "named by the resultsBucket output", (candidate) => candidate.outputs.name === output(plan, "resultsBucket"));
          same([bucket.inputs.publicAccessPrevention, bucket.inputs.uniformBucketLevelAccess], ["enforced", true], "publicAccessPrevention and uniformBucketLevelAccess");
          // Cloud Storage encrypts every object at rest, with Google-managed keys unless a KMS key is named:
          // https://cloud.google.com/storage/docs/encryption/default-keys
          const kmsKey = read(bucket.inputs, "encryption", "defaultKmsKeyName");
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
          const parameter = exactlyOne(plan, AWS.parameter, "named by the configLocation output", (candidate) => candidate.outputs.name === output(plan, "configLocation"));
          checkSettingsDocument(parameter.inputs.value, `${parameter.name} value`, plan);
        },
      },
      azure: {
        types: [AZURE.configStore, AZURE.keyValue],
        label: "App Configuration store, one JSON key-value",
        check: (plan) => {
          const location = new URL(output(plan, "configLocation"));
          const store = exactlyOne(plan, AZURE.configStore, `at ${location.origin}`, (candidate) => candidate.outputs.endpoint === location.origin);
          const key = location.pathname.replace(/^\/kv\//, "");
          const keyValue = exactlyOne(plan, AZURE.keyValue, `named ${key} in ${store.name}`, (candidate) => candidate.inputs.keyValueName === key && candidate.inputs.configStoreName === store.outputs.name);
          checkSettingsDocument(keyValue.inputs.value, `${keyValue.name} value`, plan);
        },
      },
      gcp: {
        types: [GCP.parameter, GCP.parameterVersion],
        label: "Parameter Manager parameter (JSON) and its version",
        check: (plan) => {
          const parameter = exactlyOne(plan, GCP.parameter, "named by the configLocation output", (candidate) => candidate.outputs.name === output(plan, "configLocation"));
          const version = exactlyOne(plan, GCP.parameterVersion, `of ${parameter.name}`, (candidate) => candidate.inputs.parameter === parameter.outputs.id);
          checkSettingsDocument(version.inputs.parameterData, `${version.name} parameterData`, plan);
        },
      },
    },
  },
  {
    role: "alarms",
    meaning: `the same six kinds (${Object.values(ALARM_KINDS).join("; ")}), each to the \`alertChannel\` output, which e-mails \`alertEmail\``,
    clouds: {
      aws: { types: [AWS.metricAlarm, AWS.topic, AWS.topicSubscription], label: "CloudWatch alarms to an SNS topic", check: checkAlarms(AWS_ALARMS) },
      azure: { types: [AZURE.metricAlert, AZURE.scheduledQueryRule, AZURE.diagnosticSetting, AZURE.actionGroup], label: "Azure Monitor metric and log alerts to an action group (the namespace's metrics exported to Log Analytics for the stalled alert)", check: checkAlarms(AZURE_ALARMS) },
      gcp: { types: [GCP.alertPolicy, GCP.notificationChannel], label: "Cloud Monitoring alert policies to a notification channel", check: checkAlarms(GCP_ALARMS) },
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
          const dashboard = exactlyOne(plan, AWS.dashboard, "in the plan", () => true);
          if (!output(plan, "dashboardUrl").endsWith(`#dashboards/dashboard/${text(dashboard.inputs.dashboardName, "dashboardName")}`)) fail(`the dashboardUrl output does not link to ${dashboard.name}`);
          const body = text(dashboard.inputs.dashboardBody, "dashboardBody");
          for (const name of [aws.queueName(aws.workQueue(plan)), output(plan, "workerName")]) if (!body.includes(`"${name}"`)) fail(`the dashboard does not chart ${name}`);
        },
      },
      azure: {
        types: [AZURE.workbook],
        label: "Azure Monitor workbook",
        check: (plan) => {
          const workbook = exactlyOne(plan, AZURE.workbook, "in the plan", () => true);
          same(output(plan, "dashboardUrl"), `https://portal.azure.com/#resource${text(workbook.outputs.id, "workbook id")}`, "the dashboardUrl output");
          const data = text(workbook.inputs.serializedData, "serializedData");
          if (!data.includes(text(azure.namespace(plan).outputs.id, "namespace id"))) fail("the workbook does not chart the work queue's namespace");
        },
      },
      gcp: {
        types: [GCP.dashboard],
        label: "Cloud Monitoring dashboard",
        check: (plan) => {
          const dashboard = exactlyOne(plan, GCP.dashboard, "in the plan", () => true);
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
      aws: { types: [FLEET_COMPONENT.aws], label: "outputs of the AWS fleet component", check: (plan) => checkOutputNames(plan) },
      azure: { types: [FLEET_COMPONENT.azure], label: "outputs of the Azure fleet component", check: (plan) => checkOutputNames(plan) },
      gcp: { types: [FLEET_COMPONENT.gcp], label: "outputs of the Google Cloud fleet component", check: (plan) => checkOutputNames(plan) },
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
