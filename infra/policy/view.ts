/**
 * What every fleet rule reads, and the small readers they share.
 *
 * A rule sees a resource as `{ type, name, urn?, props }`. CrossGuard gives
 * exactly that (`ResourceValidationArgs` before a resource is created, with
 * its inputs; `PolicyResource` in a stack validation, with its outputs), and a
 * mocked plan (infra/mockRun.ts) records the same property names, camelCase,
 * as `inputs` and `outputs`. So the rules run unchanged in the policy pack
 * (./index.ts) and offline over a mocked plan (./evaluate.ts).
 *
 * Values may arrive in three shapes: plain; wrapped as a secret
 * (`{ <signature>: <secret marker>, value }`, as Pulumi serializes it); or, in
 * a preview, unknown. Secrets are unwrapped by `read`. Unknowns are left to
 * CrossGuard: reading one throws its `UnknownValueError`, which it reports as
 * "can't run during preview" (advisory) instead of a violation.
 */

export interface ResourceView {
  /** Type token, such as `aws:sqs/queue:Queue`. */
  readonly type: string;
  /** Logical name. */
  readonly name: string;
  /** `urn:pulumi:<stack>::<project>::<type chain>::<name>`; the tags rule reads the stack from it. */
  readonly urn?: string;
  /** Inputs (resource rules) or outputs (stack rules). */
  readonly props: Readonly<Record<string, unknown>>;
}

export interface Violation {
  readonly type: string;
  readonly name: string;
  readonly urn?: string;
  /** Names the resource, what is wrong and the fix. */
  readonly message: string;
}

/**
 * One rule of the pack. Either part may be absent. The resource part runs on
 * each resource's inputs before it is created; the stack part runs once over
 * every resource's outputs, for what only the relations between resources
 * show (a queue is a dead-letter queue because another names it).
 */
export interface FleetRule {
  /** Policy name, kebab-case; the stack part is registered as `<name>-stack`. */
  readonly name: string;
  /** One sentence: what the rule demands. */
  readonly description: string;
  /** What is checked on which type: the pack's readme (`rulesMarkdown` in ./pack.ts). */
  readonly checks: readonly string[];
  readonly checkResource?: (resource: ResourceView) => readonly string[];
  readonly checkStack?: (resources: readonly ResourceView[]) => readonly Violation[];
}

/** Pulumi's marker of a serialized secret (sdk/nodejs/runtime/rpc.ts `specialSigKey` / `specialSecretSig`). */
const SPECIAL_SIGNATURE_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIGNATURE = "1b47061264138c4ac30d75fd1eb44270";

function unwrapSecret(value: unknown): unknown {
  let current = value;
  while (typeof current === "object" && current !== null && (current as Record<string, unknown>)[SPECIAL_SIGNATURE_KEY] === SECRET_SIGNATURE) {
    current = (current as { value?: unknown }).value;
  }
  return current;
}

/** The value at `path` under `props` (object keys or array indexes), secrets unwrapped; undefined when absent. */
export function read(props: unknown, ...path: readonly (string | number)[]): unknown {
  let current = unwrapSecret(props);
  for (const key of path) {
    if (typeof current !== "object" || current === null) return undefined;
    current = unwrapSecret((current as Record<string | number, unknown>)[key]);
  }
  return current;
}

/** A non-empty string, or undefined. */
export function text(value: unknown): string | undefined {
  const plain = unwrapSecret(value);
  return typeof plain === "string" && plain !== "" ? plain : undefined;
}

/** A finite number (a numeric string counts: some providers echo numbers as strings). */
export function numeric(value: unknown): number | undefined {
  const plain = unwrapSecret(value);
  if (typeof plain === "number" && Number.isFinite(plain)) return plain;
  if (typeof plain === "string" && /^-?\d+(\.\d+)?$/.test(plain)) return Number(plain);
  return undefined;
}

/** An array's items (secrets unwrapped); a single value is a one-item list; absent is empty. */
export function items(value: unknown): unknown[] {
  const plain = unwrapSecret(value);
  if (plain === undefined || plain === null) return [];
  return Array.isArray(plain) ? plain.map(unwrapSecret) : [plain];
}

/**
 * How many items a list holds, without reading them: in a preview an item may
 * be a reference not known yet (an alarm action naming a topic still to be
 * created), which CrossGuard refuses to read, though the list is known.
 */
export function count(value: unknown): number {
  const plain = unwrapSecret(value);
  if (plain === undefined || plain === null) return 0;
  return Array.isArray(plain) ? plain.length : 1;
}

/**
 * Whether `container[key]` holds a value, without reading it through
 * CrossGuard's proxy (which only traps reads): a value not known yet in a
 * preview counts as set, since it will be.
 */
export function isSet(container: unknown, key: string): boolean {
  const plain = unwrapSecret(container);
  if (typeof plain !== "object" || plain === null) return false;
  const raw: unknown = Object.getOwnPropertyDescriptor(plain, key)?.value;
  return raw !== undefined && raw !== null && raw !== "";
}

/** A string-keyed map (tags, labels), or undefined when the value is not an object. */
export function stringMap(value: unknown): Readonly<Record<string, unknown>> | undefined {
  const plain = unwrapSecret(value);
  return typeof plain === "object" && plain !== null && !Array.isArray(plain) ? (plain as Record<string, unknown>) : undefined;
}

/** A JSON document given either as a string (IAM policies, redrive policies) or already as an object. */
export function jsonDocument(value: unknown): unknown {
  const plain = unwrapSecret(value);
  if (typeof plain !== "string") return plain;
  try {
    return JSON.parse(plain) as unknown;
  } catch {
    return undefined;
  }
}

/** `aws:sqs/queue:Queue "fleet-work"`: how messages name a resource. */
export function display(resource: Pick<ResourceView, "type" | "name">): string {
  return `${resource.type} "${resource.name}"`;
}

export function violation(resource: ResourceView, message: string): Violation {
  return { type: resource.type, name: resource.name, urn: resource.urn, message };
}

/** The stack a URN belongs to, or undefined for a malformed URN. */
export function stackOfUrn(urn: string | undefined): string | undefined {
  return urn === undefined ? undefined : /^urn:pulumi:([^:]+)::/.exec(urn)?.[1];
}

/** The resources of the given types. */
export function ofTypes(resources: readonly ResourceView[], types: readonly string[]): ResourceView[] {
  return resources.filter((resource) => types.includes(resource.type));
}
