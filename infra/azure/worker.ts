/**
 * The worker: a Function App on the Flex Consumption plan (Linux, Node.js 22),
 * its own storage account (host state and the deployment container), its
 * telemetry (Log Analytics + workspace-based Application Insights), and the
 * code itself, deployed by `pulumi up`.
 *
 * How the code gets there. Flex Consumption runs the package in its
 * deployment container and takes code only through "one deploy"; it supports
 * neither `WEBSITE_RUN_FROM_PACKAGE` nor `/api/zipdeploy`, and a blob written
 * into the container does not by itself start new code.
 * https://learn.microsoft.com/azure/azure-functions/flex-consumption-plan#deployment
 * https://learn.microsoft.com/azure/azure-functions/functions-deployment-technologies
 * Infrastructure as code deploys with the `Microsoft.Web/sites/extensions`
 * resource named `onedeploy` and a `packageUri` the platform can read; the
 * package file must be named `released-package.zip`.
 * https://learn.microsoft.com/azure/azure-functions/functions-infrastructure-as-code?pivots=flex-consumption-plan#deployment-package
 * https://learn.microsoft.com/azure/templates/microsoft.web/sites/extensions-onedeploy
 * So, on every `pulumi up` whose code changed:
 * 1. esbuild bundles functions/azure at program time; the zip holds the bundle,
 *    its source map, host.json and a package.json whose `main` is the bundle.
 * 2. `storage.Blob` uploads it as `<sha256>/released-package.zip` in the
 *    `packages` container: a new name per content, so a change is a new blob.
 * 3. An ARM deployment (`resources.Deployment`) puts `onedeploy` with a
 *    read-only service SAS for that blob, minted by ARM at deployment time
 *    (`listServiceSas`, expiring an hour later) — so the SAS is never stored in
 *    the Pulumi state and the deployment's inputs change only with the code
 *    or with the app's identity (a re-created app gets a new one).
 *    The platform copies the package into the deployment container (with the
 *    app's identity), syncs the triggers and restarts the app on it.
 * azure-native 3.x has no typed resource for `sites/extensions`, and neither
 * needs a CLI beyond Pulumi. The one cost: `storage.Blob` authenticates with
 * the account key (pulumi/pulumi-azure-native#2015), and `listServiceSas`
 * signs with it, so this code account allows shared keys. It holds only the
 * code and the host's state; the results account allows none.
 */
import * as pulumi from "@pulumi/pulumi";
import * as applicationinsights from "@pulumi/azure-native/applicationinsights";
import * as operationalinsights from "@pulumi/azure-native/operationalinsights";
import * as resources from "@pulumi/azure-native/resources";
import * as storage from "@pulumi/azure-native/storage";
import * as web from "@pulumi/azure-native/web";
import { AZURE_APP_SETTINGS, SERVICE_BUS_NAMESPACE_SETTING } from "../../functions/azure/appSettings";
import { bundleWorker, deploymentArchive, type Bundle, type DeploymentArchive } from "../bundle";
import { createStorageAccount } from "./storage";

/** The handler's entry file: it registers the function with `app.serviceBusQueue`. */
export const WORKER_ENTRY = "functions/azure/index.ts";
/** The SDK clients, bundled on their own as `clients.js` and loaded on the first invocation (functions/azure/sdk.ts). */
export const WORKER_CLIENTS = "functions/azure/clients.ts";
/**
 * Node.js 22: the newest Node.js Flex Consumption runs (20 and 22), and the
 * oldest the fleet's code supports.
 * https://learn.microsoft.com/azure/azure-functions/flex-consumption-plan#supported-language-stack-versions
 */
export const WORKER_RUNTIME = { name: "node", version: "22" } as const;
/** The file name one deploy requires for the package. */
export const PACKAGE_FILE_NAME = "released-package.zip";
/**
 * Functions extension bundle: non-.NET apps on Flex Consumption need 4.x; it
 * carries the Service Bus extension 5.x, which supports identity connections.
 * https://learn.microsoft.com/azure/azure-functions/flex-consumption-plan#considerations
 */
