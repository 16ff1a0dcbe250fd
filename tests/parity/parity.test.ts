/**
 * "One program, three clouds", checked: every stack file is built under Pulumi
 * mocks, and every capability of the parity table (infra/capabilities.ts) is
 * checked on every stack, with the meaning the table gives it. The runs are
 * shared with the per-cloud infra tests (`runStack` caches them).
 */
import assert from "node:assert/strict";
import { CAPABILITIES, CapabilityError, checkCapability, CLOUD_NAMES, maxInFlightPages, type PlanEvidence } from "../../infra/capabilities";
import { CLOUDS, FLEET_OUTPUT_NAMES, type Cloud } from "../../infra/contract";
import { availableStacks, type MockRunResult, type RecordedResource } from "../../infra/mockRun";
import { runStack } from "../support/stack";
import { cloudOf, planEvidence } from "./evidence";

const STACKS = availableStacks().map((stack) => ({ stack, cloud: cloudOf(stack) }));
const byRole = (role: string) => CAPABILITIES.find((capability) => capability.role === role) ?? assert.fail(`no capability ${role}`);

/** The plan with one resource's inputs changed: a check must notice. */
function withInputs(plan: PlanEvidence, matches: (resource: RecordedResource) => boolean, change: (inputs: Record<string, unknown>) => Record<string, unknown>): PlanEvidence {
  let changed = 0;
  const resources = plan.resources.map((resource) => {
    if (!matches(resource)) return resource;
    changed++;
    return { ...resource, inputs: change({ ...resource.inputs }) };
  });
  assert.equal(changed, 1, "exactly one resource is changed");
  return { ...plan, resources };
}

describe("one program, three clouds: every capability on every stack, with the same meaning (under Pulumi mocks)", () => {
  const plans = new Map<string, PlanEvidence>();
  const plan = (stack: string) => plans.get(stack) ?? assert.fail(`stack ${stack} was not built`);

  before(async function () {
    this.timeout(60_000);
    for (const { stack } of STACKS) plans.set(stack, planEvidence(await runStack(stack)));
  });

  it("the stack files cover every cloud, and the table names every cloud for every capability", () => {
    for (const cloud of CLOUDS) assert.ok(STACKS.some((entry) => entry.cloud === cloud), `no stack file for ${cloud}`);
    for (const capability of CAPABILITIES) {
      assert.deepEqual(Object.keys(capability.clouds).sort(), [...CLOUDS].sort(), capability.role);
      for (const cloud of CLOUDS) {
        const implementation = capability.clouds[cloud];
        assert.ok(implementation.types.length > 0 && implementation.label.length > 0, `${capability.role} on ${cloud}: no types or label`);
      }
    }
  });

  for (const capability of CAPABILITIES) {
    describe(capability.role, () => {
      for (const { stack, cloud } of STACKS) {
        it(`${stack} on ${CLOUD_NAMES[cloud]}: ${capability.meaning}`, () => checkCapability(capability, plan(stack)));
      }
    });
  }

  it("every stack has exactly the same output names", () => {
    for (const { stack } of STACKS) assert.deepEqual(Object.keys(plan(stack).outputs).sort(), [...FLEET_OUTPUT_NAMES].sort(), stack);
  });

  describe("a plan that gives a capability another meaning fails its check", () => {
    const deadLetters = byRole("dead letters");
    const stackOf = (cloud: Cloud) => STACKS.find((entry) => entry.cloud === cloud)?.stack ?? assert.fail(`no ${cloud} stack`);

    it("AWS: a redrive policy after 6 receives, where the stack says 5", () => {
      const base = plan(stackOf("aws"));
      const changed = withInputs(
        base,
        (resource) => resource.type === "aws:sqs/queue:Queue" && typeof resource.inputs.redrivePolicy === "string",
        (inputs) => ({ ...inputs, redrivePolicy: JSON.stringify({ ...JSON.parse(String(inputs.redrivePolicy)), maxReceiveCount: base.args.maxDeliveryAttempts + 1 }) }),
      );
      assert.throws(() => checkCapability(deadLetters, changed), (error: unknown) => error instanceof CapabilityError && /maxReceiveCount is 6, expected 5/.test(error.message));
    });

    it("Azure: a queue with another maxDeliveryCount", () => {
      const base = plan(stackOf("azure"));
      const changed = withInputs(base, (resource) => resource.type === "azure-native:servicebus:Queue", (inputs) => ({ ...inputs, maxDeliveryCount: base.args.maxDeliveryAttempts + 1 }));
      assert.throws(() => checkCapability(deadLetters, changed), (error: unknown) => error instanceof CapabilityError && /maxDeliveryCount is 6, expected 5/.test(error.message));
    });

    it("Google Cloud: no grant for Pub/Sub to publish dead letters", () => {
      const base = plan(stackOf("gcp"));
      const changed = { ...base, resources: base.resources.filter((resource) => !(resource.type === "gcp:pubsub/topicIAMMember:TopicIAMMember" && resource.inputs.role === "roles/pubsub.publisher")) };
      assert.throws(() => checkCapability(deadLetters, changed), (error: unknown) => error instanceof CapabilityError && /pubsub\.TopicIAMMember/.test(error.message));
    });

    it("Azure: a deployed package whose host.json was built for another maxConcurrentCalls", () => {
      const base = plan(stackOf("azure"));
      const changed = { ...base, args: { ...base.args, messagesPerWorker: base.args.messagesPerWorker + 1 } };
      assert.throws(() => checkCapability(byRole("worker, bounded"), changed), (error: unknown) => error instanceof CapabilityError && /host\.json has maxConcurrentCalls 11/.test(error.message));
    });

    it("every cloud: an alarm kind that is missing is named", () => {
      for (const cloud of CLOUDS) {
        const base = plan(stackOf(cloud));
        const stalled = base.resources.find((resource) => /-stalled$/.test(resource.name)) ?? assert.fail(`${cloud}: no stalled alarm`);
        const changed = { ...base, resources: base.resources.filter((resource) => resource !== stalled) };
        assert.throws(() => checkCapability(byRole("alarms"), changed), (error: unknown) => error instanceof CapabilityError && /expected one stalled alarm/.test(error.message), cloud);
      }
    });
  });

  describe("7 workers × 3 messages each is at most 21 pages in flight on every cloud", () => {
    const overrides = { "scrape-fleet:maxWorkers": 7, "scrape-fleet:messagesPerWorker": 3 };
    for (const cloud of CLOUDS) {
      const stack = STACKS.find((entry) => entry.cloud === cloud)?.stack;
      it(`${CLOUD_NAMES[cloud]} (${stack}, read from the plan${cloud === "azure" ? "; host.json, which the plan holds only inside the package zip, through the deployed package's sha256" : ""})`, async () => {
        assert.ok(stack, `no ${cloud} stack`);
        const result: MockRunResult = await runStack(stack, { configOverrides: overrides });
        const evidence = planEvidence(result, { configOverrides: overrides });
        assert.equal(maxInFlightPages(evidence), 21);
        checkCapability(byRole("worker, bounded"), evidence);
      });
    }
  });
});
