/**
 * Which types take the fleet's tags, and under which property. Classified
 * from each type's `Args` interface in the installed providers' .d.ts: a type
 * is TAGGED when its Args declare `tags` (AWS, Azure) or `labels` /
 * `userLabels` (Google Cloud), UNTAGGED when they declare none. A type of the
 * three clouds that is in neither list is a violation of its own, so a new
 * resource type makes whoever adds it decide (as tests/infra/aws.test.ts does).
 *
 * Tags are read from the resource's own inputs: AWS provider `defaultTags` do
 * not count, since the program sets the tags on every resource itself.
 */
import { defaultFleetTags, gcpLabels } from "../tags";
import { AWS, AZURE, CLOUD_TYPE_PREFIXES, GCP } from "./types";
import { display, read, stackOfUrn, stringMap, text, type FleetRule, type ResourceView } from "./view";

/** The property that carries the fleet's tags, per taggable type. */
export const TAGGED: Readonly<Record<string, "tags" | "labels" | "userLabels">> = {
  [AWS.queue]: "tags",
  [AWS.bucket]: "tags",
  [AWS.bucketV2]: "tags",
  [AWS.topic]: "tags",
  [AWS.metricAlarm]: "tags",
  [AWS.logGroup]: "tags",
  [AWS.lambda]: "tags",
  [AWS.eventSourceMapping]: "tags",
  [AWS.parameter]: "tags",
  [AWS.role]: "tags",
  [AWS.policy]: "tags",

  [AZURE.resourceGroup]: "tags",
  // Deployment tags (`Microsoft.Resources/deployments`), declared in DeploymentArgs.
  [AZURE.deployment]: "tags",
  [AZURE.namespace]: "tags",
  [AZURE.storageAccount]: "tags",
  [AZURE.plan]: "tags",
  [AZURE.webApp]: "tags",
  [AZURE.configStore]: "tags",
  [AZURE.keyValue]: "tags",
  [AZURE.workspace]: "tags",
  [AZURE.appInsights]: "tags",
  [AZURE.workbook]: "tags",
  [AZURE.actionGroup]: "tags",
  [AZURE.metricAlert]: "tags",
  [AZURE.scheduledQueryRule]: "tags",

  [GCP.topic]: "labels",
  [GCP.subscription]: "labels",
  [GCP.function]: "labels",
  [GCP.functionV1]: "labels",
  [GCP.bucket]: "labels",
  [GCP.parameter]: "labels",
  [GCP.artifactRepository]: "labels",
  // A channel's `labels` are its settings (the e-mail address, the URL); its own labels are `userLabels`.
  [GCP.notificationChannel]: "userLabels",
  [GCP.alertPolicy]: "userLabels",
};

/** Types whose Args take no tags or labels. */
export const UNTAGGED: ReadonlySet<string> = new Set<string>([
  AWS.redriveAllowPolicy,
  AWS.queuePolicy,
  AWS.publicAccessBlock,
  AWS.encryption,
  AWS.encryptionV2,
  AWS.ownershipControls,
  AWS.bucketPolicy,
  AWS.lifecycle,
  AWS.topicPolicy,
  AWS.topicSubscription,
  AWS.dashboard,
  AWS.rolePolicy,
  AWS.userPolicy,
  AWS.groupPolicy,

  AZURE.queue,
  AZURE.blobContainer,
  AZURE.blob,
  AZURE.managementPolicy,
  AZURE.roleAssignment,
  AZURE.appSettings,
  AZURE.diagnosticSetting,

  GCP.service,
  GCP.serviceIdentity,
  GCP.projectIamMember,
  GCP.topicIamMember,
  GCP.subscriptionIamMember,
  GCP.functionIamMember,
  GCP.runServiceIamMember,
  GCP.bucketIamMember,
  GCP.bucketIamBinding,
  GCP.bucketObject,
  GCP.artifactRepositoryIamMember,
  GCP.serviceAccount,
  GCP.serviceAccountIamMember,
  GCP.parameterVersion,
  GCP.dashboard,
  GCP.logMetric,
  GCP.logBucket,
  GCP.logSink,
  GCP.logExclusion,
]);

/** The tags (labels on Google Cloud) a resource of `stack` must carry, under the property `key`. */
function requiredTags(stack: string, key: "tags" | "labels" | "userLabels"): Record<string, string> {
  const tags = defaultFleetTags(stack);
  return key === "tags" ? tags : gcpLabels(tags);
}

function checkResource(resource: ResourceView): string[] {
  const at = display(resource);
  const key = TAGGED[resource.type];
  if (key === undefined) {
    if (UNTAGGED.has(resource.type) || !CLOUD_TYPE_PREFIXES.some((prefix) => resource.type.startsWith(prefix))) return [];
    return [`${at}: its type is not classified for tags. Fix: check whether its Args in the provider's .d.ts take tags / labels, then add the type to TAGGED or UNTAGGED in infra/policy/tagging.ts.`];
  }
  const stack = stackOfUrn(resource.urn);
  const given = stringMap(read(resource.props, key)) ?? {};
  // Without a URN the stack is unknown: any non-empty stack tag is accepted.
  const required = requiredTags(stack ?? "", key);
  const wrong = Object.entries(required)
    .filter(([name, value]) => (stack === undefined && name === "stack" ? text(given[name]) === undefined : text(given[name]) !== value))
    .map(([name, value]) => `${name}=${stack === undefined && name === "stack" ? "<stack>" : value}`);
  return wrong.length === 0 ? [] : [`${at} lacks the fleet's ${key} ${wrong.join(", ")}. Fix: pass the fleet's tags (args.tags, from infra/tags.ts${key === "tags" ? "" : " through gcpLabels"}) as ${key}.`];
}

export const fleetTags: FleetRule = {
  name: "fleet-tags",
  description: "Every resource that takes tags (labels on Google Cloud) carries the fleet's: app=scrape-fleet, managed-by=pulumi, stack=<stack>.",
  checks: [
    "AWS and Azure: `tags`; Google Cloud: `labels` (`userLabels` on notification channels and alert policies), label-safe as `gcpLabels` makes them",
    "Types without tags are listed in `UNTAGGED`; a type of the three clouds in neither list is a violation until someone classifies it",
    "The stack is read from the resource's URN",
  ],
  checkResource,
};
