/**
 * The enqueue checkpoint: which lines of an input have been sent, as merged
 * line ranges, so a re-run after Ctrl-C or a crash sends no line twice and
 * skips none. Ranges rather than one watermark because several batches are in
 * flight and finish out of order; a batch's failed entries stay out of the
 * ranges, so the re-run sends them.
 *
 * Saved whole and atomically (temporary file, then rename) after batches
 * finish, one write at a time. After Ctrl-C the file is exact; after kill -9
 * only the batches acknowledged in the instant before the kill can be sent
 * again, and a repeated message overwrites its own result record.
 */
import { describeError } from "../shared/errors";
import { readFile } from "node:fs/promises";
import { writeFileAtomic } from "../functions/local/atomicFile";
import { OpsUsageError } from "./errors";

const CHECKPOINT_VERSION = 1;

interface CheckpointDocument {
  readonly version: typeof CHECKPOINT_VERSION;
  /** The fleet the lines were sent to; a checkpoint for another fleet is refused. */
  readonly target: string;
  /** Sent lines, 1-based, as sorted disjoint inclusive ranges. */
  readonly sent: readonly (readonly [number, number])[];
}

export class EnqueueCheckpoint {
  private writing: Promise<void> | undefined;
  private dirty = false;

  private constructor(
    readonly path: string,
    private readonly target: string,
    private ranges: [number, number][],
  ) {}

  /** Reads the checkpoint at `path`, or starts an empty one. Throws `OpsUsageError` for a checkpoint of another fleet or an unreadable file. */
  static async open(path: string, target: string): Promise<EnqueueCheckpoint> {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (error) {
      if (error instanceof Error && "code" in error && error.code === "ENOENT") return new EnqueueCheckpoint(path, target, []);
      throw new OpsUsageError(`the checkpoint ${path} cannot be read (${describeError(error)}); fix its permissions or pass --checkpoint FILE`);
    }
    const document = parseDocument(text);
    if (!document) {
      throw new OpsUsageError(`the checkpoint ${path} is not an enqueue checkpoint; delete it to send the whole input again, or pass --checkpoint FILE`);
    }
    if (document.target !== target) {
      throw new OpsUsageError(
        `the checkpoint ${path} records lines sent to ${document.target}, not ${target}; pass --checkpoint FILE for a separate one, or delete it to send the whole input to ${target}`,
      );
    }
    return new EnqueueCheckpoint(path, target, document.sent.map(([first, last]) => [first, last]));
  }

  /** Whether `line` was sent by an earlier run (or this one). */
  has(line: number): boolean {
    let low = 0;
    let high = this.ranges.length - 1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      const [first, last] = this.ranges[middle] as [number, number];
      if (line < first) high = middle - 1;
      else if (line > last) low = middle + 1;
      else return true;
    }
    return false;
  }

  /** Lines recorded as sent. */
  get sentLines(): number {
    return this.ranges.reduce((sum, [first, last]) => sum + last - first + 1, 0);
  }

  /** Records lines as sent (any order) and saves soon. */
  add(lines: readonly number[]): void {
    for (const line of lines) this.insert(line);
    this.dirty = true;
    this.writing ??= this.flush();
  }

  /** Waits until every recorded line is on disk. */
  async save(): Promise<void> {
    while (this.writing) await this.writing;
    if (this.dirty) {
      this.writing = this.flush();
      await this.writing;
    }
  }

  private async flush(): Promise<void> {
    try {
      while (this.dirty) {
        this.dirty = false;
        const document: CheckpointDocument = { version: CHECKPOINT_VERSION, target: this.target, sent: this.ranges };
        await writeFileAtomic(this.path, `${JSON.stringify(document)}\n`);
      }
    } finally {
      this.writing = undefined;
    }
  }

  private insert(line: number): void {
    // Find the first range ending at or after line - 1 (one that line extends or falls in).
    let index = 0;
    let low = 0;
    let high = this.ranges.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if ((this.ranges[middle] as [number, number])[1] < line - 1) low = middle + 1;
      else high = middle;
    }
    index = low;
    const range = this.ranges[index];
    if (!range || range[0] > line + 1) {
      this.ranges.splice(index, 0, [line, line]);
      return;
    }
    range[0] = Math.min(range[0], line);
    range[1] = Math.max(range[1], line);
    const next = this.ranges[index + 1];
    if (next && next[0] <= range[1] + 1) {
      range[1] = Math.max(range[1], next[1]);
      this.ranges.splice(index + 1, 1);
    }
  }
}

function parseDocument(text: string): CheckpointDocument | undefined {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== "object" || value === null) return undefined;
    const record = value as Record<string, unknown>;
    const ranges = record.sent;
    const valid =
      record.version === CHECKPOINT_VERSION &&
      typeof record.target === "string" &&
      Array.isArray(ranges) &&
      ranges.every((range) => Array.isArray(range) && range.length === 2 && range.every((n) => Number.isInteger(n) && n >= 1) && range[0] <= range[1]);
    return valid ? (record as unknown as CheckpointDocument) : undefined;
  } catch {
    return undefined;
  }
}
