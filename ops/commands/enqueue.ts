/**
 * `fleet enqueue FILE|-`: sends URLs (or message JSON lines) to the fleet's
 * work queue in the largest batches the queue takes, several in flight,
 * re-sending only a batch's refused entries, with a checkpoint beside the
 * input so a re-run sends no line twice and skips none.
 */
import { resolve } from "node:path";
import { EXIT_HELP, TARGET_HELP, integerFlag, parseCommandArgs } from "../args";
import type { FleetBackend } from "../backend";
import { EnqueueCheckpoint } from "../checkpoint";
import { OPS_EXIT_CODES, type CommandIo, type FleetCommand } from "../command";
import { OpsUsageError } from "../errors";
import { openInput, parseLine, type InputSource } from "../input";
import { Progress } from "../progress";
import { guarded, printHelp, printJson, withBackend } from "../run";
import { SEND_ATTEMPTS, sendMessages, type NumberedMessage } from "../send";

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

function describeReport(report: EnqueueReport): string {
  const verb = report.dryRun ? "would send" : "sent";
  const parts = [`${verb} ${report.sent} message(s) to ${report.target} in ${report.seconds.toFixed(1)} s`];
  if (report.alreadySent > 0) parts.push(`${report.alreadySent} line(s) skipped, sent by an earlier run (${report.checkpoint})`);
  if (report.invalid > 0) parts.push(`${report.invalid} bad line(s) not sent (listed above)`);
  if (report.failed > 0) parts.push(`${report.failed} refused by the queue (listed above); run the same command again to retry them`);
  if (report.interrupted) parts.push("interrupted: run the same command again to send the rest");
  return `enqueue: ${parts.join("; ")}`;
}
