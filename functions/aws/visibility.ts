/**
 * When a message the handler sends back comes back.
 *
 * Lambda leaves a message named in `batchItemFailures` in flight until the
 * queue's visibility timeout ends, and that timeout is sized for Lambda (6 ×
 * the function timeout), not as a retry policy. So before answering, the
 * handler sets the visibility of each returned `retry` message with
 * ChangeMessageVisibilityBatch, chosen by its outcome (`visibilitySeconds`).
 * The new timeout counts from the call, and applies to this receive only.
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ChangeMessageVisibility.html
 *
 * Every receive counts towards the queue's `maxReceiveCount`, however long the
 * message was held; what a hold changes is how many receives a wait costs.
 * `malformed` messages keep the queue's timeout: they are on their way to the
 * dead-letter queue and nothing is gained by changing when.
 */
import { ChangeMessageVisibilityBatchCommand, type ChangeMessageVisibilityBatchRequestEntry, type SQSClient } from "@aws-sdk/client-sqs";
import type { SQSRecord } from "aws-lambda";
import { equalJitter, type Backoff } from "../../shared/backoff";
import { describeError } from "../../shared/errors";
import type { Outcome } from "../../shared/outcome";
import type { Logger } from "../../shared/ports";

/**
 * The longest visibility SQS accepts is 12 hours, counted from the receive,
 * and a request for more than the time left is refused rather than cut down
 * (API_ChangeMessageVisibility, above). Lambda received the batch before the
 * invocation: at most the batching window (300 s at most) plus the function's
 * run (900 s at most) ago. A hold up to what is left after both is always valid.
 * https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
 */
const SQS_MAX_VISIBILITY_SECONDS = 43_200;
const MAX_BATCHING_WINDOW_SECONDS = 300;
const LAMBDA_MAX_TIMEOUT_SECONDS = 900;
export const MAX_HOLD_SECONDS = SQS_MAX_VISIBILITY_SECONDS - MAX_BATCHING_WINDOW_SECONDS - LAMBDA_MAX_TIMEOUT_SECONDS;

/**
 * The kill switch (`fleet_paused`): 15 min after the first receive, doubling
 * with each receive (15 min, 30 min, 1 h, 2 h, 4 h, …, up to MAX_HOLD_SECONDS).
 * A pause of length T then costs about log2(T / 15 min) + 1 receives, and a
 * message comes back at most T + 15 min after the fleet resumes. With the
 * default 5 deliveries a message first received in the pause outlasts 7 h 45 min
 * of it (against 5 × the visibility timeout, an hour at the defaults, with no
 * hold); a fixed hold would either spend the receives within the hour or keep
 * messages away for hours after a short pause.
 */
export const PAUSE_HOLD = { firstSeconds: 900, factor: 2 } as const;

/**
 * Any other retry without a Retry-After (a 5xx, a timeout, a store outage, the
 * batch deadline, a host's pacing): exponential backoff from the receive count,
 * in seconds, ×4 per receive from 1 min, capped at 2 h, with equal jitter.
 * The first retry comes after 30–60 s instead of the queue's timeout; the
 * default 5 deliveries span 1 h 42 min to 3 h 25 min, so a site has longer to
 * recover than the hour it had before, not the 15 minutes a ×2 backoff from
 * 30 s would give it before its messages are dead-lettered.
 */
export const RETRY_BACKOFF: Backoff = { first: 60, factor: 4, max: 7_200 };

/**
 * The visibility, in whole seconds, for a message the handler returns with
 * `outcome` after receive number `attempt` (1 for the first); undefined when
 * the queue's own timeout should apply (no `retry` outcome).
 * - a `retryAfterMs` (429, 503, or robots.txt answering so): that wait, rounded
 *   up, from 0 to MAX_HOLD_SECONDS: the site said when, so no jitter is added;
 * - `fleet_paused`: PAUSE_HOLD;
 * - any other retry: RETRY_BACKOFF, with `random()` (0 ≤ x < 1) as the jitter.
 */
export function visibilitySeconds(outcome: Outcome, attempt: number, random: () => number): number | undefined {
  if (outcome.kind !== "retry") return undefined;
  if (outcome.retryAfterMs !== undefined && Number.isFinite(outcome.retryAfterMs)) return clampHold(Math.ceil(outcome.retryAfterMs / 1000));
  const receivesBefore = Math.max(1, attempt) - 1;
  if (outcome.code === "fleet_paused") return clampHold(PAUSE_HOLD.firstSeconds * PAUSE_HOLD.factor ** receivesBefore);
  return clampHold(Math.ceil(equalJitter(RETRY_BACKOFF, receivesBefore, random)));
}

function clampHold(seconds: number): number {
  return Math.min(MAX_HOLD_SECONDS, Math.max(0, seconds));
}

/**
 * The DNS suffix of SQS's regional endpoints per partition
 * (`sqs.<region>.<suffix>`), as listed at
 * https://docs.aws.amazon.com/general/latest/gr/sqs-service.html
 */
const SQS_DNS_SUFFIX: Readonly<Record<string, string>> = {
  aws: "amazonaws.com",
  "aws-us-gov": "amazonaws.com",
  "aws-cn": "amazonaws.com.cn",
};

