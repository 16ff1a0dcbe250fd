/**
 * A failing site gets about the same time to recover on every cloud before
 * its messages are dead-lettered: computed, for every stack file, from the
 * deployed plan and settings and each handler's own hold function (each
 * cloud's `infra/<cloud>/recovery.ts`), never asserted by hand.
 */
import assert from "node:assert/strict";
import { transientFailureToDeadLetterMs as awsRecoveryMs } from "../../infra/aws/recovery";
import { transientFailureToDeadLetterMs as azureRecoveryMs } from "../../infra/azure/recovery";
import type { PlanEvidence } from "../../infra/capabilities";
import { INTEGER_KEYS } from "../../infra/config";
import type { Cloud } from "../../infra/contract";
import { transientFailureToDeadLetterMs as gcpRecoveryMs } from "../../infra/gcp/recovery";
import { availableStacks } from "../../infra/mockRun";
import { AWS } from "../../infra/policy/types";
import { runStack } from "../support/stack";
import { cloudOf, planEvidence } from "./evidence";

const HOUR_MS = 3_600_000;

/** The AWS work queue's visibility timeout as the plan sets it: the queue whose redrive policy names a dead-letter queue. */
function awsVisibilityTimeout(plan: PlanEvidence): number {
  const work = plan.resources.find((resource) => resource.type === AWS.queue && typeof resource.inputs.redrivePolicy === "string");
  const seconds = work?.inputs.visibilityTimeoutSeconds;
  assert.ok(typeof seconds === "number", `${plan.stack}: no work queue with a visibility timeout`);
  return seconds;
}

/** Recovery time on `plan`'s cloud with `random` as the backoff's jitter. */
function recoveryMs(plan: PlanEvidence, random: () => number): number {
  const recovery: Readonly<Record<Cloud, () => number>> = {
    aws: () => awsRecoveryMs(plan.args, random, awsVisibilityTimeout(plan)),
    azure: () => azureRecoveryMs(plan.args, random),
    gcp: () => gcpRecoveryMs(plan.args, random),
  };
  return recovery[plan.cloud]();
}

describe("a failing site's time to recover before its messages are dead-lettered, on every stack (under Pulumi mocks)", () => {
  for (const stack of availableStacks()) {
    it(`${stack} (${cloudOf(stack)}): at least one hour at the shortest jitter, from the deployed settings and the handler's own holds`, async () => {
      const plan = planEvidence(await runStack(stack));
      const shortest = recoveryMs(plan, () => 0);
      assert.ok(shortest >= HOUR_MS, `${stack}: ${(shortest / 60_000).toFixed(1)} min with ${plan.args.maxDeliveryAttempts} deliveries`);
      assert.ok(recoveryMs(plan, () => 0.999_999) >= shortest, "a longer jitter never shortens it");
    });
  }

  it("with the default deliveries the three clouds agree within a quarter, shortest and longest jitter alike", async () => {
    const defaults = { maxDeliveryAttempts: INTEGER_KEYS.maxDeliveryAttempts.default };
    const plans = await Promise.all(availableStacks().map(async (stack) => planEvidence(await runStack(stack))));
    for (const random of [() => 0, () => 0.999_999]) {
      const byCloud = new Map<Cloud, number>();
      for (const plan of plans) byCloud.set(plan.cloud, recoveryMs({ ...plan, args: { ...plan.args, ...defaults } }, random));
      assert.deepEqual([...byCloud.keys()].sort(), ["aws", "azure", "gcp"]);
      const times = [...byCloud.values()];
      assert.ok(Math.max(...times) <= 1.25 * Math.min(...times), JSON.stringify(Object.fromEntries([...byCloud].map(([cloud, ms]) => [cloud, `${(ms / 60_000).toFixed(1)} min`]))));
    }
  });
});
