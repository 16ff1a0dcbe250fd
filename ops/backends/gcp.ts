/**
 * A Google Cloud fleet as an operations backend: a thin adapter over the REST
 * APIs of Pub/Sub (the work topic, the push subscription that is the trigger,
 * the dead-letter subscription), Cloud Storage (the results), Parameter
 * Manager (the settings), Cloud Monitoring (the subscriptions' figures) and
 * Cloud Functions (the worker's URL and fleet name, to re-attach the push).
 *
 * REST over HTTPS with `fetch` and an access token from google-auth-library's
 * application default credentials, not `@google-cloud/pubsub`: that client is
 * gRPC (google-gax, @grpc/grpc-js) and its only loopback stand-in, the Pub/Sub
 * emulator, ships with the gcloud CLI and installs from no npm package, so the
 * adapter could only be tested against a recorded gRPC fake. The REST calls
 * are few, and the same adapter runs against recorded HTTP fakes in the tests
 * (functions/gcp/settingsSource.ts reads Parameter Manager the same way).
 * https://cloud.google.com/pubsub/docs/reference/rest
 *
 * Each API's base URL can be moved the way gcloud's own
 * `api_endpoint_overrides` property does it, with the environment variable
 * `CLOUDSDK_API_ENDPOINT_OVERRIDES_<API>` (PUBSUB, STORAGE, PARAMETERMANAGER,
 * MONITORING, CLOUDFUNCTIONS): a private endpoint, or a loopback fake.
 * https://cloud.google.com/sdk/gcloud/reference/topic/configurations
 */
import { describeError } from "../../shared/errors";
import { GoogleAuth } from "google-auth-library";
import { FUNCTION_ENV } from "../../functions/gcp/environment";
import { newestEnabled } from "../../functions/gcp/settingsSource";
import { resourceName } from "../../infra/naming";
import { encodeMessage, parseMessage, type ScrapeMessage } from "../../shared/message";
import { METRICS, OUTCOME_METRIC } from "../../shared/metricNames";
import { pagesPerMinute, parseSettingsText, SETTINGS_EDIT_FIX, type DeadLetterEntry, type FetchLatency, type FleetBackend, type FleetStatus, type RedriveOptions, type RefusedEntry, type StoredSettings } from "../backend";
import { CredentialsError, OpsUsageError } from "../errors";
import type { StackOutputs } from "../target";
import { apiErrorMessage, asArray } from "../../functions/gcp/googleApi";

const CHAIN = "Google application default credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud's application_default_credentials.json, the metadata server)";
const CHAIN_FIX = "run `gcloud auth application-default login` (or point GOOGLE_APPLICATION_CREDENTIALS at a key file); check with `gcloud auth application-default print-access-token`";

const SCOPES = ["https://www.googleapis.com/auth/cloud-platform"];

const DEFAULT_ENDPOINTS = {
  pubsub: "https://pubsub.googleapis.com",
  storage: "https://storage.googleapis.com",
  parametermanager: "https://parametermanager.googleapis.com",
  monitoring: "https://monitoring.googleapis.com",
  cloudfunctions: "https://cloudfunctions.googleapis.com",
} as const;
type Api = keyof typeof DEFAULT_ENDPOINTS;

/**
 * topics.publish takes at most 1,000 messages and a 10 MB request. The
 * enqueue command counts the JSON bodies, and a body travels base64-encoded
 * (4/3 as large) inside a JSON envelope, so 7 MB of bodies stays under 10 MB.
 * https://cloud.google.com/pubsub/quotas#resource_limits
 */
const PUBSUB_BATCH = { maxMessages: 1_000, maxBytes: 7_000_000, inFlight: 8 } as const;

/** Statuses after which the same request may succeed: throttled, or the service's fault. https://cloud.google.com/pubsub/docs/reference/error-codes */
const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);

/** Messages per pull: the API's maximum. */
const PULL_MAX = 1_000;

/** The subscription's figures read from Cloud Monitoring, sampled each minute; the newest point in this window is shown. */
const MONITORING_LOOKBACK_MINUTES = 10;

const TOPIC = /^projects\/([^/]+)\/topics\/[^/]+$/;
const SUBSCRIPTION = /^projects\/([^/]+)\/subscriptions\/([^/]+)$/;

