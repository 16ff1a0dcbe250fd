/**
 * The local fleet's durable queue: one SQLite file with the same semantics as
 * the clouds' queues — visibility timeout, receive count, a dead-letter table
 * and at most `maxAttempts` deliveries per message.
 *
 * Every URL ever enqueued keeps its row (state `queued`, `done` or `dead`), keyed
 * by its normalized form, so reading the same URLs file again after a crash
 * adds nothing twice and never re-runs a finished URL.
 *
 * Durability: WAL journal with `synchronous=NORMAL`. A committed transaction
 * survives an application crash (kill -9) whatever the synchronous setting;
 * NORMAL only risks rolling back the last commits on power loss or an OS
 * crash, and the database stays consistent
 * (https://www.sqlite.org/pragma.html#pragma_synchronous). Rolling back an ack
 * only means the page is fetched again and its keyed result file overwritten;
 * rolling back an enqueue is repaired by reading the URLs file again. So no
 * crash can lose a URL or duplicate a result, and NORMAL avoids an fsync per
 * ack.
 */
import { randomUUID } from "node:crypto";
import type { DatabaseSync, SQLOutputValue, StatementSync } from "node:sqlite";
import { ERROR_CODES, type ErrorCode } from "../../shared/errors";
import type { QueueItem } from "../../shared/outcome";
import { QueueFileError } from "./errors";
import { loadSqlite } from "./sqlite";

/** Deliveries per message, the same meaning as the clouds' `maxDeliveryAttempts`. */
export const DEFAULT_MAX_ATTEMPTS = 5;
export const MAX_ATTEMPTS_LIMIT = 100;

