/**
 * Builders for the AWS event shapes the Lambda adapter receives, and
 * recorded-request fakes of the SSM and SQS JSON APIs on loopback (no SSM or
 * SQS emulator installs from npm).
 */
import { SQSClient } from "@aws-sdk/client-sqs";
import { SSMClient } from "@aws-sdk/client-ssm";
import type { Context, SQSEvent, SQSRecord } from "aws-lambda";
import { createHash } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { SDK_REQUEST_HANDLER } from "../../functions/aws";

/** The work queue every built record comes from, and the URL its ARN stands for. */
export const QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:scrape-fleet-test-work";
export const QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/scrape-fleet-test-work";

export interface SqsRecordFields {
  readonly messageId: string;
  readonly body: string;
  /** @default 1 */
  readonly receiveCount?: number;
  /** The first send (`SentTimestamp`), epoch milliseconds. @default a second ago */
  readonly sentAtMs?: number;
}

/** One SQS record as Lambda's event source mapping delivers it (standard queue). */
export function sqsRecord({ messageId, body, receiveCount = 1, sentAtMs }: SqsRecordFields): SQSRecord {
  const sent = sentAtMs ?? Date.now() - 1_000;
  return {
    messageId,
    receiptHandle: receiptHandleOf(messageId),
    body,
    attributes: {
      ApproximateReceiveCount: String(receiveCount),
      SentTimestamp: String(sent),
      SenderId: "AIDAIENQZJOLO23YVJ4VO",
      ApproximateFirstReceiveTimestamp: String(sent + 10),
    },
    messageAttributes: {},
    md5OfBody: createHash("md5").update(body).digest("hex"),
    eventSource: "aws:sqs",
    eventSourceARN: QUEUE_ARN,
    awsRegion: "us-east-1",
  };
}

/** The receipt handle `sqsRecord` gives a message id. */
export function receiptHandleOf(messageId: string): string {
  return `AQEB${Buffer.from(messageId).toString("base64")}`;
}

export function sqsEvent(records: readonly SQSRecord[]): SQSEvent {
  return { Records: [...records] };
}

