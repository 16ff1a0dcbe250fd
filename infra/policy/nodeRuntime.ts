/**
 * Rule 8: the worker runs on Node.js 22 or newer.
 */
import { AWS, AZURE, GCP } from "./types";
import { display, read, text, type FleetRule, type ResourceView } from "./view";

/**
 * The oldest Node.js major the fleet's code runs on: undici 8 (the fetcher)
 * needs Node >= 22.19 (package.json `engines`). A runtime's major is all a
 * stack can pin; the cloud picks the patch.
 */
export const MIN_NODE_MAJOR = 22;

/** The major of a runtime string matching `pattern` (first group), or undefined. */
function major(value: string | undefined, pattern: RegExp): number | undefined {
  const match = value === undefined ? null : pattern.exec(value);
  return match === null ? undefined : Number(match[1]);
}

function tooOld(at: string, property: string, value: string | undefined, fix: string): string[] {
  return [`${at} runs ${property} ${JSON.stringify(value)}, not Node.js ${MIN_NODE_MAJOR} or newer. Fix: set ${property} to ${fix}.`];
}

function checkResource(resource: ResourceView): string[] {
  const { props } = resource;
  const at = display(resource);
  switch (resource.type) {
    case AWS.lambda: {
      const runtime = text(read(props, "runtime"));
      return (major(runtime, /^nodejs(\d+)\.x$/) ?? 0) >= MIN_NODE_MAJOR ? [] : tooOld(at, "runtime", runtime, '"nodejs24.x" (lambda.Runtime.NodeJS24dX)');
    }
    case GCP.function: {
      const runtime = text(read(props, "buildConfig", "runtime"));
      return (major(runtime, /^nodejs(\d+)$/) ?? 0) >= MIN_NODE_MAJOR ? [] : tooOld(at, "buildConfig.runtime", runtime, '"nodejs24"');
    }
    case GCP.functionV1: {
      const runtime = text(read(props, "runtime"));
      return (major(runtime, /^nodejs(\d+)$/) ?? 0) >= MIN_NODE_MAJOR ? [] : tooOld(at, "runtime", runtime, '"nodejs22" or newer');
    }
    case AZURE.webApp: {
      if (!(text(read(props, "kind")) ?? "").includes("functionapp")) return [];
      // Flex Consumption takes the runtime in functionAppConfig; other plans in siteConfig.linuxFxVersion ("Node|22").
      const flex = read(props, "functionAppConfig", "runtime");
      if (flex !== undefined) {
        const name = text(read(flex, "name"));
        const version = text(read(flex, "version"));
        return name === "node" && (major(version, /^(\d+)/) ?? 0) >= MIN_NODE_MAJOR ? [] : tooOld(at, "functionAppConfig.runtime", `${String(name)} ${String(version)}`, '{ name: "node", version: "22" }');
      }
      const fx = text(read(props, "siteConfig", "linuxFxVersion"));
      return (major(fx, /^node\|(\d+)/i) ?? 0) >= MIN_NODE_MAJOR ? [] : tooOld(at, "siteConfig.linuxFxVersion", fx, '"Node|22"');
    }
    default:
      return [];
  }
}

export const nodeRuntime: FleetRule = {
  name: "node-runtime",
  description: `The worker runs on Node.js ${MIN_NODE_MAJOR} or newer.`,
  checks: [
    `Lambda function: \`runtime\` \`nodejs<N>.x\`, N ≥ ${MIN_NODE_MAJOR}`,
    `Azure function app: Flex \`functionAppConfig.runtime\` \`node\` version ≥ ${MIN_NODE_MAJOR} (other plans: \`siteConfig.linuxFxVersion\` \`Node|<N>\`)`,
    `Cloud Function: gen2 \`buildConfig.runtime\` (gen1 \`runtime\`) \`nodejs<N>\`, N ≥ ${MIN_NODE_MAJOR}`,
  ],
  checkResource,
};
