/**
 * Plausible AWS state for the types the AWS fleet creates, for runs under
 * `pulumi.runtime.setMocks` (infra/mockRun.ts): ARNs, queue URLs and the names
 * AWS echoes back, so one resource's output can be followed into another's inputs.
 */
import { physicalName, type MockEnvironment, type MockStateFunction } from "../mockRun";

const awsArn = (service: string, env: MockEnvironment, resource: string) => `arn:aws:${service}:${env.region}:${env.accountId}:${resource}`;

export const AWS_MOCK_STATE: Readonly<Record<string, MockStateFunction>> = {
  "aws:sqs/queue:Queue": (resource, env) => {
    const name = physicalName(resource);
    const url = `https://sqs.${env.region}.amazonaws.com/${env.accountId}/${name}`;
    return { id: url, name, url, arn: awsArn("sqs", env, name) };
  },
  "aws:lambda/function:Function": (resource, env) => {
    const name = physicalName(resource);
    const arn = awsArn("lambda", env, `function:${name}`);
    return { id: name, name, arn, qualifiedArn: `${arn}:$LATEST`, invokeArn: `arn:aws:apigateway:${env.region}:lambda:path/2015-03-31/functions/${arn}/invocations`, version: "$LATEST" };
  },
  "aws:lambda/eventSourceMapping:EventSourceMapping": (resource) => ({ id: `${resource.name}-uuid`, uuid: `${resource.name}-uuid`, state: "Enabled" }),
  "aws:s3/bucket:Bucket": (resource) => {
    const bucket = physicalName(resource, "bucket");
    return { id: bucket, bucket, arn: `arn:aws:s3:::${bucket}`, bucketDomainName: `${bucket}.s3.amazonaws.com` };
  },
  "aws:iam/role:Role": (resource, env) => {
    const name = physicalName(resource);
    return { id: name, name, arn: `arn:aws:iam::${env.accountId}:role/${name}`, uniqueId: "AROAMOCK" };
  },
  "aws:sns/topic:Topic": (resource, env) => {
    const name = physicalName(resource);
    const arn = awsArn("sns", env, name);
    return { id: arn, name, arn };
  },
  "aws:sns/topicSubscription:TopicSubscription": (resource, env) => ({ id: awsArn("sns", env, `${resource.name}:0000`), arn: awsArn("sns", env, `${resource.name}:0000`) }),
  "aws:cloudwatch/logGroup:LogGroup": (resource, env) => {
    const name = physicalName(resource);
    return { id: name, name, arn: awsArn("logs", env, `log-group:${name}`) };
  },
  "aws:ssm/parameter:Parameter": (resource, env) => {
    const name = physicalName(resource);
    return { id: name, name, arn: awsArn("ssm", env, `parameter/${name.replace(/^\//, "")}`), version: 1 };
  },
  "aws:cloudwatch/dashboard:Dashboard": (resource, env) => {
    const name = physicalName(resource, "dashboardName");
    return { id: name, dashboardName: name, dashboardArn: `arn:aws:cloudwatch::${env.accountId}:dashboard/${name}` };
  },
  "aws:cloudwatch/metricAlarm:MetricAlarm": (resource, env) => {
    const name = physicalName(resource);
    return { id: name, name, arn: awsArn("cloudwatch", env, `alarm:${name}`) };
  },
};
