/**
 * A Lambda function's environment fits the 4 KB Lambda takes, keys and values
 * together (AWS_LIMITS.lambdaEnvironmentMaxBytes, ../cloudLimits.ts). The
 * worker's environment grows with the stack (queue limits, names derived
 * from `namePrefix`), and Lambda refuses a larger one at `pulumi up`. Values
 * not known yet (an ARN in a first preview) are left out, so the rule fires
 * only on what is certain to be too large.
 */
import { AWS_LIMITS } from "../cloudLimits";
import { AWS } from "./types";
import { display, read, stringMap, text, type FleetRule, type ResourceView } from "./view";

const MAX_BYTES = AWS_LIMITS.lambdaEnvironmentMaxBytes;

function checkResource(resource: ResourceView): string[] {
  if (resource.type !== AWS.lambda) return [];
  const variables = stringMap(read(resource.props, "environment", "variables"));
  if (variables === undefined) return [];
  let bytes = 0;
  for (const [key, value] of Object.entries(variables)) bytes += Buffer.byteLength(key, "utf8") + Buffer.byteLength(text(value) ?? "", "utf8");
  if (bytes <= MAX_BYTES) return [];
  return [`${display(resource)} has ${bytes} bytes of environment variables (keys and values): Lambda refuses more than ${MAX_BYTES}. Fix: move the large values to the settings parameter, or shorten namePrefix.`];
}

export const lambdaEnvironment: FleetRule = {
  name: "lambda-environment",
  description: "A Lambda function's environment fits what Lambda takes.",
  checks: ["Lambda function: the UTF-8 size of its environment variables' keys and values together at most 4096 bytes"],
  checkResource,
};
