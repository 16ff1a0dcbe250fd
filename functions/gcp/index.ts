/**
 * The Cloud Functions (gen2) entry: one Pub/Sub push request in, the shared
 * worker on its one message, an HTTP status out. Pub/Sub acknowledges the
 * message on 102, 200, 201, 202 or 204 and redelivers it on anything else.
 * https://cloud.google.com/pubsub/docs/push#receive_push
 *
 * A message the worker cannot finish now is acknowledged and published again
 * with a hold, by the handler's own schedule (./redelivery.ts explains why
 * and how), so the subscriptions see failures only when the function itself
 * failed:
 *
 * | outcome                              | status | what happens |
 * |--------------------------------------|--------|--------------|
 * | ok, failed                           | 200    | done: the record (a failure record for `failed`) is stored |
 * | retry (any code)                     | 202    | published again to the retry topic with its hold; acknowledged |
 * | malformed, attempts spent            | 202    | published to the dead-letter topic with its code and reason; acknowledged |
 * | a copy whose hold has not ended      | 425    | "too early": the retry subscription brings it back after its back-off |
 * | bad envelope                         | 400    | not a readable push: Pub/Sub's own dead-letter policy takes it after its deliveries |
 * | publishing failed                    | 503    | Pub/Sub redelivers the message as it was: nothing is lost |
 * | a bug                                | 500    | the same |
 *
 * So the function's 5xx share (the error alarm) means the function, its
 * Pub/Sub calls or its platform failed, never the sites it scrapes; the pages'
 * own retries are in the retry-rate alarm (infra/gcp/alarms.ts).
 */
import { http, type Request, type Response } from "@google-cloud/functions-framework";
import { describeError } from "../../shared/errors";
import { createJsonLogger } from "../../shared/logging";
import type { Outcome } from "../../shared/outcome";
import type { Logger, Metrics } from "../../shared/ports";
import { createWorker, type WorkerOptions } from "../../shared/worker";
import { HandlerConfigError, integerEnv, integerOption, requireEnv, writeGraceFor } from "../handlerConfig";
import { ENTRY_POINT, FUNCTION_ENV } from "./environment";
import { createLogMetrics } from "./metrics";
import { createPublisher, type Publish } from "./publisher";
import { PushEnvelopeError, decodePushEnvelope, type PushDelivery } from "./pushEnvelope";
import { attemptsSpent, deadLetterAttributes, readRedeliveryState, redeliveryAttributes, redeliveryOf } from "./redelivery";
import { createGcsResultStore, storageOptions } from "./resultStore";
import { loadStorage } from "./sdk";
import { createParameterManagerSettings } from "./settingsSource";

/**
 * Time kept back from the function's timeout. The worker answers at its
 * deadline except for result writes already under way, which it lets run on
 * for the margin less the answer's time (`writeGraceFor`: 2 s by default) and
 * then stops waiting for: the Storage client's own retries may take up to its
 * 20 s `totalTimeout` (resultStore.ts), and a function that times out answers
 * 504, so Pub/Sub redelivers a message whose record was stored.
 */
export const DEADLINE_MARGIN_MS = { min: 0, max: 60_000, default: 3_000 } as const;

/** The status for each case (see the table above). */
export const PUSH_STATUS = {
  done: 200,
  handedOn: 202,
  held: 425,
  badEnvelope: 400,
  publishFailed: 503,
  internalError: 500,
} as const;

/** Time kept, at the least, for a publish after the worker's answer. */
const MIN_PUBLISH_MS = 500;

/** Where messages go when they are not done, and after how many failures (./redelivery.ts). */
export interface RedeliveryDeps {
  readonly publish: Publish;
  /** `projects/<project>/topics/<id>` (env `RETRY_TOPIC`). */
  readonly retryTopic: string;
  /** `projects/<project>/topics/<id>` (env `DEAD_LETTER_TOPIC`). */
  readonly deadLetterTopic: string;
  /** The stack's `maxDeliveryAttempts` (env `MAX_DELIVERY_ATTEMPTS`), 1 to 100. */
  readonly maxDeliveryAttempts: number;
  /** The backoff's jitter, 0 ≤ x < 1. @default Math.random */
  readonly random?: () => number;
}

export interface PushHandlerDeps {
  /** The shared worker's options: settings, results store, and where needed the fetcher, resolver or private-network switch. */
  readonly worker: Omit<WorkerOptions, "logger" | "metrics">;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly redelivery: RedeliveryDeps;
  /** The function's `timeoutSeconds` (env `FUNCTION_TIMEOUT_SECONDS`), 1 to 3600. */
  readonly timeoutSeconds: number;
  /** Milliseconds kept back from the timeout, 0 to 60 000 and below the timeout. @default 3000 */
  readonly deadlineMarginMs?: number;
  /** Clock in epoch milliseconds. @default Date.now */
  readonly now?: () => number;
}

export interface PushHandler {
  /** The HTTP function. Never throws: every path ends in a status. */
  handle(request: Request, response: Response): Promise<void>;
  /** Closes the worker's connection pool. */
  close(): Promise<void>;
}

