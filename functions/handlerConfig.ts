/**
 * What the three cloud handlers check before they run: the settings the
 * fleet's Pulumi program puts on the function, the handler's integer options,
 * and how the deadline margin is split. No cloud SDK here, so each bundle
 * takes only what it already has.
 */

/** A missing or invalid function setting (environment variable, app setting) or handler option. */
export class HandlerConfigError extends Error {
  readonly code = "handler_config_invalid";

  constructor(message: string) {
    super(message);
    this.name = "HandlerConfigError";
  }
}

/** What the platform calls a value the Pulumi program sets: Lambda and Cloud Functions use environment variables, Azure app settings. */
export type EnvKind = "environment variable" | "app setting";

/** The trimmed value of `name`; throws naming it and the fix when it is missing or blank. */
export function requireEnv(env: NodeJS.ProcessEnv, name: string, kind: EnvKind): string {
  const value = env[name]?.trim();
  if (!value) throw new HandlerConfigError(`${kind} ${name} is not set (given ${JSON.stringify(env[name])}); the fleet's Pulumi program sets it on the function: redeploy the stack`);
  return value;
}

/** `name` as a whole number of at least `min`; throws naming it, the value and the fix when it is missing, blank or not one. */
export function integerEnv(env: NodeJS.ProcessEnv, name: string, kind: EnvKind, min: number): number {
  const raw = requireEnv(env, name, kind);
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min) throw new HandlerConfigError(`${kind} ${name} must be a whole number of ${min} or more (given ${JSON.stringify(raw)}); the fleet's Pulumi program sets it on the function: redeploy the stack`);
  return value;
}

/** An integer option's bounds, and the value taken when it is left out. */
export interface IntegerRange {
  readonly min: number;
  readonly max: number;
  readonly default: number;
}

/** Checks an integer option and returns it (its default when left out), or throws naming the option, the value and the range. */
export function integerOption(name: string, value: number | undefined, range: IntegerRange): number {
  const chosen = value ?? range.default;
  if (!Number.isInteger(chosen) || chosen < range.min || chosen > range.max) {
    throw new HandlerConfigError(`\`${name}\` must be an integer from ${range.min} to ${range.max} (given ${JSON.stringify(value)}); leave it out for ${range.default}`);
  }
  return chosen;
}

/**
 * The part of the deadline margin left once result writes are done or
 * abandoned: the log and metric lines, the answer, and at most one round of
 * in-region calls (AWS's visibility changes, Azure's settlement). Local work
 * and sub-100 ms calls, so 1 s covers them even at a small instance's CPU share.
 */
const ANSWER_TIME_MS = 1_000;

/** How long result writes still under way at the deadline may run on: the margin less the time the answer needs. */
export function writeGraceFor(marginMs: number): number {
  return Math.max(0, marginMs - ANSWER_TIME_MS);
}