/** A Google API's error answer, with its HTTP status. */
export class GoogleApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = "GoogleApiError";
  }
}

interface PushConfig {
  readonly pushEndpoint?: string;
  readonly oidcToken?: { readonly serviceAccountEmail?: string; readonly audience?: string };
}

interface ReceivedMessage {
  readonly ackId: string;
  readonly message: { readonly data?: string; readonly messageId?: string; readonly publishTime?: string; readonly attributes?: Readonly<Record<string, string>> };
  readonly deliveryAttempt?: number;
}

export async function openGcpBackend(outputs: StackOutputs, label: string): Promise<FleetBackend> {
  const project = TOPIC.exec(outputs.workQueueId)?.[1];
  if (!project) throw new OpsUsageError(`${label}: workQueueId ${JSON.stringify(outputs.workQueueId)} is not a Pub/Sub topic (projects/P/topics/T); read the outputs of a Google Cloud stack`);
  if (!SUBSCRIPTION.test(outputs.deadLetterQueueUrl)) {
    throw new OpsUsageError(`${label}: deadLetterQueueUrl ${JSON.stringify(outputs.deadLetterQueueUrl)} is not a Pub/Sub subscription (projects/P/subscriptions/S); read the outputs of a Google Cloud stack`);
  }
  // The project is the topic's: given here, the library does not look for one (it would run `gcloud config` to find it).
  return new GcpBackend(outputs, label, project, new GoogleAuth({ scopes: SCOPES, projectId: project }));
}

class GcpBackend implements FleetBackend {
  readonly description: string;
  readonly queueId: string;
  readonly limits = PUBSUB_BATCH;
  private readonly endpoints: Record<Api, string>;
  /** The worker's URL and fleet name, read once from Cloud Functions. */
  private worker?: Promise<{ readonly uri: string; readonly fleetName: string }>;

  constructor(
    private readonly outputs: StackOutputs,
    label: string,
    private readonly project: string,
    private readonly auth: GoogleAuth,
  ) {
    this.description = `gcp ${label}`;
    this.queueId = outputs.workQueueId;
    this.endpoints = Object.fromEntries(
      (Object.keys(DEFAULT_ENDPOINTS) as Api[]).map((api) => [api, (process.env[`CLOUDSDK_API_ENDPOINT_OVERRIDES_${api.toUpperCase()}`] || DEFAULT_ENDPOINTS[api]).replace(/\/+$/, "")]),
    ) as Record<Api, string>;
  }

  private async token(): Promise<string> {
    try {
      const token = await this.auth.getAccessToken();
      if (!token) throw new Error("the credential gave no access token");
      return token;
    } catch (error) {
      throw new CredentialsError(CHAIN, describeError(error), CHAIN_FIX);
    }
  }

