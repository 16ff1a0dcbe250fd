/**
 * The fleet's rules as CrossGuard policies. Kept apart from ./index.ts, which
 * constructs the `PolicyPack` (and with it a gRPC server), so the tests can
 * check the adaptation without starting one.
 *
 * Each rule becomes a mandatory resource policy named after it (run on each
 * resource's inputs before it is created) and, when it has a stack part, a
 * mandatory stack policy `<name>-stack` (run over every resource's outputs
 * after an update). In a preview, a value not known yet (the ARN of a
 * resource still to be created) makes CrossGuard report "can't run ... during
 * preview" as advisory for that policy instead.
 */
import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { FLEET_RULES } from "./rules";
import type { FleetRule } from "./view";

export const PACK_NAME = "scrape-fleet";

/** One line naming every rule, from the list itself, so a new rule is never left out. */
export const PACK_DESCRIPTION = `scrape-fleet's guardrails on every cloud: ${FLEET_RULES.map((rule) => rule.name).join(", ")}.`;

export type FleetPolicy = ResourceValidationPolicy | StackValidationPolicy;

export function policiesOf(rule: FleetRule): FleetPolicy[] {
  const policies: FleetPolicy[] = [];
  // CrossGuard prints the description above every violation's message, so it stays one sentence.
  const { description } = rule;
  const { checkResource, checkStack } = rule;
  if (checkResource !== undefined) {
    policies.push({
      name: rule.name,
      description,
      enforcementLevel: "mandatory",
      validateResource: (args, reportViolation) => {
        for (const message of checkResource({ type: args.type, name: args.name, urn: args.urn, props: args.props })) reportViolation(message);
      },
    });
  }
  if (checkStack !== undefined) {
    policies.push({
      name: `${rule.name}-stack`,
      description,
      enforcementLevel: "mandatory",
      validateStack: (args, reportViolation) => {
        const views = args.resources.map((resource) => ({ type: resource.type, name: resource.name, urn: resource.urn, props: resource.props }));
        for (const found of checkStack(views)) reportViolation(found.message, found.urn);
      },
    });
  }
  return policies;
}

/**
 * The rules as Markdown, one table row per rule with what it checks per type:
 * the pack's `readme` (shown where the pack is published), and ready for a
 * generated README block.
 */
export function rulesMarkdown(rules: readonly FleetRule[] = FLEET_RULES): string {
  const rows = rules.map((rule) => `| \`${rule.name}\` | ${rule.description} | ${rule.checks.join("<br>")} |`);
  return ["| rule | demands | checked per type |", "|---|---|---|", ...rows].join("\n");
}

/** Every policy of the pack, in rule order. */
export function fleetPolicies(rules: readonly FleetRule[] = FLEET_RULES): FleetPolicy[] {
  return rules.flatMap(policiesOf);
}