/** Bumped when the tables change shape; a newer file is refused rather than misread. */
const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS messages (
  seq           INTEGER PRIMARY KEY AUTOINCREMENT,
  url_key       TEXT NOT NULL UNIQUE,
  input         TEXT NOT NULL,
  body          TEXT,
  source        TEXT,
  line          INTEGER,
  state         TEXT NOT NULL CHECK (state IN ('queued', 'done', 'dead')),
  visible_at    INTEGER NOT NULL,
  receive_count INTEGER NOT NULL DEFAULT 0,
  claimed_by    TEXT,
  outcome       TEXT CHECK (outcome IN ('ok', 'failed')),
  last_code     TEXT,
  last_reason   TEXT,
  enqueued_at   INTEGER NOT NULL,
  finished_at   INTEGER
);
CREATE INDEX IF NOT EXISTS messages_ready ON messages (state, visible_at, seq);
CREATE TABLE IF NOT EXISTS dead_letters (
  url_key   TEXT PRIMARY KEY,
  url       TEXT,
  raw_line  TEXT,
  source    TEXT,
  line      INTEGER,
  code      TEXT NOT NULL,
  reason    TEXT NOT NULL,
  attempts  INTEGER NOT NULL,
  dead_at   INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS owner (
  id           INTEGER PRIMARY KEY CHECK (id = 1),
  run_id       TEXT NOT NULL,
  pid          INTEGER NOT NULL,
  host         TEXT NOT NULL,
  started_at   INTEGER NOT NULL,
  heartbeat_at INTEGER NOT NULL
);
`;

export interface LocalQueueOptions {
  /**
   * Deliveries before a message is dead-lettered with its last reason, 1 to 100.
   * @default 5
   */
  readonly maxAttempts?: number;
  /** Clock in epoch milliseconds. @default Date.now */
  readonly now?: () => number;
}

/** A URL to enqueue. */
export interface NewMessage {
  /** `normalizeUrl(url)`: the dedupe key. */
  readonly key: string;
  /** The URL as the file gave it. */
  readonly url: string;
  /** The message body the worker receives. */
  readonly body: string;
  readonly origin?: Origin;
}

/** Where an input line came from. */
export interface Origin {
  /** The URLs file's path, or `stdin`. */
  readonly source: string;
  /** 1-based line number. */
  readonly line: number;
}

/** An input line that is not a URL: dead-lettered on arrival. */
export interface RejectedLine {
  readonly key: string;
  readonly rawLine: string;
  readonly origin?: Origin;
  readonly code: ErrorCode;
  readonly reason: string;
}

export interface FailureDetails {
  readonly code: ErrorCode;
  readonly reason: string;
}

/** How a message ended for good. */
export type Completion = { readonly outcome: "ok" } | ({ readonly outcome: "failed" } & FailureDetails);

export type RetryResult = "requeued" | "dead-lettered" | "stale";

/**
 * URL messages by state. Input lines that are not URLs are counted apart, in
 * `notUrls`, and in none of the other fields.
 */
export interface QueueCounts {
  /** URLs queued, ever. */
  readonly total: number;
  /** Never delivered yet. */
  readonly waiting: number;
  /** Claimed by a run and not yet answered. */
  readonly inFlight: number;
  /** Delivered before and waiting for the next delivery. */
  readonly retrying: number;
  readonly ok: number;
  readonly failed: number;
  /** URLs dead-lettered. */
  readonly dead: number;
  /** Input lines that are not URLs (dead-lettered on arrival). */
  readonly notUrls: number;
}

/** URLs with an answer: stored ok or failed, or dead-lettered. */
export function finishedCount(counts: Pick<QueueCounts, "ok" | "failed" | "dead">): number {
  return counts.ok + counts.failed + counts.dead;
}

/** How a finished message that is not `ok` ended: a failed result, a dead-lettered URL, or a line that is not a URL. */
export type FailureState = "failed" | "dead" | "not-url";

export interface DeadLetter {
  readonly url?: string;
  readonly rawLine?: string;
  readonly origin?: Origin;
  readonly code: string;
  readonly reason: string;
  readonly attempts: number;
  readonly deadAt: number;
}

/** The run that owns the queue file; one at a time. */
export interface RunOwner {
  readonly runId: string;
  readonly pid: number;
  readonly host: string;
  readonly startedAt: number;
  readonly heartbeatAt: number;
}

export interface TakeOver {
  /** The run that held the file before, if it did not release it (it crashed or was killed). */
  readonly previous?: RunOwner;
  /** Messages that run had claimed, made visible again now instead of after their visibility timeout. */
  readonly reclaimed: number;
}

export class LocalQueue {
  /** Identifies this process's claims; a receipt from another run is stale. */
  readonly runId = randomUUID();
  readonly maxAttempts: number;
  private readonly db: DatabaseSync;
  private readonly now: () => number;
  private readonly statements: ReturnType<typeof prepareStatements>;

  private constructor(db: DatabaseSync, options: LocalQueueOptions) {
    this.db = db;
    this.now = options.now ?? Date.now;
    this.maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    this.statements = prepareStatements(db);
  }

  /** Opens (creating if needed) the queue file. */
  static open(path: string, options: LocalQueueOptions = {}): LocalQueue {
    const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > MAX_ATTEMPTS_LIMIT) {
      throw new RangeError(`\`maxAttempts\` must be an integer from 1 to ${MAX_ATTEMPTS_LIMIT} (given ${maxAttempts})`);
    }
    const { DatabaseSync } = loadSqlite();
    let db: DatabaseSync;
    try {
      db = new DatabaseSync(path);
    } catch (error) {
      throw asQueueFileError(path, error);
    }
    try {
      db.exec("PRAGMA journal_mode = WAL");
      db.exec("PRAGMA synchronous = NORMAL");
      // Another process (a second run refused by the owner check, a user's sqlite3 shell) may hold a lock briefly.
      db.exec("PRAGMA busy_timeout = 5000");
      const version = Number(db.prepare("PRAGMA user_version").get()?.user_version ?? 0);
      if (version > SCHEMA_VERSION) {
        throw new Error(`${path} was written by a newer scrape-fleet (queue schema ${version}, this one reads ${SCHEMA_VERSION}); use that version or another --out directory`);
      }
      if (version === 0 && isSomeoneElsesDatabase(db)) {
        throw new QueueFileError(path, "it is an SQLite database with another program's tables");
      }
      db.exec(SCHEMA);
      db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
      return new LocalQueue(db, { ...options, maxAttempts });
    } catch (error) {
      db.close();
      throw asQueueFileError(path, error);
    }
  }

  close(): void {
    this.db.close();
  }

  /**
   * Makes this run the file's owner. Call it only while holding the
   * directory's run lock (`tryLockDirectory`): any owner still recorded then
   * is a run that ended without releasing the file (it crashed or was killed),
   * so it is replaced and its claims become visible at once.
   */
  takeOwnership(me: Omit<RunOwner, "runId" | "heartbeatAt">): TakeOver {
    return this.transaction(() => {
      const previous = this.owner();
      const now = this.now();
      this.statements.upsertOwner.run(this.runId, me.pid, me.host, me.startedAt, now);
      const reason = previous ? `the run with pid ${previous.pid} stopped before this page finished` : "a run stopped before this page finished";
      const reclaimed = Number(this.statements.reclaim.run(now, "worker_deadline", reason, this.runId).changes);
      return { ...(previous ? { previous } : {}), reclaimed };
    });
  }

  /** The run recorded as the file's owner, if any: the live holder of the run lock, or one that ended without releasing. */
  owner(): RunOwner | undefined {
    const row = this.statements.selectOwner.get();
    return row ? readOwner(row) : undefined;
  }

  /** Records that this run is alive. Returns false when another run has taken the file over. */
  heartbeat(): boolean {
    return Number(this.statements.heartbeat.run(this.now(), this.runId).changes) === 1;
  }

  /** Gives the file up at a clean exit. */
  releaseOwnership(): void {
    this.statements.deleteOwner.run(this.runId);
  }

  /** Adds URLs not seen before. Returns how many were new. */
  enqueue(messages: readonly NewMessage[]): number {
    return this.transaction(() => {
      const now = this.now();
      let added = 0;
      for (const message of messages) {
        added += Number(this.statements.insertMessage.run(message.key, message.url, message.body, message.origin?.source ?? null, message.origin?.line ?? null, "queued", now, now).changes);
      }
      return added;
    });
  }

  /**
   * Marks queued URLs as finished without a delivery, from the result records
   * already in the output directory: for a queue file that was lost or
   * truncated while the results survived. Returns how many were marked.
   */
  recordFinished(entries: readonly ({ readonly key: string } & Completion)[]): number {
    return this.transaction(() => {
      const now = this.now();
      let marked = 0;
      for (const entry of entries) {
        const failure = entry.outcome === "failed" ? entry : undefined;
        marked += Number(this.statements.finishUnclaimed.run(entry.outcome, failure?.code ?? null, failure?.reason ?? null, now, entry.key).changes);
      }
      return marked;
    });
  }

  /** Records input lines that are not URLs straight in the dead-letter table. Returns the lines that were new. */
  rejectLines(lines: readonly RejectedLine[]): RejectedLine[] {
    return this.transaction(() => {
      const now = this.now();
      const added: RejectedLine[] = [];
      for (const line of lines) {
        const source = line.origin?.source ?? null;
        const lineNumber = line.origin?.line ?? null;
        const inserted = Number(this.statements.insertMessage.run(line.key, line.rawLine, null, source, lineNumber, "dead", now, now).changes);
        if (inserted === 0) continue;
        this.statements.updateFinished.run("dead", line.code, line.reason, now, line.key);
        this.statements.insertDeadLetter.run(line.key, null, line.rawLine, source, lineNumber, line.code, line.reason, 0, now);
        added.push(line);
      }
      return added;
    });
  }

  /**
   * Claims up to `max` visible messages for `visibilityMs`, counting one more
   * receive on each. A message already received `maxAttempts` times is
   * dead-lettered with its last reason instead of being delivered again.
   */
  receive(max: number, visibilityMs: number): QueueItem[] {
    if (max <= 0) return [];
    return this.transaction(() => {
      const now = this.now();
      const items: QueueItem[] = [];
      for (const row of this.statements.selectReady.all(now, max)) {
        const message = readMessageRow(row);
        if (message.receiveCount >= this.maxAttempts) {
          this.deadLetterRow(message, {
            code: message.lastCode ?? "worker_deadline",
            reason: `delivered ${message.receiveCount} times without an answer (the most allowed is ${this.maxAttempts}); last: ${message.lastReason ?? "the run stopped before the page finished"}`,
          });
          continue;
        }
        this.statements.claim.run(now + visibilityMs, this.runId, message.seq);
        items.push({ id: receipt(message.seq, message.receiveCount + 1), body: message.body ?? "", attempt: message.receiveCount + 1 });
      }
      return items;
    });
  }

  /** Finishes a delivery for good. Returns false for a stale receipt (the message was claimed again since). */
  ack(id: string, completion: Completion): boolean {
    const { seq, count } = parseReceipt(id);
    const failure = completion.outcome === "failed" ? completion : undefined;
    const changes = this.statements.complete.run(completion.outcome, failure?.code ?? null, failure?.reason ?? null, this.now(), seq, count, this.runId);
    return Number(changes.changes) === 1;
  }

  /**
   * Puts a delivery back after `delayMs`. Once it has been received
   * `maxAttempts` times it is dead-lettered with this reason instead.
   */
  retry(id: string, failure: FailureDetails & { readonly delayMs: number }): RetryResult {
    return this.transaction(() => {
      const row = this.claimedRow(id);
      if (!row) return "stale";
      if (row.receiveCount >= this.maxAttempts) {
        this.deadLetterRow(row, {
          code: failure.code,
          reason: `gave up after ${row.receiveCount} attempts (the most allowed is ${this.maxAttempts}); last: ${failure.reason}`,
        });
        return "dead-lettered";
      }
      this.statements.requeue.run(this.now() + Math.max(0, failure.delayMs), 0, failure.code, failure.reason, row.seq);
      return "requeued";
    });
  }

  /**
   * Puts a delivery back after `delayMs` without counting it as an attempt:
   * for answers that say nothing about the page (the fleet is paused, the host
   * is being paced).
   */
  release(id: string, failure: FailureDetails & { readonly delayMs: number }): boolean {
    return this.transaction(() => {
      const row = this.claimedRow(id);
      if (!row) return false;
      this.statements.requeue.run(this.now() + Math.max(0, failure.delayMs), 1, failure.code, failure.reason, row.seq);
      return true;
    });
  }

  /** Sends a delivery straight to the dead-letter table (a malformed message). */
  deadLetter(id: string, failure: FailureDetails): boolean {
    return this.transaction(() => {
      const row = this.claimedRow(id);
      if (!row) return false;
      this.deadLetterRow(row, failure);
      return true;
    });
  }

  /** Whether any message is still waiting, retrying or in flight. */
  hasPending(): boolean {
    return this.statements.anyQueued.get() !== undefined;
  }

  /** When the next waiting message becomes visible (epoch ms), if any is waiting. */
  nextVisibleAt(): number | undefined {
    const value = this.statements.nextVisible.get()?.next_visible;
    return typeof value === "number" ? value : undefined;
  }

  counts(): QueueCounts {
    const row = this.statements.counts.get() ?? {};
    return {
      total: toNumber(row.total),
      waiting: toNumber(row.waiting),
      inFlight: toNumber(row.in_flight),
      retrying: toNumber(row.retrying),
      ok: toNumber(row.ok),
      failed: toNumber(row.failed),
      dead: toNumber(row.dead),
      notUrls: toNumber(row.not_urls),
    };
  }

  /** Finished messages that did not end `ok`, counted by code. */
  failureCodes(): { readonly state: FailureState; readonly code: string; readonly count: number }[] {
    return this.statements.failureCodes.all().map((row) => ({
      state: row.state === "dead" || row.state === "not-url" ? row.state : "failed",
      code: String(row.code ?? "unknown"),
      count: toNumber(row.n),
    }));
  }

  /** Dead letters, lines that were not URLs included, without reading them. */
  deadLetterCount(): number {
    return toNumber(this.statements.countDeadLetters.get()?.n);
  }

  /** Every dead letter, oldest first, in a stable order. */
  deadLetters(): DeadLetter[] {
    return this.statements.selectDeadLetters.all().map((row) => ({
      ...(typeof row.url === "string" ? { url: row.url } : {}),
      ...(typeof row.raw_line === "string" ? { rawLine: row.raw_line } : {}),
      ...readOrigin(row),
      code: String(row.code),
      reason: String(row.reason),
      attempts: toNumber(row.attempts),
      deadAt: toNumber(row.dead_at),
    }));
  }

  /** When the oldest message still queued (waiting, retrying or in flight) was enqueued, epoch ms. */
  oldestQueuedAt(): number | undefined {
    const value = this.statements.oldestQueued.get()?.oldest;
    return typeof value === "number" ? value : undefined;
  }

  /** URLs finished at or after `since` (epoch ms), by how they ended. */
  finishedSince(since: number): { readonly ok: number; readonly failed: number; readonly dead: number } {
    const row = this.statements.finishedSince.get(since) ?? {};
    return { ok: toNumber(row.ok), failed: toNumber(row.failed), dead: toNumber(row.dead) };
  }

  /**
   * Moves up to `limit` dead-lettered URLs back to the queue as new messages
   * (no receives counted), oldest first. Input lines that are not URLs have no
   * message to send and stay. The row's state and its dead letter change in
   * one transaction, so a crash leaves each URL either queued or dead, never
   * neither. Returns how many moved.
   */
  redriveDeadLetters(limit: number): number {
    return this.transaction(() => {
      const now = this.now();
      let moved = 0;
      for (const row of this.statements.selectRedrivable.all(limit)) {
        const key = String(row.url_key);
        this.statements.requeueDead.run(now, key);
        this.statements.deleteDeadLetter.run(key);
        moved += 1;
      }
      return moved;
    });
  }

  /** Deletes every dead letter; the URLs stay finished as `dead` and are not queued again. Returns how many. */
  purgeDeadLetters(): number {
    return Number(this.statements.deleteDeadLetters.run().changes);
  }

  private claimedRow(id: string): MessageRow | undefined {
    const { seq, count } = parseReceipt(id);
    const row = this.statements.selectClaimed.get(seq, count, this.runId);
    return row ? readMessageRow(row) : undefined;
  }

  private deadLetterRow(row: MessageRow, failure: { readonly code: string; readonly reason: string }): void {
    const now = this.now();
    this.statements.insertDeadLetter.run(row.key, row.input, null, row.origin?.source ?? null, row.origin?.line ?? null, failure.code, failure.reason, row.receiveCount, now);
    this.statements.updateFinished.run("dead", failure.code, failure.reason, now, row.key);
  }

  /** BEGIN IMMEDIATE takes the write lock up front, so a read-then-write cannot race another process. */
  private transaction<T>(work: () => T): T {
    this.db.exec("BEGIN IMMEDIATE");
    try {
      const result = work();
      this.db.exec("COMMIT");
      return result;
    } catch (error) {
      // SQLite has already rolled back after some errors (a full disk, an I/O error:
      // https://www.sqlite.org/lang_transaction.html#response_to_errors_within_a_transaction);
      // a ROLLBACK then would fail and hide the real cause behind "no transaction is active".
      if (this.db.isTransaction) this.db.exec("ROLLBACK");
      throw error;
    }
  }
}

