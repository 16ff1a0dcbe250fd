import { strict as assert } from "node:assert";
import { TRANSIENT_RETRY_BACKOFF, equalJitter, transientRetryDelayMs } from "../../shared/backoff";

describe("equal-jitter backoff", () => {
  const backoff = { first: 100, factor: 3, max: 1_000 };

  it("half of each delay is fixed and half is random", () => {
    assert.deepEqual([0, 0.5, 0.75].map((jitter) => equalJitter(backoff, 0, () => jitter)), [50, 75, 87.5]);
  });

  it("the ceiling grows by the factor per earlier retry, up to the maximum", () => {
    assert.deepEqual([0, 1, 2, 3].map((retriesBefore) => equalJitter(backoff, retriesBefore, () => 0)), [50, 150, 450, 500]);
  });

  it("a negative retry count is treated as the first retry", () => {
    assert.equal(equalJitter(backoff, -2, () => 0), 50);
  });
});

describe("the cloud fleets' transient backoff", () => {
  it("comes back after 30–60 s on the first retry, in whole seconds", () => {
    assert.deepEqual([0, 0.5, 0.999_999].map((jitter) => transientRetryDelayMs(1, () => jitter)), [30_000, 45_000, 60_000]);
  });

  it("grows ×4 per delivery and never passes 2 h", () => {
    assert.deepEqual([2, 3, 4, 5].map((attempt) => transientRetryDelayMs(attempt, () => 0)), [120_000, 480_000, 1_920_000, 3_600_000]);
    assert.equal(transientRetryDelayMs(30, () => 0.999_999), TRANSIENT_RETRY_BACKOFF.max * 1_000);
  });

  it("the holds after 5 failed deliveries add up to over an hour", () => {
    const shortest = [1, 2, 3, 4, 5].reduce((sum, attempt) => sum + transientRetryDelayMs(attempt, () => 0), 0);
    assert.ok(shortest > 3_600_000, `${shortest} ms`);
  });
});
