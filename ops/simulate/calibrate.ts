/**
 * The simulator checked against the real local fleet: the same site profile
 * served on loopback (ops/loadtest/site.ts), the same backlog, concurrency
 * and per-host delay, once through `npm start`'s own code and once through
 * the model's local platform, compared on drain time and throughput.
 *
 * Two inputs of the model are measured here first, not fitted, by a run
 * against the same hosts answering at once (no latency, no pacing, no
 * failures) at the same concurrency: when a fresh fleet process answers its
 * first page (its start), and the time a page holds the fleet's JavaScript thread, which
 * alone bounds that run after its start, so its pages' spacing is that time.
 */
import { runLocalFleet, type FleetRunReport } from "../loadtest/fleetRun";
import { startProfileSite } from "../loadtest/site";
import { simulate, type FleetShape } from "./index";
import type { SiteProfile } from "./site";

export interface CalibrationInput {
  readonly pages: number;
  readonly concurrency: number;
  readonly perDomainDelayMs: number;
  readonly profile: SiteProfile;
  /** Simulated runs averaged for the prediction. @default 5 */
  readonly seeds?: number;
  /** Pages of the thread measurement. @default 200 */
  readonly probePages?: number;
}

export interface RunFigures {
  readonly drainSeconds: number;
  /** When 90 % of the pages had finished: the drain without the last retries' random tail, which dominates a short run. */
  readonly drain90Seconds: number;
  readonly pagesPerSecond: number;
  /** Pages per second between the 10th and the 90th percentile of completions: the rate without the retry tail. */
  readonly steadyPagesPerSecond: number;
}

export interface Calibration {
  /** When a fresh fleet process answered its first page, ms (measured). */
  readonly startMs: number;
  readonly threadMsPerPage: number;
  readonly measured: RunFigures;
  readonly predicted: RunFigures;
  /** (predicted − measured) / measured, for each figure. */
  readonly error: Readonly<Record<keyof RunFigures, number>>;
}

/** The rate between the 10th and the 90th percentile of sorted completion times. */
export function steadyRate(completions: readonly number[]): number {
  if (completions.length < 10) return 0;
  const from = completions[Math.floor(completions.length * 0.1)];
  const to = completions[Math.floor(completions.length * 0.9)];
  return to > from ? ((Math.floor(completions.length * 0.9) - Math.floor(completions.length * 0.1)) * 1000) / (to - from) : 0;
}

/** When the share `share` of sorted completion times had passed, in seconds. */
export function finishedBy(completions: readonly number[], share: number): number {
  return completions.length === 0 ? 0 : completions[Math.max(0, Math.ceil(completions.length * share) - 1)] / 1000;
}

function figures(report: FleetRunReport): RunFigures {
  const drainSeconds = report.drainMs / 1000;
  return { drainSeconds, drain90Seconds: finishedBy(report.completions, 0.9), pagesPerSecond: report.ok / drainSeconds, steadyPagesPerSecond: steadyRate(report.completions) };
}

export async function calibrate(input: CalibrationInput): Promise<Calibration> {
  const probeSite = await startProfileSite({ profile: { latencyMs: { min: 0, max: 0 }, failureRate: 0, hosts: input.profile.hosts } });
  let probe: FleetRunReport;
  try {
    probe = await runLocalFleet({ urls: Array.from({ length: input.probePages ?? 200 }, (_, i) => probeSite.url(i)), concurrency: input.concurrency, perDomainDelayMs: 0 });
  } finally {
    await probeSite.close();
  }
  const [first] = probe.completions;
  const startMs = first ?? 0;
  const threadMsPerPage = probe.completions.length > 1 ? (probe.completions[probe.completions.length - 1] - startMs) / (probe.completions.length - 1) : probe.drainMs / Math.max(1, probe.ok);

  const site = await startProfileSite({ profile: input.profile });
  let real: FleetRunReport;
  try {
    real = await runLocalFleet({ urls: Array.from({ length: input.pages }, (_, i) => site.url(i)), concurrency: input.concurrency, perDomainDelayMs: input.perDomainDelayMs });
  } finally {
    await site.close();
  }
  const measured = figures(real);

  const fleet: FleetShape = { maxWorkers: 1, messagesPerWorker: input.concurrency, concurrency: input.concurrency, maxDeliveryAttempts: 5, functionTimeoutSeconds: 60, perDomainDelayMs: input.perDomainDelayMs, pageDeadlineMs: 30_000 };
  const runs = Array.from({ length: input.seeds ?? 5 }, (_, seed) => simulate({ platform: "local", fleet, site: input.profile, backlog: input.pages, seed: seed + 1, threadMsPerPage, startMs, recordCompletions: true }));
  const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
  const predicted: RunFigures = {
    drainSeconds: mean(runs.map((run) => run.drainSeconds)),
    drain90Seconds: mean(runs.map((run) => finishedBy(run.completions, 0.9))),
    pagesPerSecond: mean(runs.map((run) => run.pagesPerSecond)),
    steadyPagesPerSecond: mean(runs.map((run) => steadyRate(run.completions))),
  };
  const error = (key: keyof RunFigures) => (predicted[key] - measured[key]) / measured[key];
  return {
    startMs,
    threadMsPerPage,
    measured,
    predicted,
    error: { drainSeconds: error("drainSeconds"), drain90Seconds: error("drain90Seconds"), pagesPerSecond: error("pagesPerSecond"), steadyPagesPerSecond: error("steadyPagesPerSecond") },
  };
}
