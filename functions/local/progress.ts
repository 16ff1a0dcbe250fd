/**
 * What the person running the fleet sees: a progress bar redrawn in place on a
 * terminal, plain periodic lines when stderr is a file or a pipe (a CI log has
 * no use for carriage returns), and the closing summary.
 */
import type { MetricsSnapshot } from "./metrics";
import { finishedCount, type FailureState, type QueueCounts } from "./queue";

/** The figures one progress line is drawn from. */
export interface ProgressState {
  readonly counts: QueueCounts;
  /** URLs already finished (ok, failed or dead) when this run started. */
  readonly finishedAtStart: number;
  /** Epoch ms. */
  readonly startedAt: number;
  readonly now: number;
  /** The settings say `enabled: false`. */
  readonly paused: boolean;
  /** A stop was asked for; the pages in flight are finishing. */
  readonly stopping: boolean;
  /**
   * Where the recent rate is measured from: the finished count at the start
   * of the last `RATE_WINDOW_MS` (`ProgressDisplay` keeps it). Without it the
   * rate is this run's average.
   */
  readonly rateFrom?: RateSample;
  /** When a URL last finished (epoch ms), if one has in this run. */
  readonly lastFinishedAt?: number;
}

/** Below this the pause since the last finished page is no stall worth saying. */
const STALL_MIN_MS = 5_000;

export interface RateSample {
  /** Epoch ms. */
  readonly at: number;
  /** URLs finished (ok, failed or dead) at that time. */
  readonly finished: number;
}

/**
 * The rate, and the ETA from it, look at the last 30 s only: a run-long
 * average keeps promising "0:01" while the last page stalls for a minute,
 * and hides a host that has slowed down.
 */
export const RATE_WINDOW_MS = 30_000;

export interface ProgressFigures {
  readonly finished: number;
  readonly total: number;
  /** URLs finished per second in this run; undefined until there is a second of data. */
  readonly pagesPerSecond?: number;
  readonly etaMs?: number;
  /** How long nothing has finished, when that is far longer than the rate leads one to expect. */
  readonly stalledMs?: number;
}

export function progressFigures(state: ProgressState): ProgressFigures {
  const { counts } = state;
  const finished = finishedCount(counts);
  const from = state.rateFrom ?? { at: state.startedAt, finished: state.finishedAtStart };
  const elapsedMs = state.now - from.at;
  if (elapsedMs < 1_000) return { finished, total: counts.total };
  const pagesPerSecond = Math.max(0, finished - from.finished) / (elapsedMs / 1_000);
  const quietMs = state.lastFinishedAt === undefined ? 0 : state.now - state.lastFinishedAt;
  // Nothing finished in the window: no honest ETA, only the rate of 0 (and how long it has been, when pages had finished before).
  if (pagesPerSecond === 0) return { finished, total: counts.total, pagesPerSecond, ...(quietMs > STALL_MIN_MS ? { stalledMs: quietMs } : {}) };
  // A page that stalls must not leave the ETA promising "0:01": past three expected gaps, say how long it has been instead.
  if (finished < counts.total && quietMs > STALL_MIN_MS && quietMs > 3_000 / pagesPerSecond) return { finished, total: counts.total, pagesPerSecond, stalledMs: quietMs };
  return { finished, total: counts.total, pagesPerSecond, etaMs: ((counts.total - finished) / pagesPerSecond) * 1_000 };
}

/** Width assumed when the terminal does not report one (a pty without a size reports 0). */
const FALLBACK_COLUMNS = 100;

/** The line drawn under a terminal's cursor: bar, counts, rate, ETA; cut to `columns`. */
export function renderBar(state: ProgressState, reportedColumns?: number): string {
  const columns = reportedColumns && reportedColumns >= 20 ? reportedColumns : FALLBACK_COLUMNS;
  const figures = progressFigures(state);
  const width = 20;
  const filled = figures.total === 0 ? width : Math.round((figures.finished / figures.total) * width);
  const bar = `${"█".repeat(filled)}${"░".repeat(width - filled)}`;
  const line = `${bar} ${describeFigures(state, figures)}`;
  return line.length >= columns ? `${line.slice(0, Math.max(0, columns - 2))}…` : line;
}

/** A line for a log: the same figures, no control characters. */
export function renderLine(state: ProgressState): string {
  return `progress: ${describeFigures(state, progressFigures(state))}`;
}

