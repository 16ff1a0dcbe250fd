/**
 * The results store: a storage account that accepts Microsoft Entra ID only
 * (no shared keys, no SAS), a private `results` container the function writes
 * with its identity, and a lifecycle rule that expires raw HTML.
 */
import * as pulumi from "@pulumi/pulumi";
import * as storage from "@pulumi/azure-native/storage";
import { RAW_HTML_PREFIX } from "../../shared/result";

export interface StorageAccountArgs {
  readonly resourceGroupName: pulumi.Input<string>;
  readonly location: pulumi.Input<string>;
  /** The account's full name, subscription suffix included. */
  readonly accountName: pulumi.Input<string>;
  /**
   * Accept shared-key (and so SAS) requests. Off for the results account; see
   * ./worker.ts for the one account that needs it.
   */
  readonly allowSharedKeyAccess: boolean;
  readonly tags: Readonly<Record<string, string>>;
}

/**
 * A StorageV2 account with the fleet's baseline: HTTPS and TLS 1.2 only, no
 * anonymous blob access, Entra ID by default in the portal, and infrastructure
 * (double) encryption with Microsoft-managed keys, which can only be chosen
 * when the account is created.
 * https://learn.microsoft.com/azure/storage/common/infrastructure-encryption-enable
 */
export function createStorageAccount(name: string, args: StorageAccountArgs, parent: pulumi.Resource): storage.StorageAccount {
  return new storage.StorageAccount(
    name,
    {
      resourceGroupName: args.resourceGroupName,
      location: args.location,
      accountName: args.accountName,
      kind: "StorageV2",
      sku: { name: "Standard_LRS" },
      accessTier: "Hot",
      enableHttpsTrafficOnly: true,
      minimumTlsVersion: "TLS1_2",
      allowBlobPublicAccess: false,
      allowSharedKeyAccess: args.allowSharedKeyAccess,
      defaultToOAuthAuthentication: true,
      allowCrossTenantReplication: false,
      encryption: {
        keySource: "Microsoft.Storage",
        requireInfrastructureEncryption: true,
        services: { blob: { enabled: true, keyType: "Account" }, file: { enabled: true, keyType: "Account" } },
      },
      tags: args.tags,
    },
    { parent },
  );
}

export interface ResultsStorageArgs {
  readonly resourceGroupName: pulumi.Input<string>;
  readonly location: pulumi.Input<string>;
  readonly accountName: pulumi.Input<string>;
  readonly containerName: string;
  /** Days raw HTML (`raw/`) is kept; result records are kept. */
  readonly rawHtmlRetentionDays: number;
  readonly tags: Readonly<Record<string, string>>;
}

export interface ResultsStorage {
  readonly account: storage.StorageAccount;
  readonly container: storage.BlobContainer;
  /** `https://<account>.blob.core.windows.net/<container>`: the app setting `RESULTS_CONTAINER_URL`. */
  readonly containerUrl: pulumi.Output<string>;
}

export function createResultsStorage(name: string, args: ResultsStorageArgs, parent: pulumi.Resource): ResultsStorage {
  // The function writes with its managed identity (Storage Blob Data
  // Contributor on the container), so nothing needs an account key.
  const account = createStorageAccount(`${name}-results`, { ...args, allowSharedKeyAccess: false }, parent);

  const container = new storage.BlobContainer(
    `${name}-results-container`,
    { resourceGroupName: args.resourceGroupName, accountName: account.name, containerName: args.containerName, publicAccess: "None" },
    { parent },
  );

  new storage.ManagementPolicy(
    `${name}-results-lifecycle`,
    {
      resourceGroupName: args.resourceGroupName,
      accountName: account.name,
      // The account's one lifecycle policy must be named "default".
      managementPolicyName: "default",
      policy: {
        rules: [
          {
            name: "expire-raw-html",
            enabled: true,
            type: "Lifecycle",
            definition: {
              // Prefixes start with the container's name.
              filters: { blobTypes: ["blockBlob"], prefixMatch: [`${args.containerName}/${RAW_HTML_PREFIX}`] },
              actions: { baseBlob: { delete: { daysAfterModificationGreaterThan: args.rawHtmlRetentionDays } } },
            },
          },
        ],
      },
    },
    { parent, dependsOn: [container] },
  );

  const containerUrl = pulumi.interpolate`${account.primaryEndpoints.blob}${container.name}`;
  return { account, container, containerUrl };
}