/** Builds the handler from its dependencies: `createCloudFunctionHandler` with the Google clients, tests with loopback ones. */
export function createPushHandler(deps: PushHandlerDeps): PushHandler {
  const { logger, metrics, timeoutSeconds } = deps;
  if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 1 || timeoutSeconds > 3600) {
    throw new HandlerConfigError(`\`timeoutSeconds\` must be an integer from 1 to 3600 (given ${JSON.stringify(timeoutSeconds)}); it is the function's serviceConfig.timeoutSeconds`);
  }
  const margin = integerOption("deadlineMarginMs", deps.deadlineMarginMs, DEADLINE_MARGIN_MS);
  if (margin >= timeoutSeconds * 1000) {
    throw new HandlerConfigError(`\`deadlineMarginMs\` must be below the timeout of ${timeoutSeconds * 1000} ms (given ${margin}); lower it or raise the function's timeoutSeconds`);
  }
  const { redelivery } = deps;
  const maxDeliveryAttempts = integerOption("redelivery.maxDeliveryAttempts", redelivery.maxDeliveryAttempts, { min: 1, max: 100, default: 5 });
  const random = redelivery.random ?? Math.random;
  const now = deps.now ?? Date.now;
  const writeGraceMs = writeGraceFor(margin);
  const worker = createWorker({ ...deps.worker, logger, metrics });

  function answer(response: Response, status: number, body: Readonly<Record<string, unknown>>): void {
    response.status(status).json(body);
  }

  async function handle(request: Request, response: Response): Promise<void> {
    const started = now();
    if (request.method !== "POST") {
      response.set("allow", "POST");
      answer(response, 405, { error: `Pub/Sub push requests are POSTs (given ${request.method})` });
      return;
    }
    let delivery: PushDelivery;
    try {
      delivery = decodePushEnvelope(request.body);
    } catch (error) {
      if (!(error instanceof PushEnvelopeError)) throw error;
      metrics.recordPage({ outcome: "malformed", bytesOnWire: 0, fetchMs: 0 });
      logger.log("warn", "push_rejected", { code: error.code, messageId: error.messageId, reason: error.message, fix: "not a readable Pub/Sub push: Pub/Sub's own dead-letter policy moves the message to the dead-letter topic after its deliveries" });
      answer(response, PUSH_STATUS.badEnvelope, { outcome: "malformed", code: error.code, reason: error.message });
      return;
    }
    const { messageId } = delivery;
    if (!delivery.attemptKnown) {
      logger.log("warn", "delivery_attempt_missing", { messageId, fix: "the push subscription has no dead-letter policy, so Pub/Sub counts no deliveries and a message the function keeps failing on is never set aside; the program sets one (infra/gcp/queue.ts): run pulumi up" });
    }
    const state = readRedeliveryState(delivery.attributes);
    if (state.notBeforeMs !== undefined && state.notBeforeMs > started) {
      answer(response, PUSH_STATUS.held, { messageId, outcome: "held", notBefore: new Date(state.notBeforeMs).toISOString() });
      return;
    }
    // Time left for a publish: up to the function's own timeout, less a moment to answer.
    const publishSignal = () => AbortSignal.timeout(Math.max(MIN_PUBLISH_MS, started + timeoutSeconds * 1000 - now() - MIN_PUBLISH_MS));
    if (attemptsSpent(state, maxDeliveryAttempts)) {
      const code = state.code ?? "attempts_spent";
      const reason = `${state.failures} transient failures (maxDeliveryAttempts ${maxDeliveryAttempts}); the last: ${state.reason ?? "unknown"}`;
      await handOn(response, delivery, "deadLetter", code, reason, deadLetterAttributes(delivery.attributes, code, reason), publishSignal());
      return;
    }

    const deadlineAt = started + timeoutSeconds * 1000 - margin;
    const [item] = await worker.processBatch([{ id: messageId, body: delivery.data, attempt: state.failures + 1 }], { deadlineAt, writeGraceMs });
    const fate = redeliveryOf(item.outcome, state, maxDeliveryAttempts, random);
    const body = { messageId, attempt: state.failures + 1, ...outcomeBody(item.outcome) };
    switch (fate.kind) {
      case "done":
        answer(response, PUSH_STATUS.done, body);
        return;
      case "deadLetter":
        await handOn(response, delivery, "deadLetter", fate.code, fate.reason, deadLetterAttributes(delivery.attributes, fate.code, fate.reason), publishSignal(), body);
        return;
      case "republish": {
        const notBeforeMs = now() + fate.holdSeconds * 1000;
        await handOn(response, delivery, "retry", fate.state.code ?? "retry", fate.state.reason ?? "", redeliveryAttributes(delivery.attributes, fate.state, notBeforeMs), publishSignal(), {
          ...body,
          holdSeconds: fate.holdSeconds,
          failures: fate.state.failures,
        });
        return;
      }
    }
  }

  /**
   * Publishes the message to the retry or dead-letter topic and acknowledges
   * it (202), or, when Pub/Sub refuses the publish, answers 503 so that the
   * message comes back as it was.
   */
  async function handOn(
    response: Response,
    delivery: PushDelivery,
    to: "retry" | "deadLetter",
    code: string,
    reason: string,
    attributes: Record<string, string>,
    signal: AbortSignal,
    body: Readonly<Record<string, unknown>> = { messageId: delivery.messageId, outcome: "malformed", code, reason },
  ): Promise<void> {
    const topic = to === "retry" ? redelivery.retryTopic : redelivery.deadLetterTopic;
    try {
      const copyId = await redelivery.publish(topic, { data: delivery.data, attributes }, signal);
      if (to === "deadLetter") {
        logger.log("warn", "message_dead_lettered", { messageId: delivery.messageId, deadLetterId: copyId, code, reason, pubsubDeliveryAttempt: delivery.deliveryAttempt, fix: "see README: Dead letters (pull, fix the cause, publish the data to the work topic again)" });
      }
      answer(response, PUSH_STATUS.handedOn, { ...body, handedOnTo: to, copyId });
    } catch (error) {
      logger.log("error", "redelivery_publish_failed", {
        messageId: delivery.messageId,
        // Pub/Sub's own count: at 100 it dead-letters the message itself (infra/gcp/queue.ts SAFETY_NET_DELIVERIES).
        pubsubDeliveryAttempt: delivery.deliveryAttempt,
        topic,
        code,
        error: describeError(error),
        fix: "Pub/Sub delivers the message again as it was; if this repeats, check that the runtime account may publish to the topic (roles/pubsub.publisher)",
      });
      answer(response, PUSH_STATUS.publishFailed, { ...body, handedOnTo: to, error: describeError(error) });
    }
  }

  return {
    async handle(request, response) {
      try {
        await handle(request, response);
      } catch (error) {
        // Neither decoding, processBatch nor a publish is meant to throw; if one does, the message comes back rather than being lost.
        logger.log("error", "push_failed", { error: describeError(error), stack: error instanceof Error ? error.stack : undefined });
        if (!response.headersSent) answer(response, PUSH_STATUS.internalError, { outcome: "retry", code: "internal_error", reason: describeError(error) });
      }
    },
    close: () => worker.close(),
  };
}

