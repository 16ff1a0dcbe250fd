/**
 * Azure-only stack keys, the Azure limits on the fleet's common keys, and every
 * resource name the Azure fleet uses. Pure validation (`validateAzureConfig`,
 * which returns its issues) plus a reader over `pulumi.Config` (`cloudConfig`);
 * infra/program.ts runs it with the fleet's checks, before any resource is
 * declared, so bad input fails `pulumi up` (and `preview`) with every problem
 * at once. Imports no provider SDK.
 *
 * Keys:
 * - `azure-native:location` (required): the region for every resource, such as
 *   `westeurope`; it must offer Flex Consumption
 *   (`az functionapp list-flexconsumption-locations`).
 * - `scrape-fleet:lockDurationSeconds` (optional): overrides the work queue's
 *   message lock, which is otherwise derived from `functionTimeoutSeconds`.
 *   Refused below the function timeout or above Service Bus's 5 minutes.
 */
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { SettingsError, type SettingIssue } from "../../shared/errors";
import { AZURE_LIMITS } from "../cloudLimits";
import { configKey, PROJECT, toInteger, type CloudConfig, type RawConfig, type Validation } from "../config";
import type { FleetArgs } from "../contract";
import { resourceName, type NameKind } from "../naming";

/** The provider's config key for the region. */
export const LOCATION_KEY = "azure-native:location";

/** The stack keys only the Azure fleet reads (besides `azure-native:location`). */
export const AZURE_KEYS = ["lockDurationSeconds"] as const;

/** Service Bus's longest message lock (infra/cloudLimits.ts). */
export const SERVICE_BUS_MAX_LOCK_SECONDS = AZURE_LIMITS.serviceBusMaxLockSeconds;
/**
 * Lock time beyond the function timeout: the host receives the message before
 * the invocation starts and settles it after it ends.
 */
export const LOCK_HEADROOM_SECONDS = 30;
/**
 * The shortest function timeout: the handler keeps 5 s of it back to answer
 * before the deadline (functions/azure/index.ts `DEADLINE_MARGIN_MS`).
 */
export const MIN_FUNCTION_TIMEOUT_SECONDS = 10;
/** Flex Consumption instance sizes, in MB (infra/cloudLimits.ts). */
export const FLEX_INSTANCE_MEMORY_MB = AZURE_LIMITS.flexInstanceMemoryMb;
/** Flex Consumption `maximumInstanceCount` range (infra/cloudLimits.ts). */
export const FLEX_MAX_INSTANCES = AZURE_LIMITS.flexMaxInstances;
/** Log Analytics retention range (infra/cloudLimits.ts). */
export const LOG_ANALYTICS_RETENTION_DAYS = AZURE_LIMITS.logAnalyticsRetentionDays;

/** Every name the Azure fleet gives a resource. Globally unique ones end with `suffixOf(subscription)`. */
export interface AzureNames {
  readonly resourceGroup: string;
  /** `<name>.servicebus.windows.net`: globally unique, completed by the subscription suffix. */
  readonly serviceBusNamespace: string;
  readonly workQueue: string;
  /** `<name>.azurewebsites.net`: globally unique, completed by the subscription suffix. */
  readonly functionApp: string;
  readonly plan: string;
  /** Storage account names are global and 3–24 lower-case letters and digits; completed by the suffix. */
  readonly resultsAccount: string;
  readonly codeAccount: string;
  readonly resultsContainer: string;
  readonly deploymentContainer: string;
  readonly packageContainer: string;
  /** `<name>.azconfig.io`: globally unique, completed by the subscription suffix. */
  readonly configStore: string;
  readonly workspace: string;
  readonly appInsights: string;
  readonly actionGroup: string;
  readonly actionGroupShortName: string;
  /** Alert rule names, by alarm. */
  readonly alerts: Readonly<Record<AzureAlarmName, string>>;
}

/** Alarms on Service Bus metrics: metric alert rules. */
export const AZURE_METRIC_ALARMS = ["backlog", "dead-letters"] as const;
/** Alarms on the fleet's trace lines and requests, and on the namespace's exported metrics: log search alert rules (scheduled query rules). */
export const AZURE_LOG_ALARMS = ["oldest-message", "errors", "page-retries", "dead-lettered", "stalled"] as const;
export type AzureMetricAlarmName = (typeof AZURE_METRIC_ALARMS)[number];
export type AzureLogAlarmName = (typeof AZURE_LOG_ALARMS)[number];
export type AzureAlarmName = AzureMetricAlarmName | AzureLogAlarmName;

/**
 * Characters a globally unique name keeps free for its suffix: a hyphen and 6
 * hex characters (storage accounts: 6, with no hyphen).
 */
export const GLOBAL_SUFFIX_LENGTH = 6;

