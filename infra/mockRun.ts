/**
 * Runs the program for a named stack under `pulumi.runtime.setMocks`, with no
 * Pulumi CLI, cloud or provider plugin: it reads `Pulumi.yaml` (the config
 * schema's defaults) and `Pulumi.<stack>.yaml`, records every resource the
 * program registers (type, name, parent, inputs) and resolves the outputs.
 * `npm run plan` prints it; the infra tests assert policies over it.
 *
 * Runs are sequential: the Pulumi runtime keeps its settings (monitor, stack,
 * config) in one process-wide store, so a second run while one is under way is
 * refused. Each run calls `setMocks` again, which resets that store's options
 * (stack name, monitor, pending RPCs) — the SDK's own tests do the same — and
 * `setAllConfig` replaces the whole config map, so nothing of one stack's
 * config is visible to the next. Providers read their config lazily, through
 * getters (`@pulumi/aws/config/vars`), so a provider module loaded by an
 * earlier run does not keep the earlier stack's values (tests/infra/plan.test.ts
 * runs two stacks in one process to keep it so).
 *
 * A `pulumi.StackReference` is a read the engine answers with the named
 * stack's outputs from its last update; the mocks answer it from
 * `stackOutputs`, and a stack not listed there reads as one with no outputs
 * yet, as a stack before its first update does (infra/program.ts reads its own
 * stack's previous outputs this way).
 */
import * as pulumi from "@pulumi/pulumi";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { parse as parseYaml, YAMLParseError } from "yaml";
import { REPO_ROOT } from "./bundle";
import { AWS_MOCK_STATE } from "./aws/mockState";
import { AZURE_MOCK_STATE } from "./azure/mockState";
import { GCP_MOCK_STATE } from "./gcp/mockState";
import type { FleetOutputName } from "./program";

export interface RecordedResource {
  /** Type token, such as `aws:sqs/queue:Queue`. */
  readonly type: string;
  /** Logical name. */
  readonly name: string;
  readonly urn: string;
  /** The parent's URN; undefined for top-level resources. */
  readonly parent?: string;
  /** Custom (provider-managed) resource, as opposed to a component. */
  readonly custom: boolean;
  /** Inputs as the provider would receive them (outputs resolved, secrets unwrapped). */
  readonly inputs: Readonly<Record<string, unknown>>;
  /** Top-level input names whose values are secrets: never print them. */
  readonly secretInputs: readonly string[];
  /** The state the mocks returned: inputs plus plausible outputs (ARNs, URLs, ids). */
  readonly outputs: Readonly<Record<string, unknown>>;
  /** The `ignoreChanges` resource option. */
  readonly ignoreChanges: readonly string[];
  /** The `replaceOnChanges` resource option. */
  readonly replaceOnChanges: readonly string[];
  /** The `deleteBeforeReplace` resource option. */
  readonly deleteBeforeReplace: boolean;
  /** The provider reference (`<provider urn>::<id>`), when one was given. */
  readonly provider?: string;
}

export interface MockRunResult {
  readonly project: string;
  readonly stack: string;
  readonly resources: readonly RecordedResource[];
  readonly outputs: Readonly<Record<string, string>>;
}

/** A stack config value for `configOverrides`: a plain value, or a secret. */
export type ConfigOverride = string | number | boolean | object | { readonly secret: string } | undefined;