/** `arn:<partition>:sqs:<region>:<account>:<queue name>`; a name is 1–80 of `[A-Za-z0-9_-]`, plus `.fifo` on a FIFO queue. */
const QUEUE_ARN = /^arn:([a-z-]+):sqs:([a-z0-9-]+):(\d{12}):([A-Za-z0-9_-]{1,80}(?:\.fifo)?)$/;

/**
 * The queue URL for a record's `eventSourceARN`, undefined for an ARN that is
 * not an SQS queue's or names a partition missing above. Taken from each
 * record rather than from configuration, so it always names the queue the
 * receipt handle belongs to. The URL only names the queue: the client sends
 * to its own resolved endpoint (`useQueueUrlAsEndpoint: false`, see index.ts).
 */
export function queueUrlFromArn(arn: string): string | undefined {
  const match = QUEUE_ARN.exec(arn);
  if (match === null) return undefined;
  const [, partition, region, account, name] = match;
  const suffix = SQS_DNS_SUFFIX[partition];
  return suffix === undefined ? undefined : `https://sqs.${region}.${suffix}/${account}/${name}`;
}

/** One returned message and the visibility it should get. */
export interface VisibilityChange {
  readonly record: Pick<SQSRecord, "messageId" | "receiptHandle" | "eventSourceARN">;
  readonly seconds: number;
}

export interface VisibilityResult {
  /** Messages whose visibility SQS changed. */
  readonly changed: number;
  /** Messages left on the queue's visibility timeout because a call or an entry failed. */
  readonly unchanged: number;
}

export interface ChangeVisibilityOptions {
  readonly client: SQSClient;
  readonly logger: Logger;
  /** Aborts the calls still under way (the handler's deadline). */
  readonly signal: AbortSignal;
}

/** ChangeMessageVisibilityBatch takes at most 10 entries. */
const MAX_ENTRIES_PER_CALL = 10;

/**
 * Sets each message's visibility, with one ChangeMessageVisibilityBatch per 10
 * messages of a queue, all at once. Never throws: a call or an entry that
 * fails is logged, and that message simply comes back after the queue's
 * visibility timeout, as it would with no change.
 */
export async function changeVisibility(changes: readonly VisibilityChange[], options: ChangeVisibilityOptions): Promise<VisibilityResult> {
  const { logger } = options;
  const byQueue = new Map<string, VisibilityChange[]>();
  let unchanged = 0;
  for (const change of changes) {
    const queueUrl = queueUrlFromArn(change.record.eventSourceARN);
    if (queueUrl === undefined) {
      unchanged += 1;
      logger.log("warn", "visibility_queue_unknown", {
        messageId: change.record.messageId,
        eventSourceARN: change.record.eventSourceARN,
        fix: "the record's eventSourceARN is not an SQS queue ARN in a partition functions/aws/visibility.ts knows (SQS_DNS_SUFFIX); the message comes back after the queue's visibility timeout",
      });
      continue;
    }
    byQueue.set(queueUrl, [...(byQueue.get(queueUrl) ?? []), change]);
  }
  const calls: Promise<number>[] = [];
  for (const [queueUrl, queued] of byQueue) {
    for (let start = 0; start < queued.length; start += MAX_ENTRIES_PER_CALL) {
      calls.push(changeOneBatch(queueUrl, queued.slice(start, start + MAX_ENTRIES_PER_CALL), options));
    }
  }
  const changed = (await Promise.all(calls)).reduce((sum, count) => sum + count, 0);
  return { changed, unchanged: changes.length - changed };
}

/** One call for up to 10 messages of one queue; resolves to how many SQS changed. */
async function changeOneBatch(queueUrl: string, changes: readonly VisibilityChange[], { client, logger, signal }: ChangeVisibilityOptions): Promise<number> {
  // Entry ids are positions: a message id can repeat within a batch (SQS
  // delivers at least once), and ids must be distinct within a request.
  const entries: ChangeMessageVisibilityBatchRequestEntry[] = changes.map((change, index) => ({ Id: String(index), ReceiptHandle: change.record.receiptHandle, VisibilityTimeout: change.seconds }));
  try {
    const answer = await client.send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: queueUrl, Entries: entries }), { abortSignal: signal });
    // A 200 can still carry failed entries (an expired receipt handle, a hold past the 12 h limit).
    for (const failed of answer.Failed ?? []) {
      logger.log("warn", "visibility_change_refused", {
        messageId: changes[Number(failed.Id)]?.record.messageId,
        queueUrl,
        code: failed.Code,
        reason: failed.Message,
        fix: "the message comes back after the queue's visibility timeout instead",
      });
    }
    return answer.Successful?.length ?? 0;
  } catch (error) {
    logger.log("warn", "visibility_change_failed", {
      messageIds: changes.map((change) => change.record.messageId),
      queueUrl,
      error: signal.aborted ? `no answer before the handler's deadline (${describeError(error)})` : describeError(error),
      fix: "the messages come back after the queue's visibility timeout instead; if this repeats, check that the function's role may call sqs:ChangeMessageVisibility on the queue",
    });
    return 0;
  }
}
