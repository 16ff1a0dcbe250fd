/**
 * Azure Functions on Flex Consumption with a Service Bus trigger, as
 * documented: target-based scaling asks for
 * `ceil(messages waiting / target executions per instance)` instances, the
 * target being host.json `maxConcurrentCalls` (the stack's
 * messagesPerWorker), and adds at most four instances at a time, up to
 * `maximumInstanceCount` (maxWorkers).
 * https://learn.microsoft.com/azure/azure-functions/functions-target-based-scaling (read 2026-12-04)
 * The interval between scale decisions is not documented; this model takes 10 s.
 *
 * Each instance runs up to `maxConcurrentCalls` executions of one message
 * each (cardinality one). A message the worker sends back is not abandoned:
 * the handler schedules a copy for the fleet's retry delay and completes the
 * original (functions/azure/redelivery.ts `redeliveryDelaySeconds`, the same
 * function the model calls), so the copy waits out its backoff as a
 * scheduled message. After the `maxDeliveryAttempts`-th delivery fails, the
 * copy is still scheduled, and when it arrives the handler abandons it until
 * Service Bus dead-letters it (milliseconds), so the last delay is spent too.
 * https://learn.microsoft.com/azure/service-bus-messaging/message-sequencing#scheduled-messages
 */
import { redeliveryDelaySeconds } from "../../functions/azure/redelivery";
import type { FleetShape } from "./index";
import type { Engine, Instance } from "./engine";
import type { Random } from "./random";

/** What the model reads of the stack (FleetShape, ./index.ts). */
export type AzureParams = Pick<FleetShape, "maxWorkers" | "messagesPerWorker" | "maxDeliveryAttempts" | "functionTimeoutSeconds">;

export const FLEX_SCALE_STEP = 4;
export const FLEX_DECISION_INTERVAL_MS = 10_000;
/** Estimate: a Flex Consumption instance's start before its first execution. */
export const FLEX_COLD_START_MS = 1500;
const DEADLINE_MARGIN_MS = 5000;

export function startAzure(engine: Engine, params: AzureParams, random: Random): void {
  const instances: { instance: Instance; busy: number }[] = [];

  const fill = (slot: { instance: Instance; busy: number }): void => {
    while (slot.busy < params.messagesPerWorker) {
      const message = engine.receive();
      if (message === undefined) return;
      slot.busy += 1;
      engine.page(slot.instance, message, engine.now + params.functionTimeoutSeconds * 1000 - DEADLINE_MARGIN_MS, (result) => {
        slot.busy -= 1;
        if (result.kind === "ok") engine.complete();
        else {
          const retryAfterMs = result.kind === "domain_delay" ? result.waitMs : undefined;
          const delayMs = redeliveryDelaySeconds({ kind: "retry", code: result.kind === "domain_delay" ? "domain_delay" : result.code, reason: "", retryAfterMs }, message.receives, random) * 1000;
          engine.retryOrDeadLetter(message, delayMs, params.maxDeliveryAttempts);
        }
        fill(slot);
      });
    }
  };

  const decide = (): void => {
    if (engine.drained) return;
    const waiting = engine.queue.size() - engine.queue.inFlight;
    const desired = Math.min(params.maxWorkers, Math.ceil((waiting + engine.queue.inFlight) / params.messagesPerWorker));
    const add = Math.min(FLEX_SCALE_STEP, Math.max(0, desired - instances.length));
    for (let i = 0; i < add; i++) {
      const slot = { instance: engine.newInstance(), busy: 0 };
      instances.push(slot);
      engine.at(engine.now + FLEX_COLD_START_MS, () => fill(slot));
    }
    engine.setWorkers(instances.length);
    for (const slot of instances) fill(slot);
    engine.at(engine.now + FLEX_DECISION_INTERVAL_MS, decide);
  };
  engine.at(0, decide);
  // Executions also pick up messages that become visible between decisions.
  const poll = (): void => {
    if (engine.drained) return;
    for (const slot of instances) fill(slot);
    engine.at(engine.now + 1000, poll);
  };
  engine.at(1000, poll);
}