function outcomeBody(outcome: Outcome): Record<string, unknown> {
  return outcome.kind === "ok" ? { outcome: "ok", key: outcome.key } : { outcome: outcome.kind, code: outcome.code, reason: outcome.reason, ...("key" in outcome ? { key: outcome.key } : {}) };
}

/**
 * The handler with the Google clients. The SSRF guard keeps its defaults:
 * `allowPrivateNetworks` is never read from the environment, so no
 * configuration can open the VPC, loopback or the metadata server to scraped URLs.
 */
export function createCloudFunctionHandler(env: NodeJS.ProcessEnv): PushHandler {
  const fleetName = requireEnv(env, FUNCTION_ENV.fleetName, "environment variable");
  const timeoutSeconds = integerEnv(env, FUNCTION_ENV.timeoutSeconds, "environment variable", 1);
  const logger = createJsonLogger({ base: { fleet: fleetName } });
  // One client per instance: its auth client caches the access token, which the settings source reuses.
  const storage = new (loadStorage().Storage)(storageOptions());
  const getAccessToken = async () => {
    const token = await storage.authClient.getAccessToken();
    if (!token) throw new HandlerConfigError("the runtime service account's credentials gave no access token");
    return token;
  };
  return createPushHandler({
    worker: {
      results: createGcsResultStore({ bucket: storage.bucket(requireEnv(env, FUNCTION_ENV.resultsBucket, "environment variable")) }),
      settings: createParameterManagerSettings({
        parameter: requireEnv(env, FUNCTION_ENV.settingsParameter, "environment variable"),
        getAccessToken,
        logger,
      }),
    },
    logger,
    metrics: createLogMetrics({ fleetName }),
    redelivery: {
      publish: createPublisher({ getAccessToken }),
      retryTopic: requireEnv(env, FUNCTION_ENV.retryTopic, "environment variable"),
      deadLetterTopic: requireEnv(env, FUNCTION_ENV.deadLetterTopic, "environment variable"),
      maxDeliveryAttempts: integerEnv(env, FUNCTION_ENV.maxDeliveryAttempts, "environment variable", 1),
    },
    timeoutSeconds,
  });
}

/**
 * Created on the first request and kept for the instance's life, so importing
 * this module (tests, tools) needs no Cloud Functions environment.
 */
let live: PushHandler | undefined;

// The Functions Framework finds the handler by this name (`buildConfig.entryPoint`).
// It stays external to the bundle (listed in the deployed package.json), so this
// registration and the framework's loader share one registry.
http(ENTRY_POINT, (request, response) => {
  live ??= createCloudFunctionHandler(process.env);
  return live.handle(request, response);
});
