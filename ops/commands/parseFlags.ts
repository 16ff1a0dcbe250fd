/**
 * Flag parsing shared by `cost`, `simulate` and `loadtest`: `--name value`,
 * `--name=value` and bare switches, each flag declared once with its kind,
 * so an unknown flag or a bad number is refused with the flag, the value and
 * the fix instead of being ignored.
 */
export type FlagSpec =
  | { readonly kind: "switch" }
  | { readonly kind: "string" }
  | { readonly kind: "integer"; readonly min: number; readonly max: number }
  | { readonly kind: "number"; readonly min: number; readonly max: number };

import { OPS_EXIT_CODES, type CommandIo, type OpsExitCode } from "../command";

export type FlagValues = Readonly<Record<string, string | number | boolean | undefined>>;

export class FlagError extends Error {
  readonly code = "usage";
  constructor(message: string) {
    super(message);
    this.name = "FlagError";
  }
}

export function parseFlags(args: readonly string[], specs: Readonly<Record<string, FlagSpec>>, command: string): FlagValues {
  const values: Record<string, string | number | boolean> = {};
  for (let index = 0; index < args.length; index++) {
    const arg = args[index];
    const match = /^--([a-z][a-z-]*)(?:=(.*))?$/.exec(arg);
    if (!match) throw new FlagError(`${command}: unexpected argument ${JSON.stringify(arg)}; flags start with -- (see --help)`);
    const [, name, inline] = match;
    const spec = specs[name];
    if (spec === undefined) throw new FlagError(`${command}: unknown flag --${name}; the flags are ${Object.keys(specs).map((key) => `--${key}`).join(", ")}`);
    if (spec.kind === "switch") {
      if (inline !== undefined) throw new FlagError(`${command}: --${name} takes no value (given ${JSON.stringify(inline)})`);
      values[name] = true;
      continue;
    }
    const text = inline ?? args[++index];
    if (text === undefined || (inline === undefined && text.startsWith("--"))) throw new FlagError(`${command}: --${name} needs a value`);
    if (spec.kind === "string") {
      values[name] = text;
      continue;
    }
    const number = Number(text.replace(/_/g, ""));
    const integer = spec.kind === "integer";
    if (text.trim() === "" || !Number.isFinite(number) || (integer && !Number.isInteger(number)) || number < spec.min || number > spec.max) {
      throw new FlagError(`${command}: --${name} must be ${integer ? "a whole number" : "a number"} from ${spec.min.toLocaleString("en-US")} to ${spec.max.toLocaleString("en-US")} (given ${JSON.stringify(text)})`);
    }
    values[name] = number;
  }
  return values;
}

/**
 * A command's flags, or the exit code once it has answered by itself: `--help`
 * printed (0), or a flag refused with its message (2). `specs` must declare
 * `help` as a switch.
 */
export function flagsOrExit(args: readonly string[], specs: Readonly<Record<string, FlagSpec>>, command: string, help: string, io: CommandIo): { readonly flags: FlagValues } | { readonly exit: OpsExitCode } {
  let flags: FlagValues;
  try {
    flags = parseFlags(args, specs, command);
  } catch (error) {
    if (!(error instanceof FlagError)) throw error;
    io.stderr.write(`${error.message}\n`);
    return { exit: OPS_EXIT_CODES.usage };
  }
  if (flags.help) {
    io.stdout.write(`${help}\n`);
    return { exit: OPS_EXIT_CODES.ok };
  }
  return { flags };
}