/**
 * The suffix that makes the fleet's global names unique: 6 hex characters of
 * SHA-256 over the subscription id and the name prefix. The same stack in the
 * same subscription always gets the same names, as with ARM's `uniqueString()`,
 * and two subscriptions using the same prefix do not collide.
 */
export function globalSuffix(subscriptionId: string, namePrefix: string): string {
  return createHash("sha256").update(`${subscriptionId}/${namePrefix}`).digest("hex").slice(0, GLOBAL_SUFFIX_LENGTH);
}

export interface AzureFleetConfig {
  /** The region of every resource (`azure-native:location`). */
  readonly location: string;
  /** The work queue's message lock, in seconds: at least the function timeout, at most 300. */
  readonly lockDurationSeconds: number;
  readonly names: AzureNames;
}

/** The lock derived from the function timeout when `lockDurationSeconds` is not set. */
export function derivedLockDuration(functionTimeoutSeconds: number): number {
  return Math.min(SERVICE_BUS_MAX_LOCK_SECONDS, functionTimeoutSeconds + LOCK_HEADROOM_SECONDS);
}

type FleetLimits = Pick<FleetArgs, "namePrefix" | "functionTimeoutSeconds" | "maxWorkers" | "memoryMb" | "logRetentionDays">;

/** The raw Azure keys: `location` from the provider (`azure-native:location`), the rest from `scrape-fleet:`. */
export interface RawAzureConfig extends RawConfig {
  readonly location?: unknown;
  readonly lockDurationSeconds?: unknown;
}

/**
 * Validates the Azure keys, the Azure limits on the fleet's keys and every
 * resource name. Returns the config, or every problem with its key, value and
 * fix.
 */
export function validateAzureConfig(raw: RawAzureConfig, fleet: FleetLimits): Validation<AzureFleetConfig> {
  const issues: SettingIssue[] = [];
  const issue = (key: string, value: unknown, problem: string, fix: string) => issues.push({ key: key.includes(":") ? key : configKey(key), value, problem, fix });

  const location = typeof raw.location === "string" ? raw.location.trim().toLowerCase().replace(/\s+/g, "") : undefined;
  if (location === undefined || !/^[a-z][a-z0-9]{2,39}$/.test(location)) {
    issue(
      LOCATION_KEY,
      raw.location,
      raw.location === undefined ? "is required: every Azure resource of the fleet is created in it" : "is not an Azure region name (lower-case letters and digits, such as westeurope)",
      `pulumi config set ${LOCATION_KEY} westeurope   (a region with Flex Consumption: az functionapp list-flexconsumption-locations)`,
    );
  }

  const timeout = fleet.functionTimeoutSeconds;
  const timeoutValid = timeout >= MIN_FUNCTION_TIMEOUT_SECONDS && timeout <= SERVICE_BUS_MAX_LOCK_SECONDS;
  if (!timeoutValid) {
    issue(
      "functionTimeoutSeconds",
      timeout,
      timeout > SERVICE_BUS_MAX_LOCK_SECONDS
        ? `is longer than Service Bus can lock a message (${SERVICE_BUS_MAX_LOCK_SECONDS} s): the message would be handed to another worker while this one still works on it`
        : `is below ${MIN_FUNCTION_TIMEOUT_SECONDS} s: the handler keeps 5 s back to answer before the deadline`,
      `pulumi config set ${configKey("functionTimeoutSeconds")} ${Math.min(Math.max(timeout, MIN_FUNCTION_TIMEOUT_SECONDS), SERVICE_BUS_MAX_LOCK_SECONDS - LOCK_HEADROOM_SECONDS)}`,
    );
  }

  let lockDurationSeconds = derivedLockDuration(timeout);
  if (raw.lockDurationSeconds !== undefined) {
    const given = toInteger(raw.lockDurationSeconds);
    const minimum = Math.min(timeout, SERVICE_BUS_MAX_LOCK_SECONDS);
    if (given === undefined || given < minimum || given > SERVICE_BUS_MAX_LOCK_SECONDS) {
      issue(
        "lockDurationSeconds",
        raw.lockDurationSeconds,
        `must be an integer from ${minimum} (functionTimeoutSeconds) to ${SERVICE_BUS_MAX_LOCK_SECONDS} (Service Bus's longest lock): a shorter lock lets Service Bus hand the message to another worker while this one still works on it`,
        `pulumi config rm ${configKey("lockDurationSeconds")}   (the program derives ${derivedLockDuration(timeout)}), or set it from ${minimum} to ${SERVICE_BUS_MAX_LOCK_SECONDS}`,
      );
    } else {
      lockDurationSeconds = given;
    }
  }

  if (!(FLEX_INSTANCE_MEMORY_MB as readonly number[]).includes(fleet.memoryMb)) {
    const nearest = FLEX_INSTANCE_MEMORY_MB.find((size) => size >= fleet.memoryMb) ?? FLEX_INSTANCE_MEMORY_MB[FLEX_INSTANCE_MEMORY_MB.length - 1];
    issue("memoryMb", fleet.memoryMb, `is not a Flex Consumption instance size (${FLEX_INSTANCE_MEMORY_MB.join(", ")} MB)`, `pulumi config set ${configKey("memoryMb")} ${nearest}`);
  }
  if (fleet.maxWorkers < FLEX_MAX_INSTANCES.min || fleet.maxWorkers > FLEX_MAX_INSTANCES.max) {
    issue(
      "maxWorkers",
      fleet.maxWorkers,
      `must be from ${FLEX_MAX_INSTANCES.min} to ${FLEX_MAX_INSTANCES.max} on Azure: it is Flex Consumption's maximumInstanceCount`,
      `pulumi config set ${configKey("maxWorkers")} ${Math.min(Math.max(fleet.maxWorkers, FLEX_MAX_INSTANCES.min), FLEX_MAX_INSTANCES.max)}`,
    );
  }
  if (fleet.logRetentionDays < LOG_ANALYTICS_RETENTION_DAYS.min || fleet.logRetentionDays > LOG_ANALYTICS_RETENTION_DAYS.max) {
    issue(
      "logRetentionDays",
      fleet.logRetentionDays,
      `must be from ${LOG_ANALYTICS_RETENTION_DAYS.min} to ${LOG_ANALYTICS_RETENTION_DAYS.max} days on Azure (Log Analytics retention)`,
      `pulumi config set ${configKey("logRetentionDays")} ${Math.min(Math.max(fleet.logRetentionDays, LOG_ANALYTICS_RETENTION_DAYS.min), LOG_ANALYTICS_RETENTION_DAYS.max)}`,
    );
  }

  const names = azureNames(fleet.namePrefix, issues);

  if (issues.length > 0 || location === undefined || names === undefined) return { ok: false, issues };
  return { ok: true, value: { location, lockDurationSeconds, names } };
}

