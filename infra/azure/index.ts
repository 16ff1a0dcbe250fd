/**
 * The fleet on Azure: a resource group holding a Service Bus queue (dead
 * letters in its `$DeadLetterQueue`), a Function App on Flex Consumption with
 * the handler deployed by `pulumi up` itself, a keyless results storage
 * account, an App Configuration store for runtime settings, Log Analytics +
 * Application Insights, alerts through one action group, and a workbook.
 *
 * Identity: the function app's system-assigned identity, granted one role per
 * resource it uses (./identity.ts); Service Bus and App Configuration accept no
 * keys at all, the results account no shared keys.
 *
 * Tags: every resource that takes tags gets `args.tags` (the fleet's tags
 * merged with the stack's). Role assignments, containers, the queue and the
 * lifecycle policy take none in ARM.
 */
import * as pulumi from "@pulumi/pulumi";
import * as authorization from "@pulumi/azure-native/authorization";
import * as resources from "@pulumi/azure-native/resources";
import { validOrThrow } from "../config";
import type { CreateFleet, FleetArgs, FleetOutputs } from "../contract";
import { createAlarms } from "./alarms";
import { globalSuffix, readAzureConfig, type AzureFleetConfig } from "./config";
import { createConfigStore, createSettingsDocument, SETTINGS_KEY } from "./configStore";
import { createDashboard } from "./dashboard";
import { grantSettingsWriter, grantWorker } from "./identity";
import { createWorkQueue } from "./queue";
import { createResultsStorage } from "./storage";
import { createWorker, deployCode } from "./worker";

export { validateAzureConfig, derivedLockDuration, globalSuffix } from "./config";
export { ROLE_DEFINITIONS, roleDefinitionId } from "./identity";
export { WORKER_ENTRY, WORKER_RUNTIME, bundleAzureWorker, hostJson, workerPackage } from "./worker";

export class AzureFleet extends pulumi.ComponentResource {
  readonly outputs: FleetOutputs;

  constructor(name: string, args: FleetArgs, azure: AzureFleetConfig, opts?: pulumi.ComponentResourceOptions) {
    super("scrape-fleet:azure:Fleet", name, {}, opts);
    const parent = this;
    const { names, location } = azure;
    const tags = args.tags;

    const client = authorization.getClientConfigOutput({ parent });
    const subscriptionId = client.subscriptionId;
    const suffix = subscriptionId.apply((id) => globalSuffix(id, args.namePrefix));
    const globalName = (base: string, separator: "-" | "") => pulumi.interpolate`${base}${separator}${suffix}`;

    const group = new resources.ResourceGroup(`${name}-rg`, { resourceGroupName: names.resourceGroup, location, tags }, { parent });
    const common = { resourceGroupName: group.name, location: group.location, tags };

    const workQueue = createWorkQueue(
      name,
      { ...common, namespaceName: globalName(names.serviceBusNamespace, "-"), queueName: names.workQueue, maxDeliveryAttempts: args.maxDeliveryAttempts, lockDurationSeconds: azure.lockDurationSeconds },
      parent,
    );
    const results = createResultsStorage(
      name,
      { ...common, accountName: globalName(names.resultsAccount, ""), containerName: names.resultsContainer, rawHtmlRetentionDays: args.rawHtmlRetentionDays },
      parent,
    );
    const store = createConfigStore(name, { ...common, storeName: globalName(names.configStore, "-") }, parent);

    const worker = createWorker(
      name,
      {
        ...common,
        namePrefix: args.namePrefix,
        functionAppName: globalName(names.functionApp, "-"),
        planName: names.plan,
        codeAccountName: globalName(names.codeAccount, ""),
        deploymentContainerName: names.deploymentContainer,
        packageContainerName: names.packageContainer,
        workspaceName: names.workspace,
        appInsightsName: names.appInsights,
        functionTimeoutSeconds: args.functionTimeoutSeconds,
        memoryMb: args.memoryMb,
        maxWorkers: args.maxWorkers,
        messagesPerWorker: args.messagesPerWorker,
        maxDeliveryAttempts: args.maxDeliveryAttempts,
        logRetentionDays: args.logRetentionDays,
        serviceBusHostName: workQueue.hostName,
        queueName: workQueue.queue.name,
        resultsContainerUrl: results.containerUrl,
        configEndpoint: store.endpoint,
        settingsKey: SETTINGS_KEY,
      },
      parent,
    );

    const grants = grantWorker(
      name,
      { principalId: worker.principalId, subscriptionId, queueId: workQueue.queue.id, resultsContainerId: results.container.id, configStoreId: store.id, codeAccountId: worker.codeAccount.id },
      parent,
    );
    const writerGrant = grantSettingsWriter(name, { deployerObjectId: client.objectId, subscriptionId, configStoreId: store.id }, parent);
    createSettingsDocument(name, { resourceGroupName: group.name, store, settings: args.settings, pushSettings: args.pushSettings, writerGrant, tags }, parent);
    deployCode(name, { resourceGroupName: group.name, worker, packageContainerName: names.packageContainer, hostStorageGrant: grants.hostStorage, tags }, parent);

    const { actionGroup } = createAlarms(
      name,
      {
        ...common,
        names,
        alertEmail: args.alertEmail,
        alertWebhookUrl: args.alertWebhookUrl,
        thresholds: args.alarms,
        namespaceId: workQueue.namespace.id,
        namespaceName: workQueue.namespace.name,
        queueName: workQueue.queue.name,
        appInsightsId: worker.appInsights.id,
        workspaceId: worker.workspace.id,
      },
      parent,
    );
    const dashboard = createDashboard(
      name,
      { ...common, namePrefix: args.namePrefix, subscriptionId, namespaceId: workQueue.namespace.id, queueName: workQueue.queue.name, appInsightsId: worker.appInsights.id },
      parent,
    );

    this.outputs = {
      workQueueUrl: workQueue.url,
      workQueueId: workQueue.queue.id,
      deadLetterQueueUrl: workQueue.deadLetterUrl,
      workerName: worker.app.name,
      resultsBucket: pulumi.interpolate`${results.account.name}/${results.container.name}`,
      configLocation: pulumi.interpolate`${store.endpoint}/kv/${SETTINGS_KEY}`,
      dashboardUrl: dashboard.url,
      alertChannel: actionGroup.id,
    };
    this.registerOutputs({ ...this.outputs });
  }
}

/**
 * Reads and validates the Azure keys again: infra/program.ts has already
 * reported their issues with the fleet's, but `createFleet` is callable on its
 * own and declares nothing from a config it has not checked.
 */
export const createFleet: CreateFleet = (name, args, opts) => new AzureFleet(name, args, validOrThrow(readAzureConfig(args), "stack config (Azure)"), opts).outputs;
