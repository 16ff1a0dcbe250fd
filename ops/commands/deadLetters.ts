/**
 * `fleet dead-letters list | redrive | purge --yes`: shows the dead letters,
 * moves them back to the work queue without ever losing one (each is sent
 * before it is removed), or deletes them.
 */
import { EXIT_HELP, TARGET_HELP, integerFlag, parseCommandArgs } from "../args";
import { OPS_EXIT_CODES, type FleetCommand } from "../command";
import { OpsUsageError } from "../errors";
import { Progress } from "../progress";
import { guarded, printHelp, printJson, withBackend } from "../run";

const HELP = `usage: npm run fleet -- dead-letters <action> (--stack NAME | --outputs FILE | --local DIR) [options]

Actions:
  list [--limit N]      each dead letter's URL, code or reason, and attempts (default 50, at most 10000)
  redrive [--limit N]   move dead letters back to the work queue (all unless --limit)
  purge --yes           delete every dead letter

Redrive never loses a message: each is sent to the work queue before it is
removed from the dead letters, so a crash can at worst send one twice (its
result record overwrites itself).
  aws     all: SQS StartMessageMoveTask from the dead-letter queue to the work queue, at up to
          500 messages per second (--rate sets MaxNumberOfMessagesPerSecond); one task per
          queue at a time, and it keeps running in SQS after Ctrl-C.
          --limit N: receive, SendMessageBatch to the work queue, then delete only what was sent
  gcp     pull up to 1,000 from the dead-letter subscription, publish them to the work topic,
          acknowledge only after the publish succeeded (a failed publish gives them back)
  azure   rounds of 100: peek-lock from $DeadLetterQueue, send the copies in one batch, then
          complete them; a refused send unlocks them (Service Bus REST)
  local   rows move back to the queue in one SQLite transaction each, as new messages

Options:
  --limit N   see the actions
  --rate N    aws redrive: messages per second, 1 to 500
  --yes       confirm purge
  --json      print the result as JSON

${TARGET_HELP}

${EXIT_HELP}`;

export const deadLettersCommand: FleetCommand = {
  name: "dead-letters",
  summary: "list, redrive (no loss) or purge the dead letters",
  help: HELP,
  run: (args, io) =>
    guarded("dead-letters", io, async () => {
      const { values, positionals } = parseCommandArgs("dead-letters", args, {
        limit: { type: "string" },
        rate: { type: "string" },
        yes: { type: "boolean" },
        json: { type: "boolean" },
      });
      if (values.help) return printHelp(io, HELP);
      const [action, ...rest] = positionals;
      if (rest.length > 0) throw new OpsUsageError(`dead-letters ${action} takes no more arguments (given ${rest.join(" ")})`);
      switch (action) {
        case "list": {
          const limit = integerFlag("limit", values.limit, { min: 1, max: 10_000 }, 50) as number;
          return withBackend(values, io, {}, async (backend) => {
            const letters = await backend.listDeadLetters(limit);
            if (values.json) printJson(io, letters);
            else {
              for (const letter of letters) {
                io.stdout.write(`${letter.url ?? letter.body ?? "(no body)"}\n    ${[letter.code, letter.reason].filter(Boolean).join(": ") || "no reason recorded"}; ${letter.attempts ?? "?"} attempt(s)${letter.time ? `; ${letter.time}` : ""}\n`);
              }
              io.stdout.write(`${letters.length} dead letter(s) shown from ${backend.description}${letters.length === limit ? ` (--limit ${limit}; there may be more)` : ""}\n`);
            }
            return OPS_EXIT_CODES.ok;
          });
        }
        case "redrive": {
          const limit = integerFlag("limit", values.limit, { min: 1, max: 1_000_000_000 });
          const rate = integerFlag("rate", values.rate, { min: 1, max: 500 });
          return withBackend(values, io, {}, async (backend) => {
            const progress = new Progress(io.stderr, { unit: "dead letters moved" });
            let moved: number;
            try {
              moved = await backend.redriveDeadLetters(
                limit,
                (step) => progress.add(step.moved - progress.done),
                io.signal,
                ...(rate === undefined ? [] : [{ ratePerSecond: rate }]),
              );
            } finally {
              progress.stop();
            }
            if (values.json) printJson(io, { target: backend.description, moved, interrupted: io.signal.aborted });
            else io.stdout.write(`moved ${moved} dead letter(s) back to the work queue of ${backend.description}${io.signal.aborted ? "; interrupted, run it again for the rest" : ""}\n`);
            return io.signal.aborted ? OPS_EXIT_CODES.interrupted : OPS_EXIT_CODES.ok;
          });
        }
        case "purge":
          if (values.yes !== true) throw new OpsUsageError("dead-letters purge deletes every dead letter for good; add --yes to confirm (list them first with `dead-letters list`)");
          return withBackend(values, io, {}, async (backend) => {
            const purged = await backend.purgeDeadLetters();
            if (values.json) printJson(io, { target: backend.description, purged: purged ?? null });
            else io.stdout.write(`purged ${purged === undefined ? "every" : purged} dead letter(s) of ${backend.description}\n`);
            return OPS_EXIT_CODES.ok;
          });
        default:
          throw new OpsUsageError(`dead-letters needs an action: list, redrive or purge (given ${action === undefined ? "none" : JSON.stringify(action)}); see \`npm run fleet -- dead-letters --help\``);
      }
    }),
};
