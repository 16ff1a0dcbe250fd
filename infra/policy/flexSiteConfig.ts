/**
 * A Flex Consumption function app is sent no `siteConfig` property that Flex
 * refuses.
 *
 * Flex answers a create or update that carries one with a 400, even when its
 * value is null, and azure-native adds `netFrameworkVersion: "v4.6"` to every
 * `siteConfig` it sends (siteConfigArgsProvideDefaults in its types/input.js).
 * The list and its sources: infra/cloudLimits.ts `AZURE_LIMITS.flexRejectedSiteConfig`.
 */
import { AZURE_LIMITS } from "../cloudLimits";
import { AZURE } from "./types";
import { display, isSet, read, text, type FleetRule, type ResourceView } from "./view";

/**
 * A site is Flex Consumption when it has `functionAppConfig`, the section
 * only Flex sites take (runtime, scale and deployment storage).
 * https://learn.microsoft.com/azure/azure-functions/functions-infrastructure-as-code?pivots=flex-consumption-plan#create-the-function-app
 */
function isFlexSite(props: Readonly<Record<string, unknown>>): boolean {
  return (text(read(props, "kind")) ?? "").includes("functionapp") && isSet(props, "functionAppConfig");
}

function checkResource(resource: ResourceView): string[] {
  if (resource.type !== AZURE.webApp || !isFlexSite(resource.props)) return [];
  const siteConfig = read(resource.props, "siteConfig");
  const refused = AZURE_LIMITS.flexRejectedSiteConfig.filter((property) => isSet(siteConfig, property));
  if (refused.length === 0) return [];
  return [
    `${display(resource)} is a Flex Consumption site and sends siteConfig.${refused.join(", siteConfig.")}, which Flex refuses with a 400. Fix: leave siteConfig out entirely (azure-native adds netFrameworkVersion to any siteConfig it sends) and put app settings in a web.WebAppApplicationSettings resource.`,
  ];
}

export const flexSiteConfig: FleetRule = {
  name: "flex-site-config",
  description: "A Flex Consumption function app is sent no siteConfig property Flex refuses.",
  checks: [`Azure function app with \`functionAppConfig\` (Flex Consumption): no \`siteConfig.${AZURE_LIMITS.flexRejectedSiteConfig.join("`, `siteConfig.")}\``],
  checkResource,
};
