/**
 * Rule 2: no storage can be made public.
 */
import { boundTo } from "./references";
import { AWS, AZURE, GCP, S3_BUCKET_TYPES } from "./types";
import { display, items, read, text, violation, type FleetRule, type ResourceView, type Violation } from "./view";

/** The four switches of an S3 public access block; all four must be on. */
export const PUBLIC_ACCESS_BLOCK_FLAGS = ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"] as const;
/** Google Cloud's principals for everyone, and everyone with a Google account. */
const GCP_PUBLIC_MEMBERS = ["allUsers", "allAuthenticatedUsers"];

function checkResource(resource: ResourceView): string[] {
  const { props } = resource;
  const at = display(resource);
  switch (resource.type) {
    case AWS.publicAccessBlock: {
      const off = PUBLIC_ACCESS_BLOCK_FLAGS.filter((flag) => read(props, flag) !== true);
      return off.length === 0 ? [] : [`${at} leaves ${off.join(", ")} off. Fix: set all four of ${PUBLIC_ACCESS_BLOCK_FLAGS.join(", ")} to true.`];
    }
    case AZURE.storageAccount:
      return read(props, "allowBlobPublicAccess") === false ? [] : [`${at} does not refuse anonymous blob access. Fix: set allowBlobPublicAccess: false.`];
    case AZURE.blobContainer: {
      // Absent means "None", ARM's default.
      const access = text(read(props, "publicAccess"));
      return access === undefined || access === "None" ? [] : [`${at} allows anonymous reads (publicAccess ${JSON.stringify(access)}). Fix: set publicAccess: "None".`];
    }
    case GCP.bucket: {
      const problems: string[] = [];
      const prevention = text(read(props, "publicAccessPrevention"));
      if (prevention !== "enforced") problems.push(`${at} has publicAccessPrevention ${JSON.stringify(prevention)}, so a grant to allUsers would make it public. Fix: set publicAccessPrevention: "enforced".`);
      if (read(props, "uniformBucketLevelAccess") !== true) problems.push(`${at} allows object ACLs. Fix: set uniformBucketLevelAccess: true (IAM only).`);
      return problems;
    }
    case GCP.bucketIamMember:
    case GCP.bucketIamBinding: {
      const members = [read(props, "member"), ...items(read(props, "members"))].map((member) => text(member));
      const open = members.filter((member): member is string => member !== undefined && GCP_PUBLIC_MEMBERS.includes(member));
      return open.length === 0 ? [] : [`${at} grants ${String(read(props, "role"))} to ${open.join(", ")}. Fix: grant the role to a service account or group, never to ${GCP_PUBLIC_MEMBERS.join(" or ")}.`];
    }
    default:
      return [];
  }
}

function checkStack(resources: readonly ResourceView[]): Violation[] {
  const blocks = resources.filter((resource) => resource.type === AWS.publicAccessBlock);
  return resources
    .filter((resource) => S3_BUCKET_TYPES.includes(resource.type) && boundTo(resource, blocks).length === 0)
    .map((bucket) =>
      violation(
        bucket,
        `${display(bucket)} has no aws.s3.BucketPublicAccessBlock. Fix: add one with bucket: <this bucket>.id and ${PUBLIC_ACCESS_BLOCK_FLAGS.map((flag) => `${flag}: true`).join(", ")}.`,
      ),
    );
}

export const noPublicStorage: FleetRule = {
  name: "no-public-storage",
  description: "No storage can be made public.",
  checks: [
    "S3 bucket: a `BucketPublicAccessBlock` bound to it, with all four switches true",
    "Azure storage account: `allowBlobPublicAccess: false`; blob container: `publicAccess` `None` (or absent, ARM's default)",
    'Cloud Storage bucket: `publicAccessPrevention: "enforced"` and `uniformBucketLevelAccess: true`; no bucket IAM grant to `allUsers` / `allAuthenticatedUsers`',
  ],
  checkResource,
  checkStack,
};
