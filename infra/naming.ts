/**
 * Cloud naming limits, in one table, for every resource kind the fleet names
 * on the three clouds, and `resourceName`, which builds a name that fits or
 * says which stack setting to change.
 *
 * Sources:
 * - AWS: S3 https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html,
 *   SQS https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-queues.html,
 *   Lambda https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html,
 *   IAM https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html,
 *   SNS https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html,
 *   CloudWatch https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutDashboard.html.
 * - Azure: https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules,
 *   scheduled query rules https://learn.microsoft.com/azure/templates/microsoft.insights/scheduledqueryrules.
 * - Google Cloud: service accounts https://cloud.google.com/iam/docs/service-accounts-create,
 *   Cloud Functions https://cloud.google.com/functions/docs/reference/rest/v2/projects.locations.functions,
 *   buckets https://cloud.google.com/storage/docs/buckets#naming,
 *   Pub/Sub https://cloud.google.com/pubsub/docs/pubsub-basics#resource_names,
 *   log buckets https://cloud.google.com/logging/docs/reference/v2/rest/v2/projects.locations.buckets/create,
 *   sinks https://cloud.google.com/logging/docs/reference/v2/rest/v2/sinks,
 *   exclusions https://cloud.google.com/logging/docs/reference/v2/rest/v2/projects.exclusions,
 *   log-based metrics https://cloud.google.com/logging/docs/reference/v2/rest/v2/projects.metrics.
 */
import { SettingsError } from "../shared/errors";
import type { Cloud } from "./contract";

export interface NameRule {
  readonly cloud: Cloud;
  /** Shortest name the cloud accepts. */
  readonly min: number;
  /** Longest name the cloud accepts. */
  readonly max: number;
  /** The whole name must match this (characters, first and last character). */
  readonly pattern: RegExp;
  /** What `pattern` allows, in words, for the error message. */
  readonly allowed: string;
  /** The cloud accepts lower case only: the name is lower-cased before checking. */
  readonly lowerCase: boolean;
  /**
   * Joins prefix and suffix; `""` where the cloud allows no separator (storage
   * accounts), `/` where it names a hierarchy (log-based metrics).
   */
  readonly separator: "-" | "/" | "";
}

const ALNUM_DASH = /^[A-Za-z0-9_-]+$/;

