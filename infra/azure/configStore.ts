/**
 * Where the runtime settings live: an Azure App Configuration store with one
 * key-value, `settings`, whose value is the settings document as JSON
 * (content type `application/json`).
 *
 * Why one JSON key-value rather than a key per setting or feature flags
 * (`.appconfig.featureflag/…`, `~2F` in the ARM name): the worker reads one
 * document (the `SettingsSource` port every cloud implements), validates it as
 * a whole (`parseSettings`) and keeps the last good settings when it is bad.
 * Per-key values would take a list call per refresh and let a half-finished
 * edit (a new `maxBodyBytes` before its `maxDecodedBytes`) go live; a feature
 * flag holds a boolean, and the only boolean that is a switch, `enabled`, is
 * one field of the same document.
 *
 * The store accepts Microsoft Entra ID only (`disableLocalAuth`): the function
 * reads with App Configuration Data Reader, and the key-value is written
 * through Azure Resource Manager in pass-through mode, as the identity running
 * `pulumi up` (App Configuration Data Owner on this store, ./identity.ts).
 * https://learn.microsoft.com/azure/azure-app-configuration/howto-disable-access-key-authentication
 */
import * as pulumi from "@pulumi/pulumi";
import * as appconfiguration from "@pulumi/azure-native/appconfiguration";
import type { FleetArgs } from "../contract";

/** The key holding the settings document (app setting `SETTINGS_KEY`). */
export const SETTINGS_KEY = "settings";
export const SETTINGS_CONTENT_TYPE = "application/json";

export interface ConfigStoreArgs {
  readonly resourceGroupName: pulumi.Input<string>;
  readonly location: pulumi.Input<string>;
  /** The store's full name, subscription suffix included. */
  readonly storeName: pulumi.Input<string>;
  readonly tags: Readonly<Record<string, string>>;
}

export function createConfigStore(name: string, args: ConfigStoreArgs, parent: pulumi.Resource): appconfiguration.ConfigurationStore {
  return new appconfiguration.ConfigurationStore(
    `${name}-config`,
    {
      resourceGroupName: args.resourceGroupName,
      location: args.location,
      configStoreName: args.storeName,
      // Standard, not Free: the Free tier allows 1,000 requests a day, and each
      // worker instance reads once per settingsTtlMs (every minute by default).
      // https://azure.microsoft.com/pricing/details/app-configuration/
      sku: { name: "Standard" },
      disableLocalAuth: true,
      dataPlaneProxy: { authenticationMode: "Pass-through", privateLinkDelegation: "Disabled" },
      // The shortest soft-delete period: a destroyed store keeps its (global)
      // name for this long, and the stack's names are fixed per subscription.
      softDeleteRetentionInDays: 1,
      enablePurgeProtection: false,
      tags: args.tags,
    },
    { parent },
  );
}

/** `settings` is the key-value's first value; `pushSettings` writes it again on this update. */
export interface SettingsDocumentArgs extends Pick<FleetArgs, "settings" | "pushSettings"> {
  readonly resourceGroupName: pulumi.Input<string>;
  readonly store: appconfiguration.ConfigurationStore;
  /** The deployer's data-plane grant: ARM writes the key-value as the deployer. */
  readonly writerGrant: pulumi.Resource;
  readonly tags: Readonly<Record<string, string>>;
}

export function createSettingsDocument(name: string, args: SettingsDocumentArgs, parent: pulumi.Resource): appconfiguration.KeyValue {
  return new appconfiguration.KeyValue(
    `${name}-settings`,
    {
      resourceGroupName: args.resourceGroupName,
      configStoreName: args.store.name,
      keyValueName: SETTINGS_KEY,
      value: JSON.stringify(args.settings),
      contentType: SETTINGS_CONTENT_TYPE,
      tags: args.tags,
    },
    {
      parent,
      dependsOn: [args.writerGrant],
      // The store is the source of truth once the fleet runs: an operator's
      // change (portal, `az appconfig kv set`) is not reverted by the next
      // `pulumi up`. An ignored property keeps the value recorded in the state
      // (https://www.pulumi.com/docs/iac/concepts/options/ignorechanges/), and
      // `pulumi up --replace` recreates the key-value with that recorded value,
      // not the stack's; pushing the stack's settings is an explicit
      // `pushSettings` update instead, as on AWS.
      ignoreChanges: args.pushSettings ? [] : ["value"],
    },
  );
}
