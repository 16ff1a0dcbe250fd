/**
 * One driver per runtime: it turns a case's message into that runtime's native
 * delivery (an SQS event, a Service Bus invocation, a Pub/Sub push POST, a row
 * in the local SQLite queue), with the case's settings written to that
 * runtime's own config store and read through its production `SettingsSource`,
 * and reads back the runtime's native answer, normalised as cases.ts documents.
 *
 * Each delivery builds a fresh handler (a fresh worker, settings cache, robots
 * cache and host pacer), as a new instance would, so cases cannot leak into
 * each other; the page site and the store fakes are shared.
 *
 * Every worker runs with `allowPrivateNetworks: true` because the page site is
 * on loopback, which the SSRF guard refuses by default. The switch never opens
 * link-local or cloud-metadata addresses, which the metadata case checks on
 * every runtime. `*.example` names resolve to 127.0.0.1 through an injected
 * resolver; nothing outside this machine is resolved or contacted.
 *
 * The three clouds' results stores are in memory (recording every put): their
 * real stores (S3, Blob Storage, Cloud Storage) are checked against emulators
 * or recorded fakes in tests/functions/*-adapters.test.ts, and what matters
 * here is which records each handler writes. The local fleet writes its real
 * result files, read back from its output directory.
 */
import { InvocationContext } from "@azure/functions";
import type { ServiceBusMessage } from "@azure/service-bus";
import { http } from "@google-cloud/functions-framework";
import { getTestServer } from "@google-cloud/functions-framework/testing";
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import type { Server } from "node:http";
import type { LookupFunction } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSqsHandler } from "../../functions/aws";
import { createEmfMetrics } from "../../functions/aws/metrics";
import { createSsmSettings } from "../../functions/aws/settingsSource";
import { SCRAPE_FUNCTION_NAME, SERVICE_BUS_CONNECTION } from "../../functions/azure/appSettings";
import { MessageAbandonedError, MessageMalformedError, createServiceBusHandler } from "../../functions/azure/index";
import { REDELIVERY_PROPERTIES } from "../../functions/azure/redelivery";
import { createAppConfigurationSettings } from "../../functions/azure/settingsSource";
import { PUSH_STATUS, createPushHandler, type PushHandler } from "../../functions/gcp";
import { createPublisher } from "../../functions/gcp/publisher";
import { createLogMetrics } from "../../functions/gcp/metrics";
import { createParameterManagerSettings } from "../../functions/gcp/settingsSource";
import { runFleet } from "../../functions/local/fleet";
import { LocalQueue } from "../../functions/local/queue";
import { FileResultStore } from "../../functions/local/resultStore";
import { currentProcess } from "../../functions/local/runLock";
import { watchSettingsFile } from "../../functions/local/settingsSource";
import { describeError } from "../../shared/errors";
import { METRICS } from "../../shared/metricNames";
import type { Logger, ResultStore, StoredObject } from "../../shared/ports";
import { RESULT_PREFIX, normalizeUrl, type ResultRecord } from "../../shared/result";
import { createWorker, type Worker } from "../../shared/worker";
import { lambdaContext, sqsEvent, sqsRecord, startSsmFake, type SsmFake } from "../support/awsFakes";
import { startAppConfigurationFake, type AppConfigurationFake } from "../support/azureFakes";
import { startParameterManagerFake, startPubSubFake, type ParameterManagerFake, type PubSubFake } from "../support/gcpFakes";
import type { Answer, CaseMessage, SettingsDocument } from "./cases";

/** What one delivery came to on one runtime. */
export interface Delivery {
  readonly answer: Answer;
  /** The runtime's own answer, for assertion messages. */
  readonly native: string;
  /** The result records the runtime's results store received. */
  readonly records: readonly ResultRecord[];
  /**
   * Requests the runtime's settings source made of its store for this
   * delivery; undefined where they cannot be seen (the local fleet's
   * `watchSettingsFile` reads its file itself, and refuses to start on one it
   * cannot read or validate).
   */
  readonly settingsReads?: number;
  /** Settings problems the runtime logged: a document it could not read or validate. */
  readonly settingsProblems: readonly string[];
}

