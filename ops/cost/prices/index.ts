import type { Cloud } from "../../../infra/contract";
import { AWS_PRICES } from "./aws";
import { AZURE_PRICES } from "./azure";
import { GCP_PRICES } from "./gcp";
import type { PriceTable } from "./types";

export const PRICE_TABLES: Readonly<Record<Cloud, PriceTable>> = { aws: AWS_PRICES, azure: AZURE_PRICES, gcp: GCP_PRICES };
export { priceOf, type FreeTier, type PriceRow, type PriceTable } from "./types";
