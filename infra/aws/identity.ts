/**
 * The worker's identity: one role Lambda assumes, with one inline policy that
 * grants only what the handler calls (no `*` action, no `*` resource).
 */
import * as pulumi from "@pulumi/pulumi";
import * as iam from "@pulumi/aws/iam";
import { resourceName } from "../naming";

export interface IdentityArgs {
  readonly namePrefix: string;
  readonly tags: Readonly<Record<string, string>>;
}

/**
 * The role alone, so the function can be created with it; the policy comes
 * after the resources it names exist (`grantWorker`).
 *
 * The trust policy names the Lambda service and has no `aws:SourceAccount`
 * condition: Lambda documents those confused-deputy keys for resource-based
 * policies on a function, not for the execution role's trust, and a condition
 * the service does not send makes the role impossible to assume
 * (https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html).
 */
export function createWorkerRole(name: string, args: IdentityArgs, parent: pulumi.Resource): iam.Role {
  return new iam.Role(
    `${name}-worker-role`,
    {
      name: resourceName("awsIamRole", args.namePrefix, "worker"),
      description: "scrape-fleet worker: reads the work queue, writes results, reads its settings, writes its logs.",
      assumeRolePolicy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }],
      }),
      tags: args.tags,
    },
    { parent },
  );
}

export interface WorkerGrants {
  readonly role: iam.Role;
  readonly workQueueArn: pulumi.Input<string>;
  readonly bucketArn: pulumi.Input<string>;
  readonly parameterArn: pulumi.Input<string>;
  readonly logGroupArn: pulumi.Input<string>;
}

/**
 * The worker's permissions. The event source mapping polls with this role and
 * needs ReceiveMessage, DeleteMessage and GetQueueAttributes
 * (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html).
 * The handler itself calls ChangeMessageVisibilityBatch on the messages it
 * returns (functions/aws/visibility.ts); SQS authorizes the batch call with
 * `sqs:ChangeMessageVisibility`, which has no separate batch action
 * (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_AddPermission.html).
 */
export function grantWorker(name: string, grants: WorkerGrants, parent: pulumi.Resource): iam.RolePolicy {
  return new iam.RolePolicy(
    `${name}-worker-policy`,
    {
      role: grants.role.name,
      policy: pulumi.jsonStringify({
        Version: "2012-10-17",
        Statement: [
          { Sid: "ReadWorkQueue", Effect: "Allow", Action: ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"], Resource: grants.workQueueArn },
          { Sid: "HoldReturnedMessages", Effect: "Allow", Action: "sqs:ChangeMessageVisibility", Resource: grants.workQueueArn },
          {
            Sid: "WriteResults",
            Effect: "Allow",
            Action: "s3:PutObject",
            Resource: [pulumi.interpolate`${grants.bucketArn}/results/*`, pulumi.interpolate`${grants.bucketArn}/raw/*`],
          },
          { Sid: "ReadSettings", Effect: "Allow", Action: "ssm:GetParameter", Resource: grants.parameterArn },
          // The log group's ARN without the `:*` suffix; streams live under it.
          { Sid: "WriteLogs", Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Resource: pulumi.interpolate`${grants.logGroupArn}:*` },
        ],
      }),
    },
    { parent },
  );
}
