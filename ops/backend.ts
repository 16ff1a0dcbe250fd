/**
 * The one contract every operations backend implements: the local fleet
 * (`ops/backends/local.ts`) and each cloud (`ops/backends/<cloud>.ts`, a thin
 * adapter over that cloud's SDK). The commands in `ops/commands/` only speak
 * this contract, so `enqueue`, `status`, `pause`, `settings`, `dead-letters`
 * and `results export` mean the same on every backend.
 */
import type { ScrapeMessage } from "../shared/message";
import type { ResultObjectSource } from "../shared/resultReader";
import { OpsUsageError } from "./errors";

/** How large a batch the queue takes, and how many may be in flight. */
export interface BatchLimits {
  /** Messages per batch: SQS 10, Pub/Sub 1,000, the local queue 500. */
  readonly maxMessages: number;
  /** Bytes of message bodies per batch: SQS 256 KiB, Pub/Sub 10 MB. */
  readonly maxBytes: number;
  /** Batches sent at once. */
  readonly inFlight: number;
}

/** One entry of a batch that the queue refused. */
export interface RefusedEntry {
  /** Its index in the batch sent. */
  readonly index: number;
  /** The queue's code and message, such as `InternalError: try again`. */
  readonly reason: string;
  /** Whether sending it again may succeed (throttling, a server error), or never will (too large, invalid). */
  readonly retryable: boolean;
}

/** A dead letter as `dead-letters list` shows it. */
export interface DeadLetterEntry {
  /** The message's URL, when the body is a readable message. */
  readonly url?: string;
  /** The body as the queue holds it, when it is not a readable message. */
  readonly body?: string;
  /** The error code the worker recorded, when the backend keeps one. */
  readonly code?: string;
  /** Why it was dead-lettered, as far as the backend knows. */
  readonly reason?: string;
  /** Deliveries made before it was dead-lettered. */
  readonly attempts?: number;
  /** When it was dead-lettered (or sent, where the queue keeps only that), ISO 8601. */
  readonly time?: string;
}

/** The figures `status` shows. A figure the backend cannot read is left out, not guessed. */
export interface FleetStatus {
  /** Messages waiting to be delivered. */
  readonly backlog: number;
  /** Messages delivered and not yet answered (Service Bus counts them among the active ones and reports no figure). */
  readonly inFlight?: number;
  /** Age of the oldest waiting message, in seconds. */
  readonly oldestAgeSeconds?: number;
  readonly deadLetters: number;
  /** The trigger that delivers messages to workers runs (`false`: paused by `fleet pause`). */
  readonly triggerEnabled: boolean;
  /** The settings store's `enabled`. */
  readonly settingsEnabled: boolean;
  /** Pages finished per minute over `windowMinutes`. */
  readonly pagesPerMinute?: number;
  /** Outcomes over `windowMinutes`, by outcome (`ok`, `failed`, `retry`, `malformed`, `dead`). */
  readonly outcomes?: Readonly<Record<string, number>>;
  /**
   * Time to fetch a page, redirects included (the fleet's `FetchLatencyMs`),
   * averaged over the pages fetched in `windowMinutes`; left out when none was
   * fetched or the backend keeps no such figure (the local fleet).
   */
  readonly fetchLatency?: FetchLatency;
  /** The window the rate and the outcomes cover. */
  readonly windowMinutes: number;
  /** Figures that could not be read this time, each with why and the fix; the rest of the status stands. */
  readonly unread?: readonly string[];
}

/**
 * The `unread` note for figures a status could not read: which, why, and the
 * permission they need. The queue's own figures do not depend on them, so an
 * operator allowed to pause or enqueue but not to read metrics still sees
 * the fleet's state.
 */
export function unreadNote(figures: string, why: string, needs: string): string {
  return `${figures}: ${why}; they need ${needs}`;
}

/** Pages finished a minute over the window: stored ok or failed, and dead-lettered where the backend counts those (`dead`). */
export function pagesPerMinute(outcomes: Readonly<Record<string, number>>, windowMinutes: number): number {
  return ((outcomes.ok ?? 0) + (outcomes.failed ?? 0) + (outcomes.dead ?? 0)) / windowMinutes;
}

/** The fetch times of a window's pages, as the fleet's metrics hold them. */
export interface FetchLatency {
  /** Pages fetched (a page answered from no fetch, such as a blocked domain, is not one). */
  readonly pages: number;
  /** Their average fetch time, ms. */
  readonly averageMs: number;
}