export interface RuntimeDriver {
  readonly name: string;
  /** How the settings reach the handler, for the suite's titles. */
  readonly settingsRoute: string;
  start(): Promise<void>;
  deliver(message: CaseMessage, settings: SettingsDocument): Promise<Delivery>;
  stop(): Promise<void>;
}

export interface DriverOptions {
  /** The resolver every worker uses (the page site's `*.example` stub). */
  readonly lookup: LookupFunction;
}

export function createRuntimes(options: DriverOptions): readonly RuntimeDriver[] {
  return [awsRuntime(options), azureRuntime(options), gcpRuntime(options), localRuntime(options)];
}

const FLEET_NAME = "sf-conformance";
const MESSAGE_ID = "conformance-1";
const SETTINGS_PROBLEM_EVENTS = new Set(["settings_invalid", "settings_unreadable"]);

/** A results store that keeps every put, as the clouds' stores would hold them. */
class RecordingStore implements ResultStore {
  private readonly objects = new Map<string, StoredObject>();

  async put(object: StoredObject): Promise<void> {
    this.objects.set(object.key, object);
  }

  records(): ResultRecord[] {
    return [...this.objects.values()].filter(({ key }) => key.startsWith(RESULT_PREFIX)).map(({ body }) => JSON.parse(typeof body === "string" ? body : Buffer.from(body).toString("utf8")) as ResultRecord);
  }
}

/** A logger that keeps the settings problems it is told about (and drops the rest). */
function settingsProblemLogger(): { readonly logger: Logger; readonly problems: string[] } {
  const problems: string[] = [];
  return {
    problems,
    logger: {
      log(_level, event, fields) {
        if (SETTINGS_PROBLEM_EVENTS.has(event)) problems.push(`${event}: ${JSON.stringify(fields)}`);
      },
    },
  };
}

function started<T>(value: T | undefined, runtime: string): T {
  if (value === undefined) throw new Error(`the ${runtime} driver was not started: call start() in a before hook`);
  return value;
}

/**
 * AWS: one SQS record per event to `createSqsHandler`; settings from SSM
 * Parameter Store through `createSsmSettings`. A record named in
 * `batchItemFailures` comes back; SQS gives a malformed message the same
 * answer, so the batch's EMF line (`PagesMalformed`) tells the two apart.
 */
function awsRuntime({ lookup }: DriverOptions): RuntimeDriver {
  const parameterName = "/scrape-fleet/conformance/settings";
  let ssm: SsmFake | undefined;
  return {
    name: "AWS Lambda (SQS)",
    settingsRoute: "SSM Parameter Store via createSsmSettings, on the recorded-request GetParameter fake",
    async start() {
      ssm = await startSsmFake();
    },
    async deliver(message, settings) {
      const fake = started(ssm, "AWS");
      fake.parameters.set(parameterName, { value: JSON.stringify(settings) });
      const readsBefore = fake.requests.length;
      const store = new RecordingStore();
      const settingsLog = settingsProblemLogger();
      const emfLines: string[] = [];
      const handler = createSqsHandler({
        worker: { settings: createSsmSettings({ client: fake.client, parameterName, logger: settingsLog.logger }), results: store, allowPrivateNetworks: true, lookup },
        logger: settingsLog.logger,
        metrics: createEmfMetrics({ fleetName: FLEET_NAME, write: (line) => emfLines.push(line) }),
      });
      try {
        const response = await handler.handle(sqsEvent([sqsRecord({ messageId: MESSAGE_ID, body: message.body })]), lambdaContext(30_000));
        const returned = response.batchItemFailures.map((failure) => failure.itemIdentifier);
        const malformed = emfLines.reduce((sum, line) => sum + Number((JSON.parse(line) as Record<string, unknown>)[METRICS.pagesMalformed] ?? 0), 0);
        const answer: Answer = !returned.includes(MESSAGE_ID) ? "done" : malformed > 0 ? "dead-lettered" : "redelivered";
        return {
          answer,
          native: `batchItemFailures ${JSON.stringify(returned)}, EMF ${METRICS.pagesMalformed} ${malformed}`,
          records: store.records(),
          settingsReads: fake.requests.length - readsBefore,
          settingsProblems: settingsLog.problems,
        };
      } finally {
        await handler.close();
      }
    },
    async stop() {
      await ssm?.stop();
    },
  };
}

