/**
 * An AWS fleet as an operations backend: a thin adapter over the SDK clients
 * of SQS (the queues), Lambda (the event source mapping that is the trigger),
 * SSM Parameter Store (the settings), S3 (the results) and CloudWatch (the
 * metrics). Clients take the AWS default credential provider chain and honour
 * `AWS_ENDPOINT_URL_<SERVICE>`; the Region is the work queue's own (from its ARN).
 */
import { CloudWatchClient, GetMetricDataCommand, type MetricDataQuery } from "@aws-sdk/client-cloudwatch";
import { GetFunctionConfigurationCommand, LambdaClient, ListEventSourceMappingsCommand, UpdateEventSourceMappingCommand } from "@aws-sdk/client-lambda";
import { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SQSClient,
  SendMessageBatchCommand,
  StartMessageMoveTaskCommand,
  type Message,
} from "@aws-sdk/client-sqs";
import { GetParameterCommand, PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { setTimeout as sleep } from "node:timers/promises";
import { LAMBDA_ENV } from "../../functions/aws/environment";
import { describeError } from "../../shared/errors";
import { encodeMessage, parseMessage, type ScrapeMessage } from "../../shared/message";
import { METRICS, OUTCOME_METRIC } from "../../shared/metricNames";
import { pagesPerMinute, parseSettingsText, SETTINGS_EDIT_FIX, unreadNote, type DeadLetterEntry, type FetchLatency, type FleetBackend, type FleetStatus, type RedriveOptions, type RefusedEntry, type StoredSettings } from "../backend";
import { CredentialsError, OpsUsageError } from "../errors";
import type { StackOutputs } from "../target";

const CHAIN = "the AWS default credential provider chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE and ~/.aws/config, SSO, web identity, the instance or task role)";
const CHAIN_FIX = "sign in with `aws sso login --profile NAME` and export AWS_PROFILE=NAME, or run `aws configure`; check with `aws sts get-caller-identity`";

/** Error names the SDK gives a missing, expired or rejected credential. */
const CREDENTIAL_ERRORS = new Set([
  "CredentialsProviderError",
  "ExpiredToken",
  "ExpiredTokenException",
  "InvalidClientTokenId",
  "UnrecognizedClientException",
  "InvalidSignatureException",
  "SignatureDoesNotMatch",
  "InvalidAccessKeyId",
  "TokenRefreshRequired",
]);
const DENIED_ERRORS = new Set(["AccessDenied", "AccessDeniedException"]);

/**
 * SQS takes at most 10 entries per SendMessageBatch, and a batch's bodies
 * together may not pass the queue's maximum message size (256 KiB unless the
 * queue was raised to 1 MiB).
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html
 */
const SQS_BATCH = { maxMessages: 10, maxBytes: 256 * 1024, inFlight: 16 } as const;

/** How often a running move task is asked for its progress. */
const MOVE_TASK_POLL_MS = 2_000;

export async function openAwsBackend(outputs: StackOutputs, label: string): Promise<FleetBackend> {
  const region = /^arn:aws[\w-]*:sqs:([a-z0-9-]+):/.exec(outputs.workQueueId)?.[1];
  if (!region) throw new OpsUsageError(`${label}: workQueueId ${JSON.stringify(outputs.workQueueId)} is not an SQS queue ARN; read the outputs of an AWS stack`);
  return new AwsBackend(outputs, label, region);
}

class AwsBackend implements FleetBackend {
  readonly description: string;
  readonly queueId: string;
  readonly limits = SQS_BATCH;
  private readonly sqs: SQSClient;
  private readonly lambda: LambdaClient;
  private readonly ssm: SSMClient;
  private readonly s3: S3Client;
  private readonly cloudwatch: CloudWatchClient;
  /** The worker's FLEET_NAME (its metrics' dimension), read on the first status and kept; a failed read is tried again. */
  private fleetName: Promise<string | undefined> | undefined;

  constructor(
    private readonly outputs: StackOutputs,
    label: string,
    region: string,
  ) {
    this.description = `aws ${label}`;
    this.queueId = outputs.workQueueUrl;
    // The queue URL is a name here, not an endpoint: the SDK resolves its own (FIPS, AWS_ENDPOINT_URL_SQS).
    this.sqs = new SQSClient({ region, useQueueUrlAsEndpoint: false });
    this.lambda = new LambdaClient({ region });
    this.ssm = new SSMClient({ region });
    this.s3 = new S3Client({ region });
    this.cloudwatch = new CloudWatchClient({ region });
  }

  /** Runs one SDK call, turning a credential failure into `CredentialsError` with the chain and the fix. */
  private async call<T>(operation: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      const name = error instanceof Error ? error.name : "";
      const detail = error instanceof Error ? `${name}: ${error.message}` : String(error);
      if (CREDENTIAL_ERRORS.has(name)) throw new CredentialsError(CHAIN, `${operation}: ${detail}`, CHAIN_FIX);
      if (DENIED_ERRORS.has(name)) {
        throw new CredentialsError(CHAIN, `${operation} was refused: ${detail}`, `use credentials of a role allowed to call ${operation} on the fleet's resources (AWS_PROFILE selects one)`);
      }
      throw error;
    }
  }

  async sendBatch(messages: readonly ScrapeMessage[]): Promise<readonly RefusedEntry[]> {
    const answer = await this.call("sqs:SendMessageBatch", () =>
      this.sqs.send(new SendMessageBatchCommand({ QueueUrl: this.outputs.workQueueUrl, Entries: messages.map((message, index) => ({ Id: String(index), MessageBody: encodeMessage(message) })) })),
    );
    // SenderFault marks an entry that will fail again as sent (too large, invalid); the others are the service's and may be retried.
    return (answer.Failed ?? []).map((entry) => ({ index: Number(entry.Id), reason: `${entry.Code ?? "Failed"}: ${entry.Message ?? ""}`.trim(), retryable: entry.SenderFault !== true }));
  }

  private async queueCount(queueUrl: string, names: readonly ("ApproximateNumberOfMessages" | "ApproximateNumberOfMessagesNotVisible" | "ApproximateNumberOfMessagesDelayed")[]): Promise<number[]> {
    const answer = await this.call("sqs:GetQueueAttributes", () => this.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: [...names] })));
    return names.map((name) => Number(answer.Attributes?.[name] ?? 0));
  }

  private async queueArn(queueUrl: string): Promise<string> {
    const answer = await this.call("sqs:GetQueueAttributes", () => this.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["QueueArn"] })));
    const arn = answer.Attributes?.QueueArn;
    if (!arn) throw new Error(`SQS returned no QueueArn for ${queueUrl}`);
    return arn;
  }

  /** The event source mapping from the work queue to the worker: the fleet's trigger. */
  private async mapping(): Promise<{ readonly uuid: string; readonly state: string }> {
    const answer = await this.call("lambda:ListEventSourceMappings", () =>
      this.lambda.send(new ListEventSourceMappingsCommand({ FunctionName: this.outputs.workerName, EventSourceArn: this.outputs.workQueueId })),
    );
    const found = answer.EventSourceMappings?.[0];
    if (!found?.UUID) throw new Error(`no event source mapping from ${this.outputs.workQueueId} to ${this.outputs.workerName}; run \`pulumi up\` to create it`);
    return { uuid: found.UUID, state: found.State ?? "Unknown" };
  }

  async status(windowMinutes: number): Promise<FleetStatus> {
    // The metrics need CloudWatch and Lambda reads the queue's figures do not: without them the rest still shows.
    const metricsRead = this.metrics(windowMinutes).then(
      (metrics) => ({ metrics }),
      (error: unknown) => ({ unread: unreadNote("oldest age, pages/min, outcomes and fetch time", `reading the metrics failed (${error instanceof CredentialsError ? error.detail : describeError(error)})`, "cloudwatch:GetMetricData and lambda:GetFunctionConfiguration") }),
    );
    const [[waiting = 0, inFlight = 0, delayed = 0], [deadLetters = 0], mapping, settings, read] = await Promise.all([
      this.queueCount(this.outputs.workQueueUrl, ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"]),
      this.queueCount(this.outputs.deadLetterQueueUrl, ["ApproximateNumberOfMessages"]),
      this.mapping(),
      this.readSettings(),
      metricsRead,
    ]);
    const base = {
      backlog: waiting + delayed,
      inFlight,
      deadLetters,
      // Enabling and Updating still deliver or are about to; Disabling and Disabled do not.
      triggerEnabled: mapping.state !== "Disabled" && mapping.state !== "Disabling",
      settingsEnabled: settings.document.enabled !== false,
      windowMinutes,
    };
    if ("unread" in read) return { ...base, unread: [read.unread] };
    const { metrics } = read;
    const outcomes = metrics.outcomes;
    return {
      ...base,
      ...(metrics.oldestAgeSeconds === undefined ? {} : { oldestAgeSeconds: metrics.oldestAgeSeconds }),
      pagesPerMinute: pagesPerMinute(outcomes, windowMinutes),
      outcomes,
      ...(metrics.fetchLatency === undefined ? {} : { fetchLatency: metrics.fetchLatency }),
    };
  }

  /**
   * One GetMetricData call: the queue's ApproximateAgeOfOldestMessage (SQS
   * publishes it per minute), the fleet's page outcomes and the sum and count
   * of its fetch times (the handler's Embedded Metric Format lines, dimension
   * Fleet = the function's FLEET_NAME). Each fetch time is one sample, so Sum
   * over SampleCount is the window's average however the samples fall into
   * periods.
   * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_concepts.html#Statistic
   */
  private async metrics(windowMinutes: number): Promise<{ readonly oldestAgeSeconds?: number; readonly outcomes: Record<string, number>; readonly fetchLatency?: FetchLatency }> {
    this.fleetName ??= this.call("lambda:GetFunctionConfiguration", () => this.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: this.outputs.workerName }))).then(
      (configuration) => configuration.Environment?.Variables?.[LAMBDA_ENV.fleetName],
    );
    const fleet = await this.fleetName.catch((error: unknown) => {
      this.fleetName = undefined;
      throw error;
    });
    const queueName = this.outputs.workQueueUrl.split("/").pop() ?? "";
    const outcomeIds = Object.entries(OUTCOME_METRIC).map(([outcome, metric]) => ({ id: `o_${outcome}`, outcome, metric }));
    const fleetStat = (id: string, metric: string, stat: "Sum" | "SampleCount"): MetricDataQuery => ({
      Id: id,
      MetricStat: { Metric: { Namespace: METRICS.namespace, MetricName: metric, Dimensions: [{ Name: METRICS.fleetDimension, Value: fleet }] }, Period: windowMinutes * 60, Stat: stat },
    });
    const queries: MetricDataQuery[] = [
      {
        Id: "oldest",
        MetricStat: { Metric: { Namespace: "AWS/SQS", MetricName: "ApproximateAgeOfOldestMessage", Dimensions: [{ Name: "QueueName", Value: queueName }] }, Period: 60, Stat: "Maximum" },
      },
      ...(fleet === undefined
        ? []
        : [...outcomeIds.map(({ id, metric }) => fleetStat(id, metric, "Sum")), fleetStat("fetch_sum", METRICS.fetchLatencyMs, "Sum"), fleetStat("fetch_count", METRICS.fetchLatencyMs, "SampleCount")]),
    ];
    const end = new Date();
    const start = new Date(end.getTime() - windowMinutes * 60_000);
    const answer = await this.call("cloudwatch:GetMetricData", () => this.cloudwatch.send(new GetMetricDataCommand({ MetricDataQueries: queries, StartTime: start, EndTime: end, ScanBy: "TimestampDescending" })));
    const values = new Map((answer.MetricDataResults ?? []).map((result) => [result.Id, result.Values ?? []]));
    const oldest = values.get("oldest")?.[0];
    const total = (id: string) => (values.get(id) ?? []).reduce((sum, value) => sum + value, 0);
    const outcomes = Object.fromEntries(outcomeIds.map(({ id, outcome }) => [outcome, total(id)]));
    const fetched = total("fetch_count");
    return {
      ...(oldest === undefined ? {} : { oldestAgeSeconds: Math.round(oldest) }),
      outcomes,
      ...(fetched > 0 ? { fetchLatency: { pages: fetched, averageMs: total("fetch_sum") / fetched } } : {}),
    };
  }

  /**
   * Enables or disables the event source mapping. A disabled mapping stops
   * polling the queue, so messages wait without spending receives.
   * https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
   */
  async setTrigger(running: boolean): Promise<void> {
    const { uuid } = await this.mapping();
    await this.call("lambda:UpdateEventSourceMapping", () => this.lambda.send(new UpdateEventSourceMappingCommand({ UUID: uuid, Enabled: running })));
  }

  async readSettings(): Promise<StoredSettings> {
    const answer = await this.call("ssm:GetParameter", () => this.ssm.send(new GetParameterCommand({ Name: this.outputs.configLocation })));
    const text = answer.Parameter?.Value ?? "{}";
    const document = parseSettingsText(text, `SSM parameter ${this.outputs.configLocation}`, SETTINGS_EDIT_FIX);
    return { document, ...(answer.Parameter?.Version === undefined ? {} : { version: String(answer.Parameter.Version) }) };
  }

  /** Overwrites the parameter: SSM keeps every earlier value as a numbered version (GetParameterHistory). */
  async writeSettings(document: Readonly<Record<string, unknown>>): Promise<StoredSettings> {
    const answer = await this.call("ssm:PutParameter", () =>
      this.ssm.send(new PutParameterCommand({ Name: this.outputs.configLocation, Value: JSON.stringify(document), Overwrite: true, Type: "String" })),
    );
    return { document, ...(answer.Version === undefined ? {} : { version: String(answer.Version) }) };
  }

  async listDeadLetters(limit: number): Promise<readonly DeadLetterEntry[]> {
    // Receiving makes a message invisible for a while; a visibility of 0 puts each one back at once, so listing moves nothing.
    const seen = new Map<string, DeadLetterEntry>();
    for (let empty = 0; seen.size < limit && empty < 2; ) {
      const answer = await this.call("sqs:ReceiveMessage", () =>
        this.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: this.outputs.deadLetterQueueUrl,
            MaxNumberOfMessages: Math.min(10, limit - seen.size),
            VisibilityTimeout: 0,
            WaitTimeSeconds: 0,
            MessageSystemAttributeNames: ["ApproximateReceiveCount", "SentTimestamp"],
          }),
        ),
      );
      const fresh = (answer.Messages ?? []).filter((message) => message.MessageId !== undefined && !seen.has(message.MessageId));
      empty = fresh.length === 0 ? empty + 1 : 0;
      for (const message of fresh) seen.set(message.MessageId as string, describeDeadLetter(message));
    }
    return [...seen.values()];
  }

  async redriveDeadLetters(limit: number | undefined, onProgress: (progress: { moved: number }) => void, signal: AbortSignal, options: RedriveOptions = {}): Promise<number> {
    return limit === undefined ? this.moveTask(onProgress, signal, options) : this.moveByHand(limit, onProgress, signal);
  }

  /**
   * All dead letters at once with StartMessageMoveTask: SQS itself moves them
   * back to the source queue, at MaxNumberOfMessagesPerSecond (500 at most;
   * SQS picks its own rate when it is left out), and only deletes each after
   * it was sent. A Ctrl-C stops watching; the task keeps running in SQS.
   * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_StartMessageMoveTask.html
   */
  private async moveTask(onProgress: (progress: { moved: number }) => void, signal: AbortSignal, options: RedriveOptions): Promise<number> {
    const sourceArn = await this.queueArn(this.outputs.deadLetterQueueUrl);
    const started = await this.call("sqs:StartMessageMoveTask", () =>
      this.sqs.send(
        new StartMessageMoveTaskCommand({
          SourceArn: sourceArn,
          DestinationArn: this.outputs.workQueueId,
          ...(options.ratePerSecond === undefined ? {} : { MaxNumberOfMessagesPerSecond: options.ratePerSecond }),
        }),
      ),
    );
    for (;;) {
      const answer = await this.call("sqs:ListMessageMoveTasks", () => this.sqs.send(new ListMessageMoveTasksCommand({ SourceArn: sourceArn, MaxResults: 10 })));
      const task = answer.Results?.find((result) => result.TaskHandle === started.TaskHandle) ?? answer.Results?.[0];
      const moved = Number(task?.ApproximateNumberOfMessagesMoved ?? 0);
      onProgress({ moved });
      if (task?.Status === "COMPLETED") return moved;
      if (task?.Status === "FAILED" || task?.Status === "CANCELLED") {
        throw new Error(`the SQS move task ${task.Status.toLowerCase()} after ${moved} message(s): ${task.FailureReason ?? "no reason given"}; the rest are still in the dead-letter queue, run redrive again`);
      }
      if (signal.aborted) return moved;
      await sleep(MOVE_TASK_POLL_MS, undefined, { signal }).catch(() => undefined);
    }
  }

  /**
   * `--limit N`: receive from the dead-letter queue, send the same bodies to
   * the work queue, and delete from the dead-letter queue only the ones the
   * send took. A crash after the send and before the delete leaves a copy in
   * both queues (the record overwrites itself); none is ever lost.
   */
  private async moveByHand(limit: number, onProgress: (progress: { moved: number }) => void, signal: AbortSignal): Promise<number> {
    let moved = 0;
    while (moved < limit && !signal.aborted) {
      const answer = await this.call("sqs:ReceiveMessage", () =>
        this.sqs.send(new ReceiveMessageCommand({ QueueUrl: this.outputs.deadLetterQueueUrl, MaxNumberOfMessages: Math.min(10, limit - moved), VisibilityTimeout: 60, WaitTimeSeconds: 0 })),
      );
      const messages = answer.Messages ?? [];
      if (messages.length === 0) break;
      const sent = await this.call("sqs:SendMessageBatch", () =>
        this.sqs.send(new SendMessageBatchCommand({ QueueUrl: this.outputs.workQueueUrl, Entries: messages.map((message, index) => ({ Id: String(index), MessageBody: message.Body ?? "" })) })),
      );
      const taken = (sent.Successful ?? []).map((entry) => messages[Number(entry.Id)]).filter((message): message is Message => message !== undefined);
      if (taken.length > 0) {
        await this.call("sqs:DeleteMessageBatch", () =>
          this.sqs.send(new DeleteMessageBatchCommand({ QueueUrl: this.outputs.deadLetterQueueUrl, Entries: taken.map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle ?? "" })) })),
        );
      }
      moved += taken.length;
      onProgress({ moved });
      if (taken.length < messages.length) throw new Error(`the work queue refused ${messages.length - taken.length} message(s) (${(sent.Failed ?? []).map((entry) => entry.Code).join(", ")}); they stay in the dead-letter queue, run redrive again`);
    }
    return moved;
  }

  /** PurgeQueue deletes every message; SQS allows one purge per queue per 60 s and does not say how many it deleted. */
  async purgeDeadLetters(): Promise<number | undefined> {
    await this.call("sqs:PurgeQueue", () => this.sqs.send(new PurgeQueueCommand({ QueueUrl: this.outputs.deadLetterQueueUrl })));
    return undefined;
  }

  /** Pages through the prefix with ListObjectsV2, 1,000 keys a page. */
  async *listResultObjects(prefix: string, signal: AbortSignal): AsyncIterable<string> {
    let token: string | undefined;
    do {
      const page = await this.call("s3:ListObjectsV2", () =>
        this.s3.send(new ListObjectsV2Command({ Bucket: this.outputs.resultsBucket, Prefix: prefix, ...(token === undefined ? {} : { ContinuationToken: token }) }), { abortSignal: signal }),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key !== undefined) yield object.Key;
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined && !signal.aborted);
  }

  /** GetObject, its body streamed as it arrives (a batch object can hold a thousand records). */
  async *readResultObject(name: string, signal: AbortSignal): AsyncIterable<Uint8Array> {
    const object = await this.call("s3:GetObject", () => this.s3.send(new GetObjectCommand({ Bucket: this.outputs.resultsBucket, Key: name }), { abortSignal: signal }));
    if (object.Body === undefined) return;
    yield* object.Body.transformToWebStream();
  }

  async close(): Promise<void> {
    for (const client of [this.sqs, this.lambda, this.ssm, this.s3, this.cloudwatch]) client.destroy();
  }
}

function describeDeadLetter(message: Message): DeadLetterEntry {
  const body = message.Body ?? "";
  const attempts = Number(message.Attributes?.ApproximateReceiveCount ?? Number.NaN);
  const sent = Number(message.Attributes?.SentTimestamp ?? Number.NaN);
  const common = {
    // SQS keeps no reason with a message moved by maxReceiveCount: it was received that many times without being deleted.
    reason: "received maxReceiveCount times without being deleted (the worker's log has each failure)",
    ...(Number.isFinite(attempts) ? { attempts } : {}),
    ...(Number.isFinite(sent) ? { time: new Date(sent).toISOString() } : {}),
  };
  try {
    return { url: parseMessage(body).url, ...common };
  } catch {
    return { body: body.slice(0, 200), ...common };
  }
}
