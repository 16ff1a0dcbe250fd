/**
 * The stack's config, read once and validated up front, before any resource
 * exists: every bad key (the fleet's, one nothing reads, the cloud's own) is
 * reported together in one `SettingsError`, each with its value and the
 * `pulumi config set` command that fixes it.
 *
 * The validators are pure (no Pulumi), so they are tested with plain objects:
 * `checkFleetConfig` / `validateFleetConfig` here, `validate<Cloud>Config` in
 * each `infra/<cloud>/config.ts`. `readFleetConfig` feeds them from
 * `pulumi.Config` and merges what they find.
 */
import * as pulumi from "@pulumi/pulumi";
import { SettingsError, type SettingIssue } from "../shared/errors";
import { parseSettings, SETTINGS_SPEC, type FleetSettings } from "../shared/settings";
import { CLOUDS, type AlarmThresholds, type Cloud, type FleetArgs } from "./contract";
import { fleetTags } from "./tags";

/** The project's config namespace (`Pulumi.yaml` `name`). */
export const PROJECT = "scrape-fleet";

/** The full config key, as `pulumi config set` takes it. */
export function configKey(key: string): string {
  return `${PROJECT}:${key}`;
}

/**
 * Config values as the Pulumi CLI hands them over: strings (numbers as their
 * text, objects as JSON text). Parsed values (numbers, objects) are accepted too.
 * Keys are given without the `scrape-fleet:` namespace.
 */
export type RawConfig = Readonly<Record<string, unknown>>;

interface IntegerKeySpec {
  readonly min: number;
  readonly max: number;
  readonly default: number;
}

/**
 * The integer keys, with the range every cloud accepts. A cloud narrows a
 * range in its own `infra/<cloud>/config.ts` (Lambda: timeout at most 900 s).
 * The defaults are the ones `Pulumi.yaml` declares; a test keeps the two equal.
 */
export const INTEGER_KEYS = {
  maxDeliveryAttempts: { min: 5, max: 100, default: 5 },
  functionTimeoutSeconds: { min: 1, max: 3600, default: 120 },
  maxWorkers: { min: 1, max: 1000, default: 10 },
  messagesPerWorker: { min: 1, max: 1000, default: 10 },
  memoryMb: { min: 128, max: 32_768, default: 512 },
  logRetentionDays: { min: 1, max: 3653, default: 30 },
  rawHtmlRetentionDays: { min: 1, max: 3650, default: 30 },
} as const satisfies Record<string, IntegerKeySpec>;

type IntegerKey = keyof typeof INTEGER_KEYS;

/** Alarm thresholds: ranges and defaults. The two percentages may be fractional. */
export const ALARM_KEYS = {
  backlogMessages: { min: 1, max: 100_000_000, default: 1000, integer: true },
  oldestMessageAgeSeconds: { min: 60, max: 1_209_600, default: 900, integer: true },
  errorRatePercent: { min: 0.01, max: 100, default: 5, integer: false },
  retryRatePercent: { min: 1, max: 100, default: 25, integer: false },
  stalledMinutes: { min: 1, max: 1440, default: 15, integer: true },
} as const satisfies Record<keyof AlarmThresholds, IntegerKeySpec & { integer: boolean }>;

/** Keys the fleet reads on every cloud; a cloud's own keys live in `infra/<cloud>/config.ts`. */
export const FLEET_KEYS = ["cloud", "alertEmail", "alertWebhookUrl", "namePrefix", "settings", "pushSettings", "alarms", "tags", ...Object.keys(INTEGER_KEYS)] as const;

/** Read by the cloud-change guard in `infra/program.ts`, for one update only. */
export const ALLOW_CLOUD_CHANGE_KEY = "allowCloudChange";

/**
 * `scrape-fleet:` keys in the stack's config that nothing reads: the fleet's,
 * the cloud's own (`cloudKeys`) and the guard's are known; anything else is a
 * typo that would otherwise be ignored silently.
 */
export function unknownKeyIssues(configured: readonly string[], cloudKeys: readonly string[]): SettingIssue[] {
  const known = new Set<string>([...FLEET_KEYS, ...cloudKeys, ALLOW_CLOUD_CHANGE_KEY]);
  return configured
    .filter((fullKey) => fullKey.startsWith(`${PROJECT}:`) && !known.has(fullKey.slice(PROJECT.length + 1)))
    .map((fullKey) => ({ key: fullKey, value: "(set)", problem: "is not a key this program reads", fix: `remove it (pulumi config rm ${fullKey}) or use one of: ${[...known].join(", ")}` }));
}

