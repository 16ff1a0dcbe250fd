/**
 * Pulumi entry point (`main` in Pulumi.yaml). The module's exports are the
 * stack outputs: exactly `FLEET_OUTPUT_NAMES` (./contract), the same names on
 * every cloud, so scripts read `pulumi stack output workQueueUrl` anywhere.
 */
import { main } from "./program";

export = main();
