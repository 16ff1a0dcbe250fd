/**
 * The clouds' documented ranges and refusals that the config validation and
 * the policy pack read, in one place, each with the page or thread it comes
 * from. One section per cloud. Imports nothing, so the policy pack and the
 * README generator can read it without loading a provider.
 */

/** Azure: Service Bus, Flex Consumption, Log Analytics and Azure Monitor. */
export const AZURE_LIMITS = {
  /**
   * Service Bus's longest message lock: 5 minutes.
   * https://learn.microsoft.com/azure/service-bus-messaging/message-transfers-locks-settlement#peeklock
   */
  serviceBusMaxLockSeconds: 300,
  /**
   * Flex Consumption instance sizes, in MB.
   * https://learn.microsoft.com/azure/azure-functions/flex-consumption-plan#instance-sizes
   */
  flexInstanceMemoryMb: [512, 2048, 4096],
  /**
   * `maximumInstanceCount`: "The lowest maximum scale is currently 1. The
   * highest currently supported value is 1000."
   * https://learn.microsoft.com/azure/azure-functions/flex-consumption-plan#considerations
   */
  flexMaxInstances: { min: 1, max: 1000 },
  /**
   * `siteConfig` properties a Flex Consumption site refuses with a 400 ("The
   * following site configuration property (Site.SiteConfig.<name>) for Flex
   * Consumption sites is invalid"), even when null. azure-native sends
   * `netFrameworkVersion` on its own whenever `siteConfig` is given.
   * https://github.com/pulumi/pulumi-azure-native/issues/4168 (NetFrameworkVersion)
   * https://github.com/microsoft/azure-pipelines-tasks/issues/21032 (FtpsState, Use32BitWorkerProcess, NetFrameworkVersion, FunctionsRuntimeScaleMonitoringEnabled)
   * https://github.com/Azure/terraform-azurerm-avm-res-web-site/issues/283 (LinuxFxVersion)
   */
  flexRejectedSiteConfig: ["netFrameworkVersion", "ftpsState", "use32BitWorkerProcess", "functionsRuntimeScaleMonitoringEnabled", "linuxFxVersion"],
  /**
   * Log Analytics interactive retention for the pay-as-you-go (PerGB2018) tier.
   * https://learn.microsoft.com/azure/azure-monitor/logs/data-retention-configure
   */
  logAnalyticsRetentionDays: { min: 30, max: 730 },
  /**
   * Windows (`windowSize`) a log search alert rule takes, in minutes: up to 6
   * hours, then 1 or 2 days.
   * https://learn.microsoft.com/azure/azure-monitor/alerts/alerts-create-log-alert-rule#configure-the-alert-rule-conditions
   */
  logAlertWindowsMinutes: [5, 10, 15, 30, 45, 60, 120, 180, 240, 300, 360, 1440, 2880],
} as const;