/** The settings store's document and its version, where the store keeps versions. */
export interface StoredSettings {
  /** The document as stored: a JSON object (missing keys take their defaults). */
  readonly document: Readonly<Record<string, unknown>>;
  /** SSM parameter version, App Configuration etag, Parameter Manager version, the file's mtime. */
  readonly version?: string;
}

export interface RedriveProgress {
  readonly moved: number;
}

export interface RedriveOptions {
  /** Messages per second, where the cloud's move takes a rate (SQS `MaxNumberOfMessagesPerSecond`). */
  readonly ratePerSecond?: number;
}

export interface FleetBackend extends ResultObjectSource {
  /** What the commands print as the target, such as `aws stack aws-prod` or `local fleet ./run`. */
  readonly description: string;
  /** What the work queue is, the same however the target was named (the queue URL, the local folder's absolute path); enqueue checkpoints record it. */
  readonly queueId: string;
  readonly limits: BatchLimits;

  /** Sends one batch (within `limits`); returns the entries refused, none when all were taken. */
  sendBatch(messages: readonly ScrapeMessage[]): Promise<readonly RefusedEntry[]>;

  status(windowMinutes: number): Promise<FleetStatus>;

  /**
   * Stops the trigger that delivers messages to workers (`running: false`),
   * or restores it as deployed. Idempotent. The local fleet has none: its runs
   * read `enabled` only. `pauseFleet` and `resumeFleet` pair it with the
   * settings' `enabled`, in the order that spends no delivery.
   */
  setTrigger(running: boolean): Promise<void>;

  readSettings(): Promise<StoredSettings>;
  /** Writes an already validated document; returns the new version. */
  writeSettings(document: Readonly<Record<string, unknown>>): Promise<StoredSettings>;

  /** Dead letters without taking them off the queue, at most `limit`. */
  listDeadLetters(limit: number): Promise<readonly DeadLetterEntry[]>;
  /**
   * Moves up to `limit` dead letters (all when undefined) back to the work
   * queue, each one sent before it is removed from the dead letters, so a
   * crash can duplicate a message but never drop one. Returns how many moved.
   */
  redriveDeadLetters(limit: number | undefined, onProgress: (progress: RedriveProgress) => void, signal: AbortSignal, options?: RedriveOptions): Promise<number>;
  /** Deletes every dead letter; returns how many (when the queue says). */
  purgeDeadLetters(): Promise<number | undefined>;

  /**
   * The results store's object names under `prefix`, page by page through the
   * store's own paging. `results export` reads them with `newestResults`
   * (shared/resultReader.ts), which keeps one record per URL.
   */
  listResultObjects(prefix: string, signal: AbortSignal): AsyncIterable<string>;
  /** One results object's bytes, streamed. */
  readResultObject(name: string, signal: AbortSignal): AsyncIterable<Uint8Array | string>;

  /** Releases clients and files. */
  close(): Promise<void>;
}

/** Sets the settings' `enabled`, writing nothing when it already holds. */
async function setSettingsEnabled(backend: FleetBackend, enabled: boolean): Promise<void> {
  const { document } = await backend.readSettings();
  if (document.enabled === enabled) return;
  await backend.writeSettings({ ...document, enabled });
}

/**
 * `fleet pause`: the trigger first, so no message is delivered to a worker
 * that would only hold it (spending one of its deliveries on Azure), then
 * `enabled: false`, which stops workers already running.
 */
export async function pauseFleet(backend: FleetBackend): Promise<void> {
  await backend.setTrigger(false);
  await setSettingsEnabled(backend, false);
}

/** `fleet resume`: `enabled: true` first, so the first messages the trigger delivers are worked on, then the trigger. */
export async function resumeFleet(backend: FleetBackend): Promise<void> {
  await setSettingsEnabled(backend, true);
  await backend.setTrigger(true);
}

/** How a stored settings document gets fixed from the command line. */
export const SETTINGS_EDIT_FIX = "write a valid document with `npm run fleet -- settings edit`";

/**
 * A settings document as a store holds it (`where` names the store): a JSON
 * object, or an `OpsUsageError` naming the store, what is wrong and `fix`.
 */
export function parseSettingsText(text: string, where: string, fix: string): Record<string, unknown> {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw new OpsUsageError(`${where} is not JSON (${JSON.stringify(text.slice(0, 80))}); ${fix}`);
  }
  if (typeof document !== "object" || document === null || Array.isArray(document)) throw new OpsUsageError(`${where} must hold a JSON object; ${fix}`);
  return document as Record<string, unknown>;
}
