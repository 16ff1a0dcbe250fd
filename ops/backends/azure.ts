/**
 * An Azure fleet as an operations backend: a thin adapter over
 * - Service Bus (the work queue and its `$DeadLetterQueue`) through its REST
 *   API over HTTPS with Entra ID tokens. Why not `@azure/service-bus`: that SDK
 *   speaks AMQP only, and no Service Bus emulator installs from npm, so nothing
 *   it sends could be checked on loopback; the REST API takes the same tokens
 *   and roles (Azure Service Bus Data Sender / Receiver) and is plain HTTPS.
 *   https://learn.microsoft.com/rest/api/servicebus/service-bus-runtime-rest
 *   https://learn.microsoft.com/azure/service-bus-messaging/authenticate-application#use-rest-api
 * - Azure Resource Manager (the queue's runtime counts, the function app's app
 *   settings, where the trigger is switched off);
 * - App Configuration (`@azure/app-configuration`, the settings key-value the worker reads);
 * - Blob Storage (`@azure/storage-blob`, the results container).
 * Every call signs in through `DefaultAzureCredential`.
 */
import { AppConfigurationClient } from "@azure/app-configuration";
import { DefaultAzureCredential, type AccessToken, type TokenCredential } from "@azure/identity";
import { ContainerClient } from "@azure/storage-blob";
import { AZURE_APP_SETTINGS, SCRAPE_DISABLED_SETTING } from "../../functions/azure/appSettings";
import { fleetMetricsLinesKql } from "../../functions/azure/metrics";
import { resourceName } from "../../infra/naming";
import { describeError } from "../../shared/errors";
import { encodeMessage, parseMessage, type ScrapeMessage } from "../../shared/message";
import { METRICS, OUTCOME_METRIC } from "../../shared/metricNames";
import { pagesPerMinute, parseSettingsText, SETTINGS_EDIT_FIX, unreadNote, type DeadLetterEntry, type FleetBackend, type FleetStatus, type RefusedEntry, type StoredSettings } from "../backend";
import { CredentialsError, OpsUsageError } from "../errors";
import type { StackOutputs } from "../target";

const CHAIN =
  "DefaultAzureCredential (AZURE_CLIENT_ID/AZURE_TENANT_ID with a secret or certificate, workload identity, managed identity, Azure CLI, Azure PowerShell, Azure Developer CLI)";
const CHAIN_FIX = "run `az login` (and `az account set --subscription ID` for the fleet's subscription), or set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET; check with `az account get-access-token`";

/** Error names `@azure/identity` gives a credential that is missing or refused. */
const CREDENTIAL_ERRORS = new Set(["CredentialUnavailableError", "AggregateAuthenticationError", "AuthenticationError", "AuthenticationRequiredError"]);

/** Entra ID token audiences. https://learn.microsoft.com/azure/service-bus-messaging/authenticate-application#authenticate-from-an-application */
/**
 * Token audiences: Service Bus, ARM, and the Log Analytics query API.
 * https://learn.microsoft.com/azure/azure-monitor/logs/api/access-api
 */
const SCOPES = { serviceBus: "https://servicebus.azure.net/.default", resourceManager: "https://management.azure.com/.default", logAnalytics: "https://api.loganalytics.io/.default" } as const;

export const RESOURCE_MANAGER_ENDPOINT = "https://management.azure.com";
/**
 * The Log Analytics query API, queried in the workspace's own context (all of
 * its tables). The ARM forms are not used: the workspace's `api/query` was a
 * beta retired on 2026-03-31, and the resource-centric `microsoft.insights/logs`
 * returns only rows whose `_ResourceId` is the resource named, which the
 * Application Insights rows in a workspace are not.
 * https://learn.microsoft.com/azure/azure-monitor/logs/api/request-format
 * https://learn.microsoft.com/azure/azure-monitor/logs/api/batch-beta-migration
 */
