/**
 * The Azure Functions entry (Node.js v4 programming model): one Service Bus
 * message in, the shared worker, the message settled by how the handler ends.
 *
 * Settlement. With `autoCompleteMessages` (the default, set explicitly here)
 * the host completes a message when the function returns and abandons it when
 * the function throws; an abandoned message is redelivered with
 * `deliveryCount` + 1 and moved to the `$DeadLetterQueue` sub-queue once it
 * reaches the queue's `maxDeliveryCount`.
 * https://learn.microsoft.com/azure/azure-functions/functions-bindings-service-bus-trigger#message-settlement
 * - `ok`, `failed`: return → completed (the record is stored).
 * - `retry`: throw → abandoned → redelivered, dead-lettered after `maxDeliveryCount`.
 * - `malformed`: throw → abandoned, and dead-lettered after `maxDeliveryCount`
 *   with the reason `MaxDeliveryCountExceeded`; the real reason is logged
 *   (`message_malformed`, with the message id) on every delivery.
 *   Dead-lettering at once with our own reason needs the receiver's
 *   `ServiceBusMessageActions`, which Node.js gets only through SDK-type
 *   bindings (`@azure/functions-extensions-servicebus`, still a 0.x preview
 *   whose message body format changed in 0.4): not something to run a fleet on.
 *   https://github.com/Azure/azure-functions-nodejs-extensions
 *
 * Cardinality `one`: a throw abandons every message of an invocation, so with
 * batches (`many`) one retry would send its finished siblings back to be
 * fetched again. One message per invocation settles each on its own, and the
 * host's `maxConcurrentCalls` (host.json, = `messagesPerWorker`) is then the
 * per-instance concurrency, as the contract defines it.
 */
import { app, type InvocationContext, type ServiceBusQueueFunctionOptions } from "@azure/functions";
import { DefaultAzureCredential } from "@azure/identity";
import { AsyncLocalStorage } from "node:async_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { describeError } from "../../shared/errors";
import type { Outcome, QueueItem } from "../../shared/outcome";
import type { Logger, LogLevel } from "../../shared/ports";
import { createWorker, type WorkerOptions } from "../../shared/worker";
import { HandlerConfigError, integerOption, requireEnv, writeGraceFor } from "../handlerConfig";
import { AZURE_APP_SETTINGS, SCRAPE_FUNCTION_NAME, SERVICE_BUS_CONNECTION } from "./appSettings";
import { createWindowMetrics, type WindowMetrics } from "./metrics";
import { createBlobResultStore, createResultsContainerClient } from "./resultStore";
import { createAppConfigurationClient, createAppConfigurationSettings } from "./settingsSource";

/**
 * Time kept back from the invocation's deadline (the function timeout or the
 * message lock, whichever ends first). The worker answers at its deadline except
 * for result writes already under way, which it lets run on for the margin
 * less the answer's time (`writeGraceFor`: 4 s by default) and then aborts: the
 * Blob client's own worst case, 3 tries of 10 s, would outlast the lock. The
 * Retry-After hold is cut at the deadline, so it takes none of the answer's time.
 */
export const DEADLINE_MARGIN_MS = { min: 0, max: 60_000, default: 5_000 } as const;

/**
 * Longest wait before abandoning a `retry` that carries a Retry-After.
 * Service Bus redelivers an abandoned message at once, so holding it (the lock
 * stays ours) is the only way to honour the server's wait without spending a
 * delivery on it. Bounded by the deadline.
 */
export const RETRY_HOLD_MS = { min: 0, max: 300_000, default: 30_000 } as const;

export interface ServiceBusHandlerDeps {
  /** The shared worker's options: settings, results store, and where needed the fetcher, resolver or private-network switch. */
  readonly worker: Omit<WorkerOptions, "logger" | "metrics">;
  /** The `fleet` field on every log line and metric (app setting `FLEET_NAME`). */
  readonly fleetName: string;
  /** The function timeout (host.json `functionTimeout`), in milliseconds: the latest deadline an invocation gets. */
  readonly functionTimeoutMs: number;
  /** Milliseconds kept back from the deadline. 0 to 60 000. @default 5000 */
  readonly deadlineMarginMs?: number;
  /** Longest wait honouring a Retry-After before the message is abandoned. 0 to 300 000. @default 30000 */
  readonly maxRetryHoldMs?: number;
  /** The fleet's metrics. @default a 10 s window per instance */
  readonly metrics?: WindowMetrics;
  /** Clock in epoch milliseconds. @default Date.now */
  readonly now?: () => number;
}

export interface ServiceBusHandler {
  /**
   * Handles one message: resolves to complete it, rejects to abandon it
   * (`MessageAbandonedError` for a retry, `MessageMalformedError` for a message
   * that cannot be read).
   */
  handle(message: unknown, context: InvocationContext): Promise<void>;
  /** Closes the worker's connection pool. */
  close(): Promise<void>;
}

