/**
 * The local fleet (functions/local/fleet.ts) as a model: one process, up to
 * `concurrency` pages in flight, each claimed page a call of its own, a freed
 * slot refilled at once; retries come back after the local backoff
 * (`retryDelayMs`: 0.5–1 s after the first attempt, doubling), a page whose
 * host slot lies past the claim's deadline goes back uncounted, and a URL is
 * dead-lettered after `maxAttempts` deliveries.
 */
import { claimTimings, DEFAULT_BACKOFF, retryDelayMs } from "../../functions/local/fleet";
import { DEFAULT_SETTINGS } from "../../shared/settings";
import type { Engine, SimMessage, PageResult } from "./engine";
import type { Random } from "./random";

export interface LocalParams {
  /**
   * When the process can answer its first page, ms: a fresh Node.js
   * process's first fetches are slow (code compiled on first use), which on a
   * loaded machine takes seconds. @default 0
   */
  readonly startMs?: number;
  readonly concurrency: number;
  readonly maxAttempts: number;
  readonly pageDeadlineMs: number;
}

/** How long the local loop sleeps at most when nothing is visible (fleet.ts `idlePollMs`). */
const IDLE_POLL_MS = 500;

export function startLocal(engine: Engine, params: LocalParams, random: Random): void {
  const instance = engine.newInstance();
  engine.setWorkers(1);
  const { deadlineAt: deadlineFromNow } = claimTimings({ ...DEFAULT_SETTINGS, pageDeadlineMs: params.pageDeadlineMs }, 0);
  let inFlight = 0;
  let wakeAt: number | undefined;

  const settle = (message: SimMessage, result: PageResult): void => {
    if (result.kind === "ok") engine.complete();
    else if (result.kind === "domain_delay") engine.requeue(message, result.waitMs, false);
    else if (message.receives >= params.maxAttempts) engine.deadLetter();
    else engine.requeue(message, retryDelayMs(message.receives, undefined, DEFAULT_BACKOFF, random));
  };

  const fill = (): void => {
    while (inFlight < params.concurrency) {
      const message = engine.receive();
      if (message === undefined) break;
      inFlight += 1;
      engine.page(instance, message, engine.now + deadlineFromNow, (result) => {
        inFlight -= 1;
        settle(message, result);
        fill();
      });
    }
    const next = engine.queue.nextVisibleAt();
    if (inFlight < params.concurrency && next !== undefined) {
      const at = Math.min(Math.max(next, engine.now + 1), engine.now + IDLE_POLL_MS);
      if (wakeAt === undefined || at < wakeAt) {
        wakeAt = at;
        engine.at(at, () => {
          if (wakeAt === at) wakeAt = undefined;
          fill();
        });
      }
    }
  };
  instance.threadFreeAt = params.startMs ?? 0;
  engine.at(0, fill);
}
