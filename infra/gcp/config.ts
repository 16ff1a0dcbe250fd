/**
 * Google Cloud-only stack keys, and the Google Cloud limits on the fleet's
 * common keys. Pure validation (`validateGcpConfig`, which returns its issues)
 * plus a reader over `pulumi.Config` (`cloudConfig`, which infra/program.ts
 * runs with the fleet's checks, before any resource is declared). Imports no
 * provider SDK.
 *
 * Keys:
 * - `gcp:project` (required): the project the fleet is deployed to (the
 *   provider's own key, read here so a missing one fails with the fix before
 *   any resource is registered).
 * - `gcp:region` (required): where the function, bucket and log bucket live.
 * - `scrape-fleet:ackDeadlineSeconds` (10–600, default: functionTimeoutSeconds
 *   + 60): the push subscriptions' ack deadline, which is also the push
 *   request's timeout. Refused below functionTimeoutSeconds + 60 (the margin
 *   for a cold start and Cloud Run's request queue, ../cloudLimits.ts).
 * - `scrape-fleet:workerCpu` (optional): the function's vCPUs, such as `1` or
 *   `2`; derived from memoryMb and messagesPerWorker otherwise.
 */
import * as pulumi from "@pulumi/pulumi";
import type { SettingIssue } from "../../shared/errors";
import { GCP_LIMITS } from "../cloudLimits";
import { configKey, PROJECT, toInteger, toNumber, type CloudConfig, type RawConfig, type Validation } from "../config";
import type { AlarmThresholds, FleetArgs } from "../contract";

export interface GcpFleetConfig {
  readonly project: string;
  readonly region: string;
  /** The push subscriptions' ack deadline: at least the function timeout + `GCP_LIMITS.ackMarginSeconds`, 10–600. */
  readonly ackDeadlineSeconds: number;
  /** `serviceConfig.availableCpu`, as the API takes it ("1", "2", "0.333"). */
  readonly workerCpu: string;
}

/**
 * Memory each CPU count allows, in MiB, and the CPU Cloud Run functions gives a
 * memory size by default. Concurrency above 1 needs at least 1 vCPU; below 1
 * vCPU, memory above 512 MiB needs 0.5 and above 1 GiB needs 1.
 * https://cloud.google.com/run/docs/configuring/services/cpu
 * https://cloud.google.com/functions/docs/configuring/memory
 */
export const CPU_MEMORY_MIB: ReadonlyArray<{ readonly cpu: number; readonly minMemory: number; readonly maxMemory: number }> = [
  { cpu: 1, minMemory: 128, maxMemory: 4096 },
  { cpu: 2, minMemory: 128, maxMemory: 8192 },
  { cpu: 4, minMemory: 2048, maxMemory: 16_384 },
  { cpu: 6, minMemory: 4096, maxMemory: 24_576 },
  { cpu: 8, minMemory: 4096, maxMemory: 32_768 },
];
const DEFAULT_FRACTIONAL_CPU: ReadonlyArray<{ readonly upToMemory: number; readonly cpu: string }> = [
  { upToMemory: 128, cpu: "0.083" },
  { upToMemory: 256, cpu: "0.167" },
  { upToMemory: 512, cpu: "0.333" },
  { upToMemory: 1024, cpu: "0.583" },
];

/**
 * The CPU for `memoryMb` at `concurrency`: Cloud Run functions' own default for
 * one request at a time (a fraction of a vCPU up to 1 GiB), else the smallest
 * whole vCPU count whose memory range holds `memoryMb`. Undefined when none does.
 */
export function defaultWorkerCpu(memoryMb: number, concurrency: number): string | undefined {
  if (concurrency === 1) {
    const fractional = DEFAULT_FRACTIONAL_CPU.find((tier) => memoryMb <= tier.upToMemory);
    if (fractional) return fractional.cpu;
  }
  return CPU_MEMORY_MIB.find((tier) => memoryMb >= tier.minMemory && memoryMb <= tier.maxMemory)?.cpu.toString();
}

