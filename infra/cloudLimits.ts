/**
 * The clouds' documented ranges and refusals that the stack config validation
 * reads, one section per cloud, each entry with the page that states it. A
 * value the cloud would refuse at `pulumi up` is refused here first, before
 * anything is declared. No provider SDK is imported.
 */

/** AWS: Lambda, SQS, CloudWatch Logs and SSM Parameter Store. */
export const AWS_LIMITS = {
  /** Lambda's longest timeout, in seconds (https://docs.aws.amazon.com/lambda/latest/dg/configuration-timeout.html). */
  lambdaMaxTimeoutSeconds: 900,
  /** Lambda's memory range, in MB (https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html). */
  lambdaMemoryMb: { min: 128, max: 10_240 },
  /**
   * `scalingConfig.maximumConcurrency` of an SQS event source: at least 2
   * (provider docs: "Must be greater than or equal to 2"), 1000 without a
   * quota increase (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html).
   */
  sqsEventSourceMaximumConcurrency: { min: 2, max: 1000 },
  /** SQS batches above 10 need a batching window of at least 1 s (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html). */
  unbatchedMaxBatchSize: 10,
  /** `maximumBatchingWindowInSeconds`, 0 to 300 (same page). */
  batchingWindowSeconds: { min: 0, max: 300 },
  /** The longest SQS visibility timeout, 12 hours (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html). */
  sqsMaxVisibilityTimeoutSeconds: 43_200,
  /** The longest SQS message retention, 14 days (same page: `MessageRetentionPeriod`, 60 to 1,209,600 seconds). */
  sqsMaxRetentionSeconds: 1_209_600,
  /** The only retention periods CloudWatch Logs accepts, in days (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html). */
  logRetentionDays: [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653],
  /**
   * The largest SSM parameter value per tier: 4 KB Standard, 8 KB Advanced
   * (https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html).
   * The API counts characters ("Standard tier parameters support a maximum
   * parameter value of 4096 characters", aws/aws-sdk-net#3157); the fleet
   * counts UTF-8 bytes, which is never fewer.
   */
  ssmParameterValueMaxBytes: { Standard: 4_096, Advanced: 8_192 },
  /**
   * A function's environment variables, keys and values together, in bytes
   * (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
   * Lambda refuses more at create or update: "the environment variables you
   * have provided exceeded the 4KB limit" (aws-cloudformation/cfn-lint#1945,
   * github-aws-runners/terraform-aws-github-runner#3594).
   */
  lambdaEnvironmentMaxBytes: 4_096,
  /**
   * What PutMetricAlarm takes, none of which the provider checks at plan time:
   * - `period` 10, 30, or any multiple of 60 seconds
   *   (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html; aws-cloudformation/cfn-lint#3553);
   * - at most 10 metrics in an alarm on a math expression ("Alarms on math
   *   expressions cannot contain more than 10 individual metrics", aws/aws-cdk#27144);
   * - exactly one metric query returning data, `returnData` left out counting
   *   as true ("Exactly one element of the metrics list should return data",
   *   hashicorp/terraform-provider-aws#29894);
   * - `datapointsToAlarm` at most `evaluationPeriods` (hashicorp/terraform#24070).
   */
  cloudWatchAlarm: { shortPeriodsSeconds: [10, 30], periodStepSeconds: 60, maxMetricsInExpression: 10 },
} as const;

