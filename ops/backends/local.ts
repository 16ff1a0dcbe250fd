/**
 * The local fleet as an operations backend: its folder (`npm start -- --out
 * DIR`) holds the SQLite queue, the results and the dead letters; its settings
 * are the JSON file the run follows (`--config`, by convention
 * DIR/settings.json). A run started with that `--config` follows `pause`,
 * `resume` and `settings set` within a second; the queue is shared safely with
 * a running fleet (SQLite WAL, every write one transaction).
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { encodeMessage, type ScrapeMessage } from "../../shared/message";
import { normalizeUrl } from "../../shared/result";
import { FileResultStore } from "../../functions/local/resultStore";
import { writeFileAtomic } from "../../functions/local/atomicFile";
import { DEAD_LETTERS_FILE, writeDeadLetters } from "../../functions/local/deadLetters";
import { QUEUE_FILE } from "../../functions/local/cli";
import { LocalQueue } from "../../functions/local/queue";
import { pagesPerMinute, parseSettingsText, type FleetBackend, type FleetStatus, type RefusedEntry, type StoredSettings } from "../backend";
import { OpsUsageError } from "../errors";

/** The settings file `--local DIR` uses when `--config` is not given. */
export const LOCAL_SETTINGS_FILE = "settings.json";

/** Dead letters moved back per transaction, so a running fleet is never locked out for long. */
const REDRIVE_CHUNK = 500;

export interface LocalBackendOptions {
  readonly directory: string;
  /** The folder as the user typed it, for messages. */
  readonly shownAs: string;
  /** @default DIR/settings.json */
  readonly settingsFile?: string;
  /** Create the folder and the queue when missing. */
  readonly create: boolean;
}

export async function openLocalBackend(options: LocalBackendOptions): Promise<FleetBackend> {
  const queuePath = join(options.directory, QUEUE_FILE);
  if (!existsSync(queuePath)) {
    if (!options.create) {
      throw new OpsUsageError(`${options.shownAs} holds no local fleet (no ${QUEUE_FILE}); pass the --out DIR of \`npm start\`, or fill a new one with \`npm run fleet -- enqueue FILE --local ${options.shownAs}\``);
    }
    await mkdir(options.directory, { recursive: true });
  }
  const queue = LocalQueue.open(queuePath);
  const settingsFile = options.settingsFile ?? join(options.directory, LOCAL_SETTINGS_FILE);
  return new LocalBackend(queue, options, settingsFile);
}

class LocalBackend implements FleetBackend {
  readonly description: string;
  readonly queueId: string;
  /** One SQLite transaction per batch; 500 rows keep each one short. */
  readonly limits = { maxMessages: 500, maxBytes: 16 * 1024 * 1024, inFlight: 1 };
  /** DIR/results/ and DIR/results/batches/, read as the fleet wrote them. */
  private readonly results: FileResultStore;

  constructor(
    private readonly queue: LocalQueue,
    private readonly options: LocalBackendOptions,
    private readonly settingsFile: string,
  ) {
    this.description = `local fleet ${options.shownAs}`;
    this.queueId = `local:${options.directory}`;
    this.results = new FileResultStore(options.directory);
  }

  async sendBatch(messages: readonly ScrapeMessage[]): Promise<readonly RefusedEntry[]> {
    // A URL already in the queue is not added again: the local queue keys messages by URL.
    this.queue.enqueue(messages.map((message) => ({ key: normalizeUrl(message.url), url: message.url, body: encodeMessage(message) })));
    return [];
  }

  async status(windowMinutes: number): Promise<FleetStatus> {
    const counts = this.queue.counts();
    const now = Date.now();
    const oldest = this.queue.oldestQueuedAt();
    const recent = this.queue.finishedSince(now - windowMinutes * 60_000);
    const { document } = await this.readSettings();
    const enabled = document.enabled !== false;
    return {
      backlog: counts.waiting + counts.retrying,
      inFlight: counts.inFlight,
      ...(oldest === undefined ? {} : { oldestAgeSeconds: Math.max(0, Math.round((now - oldest) / 1_000)) }),
      deadLetters: this.queue.deadLetterCount(),
      triggerEnabled: enabled,
      settingsEnabled: enabled,
      pagesPerMinute: pagesPerMinute(recent, windowMinutes),
      outcomes: recent,
      windowMinutes,
    };
  }

  /** The local fleet has no trigger: a run reads `enabled` from the settings file on each refill. */
  async setTrigger(): Promise<void> {}

  async readSettings(): Promise<StoredSettings> {
    let text: string;
    try {
      text = await readFile(this.settingsFile, "utf8");
    } catch (error) {
      // No file: the fleet runs on the defaults.
      if (error instanceof Error && "code" in error && error.code === "ENOENT") return { document: {} };
      throw error;
    }
    const document = parseSettingsText(text, this.settingsFile, `fix it by hand, or write it again with \`npm run fleet -- settings set KEY=VALUE --local ${this.options.shownAs}\``);
    return { document, version: (await stat(this.settingsFile)).mtime.toISOString() };
  }

  async writeSettings(document: Readonly<Record<string, unknown>>): Promise<StoredSettings> {
    await writeFileAtomic(this.settingsFile, `${JSON.stringify(document, null, 2)}\n`);
    return { document, version: (await stat(this.settingsFile)).mtime.toISOString() };
  }

  async listDeadLetters(limit: number) {
    return this.queue
      .deadLetters()
      .slice(0, limit)
      .map((letter) => ({
        ...(letter.url === undefined ? {} : { url: letter.url }),
        ...(letter.rawLine === undefined ? {} : { body: letter.rawLine }),
        code: letter.code,
        reason: letter.reason,
        attempts: letter.attempts,
        time: new Date(letter.deadAt).toISOString(),
      }));
  }

  async redriveDeadLetters(limit: number | undefined, onProgress: (progress: { moved: number }) => void, signal: AbortSignal): Promise<number> {
    let moved = 0;
    while (!signal.aborted && (limit === undefined || moved < limit)) {
      const step = this.queue.redriveDeadLetters(Math.min(REDRIVE_CHUNK, (limit ?? Number.POSITIVE_INFINITY) - moved));
      if (step === 0) break;
      moved += step;
      onProgress({ moved });
    }
    await this.rewriteDeadLettersFile();
    return moved;
  }

  async purgeDeadLetters(): Promise<number> {
    const purged = this.queue.purgeDeadLetters();
    await this.rewriteDeadLettersFile();
    return purged;
  }

  /** DIR/dead-letters.jsonl mirrors the table; a run rewrites it too. */
  private async rewriteDeadLettersFile(): Promise<void> {
    await writeDeadLetters(join(this.options.directory, DEAD_LETTERS_FILE), this.queue.deadLetters());
  }

  listResultObjects(prefix: string, signal: AbortSignal): AsyncIterable<string> {
    return this.results.listResultObjects(prefix, signal);
  }

  readResultObject(name: string, signal: AbortSignal): AsyncIterable<Uint8Array> {
    return this.results.readResultObject(name, signal);
  }

  async close(): Promise<void> {
    this.queue.close();
  }
}
