/**
 * The Google Cloud APIs the fleet needs, enabled by `pulumi up` itself so a
 * fresh project needs no console visit. Every fleet resource depends on them.
 */
import type * as pulumi from "@pulumi/pulumi";
import * as projects from "@pulumi/gcp/projects";

/**
 * Each API and what needs it, resource by resource (./identity.ts, ./queue.ts,
 * ./worker.ts, ./storage.ts, ./configStore.ts, ./alarms.ts, ./dashboard.ts).
 * Eventarc is absent: the function has no `eventTrigger` (see ./queue.ts).
 *
 * `cloudresourcemanager`: the provider reads and writes a project's IAM
 * policy through the Cloud Resource Manager API (`projects.IAMMember`: the
 * settings reader, the build account's log writer and source-copy reader);
 * without it the first `pulumi up` fails on those grants.
 * https://cloud.google.com/resource-manager/reference/rest/v1/projects/setIamPolicy
 *
 * `serviceusage`: enables every API here, and creates the Pub/Sub service
 * agent (`projects.ServiceIdentity` calls its `generateServiceIdentity`). It is
 * on in every new project; listing it keeps a project where someone turned it
 * off from failing later with a less clear error.
 * https://cloud.google.com/service-usage/docs/reference/rest/v1beta1/services/generateServiceIdentity
 */
export const REQUIRED_SERVICES = {
  "serviceusage.googleapis.com": "enables the other APIs; creates the Pub/Sub service agent",
  "cloudresourcemanager.googleapis.com": "project-level IAM grants (projects.IAMMember)",
  "cloudfunctions.googleapis.com": "the worker function",
  "run.googleapis.com": "the Cloud Run service behind a gen2 function, and its invoker grant",
  "cloudbuild.googleapis.com": "builds the function's image from the uploaded source",
  "artifactregistry.googleapis.com": "the image repository the build writes the function's image to",
  "pubsub.googleapis.com": "the work, retry and dead-letter topics and their subscriptions; the handler's re-publishing",
  "storage.googleapis.com": "the results and source buckets",
  "parametermanager.googleapis.com": "the runtime settings",
  "monitoring.googleapis.com": "alert policies, notification channels, the dashboard",
  "logging.googleapis.com": "the log bucket, sink and log-based metrics",
  "iam.googleapis.com": "the runtime, build and invoker service accounts, and the account-level token-creator grant",
} as const;

/**
 * `disableOnDestroy: false`: destroying the fleet must not switch an API off
 * for the whole project, where other workloads (or a second fleet stack) may
 * use it; an API left on costs nothing by itself.
 */
export function enableServices(name: string, project: string, parent: pulumi.Resource): projects.Service[] {
  return Object.keys(REQUIRED_SERVICES).map(
    (service) => new projects.Service(`${name}-api-${service.split(".")[0]}`, { project, service, disableOnDestroy: false, disableDependentServices: false }, { parent }),
  );
}
