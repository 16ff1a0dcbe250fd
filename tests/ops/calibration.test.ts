import assert from "node:assert/strict";
import { calibrate } from "../../ops/simulate/calibrate";

/**
 * The simulator predicts a real local run. The profile (50–400 ms
 * pages, 5 % transient failures, 20 hosts with a per-host delay), at 300
 * pages to keep the suite near a minute; `npm run bench` runs it at 20,000.
 * The delay (500 ms) makes the hosts, not this shared machine's CPU, the
 * bound, so the comparison tests the model rather than the machine's load.
 *
 * In 300 pages the last few retries (a page failing twice waits 1.5–3 s)
 * are a random tail as long as a tenth of the run, in the real run and in the
 * model alike; so here the drain is compared at 90 % of the pages and the
 * throughput between the 10th and 90th percentile. The bench compares the
 * whole drain of 20,000 pages, where the tail is small.
 */
describe("simulator calibration against the local fleet", function () {
  this.timeout(90_000);

  it("predicts drain time and throughput of a real local run within 15 %", async () => {
    const result = await calibrate({ pages: 300, concurrency: 32, perDomainDelayMs: 500, profile: { latencyMs: { min: 50, max: 400 }, failureRate: 0.05, hosts: 20 } });
    const report = JSON.stringify(result);
    assert.ok(result.measured.drainSeconds > 5, `the run is paced by its 20 hosts at 500 ms (${report})`);
    assert.ok(Math.abs(result.error.drain90Seconds) <= 0.15, `drain time (90 % of the pages): ${report}`);
    assert.ok(Math.abs(result.error.steadyPagesPerSecond) <= 0.15, `throughput (10th to 90th percentile): ${report}`);
  });
});