function describeFigures(state: ProgressState, figures: ProgressFigures): string {
  const { counts } = state;
  const percent = figures.total === 0 ? 100 : Math.floor((figures.finished / figures.total) * 100);
  const parts = [
    `${figures.finished}/${figures.total} (${percent}%)`,
    `ok ${counts.ok} · failed ${counts.failed} · retrying ${counts.retrying} · dead ${counts.dead} · in flight ${counts.inFlight}`,
    `${figures.pagesPerSecond === undefined ? "–" : figures.pagesPerSecond.toFixed(1)} pages/s`,
    `ETA ${figures.etaMs !== undefined ? formatDuration(figures.etaMs) : figures.stalledMs !== undefined ? `– (nothing finished for ${formatDuration(figures.stalledMs)})` : "–"}`,
  ];
  if (state.paused) parts.push("PAUSED (the settings say enabled: false)");
  if (state.stopping) parts.push(`stopping: finishing ${counts.inFlight} page(s) in flight`);
  return parts.join("  ");
}

/** `0:07`, `12:30`, `1:02:03`. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1_000));
  const hours = Math.floor(total / 3_600);
  const minutes = Math.floor((total % 3_600) / 60);
  const seconds = String(total % 60).padStart(2, "0");
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, "0")}:${seconds}` : `${minutes}:${seconds}`;
}

/** A stream the display writes to: stderr, or a test's collector. */
export interface OutputStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

export interface ProgressDisplayOptions {
  readonly stream: OutputStream;
  /** Redraw interval on a terminal, in ms. @default 250 */
  readonly ttyIntervalMs?: number;
  /** Interval between plain lines, in ms. @default 5000 */
  readonly lineIntervalMs?: number;
}

/**
 * The run's status output. Every line goes through `log`, before, during and
 * after the progress display, so a line printed mid-run does not land in the
 * middle of the bar.
 */
export class ProgressDisplay {
  private timer: NodeJS.Timeout | undefined;
  private read: (() => ProgressState) | undefined;
  private barShown = false;
  /** Finished counts seen on redraws, oldest first: one at or before the rate window's start, the rest inside it. */
  private samples: RateSample[] = [];
  private lastFinishedAt: number | undefined;

  constructor(private readonly options: ProgressDisplayOptions) {}

  /** The figures to draw now, with the recent rate's starting point. */
  private current(): ProgressState | undefined {
    if (!this.read) return undefined;
    const state = this.read();
    const { counts } = state;
    const finished = finishedCount(counts);
    // The run's start is the first sample: until a whole window has passed, the rate is the run's average.
    if (this.samples.length === 0) this.samples.push({ at: state.startedAt, finished: state.finishedAtStart });
    if (finished > (this.samples.at(-1)?.finished ?? finished)) this.lastFinishedAt = state.now;
    this.samples.push({ at: state.now, finished });
    while (this.samples.length > 1 && this.samples[1].at <= state.now - RATE_WINDOW_MS) this.samples.shift();
    return { ...state, rateFrom: this.samples[0], ...(this.lastFinishedAt === undefined ? {} : { lastFinishedAt: this.lastFinishedAt }) };
  }

  private get tty(): boolean {
    return this.options.stream.isTTY === true;
  }

  /** Starts drawing the figures `read` returns (it is called on every redraw). */
  start(read: () => ProgressState): void {
    this.read = read;
    const interval = this.tty ? (this.options.ttyIntervalMs ?? 250) : (this.options.lineIntervalMs ?? 5_000);
    this.timer = setInterval(() => this.draw(), interval);
    // The display must never be what keeps a finished run alive.
    this.timer.unref();
    if (this.tty) this.draw();
  }

  /** Redraws now (on a terminal) or writes a line now (elsewhere). */
  draw(): void {
    const state = this.current();
    if (!state) return;
    if (this.tty) {
      // \r returns to the line start; ESC[2K erases the line (ECMA-48 EL, "erase in line").
      this.options.stream.write(`\r\x1b[2K${renderBar(state, this.options.stream.columns)}`);
      this.barShown = true;
    } else {
      this.options.stream.write(`${renderLine(state)}\n`);
    }
  }

  /** Writes a whole line (above the bar while one is shown). */
  log(line: string): void {
    if (this.barShown) this.options.stream.write("\r\x1b[2K");
    this.options.stream.write(`${line}\n`);
    const state = this.barShown ? this.current() : undefined;
    if (state) this.options.stream.write(renderBar(state, this.options.stream.columns));
  }

