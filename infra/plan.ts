/**
 * `npm run plan -- --stack NAME [--json] [--config KEY=VALUE ...]`: what the
 * stack would create, with no Pulumi CLI or cloud account. Runs the program
 * under mocks (./mockRun) and prints the resource tree, a few key inputs per
 * resource and the outputs. `--config` tries a value without editing the stack
 * file, like `pulumi up --config` (but not saved).
 *
 * Exit codes: 0 printed; 1 the stack or its config is wrong (the message
 * names the key, the value and the fix); 2 usage.
 */
import { SettingsError, describeError, formatIssue } from "../shared/errors";
import { mockRun, StackFileError, UnknownStackError, type MockRunResult, type RecordedResource } from "./mockRun";

const USAGE = "usage: npm run plan -- --stack NAME [--json] [--config KEY=VALUE ...]";

/**
 * Inputs worth a glance, per type (never secrets: those are dropped by name
 * from `secretInputs`). Types not listed show their `name`, if any.
 */
const KEY_INPUTS: Readonly<Record<string, readonly string[]>> = {
  "aws:sqs/queue:Queue": ["name", "visibilityTimeoutSeconds", "messageRetentionSeconds", "redrivePolicy", "sqsManagedSseEnabled"],
  "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy": ["redriveAllowPolicy"],
  "aws:lambda/function:Function": ["name", "runtime", "architectures", "memorySize", "timeout", "handler"],
  "aws:lambda/eventSourceMapping:EventSourceMapping": ["batchSize", "maximumBatchingWindowInSeconds", "scalingConfig", "functionResponseTypes"],
  "aws:s3/bucket:Bucket": ["bucket", "forceDestroy"],
  "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": ["rules"],
  "aws:cloudwatch/logGroup:LogGroup": ["name", "retentionInDays"],
  "aws:cloudwatch/metricAlarm:MetricAlarm": ["name", "metricName", "comparisonOperator", "threshold", "treatMissingData"],
  "aws:sns/topicSubscription:TopicSubscription": ["protocol", "endpoint"],
  "aws:ssm/parameter:Parameter": ["name", "type", "tier"],
  "aws:iam/role:Role": ["name"],
  "pulumi:providers:aws": ["region"],
  "azure-native:servicebus:Queue": ["queueName", "maxDeliveryCount", "lockDuration", "deadLetteringOnMessageExpiration"],
  "azure-native:servicebus:Namespace": ["namespaceName", "sku", "disableLocalAuth"],
  "azure-native:web:WebApp": ["name", "functionAppConfig"],
  "azure-native:storage:StorageAccount": ["accountName", "allowBlobPublicAccess", "allowSharedKeyAccess", "minimumTlsVersion"],
  "azure-native:appconfiguration:ConfigurationStore": ["configStoreName", "disableLocalAuth"],
  "azure-native:monitor:MetricAlert": ["ruleName", "windowSize"],
  "azure-native:monitor:ScheduledQueryRule": ["ruleName", "windowSize"],
  "azure-native:authorization:RoleAssignment": ["scope", "roleDefinitionId"],
  "gcp:pubsub/subscription:Subscription": ["name", "ackDeadlineSeconds", "deadLetterPolicy", "retryPolicy"],
  "gcp:pubsub/topic:Topic": ["name"],
  "gcp:cloudfunctionsv2/function:Function": ["name", "location"],
  "gcp:storage/bucket:Bucket": ["name", "uniformBucketLevelAccess", "publicAccessPrevention"],
  "gcp:monitoring/alertPolicy:AlertPolicy": ["displayName"],
};

interface PlanNode {
  readonly type: string;
  readonly name: string;
  readonly inputs: Readonly<Record<string, unknown>>;
  readonly children: PlanNode[];
}