interface MessageRow {
  readonly seq: number;
  readonly key: string;
  readonly input: string;
  readonly body?: string;
  readonly origin?: Origin;
  readonly receiveCount: number;
  readonly lastCode?: ErrorCode;
  readonly lastReason?: string;
}

function prepareStatements(db: DatabaseSync) {
  const prepare = (sql: string): StatementSync => db.prepare(sql);
  return {
    selectOwner: prepare("SELECT run_id, pid, host, started_at, heartbeat_at FROM owner WHERE id = 1"),
    upsertOwner: prepare(
      `INSERT INTO owner (id, run_id, pid, host, started_at, heartbeat_at) VALUES (1, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET run_id = excluded.run_id, pid = excluded.pid, host = excluded.host,
         started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at`,
    ),
    heartbeat: prepare("UPDATE owner SET heartbeat_at = ? WHERE id = 1 AND run_id = ?"),
    deleteOwner: prepare("DELETE FROM owner WHERE id = 1 AND run_id = ?"),
    // Back in its place in line (visible since it was enqueued), so a resume fetches the pages the dead run had
    // in flight first, instead of leaving them "retrying" behind every page never tried.
    reclaim: prepare(
      `UPDATE messages SET visible_at = MIN(enqueued_at, ?), claimed_by = NULL, last_code = ?, last_reason = ?
       WHERE state = 'queued' AND claimed_by IS NOT NULL AND claimed_by <> ?`,
    ),
    insertMessage: prepare(
      `INSERT INTO messages (url_key, input, body, source, line, state, visible_at, enqueued_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (url_key) DO NOTHING`,
    ),
    updateFinished: prepare("UPDATE messages SET state = ?, claimed_by = NULL, last_code = ?, last_reason = ?, finished_at = ? WHERE url_key = ?"),
    insertDeadLetter: prepare(
      `INSERT INTO dead_letters (url_key, url, raw_line, source, line, code, reason, attempts, dead_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (url_key) DO NOTHING`,
    ),
    selectReady: prepare(
      `SELECT seq, url_key, input, body, source, line, receive_count, last_code, last_reason FROM messages
       WHERE state = 'queued' AND visible_at <= ? ORDER BY visible_at, seq LIMIT ?`,
    ),
    claim: prepare("UPDATE messages SET visible_at = ?, claimed_by = ?, receive_count = receive_count + 1 WHERE seq = ?"),
    selectClaimed: prepare(
      `SELECT seq, url_key, input, body, source, line, receive_count, last_code, last_reason FROM messages
       WHERE seq = ? AND receive_count = ? AND claimed_by = ? AND state = 'queued'`,
    ),
    complete: prepare(
      `UPDATE messages SET state = 'done', outcome = ?, last_code = ?, last_reason = ?, finished_at = ?, claimed_by = NULL
       WHERE seq = ? AND receive_count = ? AND claimed_by = ? AND state = 'queued'`,
    ),
    finishUnclaimed: prepare(
      `UPDATE messages SET state = 'done', outcome = ?, last_code = ?, last_reason = ?, finished_at = ?
       WHERE url_key = ? AND state = 'queued' AND claimed_by IS NULL`,
    ),
    // The second parameter is 1 to hand back the receive (release) and 0 to keep it counted (retry).
    requeue: prepare(
      `UPDATE messages SET visible_at = ?1, receive_count = receive_count - ?2, last_code = ?3, last_reason = ?4, claimed_by = NULL
       WHERE seq = ?5`,
    ),
    anyQueued: prepare("SELECT 1 AS one FROM messages WHERE state = 'queued' LIMIT 1"),
    nextVisible: prepare("SELECT MIN(visible_at) AS next_visible FROM messages WHERE state = 'queued' AND claimed_by IS NULL"),
    // A line that is not a URL is the only row without a message body.
    counts: prepare(
      `SELECT COALESCE(SUM(body IS NOT NULL), 0) AS total,
         COALESCE(SUM(state = 'queued' AND claimed_by IS NULL AND receive_count = 0), 0) AS waiting,
         COALESCE(SUM(state = 'queued' AND claimed_by IS NOT NULL), 0) AS in_flight,
         COALESCE(SUM(state = 'queued' AND claimed_by IS NULL AND receive_count > 0), 0) AS retrying,
         COALESCE(SUM(state = 'done' AND outcome = 'ok'), 0) AS ok,
         COALESCE(SUM(state = 'done' AND outcome = 'failed'), 0) AS failed,
         COALESCE(SUM(state = 'dead' AND body IS NOT NULL), 0) AS dead,
         COALESCE(SUM(body IS NULL), 0) AS not_urls
       FROM messages`,
    ),
    failureCodes: prepare(
      `SELECT CASE WHEN body IS NULL THEN 'not-url' WHEN state = 'dead' THEN 'dead' ELSE 'failed' END AS state, last_code AS code, COUNT(*) AS n FROM messages
       WHERE state = 'dead' OR (state = 'done' AND outcome = 'failed')
       GROUP BY 1, 2 ORDER BY n DESC, code`,
    ),
    oldestQueued: prepare("SELECT MIN(enqueued_at) AS oldest FROM messages WHERE state = 'queued'"),
    finishedSince: prepare(
      `SELECT COALESCE(SUM(state = 'done' AND outcome = 'ok'), 0) AS ok,
         COALESCE(SUM(state = 'done' AND outcome = 'failed'), 0) AS failed,
         COALESCE(SUM(state = 'dead' AND body IS NOT NULL), 0) AS dead
       FROM messages WHERE finished_at >= ?`,
    ),
    selectRedrivable: prepare(
      `SELECT d.url_key FROM dead_letters d JOIN messages m ON m.url_key = d.url_key
       WHERE m.body IS NOT NULL AND m.state = 'dead' ORDER BY d.dead_at, d.url_key LIMIT ?`,
    ),
    requeueDead: prepare(
      `UPDATE messages SET state = 'queued', visible_at = ?, receive_count = 0, claimed_by = NULL, outcome = NULL,
         last_code = NULL, last_reason = NULL, finished_at = NULL
       WHERE url_key = ? AND state = 'dead'`,
    ),
    deleteDeadLetter: prepare("DELETE FROM dead_letters WHERE url_key = ?"),
    deleteDeadLetters: prepare("DELETE FROM dead_letters"),
    selectDeadLetters: prepare("SELECT url, raw_line, source, line, code, reason, attempts, dead_at FROM dead_letters ORDER BY dead_at, url_key"),
    countDeadLetters: prepare("SELECT COUNT(*) AS n FROM dead_letters"),
  };
}