/**
 * A validator's answer: the validated value, or every issue it found. Returned,
 * never thrown, so the program can merge the issues of every validator into
 * one error.
 */
export type Validation<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly issues: readonly SettingIssue[] };

/** The validated value, or a `SettingsError` (from `source`) listing every issue. */
export function validOrThrow<T>(result: Validation<T>, source: string): T {
  if (!result.ok) throw new SettingsError(source, result.issues);
  return result.value;
}

/**
 * The fleet's values a cloud checks against its own limits (Lambda's timeout,
 * Flex's memory sizes, the config store's value size, ...). `settings` is
 * undefined while the settings document has issues of its own.
 */
export type FleetLimits = Pick<FleetArgs, "namePrefix" | IntegerKey | "alarms"> & { readonly settings?: FleetSettings };

/**
 * What each `infra/<cloud>/config.ts` exports as `cloudConfig`. The program
 * loads only the stack's cloud's (no provider SDK comes with it), so the
 * cloud's checks run with the fleet's, before any resource is declared.
 */
export interface CloudConfig {
  /** The `scrape-fleet:` keys only this cloud reads (its provider's own keys, such as `aws:region`, are not listed). */
  readonly keys: readonly string[];
  /** Reads the cloud's keys from the stack's config and validates them, and the cloud's limits on `fleet`. */
  read(fleet: FleetLimits): Validation<unknown>;
}

/** Everything in `FleetArgs` except the webhook, which stays a Pulumi secret output. */
export type ValidatedFleetArgs = Omit<FleetArgs, "alertWebhookUrl">;

export interface ValidatedFleetConfig {
  readonly cloud: Cloud;
  readonly args: ValidatedFleetArgs;
  /** The webhook URL was given (its value is never returned here). */
  readonly hasAlertWebhook: boolean;
}

