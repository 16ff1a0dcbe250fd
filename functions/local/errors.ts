/**
 * The local fleet's own failure classes. Each carries a stable `code` and the
 * exit code the CLI ends with.
 */

export const EXIT_CODES = {
  /** Every URL ended as a result record or a dead letter. */
  complete: 0,
  /** The run could not finish (another live run holds the directory, a full disk, a damaged queue file, an unexpected error). */
  incomplete: 1,
  /** The command line, the URLs file, the settings file or the output directory cannot be used; nothing was run. */
  usage: 2,
  /** Stopped by Ctrl-C (SIGINT) with URLs left; run again to resume. */
  interrupted: 130,
  /** Stopped by SIGTERM with URLs left; run again to resume. */
  terminated: 143,
} as const;

export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

/** The command line, the URLs file, the settings file or the output directory cannot be used. Exit code 2. */
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

/** The queue file in the output directory cannot be read as a scrape-fleet queue (corrupt, or another program's file). */
export class QueueFileError extends Error {
  readonly code = "queue_file_unreadable";

  constructor(
    /** The queue file's path. */
    readonly path: string,
    /** What is wrong with it, such as SQLite's "file is not a database". */
    readonly problem: string,
  ) {
    super(`${path} is not a scrape-fleet queue (${problem})`);
    this.name = "QueueFileError";
  }
}
