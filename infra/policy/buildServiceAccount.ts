/**
 * A Cloud Function (gen2) names the account its build runs as.
 *
 * Without `buildConfig.serviceAccount`, a project created since July 2024
 * builds with the default Compute Engine account, which organisations block
 * from its automatic Editor grant by default: the first build fails for want
 * of permissions (https://cloud.google.com/functions/docs/securing/build-custom-sa;
 * GoogleCloudPlatform/terraform-google-cloud-functions#129). The API takes the
 * account's full resource name, `projects/<project>/serviceAccounts/<email>`
 * (the provider: "the fully-qualified name of the service account"); a bare
 * e-mail is refused.
 */
import { GCP } from "./types";
import { display, read, text, type FleetRule, type ResourceView } from "./view";

const FULL_NAME = /^projects\/[^/]+\/serviceAccounts\/[^/@]+@[^/]+$/;

function checkResource(resource: ResourceView): string[] {
  if (resource.type !== GCP.function) return [];
  const account = text(read(resource.props, "buildConfig", "serviceAccount"));
  const fix = "Fix: create a build service account with roles/logging.logWriter, roles/artifactregistry.writer on the image repository and roles/storage.objectViewer on the source, and set buildConfig.serviceAccount to its `name` (projects/<project>/serviceAccounts/<email>).";
  if (account === undefined) return [`${display(resource)} sets no buildConfig.serviceAccount, so a new project builds it as the default Compute Engine account, which organisations keep without the roles a build needs. ${fix}`];
  if (!FULL_NAME.test(account)) return [`${display(resource)} sets buildConfig.serviceAccount to ${JSON.stringify(account)}, not the full resource name the API takes. ${fix}`];
  return [];
}

export const buildServiceAccount: FleetRule = {
  name: "build-service-account",
  description: "A Cloud Function (gen2) is built by a service account the stack names.",
  checks: ["Cloud Function (gen2): `buildConfig.serviceAccount` set, as `projects/<project>/serviceAccounts/<email>`"],
  checkResource,
};
