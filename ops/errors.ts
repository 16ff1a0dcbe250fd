/**
 * The operations command's failure classes. Each maps to one exit code in
 * `OPS_EXIT_CODES`, and each message names the value and the fix.
 */
import { OPS_EXIT_CODES, type OpsExitCode } from "./command";

/** The command line or an input file is wrong; nothing was changed. Exit code 2. */
export class OpsUsageError extends Error {
  readonly code = "usage";

  constructor(message: string) {
    super(message);
    this.name = "OpsUsageError";
  }
}

/**
 * The cloud found no credentials, or refused them (expired, revoked, wrong
 * account). Exit code 3. The message names the credential chain searched and
 * the command that fixes it.
 */
export class CredentialsError extends Error {
  readonly code = "credentials";

  constructor(
    /** The chain searched, such as "the AWS default credential provider chain". */
    readonly chain: string,
    /** What the cloud said. */
    readonly detail: string,
    /** What to run or set. */
    readonly fix: string,
  ) {
    super(`${chain} gave no usable credentials (${detail}); ${fix}`);
    this.name = "CredentialsError";
  }
}

/** The exit code for an error a command did not handle itself. */
export function exitCodeOf(error: unknown): OpsExitCode {
  if (error instanceof OpsUsageError) return OPS_EXIT_CODES.usage;
  if (error instanceof CredentialsError) return OPS_EXIT_CODES.credentials;
  return OPS_EXIT_CODES.failed;
}