/** The resources as a tree by parent, with only the key inputs. */
export function planTree(result: MockRunResult): PlanNode[] {
  const nodes = new Map<string, PlanNode>();
  for (const resource of result.resources) nodes.set(resource.urn, { type: resource.type, name: resource.name, inputs: keyInputs(resource), children: [] });
  const roots: PlanNode[] = [];
  for (const resource of result.resources) {
    const node = nodes.get(resource.urn) as PlanNode;
    const parent = resource.parent === undefined ? undefined : nodes.get(resource.parent);
    (parent ? parent.children : roots).push(node);
  }
  return roots;
}

function keyInputs(resource: RecordedResource): Record<string, unknown> {
  const keys = KEY_INPUTS[resource.type] ?? ["name"];
  const picked: Record<string, unknown> = {};
  for (const key of keys) {
    if (resource.secretInputs.includes(key)) picked[key] = "[secret]";
    else if (resource.inputs[key] !== undefined) picked[key] = resource.inputs[key];
  }
  return picked;
}

export function formatPlan(result: MockRunResult): string {
  const lines = [`stack ${result.stack} (project ${result.project}): ${result.resources.length} resources`];
  const walk = (node: PlanNode, depth: number) => {
    const details = Object.entries(node.inputs).map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`);
    lines.push(`${"  ".repeat(depth + 1)}${node.type}  ${node.name}${details.length > 0 ? `  (${details.join(", ")})` : ""}`);
    for (const child of node.children) walk(child, depth + 1);
  };
  for (const root of planTree(result)) walk(root, 0);
  lines.push("outputs:");
  for (const [name, value] of Object.entries(result.outputs)) lines.push(`  ${name}: ${value}`);
  return lines.join("\n");
}

interface PlanArgs {
  readonly stack: string;
  readonly json: boolean;
  readonly config: Readonly<Record<string, string>>;
}

function parseArgs(argv: readonly string[]): PlanArgs | string {
  let stack: string | undefined;
  let json = false;
  const config: Record<string, string> = {};
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index];
    if (arg === "--help" || arg === "-h") return "help";
    if (arg === "--json") json = true;
    else if (arg === "--config" || arg === "-c") {
      const pair = /^([^=]+:[^=]+)=(.*)$/s.exec(argv[++index] ?? "");
      if (!pair) return `--config takes KEY=VALUE with a namespaced key, such as scrape-fleet:maxWorkers=4 (given ${JSON.stringify(argv[index])})`;
      config[pair[1]] = pair[2];
    }
    else if (arg === "--stack" || arg === "-s") stack = argv[++index];
    else if (arg.startsWith("--stack=")) stack = arg.slice("--stack=".length);
    else return `unknown argument ${JSON.stringify(arg)}`;
  }
  if (stack === undefined || stack === "") return "--stack NAME is required";
  return { stack, json, config };
}

export async function runPlan(argv: readonly string[], out: (text: string) => void, err: (text: string) => void): Promise<number> {
  const args = parseArgs(argv);
  if (args === "help") {
    out(USAGE);
    return 0;
  }
  if (typeof args === "string") {
    err(`${args}\n${USAGE}`);
    return 2;
  }
  try {
    const result = await mockRun({ stack: args.stack, configOverrides: args.config });
    out(args.json ? JSON.stringify({ stack: result.stack, project: result.project, resources: planTree(result), outputs: result.outputs }, null, 2) : formatPlan(result));
    return 0;
  } catch (error) {
    if (error instanceof SettingsError) {
      err(`plan: the stack's config is invalid:\n${error.issues.map((issue) => `  ${formatIssue(issue)}`).join("\n")}`);
      return 1;
    }
    if (error instanceof UnknownStackError || error instanceof StackFileError) {
      err(`plan: ${error.message}`);
      return 1;
    }
    throw error;
  }
}

if (require.main === module) {
  runPlan(process.argv.slice(2), (text) => process.stdout.write(`${text}\n`), (text) => process.stderr.write(`${text}\n`)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`plan: ${error instanceof Error && error.stack ? error.stack : describeError(error)}\n`);
      process.exitCode = 1;
    },
  );
}
