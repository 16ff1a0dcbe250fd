/**
 * Runtime settings from SSM Parameter Store, read through the shared TTL cache.
 */
import type { SSMClient } from "@aws-sdk/client-ssm";
import { SettingsError } from "../../shared/errors";
import type { Logger } from "../../shared/ports";
import { SettingsCache, settingsErrorLogger, type SettingsSource } from "../../shared/settings";
import { loadSsm } from "./sdk";

export interface SsmSettingsOptions {
  /** A client created once per container and shared by every invocation. */
  readonly client: SSMClient;
  /** The parameter holding the settings JSON (env `SETTINGS_PARAMETER`), such as `/scrape-fleet/prod/settings`. */
  readonly parameterName: string;
}

/** Reads the settings document, the JSON text of one String parameter. */
export function createSsmSettingsSource(options: SsmSettingsOptions): SettingsSource {
  const { client, parameterName } = options;
  const name = `ssm:${parameterName}`;
  return {
    name,
    async read() {
      const answer = await client.send(new (loadSsm().GetParameterCommand)({ Name: parameterName }));
      const value = answer.Parameter?.Value;
      if (value === undefined) {
        throw new SettingsError(name, [{ key: "(document)", value, problem: "has no value", fix: `put the settings JSON into parameter ${parameterName}` }]);
      }
      return value;
    },
  };
}

export interface SsmSettingsCacheOptions extends SsmSettingsOptions {
  /** Where a failed read or a bad document is reported; the last good settings stay in force. */
  readonly logger: Logger;
  /** Clock in milliseconds. @default Date.now */
  readonly now?: () => number;
}

/**
 * Settings that follow the parameter within `settingsTtlMs`. One
 * `GetParameter` per container per TTL keeps far below the parameter store's
 * default throughput (40 TPS per account and Region).
 * https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-throughput.html
 */
export function createSsmSettings(options: SsmSettingsCacheOptions): SettingsCache {
  const source = createSsmSettingsSource(options);
  return new SettingsCache({
    source,
    now: options.now,
    onError: settingsErrorLogger(options.logger, source.name, {
      invalid: `correct the JSON in parameter ${options.parameterName}; the last good settings stay in force meanwhile`,
      unreadable: `check that parameter ${options.parameterName} exists and the function's role may call ssm:GetParameter on it; the last good settings stay in force meanwhile`,
    }),
  });
}
