/**
 * Loopback servers for the AWS backend's tests, each speaking the wire
 * protocol the real SDK clients use (checked against recorded requests only,
 * since no emulator on npm covers these operations):
 * - an SQS front that forwards to fauxqs (a real SQS emulator) and lets a test
 *   answer chosen calls itself: refused entries, throttling, an expired token,
 *   and StartMessageMoveTask / ListMessageMoveTasks, which fauxqs lacks (the
 *   front moves the messages through fauxqs, send first, delete after, as SQS does);
 * - Lambda's event source mappings and function configuration (REST JSON),
 *   SSM GetParameter / PutParameter with versions (awsJson1_1) and CloudWatch
 *   GetMetricData (awsJson1_0) on one server.
 */
import { ReceiveMessageCommand, DeleteMessageBatchCommand, SendMessageBatchCommand, SQSClient } from "@aws-sdk/client-sqs";
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";

/**
 * fauxqs ships ES modules with only an `import` export condition, which the
 * tests' CommonJS loader cannot resolve by name; Node 22 loads the same file
 * by path with require(esm).
 * https://nodejs.org/docs/latest-v22.x/api/modules.html#loading-ecmascript-modules-using-require
 */
export function loadFauxqs(): typeof import("fauxqs") {
  return require(join(__dirname, "..", "..", "node_modules", "fauxqs", "dist", "app.js")) as typeof import("fauxqs");
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((done) => server.close(() => done()));
}

/** What a test answers instead of fauxqs: a status and a JSON body, or undefined to forward. */
export type SqsIntercept = (target: string, body: Record<string, unknown>) => { readonly status: number; readonly body: unknown } | undefined;

export interface SqsFront {
  readonly endpoint: string;
  /** Every call's X-Amz-Target, in order. */
  readonly targets: string[];
  intercept: SqsIntercept | undefined;
  stop(): Promise<void>;
}

export async function startSqsFront(fauxqs: string): Promise<SqsFront> {
  const targets: string[] = [];
  const moveTasks = new Map<string, { status: string; moved: number; source: string }>();
  // The front's own client for moves, straight to fauxqs.
  const direct = new SQSClient({ endpoint: fauxqs, region: "us-east-1", credentials: { accessKeyId: "x", secretAccessKey: "x" }, useQueueUrlAsEndpoint: false });
  const front: SqsFront = {
    endpoint: "",
    targets,
    intercept: undefined,
    stop: async () => {
      direct.destroy();
      await close(server);
    },
  };
  const reply = (response: ServerResponse, status: number, body: unknown): void =>
    void response.writeHead(status, { "content-type": "application/x-amz-json-1.0", "x-amzn-requestid": `front-${targets.length}` }).end(JSON.stringify(body));

  const server = createServer((request, response) => {
    void readBody(request).then(async (raw) => {
      const target = String(request.headers["x-amz-target"] ?? "");
      targets.push(target);
      const body = (raw.length > 0 ? JSON.parse(raw.toString("utf8")) : {}) as Record<string, unknown>;
      const answer = front.intercept?.(target, body);
      if (answer) return reply(response, answer.status, answer.body);
      if (target === "AmazonSQS.StartMessageMoveTask") {
        const handle = `task-${moveTasks.size + 1}`;
        const moved = await moveAll(direct, urlOfArn(String(body.SourceArn)), urlOfArn(String(body.DestinationArn)));
        moveTasks.set(handle, { status: "COMPLETED", moved, source: String(body.SourceArn) });
        return reply(response, 200, { TaskHandle: handle });
      }
      if (target === "AmazonSQS.ListMessageMoveTasks") {
        const results = [...moveTasks.entries()]
          .filter(([, task]) => task.source === body.SourceArn)
          .reverse()
          .map(([handle, task]) => ({ TaskHandle: handle, Status: task.status, ApproximateNumberOfMessagesMoved: task.moved, SourceArn: task.source }));
        return reply(response, 200, { Results: results });
      }
      const forwarded = httpRequest(`${fauxqs}${request.url ?? "/"}`, { method: request.method, headers: request.headers }, (upstream) => {
        response.writeHead(upstream.statusCode ?? 500, upstream.headers);
        upstream.pipe(response);
      });
      forwarded.end(raw);
    });
  });
  Object.assign(front, { endpoint: await listen(server) });
  return front;
}

/** fauxqs names queues `http://<host>/<account>/<name>`; an ARN's last two parts give the same. */
const queueUrls = new Map<string, string>();
export function registerQueue(arn: string, url: string): void {
  queueUrls.set(arn, url);
}
function urlOfArn(arn: string): string {
  const url = queueUrls.get(arn);
  if (!url) throw new Error(`the fake knows no queue ${arn}`);
  return url;
}

async function moveAll(client: SQSClient, from: string, to: string): Promise<number> {
  let moved = 0;
  for (;;) {
    const { Messages: messages = [] } = await client.send(new ReceiveMessageCommand({ QueueUrl: from, MaxNumberOfMessages: 10, VisibilityTimeout: 30 }));
    if (messages.length === 0) return moved;
    await client.send(new SendMessageBatchCommand({ QueueUrl: to, Entries: messages.map((message, index) => ({ Id: String(index), MessageBody: message.Body ?? "" })) }));
    await client.send(new DeleteMessageBatchCommand({ QueueUrl: from, Entries: messages.map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle ?? "" })) }));
    moved += messages.length;
  }
}

