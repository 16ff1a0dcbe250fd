/**
 * The AWS Lambda entry: an SQS batch in, the shared worker, a partial batch
 * response out. Only the messages that must come back are named in
 * `batchItemFailures`; Lambda deletes the rest.
 * https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html#services-sqs-batchfailurereporting
 *
 * The event source mapping must list `ReportBatchItemFailures` in its
 * `functionResponseTypes`, or Lambda ignores the answer and deletes the whole
 * batch on success.
 *
 * Before answering, the handler sets when each returned `retry` message comes
 * back (a site's Retry-After, a growing hold while the fleet is paused, a
 * backoff otherwise): see visibility.ts.
 */
import type { SQSClient } from "@aws-sdk/client-sqs";
import type { Context, SQSBatchItemFailure, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { describeError } from "../../shared/errors";
import { createJsonLogger } from "../../shared/logging";
import type { ItemOutcome, QueueItem } from "../../shared/outcome";
import type { Logger } from "../../shared/ports";
import { createWorker, type WorkerOptions } from "../../shared/worker";
import { integerEnv, integerOption, requireEnv, writeGraceFor } from "../handlerConfig";
import { LAMBDA_ENV } from "./environment";
import { createEmfMetrics, type BatchMetrics } from "./metrics";
import { createS3ResultStore } from "./resultStore";
import { loadS3, loadSqs, loadSsm } from "./sdk";
import { createSsmSettings } from "./settingsSource";
import { holdSeconds, type QueueLimits } from "./holds";
import { changeVisibility, type VisibilityChange, type VisibilityResult } from "./visibility";

/**
 * Time kept back from the Lambda deadline. The worker answers at its deadline
 * except for result writes already under way, which it lets run on for the
 * margin less the answer's time (`writeGraceFor`: 2 s by default) so a page
 * it fetched is not fetched again, and then aborts. The bound matters: the S3
 * client's own worst case is 3 attempts of 2 s connect + 5 s request (twice
 * with raw HTML), far past the margin, and a Lambda that times out sends EVERY
 * message of the batch back, stored ones included.
 */
export const DEADLINE_MARGIN_MS = { min: 0, max: 60_000, default: 3_000 } as const;

/**
 * The visibility changes are abandoned this long before the Lambda deadline,
 * so the log line and the answer still go out: a change that did not happen
 * only means the message comes back after the queue's own timeout.
 */
const ANSWER_RESERVE_MS = 250;

export interface SqsHandlerDeps {
  /**
   * The shared worker's options: settings, results store, and where needed the
   * fetcher, resolver or private-network switch. Logs and metrics are the
   * handler's own (below), so the handler can flush the metrics per batch.
   */
  readonly worker: Omit<WorkerOptions, "logger" | "metrics">;
  readonly logger: Logger;
  /** Collects the batch's pages; flushed once per invocation. */
  readonly metrics: BatchMetrics;
  /**
   * Milliseconds kept back from `context.getRemainingTimeInMillis()` so the
   * handler answers before Lambda stops it. 0 to 60 000.
   * @default 3000
   */
  readonly deadlineMarginMs?: number;
  /**
   * Sets when each returned `retry` message comes back (ChangeMessageVisibilityBatch,
   * see visibility.ts). Left out, every returned message comes back after the
   * queue's visibility timeout.
   */
  readonly sqs?: SQSClient;
  /**
   * The work queue's retention, redrive count and visibility timeout: each
   * hold is cut so the message reaches the dead-letter queue before it
   * expires (holds.ts). Left out, holds are not cut.
   */
  readonly queueLimits?: QueueLimits;
  /** The retry backoff's jitter: a number from 0 (inclusive) to 1 (exclusive). @default Math.random */
  readonly random?: () => number;
  /** Clock in epoch milliseconds. @default Date.now */
  readonly now?: () => number;
}

/** The part of the Lambda context the handler reads. */
export type SqsHandlerContext = Pick<Context, "getRemainingTimeInMillis" | "awsRequestId">;

export interface SqsHandler {
  /** Never throws: a throw would send the whole batch back, good messages included. */
  handle(event: SQSEvent, context: SqsHandlerContext): Promise<SQSBatchResponse>;
  /** Closes the worker's connection pool. */
  close(): Promise<void>;
}

/** Builds the handler from its dependencies: `handler` below with the AWS clients, tests with loopback ones. */
export function createSqsHandler(deps: SqsHandlerDeps): SqsHandler {
  const margin = integerOption("deadlineMarginMs", deps.deadlineMarginMs, DEADLINE_MARGIN_MS);
  const { logger, metrics, sqs, queueLimits } = deps;
  const now = deps.now ?? Date.now;
  const random = deps.random ?? Math.random;
  const writeGraceMs = writeGraceFor(margin);
  const worker = createWorker({ ...deps.worker, logger, metrics });

  function toQueueItem(record: SQSRecord): QueueItem {
    return { id: record.messageId, body: record.body, attempt: receiveCount(record, logger) };
  }

  /** Sets the visibility of the returned `retry` messages, giving up at `giveUpAt`. */
  async function holdRetries(client: SQSClient, records: readonly SQSRecord[], items: readonly QueueItem[], outcomes: readonly ItemOutcome[], giveUpAt: number, requestId: string): Promise<VisibilityResult> {
    const changes: VisibilityChange[] = [];
    const nowMs = now();
    records.forEach((record, index) => {
      const outcome = outcomes[index]?.outcome;
      const seconds = outcome === undefined ? undefined : holdSeconds(outcome, items[index].attempt, random, { limits: queueLimits, sentAtMs: sentAt(record), nowMs });
      if (seconds !== undefined) changes.push({ record, seconds });
    });
    if (changes.length === 0) return { changed: 0, unchanged: 0 };
    const budgetMs = giveUpAt - now();
    if (budgetMs <= 0) {
      logger.log("warn", "visibility_skipped", { requestId, messages: changes.length, fix: "no time was left before the Lambda deadline; these messages come back after the queue's visibility timeout (raise deadlineMarginMs if this repeats)" });
      return { changed: 0, unchanged: changes.length };
    }
    return changeVisibility(changes, { client, logger, signal: AbortSignal.timeout(budgetMs) });
  }

  return {
    async handle(event, context) {
      const started = now();
      // Only an SQS event source mapping should invoke this function; a test
      // invoke from the console with another payload gets a clear log line.
      const given: readonly unknown[] = Array.isArray(event?.Records) ? event.Records : [];
      if (given !== event?.Records) logger.log("error", "event_not_sqs", { requestId: context.awsRequestId, fix: "invoke the function through its SQS queue, or with an SQSEvent ({\"Records\": [...]})" });
      const records = given.filter(isSqsRecord);
      if (records.length < given.length) {
        // A record without a message id cannot be named in batchItemFailures:
        // Lambda reads an empty or missing itemIdentifier as a failure of the
        // whole batch. SQS always sends both fields, so only a hand-made
        // invocation gets here; its bad records are dropped, with their positions.
        // https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html#services-sqs-batchfailurereporting
        const positions = given.flatMap((record, index) => (isSqsRecord(record) ? [] : [index]));
        logger.log("error", "record_invalid", { requestId: context.awsRequestId, positions, fix: "each record must be an object with a non-empty string messageId and a string body, as SQS sends them; these records were skipped" });
      }
      const lambdaEndsAt = started + context.getRemainingTimeInMillis();
      const items = records.map(toQueueItem);
      let outcomes: readonly ItemOutcome[] = [];
      try {
        outcomes = await worker.processBatch(items, { deadlineAt: lambdaEndsAt - margin, writeGraceMs });
      } catch (error) {
        // processBatch promises never to throw. If it does, every message goes
        // back to the queue with a log line, instead of a failed invocation.
        logger.log("error", "batch_failed", { requestId: context.awsRequestId, records: records.length, error: describeError(error) });
      }
      const batchItemFailures = messagesToReturn(records, outcomes);
      // Each returned on its last delivery is dead-lettered at its next
      // receive: counted so an alarm can notify on every new dead letter,
      // which the dead-letter queue's own depth cannot (it stays above 0).
      if (queueLimits !== undefined) metrics.recordDeadLetters(items.filter((item, index) => item.attempt >= queueLimits.maxReceiveCount && !isFinished(outcomes, index)).length);
      metrics.flush();
      const held = sqs === undefined ? undefined : await holdRetries(sqs, records, items, outcomes, lambdaEndsAt - ANSWER_RESERVE_MS, context.awsRequestId);
      logger.log("info", "sqs_batch", {
        requestId: context.awsRequestId,
        records: records.length,
        returned: batchItemFailures.length,
        ...(held === undefined ? {} : { held: held.changed }),
        ms: now() - started,
      });
      return { batchItemFailures };
    },
    close: () => worker.close(),
  };
}

/**
 * Every message not known to be finished goes back: `retry` and `malformed`
 * outcomes (malformed ones reach the dead-letter queue after
 * `maxReceiveCount`), and any message the worker gave no outcome for.
 * `processBatch` answers in item order, so outcomes are matched by position.
 */
function messagesToReturn(records: readonly SQSRecord[], outcomes: readonly ItemOutcome[]): SQSBatchItemFailure[] {
  return records.filter((_record, index) => !isFinished(outcomes, index)).map((record) => ({ itemIdentifier: record.messageId }));
}

/** Whether the message at `index` ended `ok` or `failed` (stored), so Lambda may delete it. */
function isFinished(outcomes: readonly ItemOutcome[], index: number): boolean {
  const kind = outcomes[index]?.outcome.kind;
  return kind === "ok" || kind === "failed";
}

/** Whether `value` has what the handler reads from an SQS record without checking: a message id to name it by and a body. */
function isSqsRecord(value: unknown): value is SQSRecord {
  if (typeof value !== "object" || value === null) return false;
  const { messageId, body } = value as Partial<Record<keyof SQSRecord, unknown>>;
  return typeof messageId === "string" && messageId !== "" && typeof body === "string";
}

/** `ApproximateReceiveCount` is a decimal string, 1 on the first delivery. */
function receiveCount(record: SQSRecord, logger: Logger): number {
  const raw = record.attributes?.ApproximateReceiveCount;
  const count = Number(raw);
  if (Number.isInteger(count) && count >= 1) return count;
  logger.log("warn", "receive_count_invalid", { messageId: record.messageId, value: raw, fix: "SQS sets attributes.ApproximateReceiveCount; the record is treated as a first delivery" });
  return 1;
}

/** `SentTimestamp`: the message's first send, epoch milliseconds as a decimal string; undefined when absent or not a number. */
function sentAt(record: SQSRecord): number | undefined {
  const sent = Number(record.attributes?.SentTimestamp);
  return Number.isFinite(sent) && sent > 0 ? sent : undefined;
}

/**
 * SDK calls are bounded so a stalled connection cannot hold a batch past its
 * margin: the SDK's defaults are no timeout at all, and since
 * @smithy/node-http-handler 4.4 `requestTimeout` only warns unless
 * `throwOnRequestTimeout` is set. A timed-out attempt is retried by the SDK.
 * The plain-object form of `requestHandler` is documented at
 * https://docs.aws.amazon.com/sdk-for-javascript/v3/developer-guide/node-configuring-maxsockets.html
 */
export const SDK_REQUEST_HANDLER = { connectionTimeout: 2_000, requestTimeout: 5_000, throwOnRequestTimeout: true } as const;

/**
 * The handler with the real AWS clients. The SSRF guard keeps its defaults:
 * `allowPrivateNetworks` is never read from the environment here, so no
 * configuration can open the VPC or loopback to scraped URLs.
 */
export function createLambdaHandler(env: NodeJS.ProcessEnv): SqsHandler {
  const fleetName = requireEnv(env, LAMBDA_ENV.fleetName, "environment variable");
  const logger = createJsonLogger({ base: { fleet: fleetName } });
  return createSqsHandler({
    worker: {
      settings: createSsmSettings({ client: new (loadSsm().SSMClient)({ requestHandler: SDK_REQUEST_HANDLER }), parameterName: requireEnv(env, LAMBDA_ENV.settingsParameter, "environment variable"), logger }),
      results: createS3ResultStore({ client: new (loadS3().S3Client)({ requestHandler: SDK_REQUEST_HANDLER }), bucket: requireEnv(env, LAMBDA_ENV.resultsBucket, "environment variable") }),
    },
    logger,
    metrics: createEmfMetrics({ fleetName }),
    // The queue URL is derived from each record's ARN and only names the
    // queue; by default the SDK would send the call to that URL's host, which
    // would skip its own endpoint resolution (FIPS, AWS_ENDPOINT_URL_SQS).
    // https://github.com/aws/aws-sdk-js-v3/blob/main/packages/middleware-sdk-sqs/src/queue-url.ts
    sqs: new (loadSqs().SQSClient)({ requestHandler: SDK_REQUEST_HANDLER, useQueueUrlAsEndpoint: false }),
    queueLimits: {
      retentionSeconds: integerEnv(env, LAMBDA_ENV.queueRetentionSeconds, "environment variable", 1),
      maxReceiveCount: integerEnv(env, LAMBDA_ENV.queueMaxReceiveCount, "environment variable", 1),
      visibilityTimeoutSeconds: integerEnv(env, LAMBDA_ENV.queueVisibilityTimeoutSeconds, "environment variable", 1),
    },
  });
}

/**
 * Created on the first invocation and kept for the container's life, so
 * importing this module (tests, tools) needs no Lambda environment. Building
 * it makes no network call; the module load, which is most of a cold start,
 * still happens during init.
 */
let live: SqsHandler | undefined;

/** The Lambda entry point (handler string `index.handler`). */
export async function handler(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
  live ??= createLambdaHandler(process.env);
  return live.handle(event, context);
}
