/**
 * AWS-only stack keys, and the AWS limits on the fleet's common keys. Pure
 * validation (`validateAwsConfig`, which returns its issues) plus a reader over
 * `pulumi.Config` (`cloudConfig`, which infra/program.ts runs with the fleet's
 * checks, before any resource is declared). Imports no provider SDK.
 *
 * Keys:
 * - `aws:region` (required, or `AWS_REGION` / `AWS_DEFAULT_REGION`): the
 *   provider's own key, read here so a missing one is reported with the fix
 *   rather than at the first API call.
 * - `scrape-fleet:batchWindowSeconds` (0–300, default 0): the event source
 *   mapping's `maximumBatchingWindowInSeconds`. SQS requires at least 1 when the
 *   batch size (`messagesPerWorker`) is above 10.
 * - `scrape-fleet:visibilityTimeoutSeconds` (optional): overrides the work
 *   queue's visibility timeout, which is otherwise derived. Refused below the
 *   derived minimum.
 */
import * as pulumi from "@pulumi/pulumi";
import type { SettingIssue } from "../../shared/errors";
import { configKey, PROJECT, toInteger, type CloudConfig, type RawConfig, type Validation } from "../config";
import type { FleetArgs } from "../contract";

export interface AwsFleetConfig {
  /** Seconds the event source mapping gathers messages before invoking. 0–300. @default 0 */
  readonly batchWindowSeconds: number;
  /** The work queue's visibility timeout. At least `minimumVisibilityTimeout(...)`, at most 43200 (12 h). */
  readonly visibilityTimeoutSeconds: number;
}

/** Lambda's longest timeout (https://docs.aws.amazon.com/lambda/latest/dg/configuration-timeout.html). */
export const LAMBDA_MAX_TIMEOUT_SECONDS = 900;
/** Lambda memory range (https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html). */
export const LAMBDA_MEMORY_MB = { min: 128, max: 10_240 } as const;
/** `scalingConfig.maximumConcurrency` range for SQS event sources (provider docs: "Must be greater than or equal to 2"; 1000 without a quota increase). */
export const MAXIMUM_CONCURRENCY = { min: 2, max: 1000 } as const;
/** SQS allows batches above 10 only with a batching window of at least 1 s (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html). */
export const UNBATCHED_MAX_BATCH_SIZE = 10;
/** `maximumBatchingWindowInSeconds` range (provider docs: between 0 and 300). */
export const BATCH_WINDOW_SECONDS = { min: 0, max: 300, default: 0 } as const;
/** SQS visibility timeout maximum: 12 hours. */
export const SQS_MAX_VISIBILITY_TIMEOUT_SECONDS = 43_200;
/** CloudWatch Logs accepts only these retention periods (provider docs for `retentionInDays`). */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;

/**
 * The smallest visibility timeout the work queue may have: six times the
 * function timeout, which Lambda's SQS guide asks for so a throttled batch can
 * be retried before the message reappears
 * (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html),
 * plus the batching window, during which received messages are already invisible.
 */
export function minimumVisibilityTimeout(functionTimeoutSeconds: number, batchWindowSeconds: number): number {
  return 6 * functionTimeoutSeconds + batchWindowSeconds;
}

/** The stack keys only the AWS fleet reads. */
export const AWS_KEYS = ["batchWindowSeconds", "visibilityTimeoutSeconds"] as const;

type FleetLimits = Pick<FleetArgs, "functionTimeoutSeconds" | "maxWorkers" | "messagesPerWorker" | "memoryMb" | "logRetentionDays">;

/** The raw AWS keys: `region` from the provider (`aws:region`, or the environment), the rest from `scrape-fleet:`. */
export interface RawAwsConfig extends RawConfig {
  readonly region?: unknown;
  readonly batchWindowSeconds?: unknown;
  readonly visibilityTimeoutSeconds?: unknown;
}

/**
 * Validates the AWS keys and the AWS limits on the fleet's keys. Returns the
 * config, or every problem with its key, value and fix.
 */