export interface ControlPlaneFake {
  readonly endpoint: string;
  /** The event source mapping's state, `Enabled` or `Disabled`. */
  mappingState: string;
  /** The SSM parameter's versions, oldest first. */
  readonly parameterVersions: string[];
  /** CloudWatch answers by `MetricName/Stat` (such as `FetchLatencyMs/SampleCount`), else by metric name: the values of the window. */
  readonly metricValues: Map<string, number[]>;
  /** The GetMetricData requests seen. */
  readonly metricRequests: Record<string, unknown>[];
  /** Error name to answer every call with (such as ExpiredTokenException), or undefined. */
  failWith: string | undefined;
  /** `X-Amz-Target`s answered AccessDeniedException, as IAM refuses an action the role lacks. */
  readonly denied: Set<string>;
  stop(): Promise<void>;
}

export async function startControlPlaneFake(options: { readonly functionName: string; readonly queueArn: string; readonly parameterName: string; readonly fleetName: string; readonly settings: string }): Promise<ControlPlaneFake> {
  const uuid = "3f1c2a8e-0000-4000-8000-000000000001";
  const fake: ControlPlaneFake = {
    endpoint: "",
    mappingState: "Enabled",
    parameterVersions: [options.settings],
    metricValues: new Map(),
    metricRequests: [],
    failWith: undefined,
    denied: new Set(),
    stop: async () => close(server),
  };
  const mapping = () => ({ UUID: uuid, EventSourceArn: options.queueArn, FunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${options.functionName}`, State: fake.mappingState, BatchSize: 10 });
  const server = createServer((request, response) => {
    void readBody(request).then((raw) => {
      const json = (status: number, body: unknown, type = "application/json"): void => void response.writeHead(status, { "content-type": type, "x-amzn-requestid": "control" }).end(JSON.stringify(body));
      const target = String(request.headers["x-amz-target"] ?? "");
      const body = (raw.length > 0 ? JSON.parse(raw.toString("utf8")) : {}) as Record<string, unknown>;
      const url = new URL(request.url ?? "/", "http://fake");
      if (fake.failWith) {
        response.setHeader("x-amzn-errortype", fake.failWith);
        return json(403, { __type: fake.failWith, message: "The security token included in the request is expired" }, target ? "application/x-amz-json-1.1" : "application/json");
      }
      if (fake.denied.has(target)) return json(400, { __type: "AccessDeniedException", message: `User is not authorized to perform: ${target}` }, "application/x-amz-json-1.0");
      if (target === "AmazonSSM.GetParameter") {
        if (body.Name !== options.parameterName) return json(400, { __type: "ParameterNotFound", message: String(body.Name) }, "application/x-amz-json-1.1");
        return json(200, { Parameter: { Name: body.Name, Type: "String", Value: fake.parameterVersions.at(-1), Version: fake.parameterVersions.length } }, "application/x-amz-json-1.1");
      }
      if (target === "AmazonSSM.PutParameter") {
        if (body.Overwrite !== true) return json(400, { __type: "ParameterAlreadyExists", message: "set Overwrite" }, "application/x-amz-json-1.1");
        fake.parameterVersions.push(String(body.Value));
        return json(200, { Version: fake.parameterVersions.length, Tier: "Standard" }, "application/x-amz-json-1.1");
      }
      if (target === "GraniteServiceVersion20100801.GetMetricData") {
        fake.metricRequests.push(body);
        const queries = (body.MetricDataQueries ?? []) as { Id: string; MetricStat: { Metric: { MetricName: string }; Stat: string } }[];
        const results = queries.map((query) => {
          const name = query.MetricStat.Metric.MetricName;
          const values = fake.metricValues.get(`${name}/${query.MetricStat.Stat}`) ?? fake.metricValues.get(name) ?? [];
          return { Id: query.Id, StatusCode: "Complete", Values: values, Timestamps: values.map((_, index) => Math.floor(Date.now() / 1000) - index * 60) };
        });
        return json(200, { MetricDataResults: results, Messages: [] }, "application/x-amz-json-1.0");
      }
      if (request.method === "GET" && /^\/2015-03-31\/event-source-mappings\/?$/.test(url.pathname)) {
        const matches = url.searchParams.get("EventSourceArn") === options.queueArn && url.searchParams.get("FunctionName") === options.functionName;
        return json(200, { EventSourceMappings: matches ? [mapping()] : [] });
      }
      if (request.method === "PUT" && url.pathname === `/2015-03-31/event-source-mappings/${uuid}`) {
        fake.mappingState = body.Enabled === false ? "Disabled" : "Enabled";
        return json(202, mapping());
      }
      if (request.method === "GET" && url.pathname === `/2015-03-31/functions/${options.functionName}/configuration`) {
        return json(200, { FunctionName: options.functionName, Environment: { Variables: { FLEET_NAME: options.fleetName } } });
      }
      json(404, { __type: "ResourceNotFoundException", message: `the fake does not answer ${request.method} ${url.pathname} ${target}` });
    });
  });
  Object.assign(fake, { endpoint: await listen(server) });
  return fake;
}