  /** Stops redrawing; on a terminal leaves the final bar on its own line. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.tty && this.read) {
      this.draw();
      this.options.stream.write("\n");
    }
    this.barShown = false;
    this.read = undefined;
    this.samples = [];
    this.lastFinishedAt = undefined;
  }
}

export interface SummaryInput {
  readonly counts: QueueCounts;
  readonly failureCodes: readonly { readonly state: FailureState; readonly code: string; readonly count: number }[];
  readonly finishedAtStart: number;
  /** URLs earlier runs on the same directory finished. */
  readonly finishedByEarlierRuns: number;
  readonly elapsedMs: number;
  /** The output directory, as the user gave it. */
  readonly outDir: string;
  readonly resultsDir: string;
  /** The runtime setting `resultBatchMaxRecords` is above 1: records go in JSON Lines objects under `results/batches/`. @default false */
  readonly resultsBatched?: boolean;
  readonly deadLettersFile: string;
  /** Whether every URL ended as a result or a dead letter. */
  readonly complete: boolean;
  /** This run's fetch figures. */
  readonly traffic?: MetricsSnapshot;
  /** `--allow-private-networks` was given, so an `ssrf_refused` was about an address that stays refused. @default false */
  readonly privateNetworksAllowed?: boolean;
}

/** The closing summary: what ended how, how fast, and where to look. */
export function formatSummary(input: SummaryInput): string {
  const { counts } = input;
  const finished = finishedCount(counts);
  const codes = (state: FailureState): string =>
    input.failureCodes
      .filter((entry) => entry.state === state)
      .map((entry) => `${entry.code} ${entry.count}`)
      .join(", ");
  const row = (label: string, value: number, detail: string): string => `  ${label.padEnd(14)}${String(value).padStart(6)}${detail ? `   ${detail}` : ""}`;
  const answers = input.traffic ? Object.values(input.traffic.outcomes).reduce((sum, count) => sum + count, 0) : 0;
  return [
    headline(input),
    row("ok", counts.ok, ""),
    row("failed", counts.failed, codes("failed")),
    row("dead-lettered", counts.dead, codes("dead")),
    ...(counts.notUrls > 0 ? [row("not URLs", counts.notUrls, `${codes("not-url")} (lines of the list, kept in the dead letters)`)] : []),
    ...(input.complete ? [] : [row("not finished", counts.total - finished, "")]),
    ...(input.traffic && answers > 0 ? [describeTraffic(input.traffic, answers)] : []),
    input.resultsBatched
      ? `  results       ${input.resultsDir}  (records batched as JSON Lines in batches/; one per URL, the newest: npm run fleet -- results export --local ${input.outDir})`
      : `  results       ${input.resultsDir}  (one JSON record per URL, ok or failed)`,
    `  dead letters  ${input.deadLettersFile}`,
    ...(!input.privateNetworksAllowed && input.failureCodes.some((entry) => entry.code === "ssrf_refused") ? [SSRF_HINT] : []),
  ].join("\n");
}

/** Said once when any page was refused by the SSRF guard: the usual cause is a local test server. */
const SSRF_HINT = "ssrf_refused: loopback and private addresses are refused; for local testing pass --allow-private-networks";

function headline(input: SummaryInput): string {
  const { counts } = input;
  const finished = finishedCount(counts);
  const thisRun = finished - input.finishedAtStart;
  if (input.complete && counts.total === 0) {
    return `scrape-fleet: nothing to fetch: ${counts.notUrls === 1 ? "the one line of the list is not a URL" : `none of the ${counts.notUrls} lines of the list is a URL`}`;
  }
  if (input.complete && thisRun === 0 && input.finishedByEarlierRuns === counts.total) {
    return `scrape-fleet: nothing to do: all ${counts.total} were finished by earlier runs (delete ${input.outDir} to start over)`;
  }
  const seconds = input.elapsedMs / 1_000;
  const rate = seconds > 0 ? (thisRun / seconds).toFixed(1) : "–";
  const pace = `${thisRun} in ${seconds.toFixed(1)} s this run, ${rate} pages/s`;
  if (!input.complete) {
    return `scrape-fleet: stopped with ${finished} of ${counts.total} URLs finished (${pace}); run the same command again to resume the other ${counts.total - finished}`;
  }
  const earlier = input.finishedByEarlierRuns > 0 ? `; ${input.finishedByEarlierRuns} were finished by earlier runs` : "";
  return `scrape-fleet: all ${counts.total} URLs finished (${pace}${earlier})`;
}

function describeTraffic(traffic: MetricsSnapshot, answers: number): string {
  const fetched = traffic.outcomes.ok + traffic.outcomes.failed;
  const meanMs = fetched > 0 ? Math.round(traffic.fetchMs / fetched) : 0;
  return `  this run      ${answers} answers (${traffic.outcomes.retry} to retry), ${formatBytes(traffic.bytesOnWire)} on the wire, mean fetch ${meanMs} ms`;
}

/** `812 B`, `14.2 KB`, `3.1 MB` (powers of 1024). */
export function formatBytes(bytes: number): string {
  if (bytes < 1_024) return `${bytes} B`;
  if (bytes < 1_048_576) return `${(bytes / 1_024).toFixed(1)} KB`;
  return `${(bytes / 1_048_576).toFixed(1)} MB`;
}
