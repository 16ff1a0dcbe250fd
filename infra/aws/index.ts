/**
 * The fleet on AWS: SQS work queue + dead-letter queue, a Lambda worker
 * triggered by an event source mapping, a private S3 bucket for results, an
 * SSM parameter for runtime settings, CloudWatch alarms to an SNS topic, and
 * a dashboard.
 *
 * Tags: every taggable resource gets `args.tags` (the fleet's tags merged
 * with the stack's) on its own `tags`. The default provider is used rather
 * than an explicit provider with `defaultTags`, because an explicit provider
 * ignores the stack's `aws:` config (profile, assumeRole, allowedAccountIds),
 * which a user deploying this stack expects to apply.
 */
import * as pulumi from "@pulumi/pulumi";
import { getCallerIdentityOutput } from "@pulumi/aws/getCallerIdentity";
import { getPartitionOutput } from "@pulumi/aws/getPartition";
import { getRegionOutput } from "@pulumi/aws/getRegion";
import { validOrThrow } from "../config";
import type { CreateFleet, FleetArgs, FleetOutputs } from "../contract";
import { createAlarms } from "./alarms";
import { readAwsConfig, WORK_QUEUE_RETENTION_SECONDS, type AwsFleetConfig } from "./config";
import { createConfigStore } from "./configStore";
import { createDashboard } from "./dashboard";
import { createWorkerRole, grantWorker } from "./identity";
import { createQueues } from "./queue";
import { createStorage } from "./storage";
import { createWorker, createWorkerLogGroup } from "./worker";

export { validateAwsConfig, minimumVisibilityTimeout } from "./config";
export { WORKER_HANDLER, WORKER_RUNTIME, bundleAwsWorker } from "./worker";

export class AwsFleet extends pulumi.ComponentResource {
  readonly outputs: FleetOutputs;

  constructor(name: string, args: FleetArgs, aws: AwsFleetConfig, opts?: pulumi.ComponentResourceOptions) {
    super("scrape-fleet:aws:Fleet", name, {}, opts);
    const parent = this;
    const invokeOpts = { parent };
    const accountId = getCallerIdentityOutput({}, invokeOpts).accountId;
    const region = getRegionOutput({}, invokeOpts).region;
    const partition = getPartitionOutput({}, invokeOpts).partition;
    const tags = args.tags;

    const { workQueue, deadLetterQueue } = createQueues(
      name,
      { namePrefix: args.namePrefix, maxDeliveryAttempts: args.maxDeliveryAttempts, visibilityTimeoutSeconds: aws.visibilityTimeoutSeconds, tags },
      parent,
    );
    const { bucket } = createStorage(name, { namePrefix: args.namePrefix, rawHtmlRetentionDays: args.rawHtmlRetentionDays, tags }, parent);
    const { parameter } = createConfigStore(name, { namePrefix: args.namePrefix, settings: args.settings, pushSettings: args.pushSettings, tags }, parent);
    const logGroup = createWorkerLogGroup(name, { namePrefix: args.namePrefix, logRetentionDays: args.logRetentionDays, tags }, parent);

    const role = createWorkerRole(name, { namePrefix: args.namePrefix, tags }, parent);
    const permissions = grantWorker(name, { role, workQueueArn: workQueue.arn, bucketArn: bucket.arn, parameterArn: parameter.arn, logGroupArn: logGroup.arn }, parent);

    const { fn } = createWorker(
      name,
      {
        namePrefix: args.namePrefix,
        functionTimeoutSeconds: args.functionTimeoutSeconds,
        memoryMb: args.memoryMb,
        maxWorkers: args.maxWorkers,
        messagesPerWorker: args.messagesPerWorker,
        batchWindowSeconds: aws.batchWindowSeconds,
        logRetentionDays: args.logRetentionDays,
        roleArn: role.arn,
        workQueueArn: workQueue.arn,
        bucketName: bucket.bucket,
        parameterName: parameter.name,
        queueLimits: { retentionSeconds: WORK_QUEUE_RETENTION_SECONDS, maxReceiveCount: args.maxDeliveryAttempts, visibilityTimeoutSeconds: aws.visibilityTimeoutSeconds },
        permissions,
        tags,
      },
      logGroup,
      parent,
    );

    const { topic, alarms } = createAlarms(
      name,
      {
        namePrefix: args.namePrefix,
        alertEmail: args.alertEmail,
        alertWebhookUrl: args.alertWebhookUrl,
        thresholds: args.alarms,
        workQueueName: workQueue.name,
        deadLetterQueueName: deadLetterQueue.name,
        functionName: fn.name,
        fleetName: args.namePrefix,
        accountId,
        region,
        partition,
        tags,
      },
      parent,
    );

    const { url: dashboardUrl } = createDashboard(
      name,
      { namePrefix: args.namePrefix, workQueueName: workQueue.name, deadLetterQueueName: deadLetterQueue.name, functionName: fn.name, alarmArns: alarms.map((alarm) => alarm.arn), region, partition },
      parent,
    );

    this.outputs = {
      workQueueUrl: workQueue.url,
      workQueueId: workQueue.arn,
      deadLetterQueueUrl: deadLetterQueue.url,
      workerName: fn.name,
      resultsBucket: bucket.bucket,
      configLocation: parameter.name,
      dashboardUrl,
      alertChannel: topic.arn,
    };
    this.registerOutputs({ ...this.outputs });
  }
}

/**
 * Reads and validates the AWS keys again: infra/program.ts has already
 * reported their issues with the fleet's, but `createFleet` is callable on its
 * own and declares nothing from a config it has not checked.
 */
export const createFleet: CreateFleet = (name, args, opts) => new AwsFleet(name, args, validOrThrow(readAwsConfig(args), "stack config (AWS)"), opts).outputs;
