/**
 * Who may do what: role assignments for the function app's system-assigned
 * identity, each scoped to the one resource it needs (a queue, a container,
 * the store, the app's own host storage account), and one for the identity
 * running `pulumi up`, which writes the settings key-value through ARM.
 * Nothing is granted at resource-group or subscription scope.
 */
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import * as authorization from "@pulumi/azure-native/authorization";

/**
 * Built-in role definition GUIDs, the same in every tenant.
 * https://learn.microsoft.com/azure/role-based-access-control/built-in-roles
 */
export const ROLE_DEFINITIONS = {
  /**
   * Send, receive and manage, data plane and control plane (actions and data
   * actions `Microsoft.ServiceBus/*`), here on the one queue.
   * https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/integration#azure-service-bus-data-owner
   */
  serviceBusDataOwner: "090c5cfd-751d-490a-894a-3ce6f1109419",
  /** Read, write and delete blobs. https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/storage#storage-blob-data-contributor */
  storageBlobDataContributor: "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
  /** Blobs and containers, for the Functions host's own storage and the Flex deployment container. https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/storage#storage-blob-data-owner */
  storageBlobDataOwner: "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
  /** Read key-values. https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/integration#app-configuration-data-reader */
  appConfigurationDataReader: "516239f1-63e1-4d78-a4de-a74fb236a071",
  /** Read and write key-values. https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/integration#app-configuration-data-owner */
  appConfigurationDataOwner: "5ae67dd6-50cb-40e7-96ff-dc2bfa4b606b",
} as const;

export type RoleName = keyof typeof ROLE_DEFINITIONS;

/** The full role definition id ARM takes: `/subscriptions/<sub>/providers/Microsoft.Authorization/roleDefinitions/<guid>`. */
export function roleDefinitionId(subscriptionId: string, role: RoleName): string {
  return `/subscriptions/${subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${ROLE_DEFINITIONS[role]}`;
}

/**
 * A role assignment's name must be a GUID. Derived from scope, principal and
 * role (as Bicep's `guid()` is), it is the same on every run, so an assignment
 * is never duplicated, and a new principal (a recreated app) gets a new one.
 */
export function roleAssignmentGuid(scope: string, principalId: string, role: RoleName): string {
  return guidFrom(`${scope}|${principalId}|${ROLE_DEFINITIONS[role]}`);
}