/**
 * SQLite's "file is not a database" (SQLITE_NOTADB) and "database disk image is
 * malformed" (SQLITE_CORRUPT) mean the file is not a queue this code can read
 * (https://www.sqlite.org/rescode.html); anything else is passed on as it is.
 */
function asQueueFileError(path: string, error: unknown): unknown {
  if (error instanceof QueueFileError) return error;
  const errcode = error instanceof Error && "errcode" in error ? error.errcode : undefined;
  if (errcode === SQLITE_NOTADB || errcode === SQLITE_CORRUPT) return new QueueFileError(path, error instanceof Error ? error.message : String(error));
  return error;
}

/**
 * Tables in a file this code never stamped with a schema version, none of them
 * the queue's own: creating the queue there would mix it into another program's
 * data. (A run killed between creating the tables and stamping the version
 * leaves `messages` behind, and that file is still taken as ours.)
 */
function isSomeoneElsesDatabase(db: DatabaseSync): boolean {
  const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all().map((row) => String(row.name));
  return tables.length > 0 && !tables.includes("messages");
}

const SQLITE_CORRUPT = 11;
const SQLITE_NOTADB = 26;

function receipt(seq: number, receiveCount: number): string {
  return `${seq}:${receiveCount}`;
}

function parseReceipt(id: string): { seq: number; count: number } {
  const match = /^(\d+):(\d+)$/.exec(id);
  if (!match) throw new RangeError(`not a local queue receipt: ${JSON.stringify(id)} (expected "<seq>:<receive count>")`);
  return { seq: Number(match[1]), count: Number(match[2]) };
}

