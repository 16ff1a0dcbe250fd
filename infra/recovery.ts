/**
 * What every cloud's recovery time (`infra/<cloud>/recovery.ts`: a failing
 * site's time from its first transient failure to its dead letter) is
 * measured on, so the three figures compare the same thing.
 */
import type { Outcome } from "../shared/outcome";

/** A site's 5xx with no Retry-After: the fleet's transient backoff applies as is. */
export const TRANSIENT_FAILURE: Extract<Outcome, { kind: "retry" }> = { kind: "retry", code: "http_5xx", reason: "503 with no Retry-After" };
