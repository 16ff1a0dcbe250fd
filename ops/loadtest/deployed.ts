/**
 * The deployed load test (`loadtest --stack NAME --target URL --count N`):
 * sends N messages for a page on a host the operator owns, through the same
 * batching, re-sends and backends as `enqueue`, then reads `status` (the
 * backend's queue counts and the fleet's own metrics) every interval until the
 * backlog and the messages in flight are gone, keeping each reading as one
 * sample of a time series.
 *
 * Every message carries its own query parameter (`?loadtest=<run>-<n>`), so
 * each is a distinct URL: the local queue keys messages by URL and every
 * results store keys records by URL, so repeats of one URL would be folded
 * into one page of work instead of N.
 */
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { TopLevelSpec } from "vega-lite";
import { ScrapeError, describeError } from "../../shared/errors";
import { parseMessage } from "../../shared/message";
import { checkUrl } from "../../shared/ssrf";
import type { FleetBackend, FleetStatus } from "../backend";
import type { CommandIo } from "../command";
import { sendMessages, type NumberedMessage } from "../send";
import { CredentialsError, OpsUsageError } from "../errors";
import { Progress } from "../progress";

/** The query parameter that makes each load-test URL distinct, and names the run in the results. */
export const LOADTEST_PARAMETER = "loadtest";

/** Status reads that may fail in a row (a throttled metrics API, a dropped connection) before the watch gives up. */
const STATUS_FAILURES_TOLERATED = 5;

export interface DeployedLoadTestOptions {
  readonly backend: FleetBackend;
  /** The page to load: an absolute http(s) URL on a host the operator owns. */
  readonly target: URL;
  /** Messages to send, 1 to 1,000,000. */
  readonly count: number;
  /** Names the run in every URL, message id and result record. @default a new `lt-<time>-<random>` */
  readonly runId?: string;
  /** Time between two status reads, ms. */
  readonly intervalMs: number;
  /** The watch stops after this long from the first send, drained or not, ms. */
  readonly timeoutMs: number;
  /** Minutes each reading's pages per minute and outcome shares cover (status's `--window`). */
  readonly windowMinutes: number;
  /** Its signal (Ctrl-C) stops the sending or the watch; what was recorded is kept. */
  readonly io: CommandIo;
  /** Batches sent at once. @default the backend's */
  readonly inFlight?: number;
}

/** One status reading during the run. */
export interface LoadTestSample {
  /** Seconds since the first message was sent. */
  readonly seconds: number;
  readonly time: string;
  readonly backlog: number;
  /** Left out where the backend counts none (Service Bus counts locked messages in the backlog). */
  readonly inFlight?: number;
  readonly deadLetters: number;
  /** Pages finished per minute over the window before the reading (the fleet's metrics; status's pages/min). */
  readonly pagesPerMinute?: number;
  /**
   * Messages gone from the queue (backlog and in flight) per minute since the
   * previous reading: the throughput between two readings, free of the
   * metrics' window and delay. Left out of the first reading.
   */
  readonly drainedPerMinute?: number;
  /** Pages by outcome over that window. */
  readonly outcomes?: Readonly<Record<string, number>>;
  /** The same as shares of their sum, 0 to 1. */
  readonly outcomeShares?: Readonly<Record<string, number>>;
}

export type LoadTestEnd = "drained" | "timeout" | "interrupted";

export interface DeployedLoadTestReport {
  /** The fleet, as the backend names it (`aws stack aws-prod`). */
  readonly fleet: string;
  /** The target as given; message n fetches it with `?loadtest=<run>-<n>`. */
  readonly target: string;
  readonly run: string;
  readonly count: number;
  /** Messages the queue took. */
  readonly sent: number;
  /** Messages the queue refused on every send. */
  readonly failed: number;
  readonly enqueueSeconds: number;
  readonly end: LoadTestEnd;
  /** Seconds from the first send to the last reading. */
  readonly seconds: number;
  /** Dead letters at the last reading less those before the first send. */
  readonly deadLettersAdded: number;
  readonly windowMinutes: number;
  readonly series: readonly LoadTestSample[];
}

