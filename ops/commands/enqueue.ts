/**
 * `fleet enqueue FILE|-`: sends URLs (or message JSON lines) to the fleet's
 * work queue in the largest batches the queue takes, several in flight,
 * re-sending only a batch's refused entries, with a checkpoint beside the
 * input so a re-run sends no line twice and skips none.
 */
import { resolve } from "node:path";
import { equalJitter, type Backoff } from "../../shared/backoff";
import type { ScrapeMessage } from "../../shared/message";
import { EXIT_HELP, TARGET_HELP, integerFlag, parseCommandArgs } from "../args";
import type { FleetBackend, RefusedEntry } from "../backend";
import { EnqueueCheckpoint } from "../checkpoint";
import { OPS_EXIT_CODES, type CommandIo, type FleetCommand } from "../command";
import { CredentialsError, OpsUsageError } from "../errors";
import { openInput, parseLine, type InputSource } from "../input";
import { Progress } from "../progress";
import { guarded, printHelp, printJson, withBackend } from "../run";

/** Sends of one entry before it counts as failed (the first send and four re-sends). */
const SEND_ATTEMPTS = 5;
/** Delay ceiling between re-sends of refused entries, ms: 200 ms doubling to 5 s. */
const RESEND_BACKOFF: Backoff = { first: 200, factor: 2, max: 5_000 };
/** Bad lines printed one by one before the rest are only counted. */
const LISTED_PROBLEMS = 20;

const HELP = `usage: npm run fleet -- enqueue FILE|- (--stack NAME | --outputs FILE | --local DIR) [options]

Sends every line of FILE (- reads stdin) to the fleet's work queue: a URL, or a
message JSON object such as {"url":"https://example.com/","id":"a1","metadata":{"k":"v"}}.
Blank lines and # comments are skipped. Each line is checked with the workers'
message contract first; a bad line is reported with its number and not sent,
and the rest go on. Batches are as large as the queue takes (SQS 10 messages,
Service Bus 500 or 192 KiB, the local queue 500), several in flight; refused entries are re-sent alone, up
to ${SEND_ATTEMPTS} sends each.

A checkpoint beside the input (FILE.checkpoint.json) records the lines sent;
run the same command again after Ctrl-C or a crash and it sends no line twice
and skips none. A line refused ${SEND_ATTEMPTS} times stays out of the checkpoint,
so the re-run sends it.

Options:
  --checkpoint FILE  where the checkpoint goes (required to resume input read from stdin)
  --dry-run          check and count the lines; send nothing, write no checkpoint
  --in-flight N      batches sent at once, 1 to 64 (default: the backend's)
  --json             print the counts as JSON on stdout

${TARGET_HELP}

${EXIT_HELP}`;

export interface EnqueueReport {
  readonly target: string;
  readonly input: string;
  readonly lines: number;
  readonly sent: number;
  /** Lines an earlier run sent, per the checkpoint. */
  readonly alreadySent: number;
  readonly invalid: number;
  /** Lines the queue refused on every send. */
  readonly failed: number;
  readonly dryRun: boolean;
  readonly interrupted: boolean;
  readonly checkpoint?: string;
  readonly seconds: number;
}

export const enqueueCommand: FleetCommand = {
  name: "enqueue",
  summary: "send URLs or message JSON lines to the work queue (batched, resumable)",
  help: HELP,
  run: (args, io) =>
    guarded("enqueue", io, async () => {
      const { values, positionals } = parseCommandArgs("enqueue", args, {
        checkpoint: { type: "string" },
        "dry-run": { type: "boolean" },
        "in-flight": { type: "string" },
        json: { type: "boolean" },
      });
      if (values.help) return printHelp(io, HELP);
      if (positionals.length !== 1) throw new OpsUsageError(`enqueue takes one input, FILE or - (given ${positionals.length}); see \`npm run fleet -- enqueue --help\``);
      const inputArg = positionals[0] as string;
      const inFlight = integerFlag("in-flight", values["in-flight"], { min: 1, max: 64 });
      const input = await openInput(inputArg === "-" ? "-" : resolve(io.cwd, inputArg), inputArg, io.stdin);
      const checkpointPath =
        values.checkpoint !== undefined ? resolve(io.cwd, values.checkpoint) : inputArg === "-" ? undefined : `${resolve(io.cwd, inputArg)}.checkpoint.json`;
      const dryRun = values["dry-run"] === true;

      return withBackend(values, io, { createLocal: !dryRun }, async (backend) => {
        const checkpoint = checkpointPath === undefined ? undefined : await EnqueueCheckpoint.open(checkpointPath, backend.queueId);
        const report = await enqueue({ backend, input, checkpoint, dryRun, io, ...(inFlight === undefined ? {} : { inFlight }) });
        if (values.json) printJson(io, report);
        else io.stdout.write(`${describeReport(report)}\n`);
        if (report.interrupted) return OPS_EXIT_CODES.interrupted;
        return report.invalid > 0 || report.failed > 0 ? OPS_EXIT_CODES.failed : OPS_EXIT_CODES.ok;
      });
    }),
};