/** What `checkFleetConfig` finds: the issues, and values a cloud can check even when some are bad. */
export interface FleetConfigCheck {
  /** The stack's cloud; undefined when `cloud` is missing or not one of `CLOUDS`. */
  readonly cloud: Cloud | undefined;
  /**
   * The values a cloud checks its limits against, each bad one replaced by its
   * default (the prefix derived from the stack name, for `namePrefix`), so the
   * cloud's checks run even while the fleet's keys have issues.
   */
  readonly limits: FleetLimits;
  /** Every issue with the fleet's keys (`scrape-fleet:<key>`), with its value and fix. */
  readonly issues: readonly SettingIssue[];
  /** The validated config; undefined when there are issues. */
  readonly config: ValidatedFleetConfig | undefined;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/**
 * Names reserved for documentation and testing, which no mailbox or site
 * answers: `example.com`, `example.net`, `example.org` and their subdomains,
 * and the `.example`, `.invalid`, `.localhost` and `.test` top-level domains
 * (RFC 2606, https://www.rfc-editor.org/rfc/rfc2606). An alert sent there
 * reaches nobody, and a site owner cannot reach a contact there.
 */
const RESERVED_DOMAIN = /(^|\.)(example\.(com|net|org)|example|invalid|localhost|test)\.?$/i;

/** True for an e-mail address or URL on a name reserved for examples (RFC 2606). */
export function isPlaceholderAddress(address: string): boolean {
  const domain = addressDomain(address);
  return domain !== undefined && RESERVED_DOMAIN.test(domain);
}

/** The host of an e-mail address or URL, lower case; undefined when it has none. */
function addressDomain(address: string): string | undefined {
  const at = address.lastIndexOf("@");
  if (!address.includes("://") && at >= 0) return address.slice(at + 1).toLowerCase();
  return URL.parse(address)?.hostname.toLowerCase() || undefined;
}

/**
 * A deployed fleet must reach real people: refuses a placeholder `alertEmail`
 * or `settings.contact` (the stack files ship with `ops@example.com`). Read by
 * the program only, so tools that just read a stack's numbers (cost, plan
 * diffs) still work on the shipped files.
 */
export function placeholderAddressIssues(args: Pick<ValidatedFleetArgs, "alertEmail" | "settings">): SettingIssue[] {
  const issues: SettingIssue[] = [];
  if (isPlaceholderAddress(args.alertEmail)) {
    issues.push({
      key: configKey("alertEmail"),
      value: args.alertEmail,
      problem: `is a placeholder: ${addressDomain(args.alertEmail)} is reserved for examples (RFC 2606), so every alarm would reach nobody`,
      fix: `pulumi config set ${configKey("alertEmail")} <your on-call address>`,
    });
  }
  if (isPlaceholderAddress(args.settings.contact)) {
    issues.push({
      key: configKey("settings.contact"),
      value: args.settings.contact,
      problem: `is a placeholder: ${addressDomain(args.settings.contact)} is reserved for examples (RFC 2606), so site owners who read the User-Agent cannot reach you`,
      fix: `pulumi config set --path ${configKey("settings.contact")} <an address you read>   (or remove it: pulumi config rm --path ${configKey("settings.contact")})`,
    });
  }
  return issues;
}
const NAME_PREFIX = /^[a-z][a-z0-9-]*[a-z0-9]$/;
const NAME_PREFIX_MAX = 40;

/**
 * Validates the fleet's keys and applies defaults. Throws one `SettingsError`
 * listing every bad key (`scrape-fleet:<key>`), its value and the fix.
 */
export function validateFleetConfig(raw: RawConfig, stack: string): ValidatedFleetConfig {
  const { issues, config } = checkFleetConfig(raw, stack);
  if (config === undefined) throw new SettingsError(`stack ${JSON.stringify(stack)} config`, issues);
  return config;
}

/** Checks the fleet's keys and applies defaults; returns every issue rather than throwing (see `FleetConfigCheck`). */
export function checkFleetConfig(raw: RawConfig, stack: string): FleetConfigCheck {
  const issues: SettingIssue[] = [];
  const issue = (key: string, value: unknown, problem: string, fix: string) => issues.push({ key: configKey(key), value, problem, fix });

  const cloudValue = raw.cloud;
  const cloud = CLOUDS.find((name) => name === cloudValue);
  if (cloud === undefined) {
    issue("cloud", cloudValue, cloudValue === undefined ? "is required" : `is not a cloud this program deploys to (${CLOUDS.join(", ")})`, `pulumi config set ${configKey("cloud")} aws   (or azure, gcp)`);
  }

  const alertEmail = raw.alertEmail;
  const alertEmailValid = typeof alertEmail === "string" && EMAIL.test(alertEmail);
  if (!alertEmailValid) {
    issue("alertEmail", alertEmail, alertEmail === undefined ? "is required: every alarm is sent there" : "is not an e-mail address", `pulumi config set ${configKey("alertEmail")} ops@example.com`);
  }

  const webhook = raw.alertWebhookUrl;
  if (webhook !== undefined && !isHttpsUrl(webhook)) {
    // The value is a secret: never echo it.
    issue("alertWebhookUrl", "(secret)", "is not an https:// URL", `pulumi config set --secret ${configKey("alertWebhookUrl")} https://hooks.example.com/alerts`);
  }

  const defaultPrefix = `${PROJECT}-${stack}`.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/-+$/, "");
  const givenPrefix = raw.namePrefix ?? defaultPrefix;
  const namePrefix = typeof givenPrefix === "string" && NAME_PREFIX.test(givenPrefix) && givenPrefix.length <= NAME_PREFIX_MAX ? givenPrefix : undefined;
  if (namePrefix === undefined) {
    issue(
      "namePrefix",
      givenPrefix,
      `${raw.namePrefix === undefined ? `(derived from the stack name ${JSON.stringify(stack)}) ` : ""}must be ${NAME_PREFIX_MAX} characters at most, lower-case letters, digits and hyphens, starting with a letter`,
      `pulumi config set ${configKey("namePrefix")} sf-${stack.toLowerCase().replace(/[^a-z0-9]+/g, "").slice(0, 12) || "prod"}`,
    );
  }

  const integers = {} as Record<IntegerKey, number>;
  for (const key of Object.keys(INTEGER_KEYS) as IntegerKey[]) {
    const spec: IntegerKeySpec = INTEGER_KEYS[key];
    const value = raw[key] === undefined ? spec.default : toInteger(raw[key]);
    if (value === undefined || value < spec.min || value > spec.max) {
      issue(key, raw[key], `must be an integer from ${spec.min} to ${spec.max}`, `pulumi config set ${configKey(key)} ${spec.default}`);
      integers[key] = spec.default;
    } else {
      integers[key] = value;
    }
  }

