/**
 * Runtime settings from Azure App Configuration, read through the shared TTL
 * cache with the function app's managed identity (the store accepts no access
 * keys: `disableLocalAuth`).
 *
 * The whole settings document is one key-value whose value is the JSON text
 * (content type `application/json`), the same document as on the other
 * clouds: an operator's edit is validated as a whole, and one GET reads it.
 */
import type { AppConfigurationClient } from "@azure/app-configuration";
import type { TokenCredential } from "@azure/identity";
import { SettingsError } from "../../shared/errors";
import type { Logger } from "../../shared/ports";
import { SettingsCache, settingsErrorLogger, type SettingsSource } from "../../shared/settings";
import { integerOption } from "../handlerConfig";
import { loadAppConfiguration } from "./sdk";

export interface AppConfigurationSettingsOptions {
  /** A client created once per instance and shared by every invocation. */
  readonly client: AppConfigurationClient;
  /** The store's endpoint, for messages: `https://<store>.azconfig.io`. */
  readonly endpoint: string;
  /** The key holding the settings JSON (app setting `SETTINGS_KEY`). */
  readonly key: string;
  /**
   * Time allowed for one read, retries included, in milliseconds, so an
   * unanswered store cannot hold a message; the cache then keeps the last good
   * settings. 100 to 60 000. @default 5000
   */
  readonly readTimeoutMs?: number;
}

const READ_TIMEOUT_MS = { min: 100, max: 60_000, default: 5_000 } as const;

/** Reads the settings document: the value of one key-value, without a label. */
export function createAppConfigurationSettingsSource(options: AppConfigurationSettingsOptions): SettingsSource {
  const { client, key } = options;
  const readTimeoutMs = integerOption("readTimeoutMs", options.readTimeoutMs, READ_TIMEOUT_MS);
  const name = `appconfig:${options.endpoint.replace(/\/+$/, "")}/kv/${key}`;
  return {
    name,
    async read() {
      const setting = await client.getConfigurationSetting({ key }, { abortSignal: AbortSignal.timeout(readTimeoutMs) });
      if (setting.value === undefined) {
        throw new SettingsError(name, [{ key: "(document)", value: setting.value, problem: "has no value", fix: `put the settings JSON into key ${key} (content type application/json)` }]);
      }
      return setting.value;
    },
  };
}

export interface AppConfigurationSettingsCacheOptions extends AppConfigurationSettingsOptions {
  /** Where a failed read or a bad document is reported; the last good settings stay in force. */
  readonly logger: Logger;
  /** Clock in milliseconds. @default Date.now */
  readonly now?: () => number;
}

/**
 * Settings that follow the key-value within `settingsTtlMs`. One GET per
 * instance per TTL is far below a Standard store's request quota.
 * https://learn.microsoft.com/azure/azure-app-configuration/faq#which-app-configuration-tier-should-i-use
 */
export function createAppConfigurationSettings(options: AppConfigurationSettingsCacheOptions): SettingsCache {
  const source = createAppConfigurationSettingsSource(options);
  const fix = "the last good settings stay in force until the key-value holds a valid document";
  return new SettingsCache({
    source,
    now: options.now,
    onError: settingsErrorLogger(options.logger, source.name, { invalid: fix, unreadable: fix }),
  });
}

/** Few, short retries: a read that keeps failing leaves the last good settings in force until the next TTL. */
const APP_CONFIGURATION_RETRY = { maxRetries: 2, maxRetryDelayInMs: 1_000 } as const;

/** The App Configuration client the function uses, from the store endpoint and the app's identity. */
export function createAppConfigurationClient(endpoint: string, credential: TokenCredential): AppConfigurationClient {
  return new (loadAppConfiguration().AppConfigurationClient)(endpoint, credential, { retryOptions: APP_CONFIGURATION_RETRY });
}