export const EXTENSION_BUNDLE = { id: "Microsoft.Azure.Functions.ExtensionBundle", version: "[4.*, 5.0.0)" } as const;

/**
 * Bundles the handler into `dist/azure/`. `@azure/functions-core` is not a
 * package: the Functions Node.js worker provides it at run time.
 */
export function bundleAzureWorker(): Bundle {
  return bundleWorker({ entry: WORKER_ENTRY, outDir: "dist/azure", external: ["@azure/functions-core"], lazy: [WORKER_CLIENTS] });
}

export interface HostJsonArgs {
  /** Messages one instance works on at once (`messagesPerWorker`). */
  readonly maxConcurrentCalls: number;
  readonly functionTimeoutSeconds: number;
}

/**
 * host.json: the per-instance concurrency bound and the function timeout.
 * https://learn.microsoft.com/azure/azure-functions/functions-bindings-service-bus#hostjson-settings
 * https://learn.microsoft.com/azure/azure-functions/functions-host-json
 */
export function hostJson(args: HostJsonArgs): Record<string, unknown> {
  return {
    version: "2.0",
    functionTimeout: hms(args.functionTimeoutSeconds),
    extensionBundle: EXTENSION_BUNDLE,
    extensions: {
      serviceBus: {
        // Single dispatch (cardinality "one"): the most messages one instance
        // handles at once. On Flex, target-based scaling also reads it as the
        // per-instance target when it adds instances.
        // https://learn.microsoft.com/azure/azure-functions/functions-target-based-scaling#service-bus-queues-and-topics
        maxConcurrentCalls: args.maxConcurrentCalls,
        // The handler's return or throw settles each message (functions/azure/index.ts).
        autoCompleteMessages: true,
        // No prefetch: a prefetched message's lock runs while it waits in memory.
        prefetchCount: 0,
      },
    },
    logging: {
      logLevel: { default: "Information" },
      applicationInsights: {
        // The fleet's metrics are trace lines (functions/azure/metrics.ts):
        // sampled, they would be undercounted, so traces are never sampled.
        samplingSettings: { isEnabled: true, excludedTypes: "Request;Exception;Trace" },
      },
    },
  };
}

/** `hh:mm:ss`, as host.json takes `functionTimeout`. */
export function hms(seconds: number): string {
  const pad = (value: number) => String(value).padStart(2, "0");
  return `${pad(Math.floor(seconds / 3600))}:${pad(Math.floor((seconds % 3600) / 60))}:${pad(seconds % 60)}`;
}

/** The zip's entries are the bundle and its map, host.json, package.json. */
export interface WorkerPackage extends DeploymentArchive {
  /** SHA-256 of the bundle file alone, recorded on the blob. */
  readonly bundleSha256: string;
  /** The blob name: `<first 16 hex of sha256>/released-package.zip`. */
  readonly blobName: string;
}

/** Builds the deployment package from the bundle and the stack's host settings. */
export function workerPackage(bundle: Bundle, host: HostJsonArgs): WorkerPackage {
  const [code] = bundle.files;
  const { archive, sha256 } = deploymentArchive(bundle, {
    "host.json": `${JSON.stringify(hostJson(host), null, 2)}\n`,
    // Node.js v4 programming model: the worker loads package.json `main`, which registers the function.
    // https://learn.microsoft.com/azure/azure-functions/functions-reference-node#registering-a-function
    "package.json": `${JSON.stringify({ name: "scrape-fleet-azure-worker", version: "1.0.0", private: true, main: code.name }, null, 2)}\n`,
  });
  return { archive, sha256, bundleSha256: code.sha256, blobName: `${sha256.slice(0, 16)}/${PACKAGE_FILE_NAME}` };
}

/**
 * The ARM template that deploys the package: one `onedeploy` extension whose
 * `packageUri` carries a read-only SAS ARM mints when the deployment runs
 * (`utcNow()` is only allowed as a parameter default, hence `sasExpiry`).
 * https://learn.microsoft.com/azure/azure-resource-manager/templates/template-functions-resource#listservicesas
 */
