/**
 * What the parity checks read (infra/capabilities.ts `PlanEvidence`): a
 * mocked run, and the stack's config validated the way the program validates
 * it, from the same files and overrides the run used.
 */
import type { PlanEvidence } from "../../infra/capabilities";
import { PROJECT, validateFleetConfig } from "../../infra/config";
import type { Cloud } from "../../infra/contract";
import { loadStackConfig, type ConfigOverride, type MockRunResult } from "../../infra/mockRun";
import { withOperatorAddresses } from "../support/stack";

export interface EvidenceOptions {
  /** Where the stack file is. @default the repository root */
  readonly rootDir?: string;
  /** The overrides the run was given. @default {} */
  readonly configOverrides?: Readonly<Record<string, ConfigOverride>>;
}

/** The stack's validated fleet config (cloud and arguments). */
export function fleetConfig(stack: string, options: EvidenceOptions = {}) {
  const { config } = loadStackConfig(stack, options.rootDir, withOperatorAddresses(stack, options.configOverrides, options.rootDir));
  const raw = Object.fromEntries(Object.entries(config).filter(([key]) => key.startsWith(`${PROJECT}:`)).map(([key, value]) => [key.slice(PROJECT.length + 1), value]));
  return validateFleetConfig(raw, stack);
}

/** The stack's cloud, from its stack file. */
export function cloudOf(stack: string, options: EvidenceOptions = {}): Cloud {
  return fleetConfig(stack, options).cloud;
}

export function planEvidence(result: MockRunResult, options: EvidenceOptions = {}): PlanEvidence {
  const { cloud, args } = fleetConfig(result.stack, options);
  return { stack: result.stack, cloud, resources: result.resources, outputs: result.outputs, args };
}
