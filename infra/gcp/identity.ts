/**
 * Who may do what. Three service accounts of the fleet's own and the grants
 * the Pub/Sub service agent needs; every grant is on one resource except where
 * the cloud offers no resource-level form (settings, build logs, the build's
 * source copy: see `grantRuntime` and `grantBuild`). No primitive role
 * (owner/editor/viewer) anywhere.
 *
 * | principal            | role                                   | on |
 * |----------------------|----------------------------------------|----|
 * | runtime account      | roles/storage.objectUser               | results bucket |
 * | runtime account      | roles/parametermanager.parameterViewer | project (see `grantRuntime`) |
 * | runtime account      | roles/pubsub.publisher                 | retry topic, dead-letter topic (see functions/gcp/redelivery.ts) |
 * | build account        | roles/logging.logWriter                | project (see `grantBuild`) |
 * | build account        | roles/artifactregistry.writer          | the fleet's image repository |
 * | build account        | roles/storage.objectViewer             | source bucket; `gcf-v2-sources-*` buckets (condition) |
 * | invoker account      | roles/run.invoker                      | the function's Cloud Run service |
 * | Pub/Sub service agent| roles/pubsub.publisher                 | dead-letter topic |
 * | Pub/Sub service agent| roles/pubsub.subscriber                | work and retry push subscriptions |
 * | Pub/Sub service agent| roles/iam.serviceAccountTokenCreator   | invoker account |
 *
 * The runtime account needs no `roles/logging.logWriter`: Cloud Run collects
 * stdout/stderr itself (https://cloud.google.com/run/docs/logging), and the
 * handler calls no Logging API.
 */
import * as pulumi from "@pulumi/pulumi";
import * as artifactregistry from "@pulumi/gcp/artifactregistry";
import * as cloudrunv2 from "@pulumi/gcp/cloudrunv2";
import * as projects from "@pulumi/gcp/projects";
import * as pubsub from "@pulumi/gcp/pubsub";
import * as serviceaccount from "@pulumi/gcp/serviceaccount";
import * as storage from "@pulumi/gcp/storage";
import { resourceName } from "../naming";

export const ROLES = {
  resultsWriter: "roles/storage.objectUser",
  settingsReader: "roles/parametermanager.parameterViewer",
  redeliveryPublisher: "roles/pubsub.publisher",
  buildLogWriter: "roles/logging.logWriter",
  imageWriter: "roles/artifactregistry.writer",
  sourceReader: "roles/storage.objectViewer",
  invoker: "roles/run.invoker",
  deadLetterPublisher: "roles/pubsub.publisher",
  deliverySubscriber: "roles/pubsub.subscriber",
  tokenCreator: "roles/iam.serviceAccountTokenCreator",
} as const;

