/**
 * The Google Cloud APIs the fleet needs, enabled by `pulumi up` itself so a
 * fresh project needs no console visit. Every fleet resource depends on them.
 */
import type * as pulumi from "@pulumi/pulumi";
import * as projects from "@pulumi/gcp/projects";

/** Each API and what needs it. Eventarc is absent: the function has no `eventTrigger` (see ./queue.ts). */
export const REQUIRED_SERVICES = {
  "cloudfunctions.googleapis.com": "the worker function",
  "run.googleapis.com": "the Cloud Run service behind a gen2 function, and its invoker grant",
  "cloudbuild.googleapis.com": "builds the function's image from the uploaded source",
  "artifactregistry.googleapis.com": "stores the built image",
  "pubsub.googleapis.com": "the work topic, dead-letter topic and their subscriptions",
  "storage.googleapis.com": "the results and source buckets",
  "parametermanager.googleapis.com": "the runtime settings",
  "monitoring.googleapis.com": "alert policies, notification channels, the dashboard",
  "logging.googleapis.com": "the log bucket, sink and log-based metrics",
  "iam.googleapis.com": "the runtime and invoker service accounts",
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
