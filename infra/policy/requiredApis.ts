/**
 * Every Google Cloud API the stack's resources call is enabled by the stack
 * itself (`projects.Service`), so `pulumi up` on a fresh project does not stop
 * half-way at the first resource whose API is off. The table is what each
 * resource type calls; project-level IAM grants go through Cloud Resource
 * Manager (https://cloud.google.com/resource-manager/reference/rest/v1/projects/setIamPolicy),
 * which a new project does not always have on.
 */
import { GCP } from "./types";
import { display, read, text, violation, type FleetRule, type ResourceView, type Violation } from "./view";

/** The APIs a resource of each type needs. */
export const APIS_BY_TYPE: Readonly<Record<string, readonly string[]>> = {
  [GCP.function]: ["cloudfunctions.googleapis.com", "run.googleapis.com", "cloudbuild.googleapis.com", "artifactregistry.googleapis.com"],
  [GCP.runServiceIamMember]: ["run.googleapis.com"],
  [GCP.artifactRepository]: ["artifactregistry.googleapis.com"],
  [GCP.artifactRepositoryIamMember]: ["artifactregistry.googleapis.com"],
  [GCP.topic]: ["pubsub.googleapis.com"],
  [GCP.subscription]: ["pubsub.googleapis.com"],
  [GCP.topicIamMember]: ["pubsub.googleapis.com"],
  [GCP.subscriptionIamMember]: ["pubsub.googleapis.com"],
  [GCP.bucket]: ["storage.googleapis.com"],
  [GCP.bucketIamMember]: ["storage.googleapis.com"],
  [GCP.bucketObject]: ["storage.googleapis.com"],
  [GCP.parameter]: ["parametermanager.googleapis.com"],
  [GCP.parameterVersion]: ["parametermanager.googleapis.com"],
  [GCP.alertPolicy]: ["monitoring.googleapis.com"],
  [GCP.notificationChannel]: ["monitoring.googleapis.com"],
  [GCP.dashboard]: ["monitoring.googleapis.com"],
  [GCP.logMetric]: ["logging.googleapis.com"],
  [GCP.logBucket]: ["logging.googleapis.com"],
  [GCP.logSink]: ["logging.googleapis.com"],
  [GCP.logExclusion]: ["logging.googleapis.com"],
  [GCP.serviceAccount]: ["iam.googleapis.com"],
  [GCP.serviceAccountIamMember]: ["iam.googleapis.com"],
  [GCP.projectIamMember]: ["cloudresourcemanager.googleapis.com"],
  [GCP.serviceIdentity]: ["serviceusage.googleapis.com"],
};

function checkStack(resources: readonly ResourceView[]): Violation[] {
  const enabled = new Set(resources.filter((resource) => resource.type === GCP.service).map((service) => text(read(service.props, "service"))));
  const found: Violation[] = [];
  for (const resource of resources) {
    for (const api of APIS_BY_TYPE[resource.type] ?? []) {
      if (enabled.has(api)) continue;
      found.push(violation(resource, `${display(resource)} needs ${api}, which the stack does not enable. Fix: add a projects.Service { service: "${api}", disableOnDestroy: false } and make the fleet's resources depend on it.`));
    }
  }
  return found;
}

export const requiredApis: FleetRule = {
  name: "required-apis",
  description: "The stack enables every Google Cloud API its resources call.",
  checks: ["Google Cloud: for each resource type, its APIs (`APIS_BY_TYPE` in requiredApis.ts: Cloud Resource Manager for project-level grants, Pub/Sub, Cloud Functions, Cloud Build, Artifact Registry, …) each have a `projects.Service`"],
  checkStack,
};