/** Why `cpu` cannot run `memoryMb` at `concurrency`, or undefined when it can. */
export function cpuProblem(cpu: number, memoryMb: number, concurrency: number): string | undefined {
  if (cpu < 1) {
    if (cpu < 0.08) return "is below Cloud Run's minimum of 0.08 vCPU";
    if (concurrency > 1) return `is below 1 vCPU, which allows only one request at a time, but messagesPerWorker is ${concurrency}`;
    if (memoryMb > 1024) return `is below 1 vCPU, which allows at most 1024 MiB, but memoryMb is ${memoryMb}`;
    if (memoryMb > 512 && cpu < 0.5) return `is below 0.5 vCPU, which allows at most 512 MiB, but memoryMb is ${memoryMb}`;
    return undefined;
  }
  const tier = CPU_MEMORY_MIB.find((candidate) => candidate.cpu === cpu);
  if (!tier) return `is not a CPU count Cloud Run offers (a fraction from 0.08 to 1, or ${CPU_MEMORY_MIB.map((candidate) => candidate.cpu).join(", ")})`;
  if (memoryMb < tier.minMemory || memoryMb > tier.maxMemory) return `allows ${tier.minMemory} to ${tier.maxMemory} MiB, but memoryMb is ${memoryMb}`;
  return undefined;
}

type FleetLimits = Pick<FleetArgs, "functionTimeoutSeconds" | "messagesPerWorker" | "memoryMb" | "logRetentionDays"> & { readonly alarms: Pick<AlarmThresholds, "stalledMinutes"> };

/** The Google Cloud-only `scrape-fleet:` keys. */
export const GCP_KEYS = ["ackDeadlineSeconds", "workerCpu"] as const;

/** The raw Google Cloud keys: `project` and `region` from the `gcp:` namespace, the rest from `scrape-fleet:`. */
export interface RawGcpConfig extends RawConfig {
  readonly project?: unknown;
  readonly region?: unknown;
  readonly ackDeadlineSeconds?: unknown;
  readonly workerCpu?: unknown;
}

const PROJECT_ID = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
const REGION = /^[a-z]+-[a-z]+\d+$/;

/**
 * Validates the Google Cloud keys and the Google Cloud limits on the fleet's
 * keys. Returns the config, or every problem with its key, value and fix.
 */
