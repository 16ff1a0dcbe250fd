/**
 * The work queue: a Standard Service Bus namespace and one queue. Dead letters
 * collect in the queue's built-in `$DeadLetterQueue` sub-queue, so there is no
 * second queue to create or forget to read.
 * https://learn.microsoft.com/azure/service-bus-messaging/service-bus-dead-letter-queues
 */
import * as pulumi from "@pulumi/pulumi";
import * as servicebus from "@pulumi/azure-native/servicebus";

/**
 * Work message lifetime: 4 days, as on the other clouds. An expired message is
 * dead-lettered (`deadLetteringOnMessageExpiration`), not dropped, so a fleet
 * outage over a weekend can be looked at and resent.
 */
export const WORK_MESSAGE_TTL = "P4D";
/** Standard queues hold 1 to 5 GB; 1 GB is millions of scrape messages. */
export const WORK_QUEUE_MAX_SIZE_MB = 1024;

export interface WorkQueueArgs {
  readonly resourceGroupName: pulumi.Input<string>;
  readonly location: pulumi.Input<string>;
  /** The namespace's full name, subscription suffix included. */
  readonly namespaceName: pulumi.Input<string>;
  readonly queueName: string;
  /** Deliveries before a message is dead-lettered (Service Bus `maxDeliveryCount`). */
  readonly maxDeliveryAttempts: number;
  /** Derived in ./config (`derivedLockDuration`), never typed twice. */
  readonly lockDurationSeconds: number;
  readonly tags: Readonly<Record<string, string>>;
}

export interface WorkQueue {
  readonly namespace: servicebus.Namespace;
  readonly queue: servicebus.Queue;
  /** `<namespace>.servicebus.windows.net`: the app setting `ServiceBusConnection__fullyQualifiedNamespace`. */
  readonly hostName: pulumi.Output<string>;
  /** `https://<namespace>.servicebus.windows.net/<queue>`: where producers send. */
  readonly url: pulumi.Output<string>;
  /** The dead-letter sub-queue's path: `<queue url>/$DeadLetterQueue`. */
  readonly deadLetterUrl: pulumi.Output<string>;
}

/** An ISO 8601 duration of whole seconds, as Service Bus takes `lockDuration`. */
export function isoSeconds(seconds: number): string {
  return `PT${seconds}S`;
}

export function createWorkQueue(name: string, args: WorkQueueArgs, parent: pulumi.Resource): WorkQueue {
  const namespace = new servicebus.Namespace(
    `${name}-sb`,
    {
      resourceGroupName: args.resourceGroupName,
      location: args.location,
      namespaceName: args.namespaceName,
      // Standard: queues with dead-lettering and sessions, billed per operation.
      // Basic has no dead-letter forwarding or topics; Premium is a dedicated, hourly-billed tier.
      sku: { name: "Standard", tier: "Standard" },
      // No SAS keys: the function app signs in with its managed identity
      // (Azure Service Bus Data Owner on the queue, ./identity.ts), producers with theirs.
      // https://learn.microsoft.com/azure/service-bus-messaging/service-bus-sas#disable-local-or-sas-key-authentication
      disableLocalAuth: true,
      minimumTlsVersion: "1.2",
      tags: args.tags,
    },
    { parent },
  );

  const queue = new servicebus.Queue(
    `${name}-work`,
    {
      resourceGroupName: args.resourceGroupName,
      namespaceName: namespace.name,
      queueName: args.queueName,
      maxDeliveryCount: args.maxDeliveryAttempts,
      lockDuration: isoSeconds(args.lockDurationSeconds),
      deadLetteringOnMessageExpiration: true,
      defaultMessageTimeToLive: WORK_MESSAGE_TTL,
      maxSizeInMegabytes: WORK_QUEUE_MAX_SIZE_MB,
      requiresSession: false,
      // Off: a retry is a copy sent under the same message id
      // (functions/azure/redelivery.ts), which duplicate detection would drop.
      requiresDuplicateDetection: false,
      enableBatchedOperations: true,
    },
    { parent },
  );

  const hostName = pulumi.interpolate`${namespace.name}.servicebus.windows.net`;
  const url = pulumi.interpolate`https://${hostName}/${queue.name}`;
  return { namespace, queue, hostName, url, deadLetterUrl: pulumi.interpolate`${url}/$DeadLetterQueue` };
}
