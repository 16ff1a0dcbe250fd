/**
 * Runtime settings from Parameter Manager, read through the shared TTL cache.
 *
 * Parameter Manager's REST API is called with `fetch` and an access token,
 * not through `@google-cloud/parametermanager`: that client is gRPC-first
 * (google-gax, @grpc/grpc-js, protobufjs) and adds about 1.8 MB to a minified
 * bundle for two GET requests a minute. The token comes from the auth client
 * the Storage client already holds, so nothing new is loaded.
 * https://cloud.google.com/secret-manager/parameter-manager/docs/reference/rest
 *
 * Versions are immutable, and the API has no `latest` alias, so the source
 * lists the parameter's versions and reads the newest enabled one. An operator
 * changes the settings by adding a version; `pulumi up` only ever manages the
 * first one, so it never puts older settings back.
 */
import { SettingsError } from "../../shared/errors";
import type { Logger } from "../../shared/ports";
import { SettingsCache, settingsErrorLogger, type SettingsSource } from "../../shared/settings";
import { integerOption } from "../handlerConfig";
import { apiErrorMessage, asArray } from "./googleApi";

export const PARAMETER_MANAGER_ENDPOINT = "https://parametermanager.googleapis.com";

const REQUEST_TIMEOUT_MS = { min: 100, max: 60_000, default: 5_000 } as const;

export interface ParameterManagerSourceOptions {
  /** The parameter's resource name (env `SETTINGS_PARAMETER`): `projects/<project>/locations/global/parameters/<id>`. */
  readonly parameter: string;
  /** An OAuth 2.0 access token for the function's runtime service account. */
  readonly getAccessToken: () => Promise<string>;
  /** Where the API is. @default "https://parametermanager.googleapis.com" */
  readonly endpoint?: string;
  /** Time allowed per HTTP request, 100 to 60 000 ms. @default 5000 */
  readonly requestTimeoutMs?: number;
}

/** Parameter Manager answered with an error, or with something that is not a version list or a version. */
export class ParameterManagerError extends Error {
  readonly code = "parameter_read_failed";
  /** The HTTP status, when the API answered. */
  readonly status?: number;

  constructor(message: string, status?: number) {
    super(message);
    this.name = "ParameterManagerError";
    this.status = status;
  }
}

interface VersionSummary {
  readonly name: string;
  readonly createTime: string;
  readonly disabled?: boolean;
}

/** Versions per page: the API's maximum is not documented; 100 keeps a parameter with a long history to a few pages. */
const PAGE_SIZE = 100;
const PARAMETER_NAME = /^projects\/[^/]+\/locations\/[^/]+\/parameters\/[^/]+$/;

