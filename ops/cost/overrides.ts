/**
 * `cost --prices FILE`: newer or negotiated prices over the built-in tables.
 * The file is JSON, by cloud, then by row id, a number for every region or an
 * object by region:
 *
 *     { "aws": { "store.write": 0.000004 }, "azure": { "store.write": { "westeurope": 0.0000055 } } }
 *
 * An unknown cloud or row id, or a price that is not a number of dollars,
 * is refused with the key and the fix: a typo must not leave the built-in
 * price standing silently.
 */
import { CLOUDS, type Cloud } from "../../infra/contract";
import { toObject } from "../../infra/config";
import type { PriceRow, PriceTable } from "./prices";

export class PricesFileError extends Error {
  readonly code = "prices_file_invalid";
  constructor(file: string, problems: readonly string[]) {
    super(`${file} cannot be used as a price list:\n${problems.map((problem) => `  ${problem}`).join("\n")}`);
    this.name = "PricesFileError";
  }
}

/** The tables with the file's prices applied; each overridden row says it came from `file`. */
export function applyPriceOverrides(tables: Readonly<Record<Cloud, PriceTable>>, text: string, file: string, read: string): Record<Cloud, PriceTable> {
  const document = toObject(text);
  if (document === undefined) throw new PricesFileError(file, ["is not a JSON object; write { \"aws\": { \"store.write\": 0.000005 } }"]);
  const problems: string[] = [];
  const result = { ...tables } as Record<Cloud, PriceTable>;
  for (const [cloudKey, byId] of Object.entries(document)) {
    const cloud = CLOUDS.find((name) => name === cloudKey);
    if (cloud === undefined) {
      problems.push(`${JSON.stringify(cloudKey)} is not a cloud; use one of ${CLOUDS.join(", ")}`);
      continue;
    }
    const prices = toObject(byId);
    if (prices === undefined) {
      problems.push(`${cloud}: must be an object of row ids to prices, such as { "store.write": 0.000005 }`);
      continue;
    }
    let rows = [...result[cloud].rows];
    for (const [id, value] of Object.entries(prices)) {
      const known = rows.filter((row) => row.id === id);
      if (known.length === 0) {
        problems.push(`${cloud}.${id}: no such price row; the rows are ${[...new Set(rows.map((row) => row.id))].join(", ")}`);
        continue;
      }
      const byRegion: Record<string, unknown> = typeof value === "number" ? { "*": value } : (toObject(value) ?? { "(not an object)": value });
      for (const [region, usd] of Object.entries(byRegion)) {
        if (typeof usd !== "number" || !Number.isFinite(usd) || usd < 0) {
          problems.push(`${cloud}.${id}${region === "*" ? "" : `.${region}`}: ${JSON.stringify(usd)} is not a price; give US dollars per ${known[0].unit} as a number, 0 or more`);
          continue;
        }
        const template = known.find((row) => row.region === region) ?? known.find((row) => row.region === "*") ?? known[0];
        const row: PriceRow = { ...template, region, usd, source: file, read, note: `from ${file}` };
        rows = [...rows.filter((candidate) => !(candidate.id === id && candidate.region === region)), row];
      }
    }
    result[cloud] = { ...result[cloud], rows };
  }
  if (problems.length > 0) throw new PricesFileError(file, problems);
  return result;
}
