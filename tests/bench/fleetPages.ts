/**
 * What the benchmark's whole-fleet comparison shares between its parent and
 * its children: the pages, the concurrency, and how a process's cost is read.
 * No side effects, so the bundled parent can import it.
 */
export const FLEET_PAGES = Number(process.env.BENCH_FLEET_PAGES ?? 1_800);
export const FLEET_CONCURRENCY = 16;

/** The fleet resolves names for real, so the URLs name 127.0.0.1. */
export const fleetUrls = (port: number): string[] => Array.from({ length: FLEET_PAGES }, (_, i) => `http://127.0.0.1:${port}/page/${i}`);

/** What a process has spent since it started. */
export interface ProcessCost {
  readonly cpuMs: number;
  readonly maxRssMb: number;
}

export function processCost(): ProcessCost {
  const used = process.resourceUsage();
  return { cpuMs: (used.userCPUTime + used.systemCPUTime) / 1_000, maxRssMb: used.maxRSS / 1_024 };
}
