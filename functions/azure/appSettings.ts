/**
 * The contract between `infra/azure` and the Azure handler: the function's
 * name and the app settings the Pulumi program sets and the handler reads.
 *
 * It lives apart from `index.ts` because importing `index.ts` registers the
 * function with `app.serviceBusQueue` (the Node.js v4 programming model has no
 * other way to declare a function), and the Pulumi program must not do that.
 */

/** The function's name in the app: `AzureWebJobs.scrape.Disabled` pauses it. */
export const SCRAPE_FUNCTION_NAME = "scrape";

/**
 * The app setting that stops the function's trigger while it is "true"
 * (`fleet pause` sets it, `fleet resume` removes it); the program must leave it
 * alone on `pulumi up`. https://learn.microsoft.com/azure/azure-functions/disable-function
 */
export const SCRAPE_DISABLED_SETTING = `AzureWebJobs.${SCRAPE_FUNCTION_NAME}.Disabled`;

/**
 * Name of the Service Bus connection. It is identity-based: the app sets
 * `ServiceBusConnection__fullyQualifiedNamespace` and the host signs in with the
 * app's managed identity, so there is no connection string anywhere.
 * https://learn.microsoft.com/azure/azure-functions/functions-bindings-service-bus-trigger#identity-based-connections
 */
export const SERVICE_BUS_CONNECTION = "ServiceBusConnection";

/** App settings read by the handler (`process.env` in the function). */
export const AZURE_APP_SETTINGS = {
  /** The work queue's name; the trigger reads it as `%WORK_QUEUE_NAME%`. */
  queueName: "WORK_QUEUE_NAME",
  /** `https://<account>.blob.core.windows.net/<container>` of the results container. */
  resultsContainerUrl: "RESULTS_CONTAINER_URL",
  /** `https://<store>.azconfig.io`. */
  configEndpoint: "APP_CONFIGURATION_ENDPOINT",
  /** The key holding the settings JSON document. */
  settingsKey: "SETTINGS_KEY",
  /** The fleet's name, put on every log line and metric. */
  fleetName: "FLEET_NAME",
  /** The same number as host.json `functionTimeout`, in seconds: the worker's deadline. */
  functionTimeoutSeconds: "FUNCTION_TIMEOUT_SECONDS",
  /** The queue's `maxDeliveryCount` (`maxDeliveryAttempts`): the handler counts deliveries across a message's copies. */
  maxDeliveryAttempts: "MAX_DELIVERY_ATTEMPTS",
  /** The app's system-assigned identity (object id): the principal every role assignment names. */
  principalId: "WORKER_PRINCIPAL_ID",
} as const;

/** The app setting that holds the Service Bus namespace's host name. */
export const SERVICE_BUS_NAMESPACE_SETTING = `${SERVICE_BUS_CONNECTION}__fullyQualifiedNamespace`;

/**
 * The log line the handler writes, once per message, on the delivery Service
 * Bus dead-letters; the dead-letter alert counts these lines (infra/azure/alarms.ts).
 */
export const DEAD_LETTERED_EVENT = "message_dead_lettered";
