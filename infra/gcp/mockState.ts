/**
 * Plausible Google Cloud state for the types the Google Cloud fleet creates,
 * for runs under `pulumi.runtime.setMocks` (infra/mockRun.ts): topic and
 * subscription ids, the function's URLs, service account emails and the
 * Pub/Sub service agent, so one resource's output can be followed into
 * another's inputs (an OIDC audience, an IAM member).
 */
import { physicalName, type MockEnvironment, type MockStateFunction } from "../mockRun";

/** The project number the mocks answer with (`getProject`, the Pub/Sub service agent). */
export const MOCK_PROJECT_NUMBER = "123456789012";

const project = (env: MockEnvironment) => env.config["gcp:project"] ?? "mock-project";

function requiredText(value: unknown, what: string): string {
  if (typeof value !== "string") throw new Error(`${what} is not a string: ${JSON.stringify(value)}`);
  return value;
}

export const GCP_MOCK_STATE: Readonly<Record<string, MockStateFunction>> = {
  "gcp:pubsub/topic:Topic": (resource, env) => {
    const name = physicalName(resource);
    return { id: `projects/${project(env)}/topics/${name}`, name };
  },
  "gcp:pubsub/subscription:Subscription": (resource, env) => {
    const name = physicalName(resource);
    return { id: `projects/${project(env)}/subscriptions/${name}`, name };
  },
  "gcp:cloudfunctionsv2/function:Function": (resource, env) => {
    const name = physicalName(resource);
    const serviceConfig = {
      ...(resource.inputs.serviceConfig as Record<string, unknown>),
      uri: `https://${name}-abc123xyz-uc.a.run.app`,
      service: `projects/${project(env)}/locations/${env.region}/services/${name}`,
    };
    return { id: `projects/${project(env)}/locations/${env.region}/functions/${name}`, name, url: `https://${env.region}-${project(env)}.cloudfunctions.net/${name}`, serviceConfig };
  },
  "gcp:serviceaccount/account:Account": (resource, env) => {
    const email = `${requiredText(resource.inputs.accountId, "accountId")}@${project(env)}.iam.gserviceaccount.com`;
    return { id: `projects/${project(env)}/serviceAccounts/${email}`, name: `projects/${project(env)}/serviceAccounts/${email}`, email, member: `serviceAccount:${email}` };
  },
  "gcp:projects/serviceIdentity:ServiceIdentity": () => {
    const email = `service-${MOCK_PROJECT_NUMBER}@gcp-sa-pubsub.iam.gserviceaccount.com`;
    return { id: email, email, member: `serviceAccount:${email}` };
  },
  "gcp:parametermanager/parameter:Parameter": (resource, env) => {
    const name = `projects/${project(env)}/locations/global/parameters/${requiredText(resource.inputs.parameterId, "parameterId")}`;
    return { id: name, name };
  },
  "gcp:storage/bucket:Bucket": (resource) => {
    const name = physicalName(resource);
    return { id: name, name, url: `gs://${name}` };
  },
  "gcp:artifactregistry/repository:Repository": (resource, env) => {
    const repositoryId = requiredText(resource.inputs.repositoryId, "repositoryId");
    return { id: `projects/${project(env)}/locations/${String(resource.inputs.location)}/repositories/${repositoryId}`, name: repositoryId };
  },
  "gcp:monitoring/notificationChannel:NotificationChannel": (resource, env) => {
    const name = `projects/${project(env)}/notificationChannels/${resource.name}`;
    return { id: name, name };
  },
  "gcp:monitoring/alertPolicy:AlertPolicy": (resource, env) => {
    const name = `projects/${project(env)}/alertPolicies/${resource.name}`;
    return { id: name, name };
  },
  "gcp:monitoring/dashboard:Dashboard": () => ({ id: `projects/${MOCK_PROJECT_NUMBER}/dashboards/0f1e2d3c-4b5a` }),
  "gcp:logging/projectBucketConfig:ProjectBucketConfig": (resource, env) => ({
    id: `projects/${project(env)}/locations/${String(resource.inputs.location)}/buckets/${requiredText(resource.inputs.bucketId, "bucketId")}`,
  }),
};
