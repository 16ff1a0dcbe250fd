/**
 * Policies for the Azure fleet, checked on the resources the program registers
 * under mocks for the `azure-prod` stack file (no cloud, no Pulumi CLI). The
 * mocks answer with ARM ids and names (infra/azure/mockState.ts), so a policy
 * can follow one resource's id into another's inputs.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { AZURE_APP_SETTINGS, SERVICE_BUS_NAMESPACE_SETTING } from "../../functions/azure/appSettings";
import { OLDEST_MESSAGE_AGE_FIELD } from "../../functions/azure/metrics";
import { validOrThrow, type Validation } from "../../infra/config";
import { FLEET_OUTPUT_NAMES } from "../../infra/contract";
import { EXPORTED_QUEUE_METRICS, isoMinutes, QUEUE_METRICS_EXPORT, SETTLEMENT_ERROR_CODES, stalledLookbackMinutes } from "../../infra/azure/alarms";
import { DEAD_LETTERED_EVENT } from "../../functions/azure/appSettings";
import { FLEET_METRICS_EVENT } from "../../functions/azure/metrics";
import { METRICS } from "../../shared/metricNames";
import { derivedLockDuration, LOCATION_KEY, SERVICE_BUS_MAX_LOCK_SECONDS, validateAzureConfig } from "../../infra/azure/config";
import { SETTINGS_CONTENT_TYPE, SETTINGS_KEY } from "../../infra/azure/configStore";
import { AZURE_MOCK_STATE, MOCK_SUBSCRIPTION_ID, mockPrincipalId } from "../../infra/azure/mockState";
import { ROLE_DEFINITIONS } from "../../infra/azure/identity";
import { transientFailureToDeadLetterMs } from "../../infra/azure/recovery";
import { bundleAzureWorker, hostJson, PACKAGE_FILE_NAME, workerPackage } from "../../infra/azure/worker";
import { mockRun } from "../../infra/mockRun";
import { AZURE } from "../../infra/policy/types";
import { SettingsError } from "../../shared/errors";
import { parseSettings } from "../../shared/settings";
import { ofType, one, runStack, stackConfig, type MockRunResult, type RecordedResource, withOperatorAddresses } from "../support/stack";

const STACK = "azure-prod";

/** Azure types whose Args take `tags`, per the installed provider's .d.ts. */
const TAGGABLE = new Set<string>([AZURE.resourceGroup, AZURE.namespace, AZURE.storageAccount, AZURE.plan, AZURE.webApp, AZURE.configStore, AZURE.keyValue, AZURE.workspace, AZURE.appInsights, AZURE.workbook, AZURE.actionGroup, AZURE.metricAlert, AZURE.scheduledQueryRule, AZURE.deployment]);
/** Azure types with no `tags` argument (ARM keeps no tags on them). */
const UNTAGGABLE = new Set<string>([AZURE.queue, AZURE.blobContainer, AZURE.blob, AZURE.managementPolicy, AZURE.roleAssignment, AZURE.appSettings, AZURE.diagnosticSetting]);

interface MetricCriterion {
  readonly name: string;
  readonly metricName: string;
  readonly metricNamespace: string;
  readonly operator: string;
  readonly threshold: number;
  readonly timeAggregation: string;
  readonly dimensions: readonly { name: string; operator: string; values: string[] }[];
}

const input = <V>(resource: RecordedResource, key: string) => resource.inputs[key] as V;
const output = <V>(resource: RecordedResource, key: string) => resource.outputs[key] as V;
const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

