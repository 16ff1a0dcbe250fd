/**
 * The discrete-event core every platform model drives: a clock and an event
 * heap, a queue with visibility and receive counts, per-instance host pacing
 * (the shared worker's `HostPacer`: one request per host per
 * `perDomainDelayMs` within one process, so N instances let a host see up to
 * N requests per delay), pages with a latency and failure draw, dead letters,
 * and a timeline sampled every second. Time is in milliseconds from 0.
 */
import { drawLatency, type SiteProfile } from "./site";
import type { Random } from "./random";

export interface SimMessage {
  readonly seq: number;
  readonly host: number;
  /** Deliveries so far (the receive count). */
  receives: number;
  visibleAt: number;
  /**
   * Every attempt is spent: when the message is next due it goes to the dead
   * letters without a fetch, as each cloud's handler and queue do after the
   * last hold (see `holdThenDeadLetter`).
   */
  exhausted?: boolean;
}

export type PageResult =
  | { readonly kind: "ok" }
  | { readonly kind: "retry"; readonly code: "http_5xx" }
  /** The host's next slot on this instance is after the deadline; `waitMs` until it is free. */
  | { readonly kind: "domain_delay"; readonly waitMs: number };

export interface Instance {
  readonly id: number;
  /** Host → start of its latest reserved slot, as `HostPacer` keeps it. */
  readonly lastSlot: Map<number, number>;
  /** When the instance's one JavaScript thread is free again (see `EngineOptions.threadMsPerPage`). */
  threadFreeAt: number;
}

export interface TimelinePoint {
  readonly second: number;
  /** Pages finished (ok) in this second. */
  readonly pagesPerSecond: number;
  readonly backlog: number;
  readonly oldestAgeSeconds: number;
  readonly workers: number;
  readonly deadLetters: number;
}

export interface SimResult {
  readonly drainSeconds: number;
  /**
   * When 99 % of the pages had ended (ok or dead letter). With transient
   * failures the last pages wait out the retry backoff (minutes to an hour
   * after the bulk), so the drain time depends on a few unlucky pages and this
   * on the fleet.
   */
  readonly ninetyNinePercentSeconds: number;
  readonly pagesPerSecond: number;
  readonly ok: number;
  readonly deadLetters: number;
  readonly deliveries: number;
  readonly peakWorkers: number;
  readonly timeline: readonly TimelinePoint[];
  /** Times (ms) pages finished ok, when `recordCompletions` is set. */
  readonly completions: readonly number[];
}

export interface EngineOptions {
  readonly backlog: number;
  readonly site: SiteProfile;
  readonly perDomainDelayMs: number;
  readonly random: Random;
  /**
   * Time a page holds its instance's one JavaScript thread (parse, extract,
   * write the record, answer the queue), ms: pages in flight at once share
   * it, so past some concurrency it, not the site, bounds an instance.
   * @default 0
   */
  readonly threadMsPerPage?: number;
  /** Keep the time of every finished page (`SimResult.completions`), for comparing with a real run. @default false */
  readonly recordCompletions?: boolean;
  /** Give up after this much simulated time, ms. @default 30 days */
  readonly horizonMs?: number;
}

/** A min-heap of (time, seq) → action. */
class EventHeap {
  private readonly items: { time: number; seq: number; run: () => void }[] = [];
  private seq = 0;
  push(time: number, run: () => void): void {
    const item = { time, seq: this.seq++, run };
    const items = this.items;
    items.push(item);
    let index = items.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (before(items[parent], item)) break;
      items[index] = items[parent];
      index = parent;
    }
    items[index] = item;
  }
  pop(): { time: number; run: () => void } | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) {
      let index = 0;
      for (;;) {
        const left = 2 * index + 1;
        if (left >= items.length) break;
        const right = left + 1;
        const child = right < items.length && before(items[right], items[left]) ? right : left;
        if (before(last, items[child])) break;
        items[index] = items[child];
        index = child;
      }
      items[index] = last;
    }
    return top;
  }
  get size(): number {
    return this.items.length;
  }
}

function before(a: { time: number; seq: number }, b: { time: number; seq: number }): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}

