/**
 * Who may do what. Two service accounts of the fleet's own and the grants the
 * Pub/Sub service agent needs; every grant is on one resource except the one
 * the provider offers no resource-level form for (settings, below). No
 * primitive role (owner/editor/viewer) anywhere.
 *
 * | principal            | role                                   | on |
 * |----------------------|----------------------------------------|----|
 * | runtime account      | roles/storage.objectUser               | results bucket |
 * | runtime account      | roles/parametermanager.parameterViewer | project (see `grantRuntime`) |
 * | invoker account      | roles/run.invoker                      | the function's Cloud Run service |
 * | Pub/Sub service agent| roles/pubsub.publisher                 | dead-letter topic |
 * | Pub/Sub service agent| roles/pubsub.subscriber                | work push subscription |
 * | Pub/Sub service agent| roles/iam.serviceAccountTokenCreator   | invoker account |
 *
 * The runtime account needs no `roles/logging.logWriter`: Cloud Run collects
 * stdout/stderr itself (https://cloud.google.com/run/docs/logging), and the
 * handler calls no Logging API.
 */
import * as pulumi from "@pulumi/pulumi";
import * as cloudrunv2 from "@pulumi/gcp/cloudrunv2";
import * as projects from "@pulumi/gcp/projects";
import * as pubsub from "@pulumi/gcp/pubsub";
import * as serviceaccount from "@pulumi/gcp/serviceaccount";
import * as storage from "@pulumi/gcp/storage";
import { resourceName } from "../naming";

export const ROLES = {
  resultsWriter: "roles/storage.objectUser",
  settingsReader: "roles/parametermanager.parameterViewer",
  invoker: "roles/run.invoker",
  deadLetterPublisher: "roles/pubsub.publisher",
  deliverySubscriber: "roles/pubsub.subscriber",
  tokenCreator: "roles/iam.serviceAccountTokenCreator",
} as const;

export interface ServiceAccounts {
  /** The function runs as this account. */
  readonly runtime: serviceaccount.Account;
  /** Pub/Sub signs push requests as this account; only it may invoke the function. */
  readonly invoker: serviceaccount.Account;
  /** The project's Pub/Sub service agent (`service-<number>@gcp-sa-pubsub.iam.gserviceaccount.com`), created if it does not exist yet. */
  readonly pubsubAgent: projects.ServiceIdentity;
}

export function createServiceAccounts(name: string, args: { readonly namePrefix: string; readonly project: string }, opts: pulumi.CustomResourceOptions): ServiceAccounts {
  const runtime = new serviceaccount.Account(
    `${name}-runtime-sa`,
    {
      project: args.project,
      accountId: resourceName("gcpServiceAccountId", args.namePrefix, "run"),
      displayName: "scrape-fleet worker runtime",
      description: "Runs the scrape-fleet function: writes results, reads the settings parameter.",
    },
    opts,
  );
  const invoker = new serviceaccount.Account(
    `${name}-invoker-sa`,
    {
      project: args.project,
      accountId: resourceName("gcpServiceAccountId", args.namePrefix, "push"),
      displayName: "scrape-fleet push invoker",
      description: "Identity of the Pub/Sub push subscription's OIDC token: the only caller of the scrape-fleet function.",
    },
    opts,
  );
  // The agent's email is `service-<project number>@gcp-sa-pubsub...`; this
  // resource returns it (no Cloud Resource Manager call for the number) and
  // creates the agent in a project that has not used Pub/Sub yet, where a
  // grant to it would otherwise fail.
  const pubsubAgent = new projects.ServiceIdentity(`${name}-pubsub-agent`, { project: args.project, service: "pubsub.googleapis.com" }, opts);
  return { runtime, invoker, pubsubAgent };
}

export interface RuntimeGrants {
  readonly project: string;
  readonly runtime: serviceaccount.Account;
  readonly resultsBucket: storage.Bucket;
}

