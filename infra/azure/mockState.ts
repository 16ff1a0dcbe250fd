/**
 * Plausible Azure Resource Manager state for the types the Azure fleet
 * creates, for runs under `pulumi.runtime.setMocks` (infra/mockRun.ts): ARM
 * resource ids, the names ARM echoes back, a system-assigned identity, the
 * endpoints the program reads. With these the policies in
 * tests/infra/azure.test.ts can follow one resource's id into another's
 * inputs (a role assignment's scope, an alert's scopes).
 */
import type { MockStateFunction } from "../mockRun";

/** The subscription the mocks' `authorization.getClientConfig` answers with. */
export const MOCK_SUBSCRIPTION_ID = "00000000-0000-0000-0000-000000000000";

const text = (value: unknown, fallback: string) => (typeof value === "string" && value !== "" ? value : fallback);
const group = (inputs: Record<string, unknown>) => `/subscriptions/${MOCK_SUBSCRIPTION_ID}/resourceGroups/${text(inputs.resourceGroupName, "rg")}`;
const provider = (inputs: Record<string, unknown>, path: string) => `${group(inputs)}/providers/${path}`;

/** A stand-in principal id per app, stable across runs. */
export function mockPrincipalId(appName: string): string {
  const hex = Buffer.from(appName).toString("hex").padEnd(32, "0").slice(0, 32);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

export const AZURE_MOCK_STATE: Readonly<Record<string, MockStateFunction>> = {
  "azure-native:resources:ResourceGroup": ({ name, inputs }) => {
    const resourceGroupName = text(inputs.resourceGroupName, name);
    return { id: `/subscriptions/${MOCK_SUBSCRIPTION_ID}/resourceGroups/${resourceGroupName}`, name: resourceGroupName };
  },
  "azure-native:servicebus:Namespace": ({ name, inputs }) => {
    const namespace = text(inputs.namespaceName, name);
    return { id: provider(inputs, `Microsoft.ServiceBus/namespaces/${namespace}`), name: namespace, serviceBusEndpoint: `https://${namespace}.servicebus.windows.net:443/` };
  },
  "azure-native:servicebus:Queue": ({ name, inputs }) => {
    const queue = text(inputs.queueName, name);
    return { id: provider(inputs, `Microsoft.ServiceBus/namespaces/${text(inputs.namespaceName, "ns")}/queues/${queue}`), name: queue };
  },
  "azure-native:storage:StorageAccount": ({ name, inputs }) => {
    const account = text(inputs.accountName, name);
    return { id: provider(inputs, `Microsoft.Storage/storageAccounts/${account}`), name: account, primaryEndpoints: { blob: `https://${account}.blob.core.windows.net/` } };
  },
  "azure-native:storage:BlobContainer": ({ name, inputs }) => {
    const container = text(inputs.containerName, name);
    return { id: provider(inputs, `Microsoft.Storage/storageAccounts/${text(inputs.accountName, "account")}/blobServices/default/containers/${container}`), name: container };
  },
  "azure-native:storage:Blob": ({ name, inputs }) => {
    const blob = text(inputs.blobName, name);
    return { id: `${text(inputs.accountName, "account")}/${text(inputs.containerName, "container")}/${blob}`, name: blob, url: `https://${text(inputs.accountName, "account")}.blob.core.windows.net/${text(inputs.containerName, "container")}/${blob}` };
  },
  "azure-native:web:AppServicePlan": ({ name, inputs }) => ({ id: provider(inputs, `Microsoft.Web/serverfarms/${text(inputs.name, name)}`), name: text(inputs.name, name) }),
  "azure-native:web:WebApp": ({ name, inputs }) => {
    const app = text(inputs.name, name);
    return {
      id: provider(inputs, `Microsoft.Web/sites/${app}`),
      name: app,
      defaultHostName: `${app}.azurewebsites.net`,
      identity: { type: "SystemAssigned", principalId: mockPrincipalId(app), tenantId: "11111111-1111-1111-1111-111111111111" },
    };
  },
  "azure-native:appconfiguration:ConfigurationStore": ({ name, inputs }) => {
    const store = text(inputs.configStoreName, name);
    return { id: provider(inputs, `Microsoft.AppConfiguration/configurationStores/${store}`), name: store, endpoint: `https://${store}.azconfig.io` };
  },
  "azure-native:operationalinsights:Workspace": ({ name, inputs }) => {
    const workspace = text(inputs.workspaceName, name);
    return { id: provider(inputs, `Microsoft.OperationalInsights/workspaces/${workspace}`), name: workspace, customerId: "44444444-4444-4444-4444-444444444444" };
  },
  "azure-native:applicationinsights:Component": ({ name, inputs }) => {
    const component = text(inputs.resourceName, name);
    return {
      id: provider(inputs, `Microsoft.Insights/components/${component}`),
      name: component,
      connectionString: "InstrumentationKey=55555555-5555-5555-5555-555555555555;IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/",
    };
  },
  "azure-native:applicationinsights:Workbook": ({ name, inputs }) => ({ id: provider(inputs, `Microsoft.Insights/workbooks/${text(inputs.resourceName, name)}`), name: text(inputs.resourceName, name) }),
  "azure-native:monitor:ActionGroup": ({ name, inputs }) => ({ id: provider(inputs, `Microsoft.Insights/actionGroups/${text(inputs.actionGroupName, name)}`), name: text(inputs.actionGroupName, name) }),
  "azure-native:monitor:MetricAlert": ({ name, inputs }) => ({ id: provider(inputs, `Microsoft.Insights/metricAlerts/${text(inputs.ruleName, name)}`), name: text(inputs.ruleName, name) }),
  "azure-native:monitor:ScheduledQueryRule": ({ name, inputs }) => ({ id: provider(inputs, `Microsoft.Insights/scheduledQueryRules/${text(inputs.ruleName, name)}`), name: text(inputs.ruleName, name) }),
  "azure-native:authorization:RoleAssignment": ({ name, inputs }) => ({ id: `${text(inputs.scope, "/")}/providers/Microsoft.Authorization/roleAssignments/${text(inputs.roleAssignmentName, name)}`, name: text(inputs.roleAssignmentName, name) }),
  "azure-native:appconfiguration:KeyValue": ({ name, inputs }) => ({ id: provider(inputs, `Microsoft.AppConfiguration/configurationStores/${text(inputs.configStoreName, "store")}/keyValues/${text(inputs.keyValueName, name)}`), name: text(inputs.keyValueName, name) }),
  "azure-native:resources:Deployment": ({ name, inputs }) => ({ id: provider(inputs, `Microsoft.Resources/deployments/${text(inputs.deploymentName, name)}`), name: text(inputs.deploymentName, name) }),
};
