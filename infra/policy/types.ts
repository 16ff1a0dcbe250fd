/**
 * The type tokens the rules look at, per cloud, as the installed providers
 * spell them (`static __pulumiType` in each resource's .js).
 */

export const AWS = {
  queue: "aws:sqs/queue:Queue",
  queuePolicy: "aws:sqs/queuePolicy:QueuePolicy",
  redriveAllowPolicy: "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy",
  bucket: "aws:s3/bucket:Bucket",
  bucketV2: "aws:s3/bucketV2:BucketV2",
  publicAccessBlock: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
  encryption: "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
  encryptionV2: "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
  ownershipControls: "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
  bucketPolicy: "aws:s3/bucketPolicy:BucketPolicy",
  lifecycle: "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
  topic: "aws:sns/topic:Topic",
  topicPolicy: "aws:sns/topicPolicy:TopicPolicy",
  topicSubscription: "aws:sns/topicSubscription:TopicSubscription",
  metricAlarm: "aws:cloudwatch/metricAlarm:MetricAlarm",
  logGroup: "aws:cloudwatch/logGroup:LogGroup",
  dashboard: "aws:cloudwatch/dashboard:Dashboard",
  lambda: "aws:lambda/function:Function",
  eventSourceMapping: "aws:lambda/eventSourceMapping:EventSourceMapping",
  parameter: "aws:ssm/parameter:Parameter",
  role: "aws:iam/role:Role",
  rolePolicy: "aws:iam/rolePolicy:RolePolicy",
  policy: "aws:iam/policy:Policy",
  userPolicy: "aws:iam/userPolicy:UserPolicy",
  groupPolicy: "aws:iam/groupPolicy:GroupPolicy",
} as const;

export const AZURE = {
  resourceGroup: "azure-native:resources:ResourceGroup",
  deployment: "azure-native:resources:Deployment",
  namespace: "azure-native:servicebus:Namespace",
  queue: "azure-native:servicebus:Queue",
  storageAccount: "azure-native:storage:StorageAccount",
  blobContainer: "azure-native:storage:BlobContainer",
  blob: "azure-native:storage:Blob",
  managementPolicy: "azure-native:storage:ManagementPolicy",
  plan: "azure-native:web:AppServicePlan",
  webApp: "azure-native:web:WebApp",
  appSettings: "azure-native:web:WebAppApplicationSettings",
  configStore: "azure-native:appconfiguration:ConfigurationStore",
  keyValue: "azure-native:appconfiguration:KeyValue",
  workspace: "azure-native:operationalinsights:Workspace",
  appInsights: "azure-native:applicationinsights:Component",
  workbook: "azure-native:applicationinsights:Workbook",
  actionGroup: "azure-native:monitor:ActionGroup",
  metricAlert: "azure-native:monitor:MetricAlert",
  scheduledQueryRule: "azure-native:monitor:ScheduledQueryRule",
  diagnosticSetting: "azure-native:monitor:DiagnosticSetting",
  roleAssignment: "azure-native:authorization:RoleAssignment",
} as const;

export const GCP = {
  service: "gcp:projects/service:Service",
  serviceIdentity: "gcp:projects/serviceIdentity:ServiceIdentity",
  projectIamMember: "gcp:projects/iAMMember:IAMMember",
  topic: "gcp:pubsub/topic:Topic",
  subscription: "gcp:pubsub/subscription:Subscription",
  topicIamMember: "gcp:pubsub/topicIAMMember:TopicIAMMember",
  subscriptionIamMember: "gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember",
  function: "gcp:cloudfunctionsv2/function:Function",
  functionIamMember: "gcp:cloudfunctionsv2/functionIamMember:FunctionIamMember",
  functionV1: "gcp:cloudfunctions/function:Function",
  runServiceIamMember: "gcp:cloudrunv2/serviceIamMember:ServiceIamMember",
  bucket: "gcp:storage/bucket:Bucket",
  bucketIamMember: "gcp:storage/bucketIAMMember:BucketIAMMember",
  bucketIamBinding: "gcp:storage/bucketIAMBinding:BucketIAMBinding",
  bucketObject: "gcp:storage/bucketObject:BucketObject",
  serviceAccount: "gcp:serviceaccount/account:Account",
  serviceAccountIamMember: "gcp:serviceaccount/iAMMember:IAMMember",
  parameter: "gcp:parametermanager/parameter:Parameter",
  parameterVersion: "gcp:parametermanager/parameterVersion:ParameterVersion",
  notificationChannel: "gcp:monitoring/notificationChannel:NotificationChannel",
  alertPolicy: "gcp:monitoring/alertPolicy:AlertPolicy",
  dashboard: "gcp:monitoring/dashboard:Dashboard",
  logMetric: "gcp:logging/metric:Metric",
  logBucket: "gcp:logging/projectBucketConfig:ProjectBucketConfig",
  folderLogBucket: "gcp:logging/folderBucketConfig:FolderBucketConfig",
  organizationLogBucket: "gcp:logging/organizationBucketConfig:OrganizationBucketConfig",
  billingAccountLogBucket: "gcp:logging/billingAccountBucketConfig:BillingAccountBucketConfig",
  logSink: "gcp:logging/projectSink:ProjectSink",
  logExclusion: "gcp:logging/projectExclusion:ProjectExclusion",
} as const;

/** The namespaces of the three clouds' providers: every type in them must be classified for tags (./tagging.ts). */
export const CLOUD_TYPE_PREFIXES = ["aws:", "azure-native:", "gcp:"] as const;

export const S3_BUCKET_TYPES: readonly string[] = [AWS.bucket, AWS.bucketV2];
