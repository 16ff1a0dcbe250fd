/**
 * Test helpers over `mockRun`: run a stack once per process (mocha runs every
 * infra test file in one process, and runs must be sequential), then look up
 * resources by type and name.
 */
import { PROJECT, isPlaceholderAddress, validateFleetConfig, type ValidatedFleetConfig } from "../../infra/config";
import { loadStackConfig, mockRun, type ConfigOverride, type MockRunResult, type MockStateFunction, type RecordedResource } from "../../infra/mockRun";

export type { MockRunResult, RecordedResource };

export interface StackRunOptions {
  readonly configOverrides?: Readonly<Record<string, ConfigOverride>>;
  readonly mockState?: Readonly<Record<string, MockStateFunction>>;
}

/**
 * The address a user puts in place of the stack files' placeholders before the
 * first `pulumi up` (the program refuses `ops@example.com`). Under mocks
 * nothing is ever sent to it.
 */
export const OPERATOR_ADDRESS = "oncall@fleet-operators.internal";

/**
 * `overrides` plus what a user edits before deploying a shipped stack file: a
 * placeholder `alertEmail` or `settings.contact` becomes `OPERATOR_ADDRESS`.
 * Keys the caller overrides are left as given, so a test can still pass a
 * placeholder on purpose.
 */
export function withOperatorAddresses(stack: string, overrides: Readonly<Record<string, ConfigOverride>> = {}, rootDir?: string): Record<string, ConfigOverride> {
  const { config } = loadStackConfig(stack, rootDir, overrides);
  const edited: Record<string, ConfigOverride> = { ...overrides };
  const emailKey = `${PROJECT}:alertEmail`;
  const settingsKey = `${PROJECT}:settings`;
  if (!(emailKey in overrides) && isPlaceholderAddress(config[emailKey] ?? "")) edited[emailKey] = OPERATOR_ADDRESS;
  if (!(settingsKey in overrides) && config[settingsKey] !== undefined) {
    const settings = JSON.parse(config[settingsKey]) as Record<string, unknown>;
    if (typeof settings.contact === "string" && isPlaceholderAddress(settings.contact)) edited[settingsKey] = { ...settings, contact: OPERATOR_ADDRESS };
  }
  return edited;
}

const runs = new Map<string, Promise<MockRunResult>>();
let queue: Promise<unknown> = Promise.resolve();

/**
 * The mocked run of `stack` (with `options`), shared by every test that asks
 * for the same one. Runs are queued, never concurrent.
 */
export function runStack(stack: string, options: StackRunOptions = {}): Promise<MockRunResult> {
  // `undefined` overrides (a key removed) must count in the key, and JSON.stringify would drop them.
  const key = JSON.stringify([stack, options.configOverrides ?? {}, Object.keys(options.mockState ?? {})], (_name, value: unknown) => (value === undefined ? "(removed)" : value));
  let run = runs.get(key);
  if (run === undefined) {
    run = queue.then(() => mockRun({ stack, ...options, configOverrides: withOperatorAddresses(stack, options.configOverrides) }));
    queue = run.catch(() => undefined);
    // A failed run is not cached, so a later test sees the failure again rather than a stale rejection.
    run.catch(() => runs.delete(key));
    runs.set(key, run);
  }
  return run;
}

/** Every resource of `type`. */
export function ofType(result: MockRunResult, type: string): RecordedResource[] {
  return result.resources.filter((resource) => resource.type === type);
}

/** The one resource of `type` (whose logical name ends with `nameSuffix`, when given); throws if there is not exactly one. */
export function one(result: MockRunResult, type: string, nameSuffix?: string): RecordedResource {
  const found = ofType(result, type).filter((resource) => nameSuffix === undefined || resource.name.endsWith(nameSuffix));
  if (found.length !== 1) {
    throw new Error(`expected one ${type}${nameSuffix ? ` named *${nameSuffix}` : ""}, found ${found.length}: ${found.map((resource) => resource.name).join(", ")}`);
  }
  return found[0];
}

/** An input parsed from JSON when the provider takes a JSON string (policies, redrive policies). */
export function jsonInput<T = unknown>(resource: RecordedResource, key: string): T {
  const value = resource.inputs[key];
  if (typeof value !== "string") throw new Error(`${resource.type} ${resource.name}: input ${key} is not a JSON string (${JSON.stringify(value)})`);
  return JSON.parse(value) as T;
}

/**
 * The stack's config as the program sees it (Pulumi.yaml defaults, then the
 * stack file), keyed without the `scrape-fleet:` namespace, plus the
 * validated fleet arguments: what tests compare the resources against.
 */
export function stackConfig(stack: string): { raw: Record<string, string>; fleet: ValidatedFleetConfig; config: Record<string, string> } {
  const { config } = loadStackConfig(stack, undefined, withOperatorAddresses(stack));
  const raw: Record<string, string> = {};
  for (const [key, value] of Object.entries(config)) {
    if (key.startsWith(`${PROJECT}:`)) raw[key.slice(PROJECT.length + 1)] = value;
  }
  return { raw, fleet: validateFleetConfig(raw, stack), config };
}
