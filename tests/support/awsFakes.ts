/**
 * Builders for the AWS event shapes the Lambda adapter receives, and a
 * recorded-request fake of the SSM JSON API on loopback (no SSM emulator
 * installs from npm).
 */
import { SSMClient } from "@aws-sdk/client-ssm";
import type { Context, SQSEvent, SQSRecord } from "aws-lambda";
import { createHash } from "node:crypto";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";

const QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:scrape-fleet-test-work";

export interface SqsRecordFields {
  readonly messageId: string;
  readonly body: string;
  /** @default 1 */
  readonly receiveCount?: number;
}

/** One SQS record as Lambda's event source mapping delivers it (standard queue). */
export function sqsRecord({ messageId, body, receiveCount = 1 }: SqsRecordFields): SQSRecord {
  const sent = Date.now() - 1_000;
  return {
    messageId,
    receiptHandle: `AQEB${Buffer.from(messageId).toString("base64")}`,
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
