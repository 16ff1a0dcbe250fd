/**
 * The Cloud Functions (gen2) entry: one Pub/Sub push request in, the shared
 * worker on its one message, an HTTP status out. Pub/Sub acknowledges the
 * message on 102, 200, 201, 202 or 204 and redelivers it on anything else,
 * with the subscription's retry backoff, until `maxDeliveryAttempts`, when it
 * moves it to the dead-letter topic.
 * https://cloud.google.com/pubsub/docs/push#receive_push
 *
 * | outcome                    | status | why |
 * |----------------------------|--------|-----|
 * | ok, failed                 | 200    | done: the record (a failure record for `failed`) is stored |
 * | malformed, bad envelope    | 400    | Pub/Sub retries it `maxDeliveryAttempts` times, then dead-letters it with its original data and attributes |
 * | retry (page, pause, delay) | 429    | "deliver later"; kept out of 5xx so the errors alert means the function, not the sites it scrapes |
 * | retry `store_failed`       | 503    | our dependency failed: counts as a function error |
 * | retry `internal_error`     | 500    | a bug: counts as a function error |
 *
 * A malformed message is not published to the dead-letter topic by the
 * handler: Pub/Sub's own dead-lettering already bounds the attempts, keeps the
 * original bytes and attributes (plus the source subscription and delivery
 * count), needs no publisher grant for the runtime account and no Pub/Sub
 * client in the bundle, and cannot put a message in the dead-letter topic
 * twice when our 2xx is lost. The cost is `maxDeliveryAttempts` short
 * invocations; each logs the reason with the message id.
 */
import { http, type Request, type Response } from "@google-cloud/functions-framework";
import { Storage } from "@google-cloud/storage";
import { describeError } from "../../shared/errors";
import { createJsonLogger } from "../../shared/logging";
import type { Outcome } from "../../shared/outcome";
import type { Logger, Metrics } from "../../shared/ports";
import { createWorker, type WorkerOptions } from "../../shared/worker";
import { HandlerConfigError, integerOption, requireEnv, writeGraceFor } from "../handlerConfig";
import { ENTRY_POINT, FUNCTION_ENV } from "./environment";
import { createLogMetrics } from "./metrics";
import { PushEnvelopeError, decodePushEnvelope, type PushDelivery } from "./pushEnvelope";
import { createGcsResultStore, storageOptions } from "./resultStore";
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

/** The status for each outcome (see the table above). */
export const PUSH_STATUS = {
  ok: 200,
  failed: 200,
  malformed: 400,
  retry: 429,
  storeFailed: 503,
  internalError: 500,
} as const;

export interface PushHandlerDeps {
  /** The shared worker's options: settings, results store, and where needed the fetcher, resolver or private-network switch. */
  readonly worker: Omit<WorkerOptions, "logger" | "metrics">;
  readonly logger: Logger;
  readonly metrics: Metrics;
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
      logger.log("warn", "push_rejected", { code: error.code, messageId: error.messageId, reason: error.message, fix: "Pub/Sub dead-letters the message after maxDeliveryAttempts" });
      answer(response, PUSH_STATUS.malformed, { outcome: "malformed", code: error.code, reason: error.message });
      return;
    }
    if (!delivery.attemptKnown) {
      logger.log("warn", "delivery_attempt_missing", { messageId: delivery.messageId, fix: "the push subscription needs a dead-letter policy for Pub/Sub to count deliveries; the message is treated as a first delivery" });
    }
    const deadlineAt = started + timeoutSeconds * 1000 - margin;
    const [item] = await worker.processBatch([{ id: delivery.messageId, body: delivery.data, attempt: delivery.deliveryAttempt }], { deadlineAt, writeGraceMs });
    answer(response, statusOf(item.outcome), { messageId: delivery.messageId, attempt: delivery.deliveryAttempt, ...outcomeBody(item.outcome) });
  }

  return {
    async handle(request, response) {
      try {
        await handle(request, response);
      } catch (error) {
        // Neither decoding nor processBatch is meant to throw; if one does, the message comes back rather than being lost.
        logger.log("error", "push_failed", { error: describeError(error), stack: error instanceof Error ? error.stack : undefined });
        if (!response.headersSent) answer(response, PUSH_STATUS.internalError, { outcome: "retry", code: "internal_error", reason: describeError(error) });
      }
    },
    close: () => worker.close(),
  };
}

export function statusOf(outcome: Outcome): number {
  switch (outcome.kind) {
    case "ok":
      return PUSH_STATUS.ok;
    case "failed":
      return PUSH_STATUS.failed;
    case "malformed":
      return PUSH_STATUS.malformed;
    case "retry":
      if (outcome.code === "store_failed") return PUSH_STATUS.storeFailed;
      if (outcome.code === "internal_error") return PUSH_STATUS.internalError;
      return PUSH_STATUS.retry;
  }
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
  const timeoutSeconds = Number(requireEnv(env, FUNCTION_ENV.timeoutSeconds, "environment variable"));
  const logger = createJsonLogger({ base: { fleet: fleetName } });
  // One client per instance: its auth client caches the access token, which the settings source reuses.
  const storage = new Storage(storageOptions());
  return createPushHandler({
    worker: {
      results: createGcsResultStore({ bucket: storage.bucket(requireEnv(env, FUNCTION_ENV.resultsBucket, "environment variable")) }),
      settings: createParameterManagerSettings({
        parameter: requireEnv(env, FUNCTION_ENV.settingsParameter, "environment variable"),
        getAccessToken: async () => {
          const token = await storage.authClient.getAccessToken();
          if (!token) throw new HandlerConfigError("the runtime service account's credentials gave no access token");
          return token;
        },
        logger,
      }),
    },
    logger,
    metrics: createLogMetrics({ fleetName }),
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
