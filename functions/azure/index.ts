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
 * - `retry`: a copy is scheduled for the fleet's retry delay, then return →
 *   the original is completed (./redelivery.ts); if the copy cannot be
 *   scheduled, throw → abandoned → back at once. A delivery counts the copies'
 *   earlier deliveries too, and a copy that arrives with all
 *   `maxDeliveryAttempts` spent is not fetched: throw until Service Bus
 *   dead-letters it (reason `MaxDeliveryCountExceeded`; the copy's
 *   application properties name the last outcome).
 * - `malformed`: throw → abandoned, and dead-lettered after `maxDeliveryCount`
 *   with the reason `MaxDeliveryCountExceeded`; the real reason is logged
 *   (`message_malformed`, with the message id) on every delivery.
 *   Dead-lettering at once with our own reason needs the receiver's
 *   `ServiceBusMessageActions`, which Node.js gets only through SDK-type
 *   bindings (`@azure/functions-extensions-servicebus`, still a 0.x preview
 *   whose message body format changed in 0.4): not something to run a fleet on.
 *   https://github.com/Azure/azure-functions-nodejs-extensions
 * The delivery whose abandon moves a message to the dead-letter queue (its
 * own `deliveryCount` at `maxDeliveryAttempts`) is logged as
 * `message_dead_lettered`, once per message: the dead-letter alert counts
 * those lines.
 *
 * Cardinality `one`: a throw abandons every message of an invocation, so with
 * batches (`many`) one retry would send its finished siblings back to be
 * fetched again. One message per invocation settles each on its own, and the
 * host's `maxConcurrentCalls` (host.json, = `messagesPerWorker`) is then the
 * per-instance concurrency, as the contract defines it.
 */
import { app, type InvocationContext, type ServiceBusQueueFunctionOptions } from "@azure/functions";
import { AsyncLocalStorage } from "node:async_hooks";
import { describeError } from "../../shared/errors";
import type { Outcome, QueueItem } from "../../shared/outcome";
import type { Logger, LogLevel } from "../../shared/ports";
import { createWorker, type WorkerOptions } from "../../shared/worker";
import { HandlerConfigError, integerEnv, integerOption, requireEnv, writeGraceFor } from "../handlerConfig";
import { AZURE_APP_SETTINGS, DEAD_LETTERED_EVENT, SCRAPE_FUNCTION_NAME, SERVICE_BUS_CONNECTION, SERVICE_BUS_NAMESPACE_SETTING } from "./appSettings";
import { createWindowMetrics, type WindowMetrics } from "./metrics";
import { deliveriesBefore, firstEnqueuedAt, REDELIVERY_PROPERTIES, scheduleRedelivery, type MessageScheduler, type ReceivedMessage } from "./redelivery";
import { createBlobResultStore, createResultsContainerClient } from "./resultStore";
import { loadIdentity, loadServiceBus } from "./sdk";
import { createAppConfigurationClient, createAppConfigurationSettings } from "./settingsSource";

/**
 * Time kept back from the invocation's deadline (the function timeout or the
 * message lock, whichever ends first). The worker answers at its deadline except
 * for result writes already under way, which it lets run on for the margin
 * less the answer's time (`writeGraceFor`: 4 s by default) and then aborts: the
 * Blob client's own worst case, 3 tries of 10 s, would outlast the lock. The
 * answer includes scheduling a retry's copy, one in-region call.
 */
export const DEADLINE_MARGIN_MS = { min: 0, max: 60_000, default: 5_000 } as const;

/** The queue's `maxDeliveryCount`, which the handler counts across a message's copies. */
export const MAX_DELIVERY_ATTEMPTS = { min: 1, max: 2_000, default: 5 } as const;

export interface ServiceBusHandlerDeps {
  /** The shared worker's options: settings, results store, and where needed the fetcher, resolver or private-network switch. */
  readonly worker: Omit<WorkerOptions, "logger" | "metrics">;
  /** The `fleet` field on every log line and metric (app setting `FLEET_NAME`). */
  readonly fleetName: string;
  /** The function timeout (host.json `functionTimeout`), in milliseconds: the latest deadline an invocation gets. */
  readonly functionTimeoutMs: number;
  /** Milliseconds kept back from the deadline. 0 to 60 000. @default 5000 */
  readonly deadlineMarginMs?: number;
  /** Deliveries before a message is dead-lettered: the queue's `maxDeliveryCount` (app setting `MAX_DELIVERY_ATTEMPTS`). 1 to 2000. */
  readonly maxDeliveryAttempts: number;
  /** Schedules a retry's copy on the work queue: a `ServiceBusSender` for it. */
  readonly scheduler: MessageScheduler;
  /** Jitter source for the retry backoff, 0 ≤ x < 1. @default Math.random */
  readonly random?: () => number;
  /** The fleet's metrics. @default a 10 s window per instance */
  readonly metrics?: WindowMetrics;
  /** Clock in epoch milliseconds. @default Date.now */
  readonly now?: () => number;
}

