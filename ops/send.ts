/**
 * Sending messages to a fleet's work queue in the largest batches it takes,
 * several in flight, re-sending only each batch's refused entries: what
 * `enqueue` does with a file's lines and the deployed `loadtest` with its
 * generated messages.
 */
import { describeError } from "../shared/errors";
import { equalJitter, type Backoff } from "../shared/backoff";
import type { ScrapeMessage } from "../shared/message";
import type { FleetBackend, RefusedEntry } from "./backend";
import type { CommandIo } from "./command";
import { CredentialsError } from "./errors";
import type { Progress } from "./progress";

/** Sends of one entry before it counts as failed (the first send and four re-sends). */
export const SEND_ATTEMPTS = 5;
/** Delay ceiling between re-sends of refused entries, ms: 200 ms doubling to 5 s. */
const RESEND_BACKOFF: Backoff = { first: 200, factor: 2, max: 5_000 };

interface Batch {
  readonly messages: ScrapeMessage[];
  readonly numbers: number[];
  bytes: number;
}

/** A message to send and the number that names it in reports: its input line, or its place in a load test. */
export interface NumberedMessage {
  readonly number: number;
  readonly message: ScrapeMessage;
}

export interface SendOptions {
  readonly backend: FleetBackend;
  /** Its signal stops the sending: batches already sent finish, no new one starts. */
  readonly io: CommandIo;
  /** Counts the messages the queue took, and logs the ones it refused. */
  readonly progress: Progress;
  /** How a refused message is named on stderr, such as `line 12`. */
  readonly name: (number: number) => string;
  /** Batches sent at once. @default the backend's `limits.inFlight` */
  readonly inFlight?: number;
  /** @default Math.random */
  readonly random?: () => number;
  /** Called after each batch with the numbers of its messages the queue took. */
  readonly onSent?: (numbers: readonly number[]) => void;
}

/**
 * Sends `messages` in the largest batches the backend takes (`limits`),
 * several in flight, each batch's refused entries re-sent alone with backoff
 * (`sendWithResends`). Returns how many the queue took and how many it
 * refused for good; a credentials or unexpected error stops the sending and
 * is thrown once the batches in flight have settled.
 */
export async function sendMessages(messages: AsyncIterable<NumberedMessage>, options: SendOptions): Promise<{ readonly sent: number; readonly failed: number }> {
  const { backend, io, progress } = options;
  const limits = backend.limits;
  const maxInFlight = options.inFlight ?? limits.inFlight;
  const random = options.random ?? Math.random;
  const counts = { sent: 0, failed: 0 };
  const inFlight = new Set<Promise<void>>();
  let fatal: unknown;
  let batch: Batch = { messages: [], numbers: [], bytes: 0 };

  const send = async (full: Batch): Promise<void> => {
    const refused = await sendWithResends(backend, full.messages, random, io.signal);
    const refusedIndexes = new Set(refused.map((entry) => entry.index));
    const sentNumbers = full.numbers.filter((_, index) => !refusedIndexes.has(index));
    counts.sent += sentNumbers.length;
    counts.failed += refused.length;
    progress.add(sentNumbers.length);
    for (const entry of refused) progress.log(`${options.name(full.numbers[entry.index] as number)}: not sent, the queue refused it ${entry.retryable ? `${SEND_ATTEMPTS} times` : "for good"}: ${entry.reason}`);
    options.onSent?.(sentNumbers);
  };
  const launch = async (full: Batch): Promise<void> => {
    while (inFlight.size >= maxInFlight) await Promise.race(inFlight);
    if (fatal !== undefined) return;
    const task = send(full).catch((error: unknown) => {
      fatal ??= error;
    });
    const tracked = task.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
  };

  for await (const { number, message } of messages) {
    if (io.signal.aborted || fatal !== undefined) break;
    const bytes = Buffer.byteLength(JSON.stringify(message));
    if (batch.messages.length > 0 && (batch.messages.length >= limits.maxMessages || batch.bytes + bytes > limits.maxBytes)) {
      await launch(batch);
      batch = { messages: [], numbers: [], bytes: 0 };
    }
    batch.messages.push(message);
    batch.numbers.push(number);
    batch.bytes += bytes;
  }
  if (batch.messages.length > 0 && !io.signal.aborted && fatal === undefined) await launch(batch);
  await Promise.all(inFlight);
  if (fatal !== undefined) throw fatal;
  return counts;
}

/**
 * Sends a batch, then re-sends only its refused retryable entries with
 * backoff, up to `SEND_ATTEMPTS` sends each. A send that throws counts as every
 * entry refused and retryable (throttling, a dropped connection), except a
 * credentials error, which stops the command. Returns the entries never taken,
 * indexed into `batch`.
 */
async function sendWithResends(backend: FleetBackend, batch: readonly ScrapeMessage[], random: () => number, signal: AbortSignal): Promise<RefusedEntry[]> {
  let pending = batch.map((_, index) => index);
  const failed: RefusedEntry[] = [];
  for (let attempt = 1; pending.length > 0; attempt += 1) {
    let refused: readonly RefusedEntry[];
    try {
      refused = await backend.sendBatch(pending.map((index) => batch[index] as ScrapeMessage));
    } catch (error) {
      if (error instanceof CredentialsError) throw error;
      const reason = describeError(error);
      refused = pending.map((_, index) => ({ index, reason, retryable: true }));
    }
    const next: number[] = [];
    for (const entry of refused) {
      const original = pending[entry.index] as number;
      if (entry.retryable && attempt < SEND_ATTEMPTS && !signal.aborted) next.push(original);
      else failed.push({ ...entry, index: original });
    }
    pending = next;
    if (pending.length > 0) await new Promise((done) => setTimeout(done, equalJitter(RESEND_BACKOFF, attempt - 1, random)));
  }
  return failed;
}