/**
 * What the Node.js worker hands a function for a Service Bus message: its
 * library tries `JSON.parse` on a string body and passes the text on when
 * that fails (`fromRpcTypedData` → `tryJsonParse` in @azure/functions).
 */
function asHostDelivers(body: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return body;
  }
}

/**
 * Azure: one message per invocation to `createServiceBusHandler` with a real
 * `InvocationContext` carrying the trigger metadata the host sends; settings
 * from App Configuration through `createAppConfigurationSettings`. Resolving
 * completes the message, and when it first scheduled a copy on the queue (a
 * retry, ./functions/azure/redelivery.ts) the message comes back; the error
 * it rejects with says abandoned-for-retry or malformed. The copy goes to a
 * recording scheduler: Service Bus speaks AMQP, which no loopback fake here does.
 */
function azureRuntime({ lookup }: DriverOptions): RuntimeDriver {
  let store: AppConfigurationFake | undefined;
  return {
    name: "Azure Functions (Service Bus)",
    settingsRoute: "App Configuration via createAppConfigurationSettings, on a recorded-request key-value fake",
    async start() {
      store = await startAppConfigurationFake();
    },
    async deliver(message, settings) {
      const fake = started(store, "Azure");
      fake.put(JSON.stringify(settings));
      const readsBefore = fake.requests.length;
      const results = new RecordingStore();
      const settingsLog = settingsProblemLogger();
      const scheduled: { message: ServiceBusMessage; at: Date }[] = [];
      const handler = createServiceBusHandler({
        fleetName: FLEET_NAME,
        functionTimeoutMs: 30_000,
        maxDeliveryAttempts: 5,
        scheduler: {
          async scheduleMessages(copy, at) {
            scheduled.push({ message: copy as ServiceBusMessage, at });
            return [];
          },
        },
        worker: {
          settings: createAppConfigurationSettings({ client: fake.client, endpoint: fake.endpoint, key: fake.key, logger: settingsLog.logger }),
          results,
          allowPrivateNetworks: true,
          lookup,
        },
      });
      const context = new InvocationContext({
        invocationId: `inv-${MESSAGE_ID}`,
        functionName: SCRAPE_FUNCTION_NAME,
        logHandler: () => undefined,
        options: { trigger: { type: "serviceBusTrigger", name: "message", queueName: "%WORK_QUEUE_NAME%", connection: SERVICE_BUS_CONNECTION, cardinality: "one" } },
        triggerMetadata: {
          messageId: MESSAGE_ID,
          deliveryCount: 1,
          enqueuedTimeUtc: new Date(Date.now() - 1_000).toISOString(),
          lockedUntilUtc: new Date(Date.now() + 60_000).toISOString(),
          contentType: "application/json",
          applicationProperties: {},
        },
      });
      let answer: Answer;
      let native: string;
      try {
        await handler.handle(asHostDelivers(message.body), context);
        const [copy] = scheduled;
        answer = copy === undefined ? "done" : "redelivered";
        native = copy === undefined ? "resolved (completed)" : `resolved (completed) after scheduling a copy for ${copy.at.toISOString()} (${String(copy.message.applicationProperties?.[REDELIVERY_PROPERTIES.lastCode])})`;
      } catch (error) {
        if (error instanceof MessageMalformedError) answer = "dead-lettered";
        else if (error instanceof MessageAbandonedError) answer = "redelivered";
        else throw error;
        native = `rejected ${error.name} (abandoned; ${error.outcome.code})`;
      } finally {
        await handler.close();
      }
      return { answer, native, records: results.records(), settingsReads: fake.requests.length - readsBefore, settingsProblems: settingsLog.problems };
    },
    async stop() {
      await store?.close();
    },
  };
}

/** Registered once: the Functions Framework's registry is process-wide. The handler it calls is rebuilt per delivery. */
const GCP_FUNCTION_NAME = "scrapeWorkerConformance";
const GCP_RETRY_TOPIC = "projects/conformance/topics/scrape-fleet-retry";
const GCP_DEAD_LETTER_TOPIC = "projects/conformance/topics/scrape-fleet-dlq";

