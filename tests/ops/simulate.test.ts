import assert from "node:assert/strict";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OPS_EXIT_CODES } from "../../ops/command";
import { simulateCommand } from "../../ops/commands/simulate";
import { LAMBDA_SQS_ADD_PER_MINUTE, LAMBDA_SQS_START_BATCHES } from "../../ops/simulate/aws";
import { FLEX_DECISION_INTERVAL_MS, FLEX_SCALE_STEP } from "../../ops/simulate/azure";
import { simulate, type FleetShape, type Platform } from "../../ops/simulate/index";
import { transientFailureToDeadLetterMs as awsRecoveryMs } from "../../infra/aws/recovery";
import { transientFailureToDeadLetterMs as azureRecoveryMs } from "../../infra/azure/recovery";
import { transientFailureToDeadLetterMs as gcpRecoveryMs } from "../../infra/gcp/recovery";
import { captureIo } from "./captureIo";

const fleet: FleetShape = { maxWorkers: 200, messagesPerWorker: 10, concurrency: 8, maxDeliveryAttempts: 5, functionTimeoutSeconds: 120, perDomainDelayMs: 1000, pageDeadlineMs: 30_000 };
const site = { latencyMs: { min: 50, max: 400 }, failureRate: 0.05, hosts: 20 };

describe("simulate", function () {
  this.timeout(30_000);

  it("scales Lambda from 5 concurrent batches by at most 300 a minute, up to maximumConcurrency", () => {
    const result = simulate({ platform: "aws", fleet, site, backlog: 200_000 });
    assert.equal(result.timeline[0].workers, LAMBDA_SQS_START_BATCHES);
    for (const point of result.timeline) assert.ok(point.workers <= LAMBDA_SQS_START_BATCHES + (LAMBDA_SQS_ADD_PER_MINUTE / 60) * point.second + 1, `second ${point.second}: ${point.workers} workers`);
    assert.equal(result.peakWorkers, fleet.maxWorkers);
    assert.equal(result.ok + result.deadLetters, 200_000);
  });

  it("adds Flex Consumption instances four at a time toward backlog / maxConcurrentCalls", () => {
    const result = simulate({ platform: "azure", fleet: { ...fleet, maxWorkers: 30 }, site, backlog: 50_000 });
    const perDecision = result.timeline.filter((point) => point.second % (FLEX_DECISION_INTERVAL_MS / 1000) === 0).map((point) => point.workers);
    for (let i = 1; i < perDecision.length; i++) assert.ok(perDecision[i] - perDecision[i - 1] <= FLEX_SCALE_STEP, `${perDecision[i - 1]} -> ${perDecision[i]}`);
    assert.equal(result.peakWorkers, 30);
  });

  it("caps one host's fleet-wide rate at workers / perDomainDelayMs: more workers, faster, on few hosts", () => {
    const oneHost = { ...site, hosts: 1, failureRate: 0 };
    const few = simulate({ platform: "azure", fleet: { ...fleet, maxWorkers: 2 }, site: oneHost, backlog: 600 });
    const many = simulate({ platform: "azure", fleet: { ...fleet, maxWorkers: 8 }, site: oneHost, backlog: 600 });
    // Two instances pacing one host at 1 s give it at most 2 pages a second.
    assert.ok(few.pagesPerSecond <= 2.05, String(few.pagesPerSecond));
    assert.ok(many.pagesPerSecond > few.pagesPerSecond * 2.5, `${many.pagesPerSecond} vs ${few.pagesPerSecond}`);
  });

  it("dead-letters what keeps failing after maxDeliveryAttempts, on every cloud", () => {
    for (const platform of ["aws", "azure", "gcp", "local"] as const) {
      const result = simulate({ platform, fleet: { ...fleet, perDomainDelayMs: 0 }, site: { ...site, failureRate: 0.6 }, backlog: 500 });
      // 0.6^5 of the pages fail all five deliveries: about 39 of 500.
      assert.ok(result.deadLetters > 15 && result.deadLetters < 70, `${platform}: ${result.deadLetters}`);
      assert.equal(result.ok + result.deadLetters, 500, platform);
    }
  });

  it("spends each cloud's whole retry schedule on a site that always fails, as the handlers' own hold functions give it", () => {
    const recovery: Readonly<Record<Exclude<Platform, "local">, (random: () => number) => number>> = {
      aws: (random) => awsRecoveryMs(fleet, random),
      azure: (random) => azureRecoveryMs(fleet, random),
      gcp: (random) => gcpRecoveryMs(fleet, random),
    };
    for (const platform of ["aws", "azure", "gcp"] as const) {
      const result = simulate({ platform, fleet: { ...fleet, perDomainDelayMs: 0 }, site: { ...site, failureRate: 1 }, backlog: 50 });
      assert.equal(result.deadLetters, 50, platform);
      assert.equal(result.deliveries, 50 * fleet.maxDeliveryAttempts, `${platform}: every page fetched ${fleet.maxDeliveryAttempts} times, none after its last hold`);
      const shortest = recovery[platform](() => 0);
      const longest = recovery[platform](() => 0.999_999);
      // The fetches themselves (5 × at most 400 ms) and a cold start lie outside the holds.
      const drainMs = result.drainSeconds * 1000;
      assert.ok(drainMs >= shortest && drainMs <= longest + 10_000, `${platform}: drained in ${(drainMs / 60_000).toFixed(1)} min, holds give ${(shortest / 60_000).toFixed(1)}–${(longest / 60_000).toFixed(1)} min`);
    }
  });

  it("tells the bulk from the tail: 99 % of the pages end long before the last retries' backoff does", () => {
    const failing = simulate({ platform: "aws", fleet, site, backlog: 20_000 });
    assert.ok(failing.ninetyNinePercentSeconds > 0 && failing.ninetyNinePercentSeconds * 2 < failing.drainSeconds, `99 % at ${failing.ninetyNinePercentSeconds} s, drained at ${failing.drainSeconds} s`);
    const healthy = simulate({ platform: "aws", fleet, site: { ...site, failureRate: 0 }, backlog: 20_000 });
    assert.ok(healthy.ninetyNinePercentSeconds >= 0.9 * healthy.drainSeconds, `99 % at ${healthy.ninetyNinePercentSeconds} s, drained at ${healthy.drainSeconds} s`);
  });

  it("is repeatable: the same seed gives the same run", () => {
    const a = simulate({ platform: "gcp", fleet, site, backlog: 2_000, seed: 7 });
    const b = simulate({ platform: "gcp", fleet, site, backlog: 2_000, seed: 7 });
    assert.deepEqual(a, b);
  });

  it("prints the drain, charts the series, and refuses a missing --backlog", async () => {
    const dir = await mkdtemp(join(tmpdir(), "simulate-"));
    const io = captureIo(dir);
    assert.equal(await simulateCommand.run(["--stack", "dev", "--backlog", "2000", "--chart", "sim.svg"], io), OPS_EXIT_CODES.ok, io.err());
    assert.match(io.out(), /time to drain\s+\d/);
    assert.match(io.out(), /peak workers\s+2\b/, "dev's maxWorkers is 2");
    assert.match(io.out(), /cost on aws\s+\$\d/);
    const svg = await readFile(join(dir, "sim.svg"), "utf8");
    for (const series of ["pages per second", "backlog", "workers", "oldest message age"]) assert.ok(svg.includes(series), series);
    const missing = captureIo();
    assert.equal(await simulateCommand.run(["--stack", "dev"], missing), OPS_EXIT_CODES.usage);
    assert.match(missing.err(), /--backlog N is required/);
  });
});