export interface ServiceAccounts {
  /** The function runs as this account. */
  readonly runtime: serviceaccount.Account;
  /** Cloud Build builds the function's image as this account (`buildConfig.serviceAccount`). */
  readonly build: serviceaccount.Account;
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
  const build = new serviceaccount.Account(
    `${name}-build-sa`,
    {
      project: args.project,
      accountId: resourceName("gcpServiceAccountId", args.namePrefix, "build"),
      displayName: "scrape-fleet worker build",
      description: "Cloud Build builds the scrape-fleet function's image as this account: reads the source zip, writes the image and the build log.",
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
  return { runtime, build, invoker, pubsubAgent };
}

export interface RuntimeGrants {
  readonly project: string;
  readonly runtime: serviceaccount.Account;
  readonly resultsBucket: storage.Bucket;
  /** Where the handler re-publishes a message it holds back, and where it dead-letters (functions/gcp/redelivery.ts). */
  readonly retryTopic: pubsub.Topic;
  readonly deadLetterTopic: pubsub.Topic;
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
 *
 * Topics: publisher on the retry topic (a message held back is acknowledged
 * and published there again) and on the dead-letter topic (the handler
 * dead-letters after the stack's `maxDeliveryAttempts`), on those two only.
 */
export function grantRuntime(name: string, grants: RuntimeGrants, opts: pulumi.CustomResourceOptions): pulumi.Resource[] {
  const member = pulumi.interpolate`serviceAccount:${grants.runtime.email}`;
  const topicPublisher = (key: string, topic: pubsub.Topic) =>
    new pubsub.TopicIAMMember(`${name}-runtime-${key}-publisher`, { project: grants.project, topic: topic.name, role: ROLES.redeliveryPublisher, member }, opts);
  return [
    new storage.BucketIAMMember(`${name}-runtime-results`, { bucket: grants.resultsBucket.name, role: ROLES.resultsWriter, member }, opts),
    new projects.IAMMember(`${name}-runtime-settings`, { project: grants.project, role: ROLES.settingsReader, member }, opts),
    topicPublisher("retry", grants.retryTopic),
    topicPublisher("dlq", grants.deadLetterTopic),
  ];
}

export interface BuildGrants {
  readonly namePrefix: string;
  readonly project: string;
  readonly region: string;
  readonly build: serviceaccount.Account;
  readonly sourceBucket: storage.Bucket;
  readonly labels: Readonly<Record<string, string>>;
}

/**
 * The Artifact Registry repository the function's images go to
 * (`buildConfig.dockerRepository`), and the build account's grants: exactly
 * the three roles Cloud Run functions lists for a custom build account
 * (https://cloud.google.com/functions/docs/securing/build-custom-sa).
 *
 * Why a build account at all: since July 2024 a new project builds with the
 * default Compute Engine account, which organisations block from its automatic
 * Editor grant by default, so the first build fails for want of permissions
 * (https://cloud.google.com/build/docs/cloud-build-service-account-updates;
 * GoogleCloudPlatform/terraform-google-cloud-functions#129).
 *
 * - Images: writer on the fleet's own repository. The default `gcf-artifacts`
 *   repository does not exist before a project's first function, so no grant
 *   on it could be made ahead of the build. Cleanup keeps the newest images
 *   and deletes the rest after 30 days: every deploy pushes one.
 * - Build log: `logging.logWriter` exists only at project (or folder) level.
 * - Source: the build does not read the zip where the program uploaded it:
 *   Cloud Functions copies it to its own `gcf-v2-sources-<project number>-<region>`
 *   bucket and the build fetches it there ("Access to bucket gcf-v2-sources-…
 *   denied. You must grant Storage Object Viewer permission",
 *   hashicorp/terraform-provider-google#20571). That bucket is created by the
 *   service, so the grant is a project-level one narrowed by an IAM condition
 *   to buckets of that name; the grant on the program's own source bucket
 *   covers a build that reads the upload directly. Both only read source zips.
 *   https://cloud.google.com/functions/docs/building
 */
export function grantBuild(name: string, grants: BuildGrants, opts: pulumi.CustomResourceOptions): { repository: artifactregistry.Repository; grants: pulumi.Resource[] } {
  const member = grants.build.member;
  const repository = new artifactregistry.Repository(
    `${name}-images`,
    {
      project: grants.project,
      location: grants.region,
      repositoryId: resourceName("gcpArtifactRepository", grants.namePrefix, "images"),
      format: "DOCKER",
      description: "scrape-fleet worker images, built by Cloud Build from the function's source.",
      cleanupPolicies: [
        { id: "keep-newest", action: "KEEP", mostRecentVersions: { keepCount: 5 } },
        { id: "delete-old", action: "DELETE", condition: { tagState: "ANY", olderThan: "2592000s" } },
      ],
      labels: grants.labels,
    },
    opts,
  );
  return {
    repository,
    grants: [
      new projects.IAMMember(`${name}-build-logs`, { project: grants.project, role: ROLES.buildLogWriter, member }, opts),
      new artifactregistry.RepositoryIamMember(`${name}-build-images`, { project: grants.project, location: grants.region, repository: repository.name, role: ROLES.imageWriter, member }, opts),
      new storage.BucketIAMMember(`${name}-build-source`, { bucket: grants.sourceBucket.name, role: ROLES.sourceReader, member }, opts),
      new projects.IAMMember(
        `${name}-build-source-copy`,
        {
          project: grants.project,
          role: ROLES.sourceReader,
          member,
          condition: {
            title: "gcf-v2-sources buckets only",
            description: "The copies of function source that Cloud Functions makes for its builds.",
            expression: `resource.name.startsWith("projects/_/buckets/gcf-v2-sources-")`,
          },
        },
        opts,
      ),
    ],
  };
}

export interface DeliveryGrants {
  readonly project: string;
  readonly location: string;
  /** The function's Cloud Run service name (a gen2 function's service has the function's name). */
  readonly serviceName: pulumi.Input<string>;
  readonly accounts: ServiceAccounts;
  readonly deadLetterTopic: pubsub.Topic;
  /** The push subscriptions, by the topic they read. */
  readonly pushSubscriptions: Readonly<Record<"work" | "retry", pubsub.Subscription>>;
}

/**
 * The grants that make push delivery and dead-lettering work.
 *
 * Invoker: gen2 functions are invoked through their Cloud Run service, which
 * checks `run.routes.invoke` there (https://cloud.google.com/functions/docs/securing/authenticating),
 * so the grant is a `cloudrunv2.ServiceIamMember`, not a Cloud Functions IAM member.
 *
 * Pub/Sub service agent: publisher on the dead-letter topic and subscriber on
 * each push subscription, or it cannot forward dead letters, and delivery
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
    ...Object.entries(grants.pushSubscriptions).map(
      ([key, subscription]) =>
        new pubsub.SubscriptionIAMMember(`${name}-agent-${key}-subscriber`, { project: grants.project, subscription: subscription.name, role: ROLES.deliverySubscriber, member: agent }, opts),
    ),
    new serviceaccount.IAMMember(`${name}-agent-token-creator`, { serviceAccountId: accounts.invoker.name, role: ROLES.tokenCreator, member: agent }, opts),
  ];
}
