/**
 * Where the runtime settings live: one Parameter Manager parameter (global,
 * format JSON) whose newest enabled version the workers read
 * (functions/gcp/settingsSource.ts). Runtime Configurator is not used: it is
 * beta and tied to a retired service.
 *
 * Not reverted by `pulumi up`: versions are immutable, and the program manages
 * exactly one, `initial`, whose data is ignored after creation. An operator
 * changes the settings by adding a newer version
 * (`gcloud parametermanager parameters versions create ...`), which Pulumi
 * does not know of and never touches, and which wins because it is newer.
 * With `pushSettings` on, the program's version is named after a hash of the
 * stack's settings instead, so changed settings become a new, newest version.
 */
import { createHash } from "node:crypto";
import type * as pulumi from "@pulumi/pulumi";
import * as parametermanager from "@pulumi/gcp/parametermanager";
import type { FleetSettings } from "../../shared/settings";
import type { FleetArgs } from "../contract";
import { resourceName } from "../naming";

/** `settings` is the first version's document; `pushSettings` adds it as the newest version on this update. */
export interface ConfigStoreArgs extends Pick<FleetArgs, "namePrefix" | "settings" | "pushSettings"> {
  readonly project: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface ConfigStore {
  readonly parameter: parametermanager.Parameter;
  readonly version: parametermanager.ParameterVersion;
}

/** The version the program manages: `initial`, or `stack-<hash>` of the settings when pushing them. */
export function programVersionId(settings: FleetSettings, pushSettings: boolean): string {
  return pushSettings ? `stack-${createHash("sha256").update(JSON.stringify(settings)).digest("hex").slice(0, 12)}` : "initial";
}

export function createConfigStore(name: string, args: ConfigStoreArgs, opts: pulumi.CustomResourceOptions): ConfigStore {
  const parameter = new parametermanager.Parameter(
    `${name}-settings`,
    { project: args.project, parameterId: resourceName("gcpParameter", args.namePrefix, "settings"), format: "JSON", labels: args.labels },
    opts,
  );
  const version = new parametermanager.ParameterVersion(
    `${name}-settings-version`,
    {
      parameter: parameter.id,
      parameterVersionId: programVersionId(args.settings, args.pushSettings),
      parameterData: JSON.stringify(args.settings, null, 2),
    },
    // A version's data cannot change; ignoring it keeps a later `settings`
    // edit in the stack from replacing the version (and so from deleting
    // what the workers read). `pushSettings` is the explicit way to ship it.
    { ...opts, ignoreChanges: args.pushSettings ? [] : ["parameterData"] },
  );
  return { parameter, version };
}
