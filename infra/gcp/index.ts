/**
 * The fleet on Google Cloud: a Pub/Sub work topic and a retry topic, each
 * with our own push subscription (dead-letter topic + its subscription), a
 * Cloud Function gen2 worker behind internal-only ingress, built by its own
 * build account into the fleet's image repository, a private results bucket, a Parameter
 * Manager parameter for runtime settings, alert policies to notification
 * channels, log-based metrics and a dashboard.
 *
 * Labels: every labelable resource gets `gcpLabels(args.tags)` (the fleet's
 * tags, made label-safe). Every resource depends on the project's APIs being
 * enabled (./services.ts). The default provider is used, so the stack's own
 * `gcp:` settings (credentials, impersonation) apply.
 */
import * as pulumi from "@pulumi/pulumi";
import { validOrThrow } from "../config";
import type { CreateFleet, FleetArgs, FleetOutputs } from "../contract";
import { gcpLabels } from "../tags";
import { createAlarms } from "./alarms";
import { readGcpConfig, type GcpFleetConfig } from "./config";
import { createConfigStore } from "./configStore";
import { createDashboard, createFleetMetrics, logMetricName, PAGES_BY_OUTCOME } from "./dashboard";
import { createServiceAccounts, grantBuild, grantDelivery, grantRuntime } from "./identity";
import { createPushSubscriptions, createTopics, queueNames } from "./queue";
import { enableServices } from "./services";
import { createBuckets } from "./storage";
import { createWorker, createWorkerLogs } from "./worker";

export { validateGcpConfig, defaultWorkerCpu, cpuProblem } from "./config";
export { WORKER_RUNTIME, WORKER_INGRESS, bundleGcpWorker, workerPackageJson } from "./worker";

export class GcpFleet extends pulumi.ComponentResource {
  readonly outputs: FleetOutputs;

  constructor(name: string, args: FleetArgs, gcp: GcpFleetConfig, opts?: pulumi.ComponentResourceOptions) {
    super("scrape-fleet:gcp:Fleet", name, {}, opts);
    const { project, region } = gcp;
    const labels = gcpLabels(args.tags);
    const { namePrefix } = args;

    const services = enableServices(name, project, this);
    const child: pulumi.CustomResourceOptions = { parent: this, dependsOn: services };

    const { workTopic, retryTopic, deadLetterTopic, deadLetterSubscription } = createTopics(name, { namePrefix, project, labels }, child);
    const { resultsBucket, sourceBucket } = createBuckets({ namePrefix, project, region, rawHtmlRetentionDays: args.rawHtmlRetentionDays, labels }, child);
    const { parameter } = createConfigStore(name, { namePrefix, project, settings: args.settings, pushSettings: args.pushSettings, labels }, child);

    const accounts = createServiceAccounts(name, { namePrefix, project }, child);
    const runtimeGrants = grantRuntime(name, { project, runtime: accounts.runtime, resultsBucket, retryTopic, deadLetterTopic }, child);
    const { repository, grants: buildGrants } = grantBuild(name, { namePrefix, project, region, build: accounts.build, sourceBucket, labels }, child);

    const { fn, functionName, serviceUri } = createWorker(
      name,
      {
        namePrefix,
        project,
        region,
        functionTimeoutSeconds: args.functionTimeoutSeconds,
        memoryMb: args.memoryMb,
        cpu: gcp.workerCpu,
        maxWorkers: args.maxWorkers,
        messagesPerWorker: args.messagesPerWorker,
        runtime: accounts.runtime,
        build: accounts.build,
        imageRepository: repository.id,
        sourceBucket,
        resultsBucketName: resultsBucket.name,
        settingsParameter: parameter.name,
        retryTopic: retryTopic.id,
        deadLetterTopic: deadLetterTopic.id,
        maxDeliveryAttempts: args.maxDeliveryAttempts,
        labels,
      },
      // The build needs its grants; the worker reads its settings, writes results and publishes from its first request.
      { ...child, dependsOn: [...services, ...runtimeGrants, ...buildGrants] },
    );
    const { logBucket } = createWorkerLogs(name, { namePrefix, project, region, functionName, logRetentionDays: args.logRetentionDays }, child);

    const pushSubscriptions = createPushSubscriptions(
      name,
      {
        namePrefix,
        project,
        topics: { workTopic, retryTopic, deadLetterTopic },
        ackDeadlineSeconds: gcp.ackDeadlineSeconds,
        endpoint: serviceUri,
        invokerEmail: accounts.invoker.email,
        labels,
      },
      child,
    );
    // The Cloud Run service exists once the function does.
    grantDelivery(name, { project, location: region, serviceName: functionName, accounts, deadLetterTopic, pushSubscriptions }, { ...child, dependsOn: [...services, fn] });

    const metrics = createFleetMetrics(name, { namePrefix, project, logBucket: logBucket.id }, child);
    const queues = queueNames(namePrefix);
    const { emailChannel, policies } = createAlarms(
      name,
      {
        namePrefix,
        project,
        alertEmail: args.alertEmail,
        alertWebhookUrl: args.alertWebhookUrl,
        thresholds: args.alarms,
        workSubscriptionName: queues.workSubscription,
        deadLetterSubscriptionName: queues.deadLetterSubscription,
        functionName,
        pagesMetricName: logMetricName(namePrefix, PAGES_BY_OUTCOME),
        labels,
      },
      // The filters name the subscriptions, the function and the log-based metrics by their known names; the policies come after them.
      { ...child, dependsOn: [...services, pushSubscriptions.work, pushSubscriptions.retry, deadLetterSubscription, fn, ...metrics] },
    );
    const { url: dashboardUrl } = createDashboard(
      name,
      {
        namePrefix,
        project,
        workSubscriptionName: queues.workSubscription,
        retrySubscriptionName: queues.retrySubscription,
        deadLetterSubscriptionName: queues.deadLetterSubscription,
        functionName,
        alertPolicyNames: policies.map((policy) => policy.name),
        metrics,
      },
      child,
    );

    this.outputs = {
      workQueueUrl: workTopic.id,
      workQueueId: workTopic.id,
      deadLetterQueueUrl: deadLetterSubscription.id,
      workerName: fn.name,
      resultsBucket: resultsBucket.name,
      configLocation: parameter.name,
      dashboardUrl,
      alertChannel: emailChannel.name,
    };
    this.registerOutputs({ ...this.outputs });
  }
}

/**
 * Reads and validates the Google Cloud keys again: infra/program.ts has already
 * reported their issues with the fleet's, but `createFleet` is callable on its
 * own and declares nothing from a config it has not checked.
 */
export const createFleet: CreateFleet = (name, args, opts) => new GcpFleet(name, args, validOrThrow(readGcpConfig(args), "stack config (Google Cloud)"), opts).outputs;