export interface MockRunOptions {
  /** The stack: `Pulumi.<stack>.yaml` must exist in `rootDir`. */
  readonly stack: string;
  /** Where `Pulumi.yaml` lives. @default the repository root */
  readonly rootDir?: string;
  /**
   * Config changes over the stack file, by full key (`scrape-fleet:maxWorkers`).
   * `undefined` removes a key; `{ secret: "..." }` sets a secret value.
   * @default {}
   */
  readonly configOverrides?: Readonly<Record<string, ConfigOverride>>;
  /** The program to run; it may be async, as `main` is. @default `main` from ./program */
  readonly program?: () => ProgramOutputs | Promise<ProgramOutputs>;
  /** Extra mock state per type token, over the built-in ones. @default {} */
  readonly mockState?: Readonly<Record<string, MockStateFunction>>;
  /**
   * What a `pulumi.StackReference` reads, by fully qualified stack name
   * (`organization/scrape-fleet/<stack>`, see `MOCK_ORGANIZATION`): the
   * outputs of that stack's last update. A stack not listed has no outputs
   * yet, like a stack before its first `pulumi up`.
   * @default {}
   */
  readonly stackOutputs?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

/** A program's stack outputs, by name. */
export type ProgramOutputs = Readonly<Record<string, pulumi.Output<string>>>;

/** Plausible output state for one resource type, given its inputs. */
export type MockStateFunction = (resource: { readonly name: string; readonly inputs: Record<string, unknown> }, env: MockEnvironment) => Record<string, unknown>;

export interface MockEnvironment {
  readonly config: Readonly<Record<string, string>>;
  readonly accountId: string;
  readonly region: string;
}

/** A stack named that has no `Pulumi.<stack>.yaml`. */
/** A project or stack file that is not valid YAML. */
export class StackFileError extends Error {
  readonly code = "stack_file_invalid";
  constructor(file: string, detail: string) {
    super(`${path.basename(file)} is not valid YAML: ${detail}; fix the file (pulumi config set writes it correctly)`);
    this.name = "StackFileError";
  }
}

function readYamlFile(file: string): unknown {
  try {
    return parseYaml(readFileSync(file, "utf8"));
  } catch (error) {
    if (error instanceof YAMLParseError) throw new StackFileError(file, error.message.split("\n")[0]);
    throw error;
  }
}

export class UnknownStackError extends Error {
  readonly code = "stack_unknown";
  constructor(
    readonly stack: string,
    readonly available: readonly string[],
  ) {
    super(`no stack file Pulumi.${stack}.yaml; the stacks are: ${available.join(", ") || "(none)"}. Use one of them, or start one from a copy: cp Pulumi.${available[0] ?? "dev"}.yaml Pulumi.${stack}.yaml`);
    this.name = "UnknownStackError";
  }
}

/** A second run started while one is under way. */
export class ConcurrentRunError extends Error {
  readonly code = "mock_run_busy";
  constructor() {
    super("mockRun is already running in this process: the Pulumi runtime holds one stack at a time; await the earlier run first");
    this.name = "ConcurrentRunError";
  }
}

/** The AWS account id and region mocks report. */
export const MOCK_ACCOUNT_ID = "123456789012";
/**
 * The organization `pulumi.getOrganization()` returns under the mocks: the
 * name the self-managed (DIY) backends give every stack, so a stack reference
 * reads `organization/<project>/<stack>` there.
 * https://www.pulumi.com/blog/project-scoped-stacks-in-self-managed-backend/
 */
export const MOCK_ORGANIZATION = "organization";
/** The type token of `pulumi.StackReference` reads. */
const STACK_REFERENCE_TYPE = "pulumi:pulumi:StackReference";

const SECRET_SIGNATURE = "4dabf18193072939515e22adb298388d";
const SECRET_MARKER = "1b47061264138c4ac30d75fd1eb44270";

/** Stack names that have a `Pulumi.<stack>.yaml` in `rootDir`. */
export function availableStacks(rootDir: string = REPO_ROOT): string[] {
  return readdirSync(rootDir)
    .map((file) => /^Pulumi\.(.+)\.ya?ml$/.exec(file)?.[1])
    .filter((stack): stack is string => stack !== undefined)
    .sort();
}

/**
 * The config the CLI would give the program: the project schema's defaults,
 * then the stack file, then `overrides`. Values are strings, objects as JSON.
 */
export function loadStackConfig(stack: string, rootDir: string = REPO_ROOT, overrides: Readonly<Record<string, ConfigOverride>> = {}): { project: string; config: Record<string, string>; secretKeys: string[] } {
  const stackFile = [`Pulumi.${stack}.yaml`, `Pulumi.${stack}.yml`].map((file) => path.join(rootDir, file)).find((file) => existsSync(file));
  if (stackFile === undefined) throw new UnknownStackError(stack, availableStacks(rootDir));
  const project = readYamlFile(path.join(rootDir, "Pulumi.yaml")) as { name: string; config?: Record<string, { default?: unknown }> };
  const stackDocument = (readYamlFile(stackFile) ?? {}) as { config?: Record<string, unknown> };

  const config: Record<string, string> = {};
  const secretKeys = new Set<string>();
  const set = (key: string, value: ConfigOverride) => {
    if (value === undefined) {
      delete config[key];
      secretKeys.delete(key);
    } else if (typeof value === "object" && value !== null && "secret" in value && Object.keys(value).length === 1) {
      config[key] = String(value.secret);
      secretKeys.add(key);
    } else if (typeof value === "object" && value !== null && "secure" in value) {
      // An encrypted value cannot be decrypted without the CLI; the program sees a placeholder secret.
      config[key] = "(encrypted)";
      secretKeys.add(key);
    } else {
      config[key] = typeof value === "string" ? value : JSON.stringify(value);
      secretKeys.delete(key);
    }
  };
  for (const [key, declared] of Object.entries(project.config ?? {})) {
    if (declared.default !== undefined) set(key.includes(":") ? key : `${project.name}:${key}`, declared.default as ConfigOverride);
  }
  for (const [key, value] of Object.entries(stackDocument.config ?? {})) set(key, value as ConfigOverride);
  for (const [key, value] of Object.entries(overrides)) set(key, value);
  return { project: project.name, config, secretKeys: [...secretKeys] };
}

let running = false;

/** Runs the program for `options.stack` under mocks. Sequential only: see the file comment. */
export async function mockRun(options: MockRunOptions): Promise<MockRunResult> {
  if (running) throw new ConcurrentRunError();
  running = true;
  try {
    return await runOnce(options);
  } finally {
    running = false;
  }
}

async function runOnce(options: MockRunOptions): Promise<MockRunResult> {
  const rootDir = options.rootDir ?? REPO_ROOT;
  const { project, config, secretKeys } = loadStackConfig(options.stack, rootDir, options.configOverrides);
  const env: MockEnvironment = {
    config,
    accountId: MOCK_ACCOUNT_ID,
    region: config["aws:region"] ?? config["azure-native:location"] ?? config["gcp:region"] ?? "us-east-1",
  };
  const states: Readonly<Record<string, MockStateFunction>> = { ...builtInState(), [STACK_REFERENCE_TYPE]: stackReferenceState(options.stackOutputs ?? {}), ...options.mockState };

  const inputsByResource = new Map<string, { inputs: Record<string, unknown>; secretInputs: string[]; outputs: Record<string, unknown> }>();
  const resources: RecordedResource[] = [];

  pulumi.runtime.setAllConfig(config, secretKeys);
  await pulumi.runtime.setMocks(
    {
      newResource: ({ type, name, inputs }) => {
        const recorded = unwrapSecrets(inputs);
        const state = (states[type] ?? genericState)({ name, inputs: recorded.inputs }, env);
        inputsByResource.set(`${type}::${name}`, { ...recorded, outputs: { ...recorded.inputs, ...state } });
        const id = typeof state.id === "string" ? state.id : `${name}-id`;
        return { id, state: { ...inputs, ...state } };
      },
      call: ({ token, inputs }) => callResult(token, inputs, env),
    },
    project,
    options.stack,
    false,
    MOCK_ORGANIZATION,
  );

  // The mock monitor's request carries the parent; `Mocks.newResource` does not
  // see it, so the monitor's method is wrapped here.
  const monitor = pulumi.runtime.getMonitor() as unknown as { registerResource(req: RegisterRequest, callback: (error: unknown, response?: { getUrn(): string }) => void): Promise<void> };
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, callback) =>
    register(req, (error, response) => {
      if (response) {
        const type = req.getType();
        const name = req.getName();
        const recorded = inputsByResource.get(`${type}::${name}`) ?? { inputs: {}, secretInputs: [], outputs: {} };
        resources.push({
          type,
          name,
          urn: response.getUrn(),
          parent: req.getParent() || undefined,
          custom: req.getCustom(),
          ...recorded,
          ignoreChanges: req.getIgnorechangesList(),
          replaceOnChanges: req.getReplaceonchangesList(),
          deleteBeforeReplace: req.getDeletebeforereplace(),
          provider: req.getProvider() || undefined,
        });
      }
      callback(error, response);
    });

