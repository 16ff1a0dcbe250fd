/**
 * The program: refuse a change of cloud on a stack that already runs a fleet,
 * read the stack's config and check all of it (the fleet's keys and the
 * cloud's, every issue in one error), load the one cloud the stack names,
 * build its fleet, return the outputs every cloud exposes under the same names.
 */
import * as pulumi from "@pulumi/pulumi";
import { CLOUDS, FLEET_OUTPUT_NAMES, type Cloud, type CreateFleet, type FleetOutputs } from "./contract";
import { ALLOW_CLOUD_CHANGE_KEY, configKey, PROJECT, readFleetConfig, readStackCloud, type CloudConfig } from "./config";

export type FleetOutputName = (typeof FLEET_OUTPUT_NAMES)[number];

/**
 * The stack output naming the cloud the stack was deployed to. The next
 * update reads it back (`refuseCloudChange`). Exported by infra/index.ts next
 * to the fleet's outputs.
 */
export const CLOUD_OUTPUT = "cloud";
/** Every output a deployed stack has: the fleet's, the same on every cloud, and `cloud`. */
export const STACK_OUTPUT_NAMES = [...FLEET_OUTPUT_NAMES, CLOUD_OUTPUT] as const;
/** Logical name of the read of this stack's own previous outputs. */
const PREVIOUS_OUTPUTS_NAME = `${PROJECT}-previous-update`;

interface CloudLoaders {
  /** The cloud's keys and their check (`infra/<cloud>/config.ts`): loads no provider SDK. */
  readonly config: () => CloudConfig;
  /** The cloud's fleet (`infra/<cloud>/index.ts`): loads the cloud's provider SDK. */
  readonly createFleet: () => CreateFleet;
}

/**
 * The loaders of each cloud, called only for the stack's cloud, so an AWS
 * stack never loads `@pulumi/azure-native` or `@pulumi/gcp` (each adds seconds
 * of start-up and a provider plugin the stack does not need;
 * tests/infra/stackSwitching.test.ts checks it in a fresh process). A stack
 * with no valid cloud loads every cloud's config module, to know their keys,
 * and no provider. `typeof import` types each `require` without loading it.
 */
const CLOUD_LOADERS: Readonly<Record<Cloud, CloudLoaders>> = {
  aws: {
    config: () => (require("./aws/config") as typeof import("./aws/config")).cloudConfig,
    createFleet: () => (require("./aws") as typeof import("./aws")).createFleet,
  },
  azure: {
    config: () => (require("./azure/config") as typeof import("./azure/config")).cloudConfig,
    createFleet: () => (require("./azure") as typeof import("./azure")).createFleet,
  },
  gcp: {
    config: () => (require("./gcp/config") as typeof import("./gcp/config")).cloudConfig,
    createFleet: () => (require("./gcp") as typeof import("./gcp")).createFleet,
  },
};

/**
 * A stack last deployed to one cloud whose config now names another. Pulumi
 * would plan to delete every resource of the old fleet (its queues with the
 * messages in them, its results store) and create the new one; the program
 * stops before declaring anything instead. A `RunError`, so the CLI prints the
 * message without a stack trace.
 */
export class CloudChangeError extends pulumi.RunError {
  readonly code = "cloud_change_refused";

  constructor(
    readonly stackName: string,
    readonly previous: Cloud,
    readonly requested: Cloud,
  ) {
    const key = configKey("cloud");
    const allow = configKey(ALLOW_CLOUD_CHANGE_KEY);
    super(
      [
        `\`${key}\` changed from ${previous} to ${requested} (given ${JSON.stringify(requested)}) on stack ${JSON.stringify(stackName)}, which runs a fleet on ${previous}:`,
        `this update would delete every ${previous} resource of that fleet, its queues (with any messages in them) and its results store included, and create a new fleet on ${requested}, so it is refused.`,
        `To run a fleet on ${requested} as well, put this stack back (\`pulumi config set ${key} ${previous}\`) and create another stack beside it: copy Pulumi.${stackName}.yaml to Pulumi.<new-stack>.yaml, set ${key} to ${requested} and the ${requested} keys there, then \`pulumi stack init <new-stack>\` and \`pulumi up\`.`,
        `To move this stack to ${requested}: \`pulumi destroy\` first, then \`pulumi up\`;`,
        `or replace the fleet in one update: \`pulumi config set ${allow} true\`, \`pulumi up\`, then \`pulumi config rm ${allow}\`.`,
      ].join(" "),
    );
    this.name = "CloudChangeError";
  }
}

