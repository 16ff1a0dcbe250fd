/**
 * Helpers for the operations command's tests: a `CommandIo` that collects
 * output, and a recording backend that plays the contract's other side for the
 * command logic (batching, re-sends, checkpoints); the backends themselves are
 * tested against real stores and loopback fakes.
 */
import { PassThrough } from "node:stream";
import type { ScrapeMessage } from "../../shared/message";
import type { FleetBackend, FleetStatus, RefusedEntry, StoredSettings } from "../../ops/backend";
import type { CommandIo } from "../../ops/command";

export interface CapturedIo extends CommandIo {
  out(): string;
  err(): string;
  readonly controller: AbortController;
}

export function captureIo(options: { readonly cwd?: string; readonly stdin?: string; readonly env?: NodeJS.ProcessEnv; readonly tty?: boolean } = {}): CapturedIo {
  let out = "";
  let err = "";
  const stdin = new PassThrough();
  stdin.end(options.stdin ?? "");
  const stdout = new PassThrough();
  stdout.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")));
  const stderr = Object.assign(new PassThrough(), { isTTY: options.tty ?? false, columns: 100 });
  stderr.on("data", (chunk: Buffer) => (err += chunk.toString("utf8")));
  const controller = new AbortController();
  return { stdin, stdout, stderr, env: options.env ?? { ...process.env }, cwd: options.cwd ?? process.cwd(), signal: controller.signal, controller, out: () => out, err: () => err };
}

/**
 * A backend that records every message it is sent. `refuse` decides per send
 * call which entries to refuse; `afterSend` runs after each call (to abort
 * mid-run).
 */
export class RecordingBackend implements FleetBackend {
  readonly description = "recording backend";
  readonly queueId = "recording";
  readonly received: ScrapeMessage[] = [];
  calls = 0;

  constructor(
    readonly limits = { maxMessages: 10, maxBytes: 256 * 1024, inFlight: 4 },
    private readonly refuse: (call: number, messages: readonly ScrapeMessage[]) => readonly RefusedEntry[] | Error = () => [],
    private readonly afterSend: (call: number) => void = () => undefined,
  ) {}

  async sendBatch(messages: readonly ScrapeMessage[]): Promise<readonly RefusedEntry[]> {
    this.calls += 1;
    const call = this.calls;
    await new Promise((done) => setImmediate(done));
    const refused = this.refuse(call, messages);
    if (refused instanceof Error) throw refused;
    const refusedIndexes = new Set(refused.map((entry) => entry.index));
    messages.forEach((message, index) => {
      if (!refusedIndexes.has(index)) this.received.push(message);
    });
    this.afterSend(call);
    return refused;
  }

  async status(windowMinutes: number): Promise<FleetStatus> {
    return { backlog: this.received.length, inFlight: 0, deadLetters: 0, triggerEnabled: true, settingsEnabled: true, windowMinutes };
  }
  async setTrigger(_running: boolean): Promise<void> {}
  async readSettings(): Promise<StoredSettings> {
    return { document: {} };
  }
  async writeSettings(document: Readonly<Record<string, unknown>>): Promise<StoredSettings> {
    return { document };
  }
  async listDeadLetters() {
    return [];
  }
  async redriveDeadLetters(): Promise<number> {
    return 0;
  }
  async purgeDeadLetters(): Promise<number> {
    return 0;
  }
  async *listResultObjects(): AsyncIterable<string> {}
  async *readResultObject(): AsyncIterable<Uint8Array> {}
  async close(): Promise<void> {}
}

/** Resolves once `check` holds, polling every 20 ms; fails the test after `ms`, naming `what` it waited for. */
export async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 20));
  }
}