export const NAME_RULES = {
  // AWS
  awsS3Bucket: { cloud: "aws", min: 3, max: 63, pattern: /^[a-z0-9][a-z0-9.-]*[a-z0-9]$/, allowed: "lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit", lowerCase: true, separator: "-" },
  awsSqsQueue: { cloud: "aws", min: 1, max: 80, pattern: ALNUM_DASH, allowed: "letters, digits, hyphens and underscores", lowerCase: false, separator: "-" },
  awsLambdaFunction: { cloud: "aws", min: 1, max: 64, pattern: ALNUM_DASH, allowed: "letters, digits, hyphens and underscores", lowerCase: false, separator: "-" },
  awsIamRole: { cloud: "aws", min: 1, max: 64, pattern: /^[\w+=,.@-]+$/, allowed: "letters, digits and + = , . @ _ -", lowerCase: false, separator: "-" },
  awsIamPolicy: { cloud: "aws", min: 1, max: 128, pattern: /^[\w+=,.@-]+$/, allowed: "letters, digits and + = , . @ _ -", lowerCase: false, separator: "-" },
  awsSnsTopic: { cloud: "aws", min: 1, max: 256, pattern: ALNUM_DASH, allowed: "letters, digits, hyphens and underscores", lowerCase: false, separator: "-" },
  awsLogGroup: { cloud: "aws", min: 1, max: 512, pattern: /^[\w./#-]+$/, allowed: "letters, digits and . _ - / #", lowerCase: false, separator: "-" },
  awsSsmParameter: { cloud: "aws", min: 1, max: 1011, pattern: /^[\w./-]+$/, allowed: "letters, digits and . _ - /", lowerCase: false, separator: "-" },
  awsCloudWatchAlarm: { cloud: "aws", min: 1, max: 255, pattern: /^[\x20-\x7e]+$/, allowed: "printable ASCII", lowerCase: false, separator: "-" },
  awsCloudWatchDashboard: { cloud: "aws", min: 1, max: 255, pattern: ALNUM_DASH, allowed: "letters, digits, hyphens and underscores", lowerCase: false, separator: "-" },

  // Azure
  azureResourceGroup: { cloud: "azure", min: 1, max: 90, pattern: /^[\w().-]*[\w()-]$/, allowed: "letters, digits, _ ( ) . - and not ending with a dot", lowerCase: false, separator: "-" },
  azureStorageAccount: { cloud: "azure", min: 3, max: 24, pattern: /^[a-z0-9]+$/, allowed: "lower-case letters and digits only", lowerCase: true, separator: "" },
  azureStorageContainer: { cloud: "azure", min: 3, max: 63, pattern: /^[a-z0-9](?!.*--)[a-z0-9-]*[a-z0-9]$/, allowed: "lower-case letters, digits and single hyphens, starting and ending with a letter or digit", lowerCase: true, separator: "-" },
  azureServiceBusNamespace: { cloud: "azure", min: 6, max: 50, pattern: /^[A-Za-z][A-Za-z0-9-]*[A-Za-z0-9]$/, allowed: "letters, digits and hyphens, starting with a letter and ending with a letter or digit", lowerCase: false, separator: "-" },
  azureServiceBusQueue: { cloud: "azure", min: 1, max: 260, pattern: /^[A-Za-z0-9][\w.-]*[A-Za-z0-9_]$|^[A-Za-z0-9]$/, allowed: "letters, digits, periods, hyphens and underscores, starting with a letter or digit", lowerCase: false, separator: "-" },
  azureFunctionApp: { cloud: "azure", min: 2, max: 60, pattern: /^[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]$/, allowed: "letters, digits and hyphens, not starting or ending with a hyphen", lowerCase: false, separator: "-" },
  azureAppServicePlan: { cloud: "azure", min: 1, max: 60, pattern: /^[A-Za-z0-9-]+$/, allowed: "letters, digits and hyphens", lowerCase: false, separator: "-" },
  azureAppConfigurationStore: { cloud: "azure", min: 5, max: 50, pattern: /^[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]$/, allowed: "letters, digits and hyphens, starting and ending with a letter or digit", lowerCase: false, separator: "-" },
  azureLogAnalyticsWorkspace: { cloud: "azure", min: 4, max: 63, pattern: /^[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]$/, allowed: "letters, digits and hyphens, starting and ending with a letter or digit", lowerCase: false, separator: "-" },
  azureApplicationInsights: { cloud: "azure", min: 1, max: 260, pattern: /^[^%&\\?/]*[^%&\\?/. ]$/, allowed: "any characters except % & \\ ? / and not ending with a dot or space", lowerCase: false, separator: "-" },
  azureActionGroup: { cloud: "azure", min: 1, max: 260, pattern: /^[^%&\\?/]*[^%&\\?/. ]$/, allowed: "any characters except % & \\ ? /", lowerCase: false, separator: "-" },
  azureActionGroupShortName: { cloud: "azure", min: 1, max: 12, pattern: /^[\w -]+$/, allowed: "letters, digits, spaces, hyphens and underscores", lowerCase: false, separator: "-" },
  azureMetricAlert: { cloud: "azure", min: 1, max: 260, pattern: /^[^*#&+:<>?@%{}\\/]+$/, allowed: "any characters except * # & + : < > ? @ % { } \\ /", lowerCase: false, separator: "-" },
  azureScheduledQueryRule: { cloud: "azure", min: 1, max: 260, pattern: /^[^*<>%{}&:\\?/#\x00-\x1f]*[^*<>%{}&:\\?/#\x00-\x1f. ]$/, allowed: "any characters except * < > % { } & : \\ ? / # and control characters, not ending with a space or a dot", lowerCase: false, separator: "-" },

  // Google Cloud
  gcpServiceAccountId: { cloud: "gcp", min: 6, max: 30, pattern: /^[a-z][a-z0-9-]*[a-z0-9]$/, allowed: "lower-case letters, digits and hyphens, starting with a letter and ending with a letter or digit", lowerCase: true, separator: "-" },
  gcpCloudFunction: { cloud: "gcp", min: 1, max: 63, pattern: /^[a-z](?:[a-z0-9-]*[a-z0-9])?$/, allowed: "lower-case letters, digits and hyphens, starting with a letter and not ending with a hyphen", lowerCase: true, separator: "-" },
  gcpStorageBucket: { cloud: "gcp", min: 3, max: 63, pattern: /^[a-z0-9][a-z0-9._-]*[a-z0-9]$/, allowed: "lower-case letters, digits, dots, hyphens and underscores, starting and ending with a letter or digit", lowerCase: true, separator: "-" },
  gcpPubSubTopic: { cloud: "gcp", min: 3, max: 255, pattern: /^(?!goog)[A-Za-z][\w.~+%-]*$/, allowed: "letters, digits and - _ . ~ + %, starting with a letter and not with `goog`", lowerCase: false, separator: "-" },
  gcpPubSubSubscription: { cloud: "gcp", min: 3, max: 255, pattern: /^(?!goog)[A-Za-z][\w.~+%-]*$/, allowed: "letters, digits and - _ . ~ + %, starting with a letter and not with `goog`", lowerCase: false, separator: "-" },
  // https://cloud.google.com/artifact-registry/docs/repositories/create-repos (repository naming)
  gcpArtifactRepository: { cloud: "gcp", min: 1, max: 63, pattern: /^[a-z](?:[a-z0-9-]*[a-z0-9])?$/, allowed: "lower-case letters, digits and hyphens, starting with a letter and ending with a letter or digit", lowerCase: true, separator: "-" },
  gcpParameter: { cloud: "gcp", min: 1, max: 63, pattern: /^[A-Za-z0-9_-]+$/, allowed: "letters, digits, hyphens and underscores", lowerCase: false, separator: "-" },
  gcpLogBucket: { cloud: "gcp", min: 1, max: 100, pattern: /^[\w.-]+$/, allowed: "letters, digits, underscores, hyphens and periods", lowerCase: false, separator: "-" },
  gcpLogSink: { cloud: "gcp", min: 1, max: 100, pattern: /^[A-Za-z0-9][\w.-]*$/, allowed: "letters, digits, underscores, hyphens and periods, starting with a letter or digit", lowerCase: false, separator: "-" },
  gcpLogExclusion: { cloud: "gcp", min: 1, max: 100, pattern: /^[A-Za-z0-9][\w.-]*$/, allowed: "letters, digits, underscores, hyphens and periods, starting with a letter or digit", lowerCase: false, separator: "-" },
  gcpLogMetric: { cloud: "gcp", min: 1, max: 100, pattern: /^[\w.,+!*'()%-][\w.,+!*'()%/-]*$/, allowed: "letters, digits and _ - . , + ! * ' ( ) % /, not starting with /", lowerCase: false, separator: "/" },
} as const satisfies Record<string, NameRule>;

export type NameKind = keyof typeof NAME_RULES;

/** The stack key that sets the prefix every resource name starts with. */
export const NAME_PREFIX_KEY = "scrape-fleet:namePrefix";

export interface ResourceNameOptions {
  /**
   * Characters the name must leave free for Pulumi's auto-naming suffix
   * (a hyphen and 7 random characters), when the name is a logical name Pulumi
   * completes rather than the physical name.
   * @default 0
   */
  readonly reserve?: number;
}

/**
 * Builds `<prefix><separator><suffix>` for `kind`, lower-cased where the cloud
 * accepts lower case only (and without hyphens where it allows none), and
 * checks it against the cloud's limits. Throws `SettingsError` naming
 * `scrape-fleet:namePrefix` and a prefix that fits when the name does not.
 */
export function resourceName(kind: NameKind, prefix: string, suffix: string, options: ResourceNameOptions = {}): string {
  const rule: NameRule = NAME_RULES[kind];
  const join = (head: string) => {
    const raw = suffix === "" ? head : `${head}${rule.separator}${suffix}`;
    const cased = rule.lowerCase ? raw.toLowerCase() : raw;
    return rule.separator === "" ? cased.replace(/[^a-z0-9]/g, "") : cased;
  };
  const name = join(prefix);
  const max = rule.max - (options.reserve ?? 0);
  const problem =
    name.length > max
      ? `makes the ${kind} name ${JSON.stringify(name)} ${name.length} characters long; ${rule.cloud} allows at most ${max}${options.reserve ? ` (${rule.max} less ${options.reserve} for Pulumi's auto-name suffix)` : ""}`
      : name.length < rule.min
        ? `makes the ${kind} name ${JSON.stringify(name)} shorter than the ${rule.min} characters ${rule.cloud} requires`
        : rule.pattern.test(name)
          ? undefined
          : `makes the ${kind} name ${JSON.stringify(name)} invalid: ${rule.cloud} allows ${rule.allowed}`;
  if (problem === undefined) return name;
  const room = Math.max(1, max - (join("").length));
  const shorter = prefix.toLowerCase().replace(/[^a-z0-9-]/g, "").slice(0, Math.min(room, 20)).replace(/^-+|-+$/g, "") || "fleet";
  throw new SettingsError("stack config", [
    { key: NAME_PREFIX_KEY, value: prefix, problem, fix: `pulumi config set ${NAME_PREFIX_KEY} ${shorter}` },
  ]);
}
