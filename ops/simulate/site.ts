/**
 * The site a simulated fleet scrapes: how long a page takes, how often it
 * fails for a moment, and how many hosts the pages are spread over. The
 * loopback site of the calibration (tests/support/profileSite.ts) serves the
 * same profile, so the model and the real fleet see the same web.
 */
import type { Random } from "./random";

export interface SiteProfile {
  /** Page latency is uniform from `min` to `max` ms. */
  readonly latencyMs: { readonly min: number; readonly max: number };
  /** Share of requests answered with a transient failure (503, no Retry-After), 0 to 1. */
  readonly failureRate: number;
  /** Pages are spread round-robin over this many hosts. */
  readonly hosts: number;
}

export const DEFAULT_SITE: SiteProfile = { latencyMs: { min: 50, max: 400 }, failureRate: 0.05, hosts: 20 };

export function drawLatency(site: SiteProfile, random: Random): number {
  return site.latencyMs.min + random() * (site.latencyMs.max - site.latencyMs.min);
}

/** `--latency 50-400`: a range of milliseconds. */
export function parseLatency(text: string): { min: number; max: number } | undefined {
  const match = /^(\d+)(?:-(\d+))?$/.exec(text.trim());
  if (!match) return undefined;
  const min = Number(match[1]);
  const max = match[2] === undefined ? min : Number(match[2]);
  return max >= min ? { min, max } : undefined;
}
