/**
 * The private results bucket (records under `results/`, raw HTML under
 * `raw/`, which expires) and the bucket the function's source zip is
 * uploaded to.
 */
import type * as pulumi from "@pulumi/pulumi";
import * as storage from "@pulumi/gcp/storage";
import { RAW_HTML_PREFIX } from "../../shared/result";
import { resourceName } from "../naming";

/** Characters Pulumi's auto-naming appends to a logical name (a hyphen and 7 random characters). */
const AUTO_NAME_SUFFIX = 8;

export interface StorageArgs {
  readonly namePrefix: string;
  readonly project: string;
  readonly region: string;
  /** Days raw HTML is kept under `raw/`; result records are kept. */
  readonly rawHtmlRetentionDays: number;
  readonly labels: Readonly<Record<string, string>>;
}

export interface Buckets {
  readonly resultsBucket: storage.Bucket;
  readonly sourceBucket: storage.Bucket;
}

/**
 * Both buckets: uniform bucket-level access (IAM only, no object ACLs) and
 * public access prevention enforced, so no grant to allUsers can ever make an
 * object public. Bucket names are global: Pulumi's auto-naming adds a random
 * suffix to the logical name, so two stacks (or projects) never collide.
 * https://cloud.google.com/storage/docs/public-access-prevention
 */
export function createBuckets(args: StorageArgs, opts: pulumi.CustomResourceOptions): Buckets {
  const common = { project: args.project, location: args.region, uniformBucketLevelAccess: true, publicAccessPrevention: "enforced", labels: args.labels };

  // No versioning: a record is rewritten under the same key when its URL is
  // scraped again, by design (the latest result wins); versions would keep
  // every superseded record and page.
  const resultsBucket = new storage.Bucket(
    resourceName("gcpStorageBucket", args.namePrefix, "results", { reserve: AUTO_NAME_SUFFIX }),
    {
      ...common,
      lifecycleRules: [{ action: { type: "Delete" }, condition: { age: args.rawHtmlRetentionDays, matchesPrefixes: [RAW_HTML_PREFIX] } }],
    },
    opts,
  );

  const sourceBucket = new storage.Bucket(
    resourceName("gcpStorageBucket", args.namePrefix, "source", { reserve: AUTO_NAME_SUFFIX }),
    {
      ...common,
      // It holds only the current source zip (Pulumi deletes the one a new
      // deployment replaces), which `pulumi up` can upload again: `pulumi destroy` may empty it.
      forceDestroy: true,
    },
    opts,
  );
  return { resultsBucket, sourceBucket };
}