export const ONE_DEPLOY_TEMPLATE = {
  $schema: "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
  contentVersion: "1.0.0.0",
  parameters: {
    siteName: { type: "string" },
    storageAccountName: { type: "string" },
    containerName: { type: "string" },
    blobName: { type: "string" },
    sitePrincipalId: {
      type: "string",
      metadata: { description: "The app's system-assigned identity. The template does not read it: a re-created app has a new one, so the deployment runs again for it." },
    },
    sasExpiry: { type: "string", defaultValue: "[dateTimeAdd(utcNow(), 'PT1H')]" },
  },
  variables: {
    accountId: "[resourceId('Microsoft.Storage/storageAccounts', parameters('storageAccountName'))]",
    blobPath: "[format('{0}/{1}', parameters('containerName'), parameters('blobName'))]",
  },
  resources: [
    {
      type: "Microsoft.Web/sites/extensions",
      apiVersion: "2024-04-01",
      name: "[format('{0}/onedeploy', parameters('siteName'))]",
      properties: {
        packageUri:
          "[format('{0}{1}?{2}', reference(variables('accountId'), '2023-05-01').primaryEndpoints.blob, variables('blobPath'), listServiceSas(variables('accountId'), '2023-05-01', createObject('canonicalizedResource', format('/blob/{0}/{1}', parameters('storageAccountName'), variables('blobPath')), 'signedResource', 'b', 'signedPermission', 'r', 'signedProtocol', 'https', 'signedExpiry', parameters('sasExpiry'), 'keyToSign', 'key1')).serviceSasToken)]",
        // The zip is ready to run: nothing to install or build on the platform.
        remoteBuild: false,
      },
    },
  ],
} as const;

export interface WorkerArgs {
  readonly resourceGroupName: pulumi.Input<string>;
  readonly location: pulumi.Input<string>;
  readonly namePrefix: string;
  readonly functionAppName: pulumi.Input<string>;
  readonly planName: string;
  readonly codeAccountName: pulumi.Input<string>;
  readonly deploymentContainerName: string;
  readonly packageContainerName: string;
  readonly workspaceName: string;
  readonly appInsightsName: string;
  readonly functionTimeoutSeconds: number;
  readonly memoryMb: number;
  readonly maxWorkers: number;
  readonly messagesPerWorker: number;
  /** The work queue's `maxDeliveryCount`, which the handler counts across a message's copies. */
  readonly maxDeliveryAttempts: number;
  readonly logRetentionDays: number;
  readonly serviceBusHostName: pulumi.Input<string>;
  readonly queueName: pulumi.Input<string>;
  readonly resultsContainerUrl: pulumi.Input<string>;
  readonly configEndpoint: pulumi.Input<string>;
  readonly settingsKey: string;
  readonly tags: Readonly<Record<string, string>>;
}

/**
 * Every app setting the handler and the host read, by name. Host storage is
 * reached with the app's identity, no connection string.
 * https://learn.microsoft.com/azure/azure-functions/functions-reference#connecting-to-host-storage-with-an-identity
 */
export function workerAppSettings(args: WorkerArgs, from: { readonly codeAccountName: pulumi.Input<string>; readonly connectionString: pulumi.Input<string>; readonly principalId: pulumi.Input<string> }): Record<string, pulumi.Input<string>> {
  return {
    AzureWebJobsStorage__accountName: from.codeAccountName,
    AzureWebJobsStorage__credential: "managedidentity",
    [SERVICE_BUS_NAMESPACE_SETTING]: args.serviceBusHostName,
    [AZURE_APP_SETTINGS.queueName]: args.queueName,
    [AZURE_APP_SETTINGS.resultsContainerUrl]: args.resultsContainerUrl,
    [AZURE_APP_SETTINGS.configEndpoint]: args.configEndpoint,
    [AZURE_APP_SETTINGS.settingsKey]: args.settingsKey,
    [AZURE_APP_SETTINGS.fleetName]: args.namePrefix,
    [AZURE_APP_SETTINGS.functionTimeoutSeconds]: String(args.functionTimeoutSeconds),
    [AZURE_APP_SETTINGS.maxDeliveryAttempts]: String(args.maxDeliveryAttempts),
    APPLICATIONINSIGHTS_CONNECTION_STRING: from.connectionString,
    // The app's identity: an app re-created under the same name gets a new
    // one, so this resource's inputs change and the settings are written to
    // the new app (its name and resource id alone stay the same).
    [AZURE_APP_SETTINGS.principalId]: from.principalId,
    NODE_OPTIONS: "--enable-source-maps",
  };
}

