/**
 * The work queue and its dead-letter queue.
 */
import * as pulumi from "@pulumi/pulumi";
import * as sqs from "@pulumi/aws/sqs";
import { resourceName } from "../naming";
import { DEAD_LETTER_RETENTION_SECONDS, WORK_QUEUE_RETENTION_SECONDS } from "./config";

export interface QueuesArgs {
  readonly namePrefix: string;
  /** Receives before a message moves to the dead-letter queue (SQS `maxReceiveCount`). */
  readonly maxDeliveryAttempts: number;
  /** Derived in ./config (`minimumVisibilityTimeout`), never typed twice. */
  readonly visibilityTimeoutSeconds: number;
  readonly tags: Readonly<Record<string, string>>;
}

export interface Queues {
  readonly workQueue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
}

export function createQueues(name: string, args: QueuesArgs, parent: pulumi.Resource): Queues {
  const deadLetterQueue = new sqs.Queue(
    `${name}-dlq`,
    {
      name: resourceName("awsSqsQueue", args.namePrefix, "dlq"),
      messageRetentionSeconds: DEAD_LETTER_RETENTION_SECONDS,
      // SSE with SQS-owned keys: free, and no kms:Decrypt grant for the worker or the event source mapping.
      sqsManagedSseEnabled: true,
      tags: args.tags,
    },
    { parent },
  );

  const workQueue = new sqs.Queue(
    `${name}-work`,
    {
      name: resourceName("awsSqsQueue", args.namePrefix, "work"),
      visibilityTimeoutSeconds: args.visibilityTimeoutSeconds,
      messageRetentionSeconds: WORK_QUEUE_RETENTION_SECONDS,
      sqsManagedSseEnabled: true,
      redrivePolicy: pulumi.jsonStringify({ deadLetterTargetArn: deadLetterQueue.arn, maxReceiveCount: args.maxDeliveryAttempts }),
      tags: args.tags,
    },
    { parent },
  );

  // Only the work queue may dead-letter into this one; a separate resource
  // because the work queue already depends on the DLQ (no cycle).
  new sqs.RedriveAllowPolicy(
    `${name}-dlq-redrive-allow`,
    {
      queueUrl: deadLetterQueue.url,
      redriveAllowPolicy: pulumi.jsonStringify({ redrivePermission: "byQueue", sourceQueueArns: [workQueue.arn] }),
    },
    { parent },
  );

  return { workQueue, deadLetterQueue };
}