export interface EnqueueOptions {
  readonly backend: FleetBackend;
  readonly input: InputSource;
  readonly checkpoint: EnqueueCheckpoint | undefined;
  readonly dryRun: boolean;
  readonly io: CommandIo;
  readonly inFlight?: number;
  /** @default Math.random */
  readonly random?: () => number;
}

interface Batch {
  readonly messages: ScrapeMessage[];
  readonly numbers: number[];
  bytes: number;
}

export async function enqueue(options: EnqueueOptions): Promise<EnqueueReport> {
  const { backend, input, checkpoint, dryRun, io } = options;
  const startedAt = Date.now();
  const progress = new Progress(io.stderr, {
    unit: dryRun ? "lines checked" : "messages sent",
    total: () => (input.size === undefined ? undefined : { done: input.bytesRead(), of: input.size }),
  });
  const counts = { lines: 0, sent: 0, alreadySent: 0, invalid: 0, failed: 0 };

  // The input's lines as messages, numbered by line; bad, skipped and already sent lines are only counted.
  async function* messages(): AsyncIterable<NumberedMessage> {
    for await (const { line, text } of input.lines()) {
      if (io.signal.aborted) return;
      counts.lines = line;
      if (checkpoint?.has(line)) {
        counts.alreadySent += 1;
        continue;
      }
      const parsed = parseLine(text);
      if (parsed.kind === "skip") continue;
      if (parsed.kind === "invalid") {
        counts.invalid += 1;
        if (counts.invalid <= LISTED_PROBLEMS) progress.log(`${input.name} line ${line}: not sent: ${parsed.reason}`);
        continue;
      }
      if (dryRun) {
        counts.sent += 1;
        progress.add(1);
        continue;
      }
      yield { number: line, message: parsed.message };
    }
  }

  // A failure that stops the sending is thrown after the checkpoint is saved, so the lines sent before it are not sent again.
  let fatal: unknown;
  try {
    const sent = await sendMessages(messages(), {
      backend,
      io,
      progress,
      name: (line) => `line ${line}`,
      ...(options.inFlight === undefined ? {} : { inFlight: options.inFlight }),
      ...(options.random === undefined ? {} : { random: options.random }),
      onSent: (lines) => checkpoint?.add(lines),
    }).catch((error: unknown) => {
      fatal = error;
      return { sent: 0, failed: 0 };
    });
    counts.sent += sent.sent;
    counts.failed += sent.failed;
    await checkpoint?.save();
  } finally {
    progress.stop();
  }
  if (fatal !== undefined) throw fatal;
  if (counts.invalid > LISTED_PROBLEMS) io.stderr.write(`… and ${counts.invalid - LISTED_PROBLEMS} more bad line(s) in ${input.name}, not sent\n`);
  return {
    target: backend.description,
    input: input.name,
    ...counts,
    dryRun,
    interrupted: io.signal.aborted,
    ...(checkpoint === undefined ? {} : { checkpoint: checkpoint.path }),
    seconds: (Date.now() - startedAt) / 1_000,
  };
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
 * (`sendWithResends`). `enqueue` and the deployed load test both send through
 * it. Returns how many the queue took and how many it refused for good; a
 * credentials or unexpected error stops the sending and is thrown once the
 * batches in flight have settled.
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
      const reason = error instanceof Error ? error.message : String(error);
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

function describeReport(report: EnqueueReport): string {
  const verb = report.dryRun ? "would send" : "sent";
  const parts = [`${verb} ${report.sent} message(s) to ${report.target} in ${report.seconds.toFixed(1)} s`];
  if (report.alreadySent > 0) parts.push(`${report.alreadySent} line(s) skipped, sent by an earlier run (${report.checkpoint})`);
  if (report.invalid > 0) parts.push(`${report.invalid} bad line(s) not sent (listed above)`);
  if (report.failed > 0) parts.push(`${report.failed} refused by the queue (listed above); run the same command again to retry them`);
  if (report.interrupted) parts.push("interrupted: run the same command again to send the rest");
  return `enqueue: ${parts.join("; ")}`;
}
