/**
 * An SSM parameter's value fits its tier: 4 KB Standard, 8 KB Advanced
 * (https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html).
 * A larger value is refused at `pulumi up`, after other resources were
 * created. `Intelligent-Tiering` (or no tier) is read as Standard: the
 * provider creates such a parameter in the Standard tier whatever its size
 * (pulumi/pulumi-aws#5595).
 */
import { AWS_LIMITS } from "../cloudLimits";
import { AWS } from "./types";
import { display, read, text, type FleetRule, type ResourceView } from "./view";

const LIMITS = AWS_LIMITS.ssmParameterValueMaxBytes;

function checkResource(resource: ResourceView): string[] {
  if (resource.type !== AWS.parameter) return [];
  const value = text(read(resource.props, "value"));
  if (value === undefined) return [];
  const tier = text(read(resource.props, "tier")) === "Advanced" ? "Advanced" : "Standard";
  const bytes = Buffer.byteLength(value, "utf8");
  if (bytes <= LIMITS[tier]) return [];
  const fix = tier === "Standard" && bytes <= LIMITS.Advanced ? 'set tier: "Advanced"' : `shorten the value to ${LIMITS.Advanced} bytes or less`;
  return [`${display(resource)} holds ${bytes} bytes, more than the ${tier} tier's ${LIMITS[tier]}: SSM refuses it. Fix: ${fix}.`];
}

export const parameterSize: FleetRule = {
  name: "parameter-size",
  description: "A config store value fits what the store holds.",
  checks: ["SSM parameter: the value's UTF-8 size at most 4096 bytes in the Standard tier (also when the tier is unset or `Intelligent-Tiering`), 8192 in Advanced"],
  checkResource,
};
