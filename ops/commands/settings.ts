/**
 * `fleet settings get | set KEY=VALUE… | validate FILE | edit`: reads and
 * writes the fleet's settings store, validating every write against the same
 * settings spec the workers read (`shared/settings.ts`) and showing the diff.
 * Writes keep the store's history where it has one (SSM parameter versions).
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { SettingsError, formatIssue, describeError } from "../../shared/errors";
import { SETTING_KEYS, parseSettings, parseSettingsDocument, type FleetSettings } from "../../shared/settings";
import { EXIT_HELP, TARGET_HELP, parseCommandArgs } from "../args";
import type { FleetBackend } from "../backend";
import { OPS_EXIT_CODES, type CommandIo, type FleetCommand, type OpsExitCode } from "../command";
import { OpsUsageError } from "../errors";
import { guarded, printHelp, printJson, withBackend } from "../run";

const HELP = `usage: npm run fleet -- settings <action> (--stack NAME | --outputs FILE | --local DIR) [options]

Actions:
  get                    print the stored settings and the values in force (defaults filled in)
  set KEY=VALUE…         change keys; VALUE is JSON (8, true, ["a.com"]) or else a plain string;
                         KEY= (nothing after =) removes the key so its default applies
  validate FILE          check a settings JSON file against the spec; changes nothing
  edit                   open the stored document in $VISUAL or $EDITOR, validate, show the diff, write

Every write is checked against the same spec as the workers before anything is
written; a bad value is refused with the key, the value and the fix. The diff
is printed. The store keeps its history: on AWS each write is a new SSM
parameter version (\`aws ssm get-parameter-history\`); on Azure a new App
Configuration revision (\`az appconfig revision list\`); on Google Cloud a new
Parameter Manager version (\`gcloud parametermanager parameters versions list\`).

Options:
  --dry-run   with set and edit: validate and show the diff, write nothing
  --json      print the result as JSON

${TARGET_HELP}

${EXIT_HELP}`;

export const settingsCommand: FleetCommand = {
  name: "settings",
  summary: "get, set, validate or edit the runtime settings, checked against the workers' spec",
  help: HELP,
  run: (args, io) =>
    guarded("settings", io, async () => {
      const { values, positionals } = parseCommandArgs("settings", args, { json: { type: "boolean" }, "dry-run": { type: "boolean" } });
      if (values.help) return printHelp(io, HELP);
      const [action, ...rest] = positionals;
      const json = values.json === true;
      const dryRun = values["dry-run"] === true;
      switch (action) {
        case "validate":
          if (rest.length !== 1) throw new OpsUsageError("settings validate takes one FILE; see `npm run fleet -- settings --help`");
          return validateFile(rest[0] as string, io, json);
        case "get":
          return withBackend(values, io, {}, (backend) => get(backend, io, json));
        case "set":
          if (rest.length === 0) throw new OpsUsageError("settings set needs at least one KEY=VALUE, such as concurrency=8");
          return withBackend(values, io, {}, async (backend) => {
            const stored = await backend.readSettings();
            return write(backend, stored.document, applyAssignments(stored.document, rest), { io, json, dryRun });
          });
        case "edit":
          return withBackend(values, io, {}, async (backend) => {
            const stored = await backend.readSettings();
            return write(backend, stored.document, await editInEditor(stored.document, io), { io, json, dryRun });
          });
        default:
          throw new OpsUsageError(`settings needs an action: get, set, validate or edit (given ${action === undefined ? "none" : JSON.stringify(action)}); see \`npm run fleet -- settings --help\``);
      }
    }),
};

async function get(backend: FleetBackend, io: CommandIo, json: boolean): Promise<OpsExitCode> {
  const stored = await backend.readSettings();
  const effective = validated(stored.document, `${backend.description} settings`);
  if (json) {
    printJson(io, { target: backend.description, version: stored.version, stored: stored.document, effective });
  } else {
    io.stdout.write(`${backend.description} settings${stored.version ? ` (version ${stored.version})` : ""}:\n`);
    for (const key of SETTING_KEYS) {
      const set = Object.hasOwn(stored.document, key);
      io.stdout.write(`  ${key.padEnd(22)}${JSON.stringify(effective[key])}${set ? "" : "   (default)"}\n`);
    }
  }
  return OPS_EXIT_CODES.ok;
}

/**
 * `KEY=VALUE` assignments applied to a copy of `document`. A VALUE that parses
 * as JSON is taken as JSON, anything else as a string; `KEY=` removes the key.
 */
export function applyAssignments(document: Readonly<Record<string, unknown>>, assignments: readonly string[]): Record<string, unknown> {
  const next: Record<string, unknown> = { ...document };
  for (const assignment of assignments) {
    const equals = assignment.indexOf("=");
    if (equals <= 0) throw new OpsUsageError(`${JSON.stringify(assignment)} is not KEY=VALUE; write it as concurrency=8 or blockedDomains='["example.com"]'`);
    const key = assignment.slice(0, equals);
    const text = assignment.slice(equals + 1);
    if (text === "") {
      delete next[key];
      continue;
    }
    try {
      next[key] = JSON.parse(text);
    } catch {
      next[key] = text;
    }
  }
  return next;
}

