/**
 * Progress on stderr for the long operations (enqueue, redrive, export): a bar
 * redrawn in place on a terminal, plain lines every few seconds otherwise (a
 * CI log has no use for carriage returns). Data never goes here: stdout stays
 * clean for `--json` and exported records.
 */
import type { CommandIo } from "./command";

export interface ProgressOptions {
  /** What is counted, such as "messages sent". */
  readonly unit: string;
  /** Known total, for the bar and the percentage (bytes read of the input, for enqueue). */
  readonly total?: () => { readonly done: number; readonly of: number } | undefined;
  /** Redraw interval on a terminal, ms. @default 200 */
  readonly ttyIntervalMs?: number;
  /** Interval between plain lines, ms. @default 5000 */
  readonly lineIntervalMs?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

export class Progress {
  private count = 0;
  private readonly startedAt: number;
  private readonly now: () => number;
  private readonly timer: NodeJS.Timeout;
  private shown = false;

  constructor(
    private readonly stderr: CommandIo["stderr"],
    private readonly options: ProgressOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.startedAt = this.now();
    const tty = stderr.isTTY === true;
    this.timer = setInterval(() => this.draw(), tty ? (options.ttyIntervalMs ?? 200) : (options.lineIntervalMs ?? 5_000));
    // Progress must never be what keeps a finished command alive.
    this.timer.unref();
  }

  add(count: number): void {
    this.count += count;
  }

  get done(): number {
    return this.count;
  }

  /** Per second since the start; undefined before the first second. */
  rate(): number | undefined {
    const seconds = (this.now() - this.startedAt) / 1_000;
    return seconds >= 1 ? this.count / seconds : undefined;
  }

  /** A line that must not land inside the bar. */
  log(line: string): void {
    if (this.shown) this.stderr.write("\r\x1b[2K");
    this.stderr.write(`${line}\n`);
    this.shown = false;
  }

  /** One line of figures: count, rate, and the share of the input done when known. */
  describe(): string {
    const rate = this.rate();
    const total = this.options.total?.();
    const share = total && total.of > 0 ? ` (${Math.floor((total.done / total.of) * 100)}% of the input)` : "";
    return `${this.count} ${this.options.unit}${share}, ${rate === undefined ? "–" : rate.toFixed(0)}/s`;
  }

  private draw(): void {
    if (this.stderr.isTTY === true) {
      const total = this.options.total?.();
      const width = 20;
      const filled = total && total.of > 0 ? Math.min(width, Math.round((total.done / total.of) * width)) : 0;
      const bar = total ? `${"█".repeat(filled)}${"░".repeat(width - filled)} ` : "";
      // \r returns to the line start; ESC[2K erases the line (ECMA-48 EL, "erase in line").
      this.stderr.write(`\r\x1b[2K${bar}${this.describe()}`);
      this.shown = true;
    } else {
      this.stderr.write(`progress: ${this.describe()}\n`);
    }
  }

  /** Stops redrawing and leaves the last figures on their own line. */
  stop(): void {
    clearInterval(this.timer);
    if (this.shown) this.stderr.write("\r\x1b[2K");
    this.shown = false;
  }
}