export const LOG_ANALYTICS_ENDPOINT = "https://api.loganalytics.azure.com";
/**
 * ARM API versions: Service Bus queues (with `countDetails`), Web sites' app
 * settings, and Log Analytics workspaces (for the workspace's `customerId`).
 * https://learn.microsoft.com/rest/api/loganalytics/workspaces/get
 */
const API_VERSIONS = { serviceBus: "2021-11-01", web: "2024-04-01", workspaces: "2022-10-01" } as const;

/**
 * One REST batch send may carry at most 256 KB on the Standard tier, counted
 * over the whole batch with each message's system and user properties.
 * https://learn.microsoft.com/azure/service-bus-messaging/service-bus-quotas#messaging-quotas
 * https://learn.microsoft.com/rest/api/servicebus/send-message-batch
 * The enqueue command counts only the bodies (the REST envelope's JSON
 * escaping is not part of the message); 192 KiB of bodies and at most 500
 * messages leave 64 KiB, over 100 bytes a message, for the system properties
 * the broker adds to each (ids, timestamps, sequence number). The REST send
 * has no count limit of its own.
 */
const SERVICE_BUS_BATCH = { maxMessages: 500, maxBytes: 192 * 1024, inFlight: 8 } as const;
/**
 * The REST receive's wait for a message, in seconds: the shortest it takes,
 * so an empty sub-queue ends a list, redrive or purge after a second.
 * https://learn.microsoft.com/rest/api/servicebus/peek-lock-message-non-destructive-read
 */
const RECEIVE_TIMEOUT_SECONDS = 1;
/** Dead letters locked, sent and completed per redrive round, and the peek-locks in flight to gather them. */
const REDRIVE_ROUND = 100;
const REDRIVE_LOCKS_IN_FLIGHT = 8;
/** Receive-and-delete calls in flight during a purge. */
const PURGE_IN_FLIGHT = 8;
/** Blob listing page: the most List Blobs returns per call. https://learn.microsoft.com/rest/api/storageservices/list-blobs#uri-parameters */
const BLOB_PAGE = 5_000;
/** A token is fetched again this long before it expires. */
const TOKEN_MARGIN_MS = 5 * 60_000;


export interface AzureBackendClients {
  readonly credential: TokenCredential;
  /** ARM's endpoint (another for a sovereign cloud). */
  readonly resourceManager: string;
  /** The Log Analytics query API's endpoint (another for a sovereign cloud). */
  readonly logAnalytics: string;
  /** On the store the worker reads (the output `configLocation`). */
  readonly settings: AppConfigurationClient;
  /** The results container (the output `resultsBucket`). */
  readonly results: ContainerClient;
  /** Blobs per listing page. 1 to 5,000. @default 5000 */
  readonly resultsPageSize?: number;
}

/** The parts of an Azure stack's outputs the backend addresses. */
export interface AzureFleetAddress {
  /** `/subscriptions/<id>/resourceGroups/<name>`: the stack's resource group, where every resource of the fleet lives. */
  readonly resourceGroupId: string;
  readonly queueUrl: string;
  readonly queueResourceId: string;
  readonly siteResourceId: string;
  readonly configEndpoint: string;
  readonly settingsKey: string;
  readonly resultsAccount: string;
  readonly resultsContainer: string;
}

