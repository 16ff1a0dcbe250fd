/**
 * The local fleet's own failure classes. Each carries a stable `code` and the
 * exit code the CLI ends with.
 */

export const EXIT_CODES = {
  /** Every URL ended as a result record or a dead letter. */
  complete: 0,
  /** The run could not finish (another run holds the directory, an unexpected error). */
  incomplete: 1,
  /** The command line, the URLs file or the settings file is wrong; nothing was run. */
  usage: 2,
  /** Stopped by Ctrl-C (SIGINT) after the pages in flight finished; run again to resume. */
  interrupted: 130,
  /** Stopped by SIGTERM after the pages in flight finished; run again to resume. */
  terminated: 143,
} as const;

export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

/** The command line, the URLs file or the settings file cannot be used. Exit code 2. */
export class UsageError extends Error {
  readonly code = "usage";

  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Another live run owns the output directory. */
export class DirectoryInUseError extends Error {
  readonly code = "directory_in_use";

  constructor(message: string) {
    super(message);
    this.name = "DirectoryInUseError";
  }
}