/** Work queue ids per cloud (the `workQueueId` output): SQS ARN, Service Bus queue id, Pub/Sub topic id. */
const WORK_QUEUE_ID_PATTERNS: Readonly<Record<Cloud, RegExp>> = {
  aws: /^arn:aws(-[a-z-]+)?:sqs:/,
  azure: /\/providers\/Microsoft\.ServiceBus\/namespaces\/[^/]+\/queues\//i,
  gcp: /^projects\/[^/]+\/topics\//,
};

/**
 * The cloud a stack's previous outputs were deployed to: its `cloud` output,
 * or, for a stack last deployed before that output existed, the cloud its
 * `workQueueId` belongs to. `undefined` when there is no previous fleet
 * (a stack before its first update, or after `pulumi destroy`).
 */
export function previousCloud(outputs: Readonly<Record<string, unknown>>): Cloud | undefined {
  const recorded = CLOUDS.find((cloud) => cloud === outputs[CLOUD_OUTPUT]);
  if (recorded !== undefined) return recorded;
  const queueId = outputs.workQueueId;
  if (typeof queueId !== "string") return undefined;
  return CLOUDS.find((cloud) => WORK_QUEUE_ID_PATTERNS[cloud].test(queueId));
}

/**
 * Refuses to switch a deployed stack to another cloud (`CloudChangeError`),
 * unless `allowCloudChange` is set for this update.
 *
 * The previous outputs come from a stack reference to this very stack (a
 * pattern a Pulumi maintainer describes in https://github.com/pulumi/pulumi/issues/3722):
 * the engine reads the outputs recorded by the stack's last update, which stay in
 * place until this update's program finishes (a stack's root resource keeps
 * its old outputs until the new ones are registered:
 * https://github.com/pulumi/pulumi/blob/master/pkg/resource/deploy/step.go,
 * `SameStep.Apply`). A stack with no update yet has no outputs, and reads as
 * empty rather than failing: the built-in provider answers the read with
 * `backendClient.GetStackOutputs`, which returns no outputs when the stack has
 * no root resource yet (https://github.com/pulumi/pulumi/blob/master/pkg/resource/deploy/builtins.go).
 * Awaited before any resource is declared, so a refused change creates nothing.
 */
export async function refuseCloudChange(requested: Cloud): Promise<void> {
  const stack = pulumi.getStack();
  const self = new pulumi.StackReference(PREVIOUS_OUTPUTS_NAME, { name: `${pulumi.getOrganization()}/${pulumi.getProject()}/${stack}` });
  const [cloud, workQueueId] = await Promise.all([self.getOutputDetails(CLOUD_OUTPUT), self.getOutputDetails("workQueueId")]);
  const previous = previousCloud({ [CLOUD_OUTPUT]: cloud.value, workQueueId: workQueueId.value });
  if (previous === undefined || previous === requested) return;
  if (new pulumi.Config(PROJECT).getBoolean(ALLOW_CLOUD_CHANGE_KEY) === true) {
    pulumi.log.warn(
      `${configKey("cloud")} changed from ${previous} to ${requested} with ${configKey(ALLOW_CLOUD_CHANGE_KEY)} set: this update deletes the ${previous} fleet and creates one on ${requested}. Remove the key afterwards: pulumi config rm ${configKey(ALLOW_CLOUD_CHANGE_KEY)}`,
    );
    return;
  }
  throw new CloudChangeError(stack, previous, requested);
}

/** The stack's cloud and its fleet's outputs, after the cloud-change guard and the config's check. */
export async function buildFleet(): Promise<{ cloud: Cloud; outputs: Record<FleetOutputName, pulumi.Output<string>> }> {
  // The guard goes first: on a stack moved to another cloud, the config's
  // issues would be the new cloud's, for a fleet the stack is not meant to run.
  const requested = readStackCloud();
  if (requested !== undefined) await refuseCloudChange(requested);
  const { cloud, args } = readFleetConfig((stackCloud) => CLOUD_LOADERS[stackCloud].config());
  const fleet: FleetOutputs = CLOUD_LOADERS[cloud].createFleet()(args.namePrefix, args);
  return { cloud, outputs: Object.fromEntries(FLEET_OUTPUT_NAMES.map((name) => [name, fleet[name]])) as Record<FleetOutputName, pulumi.Output<string>> };
}

/** The fleet's outputs, exactly `FLEET_OUTPUT_NAMES`: what `npm run plan` and the infra tests run. */
export async function main(): Promise<Record<FleetOutputName, pulumi.Output<string>>> {
  return (await buildFleet()).outputs;
}

/** What infra/index.ts exports: the fleet's outputs and `cloud`, exactly `STACK_OUTPUT_NAMES`. */
export async function stackOutputs(): Promise<Record<(typeof STACK_OUTPUT_NAMES)[number], pulumi.Output<string>>> {
  const { cloud, outputs } = await buildFleet();
  return { ...outputs, [CLOUD_OUTPUT]: pulumi.output(cloud) };
}