/** A run id that sorts by time and does not repeat: `lt-<base-36 ms>-<6 hex>`. */
export function newRunId(now = Date.now()): string {
  return `lt-${now.toString(36)}-${randomBytes(3).toString("hex")}`;
}

/**
 * Checks `--target` with the workers' own URL check (shared/ssrf.ts
 * `checkUrl`): an absolute http(s) URL without credentials and, unless the
 * fleet may fetch private networks, not an IP literal in a private, loopback
 * or link-local range, which every deployed worker refuses (`ssrf_refused`)
 * without fetching. A name is not resolved here: the workers check what it
 * resolves to. Throws `OpsUsageError` naming the value and the fix.
 */
export function parseTarget(text: string, policy: { readonly allowPrivateNetworks: boolean }): URL {
  try {
    return checkUrl(text, policy);
  } catch (error) {
    if (!(error instanceof ScrapeError)) throw error;
    const fix = error.code === "ssrf_refused" ? "; a deployed fleet never fetches private addresses, so load a public host you own" : "";
    throw new OpsUsageError(`--target ${JSON.stringify(text)} would not be fetched: ${error.message}${fix}`);
  }
}

/** Message `n` of the run: the target with its own `loadtest` parameter, the run in its id and metadata. */
export function loadTestMessage(target: URL, runId: string, n: number): NumberedMessage {
  const url = new URL(target);
  url.searchParams.set(LOADTEST_PARAMETER, `${runId}-${n}`);
  return { number: n, message: parseMessage({ url: url.href, id: `${runId}-${n}`, metadata: { [LOADTEST_PARAMETER]: runId } }) };
}

/**
 * Whether a reading shows the run's work gone: nothing waiting and nothing in
 * flight, once work was seen. Cloud Monitoring shows Pub/Sub's counts a minute
 * or two late, so the first readings after the send can still show the empty
 * queue from before it: work counts as seen when a reading held some, or when
 * the window's finished pages (which then cover the whole run) reach the
 * messages sent.
 */
export function drained(sample: LoadTestSample, sawWork: boolean, sent: number, windowCoversRun: boolean): boolean {
  if (sample.backlog > 0 || (sample.inFlight ?? 0) > 0) return false;
  if (sawWork) return true;
  const outcomes = sample.outcomes ?? {};
  const finished = (outcomes.ok ?? 0) + (outcomes.failed ?? 0) + (outcomes.dead ?? 0);
  return windowCoversRun && finished >= sent;
}

/** A reading as a sample; `previous` gives the drain rate since it. Shares are left out of a window with no page. */
export function sampleOf(status: FleetStatus, startedAt: number, at: number, previous?: LoadTestSample): LoadTestSample {
  const outcomes = status.outcomes;
  const total = outcomes === undefined ? 0 : Object.values(outcomes).reduce((sum, value) => sum + value, 0);
  const seconds = Math.max(0, (at - startedAt) / 1_000);
  const queued = (sample: { readonly backlog: number; readonly inFlight?: number }) => sample.backlog + (sample.inFlight ?? 0);
  return {
    seconds,
    time: new Date(at).toISOString(),
    backlog: status.backlog,
    ...(status.inFlight === undefined ? {} : { inFlight: status.inFlight }),
    deadLetters: status.deadLetters,
    ...(status.pagesPerMinute === undefined ? {} : { pagesPerMinute: status.pagesPerMinute }),
    ...(previous === undefined || seconds <= previous.seconds ? {} : { drainedPerMinute: Math.max(0, ((queued(previous) - queued(status)) / (seconds - previous.seconds)) * 60) }),
    ...(outcomes === undefined ? {} : { outcomes }),
    ...(outcomes === undefined || total === 0 ? {} : { outcomeShares: Object.fromEntries(Object.entries(outcomes).map(([name, value]) => [name, value / total])) }),
  };
}

