/**
 * Which fleet a command operates: a deployed stack (its outputs from the
 * Pulumi CLI, or from a saved `--outputs` file) or a local fleet's folder.
 *
 * Only the backend of the stack's cloud is loaded, so operating an AWS fleet
 * loads no Azure or Google SDK.
 */
import { describeError } from "../shared/errors";
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { CLOUDS, FLEET_OUTPUT_NAMES, type Cloud } from "../infra/contract";
import type { FleetBackend } from "./backend";
import type { CommandIo } from "./command";
import { OpsUsageError } from "./errors";

/** The project folder, where `pulumi stack output` finds Pulumi.yaml. */
const PROJECT_DIR = resolve(__dirname, "..");

export interface TargetFlags {
  readonly stack?: string | undefined;
  readonly local?: string | undefined;
  readonly outputs?: string | undefined;
  readonly config?: string | undefined;
}

/** A deployed stack's outputs: the fleet's, the same names on every cloud, and `cloud`. */
export type StackOutputs = { readonly cloud: Cloud } & { readonly [K in (typeof FLEET_OUTPUT_NAMES)[number]]: string };

export interface OpenOptions {
  /** Create the local fleet's folder and queue when missing (enqueue); otherwise a missing folder is a usage error. */
  readonly createLocal?: boolean;
  /** Refuse a deployed stack on another cloud: `why` says what expects this one (such as the stack file being priced). */
  readonly cloud?: { readonly expected: Cloud; readonly why: string };
}

/**
 * The backends that exist, each loaded only when its cloud is the target.
 * A cloud missing here has no operations backend yet, and says so.
 */
const CLOUD_BACKENDS: Partial<Record<Cloud, (outputs: StackOutputs, label: string) => Promise<FleetBackend>>> = {
  aws: (outputs, label) => (require("./backends/aws") as typeof import("./backends/aws")).openAwsBackend(outputs, label),
  gcp: (outputs, label) => (require("./backends/gcp") as typeof import("./backends/gcp")).openGcpBackend(outputs, label),
  azure: (outputs, label) => (require("./backends/azure") as typeof import("./backends/azure")).openAzureBackend(outputs, label),
};

export async function openBackend(flags: TargetFlags, io: CommandIo, options: OpenOptions = {}): Promise<FleetBackend> {
  const given = [flags.stack, flags.local, flags.outputs].filter((value) => value !== undefined).length;
  if (given !== 1) {
    throw new OpsUsageError(
      given === 0 ? "no fleet named: pass --stack NAME (a deployed stack), --outputs FILE (its saved outputs) or --local DIR (a local fleet)" : "pass only one of --stack, --outputs and --local",
    );
  }
  if (flags.config !== undefined && flags.local === undefined) {
    throw new OpsUsageError("--config names a local fleet's settings file and goes with --local; a deployed stack's settings live in its config store (`fleet settings get`)");
  }
  if (flags.local !== undefined) {
    // Loaded on demand, as each cloud's backend is (infra/program.ts loads clouds the same way).
    const { openLocalBackend } = require("./backends/local") as typeof import("./backends/local");
    return openLocalBackend({
      directory: resolve(io.cwd, flags.local),
      shownAs: flags.local,
      ...(flags.config === undefined ? {} : { settingsFile: resolve(io.cwd, flags.config) }),
      create: options.createLocal ?? false,
    });
  }
  const label = flags.stack !== undefined ? `stack ${flags.stack}` : `outputs ${flags.outputs}`;
  const outputs = flags.stack !== undefined ? await pulumiStackOutputs(flags.stack, io) : await outputsFile(resolve(io.cwd, flags.outputs ?? ""), flags.outputs ?? "");
  if (options.cloud !== undefined && outputs.cloud !== options.cloud.expected) {
    throw new OpsUsageError(`${label} is a fleet on ${outputs.cloud}, but ${options.cloud.why} is one on ${options.cloud.expected}; name the outputs of that same stack`);
  }
  const open = CLOUD_BACKENDS[outputs.cloud];
  if (!open) {
    const available = Object.keys(CLOUD_BACKENDS).join(", ");
    throw new OpsUsageError(`${label} is a ${outputs.cloud} fleet; this version operates ${available} fleets and local fleets only`);
  }
  return open(outputs, label);
}

/** Runs `pulumi stack output --json --stack NAME` in the project folder. */
async function pulumiStackOutputs(stack: string, io: CommandIo): Promise<StackOutputs> {
  const text = await new Promise<string>((done, fail) => {
    execFile("pulumi", ["stack", "output", "--json", "--stack", stack], { cwd: PROJECT_DIR, env: io.env, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (!error) return done(stdout);
      if ("code" in error && error.code === "ENOENT") {
        return fail(new OpsUsageError(`the Pulumi CLI is not on PATH, so --stack ${stack} cannot be read; install it (https://www.pulumi.com/docs/install/), or save the outputs elsewhere with \`pulumi stack output --json --stack ${stack} > outputs.json\` and pass --outputs outputs.json`));
      }
      fail(new OpsUsageError(`\`pulumi stack output --json --stack ${stack}\` failed: ${stderr.trim() || error.message}; check the stack name (\`pulumi stack ls\`) and that you are logged in (\`pulumi login\`)`));
    });
  });
  return parseOutputs(text, `\`pulumi stack output --json --stack ${stack}\``);
}

async function outputsFile(path: string, shownAs: string): Promise<StackOutputs> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const detail = describeError(error);
    throw new OpsUsageError(`--outputs ${shownAs} cannot be read (${detail}); save it with \`pulumi stack output --json --stack NAME > ${shownAs}\``);
  }
  return parseOutputs(text, `--outputs ${shownAs}`);
}

/** Checks the outputs JSON has `cloud` and every fleet output, as strings. Throws `OpsUsageError` naming what is missing. */
export function parseOutputs(text: string, source: string): StackOutputs {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw new OpsUsageError(`${source} is not JSON (${JSON.stringify(text.slice(0, 80))}); it must be the output of \`pulumi stack output --json\``);
  }
  if (typeof document !== "object" || document === null || Array.isArray(document)) {
    throw new OpsUsageError(`${source} must be a JSON object of stack outputs, as \`pulumi stack output --json\` prints`);
  }
  const record = document as Record<string, unknown>;
  const cloud = record.cloud;
  if (typeof cloud !== "string" || !(CLOUDS as readonly string[]).includes(cloud)) {
    throw new OpsUsageError(`${source} has \`cloud\` ${JSON.stringify(cloud)}; expected one of ${CLOUDS.join(", ")}: is this a scrape-fleet stack, deployed by this version?`);
  }
  const missing = FLEET_OUTPUT_NAMES.filter((name) => typeof record[name] !== "string" || record[name] === "");
  if (missing.length > 0) {
    throw new OpsUsageError(`${source} lacks the output(s) ${missing.join(", ")}; run \`pulumi up\` for the stack, then read its outputs again`);
  }
  return record as StackOutputs;
}