/** Thrown to abandon a message the worker wants delivered again. */
export class MessageAbandonedError extends Error {
  readonly code = "message_abandoned";

  constructor(
    readonly outcome: Extract<Outcome, { kind: "retry" }>,
    messageId: string,
  ) {
    super(`message_abandoned: message ${messageId} goes back to the queue (${outcome.code}: ${outcome.reason})`);
    this.name = "MessageAbandonedError";
  }
}

/** Thrown to abandon a message that cannot be read; it reaches the dead-letter sub-queue after `maxDeliveryCount`. */
export class MessageMalformedError extends Error {
  readonly code = "message_malformed";

  constructor(
    readonly outcome: Extract<Outcome, { kind: "malformed" }>,
    messageId: string,
  ) {
    super(`message_malformed: message ${messageId} cannot be read and is dead-lettered after maxDeliveryCount (${outcome.code}: ${outcome.reason})`);
    this.name = "MessageMalformedError";
  }
}

/** Builds the handler from its dependencies: the registered function below with the Azure clients, tests with loopback ones. */
export function createServiceBusHandler(deps: ServiceBusHandlerDeps): ServiceBusHandler {
  const margin = integerOption("deadlineMarginMs", deps.deadlineMarginMs, DEADLINE_MARGIN_MS);
  const maxHold = integerOption("maxRetryHoldMs", deps.maxRetryHoldMs, RETRY_HOLD_MS);
  if (!Number.isInteger(deps.functionTimeoutMs) || deps.functionTimeoutMs <= margin) {
    throw new HandlerConfigError(`\`functionTimeoutMs\` must be an integer above the deadline margin of ${margin} ms (given ${JSON.stringify(deps.functionTimeoutMs)})`);
  }
  const now = deps.now ?? Date.now;
  const logger = createInvocationLogger(deps.fleetName);
  const metrics = deps.metrics ?? createWindowMetrics({ fleetName: deps.fleetName, now });
  const writeGraceMs = writeGraceFor(margin);
  const worker = createWorker({ ...deps.worker, logger, metrics });
  let inFlight = 0;

  async function settle(item: QueueItem, outcome: Outcome | undefined, deadlineAt: number): Promise<void> {
    const resolved: Outcome = outcome ?? { kind: "retry", code: "internal_error", reason: "the worker gave no outcome for this message" };
    switch (resolved.kind) {
      case "ok":
      case "failed":
        return;
      case "retry": {
        const hold = Math.min(resolved.retryAfterMs ?? 0, maxHold, Math.max(0, deadlineAt - now()));
        if (hold > 0) await sleep(hold);
        throw new MessageAbandonedError(resolved, item.id);
      }
      case "malformed":
        logger.log("error", "message_malformed", { messageId: item.id, deliveryCount: item.attempt, code: resolved.code, reason: resolved.reason });
        throw new MessageMalformedError(resolved, item.id);
    }
  }

  return {
    handle(message, context) {
      return invocations.run(context, async () => {
        const started = now();
        const metadata = readMetadata(message, context, started, logger);
        metrics.observeMessageAge(metadata.ageSeconds);
        const deadlineAt = Math.min(started + deps.functionTimeoutMs, metadata.lockedUntil ?? Number.POSITIVE_INFINITY) - margin;
        inFlight += 1;
        try {
          let outcome: Outcome | undefined;
          try {
            const outcomes = await worker.processBatch([metadata.item], { deadlineAt, writeGraceMs });
            outcome = outcomes[0]?.outcome;
          } catch (error) {
            // processBatch promises never to throw; if it does, the message goes back with a log line.
            logger.log("error", "batch_failed", { messageId: metadata.item.id, error: describeError(error) });
          }
          await settle(metadata.item, outcome, deadlineAt);
        } finally {
          inFlight -= 1;
          // Written when the window is due, or when the instance goes idle so no counts wait on an idle instance.
          const line = metrics.takeLine(inFlight === 0);
          if (line !== undefined) context.info(line);
        }
      });
    },
    close: () => worker.close(),
  };
}

interface MessageMetadata {
  readonly item: QueueItem;
  /** Seconds since the message was enqueued, when the trigger said. */
  readonly ageSeconds: number;
  /** Epoch milliseconds the message lock ends, when the trigger said. */
  readonly lockedUntil?: number;
}

/**
 * The trigger metadata of a single-message Service Bus trigger (camel case in
 * the v4 model): `messageId`, `deliveryCount` (1 on the first delivery),
 * `enqueuedTimeUtc`, `lockedUntilUtc`.
 * https://learn.microsoft.com/azure/azure-functions/functions-bindings-service-bus-trigger#message-metadata
 */
