/**
 * Exponential backoff with equal jitter: half of each delay fixed, half
 * random, so messages that failed together (many URLs of one failing host)
 * come back apart, yet none comes back sooner than half its step.
 * https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
 */

/** The delay's ceiling per retry, in whatever unit the caller uses (seconds, milliseconds). */
export interface Backoff {
  /** The ceiling before the first retry; above 0. */
  readonly first: number;
  /** What the ceiling is multiplied by per earlier retry; 1 or more. */
  readonly factor: number;
  /** The largest ceiling. */
  readonly max: number;
}

/**
 * The delay after `retriesBefore` earlier retries (0 for the first): half the
 * ceiling plus `random()` (0 ≤ x < 1) times the other half. Unrounded; the
 * caller rounds to its unit.
 */
export function equalJitter(backoff: Backoff, retriesBefore: number, random: () => number): number {
  const ceiling = Math.min(backoff.max, backoff.first * backoff.factor ** Math.max(0, retriesBefore));
  return ceiling / 2 + (random() * ceiling) / 2;
}