export interface Worker {
  readonly app: web.WebApp;
  /** The app's settings (`config/appsettings`): the code deployment waits for them. */
  readonly appSettings: web.WebAppApplicationSettings;
  readonly plan: web.AppServicePlan;
  readonly codeAccount: storage.StorageAccount;
  readonly workspace: operationalinsights.Workspace;
  readonly appInsights: applicationinsights.Component;
  readonly packageBlob: storage.Blob;
  readonly package: WorkerPackage;
  /** The app's system-assigned identity. */
  readonly principalId: pulumi.Output<string>;
}

export function createWorker(name: string, args: WorkerArgs, parent: pulumi.Resource): Worker {
  const common = { resourceGroupName: args.resourceGroupName, location: args.location, tags: args.tags };

  const workspace = new operationalinsights.Workspace(
    `${name}-logs`,
    { ...common, workspaceName: args.workspaceName, sku: { name: "PerGB2018" }, retentionInDays: args.logRetentionDays },
    { parent },
  );
  const appInsights = new applicationinsights.Component(
    `${name}-ai`,
    { ...common, resourceName: args.appInsightsName, kind: "web", applicationType: "web", workspaceResourceId: workspace.id, ingestionMode: "LogAnalytics" },
    { parent },
  );

  const codeAccount = createStorageAccount(`${name}-code`, { ...common, accountName: args.codeAccountName, allowSharedKeyAccess: true }, parent);
  const deploymentContainer = new storage.BlobContainer(
    `${name}-deployments`,
    { resourceGroupName: args.resourceGroupName, accountName: codeAccount.name, containerName: args.deploymentContainerName, publicAccess: "None" },
    { parent },
  );
  const packageContainer = new storage.BlobContainer(
    `${name}-packages`,
    { resourceGroupName: args.resourceGroupName, accountName: codeAccount.name, containerName: args.packageContainerName, publicAccess: "None" },
    { parent },
  );

  const plan = new web.AppServicePlan(
    `${name}-plan`,
    // Flex Consumption: one app per plan, Linux (`reserved`), billed per execution.
    { ...common, name: args.planName, kind: "functionapp", reserved: true, sku: { name: "FC1", tier: "FlexConsumption" } },
    { parent },
  );

  const app = new web.WebApp(
    `${name}-fn`,
    {
      ...common,
      name: args.functionAppName,
      kind: "functionapp,linux",
      serverFarmId: plan.id,
      httpsOnly: true,
      identity: { type: "SystemAssigned" },
      functionAppConfig: {
        deployment: {
          storage: {
            type: "blobContainer",
            value: pulumi.interpolate`${codeAccount.primaryEndpoints.blob}${deploymentContainer.name}`,
            authentication: { type: "SystemAssignedIdentity" },
          },
        },
        runtime: WORKER_RUNTIME,
        // The fleet's bound: at most maxWorkers instances × maxConcurrentCalls messages.
        scaleAndConcurrency: { maximumInstanceCount: args.maxWorkers, instanceMemoryMB: args.memoryMb },
      },
      // No `siteConfig` at all: whenever it is given, azure-native fills in
      // `netFrameworkVersion: "v4.6"` (siteConfigArgsProvideDefaults in its
      // types/input.js), and Flex Consumption refuses that property, among
      // others, with a 400 ("The following site configuration property
      // (Site.SiteConfig.NetFrameworkVersion) for Flex Consumption sites is
      // invalid"). App settings go in their own resource below; TLS 1.2 is
      // App Service's minimum for new apps, so nothing is lost by not sending it.
      // https://github.com/pulumi/pulumi-azure-native/issues/4168
      // https://github.com/microsoft/azure-pipelines-tasks/issues/21032
      // https://github.com/Azure/terraform-azurerm-avm-res-web-site/issues/283
      // infra/policy/flexSiteConfig.ts refuses a plan that sends one.
    },
    { parent },
  );

  const principalId = app.identity.apply((identity) => {
    if (identity?.principalId === undefined) throw new Error(`function app ${name}: Azure returned no system-assigned identity; it is requested with identity.type SystemAssigned`);
    return identity.principalId;
  });

  // The app's settings as their own `config/appsettings` resource, the
  // documented pattern for Flex Consumption (the app itself carries no siteConfig).
  // https://learn.microsoft.com/azure/azure-functions/functions-infrastructure-as-code?pivots=flex-consumption-plan#application-configuration
  const appSettings = new web.WebAppApplicationSettings(
    `${name}-app-settings`,
    {
      resourceGroupName: args.resourceGroupName,
      name: app.name,
      // Flex takes no FUNCTIONS_WORKER_RUNTIME, FUNCTIONS_EXTENSION_VERSION,
      // WEBSITE_NODE_DEFAULT_VERSION or WEBSITE_RUN_FROM_PACKAGE: the runtime is `functionAppConfig`.
      // https://learn.microsoft.com/azure/azure-functions/functions-app-settings#flex-consumption-plan-deprecations
      properties: workerAppSettings(args, { codeAccountName: codeAccount.name, connectionString: appInsights.connectionString, principalId }),
    },
    { parent },
  );

  const workerPkg = workerPackage(bundleAzureWorker(), { maxConcurrentCalls: args.messagesPerWorker, functionTimeoutSeconds: args.functionTimeoutSeconds });
  const packageBlob = new storage.Blob(
    `${name}-package`,
    {
      resourceGroupName: args.resourceGroupName,
      accountName: codeAccount.name,
      containerName: packageContainer.name,
      blobName: workerPkg.blobName,
      type: "Block",
      contentType: "application/zip",
      metadata: { packagesha256: workerPkg.sha256, bundlesha256: workerPkg.bundleSha256 },
      source: workerPkg.archive,
    },
    { parent },
  );

  return { app, appSettings, plan, codeAccount, workspace, appInsights, packageBlob, package: workerPkg, principalId };
}