/** The full settings, or an `OpsUsageError` listing every bad key with its value and fix. */
function validated(document: unknown, source: string): FleetSettings {
  try {
    return parseSettings(document, source);
  } catch (error) {
    if (error instanceof SettingsError) throw new OpsUsageError(`${source} is refused, nothing was written:\n${error.issues.map((issue) => `  ${formatIssue(issue)}`).join("\n")}`);
    throw error;
  }
}

export interface SettingsChange {
  readonly key: string;
  readonly from?: unknown;
  readonly to?: unknown;
}

export function diffSettings(before: Readonly<Record<string, unknown>>, after: Readonly<Record<string, unknown>>): SettingsChange[] {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
  return keys
    .filter((key) => JSON.stringify(before[key]) !== JSON.stringify(after[key]))
    .map((key) => ({ key, ...(Object.hasOwn(before, key) ? { from: before[key] } : {}), ...(Object.hasOwn(after, key) ? { to: after[key] } : {}) }));
}

async function write(
  backend: FleetBackend,
  before: Readonly<Record<string, unknown>>,
  after: Record<string, unknown>,
  options: { readonly io: CommandIo; readonly json: boolean; readonly dryRun: boolean },
): Promise<OpsExitCode> {
  validated(after, "the new settings");
  const changes = diffSettings(before, after);
  const written = changes.length > 0 && !options.dryRun ? await backend.writeSettings(after) : undefined;
  if (options.json) {
    printJson(options.io, { target: backend.description, changes, written: written !== undefined, ...(written?.version === undefined ? {} : { version: written.version }) });
    return OPS_EXIT_CODES.ok;
  }
  const show = (value: unknown): string => (value === undefined ? "(default)" : JSON.stringify(value));
  for (const change of changes) options.io.stdout.write(`  ${change.key}: ${show(change.from)} → ${show(change.to)}\n`);
  const outcome =
    changes.length === 0 ? "no change, nothing written" : options.dryRun ? "dry run, nothing written" : `written${written?.version ? ` (version ${written.version})` : ""}`;
  options.io.stdout.write(`${backend.description} settings: ${outcome}\n`);
  return OPS_EXIT_CODES.ok;
}

async function validateFile(path: string, io: CommandIo, json: boolean): Promise<OpsExitCode> {
  let text: string;
  try {
    text = await readFile(resolve(io.cwd, path), "utf8");
  } catch (error) {
    throw new OpsUsageError(`${path} cannot be read (${describeError(error)}); pass a settings JSON file`);
  }
  try {
    const settings = parseSettingsDocument(text, path);
    if (json) printJson(io, { file: path, valid: true, effective: settings });
    else io.stdout.write(`${path}: valid\n`);
    return OPS_EXIT_CODES.ok;
  } catch (error) {
    if (!(error instanceof SettingsError)) throw error;
    if (json) printJson(io, { file: path, valid: false, issues: error.issues });
    else io.stdout.write(`${path}: invalid\n${error.issues.map((issue) => `  ${formatIssue(issue)}`).join("\n")}\n`);
    return OPS_EXIT_CODES.usage;
  }
}

/** Opens the document in the user's editor and returns what they saved. */
async function editInEditor(document: Readonly<Record<string, unknown>>, io: CommandIo): Promise<Record<string, unknown>> {
  const editor = io.env.VISUAL ?? io.env.EDITOR;
  if (!editor) throw new OpsUsageError("settings edit needs an editor: set VISUAL or EDITOR (such as EDITOR=nano), or use `settings set KEY=VALUE`");
  const folder = await mkdtemp(join(tmpdir(), "fleet-settings-"));
  const file = join(folder, "settings.json");
  try {
    await writeFile(file, `${JSON.stringify(document, null, 2)}\n`);
    // The editor gets the terminal; a shell runs it so EDITOR may carry flags ("code --wait").
    const result = spawnSync(`${editor} "${file}"`, { stdio: "inherit", shell: true, env: io.env });
    if (result.status !== 0) throw new OpsUsageError(`the editor (${editor}) exited with ${result.status ?? result.signal}; nothing was written`);
    const text = await readFile(file, "utf8");
    let edited: unknown;
    try {
      edited = JSON.parse(text);
    } catch {
      throw new OpsUsageError("the edited settings are not JSON; nothing was written, run `settings edit` again");
    }
    if (typeof edited !== "object" || edited === null || Array.isArray(edited)) throw new OpsUsageError('the edited settings must be a JSON object such as {"concurrency": 8}; nothing was written');
    return edited as Record<string, unknown>;
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}