/**
 * The queue: messages handed out by (visibleAt, seq), oldest first, as the
 * local queue and SQS do. The backlog is enqueued at time 0, so messages not
 * yet delivered are only a count, made into objects when first taken; a ten
 * million page backlog costs memory for the messages in flight and waiting
 * for a retry, not for every page.
 */
class MessageQueue {
  private readonly heap: SimMessage[] = [];
  private fresh: number;
  private nextSeq = 0;
  inFlight = 0;
  constructor(
    backlog: number,
    private readonly hosts: number,
  ) {
    this.fresh = backlog;
  }
  size(): number {
    return this.fresh + this.heap.length + this.inFlight;
  }
  add(message: SimMessage): void {
    const heap = this.heap;
    heap.push(message);
    let index = heap.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (earlier(heap[parent], message)) break;
      heap[index] = heap[parent];
      index = parent;
    }
    heap[index] = message;
  }
  /** The next visible message at `now`, marked in flight; undefined when none is visible. */
  take(now: number): SimMessage | undefined {
    if (this.fresh > 0) {
      // Never-delivered messages are visible since 0, before any returned one.
      this.fresh -= 1;
      this.inFlight += 1;
      const seq = this.nextSeq++;
      return { seq, host: seq % this.hosts, receives: 0, visibleAt: 0 };
    }
    const heap = this.heap;
    if (heap.length === 0 || heap[0].visibleAt > now) return undefined;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last !== undefined) {
      let index = 0;
      for (;;) {
        const left = 2 * index + 1;
        if (left >= heap.length) break;
        const right = left + 1;
        const child = right < heap.length && earlier(heap[right], heap[left]) ? right : left;
        if (earlier(last, heap[child])) break;
        heap[index] = heap[child];
        index = child;
      }
      heap[index] = last;
    }
    this.inFlight += 1;
    return top;
  }
  /** When the next message becomes visible; undefined when none waits. */
  nextVisibleAt(): number | undefined {
    return this.fresh > 0 ? 0 : this.heap[0]?.visibleAt;
  }
}

function earlier(a: SimMessage, b: SimMessage): boolean {
  return a.visibleAt < b.visibleAt || (a.visibleAt === b.visibleAt && a.seq < b.seq);
}

export class Engine {
  now = 0;
  readonly queue: MessageQueue;
  private readonly events = new EventHeap();
  ok = 0;
  deadLetters = 0;
  deliveries = 0;
  workers = 0;
  peakWorkers = 0;
  private finishedAt = 0;
  private ninetyNinePercentAt = 0;
  private okThisSecond = 0;
  private readonly timeline: TimelinePoint[] = [];
  private readonly total: number;
  private nextInstanceId = 0;
  private readonly completions: number[] = [];

  constructor(private readonly options: EngineOptions) {
    this.total = options.backlog;
    this.queue = new MessageQueue(options.backlog, options.site.hosts);
  }

  at(time: number, run: () => void): void {
    this.events.push(Math.max(time, this.now), run);
  }

  newInstance(): Instance {
    return { id: this.nextInstanceId++, lastSlot: new Map(), threadFreeAt: 0 };
  }

  setWorkers(count: number): void {
    this.workers = count;
    this.peakWorkers = Math.max(this.peakWorkers, count);
  }

  /** Every message has ended as ok or a dead letter. */
  get drained(): boolean {
    return this.ok + this.deadLetters >= this.total;
  }

  /** Takes the next visible message and counts the delivery; a message with every attempt spent is dead-lettered on the way. */
  receive(): SimMessage | undefined {
    for (let message = this.queue.take(this.now); message !== undefined; message = this.queue.take(this.now)) {
      if (message.exhausted) {
        this.deadLetter();
        continue;
      }
      message.receives += 1;
      this.deliveries += 1;
      return message;
    }
    return undefined;
  }

