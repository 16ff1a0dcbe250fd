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
import { EXPIRY_MARGIN_SECONDS, fittingReceives, receivesSeconds } from "../../functions/aws/holds";
import type { SettingIssue } from "../../shared/errors";
import type { FleetSettings } from "../../shared/settings";
import { AWS_LIMITS } from "../cloudLimits";
import { configKey, PROJECT, toInteger, type CloudConfig, type FleetLimits as CommonFleetLimits, type RawConfig, type Validation } from "../config";

export interface AwsFleetConfig {
  /** Seconds the event source mapping gathers messages before invoking. 0–300. @default 0 */
  readonly batchWindowSeconds: number;
  /** The work queue's visibility timeout. At least `minimumVisibilityTimeout(...)`, at most 43200 (12 h). */
  readonly visibilityTimeoutSeconds: number;
}

const { lambdaMaxTimeoutSeconds, lambdaMemoryMb, sqsEventSourceMaximumConcurrency, unbatchedMaxBatchSize, batchingWindowSeconds, sqsMaxVisibilityTimeoutSeconds, logRetentionDays, ssmParameterValueMaxBytes } = AWS_LIMITS;

/** The batching window when the stack sets none. */
const DEFAULT_BATCH_WINDOW_SECONDS = 0;

/**
 * Work queue retention: 4 days (the SQS default). Not the 14-day maximum: a
 * message keeps its first enqueue time when it moves to the dead-letter queue,
 * and expires there by the dead-letter queue's retention counted from it
 * (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/setting-up-dead-letter-queue-retention.html),
 * so 4 days here leaves every dead letter at least 10 days to be read and
 * redriven. The handler cuts each hold so a message that keeps failing is
 * dead-lettered within these 4 days (functions/aws/holds.ts), and the config
 * check below refuses a queue whose receives alone cannot fit in them.
 */
export const WORK_QUEUE_RETENTION_SECONDS = 4 * 24 * 3600;
/** Dead letters are kept the SQS maximum, 14 days, and never less than the work queue's retention (see above). */
export const DEAD_LETTER_RETENTION_SECONDS = AWS_LIMITS.sqsMaxRetentionSeconds;

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

type FleetLimits = Pick<CommonFleetLimits, "functionTimeoutSeconds" | "maxWorkers" | "messagesPerWorker" | "memoryMb" | "logRetentionDays" | "maxDeliveryAttempts" | "settings">;

/** The settings parameter's value: the stack's settings document as JSON. */
export function settingsParameterValue(settings: FleetSettings): string {
  return JSON.stringify(settings);
}

/**
 * The cheapest SSM tier that holds `value` (Standard is free, Advanced is
 * billed per parameter and per API call), or undefined when none does.
 * Named, never `Intelligent-Tiering`: the provider creates such a parameter
 * in the Standard tier whatever its size (pulumi/pulumi-aws#5595), so a
 * document over 4 KB would fail at `pulumi up`.
 */