export function azureFleetAddress(outputs: StackOutputs, label: string): AzureFleetAddress {
  const queue = /^(\/subscriptions\/[^/]+\/resourceGroups\/[^/]+)\/providers\/Microsoft\.ServiceBus\/namespaces\/[^/]+\/queues\/[^/]+$/i.exec(outputs.workQueueId);
  if (!queue) throw new OpsUsageError(`${label}: workQueueId ${JSON.stringify(outputs.workQueueId)} is not a Service Bus queue resource id; read the outputs of an Azure stack`);
  const config = /^(.+)\/kv\/([^/]+)$/.exec(outputs.configLocation);
  if (!config) throw new OpsUsageError(`${label}: configLocation ${JSON.stringify(outputs.configLocation)} is not <App Configuration endpoint>/kv/<key>; read the outputs of an Azure stack`);
  const results = /^([a-z0-9]+)\/([a-z0-9-]+)$/.exec(outputs.resultsBucket);
  if (!results) throw new OpsUsageError(`${label}: resultsBucket ${JSON.stringify(outputs.resultsBucket)} is not <storage account>/<container>; read the outputs of an Azure stack`);
  return {
    resourceGroupId: queue[1] as string,
    queueUrl: outputs.workQueueUrl.replace(/\/+$/, ""),
    queueResourceId: outputs.workQueueId,
    siteResourceId: `${queue[1]}/providers/Microsoft.Web/sites/${outputs.workerName}`,
    configEndpoint: config[1] as string,
    settingsKey: decodeURIComponent(config[2] as string),
    resultsAccount: results[1] as string,
    resultsContainer: results[2] as string,
  };
}

export async function openAzureBackend(outputs: StackOutputs, label: string): Promise<FleetBackend> {
  const address = azureFleetAddress(outputs, label);
  const credential = new DefaultAzureCredential();
  return new AzureBackend(address, label, {
    credential,
    resourceManager: RESOURCE_MANAGER_ENDPOINT,
    logAnalytics: LOG_ANALYTICS_ENDPOINT,
    settings: new AppConfigurationClient(address.configEndpoint, credential),
    results: new ContainerClient(`https://${address.resultsAccount}.blob.core.windows.net/${address.resultsContainer}`, credential),
  });
}

/** A Service Bus or ARM answer that was not a success. */
class AzureHttpError extends Error {
  constructor(
    readonly operation: string,
    /** The token audience, which tells Service Bus from ARM. */
    readonly scope: string,
    readonly status: number,
    detail: string,
  ) {
    super(`${operation}: HTTP ${status}${detail ? ` ${detail}` : ""}`);
    this.name = "AzureHttpError";
  }

  /** Throttling, a timeout and server errors may pass on a later try; anything else will fail again as sent. */
  get retryable(): boolean {
    return this.status === 408 || this.status === 429 || this.status >= 500;
  }
}

/** A message under a peek-lock: its body, broker properties and the URL that settles it. */
interface LockedMessage {
  readonly body: string;
  readonly broker: Record<string, unknown>;
  readonly properties: Record<string, unknown>;
  readonly lockUrl: string;
}

export class AzureBackend implements FleetBackend {
  readonly description: string;
  readonly queueId: string;
  readonly limits = SERVICE_BUS_BATCH;
  private readonly deadLetterUrl: string;
  private readonly tokens = new Map<string, Promise<AccessToken>>();
  /** The workspace's `customerId`, read on the first status and kept (a failed read is tried again). */
  private workspaceId: Promise<string> | undefined;

  constructor(
    private readonly address: AzureFleetAddress,
    label: string,
    private readonly clients: AzureBackendClients,
  ) {
    this.description = `azure ${label}`;
    this.queueId = address.queueUrl;
    this.deadLetterUrl = `${address.queueUrl}/$DeadLetterQueue`;
  }

  /** A token for `scope`, kept until shortly before it expires (the Azure CLI credential starts a process per token). */
  private async token(scope: string): Promise<string> {
    const cached = this.tokens.get(scope);
    if (cached) {
      const token = await cached.catch(() => undefined);
      if (token && token.expiresOnTimestamp - TOKEN_MARGIN_MS > Date.now()) return token.token;
    }
    const next = this.call(`sign-in for ${scope}`, async () => {
      const token = await this.clients.credential.getToken(scope);
      if (!token) throw new CredentialsError(CHAIN, `no token for ${scope}`, CHAIN_FIX);
      return token;
    });
    this.tokens.set(scope, next);
    return (await next).token;
  }