  /**
   * One page on `instance`, as the shared worker runs it: reserve the host's
   * slot (refused when it is past `deadlineAt`), wait for it, then the
   * site's latency; `done` gets the outcome at the time it is known.
   */
  page(instance: Instance, message: SimMessage, deadlineAt: number, done: (result: PageResult) => void): void {
    const delay = this.options.perDomainDelayMs;
    const previous = instance.lastSlot.get(message.host);
    const slot = previous === undefined ? this.now : Math.max(this.now, previous + delay);
    if (slot - this.now > deadlineAt - this.now) {
      done({ kind: "domain_delay", waitMs: slot - this.now });
      return;
    }
    instance.lastSlot.set(message.host, slot);
    const { random, site } = this.options;
    const answered = slot + drawLatency(site, random);
    const failed = random() < site.failureRate;
    const threadMs = this.options.threadMsPerPage ?? 0;
    this.at(answered, () => {
      // The answer waits for the thread, then holds it for the page's own work.
      const end = Math.max(this.now, instance.threadFreeAt) + threadMs;
      instance.threadFreeAt = end;
      this.at(end, () => done(failed ? { kind: "retry", code: "http_5xx" } : { kind: "ok" }));
    });
  }

  /** A message in flight is finished. */
  complete(): void {
    this.queue.inFlight -= 1;
    this.ok += 1;
    this.okThisSecond += 1;
    this.ended();
    if (this.options.recordCompletions) this.completions.push(this.now);
  }

  /** Back to the queue, visible after `delayMs`; `counted: false` gives the delivery back (the local loop's uncounted releases). */
  requeue(message: SimMessage, delayMs: number, counted = true): void {
    this.queue.inFlight -= 1;
    if (!counted) message.receives -= 1;
    message.visibleAt = this.now + delayMs;
    this.queue.add(message);
  }

  /**
   * The message's last attempt failed: it is held `delayMs` like any retry,
   * then dead-lettered when next due, without a fetch. SQS moves a message at
   * the receive after its last hold; the Azure and Google Cloud handlers hold
   * a copy after the last failure and dead-letter it when it comes back
   * (functions/azure/index.ts, functions/gcp/redelivery.ts). So a failing
   * site's pages spend the whole backoff before they are dead letters.
   */
  holdThenDeadLetter(message: SimMessage, delayMs: number): void {
    message.exhausted = true;
    this.requeue(message, delayMs);
  }

  /** A failed delivery: held `delayMs`, then delivered again, or dead-lettered when it was delivery `maxDeliveries`. */
  retryOrDeadLetter(message: SimMessage, delayMs: number, maxDeliveries: number): void {
    if (message.receives >= maxDeliveries) this.holdThenDeadLetter(message, delayMs);
    else this.requeue(message, delayMs);
  }

  /** A message in flight goes to the dead letters. */
  deadLetter(): void {
    this.queue.inFlight -= 1;
    this.deadLetters += 1;
    this.ended();
  }

  private ended(): void {
    this.finishedAt = this.now;
    if (this.ninetyNinePercentAt === 0 && this.ok + this.deadLetters >= Math.ceil(0.99 * this.total)) this.ninetyNinePercentAt = this.now;
  }

  /** Runs until drained (or the horizon), sampling the timeline each second. */
  run(onTick: (second: number) => void): SimResult {
    const horizon = this.options.horizonMs ?? 30 * 86_400_000;
    const sample = (second: number): void => {
      onTick(second);
      const backlog = this.queue.size();
      this.timeline.push({
        second,
        pagesPerSecond: this.okThisSecond,
        backlog,
        // The whole backlog is enqueued at 0, so while any message is left the oldest is as old as the run.
        oldestAgeSeconds: backlog > 0 ? this.now / 1000 : 0,
        workers: this.workers,
        deadLetters: this.deadLetters,
      });
      this.okThisSecond = 0;
      if (!this.drained && this.now < horizon) this.at(this.now + 1000, () => sample(second + 1));
    };
    this.at(0, () => sample(0));
    for (let event = this.events.pop(); event !== undefined && !this.drained; event = this.events.pop()) {
      this.now = event.time;
      event.run();
    }
    const drainSeconds = this.finishedAt / 1000;
    return {
      drainSeconds,
      ninetyNinePercentSeconds: this.ninetyNinePercentAt / 1000,
      pagesPerSecond: drainSeconds > 0 ? this.ok / drainSeconds : 0,
      ok: this.ok,
      deadLetters: this.deadLetters,
      deliveries: this.deliveries,
      peakWorkers: this.peakWorkers,
      timeline: this.timeline,
      completions: this.completions,
    };
  }
}
