/**
 * The local run loop: keeps up to `concurrency` messages in flight through one
 * shared worker, and maps each outcome to the queue exactly as the clouds'
 * adapters do — ok/failed are acked, retry comes back after a backoff (or the
 * server's Retry-After), malformed goes to the dead-letter table.
 *
 * Each claimed message is a `processBatch` call of its own and is acked the
 * moment it finishes: progress moves page by page, a free slot is refilled at
 * once, and a killed run loses only the pages it had in flight. The worker is
 * shared, so its per-host pacing and robots.txt cache span every call; its
 * `concurrency` lanes are per call, so this loop bounds the calls itself.
 *
 * A stop lets the pages whose fetch has begun finish, and hands the others
 * (waiting for robots.txt or for their host's slot) back to the queue at once
 * without using up an attempt.
 */
import { equalJitter, type Backoff } from "../../shared/backoff";
import { describeError, type ErrorCode } from "../../shared/errors";
import { parseMessage } from "../../shared/message";
import type { Outcome, QueueItem } from "../../shared/outcome";
import { silentLogger, type Logger } from "../../shared/ports";
import type { FleetSettings } from "../../shared/settings";
import type { Worker } from "../../shared/worker";
import type { LocalQueue } from "./queue";
import { HEARTBEAT_INTERVAL_MS } from "./runLock";

/**
 * Answers that say nothing about the page, only about when to try: they go
 * back to the queue without using up one of the URL's attempts. (On the clouds
 * each delivery counts; locally the run loop knows better.)
 */
const UNCOUNTED_RETRY_CODES: ReadonlySet<ErrorCode> = new Set(["fleet_paused", "domain_delay"]);

/** The longest wait honoured from a server's Retry-After. */
const MAX_RETRY_DELAY_MS = 15 * 60_000;

/** The local retry backoff, in milliseconds: from 1 s, doubling per attempt, up to 1 min. */
export const DEFAULT_BACKOFF: Backoff = { first: 1_000, factor: 2, max: 60_000 };

/**
 * Delay before delivery `attempt + 1`: the server's Retry-After when it sent
 * one, otherwise exponential backoff with equal jitter.
 */
export function retryDelayMs(attempt: number, retryAfterMs: number | undefined, backoff: Backoff = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  if (retryAfterMs !== undefined) return Math.min(Math.max(0, retryAfterMs), MAX_RETRY_DELAY_MS);
  return Math.round(equalJitter(backoff, attempt - 1, random));
}

/**
 * How long a claim stays invisible: twice the page deadline (robots.txt and
 * host pacing come before the fetch) plus time to write the record. The
 * worker's batch deadline is set inside it, so the worker answers `retry`
 * before the claim could expire and a page is never fetched twice at once.
 */
export function claimTimings(settings: FleetSettings, now: number): { readonly visibilityMs: number; readonly deadlineAt: number } {
  const workMs = settings.pageDeadlineMs * 2;
  return { visibilityMs: workMs + 10_000, deadlineAt: now + workMs };
}

export type StopReason = "finished" | "stopped" | "lost-ownership";

export interface FleetRunOptions {
  readonly queue: LocalQueue;
  readonly worker: Worker;
  readonly settings: { get(): Promise<FleetSettings> };
  /** Pages in flight at once, 1 to 256. @default the settings' `concurrency`, read on every refill */
  readonly concurrency?: number;
  /**
   * When aborted, no more messages are claimed; the pages being fetched
   * finish, and the rest in flight go back to the queue without using up an attempt.
   */
  readonly signal?: AbortSignal;
  /**
   * Whether the page at this URL (its `href`) is being fetched now, such as
   * `PageFetches.isFetching` over the worker's fetcher.
   * @default none is: a stop hands back every page not finished
   */
  readonly isFetchingPage?: (href: string) => boolean;
  /** @default DEFAULT_BACKOFF */
  readonly backoff?: Backoff;
  readonly logger?: Logger;
  /** Called when the kill switch (`enabled`) pauses or resumes the run. */
  readonly onPause?: (paused: boolean) => void;
  /** Longest wait between two looks at an idle or paused queue, in ms. @default 500 */
  readonly idlePollMs?: number;
  /** @default HEARTBEAT_INTERVAL_MS */
  readonly heartbeatIntervalMs?: number;
  /** Clock in epoch ms. @default Date.now */
  readonly now?: () => number;
}

