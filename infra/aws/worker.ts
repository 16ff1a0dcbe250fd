/**
 * The worker: the bundled handler as a Lambda function, its log group, and the
 * SQS event source mapping that is the fleet's concurrency bound.
 */
import type * as pulumi from "@pulumi/pulumi";
import * as cloudwatch from "@pulumi/aws/cloudwatch";
import * as lambda from "@pulumi/aws/lambda";
import { bundleWorker, deploymentArchive, type Bundle } from "../bundle";
import { resourceName } from "../naming";
import { LAMBDA_ENV } from "../../functions/aws/environment";
import type { QueueLimits } from "../../functions/aws/holds";

/** The handler's entry file; its `handler` export is the Lambda entry point. */
export const WORKER_ENTRY = "functions/aws/index.ts";
/** The SDK clients, bundled on their own as `clients.js` and loaded on the first invocation (functions/aws/sdk.ts). */
export const WORKER_CLIENTS = "functions/aws/clients.ts";
/** Lambda handler string: file `index.js`, export `handler`. */
export const WORKER_HANDLER = "index.handler";
/**
 * Node.js 24: every bundled dependency's `engines` must hold, and undici 8
 * needs Node >= 22.19. `nodejs22.x` runs whatever 22.x patch AWS has rolled
 * out, with no guarantee of a floor; any 24.x satisfies it.
 */
export const WORKER_RUNTIME = lambda.Runtime.NodeJS24dX;
/** arm64 (Graviton): about 20% cheaper per GB-second than x86_64 for the same work. */
export const WORKER_ARCHITECTURE = "arm64";

/** Bundles the handler into `dist/aws/`: the SDK clients are bundled too, into clients.js, loaded on first use. */
export function bundleAwsWorker(): Bundle {
  return bundleWorker({ entry: WORKER_ENTRY, outDir: "dist/aws", lazy: [WORKER_CLIENTS] });
}

export interface WorkerArgs {
  readonly namePrefix: string;
  readonly functionTimeoutSeconds: number;
  readonly memoryMb: number;
  readonly maxWorkers: number;
  readonly messagesPerWorker: number;
  readonly batchWindowSeconds: number;
  readonly logRetentionDays: number;
  readonly roleArn: pulumi.Input<string>;
  readonly workQueueArn: pulumi.Input<string>;
  readonly bucketName: pulumi.Input<string>;
  readonly parameterName: pulumi.Input<string>;
  /** The work queue's retention, redrive count and visibility timeout, which the handler cuts its holds to. */
  readonly queueLimits: QueueLimits;
  /** The role's policy: the event source mapping checks the role can read the queue when it is created. */
  readonly permissions: pulumi.Resource;
  readonly tags: Readonly<Record<string, string>>;
}

export interface Worker {
  readonly fn: lambda.Function;
  readonly logGroup: cloudwatch.LogGroup;
  readonly eventSource: lambda.EventSourceMapping;
}

/** The function's name, known before it exists, so its log group can be created first. */
export function workerFunctionName(namePrefix: string): string {
  return resourceName("awsLambdaFunction", namePrefix, "worker");
}

export function createWorkerLogGroup(name: string, args: Pick<WorkerArgs, "namePrefix" | "logRetentionDays" | "tags">, parent: pulumi.Resource): cloudwatch.LogGroup {
  return new cloudwatch.LogGroup(
    `${name}-worker-logs`,
    { name: `/aws/lambda/${workerFunctionName(args.namePrefix)}`, retentionInDays: args.logRetentionDays, tags: args.tags },
    { parent },
  );
}

export function createWorker(name: string, args: WorkerArgs, logGroup: cloudwatch.LogGroup, parent: pulumi.Resource): Worker {
  const fn = new lambda.Function(
    `${name}-worker`,
    {
      name: workerFunctionName(args.namePrefix),
      description: "scrape-fleet worker: fetches and extracts the pages named by SQS messages",
      runtime: WORKER_RUNTIME,
      architectures: [WORKER_ARCHITECTURE],
      handler: WORKER_HANDLER,
      code: deploymentArchive(bundleAwsWorker(), {}).archive,
      role: args.roleArn,
      timeout: args.functionTimeoutSeconds,
      memorySize: args.memoryMb,
      environment: {
        variables: {
          [LAMBDA_ENV.resultsBucket]: args.bucketName,
          [LAMBDA_ENV.settingsParameter]: args.parameterName,
          [LAMBDA_ENV.fleetName]: args.namePrefix,
          [LAMBDA_ENV.queueRetentionSeconds]: String(args.queueLimits.retentionSeconds),
          [LAMBDA_ENV.queueMaxReceiveCount]: String(args.queueLimits.maxReceiveCount),
          [LAMBDA_ENV.queueVisibilityTimeoutSeconds]: String(args.queueLimits.visibilityTimeoutSeconds),
          NODE_OPTIONS: "--enable-source-maps",
        },
      },
      // Text, not JSON: the handler already writes one JSON object per line,
      // and its Embedded Metric Format lines must reach CloudWatch Logs as
      // written to be turned into metrics.
      loggingConfig: { logFormat: "Text", logGroup: logGroup.name },
      // No reservedConcurrentExecutions: the event source mapping's
      // maximumConcurrency bounds the fleet, and reserved concurrency below it
      // makes Lambda throttle the mapping and bounce messages back to the queue
      // (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html).
      tags: args.tags,
    },
    { parent },
  );

  const eventSource = new lambda.EventSourceMapping(
    `${name}-worker-trigger`,
    {
      eventSourceArn: args.workQueueArn,
      functionName: fn.arn,
      // The handler returns the messages it did not finish; only those come back.
      functionResponseTypes: ["ReportBatchItemFailures"],
      batchSize: args.messagesPerWorker,
      maximumBatchingWindowInSeconds: args.batchWindowSeconds,
      scalingConfig: { maximumConcurrency: args.maxWorkers },
      tags: args.tags,
    },
    // `npm run fleet -- pause` disables the mapping; the program never sets `enabled`, so ignoring it keeps a
    // paused fleet paused across `pulumi up` (refresh reads `enabled` back since hashicorp/terraform-provider-aws#498,
    // and would otherwise plan enabled: true). The cost: a mapping Lambda disabled itself (its queue deleted and
    // made again outside Pulumi, aws-cloudformation/cloudformation-coverage-roadmap#2260) stays disabled too.
    // `fleet status` then shows the trigger stopped, the stalled alarm fires, and `fleet resume` enables it.
    { parent, dependsOn: [args.permissions], ignoreChanges: ["enabled"] },
  );

  return { fn, logGroup, eventSource };
}
