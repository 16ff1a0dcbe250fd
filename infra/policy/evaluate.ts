/**
 * Runs the fleet's rules over a plan without the Pulumi CLI: each rule's
 * resource part over every resource's inputs (what CrossGuard validates before
 * a resource is created), its stack part over every resource's outputs (what
 * CrossGuard's stack validation sees after an update). A mocked plan
 * (infra/mockRun.ts) records both.
 */
import { FLEET_RULES } from "./rules";
import type { FleetRule, Violation } from "./view";

export interface PlannedResource {
  readonly type: string;
  readonly name: string;
  readonly urn?: string;
  readonly inputs: Readonly<Record<string, unknown>>;
  readonly outputs: Readonly<Record<string, unknown>>;
}

export interface RuleViolation extends Violation {
  /** The rule's name. */
  readonly rule: string;
}

/** Every violation of `rules` in the plan, resource parts first, in resource order. */
export function checkPlan(resources: readonly PlannedResource[], rules: readonly FleetRule[] = FLEET_RULES): RuleViolation[] {
  const found: RuleViolation[] = [];
  for (const rule of rules) {
    if (rule.checkResource !== undefined) {
      for (const resource of resources) {
        for (const message of rule.checkResource({ type: resource.type, name: resource.name, urn: resource.urn, props: resource.inputs })) {
          found.push({ rule: rule.name, type: resource.type, name: resource.name, urn: resource.urn, message });
        }
      }
    }
    if (rule.checkStack !== undefined) {
      const views = resources.map((resource) => ({ type: resource.type, name: resource.name, urn: resource.urn, props: resource.outputs }));
      for (const violation of rule.checkStack(views)) found.push({ rule: rule.name, ...violation });
    }
  }
  return found;
}
