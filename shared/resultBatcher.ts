/**
 * Group commit for result records: the records that the pages of one worker
 * process put within a short window are written as ONE JSON Lines object
 * under `results/batches/`, one record per line. One store write then serves
 * many pages, where it was the largest line of the fleet's bill (README "Cost
 * and scaling"). Raw HTML is not batched: each page's stays its own object.
 *
 * A page's write resolves only once the object holding its record has landed,
 * and a write that fails fails every page in it, so each of those messages
 * goes back to the queue as `store_failed` and no page is acknowledged before
 * its record is stored. A page that stops waiting (its signal aborts) is
 * rejected at once and never holds up the others.
 */
import type { ResultStore } from "./ports";
import { RESULT_BATCH_CONTENT_TYPE, resultBatchKey } from "./result";

/** When the open batch is written: the runtime settings `resultBatchMaxRecords` and `resultBatchWindowMs`. */
export interface ResultBatchLimits {
  /** Records in one object; the batch is written as soon as it holds this many. */
  readonly maxRecords: number;
  /** How long the first record of a batch waits for others, in ms. */
  readonly windowMs: number;
}

export interface ResultBatcherOptions {
  /** Where batch objects are written (the runtime's results store). */
  readonly store: ResultStore;
  /** Clock in epoch milliseconds, for the object's key. @default Date.now */
  readonly now?: () => number;
}

/** One record waiting for its batch object. */
interface Member {
  readonly line: string;
  readonly signal: AbortSignal | undefined;
  /** Resolves (no error) or rejects the page's write, once. */
  readonly settle: (error?: unknown) => void;
  /** Set when the batch holding the record is being written. */
  write?: Write;
}

/** A batch object being written. */
interface Write {
  /** Members still waiting for it; when none is left the write is cancelled. */
  live: number;
  /** Present when every member can give up (each has a signal), so the write may be cancelled once all have. */
  readonly controller: AbortController | undefined;
}

interface OpenBatch {
  readonly members: Member[];
  readonly timer: NodeJS.Timeout;
}

export class ResultBatcher {
  private open: OpenBatch | undefined;
  private readonly now: () => number;

  constructor(private readonly options: ResultBatcherOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Records in the open batch, not yet being written. */
  get waiting(): number {
    return this.open?.members.length ?? 0;
  }

  /**
   * Adds one record (a JSON text on one line) to the open batch, opening one
   * with a `windowMs` timer if none is. Resolves when the batch object holding
   * it has landed; rejects with the store's error if that write fails, or
   * with the signal's reason as soon as `signal` aborts.
   */
  add(line: string, limits: ResultBatchLimits, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (line.includes("\n")) {
      // A line break would split the record in two for every reader of the object.
      return Promise.reject(new RangeError("a batched result record must be one line of JSON (JSON.stringify without indentation); it held a line break"));
    }
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const member: Member = {
        line,
        signal,
        settle: (error) => {
          if (settled) return;
          settled = true;
          signal?.removeEventListener("abort", onAbort);
          if (error === undefined) resolve();
          else reject(error);
        },
      };
      const onAbort = (): void => this.giveUp(member);
      signal?.addEventListener("abort", onAbort, { once: true });
      if (this.open === undefined) {
        const timer = setTimeout(() => {
          if (this.open === opened) this.flush();
        }, limits.windowMs);
        const opened: OpenBatch = { members: [], timer };
        this.open = opened;
      }
      this.open.members.push(member);
      if (this.open.members.length >= limits.maxRecords) this.flush();
    });
  }

  /** Writes the open batch now (the window has not run out, but waiting longer gains nothing). */
  flush(): void {
    const batch = this.open;
    if (batch === undefined) return;
    this.open = undefined;
    clearTimeout(batch.timer);
    const { members } = batch;
    const write: Write = { live: members.length, controller: members.every((member) => member.signal !== undefined) ? new AbortController() : undefined };
    for (const member of members) member.write = write;
    const body = `${members.map((member) => member.line).join("\n")}\n`;
    const key = resultBatchKey(this.now());
    const put = async (): Promise<void> => this.options.store.put({ key, body, contentType: RESULT_BATCH_CONTENT_TYPE }, write.controller === undefined ? undefined : { signal: write.controller.signal });
    put().then(
      () => {
        for (const member of members) member.settle();
      },
      (error: unknown) => {
        for (const member of members) member.settle(error);
      },
    );
  }

  /** A page whose signal aborted: it leaves an open batch, or stops waiting for one being written (cancelled once nobody waits). */
  private giveUp(member: Member): void {
    const reason = member.signal?.reason;
    if (member.write === undefined) {
      const batch = this.open;
      const index = batch?.members.indexOf(member) ?? -1;
      if (batch !== undefined && index >= 0) {
        batch.members.splice(index, 1);
        if (batch.members.length === 0) {
          clearTimeout(batch.timer);
          this.open = undefined;
        }
      }
    } else {
      member.write.live -= 1;
      if (member.write.live === 0) member.write.controller?.abort(reason);
    }
    member.settle(reason);
  }
}
