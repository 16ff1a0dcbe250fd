/**
 * Rule 6: grants name exact actions on exact resources: no wildcard IAM
 * statements on AWS, no primitive roles on Google Cloud, no Azure role
 * assignment above a single resource.
 */
import { AWS, AZURE } from "./types";
import { display, items, jsonDocument, read, text, type FleetRule, type ResourceView } from "./view";

/** AWS types holding a policy document in `policy` (identity and resource policies alike). */
const AWS_POLICY_DOCUMENT_TYPES: readonly string[] = [AWS.rolePolicy, AWS.policy, AWS.userPolicy, AWS.groupPolicy, AWS.bucketPolicy, AWS.topicPolicy, AWS.queuePolicy];

/** Google Cloud's basic (primitive) roles: project-wide, thousands of permissions each. https://cloud.google.com/iam/docs/roles-overview#basic */
export const GCP_PRIMITIVE_ROLES = ["roles/owner", "roles/editor", "roles/viewer"];

/**
 * Azure's classic built-in roles, Azure's counterpart of the primitive roles:
 * every action (Owner, Contributor), every read (Reader), or the right to grant
 * (User Access Administrator). GUIDs are the same in every tenant.
 * https://learn.microsoft.com/azure/role-based-access-control/built-in-roles
 */
export const AZURE_BROAD_ROLES: Readonly<Record<string, string>> = {
  "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
  "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
  "acdd72a7-3385-48ef-bd42-f606fba81ae7": "Reader",
  "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
};

/** `*`, or an ARN with a wildcard in its partition, service, region or account, or at the start of its resource part. */
function isWildcardResource(resource: string): boolean {
  if (resource === "*") return true;
  const fields = resource.split(":");
  if (fields[0] !== "arn" || fields.length < 6) return false;
  return fields.slice(1, 5).some((field) => field.includes("*")) || fields.slice(5).join(":").startsWith("*");
}

/** What is wrong with an AWS policy document's Allow statements. */
export function wildcardProblems(document: unknown): string[] {
  const problems: string[] = [];
  items(read(document, "Statement")).forEach((statement, index) => {
    if (read(statement, "Effect") !== "Allow") return;
    const label = text(read(statement, "Sid")) ?? `#${index}`;
    const wildcards = items(read(statement, "Action"))
      .map((action) => text(action))
      .filter((action): action is string => action !== undefined && action.includes("*"));
    if (wildcards.length > 0) problems.push(`statement ${label} allows wildcard action ${wildcards.join(", ")}`);
    if (read(statement, "NotAction") !== undefined) problems.push(`statement ${label} allows NotAction (every action but those)`);
    const resources = items(read(statement, "Resource"))
      .map((resource) => text(resource))
      .filter((resource): resource is string => resource !== undefined && isWildcardResource(resource));
    if (resources.length > 0) problems.push(`statement ${label} allows it on ${resources.join(", ")}`);
    if (read(statement, "NotResource") !== undefined) problems.push(`statement ${label} allows NotResource (every resource but those)`);
  });
  return problems;
}

/** The scope kinds a role assignment must not have, or undefined for a scope under one resource. */
function broadScope(scope: string): string | undefined {
  const path = scope.replace(/\/+$/, "");
  if (path === "") return "the tenant root";
  if (/^\/providers\/Microsoft\.Management\/managementGroups\/[^/]+$/i.test(path)) return "a management group";
  if (/^\/subscriptions\/[^/]+$/i.test(path)) return "a subscription";
  if (/^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+$/i.test(path)) return "a resource group";
  if (!/^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/.+/i.test(path)) return "not a resource id";
  return undefined;
}

/** IAM member and binding types take one `role`; IAM policy types a `policyData` document. */
const GCP_IAM_GRANT = /^gcp:[^:]+:[A-Za-z]*Iam(Member|Binding)$/i;
const GCP_IAM_POLICY = /^gcp:[^:]+:[A-Za-z]*IamPolicy$/i;

function checkResource(resource: ResourceView): string[] {
  const { props } = resource;
  const at = display(resource);

  if (AWS_POLICY_DOCUMENT_TYPES.includes(resource.type) || resource.type === AWS.role) {
    const documents =
      resource.type === AWS.role ? items(read(props, "inlinePolicies")).map((inline) => ({ where: `inline policy ${String(text(read(inline, "name")))}`, value: read(inline, "policy") })) : [{ where: "policy", value: read(props, "policy") }];
    return documents.flatMap(({ where, value }) => {
      if (value === undefined) return [];
      const document = jsonDocument(value);
      if (typeof document !== "object" || document === null) return [`${at}: its ${where} is not a JSON policy document. Fix: pass a JSON policy document.`];
      const problems = wildcardProblems(document);
      return problems.length === 0 ? [] : [`${at}: its ${where} ${problems.join("; ")}. Fix: list the exact actions the caller makes, on the exact resource ARNs (a prefix such as <bucket arn>/results/* is fine).`];
    });
  }

  if (GCP_IAM_GRANT.test(resource.type)) {
    const role = text(read(props, "role"));
    return role !== undefined && GCP_PRIMITIVE_ROLES.includes(role) ? [`${at} grants the basic role ${role}. Fix: grant the narrowest predefined role (e.g. roles/storage.objectUser) on the one resource that needs it.`] : [];
  }
  if (GCP_IAM_POLICY.test(resource.type)) {
    const roles = items(read(jsonDocument(read(props, "policyData")), "bindings"))
      .map((binding) => text(read(binding, "role")))
      .filter((role): role is string => role !== undefined && GCP_PRIMITIVE_ROLES.includes(role));
    return roles.length === 0 ? [] : [`${at} binds the basic role(s) ${roles.join(", ")}. Fix: bind the narrowest predefined role on the one resource that needs it.`];
  }

  if (resource.type === AZURE.roleAssignment) {
    const problems: string[] = [];
    const scope = text(read(props, "scope")) ?? "";
    const kind = broadScope(scope);
    if (kind !== undefined) problems.push(`${at} is scoped to ${kind} (${JSON.stringify(scope)}). Fix: scope it to the one resource the principal uses (a queue, a container, a store: its .id).`);
    const roleGuid = (text(read(props, "roleDefinitionId")) ?? "").split("/").pop()?.toLowerCase() ?? "";
    const broad = AZURE_BROAD_ROLES[roleGuid];
    if (broad !== undefined) problems.push(`${at} grants the built-in ${broad} role. Fix: grant the narrowest data-plane role (e.g. Storage Blob Data Contributor).`);
    return problems;
  }
  return [];
}

export const leastPrivilege: FleetRule = {
  name: "least-privilege",
  description: "Grants name exact actions on exact resources.",
  checks: [
    "AWS IAM and resource policies (role, inline, managed, bucket, topic, queue policies): no Allow statement with a `*` in an action, `NotAction`, `NotResource`, or a `*` resource (an object prefix such as `<bucket>/results/*` is fine); Deny statements may use wildcards",
    "Google Cloud IAM members, bindings and policies: no `roles/owner`, `roles/editor` or `roles/viewer`",
    "Azure role assignment: scope under one resource (never a management group, subscription or resource group); not Owner, Contributor, Reader or User Access Administrator",
  ],
  checkResource,
};
