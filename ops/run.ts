/**
 * What every command does around its own work: `--help`, opening the target's
 * backend and closing it, and turning an error into one line on stderr and its
 * exit code (a user's mistake or a refused credential is never a stack trace).
 */
import { describeError } from "../shared/errors";
import type { FleetBackend } from "./backend";
import { OPS_EXIT_CODES, type CommandIo, type OpsExitCode } from "./command";
import { CredentialsError, OpsUsageError, exitCodeOf } from "./errors";
import { openBackend, type OpenOptions, type TargetFlags } from "./target";

export async function guarded(command: string, io: CommandIo, work: () => Promise<OpsExitCode>): Promise<OpsExitCode> {
  try {
    return await work();
  } catch (error) {
    const known = error instanceof OpsUsageError || error instanceof CredentialsError;
    const detail = describeError(error);
    io.stderr.write(`fleet ${command}: error: ${detail}\n`);
    if (!known && error instanceof Error && io.env.FLEET_DEBUG) io.stderr.write(`${error.stack ?? ""}\n`);
    return exitCodeOf(error);
  }
}

/** Opens the target's backend, runs `work` with it, and closes it whatever happens. */
export async function withBackend(flags: TargetFlags, io: CommandIo, options: OpenOptions, work: (backend: FleetBackend) => Promise<OpsExitCode>): Promise<OpsExitCode> {
  const backend = await openBackend(flags, io, options);
  try {
    return await work(backend);
  } finally {
    await backend.close();
  }
}

/** Prints a command's help on stdout. */
export function printHelp(io: CommandIo, help: string): OpsExitCode {
  io.stdout.write(`${help}\n`);
  return OPS_EXIT_CODES.ok;
}

/** Writes `value` as one JSON document on stdout. */
export function printJson(io: CommandIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