/** A GUID derived from `text` (RFC 4122 layout, version-5 style bits over SHA-256): the same text, the same GUID. */
export function guidFrom(text: string): string {
  const hex = createHash("sha256").update(text).digest("hex");
  const variant = ((parseInt(hex[16], 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

export interface GrantArgs {
  readonly role: RoleName;
  readonly scope: pulumi.Input<string>;
  readonly principalId: pulumi.Input<string>;
  /**
   * `ServicePrincipal` for a managed identity: set, ARM does not wait for the
   * new principal to replicate before it accepts the assignment. Left out for
   * the deployer, who may be a user or a service principal.
   * https://learn.microsoft.com/azure/role-based-access-control/role-assignments-template#new-service-principal
   */
  readonly principalType?: "ServicePrincipal";
  readonly subscriptionId: pulumi.Input<string>;
  readonly description: string;
}

export function grant(name: string, args: GrantArgs, parent: pulumi.Resource): authorization.RoleAssignment {
  return new authorization.RoleAssignment(
    name,
    {
      scope: args.scope,
      principalId: args.principalId,
      ...(args.principalType === undefined ? {} : { principalType: args.principalType }),
      roleDefinitionId: pulumi.output(args.subscriptionId).apply((subscriptionId) => roleDefinitionId(subscriptionId, args.role)),
      roleAssignmentName: pulumi.all([args.scope, args.principalId]).apply(([scope, principalId]) => roleAssignmentGuid(scope, principalId, args.role)),
      description: args.description,
    },
    { parent },
  );
}

export interface WorkerGrantsArgs {
  readonly principalId: pulumi.Input<string>;
  readonly subscriptionId: pulumi.Input<string>;
  /** The work queue's resource id. */
  readonly queueId: pulumi.Input<string>;
  /** The results container's resource id. */
  readonly resultsContainerId: pulumi.Input<string>;
  /** The App Configuration store's resource id. */
  readonly configStoreId: pulumi.Input<string>;
  /**
   * The app's own storage account (AzureWebJobsStorage and the Flex deployment
   * container). Account scope: the host creates its containers
   * (`azure-webjobs-hosts`, `azure-webjobs-secrets`) itself, and the account
   * holds nothing but the app's code and host state.
   * https://learn.microsoft.com/azure/azure-functions/functions-reference#connecting-to-host-storage-with-an-identity
   */
  readonly codeAccountId: pulumi.Input<string>;
}

export interface WorkerGrants {
  readonly queueOwner: authorization.RoleAssignment;
  readonly resultsWriter: authorization.RoleAssignment;
  readonly settingsReader: authorization.RoleAssignment;
  readonly hostStorage: authorization.RoleAssignment;
}

/**
 * The worker's role on its queue is Azure Service Bus Data Owner, scoped to
 * that one queue, not Data Receiver. Two things need more than Listen:
 * - Scale-out. Target-based scaling reads the queue's length, which needs
 *   Manage rights; "With Listen rights scaling reverts to incremental scale",
 *   which adds at most one instance at a time. A user who queues a backlog
 *   wants `maxWorkers` instances working on it within minutes, and
 *   target-based scaling adds up to four per decision, sized by queue length
 *   / `maxConcurrentCalls`.
 *   https://learn.microsoft.com/azure/azure-functions/functions-target-based-scaling#service-bus-queues-and-topics
 * - Retries. The handler schedules each retry's copy on the queue
 *   (functions/azure/redelivery.ts), which needs Send.
 * The price: the app's identity may also change or delete that queue (the
 * role's actions are `Microsoft.ServiceBus/*` at the queue's scope), which
 * Receiver + Sender would not allow. Nothing else in the namespace is reachable.
 */
export function grantWorker(name: string, args: WorkerGrantsArgs, parent: pulumi.Resource): WorkerGrants {
  const common = { principalId: args.principalId, principalType: "ServicePrincipal", subscriptionId: args.subscriptionId } as const;
  return {
    queueOwner: grant(
      `${name}-queue-owner`,
      { ...common, role: "serviceBusDataOwner", scope: args.queueId, description: "scrape-fleet worker: receive and settle work messages, schedule retries, and let the scale controller read the queue's length" },
      parent,
    ),
    resultsWriter: grant(`${name}-results-writer`, { ...common, role: "storageBlobDataContributor", scope: args.resultsContainerId, description: "scrape-fleet worker: write result records" }, parent),
    settingsReader: grant(`${name}-settings-reader`, { ...common, role: "appConfigurationDataReader", scope: args.configStoreId, description: "scrape-fleet worker: read runtime settings" }, parent),
    hostStorage: grant(`${name}-host-storage`, { ...common, role: "storageBlobDataOwner", scope: args.codeAccountId, description: "scrape-fleet worker: Functions host storage and Flex deployment container" }, parent),
  };
}

/**
 * The identity running `pulumi up` (from `authorization.getClientConfig`)
 * writes the settings key-value: ARM passes its identity through to the
 * store, which accepts no access keys.
 */
export function grantSettingsWriter(name: string, args: { readonly deployerObjectId: pulumi.Input<string>; readonly subscriptionId: pulumi.Input<string>; readonly configStoreId: pulumi.Input<string> }, parent: pulumi.Resource): authorization.RoleAssignment {
  return grant(
    `${name}-settings-writer`,
    { role: "appConfigurationDataOwner", scope: args.configStoreId, principalId: args.deployerObjectId, subscriptionId: args.subscriptionId, description: "scrape-fleet deployer: write the runtime settings key-value through ARM" },
    parent,
  );
}
