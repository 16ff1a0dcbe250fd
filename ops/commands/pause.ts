/**
 * `fleet pause` and `fleet resume`: stop the trigger itself, so no delivery
 * attempt is spent while paused, and set `enabled` in the settings store so
 * workers already running stop taking pages. `resume` undoes both.
 */
import { EXIT_HELP, TARGET_HELP, parseCommandArgs } from "../args";
import { pauseFleet, resumeFleet } from "../backend";
import { OPS_EXIT_CODES, type FleetCommand } from "../command";
import { OpsUsageError } from "../errors";
import { guarded, printHelp, printJson, withBackend } from "../run";

const TRIGGERS = `What stops:
  aws     the Lambda event source mapping is disabled (UpdateEventSourceMapping Enabled=false),
          and the SSM settings parameter gets "enabled": false
  gcp     the push subscription's endpoint is detached (modifyPushConfig with an empty
          pushConfig: messages wait as in a pull subscription), and the Parameter Manager
          parameter gets a new version with "enabled": false; resume re-attaches the
          function's URL with the invoker account's OIDC token, as the program sets them
  azure   the app setting AzureWebJobs.scrape.Disabled=true is put on the function app (ARM; the
          app restarts), and the App Configuration settings key gets "enabled": false
  local   the settings file gets "enabled": false; a run started with --config on that file
          stops claiming pages within a second (messages stay queued, no attempt is spent)

A \`pulumi up\` on a paused fleet keeps it paused: the program does not manage the
trigger's enabled state after it is created. Run \`fleet resume\` to restart it.
On Azure, this version's program still writes the app settings whole, so
\`pulumi up\` removes AzureWebJobs.scrape.Disabled: run \`fleet pause\` again after it
(until then the trigger delivers again, and each delivery to a worker that reads
"enabled": false spends one of the message's delivery attempts).`;

function helpFor(verb: "pause" | "resume"): string {
  const summary =
    verb === "pause"
      ? "Pauses the fleet without spending delivery attempts: messages stay in the queue."
      : "Restarts a paused fleet: the trigger runs again and the settings say enabled: true.";
  return `usage: npm run fleet -- ${verb} (--stack NAME | --outputs FILE | --local DIR) [--json]

${summary} Safe to run twice.

${TRIGGERS}

Options:
  --json   print the fleet's state after the change as JSON

${TARGET_HELP}

${EXIT_HELP}`;
}

function command(verb: "pause" | "resume"): FleetCommand {
  const help = helpFor(verb);
  return {
    name: verb,
    summary: verb === "pause" ? "stop the trigger and set enabled: false (no delivery attempts spent)" : "restart the trigger and set enabled: true",
    help,
    run: (args, io) =>
      guarded(verb, io, async () => {
        const { values, positionals } = parseCommandArgs(verb, args, { json: { type: "boolean" } });
        if (values.help) return printHelp(io, help);
        if (positionals.length > 0) throw new OpsUsageError(`${verb} takes no arguments (given ${positionals.join(" ")}); see \`npm run fleet -- ${verb} --help\``);
        return withBackend(values, io, {}, async (backend) => {
          await (verb === "pause" ? pauseFleet(backend) : resumeFleet(backend));
          const status = await backend.status(15);
          if (values.json) printJson(io, { target: backend.description, triggerEnabled: status.triggerEnabled, settingsEnabled: status.settingsEnabled, backlog: status.backlog });
          else io.stdout.write(`${verb === "pause" ? "paused" : "resumed"} ${backend.description}: trigger ${status.triggerEnabled ? "running" : "stopped"}, settings enabled: ${status.settingsEnabled}, ${status.backlog} message(s) waiting\n`);
          return OPS_EXIT_CODES.ok;
        });
      }),
  };
}

export const pauseCommand = command("pause");
export const resumeCommand = command("resume");
