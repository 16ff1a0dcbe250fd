/**
 * Cloud Functions gen2 (a Cloud Run service) behind a Pub/Sub push
 * subscription. Pub/Sub adapts the rate of push requests to the rate of
 * success responses, starting slow ("slow start") and backing off on
 * failures: https://cloud.google.com/pubsub/docs/push (read 2026-12-04). The
 * page does not give the numbers; this model starts with one outstanding
 * push, adds one per success (doubling each round trip, like TCP's slow
 * start) and halves the window on a failure.
 *
 * Cloud Run runs `ceil(outstanding / maxInstanceRequestConcurrency)`
 * instances, at most `maxInstanceCount` (maxWorkers):
 * https://cloud.google.com/run/docs/about-instance-autoscaling
 * A failed push (the function answers 429) comes back after the
 * subscription's retry policy, exponential from 10 s to 600 s
 * (infra/gcp/queue.ts RETRY_BACKOFF), and goes to the dead-letter topic
 * after `maxDeliveryAttempts`.
 */
import type { Engine, Instance } from "./engine";
import type { Random } from "./random";

export interface GcpParams {
  readonly maxWorkers: number;
  readonly messagesPerWorker: number;
  readonly maxDeliveryAttempts: number;
  readonly functionTimeoutSeconds: number;
}

const RETRY_MIN_MS = 10_000;
const RETRY_MAX_MS = 600_000;
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
          if (result.kind === "ok") {
            engine.complete();
            window = Math.min(limit, window + 1);
          } else {
            window = Math.max(1, Math.floor(window / 2));
            if (message.receives >= params.maxDeliveryAttempts) engine.deadLetter();
            else engine.requeue(message, Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (message.receives - 1)) * (0.5 + random() / 2));
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