function readMessageRow(row: Record<string, SQLOutputValue>): MessageRow {
  return {
    seq: toNumber(row.seq),
    key: String(row.url_key),
    input: String(row.input),
    ...(typeof row.body === "string" ? { body: row.body } : {}),
    ...readOrigin(row),
    receiveCount: toNumber(row.receive_count),
    ...(isErrorCode(row.last_code) ? { lastCode: row.last_code } : {}),
    ...(typeof row.last_reason === "string" ? { lastReason: row.last_reason } : {}),
  };
}

function readOrigin(row: Record<string, SQLOutputValue>): { origin?: Origin } {
  return typeof row.source === "string" ? { origin: { source: row.source, line: toNumber(row.line) } } : {};
}

function readOwner(row: Record<string, SQLOutputValue>): RunOwner {
  return {
    runId: String(row.run_id),
    pid: toNumber(row.pid),
    host: String(row.host),
    startedAt: toNumber(row.started_at),
    heartbeatAt: toNumber(row.heartbeat_at),
  };
}

function isErrorCode(value: SQLOutputValue | undefined): value is ErrorCode {
  return typeof value === "string" && Object.hasOwn(ERROR_CODES, value);
}

function toNumber(value: SQLOutputValue | undefined): number {
  return typeof value === "number" ? value : typeof value === "bigint" ? Number(value) : 0;
}
