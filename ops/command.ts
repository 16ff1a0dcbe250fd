/**
 * The contract every `npm run fleet -- <command>` subcommand implements. The
 * entry (`ops/cli.ts`) parses nothing but the command name: each command owns
 * its flags, its `--help` text and its exit code, so a command can be run and
 * tested as a plain function over `CommandIo`.
 */
import type { Readable, Writable } from "node:stream";

/** Exit codes shared by every operations command; the README lists them. */
export const OPS_EXIT_CODES = {
  /** The command did what it was asked. */
  ok: 0,
  /** The command ran and part of the work failed (entries the queue refused for good or after five sends, a record that could not be read); the output says which. */
  failed: 1,
  /** The command line or an input file is wrong; nothing was changed. */
  usage: 2,
  /** The cloud refused the credentials, or none were found; nothing was changed. */
  credentials: 3,
  /** Stopped by Ctrl-C (SIGINT); a re-run resumes where a checkpoint allows. */
  interrupted: 130,
} as const;

export type OpsExitCode = (typeof OPS_EXIT_CODES)[keyof typeof OPS_EXIT_CODES];

/** What a command reads and writes instead of the process's globals. */
export interface CommandIo {
  readonly stdin: Readable;
  /** Data: tables, JSON (`--json`), exported records. */
  readonly stdout: Writable;
  /** Progress and messages; `isTTY` picks a bar over plain lines. */
  readonly stderr: Writable & { readonly isTTY?: boolean; readonly columns?: number };
  readonly env: NodeJS.ProcessEnv;
  /** Relative paths resolve from here (where npm was run, `INIT_CWD`). */
  readonly cwd: string;
  /** Aborted on the first Ctrl-C: a command finishes its step, saves its checkpoint and returns `interrupted`. */
  readonly signal: AbortSignal;
}

export interface FleetCommand {
  /** As typed after `npm run fleet --`, such as `enqueue` or `dead-letters`. */
  readonly name: string;
  /** One line for the entry's own `--help`. */
  readonly summary: string;
  /** The command's full `--help` text: usage, flags, exit codes. */
  readonly help: string;
  /** Runs the command with the arguments after its name; never throws for a user's mistake. */
  run(args: readonly string[], io: CommandIo): Promise<OpsExitCode>;
}