export function validateAwsConfig(raw: RawAwsConfig, fleet: FleetLimits): Validation<AwsFleetConfig> {
  const issues: SettingIssue[] = [];
  const issue = (key: string, value: unknown, problem: string, fix: string) => issues.push({ key: configKey(key), value, problem, fix });

  if (typeof raw.region !== "string" || raw.region === "") {
    issues.push({ key: "aws:region", value: raw.region, problem: "is required: every resource is created there", fix: "pulumi config set aws:region us-west-2" });
  }

  if (fleet.functionTimeoutSeconds > LAMBDA_MAX_TIMEOUT_SECONDS) {
    issue("functionTimeoutSeconds", fleet.functionTimeoutSeconds, `is above Lambda's limit of ${LAMBDA_MAX_TIMEOUT_SECONDS} seconds`, `pulumi config set ${configKey("functionTimeoutSeconds")} ${LAMBDA_MAX_TIMEOUT_SECONDS}`);
  }
  if (fleet.maxWorkers < MAXIMUM_CONCURRENCY.min || fleet.maxWorkers > MAXIMUM_CONCURRENCY.max) {
    issue(
      "maxWorkers",
      fleet.maxWorkers,
      `must be from ${MAXIMUM_CONCURRENCY.min} to ${MAXIMUM_CONCURRENCY.max} on AWS: it is the SQS event source's maximumConcurrency, which Lambda does not accept below 2`,
      `pulumi config set ${configKey("maxWorkers")} ${MAXIMUM_CONCURRENCY.min}`,
    );
  }
  if (fleet.memoryMb < LAMBDA_MEMORY_MB.min || fleet.memoryMb > LAMBDA_MEMORY_MB.max) {
    issue("memoryMb", fleet.memoryMb, `must be from ${LAMBDA_MEMORY_MB.min} to ${LAMBDA_MEMORY_MB.max} on Lambda`, `pulumi config set ${configKey("memoryMb")} 512`);
  }
  if (!(LOG_RETENTION_DAYS as readonly number[]).includes(fleet.logRetentionDays)) {
    const nearest = LOG_RETENTION_DAYS.find((days) => days >= fleet.logRetentionDays) ?? LOG_RETENTION_DAYS[LOG_RETENTION_DAYS.length - 1];
    issue("logRetentionDays", fleet.logRetentionDays, `is not a retention CloudWatch Logs accepts (${LOG_RETENTION_DAYS.join(", ")})`, `pulumi config set ${configKey("logRetentionDays")} ${nearest}`);
  }

  const window = raw.batchWindowSeconds === undefined ? BATCH_WINDOW_SECONDS.default : toInteger(raw.batchWindowSeconds);
  const windowValid = window !== undefined && window >= BATCH_WINDOW_SECONDS.min && window <= BATCH_WINDOW_SECONDS.max;
  if (!windowValid) {
    issue("batchWindowSeconds", raw.batchWindowSeconds, `must be an integer from ${BATCH_WINDOW_SECONDS.min} to ${BATCH_WINDOW_SECONDS.max}`, `pulumi config set ${configKey("batchWindowSeconds")} 1`);
  } else if (fleet.messagesPerWorker > UNBATCHED_MAX_BATCH_SIZE && window < 1) {
    issue(
      "batchWindowSeconds",
      window,
      `must be at least 1 when messagesPerWorker (the SQS batch size, ${fleet.messagesPerWorker}) is above ${UNBATCHED_MAX_BATCH_SIZE}: SQS refuses larger batches without a batching window`,
      `pulumi config set ${configKey("batchWindowSeconds")} 1   (or: pulumi config set ${configKey("messagesPerWorker")} ${UNBATCHED_MAX_BATCH_SIZE})`,
    );
  }

  const minimum = minimumVisibilityTimeout(fleet.functionTimeoutSeconds, windowValid ? window : 0);
  let visibilityTimeoutSeconds = minimum;
  if (raw.visibilityTimeoutSeconds !== undefined) {
    const given = toInteger(raw.visibilityTimeoutSeconds);
    if (given === undefined || given < minimum || given > SQS_MAX_VISIBILITY_TIMEOUT_SECONDS) {
      issue(
        "visibilityTimeoutSeconds",
        raw.visibilityTimeoutSeconds,
        `must be an integer from ${minimum} (6 x functionTimeoutSeconds ${fleet.functionTimeoutSeconds} + batchWindowSeconds) to ${SQS_MAX_VISIBILITY_TIMEOUT_SECONDS}: a shorter timeout lets a message reappear while a worker still holds it`,
        `pulumi config rm ${configKey("visibilityTimeoutSeconds")}   (the program derives ${minimum}), or set it to ${minimum} or more`,
      );
    } else {
      visibilityTimeoutSeconds = given;
    }
  }

  if (issues.length > 0 || window === undefined) return { ok: false, issues };
  return { ok: true, value: { batchWindowSeconds: window, visibilityTimeoutSeconds } };
}

/** Reads the AWS keys from the stack's config (and the region from the environment when the stack has none) and validates them against `fleet`. */
export function readAwsConfig(fleet: FleetLimits): Validation<AwsFleetConfig> {
  // The provider also takes the region from the environment; with none at all
  // it fails later, at the first API call, without naming the key.
  const region = new pulumi.Config("aws").get("region") ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  const config = new pulumi.Config(PROJECT);
  return validateAwsConfig({ region, ...Object.fromEntries(AWS_KEYS.map((key) => [key, config.get(key)])) }, fleet);
}

/** The AWS keys and their check, for the program's up-front validation (infra/program.ts). */
export const cloudConfig: CloudConfig = { keys: AWS_KEYS, read: readAwsConfig };
