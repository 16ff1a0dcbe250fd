/**
 * Where the runtime settings live: one SSM Parameter Store `String` parameter,
 * `/<namePrefix>/settings`, holding the settings document as JSON.
 *
 * Why SSM rather than AppConfig: the worker needs one GetParameter per
 * `settingsTtlMs` and an IAM grant on one parameter ARN; there is no Lambda
 * extension layer to add, no deployment strategy to wait on, and nothing to
 * pay for a Standard parameter. AppConfig's validators and staged rollouts are
 * not needed: the worker validates the document itself (`parseSettings`) and
 * keeps the last good settings when a change is bad.
 */
import type * as pulumi from "@pulumi/pulumi";
import * as ssm from "@pulumi/aws/ssm";
import type { FleetArgs } from "../contract";
import { settingsParameterTier, settingsParameterValue } from "./config";

/** `settings` is the parameter's first value; `pushSettings` writes it again on this update. */
export type ConfigStoreArgs = Pick<FleetArgs, "namePrefix" | "settings" | "pushSettings" | "tags">;

/** The parameter's name: a path under the fleet's prefix. */
export function settingsParameterName(namePrefix: string): string {
  return `/${namePrefix}/settings`;
}

export function createConfigStore(name: string, args: ConfigStoreArgs, parent: pulumi.Resource): { parameter: ssm.Parameter } {
  const value = settingsParameterValue(args.settings);
  // The stack config check refuses a document no tier holds (infra/aws/config.ts).
  const tier = settingsParameterTier(value);
  if (tier === undefined) throw new Error(`the settings document (${Buffer.byteLength(value, "utf8")} bytes) is larger than an SSM parameter holds; the stack config check should have refused it`);
  const parameter = new ssm.Parameter(
    `${name}-settings`,
    {
      name: settingsParameterName(args.namePrefix),
      description: "scrape-fleet runtime settings (JSON). Workers re-read it every settingsTtlMs; an invalid document is logged and the last good settings stay in force.",
      type: "String",
      // Standard (4 KB, free) unless the stack's document needs Advanced
      // (8 KB): see settingsParameterTier. An operator's later, larger value
      // needs `aws ssm put-parameter --tier Advanced`.
      tier,
      value,
      tags: args.tags,
    },
    {
      parent,
      // The store is the source of truth once the fleet runs: an operator's
      // change is not reverted by the next `pulumi up`. Ignored properties keep
      // the value recorded in the state (https://www.pulumi.com/docs/iac/concepts/options/ignorechanges/),
      // and that holds for `pulumi up --replace` too, which recreates the
      // parameter with the recorded value, not the stack's: so pushing the
      // stack's settings again is an explicit `pushSettings` update instead.
      ignoreChanges: args.pushSettings ? [] : ["value"],
      // SSM refuses to move a parameter from Advanced back to Standard ("You
      // can't downgrade a parameter from the advanced-parameter tier to the
      // standard-parameter tier": https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html,
      // reproduced in https://github.com/go-to-k/cdk-real-drift/pull/408), so a
      // stack whose settings shrink below 4 KB would fail its update. A tier
      // change recreates the parameter instead, deleted first because its name
      // is fixed.
      replaceOnChanges: ["tier"],
      deleteBeforeReplace: true,
    },
  );
  return { parameter };
}
