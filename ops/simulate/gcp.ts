/**
 * Cloud Functions gen2 (a Cloud Run service) behind a Pub/Sub push
 * subscription. Pub/Sub adapts the rate of push requests to the rate of
 * success responses, starting slow ("slow start"):
 * https://cloud.google.com/pubsub/docs/push (read 2026-12-04). The page does
 * not give the numbers; this model starts with one outstanding push and adds
 * one per success (doubling each round trip, like TCP's slow start). The
 * handler answers every page with a success, retries included, so the work
 * subscription never backs off (functions/gcp/redelivery.ts).
 *
 * Cloud Run runs `ceil(outstanding / maxInstanceRequestConcurrency)`
 * instances, at most `maxInstanceCount` (maxWorkers):
 * https://cloud.google.com/run/docs/about-instance-autoscaling
 *
 * A page the worker sends back is published again to the retry topic with the
 * handler's own hold (`redeliveryOf`, the shared backoff; host pacing spends
 * no attempt), and is worked on at the retry subscription's first delivery at
 * or after that time (`heldUntilSeconds`: 0, 10, 30, 70 … s, then 600 s
 * apart). After `maxDeliveryAttempts` failures the copy is held once more and
 * dead-lettered when it comes back. In this model the copies share the work
 * subscription's push window; the real retry subscription has its own, and
 * copies are a small share of the pushes.
 */
import { redeliveryOf } from "../../functions/gcp/redelivery";
import { heldUntilSeconds } from "../../infra/gcp/recovery";
import type { FleetShape } from "./index";
import type { Engine, Instance } from "./engine";
import type { Random } from "./random";

/** What the model reads of the stack (FleetShape, ./index.ts). */
export type GcpParams = Pick<FleetShape, "maxWorkers" | "messagesPerWorker" | "maxDeliveryAttempts" | "functionTimeoutSeconds">;

/** Estimate: a new Cloud Run instance's start. */
export const CLOUD_RUN_COLD_START_MS = 1000;
const DEADLINE_MARGIN_MS = 3000;

export function startGcp(engine: Engine, params: GcpParams, random: Random): void {
  const limit = params.maxWorkers * params.messagesPerWorker;
  let window = 1;
  let outstanding = 0;
  const instances: { instance: Instance; busy: number; readyAt: number }[] = [];

  const instanceFor = (): { instance: Instance; busy: number; readyAt: number } => {
    const free = instances.find((candidate) => candidate.busy < params.messagesPerWorker);
    if (free) return free;
    const created = { instance: engine.newInstance(), busy: 0, readyAt: engine.now + CLOUD_RUN_COLD_START_MS };
    instances.push(created);
    engine.setWorkers(instances.length);
    return created;
  };

  const push = (): void => {
    while (outstanding < Math.min(window, limit)) {
      const message = engine.receive();
      if (message === undefined) break;
      outstanding += 1;
      const slot = instanceFor();
      slot.busy += 1;
      engine.at(Math.max(engine.now, slot.readyAt), () =>
        engine.page(slot.instance, message, engine.now + params.functionTimeoutSeconds * 1000 - DEADLINE_MARGIN_MS, (result) => {
          slot.busy -= 1;
          outstanding -= 1;
          window = Math.min(limit, window + 1);
          if (result.kind === "ok") engine.complete();
          else {
            // Pacing gives its delivery back, so `receives` counts the transient failures the handler counts.
            const paced = result.kind === "domain_delay";
            const outcome = paced ? { kind: "retry", code: "domain_delay", reason: "", retryAfterMs: result.waitMs } as const : { kind: "retry", code: result.code, reason: "" } as const;
            const fate = redeliveryOf(outcome, { failures: message.receives - 1, pauses: 0 }, params.maxDeliveryAttempts, random);
            const delayMs = fate.kind === "republish" ? heldUntilSeconds(fate.holdSeconds) * 1000 : 0;
            if (fate.kind === "republish" && fate.state.failures >= params.maxDeliveryAttempts) engine.holdThenDeadLetter(message, delayMs);
            else engine.requeue(message, delayMs, !paced);
          }
          push();
        }),
      );
    }
  };
  const tick = (): void => {
    if (engine.drained) return;
    push();
    engine.at(engine.now + 1000, tick);
  };
  engine.at(0, tick);
}