export interface CodeDeploymentArgs {
  readonly resourceGroupName: pulumi.Input<string>;
  readonly worker: Worker;
  readonly packageContainerName: string;
  /** The app's grant on its code account: the platform copies the package into the deployment container with it. */
  readonly hostStorageGrant: pulumi.Resource;
  readonly tags: Readonly<Record<string, string>>;
}

/** Deploys the package with one deploy (see the file comment); runs again when the package changes or the app is re-created. */
export function deployCode(name: string, args: CodeDeploymentArgs, parent: pulumi.Resource): resources.Deployment {
  const { worker } = args;
  return new resources.Deployment(
    `${name}-code-deployment`,
    {
      resourceGroupName: args.resourceGroupName,
      tags: args.tags,
      properties: {
        mode: "Incremental",
        template: ONE_DEPLOY_TEMPLATE,
        parameters: {
          siteName: { value: worker.app.name },
          storageAccountName: { value: worker.codeAccount.name },
          containerName: { value: args.packageContainerName },
          blobName: { value: worker.package.blobName },
          // The app's identity, not just its name: an app re-created under
          // the same name keeps its name and resource id but gets a new
          // principal, and without a changed input this deployment would not
          // run again, leaving the new app with no code.
          sitePrincipalId: { value: worker.principalId },
        },
      },
    },
    // After the app settings: the host restarts on the new code and must find its storage and Service Bus settings.
    { parent, dependsOn: [worker.packageBlob, worker.app, worker.appSettings, args.hostStorageGrant] },
  );
}