  const settings = validateSettings(raw.settings, issue);
  const pushSettings = raw.pushSettings === undefined ? false : toBoolean(raw.pushSettings);
  if (pushSettings === undefined) {
    issue("pushSettings", raw.pushSettings, "must be true or false", `pulumi config set ${configKey("pushSettings")} true   (for one update, then pulumi config rm ${configKey("pushSettings")})`);
  }
  if (settings !== undefined && settings.concurrency < integers.messagesPerWorker) {
    issue(
      "settings.concurrency",
      settings.concurrency,
      `is below messagesPerWorker (${integers.messagesPerWorker}): a worker handed ${integers.messagesPerWorker} messages at once fetches only ${settings.concurrency} at a time, so the rest of its batch waits on itself and runs into the deadline`,
      `pulumi config set --path ${configKey("settings.concurrency")} ${integers.messagesPerWorker}   (or lower ${configKey("messagesPerWorker")})`,
    );
  }
  const alarms = validateAlarms(raw.alarms, issue);
  const tags = validateTags(raw.tags, issue);

  const limits: FleetLimits = { namePrefix: namePrefix ?? defaultPrefix, ...integers, alarms, settings };
  const valid = issues.length === 0 && cloud !== undefined && alertEmailValid && namePrefix !== undefined && settings !== undefined && pushSettings !== undefined;
  return {
    cloud,
    limits,
    issues,
    config: valid
      ? {
          cloud,
          hasAlertWebhook: webhook !== undefined,
          args: { ...limits, alertEmail, settings, pushSettings, tags: fleetTags(stack, tags) },
        }
      : undefined,
  };
}

type Report = (key: string, value: unknown, problem: string, fix: string) => void;

function validateSettings(value: unknown, issue: Report): FleetSettings | undefined {
  const document = value === undefined ? {} : toObject(value);
  if (document === undefined) {
    issue("settings", value, "must be an object of runtime settings", `pulumi config set --path ${configKey("settings")}.concurrency 8`);
    return undefined;
  }
  try {
    return parseSettings(document, configKey("settings"));
  } catch (error) {
    if (!(error instanceof SettingsError)) throw error;
    for (const found of error.issues) {
      const path = `settings.${found.key}`;
      const command = found.key in SETTINGS_SPEC ? `pulumi config set --path ${configKey(path)} <value>` : `pulumi config rm --path ${configKey(path)}`;
      issue(path, found.value, found.problem, `${found.fix} (${command})`);
    }
    return undefined;
  }
}

/** The thresholds, each bad or missing one replaced by its default (its issue reported). */
function validateAlarms(value: unknown, issue: Report): AlarmThresholds {
  const document = value === undefined ? {} : toObject(value);
  if (document === undefined) {
    issue("alarms", value, "must be an object of alarm thresholds", `pulumi config set --path ${configKey("alarms")}.backlogMessages 1000`);
  }
  const given = document ?? {};
  for (const [key, threshold] of Object.entries(given)) {
    if (!(key in ALARM_KEYS)) {
      issue(`alarms.${key}`, threshold, "is not an alarm threshold", `remove it (pulumi config rm --path ${configKey(`alarms.${key}`)}), or use one of: ${Object.keys(ALARM_KEYS).join(", ")}`);
    }
  }
  const alarms = {} as Record<keyof AlarmThresholds, number>;
  for (const key of Object.keys(ALARM_KEYS) as (keyof AlarmThresholds)[]) {
    const spec = ALARM_KEYS[key];
    const threshold = given[key];
    const number = threshold === undefined ? spec.default : spec.integer ? toInteger(threshold) : toNumber(threshold);
    if (number === undefined || number < spec.min || number > spec.max) {
      issue(`alarms.${key}`, threshold, `must be ${spec.integer ? "an integer" : "a number"} from ${spec.min} to ${spec.max}`, `pulumi config set --path ${configKey(`alarms.${key}`)} ${spec.default}`);
      alarms[key] = spec.default;
    } else {
      alarms[key] = number;
    }
  }
  return alarms;
}

/** AWS allows tag keys of 128 and values of 256 characters, Azure 512 and 256: keep to the smaller. */
const TAG_KEY_MAX = 128;
const TAG_VALUE_MAX = 256;

function validateTags(value: unknown, issue: Report): Record<string, string> {
  const document = value === undefined ? {} : toObject(value);
  if (document === undefined) {
    issue("tags", value, "must be an object of tag names to values", `pulumi config set --path ${configKey("tags")}.team crawling`);
    return {};
  }
  const tags: Record<string, string> = {};
  for (const [key, given] of Object.entries(document)) {
    if (typeof given !== "string" || key.length === 0 || key.length > TAG_KEY_MAX || given.length > TAG_VALUE_MAX || key.toLowerCase().startsWith("aws:")) {
      issue(`tags.${key}`, given, `must be a string tag (name 1 to ${TAG_KEY_MAX} characters not starting with aws:, value at most ${TAG_VALUE_MAX})`, `pulumi config set --path ${configKey(`tags.${key}`)} some-value`);
    } else {
      tags[key] = given;
    }
  }
  return tags;
}

