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

/**
 * The cloud fleets' backoff after a transient failure that named no wait (a
 * 5xx, a timeout, a store outage, the batch deadline, a host's pacing,
 * settings that could not be read), in seconds: ×4 per delivery from 1 min,
 * capped at 2 h, with equal jitter. The first retry comes after 30–60 s; the
 * default 5 deliveries span 1 h 42 min to 3 h 25 min, so a failing site has
 * over an hour to recover before its messages are dead-lettered, not the
 * 15 minutes a ×2 backoff from 30 s would give it.
 */
export const TRANSIENT_RETRY_BACKOFF: Backoff = { first: 60, factor: 4, max: 7_200 };

/**
 * How long a message waits before its next delivery after transient failure
 * on delivery `attempt` (1 for the first), in milliseconds, always whole
 * seconds (SQS takes a visibility in seconds; every cloud gets the same
 * values). `random()` (0 ≤ x < 1) is the jitter.
 */
export function transientRetryDelayMs(attempt: number, random: () => number = Math.random): number {
  const retriesBefore = Math.max(1, attempt) - 1;
  return Math.ceil(equalJitter(TRANSIENT_RETRY_BACKOFF, retriesBefore, random)) * 1_000;
}

/**
 * The kill switch (`fleet_paused`): 15 min after the first delivery, doubling
 * with each delivery (15 min, 30 min, 1 h, 2 h, 4 h, …). A pause of length T
 * then costs about log2(T / 15 min) + 1 deliveries, and a message comes back
 * at most T + 15 min after the fleet resumes. With the default 5 deliveries a
 * message first received in the pause outlasts 7 h 45 min of it.
 */
export const PAUSE_HOLD = { firstSeconds: 900, factor: 2 } as const;

/** The part of an outcome the retry policy reads. */
export interface RetryOutcome {
  readonly code: string;
  readonly retryAfterMs?: number;
}

/**
 * Whole seconds until a message sent back with `outcome` after delivery number
 * `attempt` (1 for the first) should come back, before any cloud's own bound:
 * - a `retryAfterMs` (429, 503, or robots.txt answering so): that wait, rounded
 *   up: the site said when, so no jitter is added;
 * - `fleet_paused`: PAUSE_HOLD;
 * - any other retry: `transientRetryDelayMs`, with `random()` as the jitter.
 */
export function retryDelaySeconds(outcome: RetryOutcome, attempt: number, random: () => number): number {
  if (outcome.retryAfterMs !== undefined && Number.isFinite(outcome.retryAfterMs)) return Math.max(0, Math.ceil(outcome.retryAfterMs / 1000));
  if (outcome.code === "fleet_paused") return PAUSE_HOLD.firstSeconds * PAUSE_HOLD.factor ** (Math.max(1, attempt) - 1);
  return transientRetryDelayMs(attempt, random) / 1000;
}