  /** Runs one call, turning a missing or refused credential into `CredentialsError` with the chain and the fix. */
  private async call<T>(operation: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof CredentialsError) throw error;
      const name = error instanceof Error ? error.name : "";
      const detail = error instanceof Error ? `${name}: ${error.message.split("\n")[0]}` : String(error);
      const status = error instanceof AzureHttpError ? error.status : (error as { statusCode?: unknown }).statusCode;
      if (CREDENTIAL_ERRORS.has(name) || status === 401) throw new CredentialsError(CHAIN, `${operation}: ${detail}`, CHAIN_FIX);
      // Service Bus answers a refused token with 401 and uses 403 for a full queue or a message too large.
      // https://learn.microsoft.com/rest/api/servicebus/send-message-batch#response-codes
      if (status === 403 && !(error instanceof AzureHttpError && error.scope === SCOPES.serviceBus)) {
        throw new CredentialsError(
          CHAIN,
          `${operation} was refused: ${detail}`,
          "sign in as a principal with the fleet's operator roles (Azure Service Bus Data Owner on the queue, Contributor on the function app, App Configuration Data Owner, Storage Blob Data Reader on the results container, Log Analytics Reader on the workspace)",
        );
      }
      throw error;
    }
  }

  /** One REST call with a bearer token; a status outside `ok` throws `AzureHttpError`. */
  private async http(operation: string, scope: string, url: string, init: { readonly method: string; readonly body?: string; readonly contentType?: string }, ok: readonly number[]): Promise<Response> {
    return this.call(operation, async () => {
      const headers: Record<string, string> = { authorization: `Bearer ${await this.token(scope)}` };
      if (init.contentType) headers["content-type"] = init.contentType;
      const response = await fetch(url, { method: init.method, headers, ...(init.body === undefined ? {} : { body: init.body }) });
      if (!ok.includes(response.status)) throw new AzureHttpError(operation, scope, response.status, (await response.text()).slice(0, 300));
      return response;
    });
  }

  private async arm(operation: string, path: string, method: "GET" | "POST" | "PUT", apiVersion: string, body?: unknown): Promise<Record<string, unknown>> {
    const response = await this.http(
      operation,
      SCOPES.resourceManager,
      `${this.clients.resourceManager.replace(/\/+$/, "")}${path}?api-version=${apiVersion}`,
      { method, ...(body === undefined ? {} : { body: JSON.stringify(body), contentType: "application/json" }) },
      [200],
    );
    return (await response.json()) as Record<string, unknown>;
  }

  /**
   * Send Message Batch: one request, accepted or refused whole, so a refusal
   * refuses every entry with the same retryability.
   * https://learn.microsoft.com/rest/api/servicebus/send-message-batch
   */
  async sendBatch(messages: readonly ScrapeMessage[]): Promise<readonly RefusedEntry[]> {
    try {
      await this.sendBodies(messages.map((message) => encodeMessage(message)));
      return [];
    } catch (error) {
      if (!(error instanceof AzureHttpError)) throw error;
      return messages.map((_, index) => ({ index, reason: error.message, retryable: error.retryable }));
    }
  }

  private async sendBodies(bodies: readonly string[]): Promise<void> {
    const batch = bodies.map((body) => ({ Body: body, BrokerProperties: { ContentType: "application/json" } }));
    await this.http("Service Bus send batch", SCOPES.serviceBus, `${this.address.queueUrl}/messages`, { method: "POST", body: JSON.stringify(batch), contentType: "application/vnd.microsoft.servicebus.json" }, [201]);
  }

  /** The queue's runtime counts from its ARM resource. https://learn.microsoft.com/rest/api/servicebus/controlplane-stable/queues/get */
  private async queueCounts(): Promise<{ active: number; scheduled: number; deadLetters: number }> {
    const queue = await this.arm("Service Bus queues/read", this.address.queueResourceId, "GET", API_VERSIONS.serviceBus);
    const counts = ((queue.properties as Record<string, unknown> | undefined)?.countDetails ?? {}) as Record<string, unknown>;
    return { active: Number(counts.activeMessageCount ?? 0), scheduled: Number(counts.scheduledMessageCount ?? 0), deadLetters: Number(counts.deadLetterMessageCount ?? 0) };
  }

  /** The function app's app settings, all of them. https://learn.microsoft.com/rest/api/appservice/web-apps/list-application-settings */
  private async appSettings(): Promise<Record<string, string>> {
    const answer = await this.arm("Web sites/config/list", `${this.address.siteResourceId}/config/appsettings/list`, "POST", API_VERSIONS.web);
    return { ...((answer.properties ?? {}) as Record<string, string>) };
  }

  private static disabled(settings: Readonly<Record<string, string>>): boolean {
    const value = settings[SCRAPE_DISABLED_SETTING]?.trim().toLowerCase();
    return value === "true" || value === "1";
  }

  /**
   * Active messages include the ones a worker holds under lock: Service Bus
   * counts no separate in-flight figure, so `inFlight` is left out. The pages
   * and fetch times come from the workers' `fleet_metrics` lines
   * (functions/azure/metrics.ts), which reach Log Analytics a few minutes
   * after they are written.
   */
  async status(windowMinutes: number): Promise<FleetStatus> {
    const [counts, appSettings, settings] = await Promise.all([this.queueCounts(), this.appSettings(), this.readSettings()]);
    const fleetName = appSettings[AZURE_APP_SETTINGS.fleetName];
    // The page figures are the workers' log lines in Log Analytics: an
    // operator without read access there still gets the queue's state.
    let pages: Awaited<ReturnType<AzureBackend["windowPages"]>> | undefined;
    let unread: string | undefined;
    try {
      pages = fleetName === undefined ? undefined : await this.windowPages(fleetName, windowMinutes);
    } catch (error) {
      unread = unreadNote("pages/min, outcomes and fetch time", `the Log Analytics query failed (${error instanceof CredentialsError ? error.detail : describeError(error)})`, "Log Analytics Reader on the stack's workspace");
    }
    return {
      backlog: counts.active + counts.scheduled,
      deadLetters: counts.deadLetters,
      triggerEnabled: !AzureBackend.disabled(appSettings),
      settingsEnabled: settings.document.enabled !== false,
      ...(pages === undefined
        ? {}
        : {
            pagesPerMinute: pagesPerMinute(pages.outcomes, windowMinutes),
            outcomes: pages.outcomes,
            ...(pages.fetched > 0 ? { fetchLatency: { pages: pages.fetched, averageMs: pages.fetchMs / pages.fetched } } : {}),
          }),
      windowMinutes,
      ...(unread === undefined ? {} : { unread: [unread] }),
    };
  }

  /**
   * The window's `fleet_metrics` lines summed, from the stack's Log Analytics
   * workspace (named from the fleet's prefix, as infra/azure/config.ts names
   * it), in the workspace's schema (`fleetMetricsLinesKql`). The query API
   * addresses a workspace by its `customerId`, read once from its ARM
   * resource. Both need read access to the workspace (Log Analytics Reader).
   */
  private async windowPages(fleetName: string, windowMinutes: number): Promise<{ readonly outcomes: Record<"ok" | "failed" | "retry" | "malformed", number>; readonly fetched: number; readonly fetchMs: number }> {
    this.workspaceId ??= this.readWorkspaceId(fleetName);
    const workspaceId = await this.workspaceId.catch((error: unknown) => {
      this.workspaceId = undefined;
      throw error;
    });
    const sum = (field: string) => `sum(toint(line.${field}))`;
    const query = [
      fleetMetricsLinesKql("workspace"),
      `| where tostring(line.fleet) == ${JSON.stringify(fleetName)}`,
      `| summarize ok = ${sum(OUTCOME_METRIC.ok)}, failed = ${sum(OUTCOME_METRIC.failed)}, retry = ${sum(OUTCOME_METRIC.retry)}, malformed = ${sum(OUTCOME_METRIC.malformed)},`,
      `    fetched = sum(toint(line.${METRICS.fetchLatencyMs}["count"])), fetchMs = sum(todouble(line.${METRICS.fetchLatencyMs}["sum"]))`,
    ].join("\n");
    const response = await this.http(
      "Log Analytics query",
      SCOPES.logAnalytics,
      `${this.clients.logAnalytics.replace(/\/+$/, "")}/v1/workspaces/${encodeURIComponent(workspaceId)}/query`,
      { method: "POST", body: JSON.stringify({ query, timespan: `PT${windowMinutes}M` }), contentType: "application/json" },
      [200],
    );
    const answer = (await response.json()) as Record<string, unknown>;
    const table = ((Array.isArray(answer.tables) ? answer.tables[0] : undefined) ?? {}) as { columns?: { name?: string }[]; rows?: unknown[][] };
    const row = table.rows?.[0] ?? [];
    const column = (name: string): number => {
      const index = (table.columns ?? []).findIndex((candidate) => candidate.name === name);
      const value = Number(index < 0 ? 0 : (row[index] ?? 0));
      return Number.isFinite(value) ? value : 0;
    };
    return {
      outcomes: { ok: column("ok"), failed: column("failed"), retry: column("retry"), malformed: column("malformed") },
      fetched: column("fetched"),
      fetchMs: column("fetchMs"),
    };
  }

  /** The stack's workspace's `customerId`: the id the query API takes. */
  private async readWorkspaceId(fleetName: string): Promise<string> {
    const workspace = `${this.address.resourceGroupId}/providers/Microsoft.OperationalInsights/workspaces/${resourceName("azureLogAnalyticsWorkspace", fleetName, "logs")}`;
    const resource = await this.arm("Log Analytics workspaces/read", workspace, "GET", API_VERSIONS.workspaces);
    const customerId = (resource.properties as Record<string, unknown> | undefined)?.customerId;
    if (typeof customerId !== "string" || customerId === "") throw new Error(`workspace ${workspace} answered without properties.customerId`);
    return customerId;
  }

  /**
   * Sets or removes `AzureWebJobs.<function>.Disabled`. Update Application
   * Settings replaces the whole set, so the current set is read first and put
   * back with the one change; nothing is written when it already holds.
   * https://learn.microsoft.com/rest/api/appservice/web-apps/update-application-settings
   */
  async setTrigger(running: boolean): Promise<void> {
    const disabled = !running;
    const settings = await this.appSettings();
    if (AzureBackend.disabled(settings) === disabled) return;
    if (disabled) settings[SCRAPE_DISABLED_SETTING] = "true";
    else delete settings[SCRAPE_DISABLED_SETTING];
    await this.arm("Web sites/config/write", `${this.address.siteResourceId}/config/appsettings`, "PUT", API_VERSIONS.web, { properties: settings });
  }

  private get settingsName(): string {
    return `App Configuration ${this.address.configEndpoint} key ${this.address.settingsKey}`;
  }

  async readSettings(): Promise<StoredSettings> {
    const setting = await this.call("App Configuration read", () => this.clients.settings.getConfigurationSetting({ key: this.address.settingsKey }));
    const text = setting.value ?? "";
    const document = parseSettingsText(text, this.settingsName, SETTINGS_EDIT_FIX);
    return { document, ...(setting.etag === undefined ? {} : { version: setting.etag }) };
  }

  /** Each write is a new revision the store keeps (`az appconfig revision list`). */
  async writeSettings(document: Readonly<Record<string, unknown>>): Promise<StoredSettings> {
    const written = await this.call("App Configuration write", () =>
      this.clients.settings.setConfigurationSetting({ key: this.address.settingsKey, value: JSON.stringify(document), contentType: "application/json" }),
    );
    return { document, ...(written.etag === undefined ? {} : { version: written.etag }) };
  }

  /** Peek-Lock Message on the dead-letter sub-queue: the head message, locked, or undefined when there is none. */
  private async lockDeadLetter(): Promise<LockedMessage | undefined> {
    const response = await this.http(
      "Service Bus peek-lock",
      SCOPES.serviceBus,
      `${this.deadLetterUrl}/messages/head?timeout=${RECEIVE_TIMEOUT_SECONDS}`,
      { method: "POST" },
      [201, 204],
    );
    if (response.status === 204) return undefined;
    const lockUrl = response.headers.get("location");
    if (!lockUrl) throw new Error(`Service Bus peek-lock on ${this.deadLetterUrl} answered without a Location header, so the message cannot be settled`);
    const properties: Record<string, unknown> = {};
    // Custom properties come as headers, their values JSON-quoted. https://learn.microsoft.com/rest/api/servicebus/message-headers-and-properties
    for (const name of ["DeadLetterReason", "DeadLetterErrorDescription"]) {
      const value = response.headers.get(name);
      if (value !== null) properties[name] = unquote(value);
    }
    return { body: await response.text(), broker: JSON.parse(response.headers.get("brokerproperties") ?? "{}") as Record<string, unknown>, properties, lockUrl };
  }

  private async settle(message: LockedMessage, action: "complete" | "unlock"): Promise<void> {
    // DELETE on the lock's location completes the message, PUT unlocks it.
    // https://learn.microsoft.com/rest/api/servicebus/delete-message https://learn.microsoft.com/rest/api/servicebus/unlock-message
    await this.http(`Service Bus ${action}`, SCOPES.serviceBus, message.lockUrl, { method: action === "complete" ? "DELETE" : "PUT" }, [200]);
  }

  private async unlockAll(messages: readonly LockedMessage[]): Promise<void> {
    await Promise.allSettled(messages.map((message) => this.settle(message, "unlock")));
  }

  /**
   * The REST API has no browse (the AMQP-only peek), so listing locks up to
   * `limit` dead letters one after another and unlocks them all at the end:
   * nothing leaves the sub-queue, and each listed letter's delivery count
   * goes up by one (dead letters are never dead-lettered again for it).
   */
  async listDeadLetters(limit: number): Promise<readonly DeadLetterEntry[]> {
    const listed: LockedMessage[] = [];
    const locks: LockedMessage[] = [];
    const sequences = new Set<unknown>();
    try {
      while (listed.length < limit) {
        const message = await this.lockDeadLetter();
        if (!message) break;
        locks.push(message);
        // A long listing can outlast the lock duration; an expired lock hands a listed message out again, which ends the list.
        const sequence = message.broker.SequenceNumber;
        if (sequence !== undefined && sequences.has(sequence)) break;
        sequences.add(sequence);
        listed.push(message);
      }
    } finally {
      await this.unlockAll(locks);
    }
    return listed.map(describeDeadLetter);
  }

  /**
   * Rounds of: lock up to 100 dead letters (8 peek-locks at a time, no more
   * than one batch's bytes), send their bodies to the work queue in one batch,
   * and only after the send succeeded complete them. A crash between the two
   * leaves a copy in both (the record overwrites itself); a refused send
   * unlocks them, so none is ever lost.
   */
  async redriveDeadLetters(limit: number | undefined, onProgress: (progress: { moved: number }) => void, signal: AbortSignal): Promise<number> {
    let moved = 0;
    let empty = false;
    const wanted = limit ?? Number.POSITIVE_INFINITY;
    while (moved < wanted && !empty && !signal.aborted) {
      const target = Math.min(REDRIVE_ROUND, wanted - moved);
      const round: LockedMessage[] = [];
      // Locked by a peek-lock that finished after the round filled up: unlocked, for a later round.
      const spare: LockedMessage[] = [];
      let bytes = 0;
      const lockMore = async (): Promise<void> => {
        while (!empty && round.length < target && spare.length === 0) {
          const message = await this.lockDeadLetter();
          if (!message) {
            empty = true;
            return;
          }
          const size = Buffer.byteLength(message.body);
          if (round.length >= target || (round.length > 0 && bytes + size > SERVICE_BUS_BATCH.maxBytes)) spare.push(message);
          else {
            round.push(message);
            bytes += size;
          }
        }
      };
      try {
        await Promise.all(Array.from({ length: REDRIVE_LOCKS_IN_FLIGHT }, lockMore));
        await this.unlockAll(spare);
        if (round.length === 0) break;
        await this.sendBodies(round.map((message) => message.body));
      } catch (error) {
        await this.unlockAll([...round, ...spare]);
        throw error;
      }
      await Promise.all(round.map((message) => this.settle(message, "complete")));
      moved += round.length;
      onProgress({ moved });
    }
    return moved;
  }

  /** Receive and Delete until the sub-queue answers empty; the REST API has no purge. https://learn.microsoft.com/rest/api/servicebus/receive-and-delete-message-destructive-read */
  async purgeDeadLetters(): Promise<number> {
    let purged = 0;
    let empty = false;
    const drain = async (): Promise<void> => {
      while (!empty) {
        const response = await this.http("Service Bus receive-and-delete", SCOPES.serviceBus, `${this.deadLetterUrl}/messages/head?timeout=${RECEIVE_TIMEOUT_SECONDS}`, { method: "DELETE" }, [200, 204]);
        await response.arrayBuffer();
        if (response.status === 204) empty = true;
        else purged += 1;
      }
    };
    await Promise.all(Array.from({ length: PURGE_IN_FLIGHT }, drain));
    return purged;
  }

  /** Lists the prefix page by page, each page's continuation token asking for the next. */
  async *listResultObjects(prefix: string, signal: AbortSignal): AsyncIterable<string> {
    const pages = this.clients.results.listBlobsFlat({ prefix, abortSignal: signal }).byPage({ maxPageSize: this.clients.resultsPageSize ?? BLOB_PAGE });
    for (;;) {
      const page = await this.call("Blob list", () => pages.next());
      if (page.done) return;
      for (const blob of page.value.segment.blobItems) yield blob.name;
    }
  }

  /** Get Blob, its body streamed as it arrives (a batch object can hold a thousand records). */
  async *readResultObject(name: string, signal: AbortSignal): AsyncIterable<Uint8Array | string> {
    const download = await this.call("Blob read", () => this.clients.results.getBlobClient(name).download(0, undefined, { abortSignal: signal }));
    if (download.readableStreamBody === undefined) return;
    yield* download.readableStreamBody;
  }

  async close(): Promise<void> {
    this.tokens.clear();
  }
}

function unquote(value: string): unknown {
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
}

function describeDeadLetter(message: LockedMessage): DeadLetterEntry {
  const reason = [message.properties.DeadLetterReason, message.properties.DeadLetterErrorDescription].filter((part) => typeof part === "string" && part !== "").join(": ");
  const deliveries = Number(message.broker.DeliveryCount);
  const enqueued = Date.parse(String(message.broker.EnqueuedTimeUtc));
  const common = {
    ...(reason ? { reason } : {}),
    // The listing's own lock counts as a delivery.
    ...(Number.isFinite(deliveries) ? { attempts: deliveries - 1 } : {}),
    ...(Number.isFinite(enqueued) ? { time: new Date(enqueued).toISOString() } : {}),
  };
  try {
    return { url: parseMessage(message.body).url, ...common };
  } catch {
    return { body: message.body.slice(0, 200), ...common };
  }
}
