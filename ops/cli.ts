/**
 * `npm run fleet -- <command> [options]`: operates a deployed fleet (any
 * cloud) or a local one. The entry only picks the command by name; each
 * command parses its own flags and owns its `--help` and exit code
 * (`ops/command.ts`).
 *
 * Relative paths are the user's: npm runs scripts in the package root and
 * records where it was typed in `INIT_CWD`
 * (https://docs.npmjs.com/cli/v10/commands/npm-run-script#description).
 */
import { OPS_EXIT_CODES, type CommandIo, type FleetCommand, type OpsExitCode } from "./command";
import { costCommand } from "./commands/cost";
import { deadLettersCommand } from "./commands/deadLetters";
import { enqueueCommand } from "./commands/enqueue";
import { loadtestCommand } from "./commands/loadtest";
import { pauseCommand, resumeCommand } from "./commands/pause";
import { resultsCommand } from "./commands/results";
import { settingsCommand } from "./commands/settings";
import { simulateCommand } from "./commands/simulate";
import { statusCommand } from "./commands/status";
import { EXIT_HELP, TARGET_HELP } from "./args";
import { listenForStop } from "../functions/local/stopSignals";

/** The commands that operate one fleet: a deployed stack (`--stack`, `--outputs`) or a local folder (`--local`). */
export const OPERATIONS: readonly FleetCommand[] = [enqueueCommand, statusCommand, pauseCommand, resumeCommand, settingsCommand, deadLettersCommand, resultsCommand];

/** The commands that size a fleet before production: they read a stack file or run a local fleet of their own. */
export const PLANNING: readonly FleetCommand[] = [costCommand, simulateCommand, loadtestCommand];

/** Every command, in the order `--help` lists them. */
export const COMMANDS: readonly FleetCommand[] = [...OPERATIONS, ...PLANNING];

export function entryHelp(commands: readonly FleetCommand[]): string {
  const width = Math.max(...commands.map((command) => command.name.length)) + 2;
  return `usage: npm run fleet -- <command> (--stack NAME | --outputs FILE | --local DIR) [options]

Operates a scrape-fleet: a deployed stack (AWS, Azure, Google Cloud) or a local fleet's folder.
Run \`npm run fleet -- <command> --help\` for a command's options.

Commands:
${commands.map((command) => `  ${command.name.padEnd(width)}${command.summary}`).join("\n")}

${TARGET_HELP}

Credentials come from each cloud's standard chain (AWS: the default credential
provider chain: environment, AWS_PROFILE and ~/.aws, SSO, web identity, instance role;
Azure: DefaultAzureCredential: environment, workload or managed identity, \`az login\`;
Google Cloud: application default credentials, \`gcloud auth application-default login\`).

${EXIT_HELP}`;
}

export async function main(argv: readonly string[], io: CommandIo, commands: readonly FleetCommand[] = COMMANDS): Promise<OpsExitCode> {
  const [name, ...args] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    io.stdout.write(`${entryHelp(commands)}\n`);
    return name === undefined ? OPS_EXIT_CODES.usage : OPS_EXIT_CODES.ok;
  }
  const command = commands.find((candidate) => candidate.name === name);
  if (!command) {
    io.stderr.write(`fleet: unknown command ${JSON.stringify(name)}; the commands are ${commands.map((candidate) => candidate.name).join(", ")} (npm run fleet -- --help)\n`);
    return OPS_EXIT_CODES.usage;
  }
  return command.run(args, io);
}

/**
 * The first Ctrl-C (or SIGTERM) lets the command finish its step and save its
 * checkpoint; a second stops at once. The same keypress delivered twice (by
 * the terminal and by npm's forwarding) counts once: see functions/local/stopSignals.ts.
 */
function processIo(): CommandIo {
  const stop = listenForStop(process, () => process.stderr.write("\nfleet: stopping after the current step (Ctrl-C again to stop at once)\n"));
  void stop.forced.then(() => process.exit(OPS_EXIT_CODES.interrupted));
  return { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.env.INIT_CWD ?? process.cwd(), signal: stop.signal };
}

if (require.main === module) {
  main(process.argv.slice(2), processIo()).then(
    // Exit once stdout has drained: an idle keep-alive socket of an SDK client must not hold a finished command open.
    (code) => void process.stdout.write("", () => process.exit(code)),
    (error: unknown) => {
      process.stderr.write(`fleet: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(OPS_EXIT_CODES.failed);
    },
  );
}