  const program = options.program ?? (require("./program") as { main: () => Promise<Record<FleetOutputName, pulumi.Output<string>>> }).main;
  const outputs = await program();
  const resolved: Record<string, string> = {};
  for (const [name, output] of Object.entries(outputs)) resolved[name] = await valueOf(output);
  // Waits for every registration still in flight, then lets the next run set a new monitor.
  await pulumi.runtime.disconnect();
  return { project, stack: options.stack, resources, outputs: resolved };
}

interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getCustom(): boolean;
  getProvider(): string;
  getIgnorechangesList(): string[];
  getReplaceonchangesList(): string[];
  getDeletebeforereplace(): boolean;
}

/**
 * Mock inputs keep secrets wrapped (`{ <signature>: <secret marker>, value }`):
 * unwraps them, noting which top-level inputs held one.
 */
function unwrapSecrets(inputs: Record<string, unknown>): { inputs: Record<string, unknown>; secretInputs: string[] } {
  const secretInputs: string[] = [];
  const plain: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(inputs)) {
    let found = false;
    const unwrap = (item: unknown): unknown => {
      if (Array.isArray(item)) return item.map(unwrap);
      if (typeof item !== "object" || item === null) return item;
      // Assets and archives carry the same signature key with another value.
      if ((item as Record<string, unknown>)[SECRET_SIGNATURE] === SECRET_MARKER) {
        found = true;
        return unwrap((item as { value?: unknown }).value);
      }
      return Object.fromEntries(Object.entries(item).map(([innerKey, inner]) => [innerKey, unwrap(inner)]));
    };
    plain[key] = unwrap(value);
    if (found) secretInputs.push(key);
  }
  return { inputs: plain, secretInputs };
}