export function validateGcpConfig(raw: RawGcpConfig, fleet: FleetLimits): Validation<GcpFleetConfig> {
  const issues: SettingIssue[] = [];
  const issue = (key: string, value: unknown, problem: string, fix: string) => issues.push({ key, value, problem, fix });

  const project = raw.project;
  if (typeof project !== "string" || !PROJECT_ID.test(project)) {
    issue("gcp:project", project, project === undefined ? "is required: the Google Cloud project the fleet is deployed to" : "is not a project ID (6 to 30 lower-case letters, digits and hyphens)", "pulumi config set gcp:project my-project-id");
  }
  const region = raw.region;
  if (typeof region !== "string" || !REGION.test(region)) {
    issue("gcp:region", region, region === undefined ? "is required: where the function, buckets and logs live" : "is not a region name such as us-central1", "pulumi config set gcp:region us-central1");
  }

  const ack = GCP_LIMITS.ackDeadlineSeconds;
  const margin = GCP_LIMITS.ackMarginSeconds;
  const longestTimeout = ack.max - margin;
  if (fleet.functionTimeoutSeconds > longestTimeout) {
    issue(
      configKey("functionTimeoutSeconds"),
      fleet.functionTimeoutSeconds,
      `is above ${longestTimeout} seconds: a Pub/Sub push request may take at most ${ack.max} s from the moment Pub/Sub sends it, and ${margin} s of that are kept for a cold start and Cloud Run's request queue; a longer run is delivered again while the function still works on it`,
      `pulumi config set ${configKey("functionTimeoutSeconds")} ${longestTimeout}`,
    );
  }

  const leastAck = fleet.functionTimeoutSeconds + margin;
  const derivedAck = Math.min(ack.max, Math.max(ack.min, leastAck));
  let ackDeadlineSeconds = derivedAck;
  if (raw.ackDeadlineSeconds !== undefined) {
    const given = toInteger(raw.ackDeadlineSeconds);
    if (given === undefined || given < ack.min || given > ack.max) {
      issue(configKey("ackDeadlineSeconds"), raw.ackDeadlineSeconds, `must be an integer from ${ack.min} to ${ack.max} (Pub/Sub's range)`, `pulumi config rm ${configKey("ackDeadlineSeconds")}   (the program derives ${derivedAck})`);
    } else if (given < leastAck) {
      issue(
        configKey("ackDeadlineSeconds"),
        given,
        `is shorter than functionTimeoutSeconds (${fleet.functionTimeoutSeconds}) + ${margin} s for a cold start and Cloud Run's request queue: the push request times out at the ack deadline, counted from when Pub/Sub sends it, and Pub/Sub redelivers the message while the function still works on it`,
        `pulumi config set ${configKey("ackDeadlineSeconds")} ${derivedAck}   (or pulumi config rm ${configKey("ackDeadlineSeconds")})`,
      );
    } else {
      ackDeadlineSeconds = given;
    }
  }

  let workerCpu = defaultWorkerCpu(fleet.memoryMb, fleet.messagesPerWorker);
  if (raw.workerCpu !== undefined) {
    const given = toNumber(raw.workerCpu);
    const problem = given === undefined ? "is not a number" : cpuProblem(given, fleet.memoryMb, fleet.messagesPerWorker);
    if (problem !== undefined) {
      const fitting = defaultWorkerCpu(fleet.memoryMb, fleet.messagesPerWorker);
      issue(configKey("workerCpu"), raw.workerCpu, problem, fitting ? `pulumi config set ${configKey("workerCpu")} ${fitting}   (or pulumi config rm ${configKey("workerCpu")} to derive it)` : `change memoryMb to at most 32768 MiB`);
    } else {
      workerCpu = String(given);
    }
  } else if (workerCpu === undefined) {
    issue(configKey("memoryMb"), fleet.memoryMb, "fits no Cloud Run CPU size (at most 32768 MiB at 8 vCPU)", `pulumi config set ${configKey("memoryMb")} 2048`);
  }

  const logDays = GCP_LIMITS.logBucketRetentionDays;
  if (fleet.logRetentionDays > logDays.max) {
    issue(configKey("logRetentionDays"), fleet.logRetentionDays, `is above the ${logDays.max} days a Cloud Logging bucket keeps logs`, `pulumi config set ${configKey("logRetentionDays")} ${logDays.max}`);
  }
  const absence = GCP_LIMITS.absenceWindowMinutes;
  if (fleet.alarms.stalledMinutes < absence.min) {
    issue(configKey("alarms.stalledMinutes"), fleet.alarms.stalledMinutes, `is below ${absence.min}: Cloud Monitoring's missing-data condition needs a window of at least ${absence.min} minutes`, `pulumi config set --path ${configKey("alarms.stalledMinutes")} ${absence.min}`);
  } else if (fleet.alarms.stalledMinutes > absence.max) {
    issue(
      configKey("alarms.stalledMinutes"),
      fleet.alarms.stalledMinutes,
      `is above ${absence.max} (23.5 hours): Cloud Monitoring refuses a missing-data condition with a longer window`,
      `pulumi config set --path ${configKey("alarms.stalledMinutes")} ${absence.max}`,
    );
  }

  if (issues.length > 0 || typeof project !== "string" || typeof region !== "string" || workerCpu === undefined) return { ok: false, issues };
  return { ok: true, value: { project, region, ackDeadlineSeconds, workerCpu } };
}

/** Reads the Google Cloud keys from the stack's config and validates them against `fleet`. */
export function readGcpConfig(fleet: FleetLimits): Validation<GcpFleetConfig> {
  const gcp = new pulumi.Config("gcp");
  const config = new pulumi.Config(PROJECT);
  return validateGcpConfig(
    {
      project: gcp.get("project"),
      region: gcp.get("region"),
      ackDeadlineSeconds: config.get("ackDeadlineSeconds"),
      workerCpu: config.get("workerCpu"),
    },
    fleet,
  );
}

/** The Google Cloud keys and their check, for the program's up-front validation (infra/program.ts). */
export const cloudConfig: CloudConfig = { keys: GCP_KEYS, read: readGcpConfig };
