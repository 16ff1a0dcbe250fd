/**
 * The worker: the bundled handler uploaded as a source zip, the Cloud
 * Function (gen2) built from it, and the log bucket its logs are kept in for
 * `logRetentionDays`.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as cloudfunctionsv2 from "@pulumi/gcp/cloudfunctionsv2";
import * as logging from "@pulumi/gcp/logging";
import type * as serviceaccount from "@pulumi/gcp/serviceaccount";
import * as storage from "@pulumi/gcp/storage";
import { ENTRY_POINT, FUNCTION_ENV } from "../../functions/gcp/environment";
import { bundleWorker, deploymentArchive, type Bundle } from "../bundle";
import { resourceName } from "../naming";

/** The handler's entry file; it registers `ENTRY_POINT` with the Functions Framework. */
export const WORKER_ENTRY = "functions/gcp/index.ts";
/** The SDK clients, bundled on their own as `clients.js` and loaded on the first invocation (functions/gcp/sdk.ts). */
export const WORKER_CLIENTS = "functions/gcp/clients.ts";
/**
 * Node.js 24: undici 8 (the fetcher) needs Node >= 22.19. `nodejs22` runs
 * whatever 22.x patch the runtime image carries, with no floor the program can
 * check; any 24.x satisfies it, and nodejs24 is supported a year longer
 * (deprecation 2028-04-30 against 2027-04-30).
 * https://cloud.google.com/run/docs/runtimes/function-runtimes
 */
export const WORKER_RUNTIME = "nodejs24";
/**
 * The Functions Framework stays out of the bundle and is installed by the
 * build from the zip's package.json. The framework's loader looks the entry
 * point up in its own registry; a bundled copy would register the handler in
 * a second registry the loader never reads.
 * https://cloud.google.com/functions/docs/writing/dependencies
 */
export const FUNCTIONS_FRAMEWORK = "@google-cloud/functions-framework";
/** Only the function's own ingress: requests from the internet are refused before IAM; Pub/Sub push in the same project counts as internal. https://cloud.google.com/run/docs/securing/ingress */
export const WORKER_INGRESS = "ALLOW_INTERNAL_ONLY";

/** Bundles the handler into `dist/gcp/` (Storage client included, Functions Framework external). */
export function bundleGcpWorker(): Bundle {
  return bundleWorker({ entry: WORKER_ENTRY, outDir: "dist/gcp", external: [FUNCTIONS_FRAMEWORK], lazy: [WORKER_CLIENTS] });
}

/** The exact Functions Framework version the tests ran, pinned in the deployed package.json. */
function functionsFrameworkVersion(): string {
  const root = path.resolve(path.dirname(require.resolve(FUNCTIONS_FRAMEWORK)), "..", "..");
  return (JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as { version: string }).version;
}

/**
 * The deployed package.json: `main` is the bundle; the only dependency is the
 * framework the Node.js buildpack starts the function with. No `engines`: the
 * runtime (`WORKER_RUNTIME`) fixes the Node.js major, and no build script, so
 * the build only runs `npm install`.
 */
export function workerPackageJson(): string {
  return `${JSON.stringify({ name: "scrape-fleet-worker", private: true, main: "index.js", dependencies: { [FUNCTIONS_FRAMEWORK]: functionsFrameworkVersion() } }, null, 2)}\n`;
}

export interface WorkerArgs {
  readonly namePrefix: string;
  readonly project: string;
  readonly region: string;
  readonly functionTimeoutSeconds: number;
  readonly memoryMb: number;
  /** `serviceConfig.availableCpu`, from ./config.ts. */
  readonly cpu: string;
  readonly maxWorkers: number;
  readonly messagesPerWorker: number;
  readonly runtime: serviceaccount.Account;
  /** Cloud Build runs the build as this account (./identity.ts `grantBuild`). */
  readonly build: serviceaccount.Account;
  /** The Artifact Registry repository the image is pushed to: `projects/<p>/locations/<region>/repositories/<id>`. */
  readonly imageRepository: pulumi.Input<string>;
  readonly sourceBucket: storage.Bucket;
  readonly resultsBucketName: pulumi.Input<string>;
  readonly settingsParameter: pulumi.Input<string>;
  /** Topic ids (`projects/<p>/topics/<id>`) the handler publishes to (functions/gcp/redelivery.ts). */
  readonly retryTopic: pulumi.Input<string>;
  readonly deadLetterTopic: pulumi.Input<string>;
  /** The stack's `maxDeliveryAttempts`: transient failures before the handler dead-letters a message. */
  readonly maxDeliveryAttempts: number;
  readonly labels: Readonly<Record<string, string>>;
}

/** The function's name, known before it exists: its Cloud Run service, log filter and alerts use it. */
export function workerFunctionName(namePrefix: string): string {
  return resourceName("gcpCloudFunction", namePrefix, "worker");
}

/**
 * The fleet's concurrency bound is `maxInstanceCount` (maxWorkers) ×
 * `maxInstanceRequestConcurrency` (messagesPerWorker): one push request is one
 * message. No `eventTrigger` (see ./queue.ts): the push subscription calls the
 * HTTP entry point.
 */