/**
 * The runtime account's grants.
 *
 * Results: `objectUser`, not `objectCreator`: a redelivered message overwrites
 * its record, and replacing an object needs `storage.objects.delete` as well
 * as `create` (https://cloud.google.com/storage/docs/access-control/iam-permissions).
 * objectUser is the narrowest predefined role with both; it also reads and
 * lists, on this bucket only. A custom role of exactly create + delete would
 * be narrower, but a deleted custom role's id stays reserved for weeks, which
 * breaks `pulumi destroy` then `pulumi up`.
 *
 * Settings: the provider has no parameter-level IAM resource
 * (`@pulumi/gcp/parametermanager` 9.x has none), and IAM Conditions do not
 * support Parameter Manager's resource names, so this is a project-level
 * grant. `parameterViewer` rather than `parameterAccessor`: the accessor role
 * holds only `parameterVersions.render`, with no way to list versions and find
 * the newest; the viewer role lists and gets versions (payload included) and
 * changes nothing. https://cloud.google.com/secret-manager/parameter-manager/docs/access-control
 */
export function grantRuntime(name: string, grants: RuntimeGrants, opts: pulumi.CustomResourceOptions): pulumi.Resource[] {
  const member = pulumi.interpolate`serviceAccount:${grants.runtime.email}`;
  return [
    new storage.BucketIAMMember(`${name}-runtime-results`, { bucket: grants.resultsBucket.name, role: ROLES.resultsWriter, member }, opts),
    new projects.IAMMember(`${name}-runtime-settings`, { project: grants.project, role: ROLES.settingsReader, member }, opts),
  ];
}

export interface DeliveryGrants {
  readonly project: string;
  readonly location: string;
  /** The function's Cloud Run service name (a gen2 function's service has the function's name). */
  readonly serviceName: pulumi.Input<string>;
  readonly accounts: ServiceAccounts;
  readonly deadLetterTopic: pubsub.Topic;
  readonly pushSubscription: pubsub.Subscription;
}

/**
 * The grants that make push delivery and dead-lettering work.
 *
 * Invoker: gen2 functions are invoked through their Cloud Run service, which
 * checks `run.routes.invoke` there (https://cloud.google.com/functions/docs/securing/authenticating),
 * so the grant is a `cloudrunv2.ServiceIamMember`, not a Cloud Functions IAM member.
 *
 * Pub/Sub service agent: publisher on the dead-letter topic and subscriber on
 * the work subscription, or it cannot forward dead letters, and delivery
 * attempts are not counted (provider docs for `deadLetterPolicy`). Token
 * creator on the invoker account only, so it can sign the push OIDC token;
 * projects created before 8 April 2021 lack that grant by default
 * (https://cloud.google.com/pubsub/docs/create-push-subscription#authentication).
 */
export function grantDelivery(name: string, grants: DeliveryGrants, opts: pulumi.CustomResourceOptions): pulumi.Resource[] {
  const { accounts } = grants;
  const agent = accounts.pubsubAgent.member;
  return [
    new cloudrunv2.ServiceIamMember(
      `${name}-invoker-run`,
      { project: grants.project, location: grants.location, name: grants.serviceName, role: ROLES.invoker, member: pulumi.interpolate`serviceAccount:${accounts.invoker.email}` },
      opts,
    ),
    new pubsub.TopicIAMMember(`${name}-agent-dlq-publisher`, { project: grants.project, topic: grants.deadLetterTopic.name, role: ROLES.deadLetterPublisher, member: agent }, opts),
    new pubsub.SubscriptionIAMMember(`${name}-agent-work-subscriber`, { project: grants.project, subscription: grants.pushSubscription.name, role: ROLES.deliverySubscriber, member: agent }, opts),
    new serviceaccount.IAMMember(`${name}-agent-token-creator`, { serviceAccountId: accounts.invoker.name, role: ROLES.tokenCreator, member: agent }, opts),
  ];
}
