/**
 * Rule 7: every log the fleet writes expires.
 */
import { AWS, AZURE, GCP } from "./types";
import { display, isSet, numeric, read, text, violation, type FleetRule, type ResourceView, type Violation } from "./view";

const GCP_LOG_BUCKET_TYPES: readonly string[] = [GCP.logBucket, GCP.folderLogBucket, GCP.organizationLogBucket, GCP.billingAccountLogBucket];

function checkResource(resource: ResourceView): string[] {
  const { props } = resource;
  const at = display(resource);
  const days = (key: string) => numeric(read(props, key));
  switch (resource.type) {
    case AWS.logGroup: {
      // 0 means "never expire" to CloudWatch Logs.
      const retention = days("retentionInDays");
      return retention !== undefined && retention > 0 ? [] : [`${at} keeps its logs forever (retentionInDays ${JSON.stringify(read(props, "retentionInDays"))}). Fix: set retentionInDays to the stack's logRetentionDays.`];
    }
    case AZURE.workspace: {
      const retention = days("retentionInDays");
      return retention !== undefined && retention > 0 ? [] : [`${at} has no retentionInDays. Fix: set retentionInDays to the stack's logRetentionDays.`];
    }
    case AZURE.appInsights:
      // A workspace-based component keeps its data in the workspace, under the workspace's retention.
      return isSet(props, "workspaceResourceId") || (days("retentionInDays") ?? 0) > 0
        ? []
        : [`${at} is neither workspace-based nor given a retentionInDays. Fix: set workspaceResourceId: <Log Analytics workspace>.id and ingestionMode: "LogAnalytics".`];
    default:
      if (GCP_LOG_BUCKET_TYPES.includes(resource.type)) {
        const retention = days("retentionDays");
        return retention !== undefined && retention > 0 ? [] : [`${at} has no retentionDays. Fix: set retentionDays to the stack's logRetentionDays.`];
      }
      return [];
  }
}

/**
 * A Lambda function writes to `/aws/lambda/<name>` (or its
 * `loggingConfig.logGroup`), and Lambda creates that group on first write with
 * no expiry unless the stack created it first.
 * https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html
 */
function checkStack(resources: readonly ResourceView[]): Violation[] {
  const groups = new Set(resources.filter((resource) => resource.type === AWS.logGroup).map((group) => text(read(group.props, "name"))));
  return resources
    .filter((resource) => resource.type === AWS.lambda)
    .flatMap((fn) => {
      const group = text(read(fn.props, "loggingConfig", "logGroup")) ?? `/aws/lambda/${text(read(fn.props, "name")) ?? fn.name}`;
      return groups.has(group)
        ? []
        : [violation(fn, `${display(fn)} logs to ${group}, which this stack does not create, so Lambda creates it with no expiry. Fix: add an aws.cloudwatch.LogGroup named ${JSON.stringify(group)} with retentionInDays, created before the function.`)];
    });
}

export const logRetention: FleetRule = {
  name: "log-retention",
  description: "Every log the fleet writes expires.",
  checks: [
    "CloudWatch log group: `retentionInDays` > 0; every Lambda function's log group is created by the stack (else Lambda creates it with no expiry)",
    "Log Analytics workspace: `retentionInDays`; Application Insights: workspace-based (or its own `retentionInDays`)",
    "Cloud Logging bucket (project, folder, organization, billing account): `retentionDays`",
  ],
  checkResource,
  checkStack,
};