export async function runDeployedLoadTest(options: DeployedLoadTestOptions): Promise<DeployedLoadTestReport> {
  const { backend, target, count, io } = options;
  const runId = options.runId ?? newRunId();
  const before = await backend.status(options.windowMinutes);
  if (!before.triggerEnabled || !before.settingsEnabled) {
    // A paused fleet would hold every message until the timeout and report nothing about its scaling.
    throw new OpsUsageError(`${backend.description} is paused (${!before.triggerEnabled ? "trigger stopped" : "settings enabled: false"}); nothing would drain. Run \`npm run fleet -- resume\` with the same target first, then the load test`);
  }
  const startedAt = Date.now();
  io.stderr.write(`loadtest: run ${runId}: sending ${count} message(s) for ${target.href} (each with ?${LOADTEST_PARAMETER}=${runId}-N) to ${backend.description}\n`);

  const progress: Progress = new Progress(io.stderr, { unit: "messages sent", total: () => ({ done: progress.done, of: count }) });
  let sent: { readonly sent: number; readonly failed: number };
  try {
    async function* messages(): AsyncIterable<NumberedMessage> {
      for (let n = 1; n <= count; n += 1) yield loadTestMessage(target, runId, n);
    }
    sent = await sendMessages(messages(), { backend, io, progress, name: (n) => `message ${n}`, ...(options.inFlight === undefined ? {} : { inFlight: options.inFlight }) });
  } finally {
    progress.stop();
  }
  const enqueueSeconds = (Date.now() - startedAt) / 1_000;
  io.stderr.write(`loadtest: sent ${sent.sent} in ${enqueueSeconds.toFixed(1)} s${sent.failed > 0 ? `, ${sent.failed} refused by the queue` : ""}; watching ${backend.description} every ${options.intervalMs / 1_000} s until it has drained\n`);

  const series: LoadTestSample[] = [];
  let end: LoadTestEnd = "interrupted";
  let sawWork = false;
  let failures = 0;
  while (!io.signal.aborted) {
    let status: FleetStatus | undefined;
    try {
      status = await backend.status(options.windowMinutes);
      failures = 0;
    } catch (error) {
      if (error instanceof CredentialsError || error instanceof OpsUsageError || ++failures >= STATUS_FAILURES_TOLERATED) throw error;
      io.stderr.write(`loadtest: reading the status failed (${describeError(error)}); trying again\n`);
    }
    const at = Date.now();
    if (status !== undefined) {
      const sample = sampleOf(status, startedAt, at, series.at(-1));
      series.push(sample);
      io.stderr.write(`${describeSample(sample)}\n`);
      const windowCoversRun = at - startedAt <= options.windowMinutes * 60_000;
      if (drained(sample, sawWork, sent.sent, windowCoversRun)) {
        end = "drained";
        break;
      }
      sawWork ||= sample.backlog + (sample.inFlight ?? 0) > 0;
    }
    const left = startedAt + options.timeoutMs - at;
    if (left <= 0) {
      end = "timeout";
      break;
    }
    await sleep(Math.min(options.intervalMs, left), undefined, { signal: io.signal }).catch(() => undefined);
  }
  const last = series.at(-1);
  return {
    fleet: backend.description,
    target: target.href,
    run: runId,
    count,
    sent: sent.sent,
    failed: sent.failed,
    enqueueSeconds,
    end,
    seconds: last?.seconds ?? 0,
    deadLettersAdded: last === undefined ? 0 : last.deadLetters - before.deadLetters,
    windowMinutes: options.windowMinutes,
    series,
  };
}

function describeSample(sample: LoadTestSample): string {
  const rate = sample.pagesPerMinute === undefined ? "–" : sample.pagesPerMinute.toFixed(1);
  const drained = sample.drainedPerMinute === undefined ? "" : `, ${sample.drainedPerMinute.toFixed(1)} drained/min`;
  return `loadtest: ${sample.seconds.toFixed(0)} s: backlog ${sample.backlog}, in flight ${sample.inFlight ?? "–"}, dead letters ${sample.deadLetters}, ${rate} pages/min${drained}`;
}

/** The outcome names the series holds, in the fleet's usual order first. */
function outcomeNames(series: readonly LoadTestSample[]): string[] {
  const seen = new Set(series.flatMap((sample) => Object.keys(sample.outcomes ?? {})));
  const usual = ["ok", "failed", "retry", "malformed", "dead"];
  return [...usual.filter((name) => seen.has(name)), ...[...seen].filter((name) => !usual.includes(name)).sort()];
}