/** Every name from the prefix; a name that breaks a limit adds the naming table's issue (key `scrape-fleet:namePrefix`). */
function azureNames(prefix: string, issues: SettingIssue[]): AzureNames | undefined {
  let valid = true;
  const name = (kind: NameKind, suffix: string, reserve = 0): string => {
    try {
      return resourceName(kind, prefix, suffix, { reserve });
    } catch (error) {
      if (!(error instanceof SettingsError)) throw error;
      // One issue per key is enough: the first name that does not fit says which prefix would.
      if (valid) issues.push(...error.issues);
      valid = false;
      return "";
    }
  };
  const global = GLOBAL_SUFFIX_LENGTH + 1;
  const names: AzureNames = {
    resourceGroup: name("azureResourceGroup", "rg"),
    serviceBusNamespace: name("azureServiceBusNamespace", "sb", global),
    workQueue: resourceName("azureServiceBusQueue", "work", ""),
    functionApp: name("azureFunctionApp", "fn", global),
    plan: name("azureAppServicePlan", "plan"),
    resultsAccount: name("azureStorageAccount", "res", GLOBAL_SUFFIX_LENGTH),
    codeAccount: name("azureStorageAccount", "code", GLOBAL_SUFFIX_LENGTH),
    resultsContainer: resourceName("azureStorageContainer", "results", ""),
    deploymentContainer: resourceName("azureStorageContainer", "deployments", ""),
    packageContainer: resourceName("azureStorageContainer", "packages", ""),
    configStore: name("azureAppConfigurationStore", "cfg", global),
    workspace: name("azureLogAnalyticsWorkspace", "logs"),
    appInsights: name("azureApplicationInsights", "ai"),
    actionGroup: name("azureActionGroup", "alerts"),
    actionGroupShortName: resourceName("azureActionGroupShortName", "scrapefleet", ""),
    alerts: Object.fromEntries([
      ...AZURE_METRIC_ALARMS.map((alarm) => [alarm, name("azureMetricAlert", alarm)]),
      ...AZURE_LOG_ALARMS.map((alarm) => [alarm, name("azureScheduledQueryRule", alarm)]),
    ]) as Record<AzureAlarmName, string>,
  };
  return valid ? names : undefined;
}

/** Reads the Azure keys from the stack's config and validates them against `fleet`. */
export function readAzureConfig(fleet: FleetLimits): Validation<AzureFleetConfig> {
  const config = new pulumi.Config(PROJECT);
  return validateAzureConfig(
    {
      location: new pulumi.Config("azure-native").get("location"),
      lockDurationSeconds: config.get("lockDurationSeconds"),
    },
    fleet,
  );
}

/** The Azure keys and their check, for the program's up-front validation (infra/program.ts). */
export const cloudConfig: CloudConfig = { keys: AZURE_KEYS, read: readAzureConfig };
