/**
 * One run per output directory, decided by an OS file lock that the kernel
 * releases the moment the holding process dies: a restart right after
 * `kill -9` (the dead process may still be a zombie, its PID still taken) is
 * accepted at once, and two live runs are still refused.
 *
 * Node has no flock(2), so the lock is SQLite's own: `DIR/run.lock` is a
 * small database opened in exclusive locking mode, whose first transaction
 * takes an exclusive POSIX advisory lock (fcntl) on the file and keeps it until
 * the connection closes (https://www.sqlite.org/pragma.html#pragma_locking_mode).
 * The kernel drops fcntl locks when the process exits however it exits
 * (https://man7.org/linux/man-pages/man2/fcntl.2.html, "Advisory record
 * locking"), and SQLite keeps two connections in one process apart as well,
 * so a second run in the same process is refused too. A PID and a heartbeat
 * were used before; a PID cannot tell a zombie or a reused PID from a live run.
 */
import { hostname } from "node:os";
import type { DatabaseSync } from "node:sqlite";
import { loadSqlite } from "./sqlite";

/**
 * How often the owner records that it is alive in the queue file. The lock
 * decides; the heartbeat dates the holder in the refusal message, and lets a
 * run notice a takeover where the filesystem does not honour locks (some
 * network filesystems: https://www.sqlite.org/faq.html#q5).
 */
export const HEARTBEAT_INTERVAL_MS = 5_000;

/** The lock file inside the output directory. */
export const RUN_LOCK_FILE = "run.lock";

/**
 * How long a start waits for a held lock before refusing. A process killed
 * with SIGKILL shows as a zombie as soon as its main thread is gone, but its
 * files (and the lock) are released only when its last thread has exited,
 * which on a busy machine can take a moment
 * (https://man7.org/linux/man-pages/man5/proc_pid_stat.5.html; the file table
 * is shared by the threads: https://man7.org/linux/man-pages/man2/clone.2.html,
 * CLONE_FILES). A live holder keeps it far longer, so the refusal stands.
 */
export const LOCK_WAIT_MS = 2_000;

/** SQLite's "database is locked" (https://www.sqlite.org/rescode.html#busy). */
const SQLITE_BUSY = 5;

export interface Me {
  readonly pid: number;
  readonly host: string;
}

export function currentProcess(): Me {
  return { pid: process.pid, host: hostname() };
}

/** The directory's lock, held until `release` or the process's end. */
export interface RunLock {
  release(): void;
}

/**
 * Takes the lock at `path` (creating the file), or returns undefined when
 * another live run holds it. Other failures (a read-only directory, a full
 * disk) are thrown as SQLite reports them.
 */
export function tryLockDirectory(path: string): RunLock | undefined {
  const { DatabaseSync } = loadSqlite();
  const db: DatabaseSync = new DatabaseSync(path, { timeout: LOCK_WAIT_MS });
  try {
    // No journal: the lock file holds no data, and a journal would be a second file to leave behind.
    db.exec("PRAGMA journal_mode = OFF");
    db.exec("PRAGMA locking_mode = EXCLUSIVE");
    db.exec("BEGIN EXCLUSIVE");
    db.exec("COMMIT");
  } catch (error) {
    db.close();
    if (error instanceof Error && "errcode" in error && error.errcode === SQLITE_BUSY) return undefined;
    throw error;
  }
  return { release: () => db.close() };
}