/** Google Cloud. */
export const GCP_LIMITS = {
  /**
   * A subscription's ack deadline, in seconds. For push delivery it is also
   * the push request's timeout (provider docs of `pubsub.Subscription.ackDeadlineSeconds`).
   * https://cloud.google.com/pubsub/docs/lease-management
   */
  ackDeadlineSeconds: { min: 10, max: 600 },
  /**
   * Seconds the ack deadline keeps over the function timeout. Pub/Sub's clock
   * starts when it sends the push, before Cloud Run has an instance for it: a
   * request that finds every instance busy waits up to 3.5 × the instances'
   * average start time or 10 s, whichever is longer, and a cold start comes on
   * top (https://cloud.google.com/run/docs/about-instance-autoscaling,
   * "exceeding maximum instances"). 60 s holds a 10 s start three and a half
   * times plus the start itself; without it, a slow success is delivered again.
   */
  ackMarginSeconds: 60,
  /**
   * A subscription keeps unacknowledged messages 10 minutes to 31 days
   * (`messageRetentionDuration`, provider docs of `pubsub.Subscription`).
   * https://cloud.google.com/pubsub/docs/subscription-properties#retention
   */
  subscriptionRetentionSeconds: { min: 600, max: 31 * 24 * 3600 },
  /**
   * `deadLetterPolicy.maxDeliveryAttempts`: 5 to 100.
   * https://cloud.google.com/pubsub/docs/handling-failures#dead_letter_topic
   */
  maxDeliveryAttempts: { min: 5, max: 100 },
  /**
   * `retryPolicy` back-off between two deliveries of one message, 0 to 600 s;
   * applied "on a best effort basis": the delay can be more or less.
   * https://cloud.google.com/pubsub/docs/reference/rest/v1/projects.subscriptions#RetryPolicy
   */
  retryBackoffSeconds: { min: 0, max: 600 },
  /**
   * A metric-absence condition's window, in minutes: whole minutes, at least
   * 2 (provider docs of `conditionAbsent.duration`) and at most 23.5 hours.
   * https://cloud.google.com/monitoring/alerts/metric-absence
   */
  absenceWindowMinutes: { min: 2, max: 1410 },
  /** Log bucket retention, in days. https://cloud.google.com/logging/docs/buckets#custom-retention */
  logBucketRetentionDays: { min: 1, max: 3650 },
} as const;

/** Azure: Service Bus, Flex Consumption, Log Analytics and Azure Monitor. */
export const AZURE_LIMITS = {
  /**
   * Service Bus's longest message lock: 5 minutes.
   * https://learn.microsoft.com/azure/service-bus-messaging/message-transfers-locks-settlement#peeklock
   */
  serviceBusMaxLockSeconds: 300,
  /**
   * Flex Consumption instance sizes, in MB.
   * https://learn.microsoft.com/azure/azure-functions/flex-consumption-plan#instance-sizes
   */
  flexInstanceMemoryMb: [512, 2048, 4096],
  /**
   * `maximumInstanceCount`: "The lowest maximum scale is currently 1. The
   * highest currently supported value is 1000."
   * https://learn.microsoft.com/azure/azure-functions/flex-consumption-plan#considerations
   */
  flexMaxInstances: { min: 1, max: 1000 },
  /**
   * `siteConfig` properties a Flex Consumption site refuses with a 400 ("The
   * following site configuration property (Site.SiteConfig.<name>) for Flex
   * Consumption sites is invalid"), even when null. azure-native sends
   * `netFrameworkVersion` on its own whenever `siteConfig` is given.
   * https://github.com/pulumi/pulumi-azure-native/issues/4168 (NetFrameworkVersion)
   * https://github.com/microsoft/azure-pipelines-tasks/issues/21032 (FtpsState, Use32BitWorkerProcess, NetFrameworkVersion, FunctionsRuntimeScaleMonitoringEnabled)
   * https://github.com/Azure/terraform-azurerm-avm-res-web-site/issues/283 (LinuxFxVersion)
   */
  flexRejectedSiteConfig: ["netFrameworkVersion", "ftpsState", "use32BitWorkerProcess", "functionsRuntimeScaleMonitoringEnabled", "linuxFxVersion"],
  /**
   * Log Analytics interactive retention for the pay-as-you-go (PerGB2018) tier.
   * https://learn.microsoft.com/azure/azure-monitor/logs/data-retention-configure
   */
  logAnalyticsRetentionDays: { min: 30, max: 730 },
  /**
   * Windows (`windowSize`) a log search alert rule takes, in minutes: up to 6
   * hours, then 1 or 2 days.
   * https://learn.microsoft.com/azure/azure-monitor/alerts/alerts-create-log-alert-rule#configure-the-alert-rule-conditions
   */
  logAlertWindowsMinutes: [5, 10, 15, 30, 45, 60, 120, 180, 240, 300, 360, 1440, 2880],
} as const;