function readMetadata(message: unknown, context: InvocationContext, now: number, logger: Logger): MessageMetadata {
  const metadata = context.triggerMetadata ?? {};
  const messageId = typeof metadata.messageId === "string" && metadata.messageId !== "" ? metadata.messageId : context.invocationId;
  const deliveryCount = Number(metadata.deliveryCount);
  let attempt = 1;
  if (Number.isInteger(deliveryCount) && deliveryCount >= 1) attempt = deliveryCount;
  else logger.log("warn", "delivery_count_invalid", { messageId, value: metadata.deliveryCount, fix: "Service Bus sets deliveryCount; the message is treated as a first delivery" });
  const enqueued = utcTime(metadata.enqueuedTimeUtc);
  const lockedUntil = utcTime(metadata.lockedUntilUtc);
  return {
    item: { id: messageId, body: message, attempt },
    ageSeconds: enqueued === undefined ? Number.NaN : (now - enqueued) / 1000,
    ...(lockedUntil === undefined ? {} : { lockedUntil }),
  };
}

/** A UTC time from trigger metadata: an ISO string (with or without `Z`) or a Date. */
function utcTime(value: unknown): number | undefined {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.getTime();
  if (typeof value !== "string" || value === "") return undefined;
  const text = /(Z|[+-]\d\d:\d\d)$/i.test(value) ? value : `${value}Z`;
  const time = Date.parse(text);
  return Number.isNaN(time) ? undefined : time;
}

const CONTEXT_METHOD = { debug: "debug", info: "info", warn: "warn", error: "error" } as const satisfies Record<LogLevel, keyof InvocationContext>;

/** The invocation a piece of async work belongs to: the worker is shared by the instance's concurrent invocations. */
const invocations = new AsyncLocalStorage<InvocationContext>();

/**
 * JSON lines written through the current invocation's context, so each lands
 * in Application Insights with its invocation's operation id and severity;
 * outside an invocation they go to the console, which the host also collects.
 */
export function createInvocationLogger(fleetName: string): Logger {
  return {
    log(level, event, fields) {
      const line = JSON.stringify({ level, event, time: new Date().toISOString(), fleet: fleetName, ...fields });
      const context = invocations.getStore();
      if (context) context[CONTEXT_METHOD[level]](line);
      else console[CONTEXT_METHOD[level]](line);
    },
  };
}

/**
 * The handler with the Azure clients, signed in with the app's managed
 * identity. The SSRF guard keeps its defaults: `allowPrivateNetworks` is never
 * read from an app setting, so no configuration can open loopback or a virtual
 * network to scraped URLs.
 */
export function createAzureHandler(env: NodeJS.ProcessEnv): ServiceBusHandler {
  const fleetName = requireEnv(env, AZURE_APP_SETTINGS.fleetName, "app setting");
  const timeoutSeconds = Number(requireEnv(env, AZURE_APP_SETTINGS.functionTimeoutSeconds, "app setting"));
  if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 10) {
    throw new HandlerConfigError(`app setting ${AZURE_APP_SETTINGS.functionTimeoutSeconds} must be a whole number of seconds, at least 10 (given ${JSON.stringify(env[AZURE_APP_SETTINGS.functionTimeoutSeconds])}); the fleet's Pulumi program sets it: redeploy the stack`);
  }
  const credential = new DefaultAzureCredential();
  const endpoint = requireEnv(env, AZURE_APP_SETTINGS.configEndpoint, "app setting");
  return createServiceBusHandler({
    fleetName,
    functionTimeoutMs: timeoutSeconds * 1000,
    worker: {
      settings: createAppConfigurationSettings({ client: createAppConfigurationClient(endpoint, credential), endpoint, key: requireEnv(env, AZURE_APP_SETTINGS.settingsKey, "app setting"), logger: createInvocationLogger(fleetName) }),
      results: createBlobResultStore({ container: createResultsContainerClient(requireEnv(env, AZURE_APP_SETTINGS.resultsContainerUrl, "app setting"), credential) }),
    },
  });
}

/**
 * Created on the first invocation and kept for the instance's life, so loading
 * the module (the host indexing functions, tests) needs no app settings and
 * makes no network call.
 */
let live: ServiceBusHandler | undefined;

/** The trigger as registered: exported so tests can check what the host is told. */
export const scrapeTrigger: ServiceBusQueueFunctionOptions = {
  connection: SERVICE_BUS_CONNECTION,
  queueName: `%${AZURE_APP_SETTINGS.queueName}%`,
  cardinality: "one",
  autoCompleteMessages: true,
  handler: (message, context) => {
    live ??= createAzureHandler(process.env);
    return live.handle(message, context);
  },
};

app.serviceBusQueue(SCRAPE_FUNCTION_NAME, scrapeTrigger);