  /** One REST call; 401 and 403 become `CredentialsError` naming the operation, other errors `GoogleApiError`. */
  private async request(api: Api, operation: string, method: "GET" | "POST" | "PATCH", path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
    const token = await this.token();
    const response = await fetch(`${this.endpoints[api]}/${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, accept: "application/json", ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      ...(signal === undefined ? {} : { signal }),
    });
    if (response.ok) return response;
    const detail = `${operation}: ${response.status} ${apiErrorMessage(await response.text())}`;
    if (response.status === 401) throw new CredentialsError(CHAIN, detail, CHAIN_FIX);
    if (response.status === 403) throw new CredentialsError(CHAIN, `${detail} (refused)`, `use an account allowed to call ${operation} in project ${this.project} (\`gcloud auth application-default login\` as that account)`);
    throw new GoogleApiError(detail, response.status);
  }

  private async json(api: Api, operation: string, method: "GET" | "POST" | "PATCH", path: string, body?: unknown): Promise<Record<string, unknown>> {
    const response = await this.request(api, operation, method, path, body);
    const text = await response.text();
    return text === "" ? {} : (JSON.parse(text) as Record<string, unknown>);
  }

  /** One topics.publish call: Pub/Sub takes the whole request or none of it, so a refusal refuses every entry. */
  async sendBatch(messages: readonly ScrapeMessage[]): Promise<readonly RefusedEntry[]> {
    return this.publish(messages.map((message) => Buffer.from(encodeMessage(message)).toString("base64")));
  }

  private async publish(data: readonly string[]): Promise<readonly RefusedEntry[]> {
    try {
      await this.json("pubsub", "pubsub.topics.publish", "POST", `v1/${this.outputs.workQueueId}:publish`, { messages: data.map((item) => ({ data: item })) });
      return [];
    } catch (error) {
      if (!(error instanceof GoogleApiError)) throw error;
      const retryable = RETRYABLE_STATUS.has(error.status);
      return data.map((_, index) => ({ index, reason: error.message, retryable }));
    }
  }

  /** The push subscription's name: the program names it from the fleet's prefix (infra/gcp/queue.ts `queueNames`). */
  private async workSubscription(): Promise<string> {
    const { fleetName } = await this.workerInfo();
    return `projects/${this.project}/subscriptions/${resourceName("gcpPubSubSubscription", fleetName, "work-push")}`;
  }

  /** The worker's HTTPS URL and its FLEET_NAME (the stack's name prefix), found by name in any region. */
  private workerInfo(): Promise<{ readonly uri: string; readonly fleetName: string }> {
    this.worker ??= (async () => {
      const suffix = `/functions/${this.outputs.workerName}`;
      let pageToken: string | undefined;
      do {
        const query = new URLSearchParams(pageToken === undefined ? {} : { pageToken });
        // `locations/-` lists every region: the outputs do not name the function's.
        const page = await this.json("cloudfunctions", "cloudfunctions.functions.list", "GET", `v2/projects/${this.project}/locations/-/functions?${query}`);
        for (const fn of asArray(page.functions) as { name?: string; serviceConfig?: { uri?: string; environmentVariables?: Record<string, string> } }[]) {
          if (!fn.name?.endsWith(suffix)) continue;
          const uri = fn.serviceConfig?.uri;
          const fleetName = fn.serviceConfig?.environmentVariables?.[FUNCTION_ENV.fleetName];
          if (!uri || !fleetName) throw new Error(`function ${fn.name} has no serviceConfig.uri or ${FUNCTION_ENV.fleetName}; run \`pulumi up\` to deploy it`);
          return { uri, fleetName };
        }
        pageToken = typeof page.nextPageToken === "string" && page.nextPageToken !== "" ? page.nextPageToken : undefined;
      } while (pageToken !== undefined);
      throw new Error(`no Cloud Function ${this.outputs.workerName} in project ${this.project}; run \`pulumi up\` to create it`);
    })();
    return this.worker;
  }

  /**
   * The push configuration the program sets (infra/gcp/queue.ts): the
   * function's URL as endpoint and OIDC audience, signed as the invoker
   * account the program names from the fleet's prefix (infra/gcp/identity.ts).
   * `resume` derives it again rather than keeping a copy: nothing else holds
   * it (the settings document refuses unknown keys; labels cannot hold a URL),
   * and so a resume on another machine restores exactly what Pulumi set.
   */
  private async deployedPushConfig(): Promise<Required<PushConfig>> {
    const { uri, fleetName } = await this.workerInfo();
    const invoker = `${resourceName("gcpServiceAccountId", fleetName, "push")}@${this.project}.iam.gserviceaccount.com`;
    return { pushEndpoint: uri, oidcToken: { serviceAccountEmail: invoker, audience: uri } };
  }

  private async pushConfig(subscription: string): Promise<PushConfig> {
    const answer = await this.json("pubsub", "pubsub.subscriptions.get", "GET", `v1/${subscription}`);
    return (answer.pushConfig ?? {}) as PushConfig;
  }

  async status(windowMinutes: number): Promise<FleetStatus> {
    const work = await this.workSubscription();
    const { fleetName } = await this.workerInfo();
    const outcomeEntries = Object.entries(OUTCOME_METRIC) as [string, string][];
    const userMetric = (metric: string) => `logging.googleapis.com/user/${resourceName("gcpLogMetric", fleetName, metric)}`;
    const [undelivered, outstanding, oldest, deadLetters, push, settings, fetchLatency, ...outcomeCounts] = await Promise.all([
      this.newestPoint("subscription/num_undelivered_messages", work),
      this.newestPoint("subscription/num_outstanding_messages", work),
      this.newestPoint("subscription/oldest_unacked_message_age", work),
      this.newestPoint("subscription/num_undelivered_messages", this.outputs.deadLetterQueueUrl),
      this.pushConfig(work),
      this.readSettings(),
      this.windowLatency(userMetric(METRICS.fetchLatencyMs), windowMinutes),
      ...outcomeEntries.map(([, metric]) => this.windowSum(userMetric(metric), windowMinutes)),
    ]);
    const outcomes = Object.fromEntries(outcomeEntries.map(([outcome], index) => [outcome, outcomeCounts[index] ?? 0]));
    return {
      // Undelivered counts every unacknowledged message, the outstanding (pushed, not answered) among them.
      backlog: Math.max(0, (undelivered ?? 0) - (outstanding ?? 0)),
      inFlight: outstanding ?? 0,
      ...(oldest === undefined ? {} : { oldestAgeSeconds: oldest }),
      deadLetters: deadLetters ?? 0,
      triggerEnabled: Boolean(push.pushEndpoint),
      settingsEnabled: settings.document.enabled !== false,
      pagesPerMinute: pagesPerMinute(outcomes, windowMinutes),
      outcomes,
      ...(fetchLatency === undefined ? {} : { fetchLatency }),
      windowMinutes,
    };
  }

  /**
   * The count and mean of a log-based distribution metric over the last
   * `windowMinutes` (the fleet's FetchLatencyMs, one value per fetched page):
   * each series' distributions added up over the window (ALIGN_DELTA), then
   * across series (REDUCE_SUM keeps a distribution a distribution), so the
   * points' count-weighted means give the window's mean.
   * https://cloud.google.com/monitoring/api/ref_v3/rest/v3/projects.alertPolicies#Aligner
   * https://cloud.google.com/monitoring/api/ref_v3/rest/v3/TypedValue#Distribution
   */
  private async windowLatency(metricType: string, windowMinutes: number): Promise<FetchLatency | undefined> {
    const answer = await this.windowSeries(metricType, windowMinutes, "ALIGN_DELTA");
    let pages = 0;
    let totalMs = 0;
    for (const series of asArray(answer.timeSeries) as { points?: { value?: { distributionValue?: { count?: string; mean?: number } } }[] }[]) {
      for (const point of series.points ?? []) {
        const count = Number(point.value?.distributionValue?.count ?? 0);
        pages += count;
        totalMs += count * (point.value?.distributionValue?.mean ?? 0);
      }
    }
    return pages > 0 ? { pages, averageMs: totalMs / pages } : undefined;
  }

  /**
   * The total of a counter over the last `windowMinutes`: the fleet's
   * log-based outcome metrics (infra/gcp/dashboard.ts `createFleetMetrics`),
   * summed per series over the whole window and then across series.
   * https://cloud.google.com/monitoring/api/ref_v3/rest/v3/projects.timeSeries/list
   */
  private async windowSum(metricType: string, windowMinutes: number): Promise<number> {
    const answer = await this.windowSeries(metricType, windowMinutes, "ALIGN_SUM");
    let sum = 0;
    for (const series of asArray(answer.timeSeries) as { points?: { value?: { int64Value?: string; doubleValue?: number } }[] }[]) {
      for (const point of series.points ?? []) sum += point.value?.int64Value !== undefined ? Number(point.value.int64Value) : (point.value?.doubleValue ?? 0);
    }
    return sum;
  }

  /** The metric's series over the last `windowMinutes`, each aligned to one point by `aligner`, then summed across series. */
  private async windowSeries(metricType: string, windowMinutes: number, aligner: "ALIGN_DELTA" | "ALIGN_SUM"): Promise<Record<string, unknown>> {
    const end = new Date();
    const start = new Date(end.getTime() - windowMinutes * 60_000);
    const query = new URLSearchParams({
      filter: `metric.type = "${metricType}"`,
      "interval.startTime": start.toISOString(),
      "interval.endTime": end.toISOString(),
      "aggregation.alignmentPeriod": `${windowMinutes * 60}s`,
      "aggregation.perSeriesAligner": aligner,
      "aggregation.crossSeriesReducer": "REDUCE_SUM",
    });
    return this.json("monitoring", "monitoring.timeSeries.list", "GET", `v3/projects/${this.project}/timeSeries?${query}`);
  }

  /**
   * The newest sample of a Pub/Sub subscription metric (Pub/Sub writes one a
   * minute; it shows a minute or two late), or undefined when there is none.
   * https://cloud.google.com/monitoring/api/metrics_gcp_p_z#gcp-pubsub
   */
  private async newestPoint(metric: string, subscription: string): Promise<number | undefined> {
    const end = new Date();
    const start = new Date(end.getTime() - MONITORING_LOOKBACK_MINUTES * 60_000);
    const subscriptionId = SUBSCRIPTION.exec(subscription)?.[2] ?? subscription;
    const query = new URLSearchParams({
      filter: `metric.type = "pubsub.googleapis.com/${metric}" AND resource.type = "pubsub_subscription" AND resource.labels.subscription_id = "${subscriptionId}"`,
      "interval.startTime": start.toISOString(),
      "interval.endTime": end.toISOString(),
      view: "FULL",
    });
    const answer = await this.json("monitoring", "monitoring.timeSeries.list", "GET", `v3/projects/${this.project}/timeSeries?${query}`);
    // Points come newest first.
    const point = (asArray(answer.timeSeries)[0] as { points?: { value?: { int64Value?: string; doubleValue?: number } }[] } | undefined)?.points?.[0]?.value;
    if (point === undefined) return undefined;
    return point.int64Value !== undefined ? Number(point.int64Value) : point.doubleValue;
  }

  /**
   * Detaches the push endpoint: with an empty pushConfig the subscription is a
   * pull subscription, so messages wait and no delivery attempt is spent
   * (a paused worker would take each one only to hold it again).
   * The live config must be the one `resume` derives, or nothing is changed.
   * https://cloud.google.com/pubsub/docs/reference/rest/v1/projects.subscriptions/modifyPushConfig
   */
  async setTrigger(running: boolean): Promise<void> {
    const work = await this.workSubscription();
    const [live, deployed] = await Promise.all([this.pushConfig(work), this.deployedPushConfig()]);
    if (running) {
      if (!samePushConfig(live, deployed)) await this.modifyPushConfig(work, deployed);
      return;
    }
    if (!live.pushEndpoint) return;
    if (!samePushConfig(live, deployed)) {
      throw new OpsUsageError(
        `${work} pushes to ${JSON.stringify(live)}, not to the deployed ${JSON.stringify(deployed)} that \`resume\` restores; nothing was changed: run \`npm run fleet -- resume\` to point it at the deployed function, then pause`,
      );
    }
    await this.modifyPushConfig(work, {});
  }

  private async modifyPushConfig(subscription: string, pushConfig: PushConfig): Promise<void> {
    await this.json("pubsub", "pubsub.subscriptions.modifyPushConfig", "POST", `v1/${subscription}:modifyPushConfig`, { pushConfig });
  }

  /** The newest enabled version's payload, as the workers read it (functions/gcp/settingsSource.ts). */
  async readSettings(): Promise<StoredSettings> {
    const parameter = this.outputs.configLocation;
    const versions: { name: string; createTime: string; disabled?: boolean }[] = [];
    let pageToken: string | undefined;
    do {
      const query = new URLSearchParams({ pageSize: "100", ...(pageToken === undefined ? {} : { pageToken }) });
      const page = await this.json("parametermanager", "parametermanager.parameterVersions.list", "GET", `v1/${parameter}/versions?${query}`);
      versions.push(...(asArray(page.parameterVersions) as { name: string; createTime: string; disabled?: boolean }[]));
      pageToken = typeof page.nextPageToken === "string" && page.nextPageToken !== "" ? page.nextPageToken : undefined;
    } while (pageToken !== undefined);
    const newest = newestEnabled(versions);
    if (newest === undefined) return { document: {} };
    const version = await this.json("parametermanager", "parametermanager.parameterVersions.get", "GET", `v1/${newest.name}`);
    const data = (version.payload as { data?: unknown } | undefined)?.data;
    const text = typeof data === "string" ? Buffer.from(data, "base64").toString("utf8") : "";
    const document = parseSettingsText(text, `Parameter Manager version ${newest.name}`, SETTINGS_EDIT_FIX);
    return { document, version: newest.name.split("/").pop() ?? newest.name };
  }

  /**
   * Adds a version: versions are immutable and each write is a new one, so the
   * history stays (`gcloud parametermanager parameters versions list`), and a
   * later `pulumi up` never touches it (infra/gcp/configStore.ts).
   * https://cloud.google.com/secret-manager/parameter-manager/docs/reference/rest/v1/projects.locations.parameters.versions/create
   */
  async writeSettings(document: Readonly<Record<string, unknown>>): Promise<StoredSettings> {
    // Ids allow letters, digits, hyphens and underscores; the time keeps them unique and sorted.
    const id = `ops-${new Date().toISOString().replace(/[-:.]/g, "").toLowerCase()}`;
    const query = new URLSearchParams({ parameter_version_id: id });
    await this.json("parametermanager", "parametermanager.parameterVersions.create", "POST", `v1/${this.outputs.configLocation}/versions?${query}`, {
      payload: { data: Buffer.from(JSON.stringify(document, null, 2)).toString("base64") },
    });
    return { document, version: id };
  }

  /**
   * One synchronous pull. `returnImmediately`, though discouraged for
   * throughput, keeps an empty dead-letter subscription from holding the
   * command until the server's long-poll gives up; an empty answer may still
   * come with messages waiting, which is why the loops stop only after two.
   * https://cloud.google.com/pubsub/docs/reference/rest/v1/projects.subscriptions/pull
   */
  private async pull(maxMessages: number): Promise<readonly ReceivedMessage[]> {
    const answer = await this.json("pubsub", "pubsub.subscriptions.pull", "POST", `v1/${this.outputs.deadLetterQueueUrl}:pull`, { maxMessages: Math.min(PULL_MAX, maxMessages), returnImmediately: true });
    return asArray(answer.receivedMessages) as ReceivedMessage[];
  }

  /** Gives pulled messages back at once (ack deadline 0), so they are redelivered as if never pulled. */
  private async release(ackIds: readonly string[]): Promise<void> {
    if (ackIds.length === 0) return;
    await this.json("pubsub", "pubsub.subscriptions.modifyAckDeadline", "POST", `v1/${this.outputs.deadLetterQueueUrl}:modifyAckDeadline`, { ackIds, ackDeadlineSeconds: 0 });
  }

  private async acknowledge(ackIds: readonly string[]): Promise<void> {
    if (ackIds.length === 0) return;
    await this.json("pubsub", "pubsub.subscriptions.acknowledge", "POST", `v1/${this.outputs.deadLetterQueueUrl}:acknowledge`, { ackIds });
  }

  /**
   * Pulls without acknowledging: the messages held are given back when the
   * listing ends (or fails), so listing consumes nothing. They are held until
   * then so a pull does not return the same ones again.
   */
  async listDeadLetters(limit: number): Promise<readonly DeadLetterEntry[]> {
    const seen = new Map<string, DeadLetterEntry>();
    const held: string[] = [];
    try {
      for (let empty = 0; seen.size < limit && empty < 2; ) {
        const messages = await this.pull(limit - seen.size);
        held.push(...messages.map((received) => received.ackId));
        const fresh = messages.filter((received) => !seen.has(received.message.messageId ?? received.ackId));
        empty = fresh.length === 0 ? empty + 1 : 0;
        for (const received of fresh) seen.set(received.message.messageId ?? received.ackId, describeDeadLetter(received));
      }
    } finally {
      await this.release(held);
    }
    return [...seen.values()].slice(0, limit);
  }

  /**
   * Pulls a batch, publishes the same bodies to the work topic, and
   * acknowledges the batch only after the publish succeeded; a failed publish
   * gives the batch back. A crash in between leaves a copy in both (the record
   * overwrites itself); none is dropped. Pub/Sub has no server-side move
   * that takes a rate, so `--rate` is refused rather than ignored.
   */
  async redriveDeadLetters(limit: number | undefined, onProgress: (progress: { moved: number }) => void, signal: AbortSignal, options: RedriveOptions = {}): Promise<number> {
    if (options.ratePerSecond !== undefined) {
      throw new OpsUsageError(`--rate ${options.ratePerSecond} sets the rate of an SQS move task; a Google Cloud redrive pulls and publishes batches of up to ${PULL_MAX} with no rate: leave out --rate (--limit N moves N)`);
    }
    let moved = 0;
    for (let empty = 0; (limit === undefined || moved < limit) && !signal.aborted && empty < 2; ) {
      const messages = await this.pull(limit === undefined ? PULL_MAX : limit - moved);
      if (messages.length === 0) {
        empty += 1;
        continue;
      }
      empty = 0;
      const ackIds = messages.map((received) => received.ackId);
      const refused = await this.publish(messages.map((received) => received.message.data ?? ""));
      if (refused.length > 0) {
        await this.release(ackIds);
        throw new Error(`the work topic refused ${refused.length} message(s) (${refused[0]?.reason ?? ""}); they stay in the dead-letter subscription, run redrive again`);
      }
      await this.acknowledge(ackIds);
      moved += messages.length;
      onProgress({ moved });
    }
    return moved;
  }

  /**
   * Seeks the dead-letter subscription to now: every message published before
   * is marked acknowledged at once. Pub/Sub does not say how many.
   * https://cloud.google.com/pubsub/docs/replay-overview#seek_to_a_time
   */
  async purgeDeadLetters(): Promise<number | undefined> {
    await this.json("pubsub", "pubsub.subscriptions.seek", "POST", `v1/${this.outputs.deadLetterQueueUrl}:seek`, { time: new Date().toISOString() });
    return undefined;
  }

  /** Pages through the prefix with objects.list, following its pageToken. */
  async *listResultObjects(prefix: string, signal: AbortSignal): AsyncIterable<string> {
    const bucket = encodeURIComponent(this.outputs.resultsBucket);
    let pageToken: string | undefined;
    do {
      const query = new URLSearchParams({ prefix, fields: "items(name),nextPageToken", ...(pageToken === undefined ? {} : { pageToken }) });
      const page = await this.json("storage", "storage.objects.list", "GET", `storage/v1/b/${bucket}/o?${query}`);
      for (const item of asArray(page.items) as { name?: string }[]) {
        if (typeof item.name === "string") yield item.name;
      }
      pageToken = typeof page.nextPageToken === "string" && page.nextPageToken !== "" ? page.nextPageToken : undefined;
    } while (pageToken !== undefined && !signal.aborted);
  }

  /** One media download (`alt=media`), its body streamed as it arrives (a batch object can hold a thousand records). */
  async *readResultObject(name: string, signal: AbortSignal): AsyncIterable<Uint8Array> {
    const bucket = encodeURIComponent(this.outputs.resultsBucket);
    const response = await this.request("storage", "storage.objects.get", "GET", `storage/v1/b/${bucket}/o/${encodeURIComponent(name)}?alt=media`, undefined, signal);
    if (response.body === null) return;
    yield* response.body;
  }

  async close(): Promise<void> {}
}

function samePushConfig(live: PushConfig, deployed: Required<PushConfig>): boolean {
  return live.pushEndpoint === deployed.pushEndpoint && live.oidcToken?.serviceAccountEmail === deployed.oidcToken.serviceAccountEmail && live.oidcToken?.audience === deployed.oidcToken.audience;
}

/**
 * Pub/Sub adds the source subscription and the delivery count to a message
 * it dead-letters. https://cloud.google.com/pubsub/docs/handling-failures#track-delivery-attempts
 */
function describeDeadLetter(received: ReceivedMessage): DeadLetterEntry {
  const body = Buffer.from(received.message.data ?? "", "base64").toString("utf8");
  const attributes = received.message.attributes ?? {};
  const attempts = Number(attributes.CloudPubSubDeadLetterSourceDeliveryCount ?? Number.NaN);
  const source = attributes.CloudPubSubDeadLetterSourceSubscription;
  const common = {
    reason: `not acknowledged after maxDeliveryAttempts deliveries${source === undefined ? "" : ` from ${source}`} (the worker's log has each failure)`,
    ...(Number.isFinite(attempts) ? { attempts } : {}),
    ...(received.message.publishTime === undefined ? {} : { time: received.message.publishTime }),
  };
  try {
    return { url: parseMessage(body).url, ...common };
  } catch {
    return { body: body.slice(0, 200), ...common };
  }
}
