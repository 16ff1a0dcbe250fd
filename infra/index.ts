/**
 * Pulumi entry point (`main` in Pulumi.yaml). The module's exports are the
 * stack outputs: `FLEET_OUTPUT_NAMES` (./contract), the same names on every
 * cloud, so scripts read `pulumi stack output workQueueUrl` anywhere, plus
 * `cloud`, which the next update reads to refuse a silent change of cloud
 * (./program.ts). Pulumi awaits the exported promise: the program first reads
 * the stack's previous outputs, then declares the fleet.
 */
import { stackOutputs } from "./program";

export = stackOutputs();