describe(`Azure fleet, stack ${STACK} (under Pulumi mocks)`, function () {
  this.timeout(20_000);
  let result: MockRunResult;
  const { fleet, raw, config } = stackConfig(STACK);
  const args = fleet.args;
  const azure = validOrThrow(validateAzureConfig({ ...raw, location: config[LOCATION_KEY] }, args), `stack ${STACK} config (Azure)`);

  before(async () => {
    result = await runStack(STACK);
  });

  const queue = () => one(result, AZURE.queue);
  const app = () => one(result, AZURE.webApp);
  const appSettings = () => new Map(Object.entries(input<Record<string, string>>(one(result, AZURE.appSettings), "properties")));
  const account = (suffix: string) => one(result, AZURE.storageAccount, suffix);
  const actionGroup = () => one(result, AZURE.actionGroup);

  describe("queue", () => {
    it("the work queue dead-letters after 5 deliveries (maxDeliveryAttempts) and on expiry", () => {
      assert.equal(input(queue(), "maxDeliveryCount"), 5);
      assert.equal(input(queue(), "maxDeliveryCount"), args.maxDeliveryAttempts);
      assert.equal(input(queue(), "deadLetteringOnMessageExpiration"), true);
      assert.match(input<string>(queue(), "defaultMessageTimeToLive"), /^P\d+D$/);
    });

    it("the message lock is derived from the function timeout and covers it, within Service Bus's 5 minutes", () => {
      const lock = Number(/^PT(\d+)S$/.exec(input<string>(queue(), "lockDuration"))?.[1]);
      assert.equal(lock, derivedLockDuration(args.functionTimeoutSeconds));
      assert.ok(lock >= args.functionTimeoutSeconds, `lock ${lock} s < timeout ${args.functionTimeoutSeconds} s`);
      assert.ok(lock <= SERVICE_BUS_MAX_LOCK_SECONDS);
      assert.equal(appSettings().get(AZURE_APP_SETTINGS.functionTimeoutSeconds), String(args.functionTimeoutSeconds));
    });

    it("a retry's copy, sent under the same message id, is accepted: the queue has no duplicate detection", () => {
      assert.equal(input(queue(), "requiresDuplicateDetection"), false);
    });

    it("the handler counts deliveries across a message's retry copies against the queue's own maxDeliveryCount", () => {
      assert.equal(appSettings().get(AZURE_APP_SETTINGS.maxDeliveryAttempts), String(input(queue(), "maxDeliveryCount")));
    });

    it("SAS (local) auth is disabled on a Standard namespace", () => {
      const namespace = one(result, AZURE.namespace);
      assert.equal(input(namespace, "disableLocalAuth"), true);
      assert.deepEqual(input(namespace, "sku"), { name: "Standard", tier: "Standard" });
      assert.equal(input(namespace, "minimumTlsVersion"), "1.2");
    });
  });

  describe("worker", () => {
    it("the function runs Node 22+ on Flex Consumption (FC1, Linux)", () => {
      const plan = one(result, AZURE.plan);
      assert.deepEqual(input(plan, "sku"), { name: "FC1", tier: "FlexConsumption" });
      assert.equal(input(plan, "reserved"), true);
      assert.equal(input(app(), "serverFarmId"), output(plan, "id"));
      assert.equal(input(app(), "kind"), "functionapp,linux");
      const runtime = input<{ runtime: { name: string; version: string } }>(app(), "functionAppConfig").runtime;
      assert.equal(runtime.name, "node");
      assert.ok(Number(runtime.version) >= 22, `node ${runtime.version}`);
    });

    it("the concurrency bound is maximumInstanceCount = maxWorkers and host.json maxConcurrentCalls = messagesPerWorker", () => {
      const scale = input<{ scaleAndConcurrency: { maximumInstanceCount: number; instanceMemoryMB: number } }>(app(), "functionAppConfig").scaleAndConcurrency;
      assert.equal(scale.maximumInstanceCount, args.maxWorkers);
      assert.equal(scale.instanceMemoryMB, args.memoryMb);
      const host = hostJson({ maxConcurrentCalls: args.messagesPerWorker, functionTimeoutSeconds: args.functionTimeoutSeconds }) as { functionTimeout: string; extensions: { serviceBus: { maxConcurrentCalls: number; autoCompleteMessages: boolean } } };
      assert.equal(host.extensions.serviceBus.maxConcurrentCalls, args.messagesPerWorker);
      assert.equal(host.extensions.serviceBus.autoCompleteMessages, true);
      assert.equal(host.functionTimeout, "00:02:00");
    });

    it("the function has a system-assigned identity and signs in to Service Bus and host storage with it (no connection strings)", () => {
      assert.deepEqual(input(app(), "identity"), { type: "SystemAssigned" });
      const settings = appSettings();
      assert.equal(settings.get(SERVICE_BUS_NAMESPACE_SETTING), `${output(one(result, AZURE.namespace), "name")}.servicebus.windows.net`);
      assert.equal(settings.get(AZURE_APP_SETTINGS.queueName), output(queue(), "name"));
      assert.equal(settings.get("AzureWebJobsStorage__accountName"), output(account("-code"), "name"));
      assert.equal(settings.get("AzureWebJobsStorage__credential"), "managedidentity");
      for (const [name, value] of settings) {
        assert.doesNotMatch(`${name}=${value}`, /AccountKey=|SharedAccessKey|Secret=/i, `${name} holds a key`);
      }
    });

    it("the app sends no siteConfig (azure-native would add netFrameworkVersion, which Flex refuses); its settings are their own resource on the app", () => {
      assert.equal(app().inputs.siteConfig, undefined);
      assert.equal(input(one(result, AZURE.appSettings), "name"), output(app(), "name"));
      assert.equal(input(one(result, AZURE.appSettings), "resourceGroupName"), input(app(), "resourceGroupName"));
    });

    it("the app sets none of the settings Flex Consumption rejects", () => {
      for (const name of ["FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION", "WEBSITE_NODE_DEFAULT_VERSION", "WEBSITE_RUN_FROM_PACKAGE", "WEBSITE_CONTENTSHARE", "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING", "SCM_DO_BUILD_DURING_DEPLOYMENT"]) {
        assert.equal(appSettings().has(name), false, name);
      }
    });

    it("the deployment container is read by the app with its identity", () => {
      const storage = input<{ deployment: { storage: { type: string; value: string; authentication: { type: string } } } }>(app(), "functionAppConfig").deployment.storage;
      assert.equal(storage.type, "blobContainer");
      assert.equal(storage.authentication.type, "SystemAssignedIdentity");
      assert.equal(storage.value, `https://${output(account("-code"), "name")}.blob.core.windows.net/deployments`);
    });

    it("Application Insights is workspace-based and connected to the app", () => {
      const component = one(result, AZURE.appInsights);
      assert.equal(input(component, "workspaceResourceId"), output(one(result, AZURE.workspace), "id"));
      assert.equal(appSettings().get("APPLICATIONINSIGHTS_CONNECTION_STRING"), output(component, "connectionString"));
      assert.equal(input(one(result, AZURE.workspace), "retentionInDays"), args.logRetentionDays);
    });
  });

  describe("code deployment", () => {
    const bundle = bundleAzureWorker();
    const pkg = workerPackage(bundle, { maxConcurrentCalls: args.messagesPerWorker, functionTimeoutSeconds: args.functionTimeoutSeconds });

    it("the deployed package is the current bundle, named released-package.zip under its content hash", () => {
      const blob = one(result, AZURE.blob);
      const metadata = input<{ bundlesha256: string; packagesha256: string }>(blob, "metadata");
      assert.equal(metadata.bundlesha256, sha256(readFileSync(bundle.files[0].path)), "the uploaded bundle is dist/azure/index.js as built now");
      assert.equal(input(blob, "blobName"), `${metadata.packagesha256.slice(0, 16)}/${PACKAGE_FILE_NAME}`);
      assert.equal(metadata.packagesha256, pkg.sha256, "host.json and package.json are the stack's");
      assert.equal(input(blob, "containerName"), output(one(result, AZURE.blobContainer, "-packages"), "name"));
      assert.equal(input(blob, "accountName"), output(account("-code"), "name"));
    });

    it("the zip holds the bundle, host.json and a package.json whose main is the bundle", async () => {
      const assets = (await pkg.archive.assets) as unknown as Record<string, { text?: Promise<string>; path?: Promise<string> }>;
      assert.deepEqual(Object.keys(assets).sort(), ["clients.js", "clients.js.map", "host.json", "index.js", "index.js.map", "package.json"]);
      const packageJson = JSON.parse(String(await assets["package.json"].text)) as { main: string };
      assert.equal(packageJson.main, bundle.files[0].name);
      assert.equal(await assets["index.js"].path, bundle.files[0].path);
    });

    it("pulumi up deploys it with one deploy: a onedeploy extension on the app, from that blob, no remote build", () => {
      const deployment = one(result, AZURE.deployment);
      const properties = input<{ mode: string; template: { parameters: Record<string, unknown>; resources: { type: string; name: string; properties: { packageUri: string; remoteBuild: boolean } }[] }; parameters: Record<string, { value: string }> }>(deployment, "properties");
      assert.equal(properties.mode, "Incremental");
      const [extension] = properties.template.resources;
      assert.equal(extension.type, "Microsoft.Web/sites/extensions");
      assert.equal(extension.name, "[format('{0}/onedeploy', parameters('siteName'))]");
      assert.equal(extension.properties.remoteBuild, false);
      assert.match(extension.properties.packageUri, /listServiceSas\(.*'signedPermission', 'r'.*'signedProtocol', 'https'/);
      assert.equal(properties.parameters.siteName.value, output(app(), "name"));
      assert.equal(properties.parameters.blobName.value, input(one(result, AZURE.blob), "blobName"));
      assert.equal(properties.parameters.storageAccountName.value, output(account("-code"), "name"));
      assert.equal(properties.parameters.sitePrincipalId.value, mockPrincipalId(output<string>(app(), "name")));
      assert.ok("sitePrincipalId" in properties.template.parameters, "the template declares the parameter it is given");
    });

    it("an app re-created under the same name (same resource id, a new identity) changes the deployment's and the settings' inputs, so both run again for it", async () => {
      const recreatedPrincipal = "99999999-8888-7777-6666-555555555555";
      const recreated = await runStack(STACK, {
        mockState: { [AZURE.webApp]: (resource, env) => ({ ...AZURE_MOCK_STATE[AZURE.webApp](resource, env), identity: { type: "SystemAssigned", principalId: recreatedPrincipal } }) },
      });
      assert.equal(output(one(recreated, AZURE.webApp), "id"), output(app(), "id"), "the same resource id");
      const parameters = (run: MockRunResult) => input<{ parameters: Record<string, { value: string }> }>(one(run, AZURE.deployment), "properties").parameters;
      assert.notDeepEqual(parameters(recreated), parameters(result));
      assert.equal(parameters(recreated).sitePrincipalId.value, recreatedPrincipal);
      const settings = (run: MockRunResult) => input<Record<string, string>>(one(run, AZURE.appSettings), "properties");
      assert.notDeepEqual(settings(recreated), settings(result));
      assert.equal(settings(recreated)[AZURE_APP_SETTINGS.principalId], recreatedPrincipal);
    });
  });

  describe("storage", () => {
    for (const suffix of ["-results", "-code"]) {
      it(`the ${suffix.slice(1)} storage account allows no public blob access, requires HTTPS and TLS 1.2, and double-encrypts`, () => {
        const storage = account(suffix);
        assert.equal(input(storage, "allowBlobPublicAccess"), false);
        assert.equal(input(storage, "minimumTlsVersion"), "TLS1_2");
        assert.equal(input(storage, "enableHttpsTrafficOnly"), true);
        assert.equal(input<{ requireInfrastructureEncryption: boolean }>(storage, "encryption").requireInfrastructureEncryption, true);
        assert.match(output<string>(storage, "name"), /^[a-z0-9]{3,24}$/);
      });
    }

    it("the results account accepts no shared keys: the function writes with its identity", () => {
      assert.equal(input(account("-results"), "allowSharedKeyAccess"), false);
      assert.equal(appSettings().get(AZURE_APP_SETTINGS.resultsContainerUrl), `https://${output(account("-results"), "name")}.blob.core.windows.net/results`);
    });

    it("every container is private", () => {
      const containers = ofType(result, AZURE.blobContainer);
      assert.equal(containers.length, 3);
      for (const container of containers) assert.equal(input(container, "publicAccess"), "None", container.name);
    });

    it("raw HTML expires after rawHtmlRetentionDays; records are kept", () => {
      const rules = input<{ rules: { definition: { filters: { prefixMatch: string[] }; actions: { baseBlob: { delete: { daysAfterModificationGreaterThan: number } } } } }[] }>(one(result, AZURE.managementPolicy), "policy").rules;
      assert.equal(rules.length, 1);
      assert.deepEqual(rules[0].definition.filters.prefixMatch, ["results/raw/"]);
      assert.equal(rules[0].definition.actions.baseBlob.delete.daysAfterModificationGreaterThan, args.rawHtmlRetentionDays);
    });
  });

  describe("config store", () => {
    it("the store accepts no access keys, and ARM writes the key-value as the deployer (pass-through)", () => {
      const store = one(result, AZURE.configStore);
      assert.equal(input(store, "disableLocalAuth"), true);
      assert.equal(input<{ authenticationMode: string }>(store, "dataPlaneProxy").authenticationMode, "Pass-through");
      assert.equal(input<{ name: string }>(store, "sku").name, "Standard");
    });

    it("the runtime settings are one JSON key-value holding the stack's settings", () => {
      const keyValue = one(result, AZURE.keyValue);
      assert.equal(input(keyValue, "keyValueName"), SETTINGS_KEY);
      assert.equal(input(keyValue, "contentType"), SETTINGS_CONTENT_TYPE);
      assert.deepEqual(parseSettings(JSON.parse(input<string>(keyValue, "value"))), args.settings);
      assert.equal(input(keyValue, "configStoreName"), output(one(result, AZURE.configStore), "name"));
      assert.equal(appSettings().get(AZURE_APP_SETTINGS.configEndpoint), output(one(result, AZURE.configStore), "endpoint"));
      assert.equal(appSettings().get(AZURE_APP_SETTINGS.settingsKey), SETTINGS_KEY);
    });
  });

  describe("identity", () => {
    const narrowScopes = () => new Map<string, string>([
      [output(queue(), "id"), "serviceBusDataOwner"],
      [output(one(result, AZURE.blobContainer, "-results-container"), "id"), "storageBlobDataContributor"],
      [output(one(result, AZURE.configStore), "id"), "appConfigurationDataReader"],
      [output(account("-code"), "id"), "storageBlobDataOwner"],
    ]);

    it("every role assignment is scoped to one queue, container, store or the app's own storage account, never a resource group or subscription", () => {
      const assignments = ofType(result, AZURE.roleAssignment);
      assert.equal(assignments.length, 5);
      const allowed = new Set([...narrowScopes().keys()]);
      for (const assignment of assignments) {
        const scope = input<string>(assignment, "scope");
        assert.doesNotMatch(scope, /^\/subscriptions\/[^/]+(\/resourceGroups\/[^/]+)?\/?$/i, `${assignment.name} is scoped to ${scope}`);
        assert.ok(allowed.has(scope), `${assignment.name}: unexpected scope ${scope}`);
      }
    });

    it("the function's role definition ids are the documented GUIDs, as full subscription ids, one per scope", () => {
      const principal = mockPrincipalId(output<string>(app(), "name"));
      const worker = ofType(result, AZURE.roleAssignment).filter((assignment) => input(assignment, "principalId") === principal);
      assert.equal(worker.length, 4);
      for (const assignment of worker) {
        const role = narrowScopes().get(input<string>(assignment, "scope")) as keyof typeof ROLE_DEFINITIONS;
        assert.equal(input(assignment, "roleDefinitionId"), `/subscriptions/${MOCK_SUBSCRIPTION_ID}/providers/Microsoft.Authorization/roleDefinitions/${ROLE_DEFINITIONS[role]}`);
        assert.equal(input(assignment, "principalType"), "ServicePrincipal");
        assert.match(input<string>(assignment, "roleAssignmentName"), /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
        // No ABAC condition narrows a grant to blob-name prefixes: the whole results container, results/batches/ included, is writable.
        assert.equal(input(assignment, "condition"), undefined, assignment.name);
      }
      assert.deepEqual(
        { queueOwner: ROLE_DEFINITIONS.serviceBusDataOwner, contributor: ROLE_DEFINITIONS.storageBlobDataContributor, owner: ROLE_DEFINITIONS.storageBlobDataOwner, reader: ROLE_DEFINITIONS.appConfigurationDataReader, configOwner: ROLE_DEFINITIONS.appConfigurationDataOwner },
        { queueOwner: "090c5cfd-751d-490a-894a-3ce6f1109419", contributor: "ba92f5b4-2d11-453d-a403-e96b0029c9fe", owner: "b7e6dc6d-f1e8-4753-8033-0f276bb0955b", reader: "516239f1-63e1-4d78-a4de-a74fb236a071", configOwner: "5ae67dd6-50cb-40e7-96ff-dc2bfa4b606b" },
      );
    });

    it("the deployer gets App Configuration Data Owner on the store only, to write the settings key-value", () => {
      const writer = one(result, AZURE.roleAssignment, "-settings-writer");
      assert.equal(input(writer, "principalId"), "33333333-3333-3333-3333-333333333333");
      assert.equal(input(writer, "scope"), output(one(result, AZURE.configStore), "id"));
      assert.match(input<string>(writer, "roleDefinitionId"), new RegExp(`${ROLE_DEFINITIONS.appConfigurationDataOwner}$`));
    });
  });

  describe("alerts and dashboard", () => {
    it("every alert uses the action group", () => {
      const id = output<string>(actionGroup(), "id");
      const metricAlerts = ofType(result, AZURE.metricAlert);
      const logAlerts = ofType(result, AZURE.scheduledQueryRule);
      assert.equal(metricAlerts.length + logAlerts.length, 7);
      for (const alert of metricAlerts) assert.deepEqual(input(alert, "actions"), [{ actionGroupId: id }], alert.name);
      for (const alert of logAlerts) assert.deepEqual(input(alert, "actions"), { actionGroups: [id] }, alert.name);
    });

    it("the action group mails the stack's alertEmail, with no webhook unless one is configured", () => {
      assert.deepEqual(input(actionGroup(), "emailReceivers"), [{ name: "email", emailAddress: args.alertEmail, useCommonAlertSchema: true }]);
      assert.deepEqual(input(actionGroup(), "webhookReceivers"), []);
    });

    it("the webhook, when configured, is a receiver of the action group and stays a secret", async () => {
      const withWebhook = await runStack(STACK, { configOverrides: { "scrape-fleet:alertWebhookUrl": { secret: "https://hooks.example.com/token-123" } } });
      const group = one(withWebhook, AZURE.actionGroup);
      assert.deepEqual(input(group, "webhookReceivers"), [{ name: "webhook", serviceUri: "https://hooks.example.com/token-123", useCommonAlertSchema: true }]);
      assert.ok(group.secretInputs.includes("webhookReceivers"));
    });

    it("the metric alerts watch the work queue's backlog and dead-letter sub-queue on the namespace", () => {
      const namespaceId = output(one(result, AZURE.namespace), "id");
      const criteria = (suffix: string) => {
        const alert = one(result, AZURE.metricAlert, suffix);
        assert.deepEqual(input(alert, "scopes"), [namespaceId]);
        return { alert, allOf: input<{ allOf: MetricCriterion[] }>(alert, "criteria").allOf };
      };
      const backlog = criteria("-backlog").allOf;
      assert.deepEqual([backlog[0].metricName, backlog[0].operator, backlog[0].threshold], ["ActiveMessages", "GreaterThanOrEqual", args.alarms.backlogMessages]);
      const deadLetters = criteria("-dead-letters").allOf;
      assert.deepEqual([deadLetters[0].metricName, deadLetters[0].operator, deadLetters[0].threshold], ["DeadletteredMessages", "GreaterThan", 0]);
      for (const criterion of [...backlog, ...deadLetters]) {
        assert.equal(criterion.metricNamespace, "Microsoft.ServiceBus/namespaces");
        assert.deepEqual(criterion.dimensions, [{ name: "EntityName", operator: "Include", values: [output(queue(), "name")] }]);
      }
    });

    it("the oldest-message and error alerts query Application Insights with the stack's thresholds", () => {
      const appInsightsId = output(one(result, AZURE.appInsights), "id");
      const condition = (suffix: string) => {
        const alert = one(result, AZURE.scheduledQueryRule, suffix);
        assert.deepEqual(input(alert, "scopes"), [appInsightsId]);
        return input<{ allOf: { query: string; metricMeasureColumn: string; threshold: number; operator: string }[] }>(alert, "criteria").allOf[0];
      };
      const oldest = condition("-oldest-message");
      assert.equal(oldest.metricMeasureColumn, OLDEST_MESSAGE_AGE_FIELD);
      assert.equal(oldest.threshold, args.alarms.oldestMessageAgeSeconds);
      assert.match(oldest.query, new RegExp(`line\\.${OLDEST_MESSAGE_AGE_FIELD}`));
      const errors = condition("-errors");
      assert.equal(errors.threshold, args.alarms.errorRatePercent);
      // At the threshold, as CloudWatch and Cloud Monitoring fire.
      assert.deepEqual([oldest.operator, errors.operator], ["GreaterThanOrEqual", "GreaterThanOrEqual"]);
      for (const code of SETTLEMENT_ERROR_CODES) assert.ok(errors.query.includes(code), `${code} is not excluded`);
    });

    const logCondition = (suffix: string) => {
      const alert = one(result, AZURE.scheduledQueryRule, suffix);
      return { alert, condition: input<{ allOf: { query: string; metricMeasureColumn: string; threshold: number; operator: string }[] }>(alert, "criteria").allOf[0] };
    };

    it("each message the worker dead-letters notifies: a stateless rule counting the handler's message_dead_lettered lines, each line counted by one evaluation", () => {
      const { alert, condition } = logCondition("-dead-lettered");
      assert.equal(input(alert, "autoMitigate"), false, "stateless: every evaluation with new dead letters notifies, unlike the gauge alert that stays fired");
      assert.equal(input(alert, "evaluationFrequency"), "PT5M");
      assert.match(condition.query, new RegExp(`"${DEAD_LETTERED_EVENT}"`));
      assert.match(condition.query, /ingestion_time\(\) > ago\(5m\)/, "counts the lines ingested since the last evaluation");
      assert.deepEqual([condition.metricMeasureColumn, condition.operator, condition.threshold], ["DeadLettered", "GreaterThanOrEqual", 1]);
      assert.deepEqual(input(alert, "scopes"), [output(one(result, AZURE.appInsights), "id")]);
    });

    it("the stalled alert is a log search rule over the namespace's exported metrics, which evaluates while nothing completes (a metric alert skips the empty CompleteMessage series)", () => {
      const { alert, condition } = logCondition("-stalled");
      const workspaceId = output(one(result, AZURE.workspace), "id");
      assert.deepEqual(input(alert, "scopes"), [workspaceId]);
      assert.deepEqual([condition.metricMeasureColumn, condition.operator, condition.threshold], ["StalledMinutes", "GreaterThanOrEqual", args.alarms.stalledMinutes]);
      assert.match(condition.query, /AzureMetrics/);
      assert.ok(condition.query.includes(`Resource =~ "${output<string>(one(result, AZURE.namespace), "name")}"`), "the fleet's namespace");
      for (const metric of EXPORTED_QUEUE_METRICS) assert.ok(condition.query.includes(`"${metric}"`), metric);
      assert.match(condition.query, /summarize waitingSince = min\(TimeGenerated\)/, "one row even when nothing arrived: an empty result is evaluated, as 0");
      assert.equal(input(alert, "windowSize"), isoMinutes(stalledLookbackMinutes(args.alarms.stalledMinutes)));
      assert.ok(stalledLookbackMinutes(args.alarms.stalledMinutes) >= 4 * args.alarms.stalledMinutes);
      const exported = one(result, AZURE.diagnosticSetting);
      assert.equal(input(exported, "name"), QUEUE_METRICS_EXPORT);
      assert.equal(input(exported, "resourceUri"), output(one(result, AZURE.namespace), "id"));
      assert.equal(input(exported, "workspaceId"), workspaceId);
      assert.deepEqual(input(exported, "metrics"), [{ category: "AllMetrics", enabled: true }]);
    });

    it("the page-retries alert is the share of pages ending retry or malformed over 15 minutes, from the fleet's metric lines, at retryRatePercent", () => {
      const { alert, condition } = logCondition("-page-retries");
      assert.deepEqual([condition.metricMeasureColumn, condition.operator, condition.threshold], ["RetryRatePercent", "GreaterThanOrEqual", args.alarms.retryRatePercent]);
      assert.equal(input(alert, "windowSize"), "PT15M");
      assert.ok(condition.query.includes(FLEET_METRICS_EVENT));
      for (const metric of [METRICS.pagesOk, METRICS.pagesFailed, METRICS.pagesRetried, METRICS.pagesMalformed]) assert.ok(condition.query.includes(`line.${metric}`), metric);
      assert.match(condition.query, new RegExp(`sentBack = sum\\(toint\\(line\\.${METRICS.pagesRetried}\\)\\) \\+ sum\\(toint\\(line\\.${METRICS.pagesMalformed}\\)\\)`));
    });

    it("the dashboard has the same panels as the AWS one", () => {
      const workbook = one(result, AZURE.workbook);
      const document = JSON.parse(input<string>(workbook, "serializedData")) as { items: { name: string }[] };
      assert.deepEqual(
        document.items.map((item) => item.name),
        ["title", "queue-depth", "oldest-age", "dead-letters", "invocations", "errors", "duration", "instances", "pages", "bytes", "fetch-latency"],
      );
      assert.match(input<string>(workbook, "resourceName"), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      assert.equal(result.outputs.dashboardUrl, `https://portal.azure.com/#resource${output<string>(workbook, "id")}`);
    });
  });

  it("every resource carries the fleet's tags", () => {
    const custom = result.resources.filter((resource) => resource.custom);
    for (const resource of custom) {
      assert.ok(TAGGABLE.has(resource.type) || UNTAGGABLE.has(resource.type), `${resource.type} is in neither list: check its Args for tags`);
      if (TAGGABLE.has(resource.type)) assert.deepEqual(input(resource, "tags"), args.tags, `${resource.type} ${resource.name}`);
    }
    assert.equal(args.tags.environment, "production");
  });

  it("every resource is a child of the fleet component, named after it", () => {
    const component = one(result, "scrape-fleet:azure:Fleet");
    for (const resource of result.resources.filter((item) => item.custom)) {
      assert.equal(resource.parent, component.urn, resource.name);
      assert.ok(resource.name.startsWith(`${component.name}-`), resource.name);
    }
  });

  it("globally unique names carry the subscription suffix and fit Azure's limits", () => {
    const suffix = /-[0-9a-f]{6}$/;
    assert.match(output<string>(one(result, AZURE.namespace), "name"), suffix);
    assert.match(output<string>(app(), "name"), suffix);
    assert.match(output<string>(one(result, AZURE.configStore), "name"), suffix);
    assert.equal(output(account("-results"), "name"), `${azure.names.resultsAccount}${output<string>(app(), "name").slice(-6)}`);
  });

  it("stack outputs are exactly FLEET_OUTPUT_NAMES", () => {
    assert.deepEqual(Object.keys(result.outputs).sort(), [...FLEET_OUTPUT_NAMES].sort());
    assert.equal(result.outputs.workQueueId, output(queue(), "id"));
    assert.equal(result.outputs.deadLetterQueueUrl, `${result.outputs.workQueueUrl}/$DeadLetterQueue`);
    assert.equal(result.outputs.alertChannel, output(actionGroup(), "id"));
  });
});

describe("Azure fleet, bad input (refused before any resource exists)", () => {
  const { fleet, raw, config } = stackConfig(STACK);
  const base = { ...raw, location: config[LOCATION_KEY] };
  const issuesOf = (validation: Validation<unknown>) => (validation.ok ? assert.fail("no issue") : validation.issues);

  it("a missing location names azure-native:location and how to set it", () => {
    const [issue] = issuesOf(validateAzureConfig({ ...base, location: undefined }, fleet.args));
    assert.equal(issue.key, LOCATION_KEY);
    assert.match(issue.fix, /pulumi config set azure-native:location/);
  });

  it("a lock shorter than the function timeout is refused, naming the key and the derived value", () => {
    const [issue] = issuesOf(validateAzureConfig({ ...base, lockDurationSeconds: "60" }, fleet.args));
    assert.equal(issue.key, "scrape-fleet:lockDurationSeconds");
    assert.equal(issue.value, "60");
    assert.match(issue.fix, new RegExp(`derives ${derivedLockDuration(fleet.args.functionTimeoutSeconds)}`));
  });

  it("a function timeout Service Bus cannot cover (over 5 minutes) is refused", () => {
    const [issue] = issuesOf(validateAzureConfig(base, { ...fleet.args, functionTimeoutSeconds: 600 }));
    assert.equal(issue.key, "scrape-fleet:functionTimeoutSeconds");
    assert.match(issue.problem, /300 s/);
  });

  it("a name prefix too long for a storage account (3-24 lower-case letters and digits) is refused with a prefix that fits", () => {
    const [issue] = issuesOf(validateAzureConfig(base, { ...fleet.args, namePrefix: "scrape-fleet-azure-production" }));
    assert.equal(issue.key, "scrape-fleet:namePrefix");
    assert.match(issue.problem, /azureStorageAccount|azureServiceBusNamespace|azureFunctionApp/);
    assert.match(issue.fix, /pulumi config set scrape-fleet:namePrefix \S+/);
  });

  it("Flex limits: an instance size Flex lacks, maxWorkers over 1000 and a retention Log Analytics refuses are all reported at once", () => {
    const issues = issuesOf(validateAzureConfig(base, { ...fleet.args, memoryMb: 1024, maxWorkers: 5000, logRetentionDays: 7 }));
    assert.deepEqual(issues.map((issue) => issue.key).sort(), ["scrape-fleet:logRetentionDays", "scrape-fleet:maxWorkers", "scrape-fleet:memoryMb"]);
    assert.match(issues.find((issue) => issue.key === "scrape-fleet:memoryMb")?.fix ?? "", /memoryMb 2048/);
  });

  it("pulumi up fails on a missing location with the key and fix, and no Azure resource is declared", async () => {
    const registered: string[] = [];
    await assert.rejects(
      mockRun({
        stack: STACK,
        configOverrides: withOperatorAddresses(STACK, { [LOCATION_KEY]: undefined }),
        mockState: Object.fromEntries(Object.entries(AZURE_MOCK_STATE).map(([type, state]) => [type, (resource, env) => (registered.push(type), state(resource, env))])),
      }),
      (error: unknown) => error instanceof SettingsError && error.issues.some((issue) => issue.key === LOCATION_KEY),
    );
    assert.deepEqual(registered, []);
  });

  it("a missing alert e-mail is refused by the fleet's config, naming scrape-fleet:alertEmail", async () => {
    await assert.rejects(mockRun({ stack: STACK, configOverrides: { "scrape-fleet:alertEmail": undefined } }), (error: unknown) => error instanceof SettingsError && error.issues.some((issue) => issue.key === "scrape-fleet:alertEmail"));
  });
});

describe("Azure recovery time (a failing site's time before its messages are dead-lettered)", () => {
  const { fleet } = stackConfig(STACK);

  it("with the stack's settings, a page's first transient failure reaches the dead-letter queue after at least an hour", () => {
    const shortest = transientFailureToDeadLetterMs(fleet.args);
    assert.ok(shortest >= 3_600_000, `${shortest / 60_000} min`);
    // 30 s + 2 min + 8 min + 32 min + 1 h 4 min with the jitter at its lower end.
    assert.equal(shortest, (30 + 120 + 480 + 1_920 + 3_600) * 1000);
    assert.equal(transientFailureToDeadLetterMs(fleet.args, () => 0.999_999), (60 + 240 + 960 + 3_840 + 7_200) * 1000);
  });

  it("more deliveries give a site more time, each step capped at 2 hours", () => {
    assert.equal(transientFailureToDeadLetterMs({ maxDeliveryAttempts: 6 }) - transientFailureToDeadLetterMs({ maxDeliveryAttempts: 5 }), 3_600_000);
    assert.equal(transientFailureToDeadLetterMs({ maxDeliveryAttempts: 1 }), 30_000);
  });
});
