/**
 * Rule 1: data at rest is encrypted, and Azure endpoints refuse TLS below 1.2.
 */
import { boundTo, strings } from "./references";
import { AWS, AZURE, S3_BUCKET_TYPES } from "./types";
import { display, items, read, text, violation, type FleetRule, type ResourceView, type Violation } from "./view";

/** S3 default-encryption algorithms: SSE-S3, SSE-KMS, dual-layer SSE-KMS. */
const S3_SSE_ALGORITHMS = ["AES256", "aws:kms", "aws:kms:dsse"];
/** The storage provider's enum also lists TLS1_3, which storage accounts do not accept as a minimum (enum doc in @pulumi/azure-native). */
const STORAGE_MIN_TLS = ["TLS1_2"];
const SERVICE_BUS_MIN_TLS = ["1.2", "1.3"];
const AZURE_KEY_SOURCES = ["Microsoft.Storage", "Microsoft.Keyvault"];

function checkResource(resource: ResourceView): string[] {
  const { props } = resource;
  const problems: string[] = [];
  const at = display(resource);
  switch (resource.type) {
    case AWS.queue:
      if (read(props, "sqsManagedSseEnabled") !== true && text(read(props, "kmsMasterKeyId")) === undefined) {
        problems.push(`${at} is not encrypted at rest. Fix: set sqsManagedSseEnabled: true (SSE-SQS, no key grants needed) or kmsMasterKeyId.`);
      }
      break;
    case AZURE.storageAccount: {
      const keySource = text(read(props, "encryption", "keySource"));
      if (keySource === undefined || !AZURE_KEY_SOURCES.includes(keySource)) {
        problems.push(`${at} has encryption.keySource ${JSON.stringify(keySource)}. Fix: set encryption.keySource to "Microsoft.Storage" (or "Microsoft.Keyvault" with a key).`);
      }
      if (read(props, "encryption", "requireInfrastructureEncryption") !== true) {
        problems.push(`${at} does not require infrastructure (double) encryption, which can only be chosen when the account is created. Fix: set encryption.requireInfrastructureEncryption: true.`);
      }
      if (read(props, "encryption", "services", "blob", "enabled") === false) {
        problems.push(`${at} turns blob encryption off. Fix: set encryption.services.blob.enabled: true.`);
      }
      const tls = text(read(props, "minimumTlsVersion"));
      if (tls === undefined || !STORAGE_MIN_TLS.includes(tls)) {
        problems.push(`${at} accepts TLS below 1.2 (minimumTlsVersion ${JSON.stringify(tls)}; Azure's default is TLS1_0). Fix: set minimumTlsVersion: "TLS1_2".`);
      }
      if (read(props, "enableHttpsTrafficOnly") === false) {
        problems.push(`${at} accepts plain HTTP. Fix: set enableHttpsTrafficOnly: true.`);
      }
      break;
    }
    case AZURE.namespace: {
      const tls = text(read(props, "minimumTlsVersion"));
      if (tls === undefined || !SERVICE_BUS_MIN_TLS.includes(tls)) {
        problems.push(`${at} accepts TLS below 1.2 (minimumTlsVersion ${JSON.stringify(tls)}). Fix: set minimumTlsVersion: "1.2".`);
      }
      break;
    }
  }
  return problems;
}

function checkStack(resources: readonly ResourceView[]): Violation[] {
  const found: Violation[] = [];
  const configurations = resources.filter((resource) => resource.type === AWS.encryption || resource.type === AWS.encryptionV2);
  for (const bucket of resources.filter((resource) => S3_BUCKET_TYPES.includes(resource.type))) {
    const own = boundTo(bucket, configurations);
    const encrypts = own.some((configuration) => {
      const rules = items(read(configuration.props, "rules"));
      return rules.length > 0 && rules.every((rule) => S3_SSE_ALGORITHMS.includes(text(read(rule, "applyServerSideEncryptionByDefault", "sseAlgorithm")) ?? ""));
    });
    if (!encrypts) {
      found.push(
        violation(
          bucket,
          `${display(bucket)} has no aws.s3.BucketServerSideEncryptionConfiguration with a default algorithm (${S3_SSE_ALGORITHMS.join(", ")}). Fix: add one with bucket: <this bucket>.id and rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }] (the bucket's inline serverSideEncryptionConfiguration is deprecated and not accepted).`,
        ),
      );
    }
  }

  // CloudWatch cannot publish to a topic encrypted with the AWS-managed key
  // `alias/aws/sns` (its key policy cannot grant cloudwatch.amazonaws.com), and
  // alarms are then dropped silently; a customer key costs a monthly fee to
  // protect alarm names and thresholds. So a topic that alarms publish to may
  // stay unencrypted (infra/aws/alarms.ts), and every other topic may not.
  // https://repost.aws/knowledge-center/cloudwatch-configure-alarm-sns
  const alarmTargets = new Set(
    resources
      .filter((resource) => resource.type === AWS.metricAlarm)
      .flatMap((alarm) => ["alarmActions", "okActions", "insufficientDataActions"].flatMap((key) => strings(read(alarm.props, key)))),
  );
  for (const topic of resources.filter((resource) => resource.type === AWS.topic)) {
    if (text(read(topic.props, "kmsMasterKeyId")) !== undefined) continue;
    const arn = text(read(topic.props, "arn"));
    if (arn !== undefined && alarmTargets.has(arn)) continue;
    found.push(
      violation(
        topic,
        `${display(topic)} is not encrypted at rest and no CloudWatch alarm publishes to it (only alarm topics are exempt). Fix: set kmsMasterKeyId, e.g. "alias/aws/sns".`,
      ),
    );
  }
  return found;
}

export const encryptionAtRest: FleetRule = {
  name: "encryption-at-rest",
  description: "Data at rest is encrypted, and Azure endpoints refuse TLS below 1.2.",
  checks: [
    "SQS queue: `sqsManagedSseEnabled: true` or a `kmsMasterKeyId`",
    "S3 bucket: a `BucketServerSideEncryptionConfiguration` bound to it with `AES256` / `aws:kms` / `aws:kms:dsse`",
    "SNS topic: a `kmsMasterKeyId`, except a topic CloudWatch alarms publish to (CloudWatch cannot use the AWS-managed SNS key)",
    "Azure storage account: `encryption.keySource`, `requireInfrastructureEncryption: true`, blob encryption not off, `minimumTlsVersion: TLS1_2`, HTTPS only",
    "Service Bus namespace: `minimumTlsVersion` 1.2 or 1.3",
    "Cloud Storage and Pub/Sub: nothing to set (Google-managed encryption is always on; a CMEK is optional)",
  ],
  checkResource,
  checkStack,
};
