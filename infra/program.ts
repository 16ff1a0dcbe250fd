/**
 * The program: read the stack's config, load the one cloud the stack names,
 * build its fleet, return the outputs every cloud exposes under the same names.
 */
import type * as pulumi from "@pulumi/pulumi";
import { FLEET_OUTPUT_NAMES, type Cloud, type CreateFleet, type FleetOutputs } from "./contract";
import { readFleetConfig } from "./config";

export type FleetOutputName = (typeof FLEET_OUTPUT_NAMES)[number];

interface CloudModule {
  readonly createFleet: CreateFleet;
}

/**
 * One loader per cloud, called only for the stack's cloud, so an AWS stack
 * never loads `@pulumi/azure-native` or `@pulumi/gcp` (each adds seconds of
 * start-up and a provider plugin the stack does not need). `require` keeps
 * this type-checking while a cloud's folder is still being written: a missing
 * module only fails the stacks of that cloud, at run time.
 */
const CLOUD_LOADERS: Readonly<Record<Cloud, () => CloudModule>> = {
  aws: () => require("./aws") as CloudModule,
  azure: () => require("./azure") as CloudModule,
  gcp: () => require("./gcp") as CloudModule,
};

export function main(): Record<FleetOutputName, pulumi.Output<string>> {
  const { cloud, args } = readFleetConfig();
  const fleet: FleetOutputs = CLOUD_LOADERS[cloud]().createFleet(args.namePrefix, args);
  return Object.fromEntries(FLEET_OUTPUT_NAMES.map((name) => [name, fleet[name]])) as Record<FleetOutputName, pulumi.Output<string>>;
}
