/**
 * The scrape-fleet CrossGuard policy pack:
 *
 *   pulumi preview --policy-pack infra/policy
 *   pulumi up --policy-pack infra/policy
 *
 * The CLI runs this folder (this file, through ts-node) with the folder as
 * working directory; `PolicyPack` reads `./package.json` for the pack's
 * version and serves the policies over gRPC, so nothing but the CLI imports
 * this file (the tests use ./pack.ts and ./evaluate.ts). Dependencies
 * resolve from the repository's node_modules.
 */
import { PolicyPack } from "@pulumi/policy";
import { fleetPolicies, PACK_DESCRIPTION, PACK_NAME, rulesMarkdown } from "./pack";

new PolicyPack(PACK_NAME, { description: PACK_DESCRIPTION, readme: rulesMarkdown(), enforcementLevel: "mandatory", policies: fleetPolicies() });
