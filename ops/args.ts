/**
 * Flag parsing shared by the operations commands: every command takes the
 * target flags (`--stack`, `--local`, `--outputs`) and `--help`; each adds its
 * own. Parsing is strict: an unknown flag or a missing value is a usage error
 * naming the flag.
 */
import { describeError } from "../shared/errors";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { OpsUsageError } from "./errors";

export const TARGET_OPTIONS = {
  stack: { type: "string" },
  local: { type: "string" },
  outputs: { type: "string" },
  config: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const satisfies ParseArgsConfig["options"];

export const TARGET_HELP = `Target (exactly one):
  --stack NAME       a deployed stack; its outputs come from \`pulumi stack output --json --stack NAME\`
  --outputs FILE     the same JSON saved to a file (for scripts and machines without the Pulumi CLI)
  --local DIR        a local fleet's folder (the --out DIR of \`npm start\`)
  --config FILE      with --local: the settings file the fleet runs with (default DIR/settings.json)`;

export const EXIT_HELP = `Exit codes: 0 done, 1 part of the work failed (the output says which),
  2 usage or input error (nothing changed), 3 credentials missing or refused, 130 interrupted.`;

type Options = NonNullable<ParseArgsConfig["options"]>;

export interface ParsedArgs<O extends Options> {
  readonly values: { [K in keyof (typeof TARGET_OPTIONS & O)]?: (typeof TARGET_OPTIONS & O)[K] extends { type: "boolean" } ? boolean : string };
  readonly positionals: readonly string[];
}

/** Parses `args` with the target flags plus `options`. Throws `OpsUsageError`. */
export function parseCommandArgs<O extends Options>(command: string, args: readonly string[], options: O): ParsedArgs<O> {
  try {
    const parsed = parseArgs({ args: [...args], options: { ...TARGET_OPTIONS, ...options }, allowPositionals: true, strict: true });
    return parsed as unknown as ParsedArgs<O>;
  } catch (error) {
    const detail = describeError(error);
    throw new OpsUsageError(`${command}: ${detail}; see \`npm run fleet -- ${command} --help\``);
  }
}

/** A whole number flag within a range, or the default. Throws `OpsUsageError` naming the flag and the value. */
export function integerFlag(name: string, value: string | undefined, range: { readonly min: number; readonly max: number }, fallback?: number): number | undefined {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < range.min || parsed > range.max) {
    throw new OpsUsageError(`--${name} must be a whole number from ${range.min} to ${range.max} (given ${JSON.stringify(value)})`);
  }
  return parsed;
}