export function formatLoadTest(report: DeployedLoadTestReport): string {
  const ending = {
    drained: `drained ${report.seconds.toFixed(0)} s after the first send`,
    timeout: `NOT drained when --timeout ended the watch, ${report.seconds.toFixed(0)} s after the first send`,
    interrupted: `watch stopped by Ctrl-C ${report.seconds.toFixed(0)} s after the first send`,
  }[report.end];
  const outcomes = outcomeNames(report.series);
  const header = ["seconds", "backlog", "in flight", "dead letters", "drained/min", "pages/min", ...outcomes.map((name) => `${name} %`)];
  const rows = report.series.map((sample) => [
    sample.seconds.toFixed(0),
    String(sample.backlog),
    sample.inFlight === undefined ? "–" : String(sample.inFlight),
    String(sample.deadLetters),
    sample.drainedPerMinute === undefined ? "–" : sample.drainedPerMinute.toFixed(0),
    sample.pagesPerMinute === undefined ? "–" : sample.pagesPerMinute.toFixed(1),
    ...outcomes.map((name) => {
      const share = sample.outcomeShares?.[name];
      return share === undefined ? "–" : (share * 100).toFixed(0);
    }),
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] as string).length)));
  const line = (cells: readonly string[]) => cells.map((cell, column) => cell.padStart(widths[column] as number)).join("  ");
  return [
    `load test ${report.run} of ${report.fleet}: ${report.count} message(s) for ${report.target}`,
    `  sent ${report.sent} in ${report.enqueueSeconds.toFixed(1)} s${report.failed > 0 ? `, ${report.failed} refused by the queue` : ""}; ${ending}; dead letters ${report.deadLettersAdded >= 0 ? "+" : ""}${report.deadLettersAdded}`,
    `  drained/min: messages gone from the queue since the reading before; pages/min and outcome shares: the fleet's metrics over the ${report.windowMinutes} min before each reading`,
    `  the results carry id ${report.run}-N and metadata ${LOADTEST_PARAMETER}=${report.run}`,
    "",
    line(header),
    ...rows.map(line),
    "",
  ].join("\n");
}

/** Three panels over time: the backlog and messages in flight, pages per minute, and the outcome shares. */
export function deployedLoadTestChartSpec(report: DeployedLoadTestReport): TopLevelSpec {
  const outcomes = outcomeNames(report.series);
  const values = report.series.flatMap((sample) => [
    { seconds: sample.seconds, panel: "messages waiting / in flight", series: "backlog", value: sample.backlog },
    ...(sample.inFlight === undefined ? [] : [{ seconds: sample.seconds, panel: "messages waiting / in flight", series: "in flight", value: sample.inFlight }]),
    ...(sample.drainedPerMinute === undefined ? [] : [{ seconds: sample.seconds, panel: "pages per minute", series: "drained from the queue", value: sample.drainedPerMinute }]),
    ...(sample.pagesPerMinute === undefined ? [] : [{ seconds: sample.seconds, panel: "pages per minute", series: `finished (last ${report.windowMinutes} min)`, value: sample.pagesPerMinute }]),
    ...outcomes.flatMap((name) => {
      const share = sample.outcomeShares?.[name];
      return share === undefined ? [] : [{ seconds: sample.seconds, panel: "outcome share %", series: name, value: share * 100 }];
    }),
  ]);
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: `load test ${report.run} of ${report.fleet}`,
    data: { values },
    facet: { row: { field: "panel", type: "nominal", title: null, sort: ["messages waiting / in flight", "pages per minute", "outcome share %"] } },
    spec: {
      width: 560,
      height: 140,
      mark: { type: "line", point: report.series.length <= 60 },
      encoding: {
        x: { field: "seconds", type: "quantitative", title: "seconds since the first send" },
        y: { field: "value", type: "quantitative", title: null },
        color: { field: "series", type: "nominal", title: null },
      },
    },
    resolve: { scale: { y: "independent" } },
  };
}