/** The value of an output under mocks (all outputs are known when not previewing). */
export function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply(resolve));
}

function callResult(token: string, inputs: Record<string, unknown>, env: MockEnvironment): Record<string, unknown> {
  switch (token) {
    case "aws:index/getCallerIdentity:getCallerIdentity":
      return { accountId: env.accountId, arn: `arn:aws:iam::${env.accountId}:user/mock`, userId: "AIDAMOCK", id: env.accountId };
    case "aws:index/getPartition:getPartition":
      return { partition: "aws", dnsSuffix: "amazonaws.com", reverseDnsPrefix: "com.amazonaws", id: "aws" };
    case "aws:index/getRegion:getRegion":
      return { region: env.region, name: env.region, endpoint: `ec2.${env.region}.amazonaws.com`, id: env.region };
    case "azure-native:authorization:getClientConfig":
      return { subscriptionId: "00000000-0000-0000-0000-000000000000", tenantId: "11111111-1111-1111-1111-111111111111", clientId: "22222222-2222-2222-2222-222222222222", objectId: "33333333-3333-3333-3333-333333333333" };
    case "gcp:organizations/getProject:getProject":
      return { number: "123456789012", projectId: env.config["gcp:project"] ?? "mock-project", name: env.config["gcp:project"] ?? "mock-project", id: `projects/${env.config["gcp:project"] ?? "mock-project"}` };
    case "gcp:organizations/getClientConfig:getClientConfig":
      return { project: env.config["gcp:project"] ?? "mock-project", region: env.config["gcp:region"] ?? "us-central1", zone: "", accessToken: "mock-token", id: "mock" };
    default:
      return { ...inputs };
  }
}

/** Physical name: the `name` input if set, else the logical name with a stand-in for Pulumi's random suffix. */
export function physicalName(resource: { name: string; inputs: Record<string, unknown> }, input = "name"): string {
  const given = resource.inputs[input];
  return typeof given === "string" ? given : `${resource.name}-0a1b2c3`;
}

/** A stack reference's state: the named stack's outputs, none for a stack not in `stackOutputs`. */
function stackReferenceState(stackOutputs: Readonly<Record<string, Readonly<Record<string, unknown>>>>): MockStateFunction {
  return ({ inputs }) => {
    const name = String(inputs.name);
    return { id: name, name, outputs: { ...stackOutputs[name] }, secretOutputNames: [] };
  };
}

function genericState(resource: { name: string; inputs: Record<string, unknown> }, env: MockEnvironment): Record<string, unknown> {
  return { id: `${resource.name}-id`, name: physicalName(resource), urnName: resource.name, region: env.region };
}

/**
 * Plausible state for every type the three fleets create, so outputs and
 * cross-references look like the cloud's. Built on use: the cloud files import
 * `physicalName` from here, and a constant would see them half-loaded.
 */
function builtInState(): Readonly<Record<string, MockStateFunction>> {
  return { ...AWS_MOCK_STATE, ...AZURE_MOCK_STATE, ...GCP_MOCK_STATE };
}