/**
 * Google Cloud: a wrapped Pub/Sub push envelope POSTed to the Functions
 * Framework's own server, calling `createPushHandler`; settings from
 * Parameter Manager through `createParameterManagerSettings`, publishes to a
 * Pub/Sub REST fake. The answer: 200 is done; 202 hands the message on to the
 * retry topic (redelivered later) or the dead-letter topic; anything else is
 * a push Pub/Sub delivers again.
 */
function gcpRuntime({ lookup }: DriverOptions): RuntimeDriver {
  let store: ParameterManagerFake | undefined;
  let pubsub: PubSubFake | undefined;
  let server: Server | undefined;
  let endpoint = "";
  let handler: PushHandler | undefined;
  return {
    name: "Google Cloud Functions (Pub/Sub push)",
    settingsRoute: "Parameter Manager via createParameterManagerSettings, on a recorded-request REST fake",
    async start() {
      store = await startParameterManagerFake();
      pubsub = await startPubSubFake([GCP_RETRY_TOPIC, GCP_DEAD_LETTER_TOPIC], store.accessToken);
      http(GCP_FUNCTION_NAME, (request, response) => {
        if (handler === undefined) throw new Error("no Google Cloud handler built for this delivery");
        return handler.handle(request, response);
      });
      server = getTestServer(GCP_FUNCTION_NAME);
      const listening = server;
      await new Promise<void>((resolve) => listening.listen(0, "127.0.0.1", resolve));
      const address = listening.address();
      if (address === null || typeof address === "string") throw new Error(`the Functions Framework server has no TCP address (got ${String(address)})`);
      endpoint = `http://127.0.0.1:${address.port}/`;
    },
    async deliver(message, settings) {
      const fake = started(store, "Google Cloud");
      fake.publish(JSON.stringify(settings));
      const readsBefore = fake.requests.length;
      const results = new RecordingStore();
      const settingsLog = settingsProblemLogger();
      handler = createPushHandler({
        worker: {
          settings: createParameterManagerSettings({ parameter: fake.parameter, endpoint: fake.endpoint, getAccessToken: async () => fake.accessToken, logger: settingsLog.logger }),
          results,
          allowPrivateNetworks: true,
          lookup,
        },
        logger: settingsLog.logger,
        metrics: createLogMetrics({ fleetName: FLEET_NAME, write: () => undefined }),
        redelivery: {
          publish: createPublisher({ endpoint: started(pubsub, "Google Cloud Pub/Sub").endpoint, getAccessToken: async () => fake.accessToken }),
          retryTopic: GCP_RETRY_TOPIC,
          deadLetterTopic: GCP_DEAD_LETTER_TOPIC,
          maxDeliveryAttempts: 5,
        },
        timeoutSeconds: 30,
      });
      try {
        const envelope = {
          message: { data: Buffer.from(message.body, "utf8").toString("base64"), attributes: {}, messageId: MESSAGE_ID, message_id: MESSAGE_ID, publishTime: new Date().toISOString() },
          subscription: "projects/conformance/subscriptions/scrape-fleet-work-push",
          deliveryAttempt: 1,
        };
        const response = await fetch(endpoint, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(envelope) });
        const body = (await response.json()) as Record<string, unknown>;
        // Pub/Sub acknowledges a push on 102, 200, 201, 202 or 204 (https://cloud.google.com/pubsub/docs/push#receive_push);
        // a message the handler hands on (202) was acknowledged after a copy went to the retry or the dead-letter topic.
        const handedOn = response.status === PUSH_STATUS.handedOn ? body.handedOnTo : undefined;
        const answer: Answer = handedOn === "deadLetter" ? "dead-lettered" : handedOn === "retry" || response.status >= 300 ? "redelivered" : "done";
        return {
          answer,
          native: `HTTP ${response.status} ${JSON.stringify({ outcome: body.outcome, code: body.code })}`,
          records: results.records(),
          settingsReads: fake.requests.length - readsBefore,
          settingsProblems: settingsLog.problems,
        };
      } finally {
        await handler.close();
        handler = undefined;
      }
    },
    async stop() {
      const listening = server;
      if (listening !== undefined) {
        listening.closeAllConnections();
        await new Promise<void>((resolve) => listening.close(() => resolve()));
      }
      await store?.close();
      await pubsub?.close();
    },
  };
}

