/**
 * The private results bucket: result records under `results/`, raw HTML
 * (when `storeRawHtml` is on) under `raw/`, which expires.
 */
import * as pulumi from "@pulumi/pulumi";
import * as s3 from "@pulumi/aws/s3";
import { resourceName } from "../naming";

/** Characters Pulumi's auto-naming appends to a logical name (a hyphen and 7 random characters). */
const AUTO_NAME_SUFFIX = 8;

export interface StorageArgs {
  readonly namePrefix: string;
  /** Days raw HTML is kept under `raw/`; result records are kept. */
  readonly rawHtmlRetentionDays: number;
  readonly tags: Readonly<Record<string, string>>;
}

export function createStorage(name: string, args: StorageArgs, parent: pulumi.Resource): { bucket: s3.Bucket } {
  // Bucket names are global: Pulumi's auto-naming adds a random suffix to the
  // logical name, so two stacks (or accounts) never collide.
  const bucketLogicalName = resourceName("awsS3Bucket", args.namePrefix, "results", { reserve: AUTO_NAME_SUFFIX });
  const bucket = new s3.Bucket(bucketLogicalName, { tags: args.tags }, { parent });

  const publicAccessBlock = new s3.BucketPublicAccessBlock(
    `${name}-results-public-access`,
    { bucket: bucket.id, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true },
    { parent },
  );

  // Object Ownership "BucketOwnerEnforced" turns ACLs off: access is decided by IAM and the bucket policy alone.
  new s3.BucketOwnershipControls(`${name}-results-ownership`, { bucket: bucket.id, rule: { objectOwnership: "BucketOwnerEnforced" } }, { parent });

  // SSE-S3 (AES256) rather than SSE-KMS: the records are copies of public web
  // pages, so a customer key's extra control (key policy, decrypt audit) buys
  // little, while it would cost a KMS request per object and a kms:GenerateDataKey
  // grant in the worker's role. SSE-C uploads are refused outright.
  new s3.BucketServerSideEncryptionConfiguration(
    `${name}-results-encryption`,
    { bucket: bucket.id, rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" }, blockedEncryptionTypes: ["SSE-C"] }] },
    { parent },
  );

  // Deny any request not made over TLS
  // (https://docs.aws.amazon.com/AmazonS3/latest/userguide/security-best-practices.html#transit).
  // After the public access block, so S3 never sees the two changes at once.
  new s3.BucketPolicy(
    `${name}-results-tls-only`,
    {
      bucket: bucket.id,
      policy: pulumi.jsonStringify({
        Version: "2012-10-17",
        Statement: [
          {
            Sid: "DenyInsecureTransport",
            Effect: "Deny",
            Principal: "*",
            Action: "s3:*",
            Resource: [bucket.arn, pulumi.interpolate`${bucket.arn}/*`],
            Condition: { Bool: { "aws:SecureTransport": "false" } },
          },
        ],
      }),
    },
    { parent, dependsOn: [publicAccessBlock] },
  );

  // No versioning: a record is rewritten under the same key when its URL is
  // scraped again, by design (the latest result wins). Versions would keep
  // every superseded record and raw page forever, and everything here can be
  // scraped again.
  new s3.BucketLifecycleConfiguration(
    `${name}-results-lifecycle`,
    {
      bucket: bucket.id,
      rules: [
        { id: "expire-raw-html", status: "Enabled", filter: { prefix: "raw/" }, expiration: { days: args.rawHtmlRetentionDays } },
        { id: "abort-incomplete-uploads", status: "Enabled", filter: { prefix: "" }, abortIncompleteMultipartUpload: { daysAfterInitiation: 1 } },
      ],
    },
    { parent },
  );

  return { bucket };
}
