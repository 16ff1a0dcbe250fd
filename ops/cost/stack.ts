/**
 * The stack's own configuration, as the cost model and the simulator need
 * it: read from `Pulumi.yaml` and `Pulumi.<stack>.yaml` exactly as the plan
 * reads them (infra/mockRun.ts `loadStackConfig`) and validated by the same
 * checks as `pulumi up` (infra/config.ts `checkFleetConfig`), so a stack the
 * program would refuse is refused here too, with the same key, value and fix.
 */
import { SettingsError } from "../../shared/errors";
import type { FleetSettings } from "../../shared/settings";
import { checkFleetConfig, PROJECT, toInteger, toNumber } from "../../infra/config";
import type { Cloud } from "../../infra/contract";
import { defaultWorkerCpu } from "../../infra/gcp/config";
import { loadStackConfig } from "../../infra/mockRun";

export interface StackShape {
  readonly stack: string;
  readonly cloud: Cloud;
  /** The provider's region (`aws:region`, `azure-native:location`, `gcp:region`). */
  readonly region: string;
  readonly memoryMb: number;
  readonly maxWorkers: number;
  readonly messagesPerWorker: number;
  readonly maxDeliveryAttempts: number;
  readonly functionTimeoutSeconds: number;
  readonly logRetentionDays: number;
  readonly rawHtmlRetentionDays: number;
  /** AWS only: the event source mapping's batching window. */
  readonly batchWindowSeconds: number;
  /** Google Cloud only: the function's vCPUs (`workerCpu`, else derived as the program derives it). */
  readonly gcpCpu: number;
  readonly settings: FleetSettings;
}

const REGION_KEYS: Readonly<Record<Cloud, string>> = { aws: "aws:region", azure: "azure-native:location", gcp: "gcp:region" };
/** The region a stack that names none deploys to; also where `cost` prices the other clouds. */
export const DEFAULT_REGIONS: Readonly<Record<Cloud, string>> = { aws: "us-east-1", azure: "westeurope", gcp: "us-central1" };

/** Throws `UnknownStackError` for a stack with no file and `SettingsError` (every issue) for one the program would refuse. */
export function readStackShape(stack: string, rootDir?: string): StackShape {
  const { config } = loadStackConfig(stack, rootDir);
  const raw: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) if (key.startsWith(`${PROJECT}:`)) raw[key.slice(PROJECT.length + 1)] = value;
  return shapeFromConfig(stack, raw, config);
}

/**
 * The shape of a stack from its `scrape-fleet:` keys (`raw`, without the
 * namespace) and its full config (for the provider's region). A stack that
 * sets only `cloud` and `alertEmail` gets the program's defaults.
 */
export function shapeFromConfig(stack: string, raw: Readonly<Record<string, unknown>>, config: Readonly<Record<string, string>> = {}): StackShape {
  const checked = checkFleetConfig(raw, stack);
  if (checked.config === undefined) throw new SettingsError(`stack ${JSON.stringify(stack)} config`, checked.issues);
  const { cloud, args } = checked.config;
  const gcpCpu = toNumber(raw.workerCpu) ?? Number(defaultWorkerCpu(args.memoryMb, args.messagesPerWorker) ?? 1);
  return {
    stack,
    cloud,
    region: config[REGION_KEYS[cloud]] ?? DEFAULT_REGIONS[cloud],
    memoryMb: args.memoryMb,
    maxWorkers: args.maxWorkers,
    messagesPerWorker: args.messagesPerWorker,
    maxDeliveryAttempts: args.maxDeliveryAttempts,
    functionTimeoutSeconds: args.functionTimeoutSeconds,
    logRetentionDays: args.logRetentionDays,
    rawHtmlRetentionDays: args.rawHtmlRetentionDays,
    batchWindowSeconds: toInteger(raw.batchWindowSeconds) ?? 0,
    gcpCpu,
    settings: args.settings,
  };
}
