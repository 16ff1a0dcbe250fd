/**
 * One cloud's price list: one row per billed unit, each with the page it was
 * read from and the region it applies to (`*` where the price is the same in
 * every region the fleet's stacks use). Nothing is fetched at run time: a
 * user with newer prices passes `cost --prices FILE` (see `./overrides.ts`).
 */
export interface PriceRow {
  /** Stable id the model and `--prices` files use, such as `lambda.gbSecond`. */
  readonly id: string;
  /** What is billed, in the provider's words. */
  readonly item: string;
  /** The unit `usd` is for, such as `GB-second` or `request`. */
  readonly unit: string;
  /** US dollars per `unit`, list price, no discounts or commitments. */
  readonly usd: number;
  /** Region code, or `*` for every region. */
  readonly region: string;
  /** The provider's pricing page that states the price. */
  readonly source: string;
  /** The day the price was read (YYYY-MM-DD). */
  readonly read: string;
  /** A caveat the table prints beside the price (a tier boundary, an estimate). */
  readonly note?: string;
}

/** A free grant per month, shown apart from the list prices. */
export interface FreeTier {
  readonly id: string;
  /** The price row the grant offsets. */
  readonly offsets: string;
  /** Units free per month (in the offset row's unit). */
  readonly perMonth: number;
  readonly item: string;
  readonly source: string;
  readonly read: string;
}

export interface PriceTable {
  readonly cloud: "aws" | "azure" | "gcp";
  readonly rows: readonly PriceRow[];
  readonly freeTiers: readonly FreeTier[];
}

/** The row for `id` in `region`, else its `*` row; throws naming the id when the table has neither. */
export function priceOf(table: PriceTable, id: string, region: string): PriceRow {
  const row = table.rows.find((candidate) => candidate.id === id && candidate.region === region) ?? table.rows.find((candidate) => candidate.id === id && candidate.region === "*");
  if (row === undefined) throw new Error(`the ${table.cloud} price table has no row ${id} for region ${region} or *; add one to ops/cost/prices/${table.cloud}.ts or to the --prices file`);
  return row;
}
