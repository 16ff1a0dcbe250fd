/**
 * `npm run docs`: rewrites the README's generated tables from the code that
 * defines them, so the reference cannot drift. `tests/readme.test.ts` fails
 * when the committed README differs from what this would write.
 *
 * A generated block sits between `<!-- generated:NAME -->` and
 * `<!-- /generated:NAME -->`.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PUSH_ENVELOPE_INVALID } from "../functions/gcp/pushEnvelope";
import { ERROR_CODES, type ErrorCode } from "../shared/errors";
import { SETTINGS_SPEC, SETTING_KEYS, type SettingSpec } from "../shared/settings";
import { CAPABILITIES, CLOUD_NAMES, typeLabel } from "../infra/capabilities";
import { CLOUDS } from "../infra/contract";

export const README_PATH = join(__dirname, "..", "README.md");

function settingsTable(): string {
  const rows = SETTING_KEYS.map((key) => {
    const spec: SettingSpec = SETTINGS_SPEC[key];
    const range = spec.type === "integer" ? `${spec.min.toLocaleString("en-US")} – ${spec.max.toLocaleString("en-US")}` : "";
    return `| \`${key}\` | ${spec.type} | \`${JSON.stringify(spec.default)}\` | ${range} | ${spec.doc} |`;
  });
  return ["| key | type | default | range | meaning |", "|---|---|---|---|---|", ...rows].join("\n");
}

const OUTCOME_MEANING = {
  failed: "a failure record is stored; not retried",
  retry: "back to the queue; dead-lettered after `maxDeliveryAttempts`",
  malformed: "to the dead-letter path: locally and on Google Cloud at once with its reason; on AWS and Azure after `maxDeliveryAttempts`, the reason in the logs",
} as const;

/** Codes one cloud's adapter gives before the shared core sees the message. */
const ADAPTER_CODES: Partial<Record<keyof typeof OUTCOME_MEANING, readonly string[]>> = {
  malformed: [`\`${PUSH_ENVELOPE_INVALID}\` (Google Cloud: the push body is not a readable Pub/Sub push; answered 400, so Pub/Sub's own dead-letter policy moves it)`],
};

function errorCodesTable(): string {
  const byKind = new Map<string, ErrorCode[]>();
  for (const [code, kind] of Object.entries(ERROR_CODES) as [ErrorCode, keyof typeof OUTCOME_MEANING][]) {
    byKind.set(kind, [...(byKind.get(kind) ?? []), code]);
  }
  const rows = (Object.keys(OUTCOME_MEANING) as (keyof typeof OUTCOME_MEANING)[]).map(
    (kind) => `| \`${kind}\` | ${OUTCOME_MEANING[kind]} | ${[...(byKind.get(kind) ?? []).map((code) => `\`${code}\``), ...(ADAPTER_CODES[kind] ?? [])].join(", ")} |`,
  );
  return ["| outcome | what happens | codes |", "|---|---|---|", "| `ok` | the result record is stored | |", ...rows].join("\n");
}

/** Role × cloud, from the parity table the tests check every stack against. */
function cloudsTable(): string {
  const rows = CAPABILITIES.map((capability) => {
    const cells = CLOUDS.map((cloud) => {
      const { label, types } = capability.clouds[cloud];
      return `${label} (${types.map((type) => `\`${typeLabel(type)}\``).join(", ")})`;
    });
    return `| ${capability.role} | ${capability.meaning} | ${cells.join(" | ")} |`;
  });
  return [`| role | the same on every cloud | ${CLOUDS.map((cloud) => CLOUD_NAMES[cloud]).join(" | ")} |`, `|---|---|${CLOUDS.map(() => "---").join("|")}|`, ...rows].join("\n");
}

export const GENERATED_BLOCKS: Record<string, () => string> = {
  settings: settingsTable,
  "error-codes": errorCodesTable,
  clouds: cloudsTable,
};

/** The README with every generated block replaced by its current content. */
export function renderReadme(readme: string): string {
  let out = readme;
  for (const [name, render] of Object.entries(GENERATED_BLOCKS)) {
    const open = `<!-- generated:${name} -->`;
    const close = `<!-- /generated:${name} -->`;
    const start = out.indexOf(open);
    const end = out.indexOf(close);
    if (start < 0 || end < start) throw new Error(`README.md has no ${open} … ${close} block; add the two markers where the table belongs`);
    out = `${out.slice(0, start + open.length)}\n${render()}\n${out.slice(end)}`;
  }
  return out;
}

if (require.main === module) {
  writeFileSync(README_PATH, renderReadme(readFileSync(README_PATH, "utf8")));
  console.log(`updated ${Object.keys(GENERATED_BLOCKS).join(", ")} in README.md`);
}
