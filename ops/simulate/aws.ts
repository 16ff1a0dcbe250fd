/**
 * Lambda fed by SQS through an event source mapping, as documented:
 * https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html
 * (read 2026-12-04): with messages available, Lambda starts with five
 * concurrent batches and adds up to 300 more per minute, at most 1,000, and
 * never more than the mapping's `maximumConcurrency` (the stack's maxWorkers).
 *
 * Each invocation takes up to `messagesPerWorker` messages, works on
 * `min(concurrency, batch)` at once, and answers when the whole batch is
 * done. A returned message comes back after the handler's own visibility
 * (functions/aws/visibility.ts: 30–60 s after the first receive, ×4 per
 * receive), and SQS moves it to the dead-letter queue at the receive after
 * its `maxDeliveryAttempts`-th, so the last hold is spent too.
 */
import { visibilitySeconds } from "../../functions/aws/holds";
import type { FleetShape } from "./index";
import type { Engine, Instance, SimMessage } from "./engine";
import type { Random } from "./random";

/** What the model reads of the stack (FleetShape, ./index.ts). */
export type AwsParams = Pick<FleetShape, "maxWorkers" | "messagesPerWorker" | "maxDeliveryAttempts" | "functionTimeoutSeconds" | "concurrency">;

/** Concurrent batches when messages first appear, and the most added per minute. */
export const LAMBDA_SQS_START_BATCHES = 5;
export const LAMBDA_SQS_ADD_PER_MINUTE = 300;
export const LAMBDA_SQS_MAX_BATCHES = 1000;
/** The handler answers this long before Lambda's timeout (functions/aws/index.ts DEADLINE_MARGIN_MS default). */
const DEADLINE_MARGIN_MS = 3000;
/** An empty receive is a long poll: the poller asks again when a message becomes visible, or after 20 s. */
const LONG_POLL_MS = 20_000;
/** Estimate: a new execution environment's init (Node.js, the bundle) before its first batch. */
export const LAMBDA_COLD_START_MS = 400;

export function startAws(engine: Engine, params: AwsParams, random: Random): void {
  const cap = Math.min(params.maxWorkers, LAMBDA_SQS_MAX_BATCHES);
  const idle: Instance[] = [];
  let pollers = 0;
  let target = Math.min(LAMBDA_SQS_START_BATCHES, cap);

  const invoke = (instance: Instance, batch: SimMessage[], cold: boolean): void => {
    const startsAt = engine.now + (cold ? LAMBDA_COLD_START_MS : 0);
    const deadlineAt = startsAt + params.functionTimeoutSeconds * 1000 - DEADLINE_MARGIN_MS;
    const lanes = Math.max(1, Math.min(params.concurrency, batch.length));
    let next = 0;
    let open = batch.length;
    const returned: { message: SimMessage; retryAfterMs?: number }[] = [];
    const lane = (): void => {
      if (next >= batch.length) return;
      const message = batch[next++];
      engine.page(instance, message, deadlineAt, (result) => {
        if (result.kind === "ok") engine.complete();
        // A host slot past the deadline comes back with its wait as Retry-After, as the worker answers it.
        else returned.push({ message, retryAfterMs: result.kind === "domain_delay" ? result.waitMs : undefined });
        open -= 1;
        if (open === 0) finish();
        else lane();
      });
    };
    const finish = (): void => {
      for (const { message, retryAfterMs } of returned) {
        const holdMs = (visibilitySeconds({ kind: "retry", code: "http_5xx", reason: "", retryAfterMs }, message.receives, random) ?? 0) * 1000;
        engine.retryOrDeadLetter(message, holdMs, params.maxDeliveryAttempts);
      }
      poll(instance);
    };
    engine.at(startsAt, () => {
      for (let i = 0; i < lanes; i++) lane();
    });
  };

  /** One poller: receive a batch and invoke, or wait for a message. */
  const poll = (instance: Instance | undefined): void => {
    if (pollers > target) {
      pollers -= 1;
      if (instance) idle.push(instance);
      engine.setWorkers(pollers);
      return;
    }
    const batch: SimMessage[] = [];
    for (let message = engine.receive(); message !== undefined; message = batch.length < params.messagesPerWorker ? engine.receive() : undefined) batch.push(message);
    if (batch.length === 0) {
      const next = engine.queue.nextVisibleAt();
      engine.at(Math.min(next ?? Number.POSITIVE_INFINITY, engine.now + LONG_POLL_MS), () => poll(instance));
      return;
    }
    const reused = instance ?? idle.pop();
    invoke(reused ?? engine.newInstance(), batch, reused === undefined);
  };

  const addPollers = (): void => {
    while (pollers < target) {
      pollers += 1;
      poll(undefined);
    }
    engine.setWorkers(pollers);
  };
  // Scale-out: +300 a minute spread over the minute, while a backlog remains.
  const rampEveryMs = 60_000 / LAMBDA_SQS_ADD_PER_MINUTE;
  const ramp = (): void => {
    if (engine.drained) return;
    if (engine.queue.size() > engine.queue.inFlight) target = Math.min(cap, target + 1);
    addPollers();
    engine.at(engine.now + rampEveryMs, ramp);
  };
  engine.at(0, addPollers);
  engine.at(rampEveryMs, ramp);
}