/** Reads the settings document: the payload of the parameter's newest enabled version. */
export function createParameterManagerSource(options: ParameterManagerSourceOptions): SettingsSource {
  const { parameter, getAccessToken } = options;
  if (!PARAMETER_NAME.test(parameter)) {
    throw new ParameterManagerError(`\`parameter\` must be a resource name such as projects/my-project/locations/global/parameters/settings (given ${JSON.stringify(parameter)})`);
  }
  const endpoint = (options.endpoint ?? PARAMETER_MANAGER_ENDPOINT).replace(/\/+$/, "");
  const timeoutMs = integerOption("requestTimeoutMs", options.requestTimeoutMs, REQUEST_TIMEOUT_MS);
  const name = `parametermanager:${parameter}`;
  /** The payload of the version read last: when no newer version exists, the list call is all a refresh costs. */
  let last: { readonly version: string; readonly text: string } | undefined;

  async function getJson(path: string): Promise<Record<string, unknown>> {
    const token = await getAccessToken();
    const response = await fetch(`${endpoint}/v1/${path}`, {
      headers: { authorization: `Bearer ${token}`, accept: "application/json" },
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    if (!response.ok) {
      throw new ParameterManagerError(`GET ${path} answered ${response.status}: ${apiErrorMessage(text)}${response.status === 403 ? "; the runtime service account needs roles/parametermanager.parameterViewer (infra/gcp/identity.ts grants it)" : ""}`, response.status);
    }
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
    } catch {
      // Reported below with the text.
    }
    throw new ParameterManagerError(`GET ${path} answered ${response.status} with a body that is not a JSON object: ${JSON.stringify(text.slice(0, 80))}`, response.status);
  }

  async function listVersions(): Promise<VersionSummary[]> {
    const versions: VersionSummary[] = [];
    let pageToken: string | undefined;
    do {
      const query = new URLSearchParams({ pageSize: String(PAGE_SIZE), ...(pageToken ? { pageToken } : {}) });
      const page = await getJson(`${parameter}/versions?${query}`);
      for (const version of asArray(page.parameterVersions)) {
        if (isVersionSummary(version)) versions.push(version);
      }
      pageToken = typeof page.nextPageToken === "string" && page.nextPageToken !== "" ? page.nextPageToken : undefined;
    } while (pageToken !== undefined);
    return versions;
  }

  return {
    name,
    async read() {
      const newest = newestEnabled(await listVersions());
      if (newest === undefined) {
        throw new SettingsError(name, [
          {
            key: "(document)",
            value: undefined,
            problem: "has no enabled version",
            fix: `add one: gcloud parametermanager parameters versions create v2 --parameter=${parameter.split("/").pop()} --location=global --payload-data-from-file=settings.json`,
          },
        ]);
      }
      if (last?.version === newest.name) return last.text;
      const version = await getJson(newest.name);
      const payload = version.payload;
      const data = typeof payload === "object" && payload !== null ? (payload as Record<string, unknown>).data : undefined;
      if (typeof data !== "string") throw new ParameterManagerError(`version ${newest.name} came back without payload.data`);
      const text = Buffer.from(data, "base64").toString("utf8");
      last = { version: newest.name, text };
      return text;
    },
  };
}

/** The newest version that is not disabled; `createTime` is RFC 3339 with up to nine fractional digits. */
export function newestEnabled(versions: readonly VersionSummary[]): VersionSummary | undefined {
  let newest: VersionSummary | undefined;
  for (const version of versions) {
    if (version.disabled === true) continue;
    if (newest === undefined || compareTimes(version.createTime, newest.createTime) > 0) newest = version;
  }
  return newest;
}

/** Compares two RFC 3339 UTC times to the nanosecond (Date.parse keeps only milliseconds). */
function compareTimes(a: string, b: string): number {
  const [aSeconds, aFraction] = splitTime(a);
  const [bSeconds, bFraction] = splitTime(b);
  return aSeconds !== bSeconds ? aSeconds - bSeconds : aFraction.localeCompare(bFraction);
}

function splitTime(time: string): [number, string] {
  const match = /^(.*?:\d\d)(?:\.(\d+))?Z$/.exec(time);
  return [Date.parse(`${match?.[1] ?? time}Z`), (match?.[2] ?? "").padEnd(9, "0")];
}

function isVersionSummary(value: unknown): value is VersionSummary {
  if (typeof value !== "object" || value === null) return false;
  const record = value as Record<string, unknown>;
  return typeof record.name === "string" && typeof record.createTime === "string";
}


export interface ParameterManagerSettingsOptions extends ParameterManagerSourceOptions {
  /** Where a failed read or a bad document is reported; the last good settings stay in force. */
  readonly logger: Logger;
  /** Clock in milliseconds. @default Date.now */
  readonly now?: () => number;
}

/**
 * Settings that follow the parameter within `settingsTtlMs`: per instance, one
 * list call per TTL, plus one GET when a new version appeared.
 */
export function createParameterManagerSettings(options: ParameterManagerSettingsOptions): SettingsCache {
  const source = createParameterManagerSource(options);
  const fix = "the last good settings stay in force until the parameter's newest enabled version holds a valid document";
  return new SettingsCache({
    source,
    now: options.now,
    onError: settingsErrorLogger(options.logger, source.name, { invalid: fix, unreadable: fix }),
  });
}
