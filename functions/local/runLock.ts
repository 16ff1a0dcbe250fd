/**
 * Deciding whether the run recorded as the queue file's owner is gone, so a
 * new run can take its claimed messages back at once instead of waiting out
 * their visibility timeout.
 *
 * A PID alone is not proof: PIDs are reused, and a container restarted on the
 * same volume often gets the same PID as the run it replaces. So the owner also
 * writes a heartbeat, and the verdict is:
 * - on the same host, a PID that no longer exists is gone;
 * - a recorded PID equal to ours is a previous incarnation (we have not taken
 *   the file yet, so it cannot be us);
 * - anything else (a live PID, another host) is gone only once its heartbeat is
 *   older than `staleAfterMs`.
 * A wrong "alive" only delays the takeover; a wrong "gone" cannot happen for a
 * run that keeps its heartbeat.
 */
import { hostname } from "node:os";
import type { RunOwner } from "./queue";

/** How often the owner records that it is alive. */
export const HEARTBEAT_INTERVAL_MS = 5_000;
/** A heartbeat older than this means the owner is gone whatever its PID says. */
export const STALE_AFTER_MS = 30_000;

export interface Me {
  readonly pid: number;
  readonly host: string;
}

export interface OwnerCheckOptions {
  readonly me: Me;
  readonly now: number;
  /** @default STALE_AFTER_MS */
  readonly staleAfterMs?: number;
  /** @default processExists */
  readonly isPidAlive?: (pid: number) => boolean;
}

export function ownerIsGone(holder: RunOwner, options: OwnerCheckOptions): boolean {
  const { me, now } = options;
  const isPidAlive = options.isPidAlive ?? processExists;
  if (holder.host === me.host && (holder.pid === me.pid || !isPidAlive(holder.pid))) return true;
  return now - holder.heartbeatAt > (options.staleAfterMs ?? STALE_AFTER_MS);
}

export function currentProcess(): Me {
  return { pid: process.pid, host: hostname() };
}

/**
 * Signal 0 checks for existence without sending anything. EPERM means the
 * process exists but belongs to another user.
 * https://nodejs.org/docs/latest-v22.x/api/process.html#processkillpid-signal
 */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error instanceof Error && "code" in error && error.code === "EPERM";
  }
}