/**
 * The local fleet: the message is a row in its SQLite queue, the settings its
 * settings file (`--config`, read by `watchSettingsFile`), the run loop
 * `runFleet` with the shared worker writing result files, as the CLI wires
 * them (plus the injected resolver, which the CLI does not take). The run is
 * stopped after its first answer, or at once when the kill switch pauses it,
 * and the message's row says what became of it.
 *
 * The body goes in through `LocalQueue.enqueue`: the CLI builds every body
 * from a URLs file line, and turns a line that is not a URL into a dead letter
 * before it is queued, so a malformed body can only reach the run loop this way.
 */
function localRuntime({ lookup }: DriverOptions): RuntimeDriver {
  let root: string | undefined;
  let deliveries = 0;
  return {
    name: "local fleet (SQLite queue)",
    settingsRoute: "the settings file via watchSettingsFile",
    async start() {
      root = await mkdtemp(join(tmpdir(), "scrape-fleet-conformance-"));
    },
    async deliver(message, settingsDocument) {
      deliveries += 1;
      const dir = join(started(root, "local"), `run-${deliveries}`);
      const settingsFile = join(dir, "settings.json");
      await mkdir(dir);
      await writeFile(settingsFile, JSON.stringify(settingsDocument));
      const results = new FileResultStore(dir);
      const settingsProblems: string[] = [];
      const settings = await watchSettingsFile({ path: settingsFile, pollIntervalMs: 60_000, onError: (error) => settingsProblems.push(describeError(error)) });
      const queue = LocalQueue.open(join(dir, "queue.sqlite"));
      const worker = createWorker({ settings, results, allowPrivateNetworks: true, lookup });
      try {
        queue.takeOwnership({ ...currentProcess(), startedAt: Date.now() });
        queue.enqueue([{ key: message.url === undefined ? `conformance:${deliveries}` : normalizeUrl(message.url), url: message.url ?? message.body, body: message.body }]);
        const stop = new AbortController();
        await runFleet({
          queue,
          worker: stopAfterFirstAnswer(worker, stop),
          settings,
          signal: stop.signal,
          idlePollMs: 20,
          onPause: (paused) => {
            if (paused) stop.abort();
          },
        });
        const counts = queue.counts();
        const [letter] = queue.deadLetters();
        let answer: Answer;
        if (counts.ok + counts.failed === 1) answer = "done";
        else if (counts.dead === 1) answer = "dead-lettered";
        else if (counts.retrying + counts.waiting === 1) answer = "redelivered";
        else throw new Error(`the local queue is in no known state after one delivery: ${JSON.stringify(counts)}`);
        return {
          answer,
          native: `queue ${JSON.stringify(counts)}${letter ? `, dead letter ${letter.code}` : ""}`,
          records: await readRecords(dir),
          settingsProblems,
        };
      } finally {
        await worker.close();
        queue.close();
        settings.close();
      }
    },
    async stop() {
      if (root !== undefined) await rm(root, { recursive: true, force: true });
    },
  };
}

/** The worker, with the run stopped as soon as it has answered its first batch: one delivery, as on the clouds. */
function stopAfterFirstAnswer(worker: Worker, stop: AbortController): Worker {
  return {
    async processBatch(items, options) {
      const outcomes = await worker.processBatch(items, options);
      stop.abort();
      return outcomes;
    },
    close: () => worker.close(),
  };
}

async function readRecords(dir: string): Promise<ResultRecord[]> {
  const folder = join(dir, RESULT_PREFIX);
  let names: string[];
  try {
    names = await readdir(folder);
  } catch (error) {
    if (error instanceof Error && "code" in error && error.code === "ENOENT") return [];
    throw new Error(`cannot list the local results in ${folder}: ${describeError(error)}`);
  }
  const files = names.filter((name) => name.endsWith(".json"));
  return Promise.all(files.map(async (name) => JSON.parse(await readFile(join(folder, name), "utf8")) as ResultRecord));
}
