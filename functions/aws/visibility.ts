/**
 * When a message the handler sends back comes back.
 *
 * Lambda leaves a message named in `batchItemFailures` in flight until the
 * queue's visibility timeout ends, and that timeout is sized for Lambda (6 ×
 * the function timeout), not as a retry policy. So before answering, the
 * handler sets the visibility of each returned `retry` message with
 * ChangeMessageVisibilityBatch, for as long as holds.ts decides. The new
 * timeout counts from the call, and applies to this receive only.
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ChangeMessageVisibility.html
 */
import type { ChangeMessageVisibilityBatchRequestEntry, SQSClient } from "@aws-sdk/client-sqs";
import type { SQSRecord } from "aws-lambda";
import { describeError } from "../../shared/errors";
import type { Logger } from "../../shared/ports";
import { loadSqs } from "./sdk";

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
    const answer = await client.send(new (loadSqs().ChangeMessageVisibilityBatchCommand)({ QueueUrl: queueUrl, Entries: entries }), { abortSignal: signal });
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