/** A Lambda context whose deadline is `remainingMs` from now, counting down with the real clock. */
export function lambdaContext(remainingMs: number): Context {
  const deadline = Date.now() + remainingMs;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: "scrape-fleet-test-worker",
    functionVersion: "$LATEST",
    invokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:scrape-fleet-test-worker",
    memoryLimitInMB: "512",
    awsRequestId: "c6af9ac6-7b61-11e6-9a41-93e812345678",
    logGroupName: "/aws/lambda/scrape-fleet-test-worker",
    logStreamName: "2025/01/01/[$LATEST]0123456789abcdef",
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** One request the SSM fake received. */
export interface RecordedSsmRequest {
  readonly target: string | undefined;
  readonly headers: IncomingHttpHeaders;
  readonly body: Record<string, unknown>;
}

/** What the fake answers for a parameter: its value, or an SSM error type such as `ParameterNotFound`. */
export type SsmAnswer = { readonly value: string } | { readonly error: string; readonly status?: number };

export interface SsmFake {
  readonly client: SSMClient;
  readonly port: number;
  readonly requests: RecordedSsmRequest[];
  /** Answers by parameter name; a name not listed gets `ParameterNotFound`. */
  readonly parameters: Map<string, SsmAnswer>;
  stop(): Promise<void>;
}

/**
 * A loopback HTTP server speaking the `AmazonSSM.GetParameter` operation of
 * the awsJson1_1 protocol, with the real `SSMClient` pointed at it.
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParameter.html
 */
export async function startSsmFake(): Promise<SsmFake> {
  const requests: RecordedSsmRequest[] = [];
  const parameters = new Map<string, SsmAnswer>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as Record<string, unknown>;
      const target = req.headers["x-amz-target"];
      requests.push({ target: Array.isArray(target) ? target[0] : target, headers: req.headers, body });
      const reply = (status: number, payload: unknown) =>
        res.writeHead(status, { "content-type": "application/x-amz-json-1.1", "x-amzn-requestid": `req-${requests.length}` }).end(JSON.stringify(payload));
      const name = String(body.Name);
      const answer = parameters.get(name) ?? { error: "ParameterNotFound" };
      if (target !== "AmazonSSM.GetParameter") {
        reply(400, { __type: "InvalidAction", message: `the fake answers only GetParameter, not ${String(target)}` });
      } else if ("error" in answer) {
        reply(answer.status ?? 400, { __type: answer.error, message: `${answer.error}: ${name}` });
      } else {
        reply(200, {
          Parameter: { Name: name, Type: "String", Value: answer.value, Version: requests.length, LastModifiedDate: Date.now() / 1000, ARN: `arn:aws:ssm:us-east-1:123456789012:parameter${name}`, DataType: "text" },
        });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const client = new SSMClient({ endpoint: `http://127.0.0.1:${port}`, region: "us-east-1", credentials: { accessKeyId: "AKIDTEST", secretAccessKey: "test-secret" }, maxAttempts: 1 });
  return {
    client,
    port,
    requests,
    parameters,
    async stop() {
      client.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("error", reject);
    req.on("end", () => resolve(JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as Record<string, unknown>));
  });
}

/** The error SQS answers a batch with when it breaks a batch rule: 1 to 10 entries, with distinct ids. */
function invalidBatch(entries: readonly VisibilityEntry[]): string | undefined {
  if (entries.length === 0) return "EmptyBatchRequest";
  if (entries.length > 10) return "TooManyEntriesInBatchRequest";
  if (new Set(entries.map((entry) => entry.Id)).size !== entries.length) return "BatchEntryIdsNotDistinct";
  return undefined;
}

/** One entry of a ChangeMessageVisibilityBatch request. */
export interface VisibilityEntry {
  readonly Id: string;
  readonly ReceiptHandle: string;
  readonly VisibilityTimeout: number;
}

/** One request the SQS fake received. */
export interface RecordedSqsRequest {
  readonly target: string | undefined;
  readonly headers: IncomingHttpHeaders;
  readonly body: { readonly QueueUrl?: string; readonly Entries?: readonly VisibilityEntry[] };
}

/**
 * How the SQS fake answers: `ok` (every entry changed, but those listed in
 * `refusedEntries`), `error` (HTTP 500 InternalError for the whole call), or
 * `hang` (the request is read and never answered).
 */
export type SqsFakeMode = "ok" | "error" | "hang";

export interface SqsFake {
  /** A real `SQSClient` on the fake: the handler's request timeouts, one attempt. */
  readonly client: SQSClient;
  /** `http://127.0.0.1:<port>`, for `AWS_ENDPOINT_URL_SQS`. */
  readonly endpoint: string;
  readonly requests: RecordedSqsRequest[];
  mode: SqsFakeMode;
  /** Receipt handles the fake reports under `Failed`, with the SQS error code for each. */
  readonly refusedEntries: Map<string, string>;
  /** The visibility each message got, by receipt handle, over every answered request. */
  visibilityOf(receiptHandle: string): number | undefined;
  stop(): Promise<void>;
}

/**
 * A loopback HTTP server speaking the `AmazonSQS.ChangeMessageVisibilityBatch`
 * operation of the awsJson1_0 protocol, with the real `SQSClient` pointed at it.
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ChangeMessageVisibilityBatch.html
 */
export async function startSqsFake(): Promise<SqsFake> {
  const requests: RecordedSqsRequest[] = [];
  const refusedEntries = new Map<string, string>();
  const visibility = new Map<string, number>();
  const fake = { mode: "ok" as SqsFakeMode };
  const server = createServer((req, res) => {
    void readJson(req).then((body) => {
      const target = req.headers["x-amz-target"];
      const recorded: RecordedSqsRequest = { target: Array.isArray(target) ? target[0] : target, headers: req.headers, body };
      requests.push(recorded);
      if (fake.mode === "hang") return;
      const reply = (status: number, payload: unknown) =>
        res.writeHead(status, { "content-type": "application/x-amz-json-1.0", "x-amzn-requestid": `req-${requests.length}` }).end(JSON.stringify(payload));
      if (recorded.target !== "AmazonSQS.ChangeMessageVisibilityBatch") {
        reply(400, { __type: "com.amazonaws.sqs#InvalidAction", message: `the fake answers only ChangeMessageVisibilityBatch, not ${String(recorded.target)}` });
      } else if (fake.mode === "error") {
        reply(500, { __type: "com.amazonaws.sqs#InternalError", message: "We encountered an internal error. Please try again." });
      } else if (invalidBatch(recorded.body.Entries ?? []) !== undefined) {
        reply(400, { __type: `com.amazonaws.sqs#${invalidBatch(recorded.body.Entries ?? [])}`, message: "the batch breaks an SQS batch rule" });
      } else {
        const entries = recorded.body.Entries ?? [];
        const refused = entries.filter((entry) => refusedEntries.has(entry.ReceiptHandle));
        for (const entry of entries) if (!refusedEntries.has(entry.ReceiptHandle)) visibility.set(entry.ReceiptHandle, entry.VisibilityTimeout);
        reply(200, {
          Successful: entries.filter((entry) => !refusedEntries.has(entry.ReceiptHandle)).map((entry) => ({ Id: entry.Id })),
          Failed: refused.map((entry) => ({ Id: entry.Id, SenderFault: true, Code: refusedEntries.get(entry.ReceiptHandle), Message: "The receipt handle has expired." })),
        });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new SQSClient({ endpoint, region: "us-east-1", credentials: { accessKeyId: "AKIDTEST", secretAccessKey: "test-secret" }, maxAttempts: 1, requestHandler: SDK_REQUEST_HANDLER });
  return Object.assign(fake, {
    client,
    endpoint,
    requests,
    refusedEntries,
    visibilityOf: (receiptHandle: string) => visibility.get(receiptHandle),
    async stop() {
      client.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
}
