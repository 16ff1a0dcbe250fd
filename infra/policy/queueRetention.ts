/**
 * A message that keeps failing is dead-lettered, never deleted unseen: SQS
 * deletes a message when the queue's retention has passed since it was first
 * sent, holds and receives included, and an expired message never reaches the
 * dead-letter queue. Every receive can keep a message away for the queue's
 * visibility timeout, so `maxReceiveCount` of them, and the time before the
 * dead-letter move, must fit in the retention. A dead letter also keeps its
 * first enqueue time, so the dead-letter queue must keep messages longer than
 * its source does, or they expire there on arrival.
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/setting-up-dead-letter-queue-retention.html
 *
 * The fleet's handler cuts its holds (up to 11 h) to the time a message has
 * left, from the queue's retention, redrive count and visibility timeout in
 * its environment (functions/aws/holds.ts); a function whose environment
 * disagrees with the queue that feeds it would hold past the expiry.
 */
import { LAMBDA_ENV } from "../../functions/aws/environment";
import { EXPIRY_MARGIN_SECONDS, fittingReceives, receivesSeconds } from "../../functions/aws/holds";
import { AWS_LIMITS } from "../cloudLimits";
import { redrivePolicy } from "./references";
import { AWS } from "./types";
import { display, numeric, read, text, violation, type FleetRule, type ResourceView, type Violation } from "./view";

/** What SQS uses when the queue leaves them unset (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html). */
const SQS_DEFAULT_RETENTION_SECONDS = 345_600;
const SQS_DEFAULT_VISIBILITY_TIMEOUT_SECONDS = 30;

const retentionOf = (queue: ResourceView) => numeric(read(queue.props, "messageRetentionSeconds")) ?? SQS_DEFAULT_RETENTION_SECONDS;
const visibilityOf = (queue: ResourceView) => numeric(read(queue.props, "visibilityTimeoutSeconds")) ?? SQS_DEFAULT_VISIBILITY_TIMEOUT_SECONDS;

/**
 * For each function an SQS event source mapping feeds from a queue of the
 * stack: the environment variables that tell the fleet's handler the queue's
 * limits, each with the value it must hold. A function without the first of
 * them is not the fleet's handler and is skipped.
 */
function environmentMismatches(resources: readonly ResourceView[], queues: readonly ResourceView[]): Violation[] {
  const found: Violation[] = [];
  for (const mapping of resources.filter((resource) => resource.type === AWS.eventSourceMapping)) {
    const queue = queues.find((candidate) => text(read(candidate.props, "arn")) === text(read(mapping.props, "eventSourceArn")));
    const target = text(read(mapping.props, "functionName"));
    const fn = resources.find((resource) => resource.type === AWS.lambda && (text(read(resource.props, "arn")) === target || text(read(resource.props, "name")) === target));
    if (queue === undefined || fn === undefined) continue;
    const variables = read(fn.props, "environment", "variables");
    if (read(variables, LAMBDA_ENV.queueRetentionSeconds) === undefined) continue;
    const expected: Readonly<Record<string, number | undefined>> = {
      [LAMBDA_ENV.queueRetentionSeconds]: retentionOf(queue),
      [LAMBDA_ENV.queueMaxReceiveCount]: redrivePolicy(queue)?.maxReceiveCount,
      [LAMBDA_ENV.queueVisibilityTimeoutSeconds]: visibilityOf(queue),
    };
    for (const [name, value] of Object.entries(expected)) {
      if (value === undefined || numeric(read(variables, name)) === value) continue;
      found.push(violation(fn, `${display(fn)} has ${name}=${JSON.stringify(read(variables, name))} but its queue ${display(queue)} gives ${value}: the handler would cut its holds to the wrong expiry. Fix: set ${name} from the queue's own setting (infra/aws/worker.ts queueLimits).`));
    }
  }
  return found;
}

function checkResource(resource: ResourceView): string[] {
  if (resource.type !== AWS.queue) return [];
  const receives = redrivePolicy(resource)?.maxReceiveCount;
  if (receives === undefined) return [];
  const visibility = visibilityOf(resource);
  const retention = retentionOf(resource);
  const needed = receivesSeconds(receives, visibility);
  if (needed <= retention) return [];
  return [
    `${display(resource)} can keep a failing message for ${receives} receives × ${visibility} s + ${EXPIRY_MARGIN_SECONDS} s = ${needed} s, past its messageRetentionSeconds ${retention}: SQS deletes it before it is dead-lettered. Fix: lower maxReceiveCount to ${fittingReceives(retention, visibility)} or the visibility timeout, or raise messageRetentionSeconds (at most ${AWS_LIMITS.sqsMaxRetentionSeconds}).`,
  ];
}

function checkStack(resources: readonly ResourceView[]): Violation[] {
  const queues = resources.filter((resource) => resource.type === AWS.queue);
  const found: Violation[] = [];
  for (const source of queues) {
    const target = redrivePolicy(source)?.deadLetterTargetArn;
    const deadLetterQueue = target === undefined ? undefined : queues.find((queue) => text(read(queue.props, "arn")) === target);
    if (deadLetterQueue === undefined || retentionOf(deadLetterQueue) > retentionOf(source)) continue;
    found.push(
      violation(
        deadLetterQueue,
        `${display(deadLetterQueue)} keeps messages ${retentionOf(deadLetterQueue)} s, no longer than its source ${display(source)} (${retentionOf(source)} s); a dead letter keeps its first enqueue time, so it can expire on arrival. Fix: set messageRetentionSeconds on the dead-letter queue above the source's (${AWS_LIMITS.sqsMaxRetentionSeconds}, the maximum).`,
      ),
    );
  }
  return [...found, ...environmentMismatches(resources, queues)];
}

export const queueRetention: FleetRule = {
  name: "queue-retention",
  description: "A message that keeps failing is dead-lettered before it expires, and kept there long enough to be read.",
  checks: [
    `SQS queue with a redrive policy: \`maxReceiveCount\` × \`visibilityTimeoutSeconds\` + ${EXPIRY_MARGIN_SECONDS} s ≤ \`messageRetentionSeconds\` (SQS defaults: 30 s, 4 days)`,
    "SQS dead-letter queue: `messageRetentionSeconds` above its source queue's",
    "Lambda function fed by an SQS event source mapping and carrying `QUEUE_RETENTION_SECONDS`: that, `QUEUE_MAX_RECEIVE_COUNT` and `QUEUE_VISIBILITY_TIMEOUT_SECONDS` equal its queue's retention, `maxReceiveCount` and visibility timeout",
  ],
  checkResource,
  checkStack,
};