/*
 * Config value parsers, for every cloud's config. The Pulumi CLI hands values
 * over as text (`"5"`, `"true"`, objects as JSON); a test or a program may
 * pass them parsed. Each returns `undefined` for anything else, and the caller
 * reports the key, the value and the fix.
 */

/** A whole number: an integer, or its decimal digits (`"-5"`, `"120"`). */
export function toInteger(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isInteger(value) ? value : undefined;
  if (typeof value === "string" && /^-?\d+$/.test(value.trim())) return Number(value);
  return undefined;
}

/** A finite number, or its decimal text (`"0.5"`, `"-1"`). */
export function toNumber(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
  if (typeof value === "string" && /^-?\d+(\.\d+)?$/.test(value.trim())) return Number(value);
  return undefined;
}

/** `true` or `false`, or their text. */
export function toBoolean(value: unknown): boolean | undefined {
  if (typeof value === "boolean") return value;
  if (value === "true") return true;
  if (value === "false") return false;
  return undefined;
}

/** A plain object, or its JSON text. */
export function toObject(value: unknown): Record<string, unknown> | undefined {
  let parsed = value;
  if (typeof value === "string") {
    try {
      parsed = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
}

function isHttpsUrl(value: unknown): boolean {
  if (typeof value !== "string") return false;
  try {
    return new URL(value).protocol === "https:";
  } catch {
    return false;
  }
}

/**
 * The cloud `scrape-fleet:cloud` names, or undefined when it names none
 * (`readFleetConfig` reports that issue with the others).
 */
export function readStackCloud(): Cloud | undefined {
  const cloud = new pulumi.Config(PROJECT).get("cloud");
  return CLOUDS.find((name) => name === cloud);
}

/**
 * Reads the stack's config through `pulumi.Config` and validates all of it
 * before any resource is declared: the fleet's keys, the `scrape-fleet:` keys
 * nothing reads, and the cloud's own keys and limits (`cloudConfigOf(cloud)`,
 * checked against the fleet's values, each bad one's default standing in, so a
 * bad `memoryMb` does not hide a bad `logRetentionDays`). Throws one
 * `SettingsError` with every issue.
 *
 * With no valid `cloud`, no cloud's checks run, and a key any cloud reads is
 * not reported as unknown (the stack may be meant for that cloud).
 *
 * The webhook URL comes back as a secret output (`config.getSecret`): set it
 * with `pulumi config set --secret scrape-fleet:alertWebhookUrl https://...`.
 */
export function readFleetConfig(cloudConfigOf: (cloud: Cloud) => CloudConfig): { cloud: Cloud; args: FleetArgs } {
  const config = new pulumi.Config(PROJECT);
  const raw: Record<string, unknown> = {};
  for (const key of FLEET_KEYS) raw[key] = config.get(key);
  const stack = pulumi.getStack();
  const fleet = checkFleetConfig(raw, stack);

  const cloudConfig = fleet.cloud === undefined ? undefined : cloudConfigOf(fleet.cloud);
  const cloudKeys = (cloudConfig === undefined ? CLOUDS.map(cloudConfigOf) : [cloudConfig]).flatMap((candidate) => candidate.keys);
  const unknownKeys = unknownKeyIssues(Object.keys(pulumi.runtime.allConfig()), cloudKeys);
  const cloudIssues = cloudConfig === undefined ? [] : issuesOf(cloudConfig.read(fleet.limits));
  // A key the fleet's checks refused was checked by the cloud at its default, a value the stack does not hold: its own issue says what to fix.
  const refused = new Set(fleet.issues.map((issue) => issue.key));
  const placeholders = fleet.config === undefined ? [] : placeholderAddressIssues(fleet.config.args);
  const issues = [...fleet.issues, ...unknownKeys, ...cloudIssues.filter((issue) => !refused.has(issue.key)), ...placeholders];

  if (issues.length > 0 || fleet.config === undefined) throw new SettingsError(`stack ${JSON.stringify(stack)} config`, issues);
  const { cloud, args, hasAlertWebhook } = fleet.config;
  return { cloud, args: hasAlertWebhook ? { ...args, alertWebhookUrl: config.getSecret("alertWebhookUrl") } : args };
}

function issuesOf(result: Validation<unknown>): readonly SettingIssue[] {
  return result.ok ? [] : result.issues;
}