export interface ServiceBusHandler {
  /**
   * Handles one message: resolves to complete it (done, or a retry whose copy
   * is scheduled), rejects to abandon it (`MessageAbandonedError` for a retry
   * whose copy could not be scheduled, `MessageMalformedError` for a message
   * that cannot be read, `MessageExhaustedError` for a copy with every
   * delivery spent).
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

/** Thrown to abandon a copy that arrives with every delivery spent, until Service Bus dead-letters it. */
export class MessageExhaustedError extends Error {
  readonly code = "message_exhausted";

  constructor(
    messageId: string,
    readonly deliveries: number,
  ) {
    super(`message_exhausted: message ${messageId} has had its ${deliveries} deliveries and is abandoned until Service Bus dead-letters it`);
    this.name = "MessageExhaustedError";
  }
}

/** Builds the handler from its dependencies: the registered function below with the Azure clients, tests with loopback ones. */
export function createServiceBusHandler(deps: ServiceBusHandlerDeps): ServiceBusHandler {
  const margin = integerOption("deadlineMarginMs", deps.deadlineMarginMs, DEADLINE_MARGIN_MS);
  const maxDeliveries = integerOption("maxDeliveryAttempts", deps.maxDeliveryAttempts, MAX_DELIVERY_ATTEMPTS);
  if (!Number.isInteger(deps.functionTimeoutMs) || deps.functionTimeoutMs <= margin) {
    throw new HandlerConfigError(`\`functionTimeoutMs\` must be an integer above the deadline margin of ${margin} ms (given ${JSON.stringify(deps.functionTimeoutMs)})`);
  }
  const now = deps.now ?? Date.now;
  const random = deps.random ?? Math.random;
  const logger = createInvocationLogger(deps.fleetName);
  const metrics = deps.metrics ?? createWindowMetrics({ fleetName: deps.fleetName, now });
  const writeGraceMs = writeGraceFor(margin);
  const worker = createWorker({ ...deps.worker, logger, metrics });
  let inFlight = 0;

  /** Completes (returns) or abandons (throws) the message by its outcome; see the file comment. */
  async function settle(metadata: MessageMetadata, outcome: Outcome | undefined, answerBy: number): Promise<void> {
    const { item } = metadata;
    const resolved: Outcome = outcome ?? { kind: "retry", code: "internal_error", reason: "the worker gave no outcome for this message" };
    switch (resolved.kind) {
      case "ok":
      case "failed":
        return;
      case "retry":
        try {
          const { delaySeconds } = await scheduleRedelivery(deps.scheduler, metadata.received, item.attempt, resolved, { now: now(), random }, { abortSignal: AbortSignal.timeout(Math.max(1, answerBy - now())) });
          logger.log("info", "message_rescheduled", { messageId: item.id, deliveries: item.attempt, code: resolved.code, delaySeconds });
          return;
        } catch (error) {
          logger.log("warn", "redelivery_failed", {
            messageId: item.id,
            code: resolved.code,
            error: describeError(error),
            fix: "the message is abandoned and comes back at once, spending a delivery; if this repeats, check that the app's identity holds Azure Service Bus Data Owner on the work queue",
          });
          throw new MessageAbandonedError(resolved, item.id);
        }
      case "malformed":
        logger.log("error", "message_malformed", { messageId: item.id, deliveryCount: item.attempt, code: resolved.code, reason: resolved.reason });
        throw new MessageMalformedError(resolved, item.id);
    }
  }

  /** Fetches the page, or refuses a copy with every delivery spent, and settles the message. */
  async function handleOne(metadata: MessageMetadata, started: number): Promise<void> {
    const { item } = metadata;
    if (item.attempt > maxDeliveries) throw new MessageExhaustedError(item.id, item.attempt - metadata.deliveryCount);
    const answerBy = Math.min(started + deps.functionTimeoutMs, metadata.lockedUntil ?? Number.POSITIVE_INFINITY);
    const deadlineAt = answerBy - margin;
    let outcome: Outcome | undefined;
    try {
      const outcomes = await worker.processBatch([item], { deadlineAt, writeGraceMs });
      outcome = outcomes[0]?.outcome;
    } catch (error) {
      // processBatch promises never to throw; if it does, the message goes back with a log line.
      logger.log("error", "batch_failed", { messageId: item.id, error: describeError(error) });
    }
    await settle(metadata, outcome, answerBy);
  }

  return {
    handle(message, context) {
      return invocations.run(context, async () => {
        const started = now();
        const metadata = readMetadata(message, context, started, logger);
        metrics.observeMessageAge(metadata.ageSeconds);
        inFlight += 1;
        try {
          await handleOne(metadata, started);
        } catch (error) {
          // An abandon at the queue's own count moves the message to the dead-letter queue.
          if (metadata.deliveryCount >= maxDeliveries) logDeadLettered(logger, metadata, error);
          throw error;
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

/** The message's last outcome and how many deliveries it had, for the dead-letter line. */
function lastOutcome(metadata: MessageMetadata, error: unknown): { deliveries: number; code: unknown; reason: unknown } {
  if (error instanceof MessageExhaustedError) {
    const properties = metadata.received.applicationProperties;
    return { deliveries: error.deliveries, code: properties[REDELIVERY_PROPERTIES.lastCode], reason: properties[REDELIVERY_PROPERTIES.lastReason] };
  }
  if (error instanceof MessageAbandonedError || error instanceof MessageMalformedError) return { deliveries: metadata.item.attempt, code: error.outcome.code, reason: error.outcome.reason };
  return { deliveries: metadata.item.attempt, code: "internal_error", reason: describeError(error) };
}

function logDeadLettered(logger: Logger, metadata: MessageMetadata, error: unknown): void {
  logger.log("error", DEAD_LETTERED_EVENT, {
    messageId: metadata.item.id,
    ...lastOutcome(metadata, error),
    fix: "Service Bus moves it to the queue's $DeadLetterQueue (reason MaxDeliveryCountExceeded); read it there, fix the cause, and send its body again",
  });
}

interface MessageMetadata {
  readonly item: QueueItem;
  /** This message's own delivery count, as Service Bus keeps it (a copy starts again at 1). */
  readonly deliveryCount: number;
  /** What a retry's copy keeps. */
  readonly received: ReceivedMessage;
  /** Seconds since the message (the original, for a copy) was enqueued, when the trigger said. */
  readonly ageSeconds: number;
  /** Epoch milliseconds the message lock ends, when the trigger said. */
  readonly lockedUntil?: number;
}

/**
 * The trigger metadata of a single-message Service Bus trigger (camel case in
 * the v4 model): `messageId`, `deliveryCount` (1 on the first delivery),
 * `enqueuedTimeUtc`, `lockedUntilUtc`, `contentType`, `correlationId`,
 * `subject`, `applicationProperties`. The delivery is the deliveries a copy
 * carries (./redelivery.ts) plus `deliveryCount`.
 * https://learn.microsoft.com/azure/azure-functions/functions-bindings-service-bus-trigger#message-metadata
 */
function readMetadata(message: unknown, context: InvocationContext, now: number, logger: Logger): MessageMetadata {
  const metadata = context.triggerMetadata ?? {};
  const messageId = typeof metadata.messageId === "string" && metadata.messageId !== "" ? metadata.messageId : context.invocationId;
  const deliveryCount = Number(metadata.deliveryCount);
  let count = 1;
  if (Number.isInteger(deliveryCount) && deliveryCount >= 1) count = deliveryCount;
  else logger.log("warn", "delivery_count_invalid", { messageId, value: metadata.deliveryCount, fix: "Service Bus sets deliveryCount; the message is treated as a first delivery" });
  const applicationProperties = typeof metadata.applicationProperties === "object" && metadata.applicationProperties !== null ? (metadata.applicationProperties as Record<string, unknown>) : {};
  const enqueued = firstEnqueuedAt(applicationProperties) ?? utcTime(metadata.enqueuedTimeUtc);
  const lockedUntil = utcTime(metadata.lockedUntilUtc);
  const optionalText = (value: unknown) => (typeof value === "string" && value !== "" ? value : undefined);
  const contentType = optionalText(metadata.contentType);
  const correlationId = optionalText(metadata.correlationId);
  const subject = optionalText(metadata.subject) ?? optionalText(metadata.label);
  return {
    item: { id: messageId, body: message, attempt: deliveriesBefore(applicationProperties) + count },
    deliveryCount: count,
    received: {
      body: message,
      messageId,
      applicationProperties,
      ...(contentType === undefined ? {} : { contentType }),
      ...(correlationId === undefined ? {} : { correlationId }),
      ...(subject === undefined ? {} : { subject }),
      ...(enqueued === undefined ? {} : { firstEnqueuedAt: enqueued }),
    },
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
  const timeoutSeconds = integerEnv(env, AZURE_APP_SETTINGS.functionTimeoutSeconds, "app setting", 10);
  const maxDeliveryAttempts = integerEnv(env, AZURE_APP_SETTINGS.maxDeliveryAttempts, "app setting", 1);
  const credential = new (loadIdentity().DefaultAzureCredential)();
  const endpoint = requireEnv(env, AZURE_APP_SETTINGS.configEndpoint, "app setting");
  // The same identity and namespace as the trigger's connection; the copy goes to the queue the message came from.
  const serviceBus = new (loadServiceBus().ServiceBusClient)(requireEnv(env, SERVICE_BUS_NAMESPACE_SETTING, "app setting"), credential);
  return createServiceBusHandler({
    fleetName,
    functionTimeoutMs: timeoutSeconds * 1000,
    maxDeliveryAttempts,
    scheduler: serviceBus.createSender(requireEnv(env, AZURE_APP_SETTINGS.queueName, "app setting")),
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
