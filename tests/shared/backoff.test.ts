import { strict as assert } from "node:assert";
import { equalJitter } from "../../shared/backoff";

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
