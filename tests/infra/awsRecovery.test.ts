/**
 * AWS recovery time, from the deployed settings and the handler's own holds
 * (infra/aws/recovery.ts): the figure the cross-cloud parity is held to.
 */
import assert from "node:assert/strict";
import { validateFleetConfig } from "../../infra/config";
import { WORK_QUEUE_RETENTION_SECONDS } from "../../infra/aws/config";
import { transientFailureToDeadLetterMs } from "../../infra/aws/recovery";

const HOUR_MS = 3_600_000;
const args = (raw: Record<string, string> = {}) => validateFleetConfig({ cloud: "aws", alertEmail: "ops@example.com", ...raw }, "test").args;

describe("AWS: time from a page's first transient failure to its dead letter", () => {
  it("with the defaults (5 deliveries) a failing site has at least an hour: 1 h 42 min 30 s at the shortest jitter", () => {
    const shortest = transientFailureToDeadLetterMs(args());
    assert.ok(shortest >= HOUR_MS, `${shortest / HOUR_MS} h`);
    assert.equal(shortest, (30 + 120 + 480 + 1_920 + 3_600) * 1_000);
  });

  it("the longest jitter doubles each hold, up to the 2 h cap", () => {
    assert.equal(transientFailureToDeadLetterMs(args(), () => 0.999_999), (60 + 240 + 960 + 3_840 + 7_200) * 1_000);
  });

  it("with many deliveries the holds are cut so the dead letter still comes before the work queue's retention ends", () => {
    const total = transientFailureToDeadLetterMs(args({ maxDeliveryAttempts: "100" }), () => 0.999_999);
    assert.ok(total < WORK_QUEUE_RETENTION_SECONDS * 1_000, `${total / HOUR_MS} h`);
    assert.ok(total > 90 * HOUR_MS, `uses most of the 96 h: ${total / HOUR_MS} h`);
  });
});
