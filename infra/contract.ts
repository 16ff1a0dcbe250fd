/**
 * The fleet contract: what every cloud's fleet takes and what it exposes.
 *
 * `infra/index.ts` reads the stack config into `FleetArgs`, picks the cloud the
 * stack names, and calls that cloud's `createFleet`. Each cloud folder
 * (`infra/aws`, `infra/azure`, `infra/gcp`) has the same file names, and its
 * `index.ts` exports a `createFleet` of type `CreateFleet`, so the compiler
 * checks that all three conform.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { FleetSettings } from "../shared/settings";

export const CLOUDS = ["aws", "azure", "gcp"] as const;
export type Cloud = (typeof CLOUDS)[number];

/** Alarm thresholds, the same meaning on every cloud. */
export interface AlarmThresholds {
  /** Messages waiting in the work queue before the backlog alarm fires. @default 1000 */
  readonly backlogMessages: number;
  /** Age of the oldest waiting message, in seconds, before its alarm fires. @default 900 */
  readonly oldestMessageAgeSeconds: number;
  /** Share of worker invocations that fail, in percent, before the errors alarm fires. @default 5 */
  readonly errorRatePercent: number;
  /**
   * Share of pages ending `retry` or `malformed` over 15 minutes, in percent,
   * before the page-retries alarm fires. Also how a fleet that cannot read its
   * settings (`settings_unavailable` on every page) is noticed. @default 25
   */
  readonly retryRatePercent: number;
  /** Minutes with messages waiting but none processed before the stalled alarm fires. @default 15 */
  readonly stalledMinutes: number;
}

/** The stack's settings for the fleet, validated, defaults applied. Cloud-neutral. */
export interface FleetArgs {
  /** Resource name prefix, `<project>-<stack>`, lower case. */
  readonly namePrefix: string;
  /** Where every alarm is sent. Required. */
  readonly alertEmail: string;
  /** Optional HTTPS webhook for alarms; a Pulumi secret. */
  readonly alertWebhookUrl?: pulumi.Output<string>;
  /**
   * Deliveries of one message before it is dead-lettered: SQS `maxReceiveCount`,
   * Service Bus `maxDeliveryCount` (counted across the handler's scheduled
   * copies), and on Pub/Sub the handler's own count (the subscription's
   * `maxDeliveryAttempts` is a safety net at 100). 5 to 100.
   * @default 5
   */
  readonly maxDeliveryAttempts: number;
  /** The worker's timeout per invocation, in seconds. @default 120 */
  readonly functionTimeoutSeconds: number;
  /**
   * The most worker instances at once: Lambda `scalingConfig.maximumConcurrency`,
   * Flex `maximumInstanceCount`, Cloud Functions `maxInstanceCount`.
   * @default 10
   */
  readonly maxWorkers: number;
  /**
   * Messages one worker instance works on at once: SQS batch size, Service Bus
   * `maxConcurrentCalls`, Cloud Functions `maxInstanceRequestConcurrency`.
   * The fleet never has more than `maxWorkers × messagesPerWorker` pages in flight.
   * @default 10
   */
  readonly messagesPerWorker: number;
  /** Worker memory in MB. @default 512 */
  readonly memoryMb: number;
  /** Days logs are kept. @default 30 */
  readonly logRetentionDays: number;
  /** Days raw HTML is kept in the results store (records are kept). @default 30 */
  readonly rawHtmlRetentionDays: number;
  /** The initial runtime settings written to the config store. */
  readonly settings: FleetSettings;
  /**
   * On this update, write the stack's `settings` over the config store's
   * current value; off, an operator's change in the store is kept by every
   * `pulumi up`.
   * @default false
   */
  readonly pushSettings: boolean;
  readonly alarms: AlarmThresholds;
  /** Tags (AWS, Azure) or labels (Google Cloud) put on every resource. */
  readonly tags: Readonly<Record<string, string>>;
}

/**
 * What every fleet exposes, under the same stack output names on every cloud.
 */
export interface FleetOutputs {
  /** Where producers send messages: SQS queue URL, Service Bus queue URL, Pub/Sub topic id. */
  readonly workQueueUrl: pulumi.Output<string>;
  /** The work queue's resource id: SQS ARN, Azure resource id, Pub/Sub topic id. */
  readonly workQueueId: pulumi.Output<string>;
  /** Where dead letters collect: SQS DLQ URL, Service Bus `$DeadLetterQueue` path, Pub/Sub DLQ subscription id. */
  readonly deadLetterQueueUrl: pulumi.Output<string>;
  /** The worker function's name. */
  readonly workerName: pulumi.Output<string>;
  /** The private results store: S3 bucket, storage account/container, GCS bucket. */
  readonly resultsBucket: pulumi.Output<string>;
  /** Where the runtime settings live: SSM parameter name, App Configuration endpoint, Parameter Manager parameter id. */
  readonly configLocation: pulumi.Output<string>;
  /** A link to the fleet's dashboard. */
  readonly dashboardUrl: pulumi.Output<string>;
  /** Where alarms go: SNS topic ARN, action group id, notification channel id. */
  readonly alertChannel: pulumi.Output<string>;
}

export const FLEET_OUTPUT_NAMES = [
  "workQueueUrl",
  "workQueueId",
  "deadLetterQueueUrl",
  "workerName",
  "resultsBucket",
  "configLocation",
  "dashboardUrl",
  "alertChannel",
] as const satisfies readonly (keyof FleetOutputs)[];

/** Each cloud's `infra/<cloud>/index.ts` exports one of these as `createFleet`. */
export type CreateFleet = (name: string, args: FleetArgs, opts?: pulumi.ComponentResourceOptions) => FleetOutputs;