export function createWorker(name: string, args: WorkerArgs, opts: pulumi.CustomResourceOptions): { fn: cloudfunctionsv2.Function; functionName: string; serviceUri: pulumi.Output<string> } {
  const { archive, sha256 } = deploymentArchive(bundleGcpWorker(), { "package.json": workerPackageJson() });
  // Named after its content: a change to any file is a new object, and so a new build.
  const source = new storage.BucketObject(`${name}-worker-source`, { bucket: args.sourceBucket.name, name: `worker-${sha256.slice(0, 16)}.zip`, source: archive, contentType: "application/zip" }, opts);
  const functionName = workerFunctionName(args.namePrefix);
  const fn = new cloudfunctionsv2.Function(
    `${name}-worker`,
    {
      project: args.project,
      location: args.region,
      name: functionName,
      description: "scrape-fleet worker: one Pub/Sub push request, one page.",
      buildConfig: {
        runtime: WORKER_RUNTIME,
        entryPoint: ENTRY_POINT,
        source: { storageSource: { bucket: args.sourceBucket.name, object: source.name } },
        // The build's own account, as its full resource name: the API takes
        // `projects/<project>/serviceAccounts/<email>` (the provider docs:
        // "the fully-qualified name"; gcloud's --build-service-account and the
        // API's own echo of the default in firebase/firebase-tools#8841 use
        // that form), which is the account's `name`. Without it a new project
        // builds as the default Compute Engine account (./identity.ts `grantBuild`).
        serviceAccount: args.build.name,
        dockerRepository: args.imageRepository,
      },
      serviceConfig: {
        maxInstanceCount: args.maxWorkers,
        minInstanceCount: 0,
        maxInstanceRequestConcurrency: args.messagesPerWorker,
        availableCpu: args.cpu,
        availableMemory: `${args.memoryMb}Mi`,
        timeoutSeconds: args.functionTimeoutSeconds,
        ingressSettings: WORKER_INGRESS,
        allTrafficOnLatestRevision: true,
        serviceAccountEmail: args.runtime.email,
        environmentVariables: {
          [FUNCTION_ENV.fleetName]: args.namePrefix,
          [FUNCTION_ENV.resultsBucket]: args.resultsBucketName,
          [FUNCTION_ENV.settingsParameter]: args.settingsParameter,
          [FUNCTION_ENV.timeoutSeconds]: String(args.functionTimeoutSeconds),
          [FUNCTION_ENV.retryTopic]: args.retryTopic,
          [FUNCTION_ENV.deadLetterTopic]: args.deadLetterTopic,
          [FUNCTION_ENV.maxDeliveryAttempts]: String(args.maxDeliveryAttempts),
          // The bundle ships a linked source map: stack traces show the TypeScript lines.
          NODE_OPTIONS: "--enable-source-maps",
        },
      },
      labels: args.labels,
    },
    opts,
  );
  // The Cloud Run service's own run.app URI, rather than the cloudfunctions.net
  // alias: Cloud Run always accepts it as the OIDC audience, and inside a VPC
  // Service Controls perimeter Pub/Sub may push only to default run.app URLs
  // (https://cloud.google.com/eventarc/docs/using-vpc-service-controls).
  // The provider types `serviceConfig` as optional; the alias reaches the same service.
  const serviceUri = pulumi.all([fn.serviceConfig, fn.url]).apply(([config, url]) => config?.uri ?? url);
  return { fn, functionName, serviceUri };
}

export interface WorkerLogsArgs {
  readonly namePrefix: string;
  readonly project: string;
  readonly region: string;
  readonly functionName: string;
  readonly logRetentionDays: number;
}

/** The Cloud Logging filter for the worker's own entries (requests and stdout), the same in the sink, the exclusion and the metrics. */
export function workerLogFilter(functionName: string): string {
  return `resource.type="cloud_run_revision" AND resource.labels.service_name="${functionName}"`;
}

/**
 * A log bucket kept `logRetentionDays`, a sink routing the worker's entries to
 * it, and an exclusion so the project's `_Default` bucket does not store them
 * a second time. Exclusions made through the exclusions API apply to the
 * `_Default` sink (https://cloud.google.com/logging/docs/reference/v2/rest/v2/projects.exclusions).
 * A log bucket in the sink's own project needs no writer grant.
 * https://cloud.google.com/logging/docs/routing/overview
 */
export function createWorkerLogs(name: string, args: WorkerLogsArgs, opts: pulumi.CustomResourceOptions): { logBucket: logging.ProjectBucketConfig } {
  const filter = workerLogFilter(args.functionName);
  const logBucket = new logging.ProjectBucketConfig(
    `${name}-logs`,
    { project: args.project, location: args.region, bucketId: resourceName("gcpLogBucket", args.namePrefix, "logs"), retentionDays: args.logRetentionDays, description: "scrape-fleet worker logs" },
    opts,
  );
  new logging.ProjectSink(
    `${name}-logs-sink`,
    {
      project: args.project,
      name: resourceName("gcpLogSink", args.namePrefix, "worker-logs"),
      destination: pulumi.interpolate`logging.googleapis.com/${logBucket.id}`,
      filter,
      uniqueWriterIdentity: true,
      description: "Routes the scrape-fleet worker's logs to its own log bucket.",
    },
    opts,
  );
  new logging.ProjectExclusion(
    `${name}-logs-default-exclusion`,
    { project: args.project, name: resourceName("gcpLogExclusion", args.namePrefix, "worker-logs"), filter, description: "The scrape-fleet worker's logs are kept in their own bucket." },
    opts,
  );
  return { logBucket };
}