/** Runs until every message is finished, the signal aborts, or another run takes the queue over. */
export async function runFleet(options: FleetRunOptions): Promise<StopReason> {
  const { queue, worker } = options;
  const now = options.now ?? Date.now;
  const logger = options.logger ?? silentLogger;
  const idlePollMs = options.idlePollMs ?? 500;
  const wake = new Wake();
  /** The messages in flight, each with the switch that hands it back on a stop. */
  const calls = new Map<QueueItem, { readonly handBack: AbortController; readonly done: Promise<void> }>();
  let paused = false;
  let lostOwnership = false;

  const heartbeat = setInterval(() => {
    if (lostOwnership) return;
    try {
      lostOwnership = !queue.heartbeat();
    } catch (error) {
      logger.log("error", "heartbeat_failed", { error: describeError(error) });
    }
    if (lostOwnership) {
      logger.log("error", "lost_ownership", { reason: "another run took over the output directory; this run stops claiming" });
      wake.fire();
    }
  }, options.heartbeatIntervalMs ?? HEARTBEAT_INTERVAL_MS);
  heartbeat.unref();
  const onAbort = (): void => {
    for (const [item, call] of calls) {
      const href = pageHref(item);
      if (href === undefined || !options.isFetchingPage?.(href)) call.handBack.abort();
    }
    wake.fire();
  };
  options.signal?.addEventListener("abort", onAbort);

  const settle = (item: QueueItem, outcome: Outcome, settings: FleetSettings, handedBack: boolean): void => {
    try {
      switch (outcome.kind) {
        case "ok":
          queue.ack(item.id, { outcome: "ok" });
          return;
        case "failed":
          queue.ack(item.id, { outcome: "failed", code: outcome.code, reason: outcome.reason });
          return;
        case "retry":
          if (handedBack && outcome.code === "worker_deadline") {
            queue.release(item.id, { code: outcome.code, reason: "the run was stopped before this page was fetched", delayMs: 0 });
          } else if (UNCOUNTED_RETRY_CODES.has(outcome.code)) {
            queue.release(item.id, { code: outcome.code, reason: outcome.reason, delayMs: outcome.retryAfterMs ?? Math.max(settings.perDomainDelayMs, idlePollMs) });
          } else {
            queue.retry(item.id, { code: outcome.code, reason: outcome.reason, delayMs: retryDelayMs(item.attempt, outcome.retryAfterMs, options.backoff) });
          }
          return;
        case "malformed":
          queue.deadLetter(item.id, { code: outcome.code, reason: outcome.reason });
          return;
      }
    } catch (error) {
      // The claim stays; the message becomes visible again when it expires. Its siblings are unaffected.
      logger.log("error", "queue_update_failed", { messageId: item.id, outcome: outcome.kind, error: describeError(error) });
    }
  };

  const start = (item: QueueItem, settings: FleetSettings, deadlineAt: number): void => {
    const handBack = new AbortController();
    const done = worker
      .processBatch([item], { deadlineAt, signal: handBack.signal })
      .then(
        ([answer]) => {
          if (answer) settle(item, answer.outcome, settings, handBack.signal.aborted);
        },
        (error: unknown) => logger.log("error", "batch_failed", { error: describeError(error), messageId: item.id }),
      )
      .finally(() => {
        calls.delete(item);
        wake.fire();
      });
    calls.set(item, { handBack, done });
  };

  try {
    while (!options.signal?.aborted && !lostOwnership) {
      const settings = await options.settings.get();
      if (paused !== !settings.enabled) {
        paused = !settings.enabled;
        options.onPause?.(paused);
      }
      if (paused) {
        await wake.wait(idlePollMs);
        continue;
      }
      const free = (options.concurrency ?? settings.concurrency) - calls.size;
      if (free > 0) {
        const { visibilityMs, deadlineAt } = claimTimings(settings, now());
        const items = queue.receive(free, visibilityMs);
        if (items.length > 0) {
          for (const item of items) start(item, settings, deadlineAt);
          continue;
        }
      }
      if (calls.size === 0 && !queue.hasPending()) return "finished";
      // Every slot busy: only a finished page (which wakes the loop) can free one, so there is nothing to look up.
      if (free <= 0) {
        await wake.wait(idlePollMs);
        continue;
      }
      const nextVisibleAt = queue.nextVisibleAt();
      const untilVisible = nextVisibleAt === undefined ? idlePollMs : nextVisibleAt - now();
      await wake.wait(Math.max(1, Math.min(idlePollMs, untilVisible)));
    }
    await Promise.all([...calls.values()].map((call) => call.done));
    return lostOwnership ? "lost-ownership" : "stopped";
  } finally {
    clearInterval(heartbeat);
    options.signal?.removeEventListener("abort", onAbort);
  }
}

/** The URL the worker will fetch for `item` (as `PageFetches` keys it), or undefined for a body it cannot read. */
function pageHref(item: QueueItem): string | undefined {
  try {
    return new URL(parseMessage(item.body).url).href;
  } catch {
    return undefined;
  }
}

/** A sleep that ends early when something happens (a batch finished, a stop was asked for). */
class Wake {
  private waiters: (() => void)[] = [];

  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const waiters = this.waiters;
      function done(): void {
        clearTimeout(timer);
        const index = waiters.indexOf(done);
        if (index >= 0) waiters.splice(index, 1);
        resolve();
      }
      this.waiters.push(done);
    });
  }

  fire(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter();
  }
}