export function settingsParameterTier(value: string): keyof typeof ssmParameterValueMaxBytes | undefined {
  const bytes = Buffer.byteLength(value, "utf8");
  if (bytes <= ssmParameterValueMaxBytes.Standard) return "Standard";
  if (bytes <= ssmParameterValueMaxBytes.Advanced) return "Advanced";
  return undefined;
}

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

  if (fleet.functionTimeoutSeconds > lambdaMaxTimeoutSeconds) {
    issue("functionTimeoutSeconds", fleet.functionTimeoutSeconds, `is above Lambda's limit of ${lambdaMaxTimeoutSeconds} seconds`, `pulumi config set ${configKey("functionTimeoutSeconds")} ${lambdaMaxTimeoutSeconds}`);
  }
  if (fleet.maxWorkers < sqsEventSourceMaximumConcurrency.min || fleet.maxWorkers > sqsEventSourceMaximumConcurrency.max) {
    issue(
      "maxWorkers",
      fleet.maxWorkers,
      `must be from ${sqsEventSourceMaximumConcurrency.min} to ${sqsEventSourceMaximumConcurrency.max} on AWS: it is the SQS event source's maximumConcurrency, which Lambda does not accept below 2`,
      `pulumi config set ${configKey("maxWorkers")} ${sqsEventSourceMaximumConcurrency.min}`,
    );
  }
  if (fleet.memoryMb < lambdaMemoryMb.min || fleet.memoryMb > lambdaMemoryMb.max) {
    issue("memoryMb", fleet.memoryMb, `must be from ${lambdaMemoryMb.min} to ${lambdaMemoryMb.max} on Lambda`, `pulumi config set ${configKey("memoryMb")} 512`);
  }
  if (!(logRetentionDays as readonly number[]).includes(fleet.logRetentionDays)) {
    const nearest = logRetentionDays.find((days) => days >= fleet.logRetentionDays) ?? logRetentionDays[logRetentionDays.length - 1];
    issue("logRetentionDays", fleet.logRetentionDays, `is not a retention CloudWatch Logs accepts (${logRetentionDays.join(", ")})`, `pulumi config set ${configKey("logRetentionDays")} ${nearest}`);
  }

  const window = raw.batchWindowSeconds === undefined ? DEFAULT_BATCH_WINDOW_SECONDS : toInteger(raw.batchWindowSeconds);
  const windowValid = window !== undefined && window >= batchingWindowSeconds.min && window <= batchingWindowSeconds.max;
  if (!windowValid) {
    issue("batchWindowSeconds", raw.batchWindowSeconds, `must be an integer from ${batchingWindowSeconds.min} to ${batchingWindowSeconds.max}`, `pulumi config set ${configKey("batchWindowSeconds")} 1`);
  } else if (fleet.messagesPerWorker > unbatchedMaxBatchSize && window < 1) {
    issue(
      "batchWindowSeconds",
      window,
      `must be at least 1 when messagesPerWorker (the SQS batch size, ${fleet.messagesPerWorker}) is above ${unbatchedMaxBatchSize}: SQS refuses larger batches without a batching window`,
      `pulumi config set ${configKey("batchWindowSeconds")} 1   (or: pulumi config set ${configKey("messagesPerWorker")} ${unbatchedMaxBatchSize})`,
    );
  }

  const minimum = minimumVisibilityTimeout(fleet.functionTimeoutSeconds, windowValid ? window : 0);
  let visibilityTimeoutSeconds = minimum;
  if (raw.visibilityTimeoutSeconds !== undefined) {
    const given = toInteger(raw.visibilityTimeoutSeconds);
    if (given === undefined || given < minimum || given > sqsMaxVisibilityTimeoutSeconds) {
      issue(
        "visibilityTimeoutSeconds",
        raw.visibilityTimeoutSeconds,
        `must be an integer from ${minimum} (6 x functionTimeoutSeconds ${fleet.functionTimeoutSeconds} + batchWindowSeconds) to ${sqsMaxVisibilityTimeoutSeconds}: a shorter timeout lets a message reappear while a worker still holds it`,
        `pulumi config rm ${configKey("visibilityTimeoutSeconds")}   (the program derives ${minimum}), or set it to ${minimum} or more`,
      );
    } else {
      visibilityTimeoutSeconds = given;
    }
  }

  // Every receive can keep a message away for the visibility timeout, and the
  // handler's holds are cut to what is left (functions/aws/holds.ts); if the
  // receives alone cannot fit in the retention, SQS deletes a message that
  // keeps failing before it is dead-lettered, silently.
  const needed = receivesSeconds(fleet.maxDeliveryAttempts, visibilityTimeoutSeconds);
  if (needed > WORK_QUEUE_RETENTION_SECONDS) {
    const fitting = fittingReceives(WORK_QUEUE_RETENTION_SECONDS, visibilityTimeoutSeconds);
    issue(
      "maxDeliveryAttempts",
      fleet.maxDeliveryAttempts,
      `× the work queue's visibility timeout (${visibilityTimeoutSeconds} s) + ${EXPIRY_MARGIN_SECONDS} s is ${needed} s, past the queue's ${WORK_QUEUE_RETENTION_SECONDS} s retention: SQS would delete a message that keeps failing before it is dead-lettered`,
      `pulumi config set ${configKey("maxDeliveryAttempts")} ${fitting}   (or lower functionTimeoutSeconds, which the visibility timeout is derived from)`,
    );
  }

  if (fleet.settings !== undefined) {
    const value = settingsParameterValue(fleet.settings);
    if (settingsParameterTier(value) === undefined) {
      issue(
        "settings",
        `(${Buffer.byteLength(value, "utf8")} bytes as JSON)`,
        `is larger than an SSM parameter holds (${ssmParameterValueMaxBytes.Advanced} bytes in the Advanced tier, ${ssmParameterValueMaxBytes.Standard} in Standard)`,
        `shorten it, most often settings.blockedDomains (list a parent domain once instead of its subdomains)`,
      );
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
