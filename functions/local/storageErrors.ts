/**
 * Sorting the errors the output directory can raise (from SQLite and from the
 * file system) into the few a user can act on, so the CLI can name the path,
 * the cause and the fix instead of passing on SQLite's own text.
 */

/** What is wrong with the output directory's storage. */
export type StorageProblem =
  /** It cannot be created or written (read-only mount, permissions). */
  | "cannot-write"
  /** The disk (or quota) is full. */
  | "disk-full"
  /** The queue file is damaged or is not a database. */
  | "damaged";

/**
 * SQLite's primary result codes (https://www.sqlite.org/rescode.html); node:sqlite
 * reports the extended code in `errcode`, whose low byte is the primary one.
 */
const SQLITE_PROBLEMS: ReadonlyMap<number, StorageProblem> = new Map([
  [3, "cannot-write"], // SQLITE_PERM
  [8, "cannot-write"], // SQLITE_READONLY
  [14, "cannot-write"], // SQLITE_CANTOPEN
  [13, "disk-full"], // SQLITE_FULL
  [11, "damaged"], // SQLITE_CORRUPT
  [26, "damaged"], // SQLITE_NOTADB
]);

/** Node's file-system error codes (errno names, https://man7.org/linux/man-pages/man3/errno.3.html). */
const FS_PROBLEMS: ReadonlyMap<string, StorageProblem> = new Map([
  ["EACCES", "cannot-write"],
  ["EPERM", "cannot-write"],
  ["EROFS", "cannot-write"],
  ["ENOSPC", "disk-full"],
  ["EDQUOT", "disk-full"],
]);

export function storageProblem(error: unknown): StorageProblem | undefined {
  if (!(error instanceof Error)) return undefined;
  if ("errcode" in error && typeof error.errcode === "number") return SQLITE_PROBLEMS.get(error.errcode & 0xff);
  if ("code" in error && typeof error.code === "string") return FS_PROBLEMS.get(error.code);
  return undefined;
}
