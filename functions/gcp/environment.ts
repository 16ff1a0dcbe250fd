/**
 * What `infra/gcp` and the Cloud Function agree on: the entry point's name and
 * the environment variables the program sets on the function. Kept apart from
 * `index.ts` so the Pulumi program can read them without loading the Storage
 * client and the Functions Framework.
 */

/** The name the handler is registered under (`buildConfig.entryPoint`). */
export const ENTRY_POINT = "scrapeWorker";

/** The environment `infra/gcp` sets on the function. */
export const FUNCTION_ENV = {
  resultsBucket: "RESULTS_BUCKET",
  /** Full resource name: `projects/<project>/locations/global/parameters/<id>`. */
  settingsParameter: "SETTINGS_PARAMETER",
  fleetName: "FLEET_NAME",
  /**
   * The function's `timeoutSeconds`. Cloud Functions gen2 does not expose it
   * to the code (gen1's `FUNCTION_TIMEOUT_SEC` is gone), and the handler needs
   * it to answer before the platform cuts the request.
   */
  timeoutSeconds: "FUNCTION_TIMEOUT_SECONDS",
  /** Full topic names (`projects/<project>/topics/<id>`): where a held-back message is published again, and where dead letters go (./redelivery.ts). */
  retryTopic: "RETRY_TOPIC",
  deadLetterTopic: "DEAD_LETTER_TOPIC",
  /** The stack's `maxDeliveryAttempts`: transient failures before a message is dead-lettered. */
  maxDeliveryAttempts: "MAX_DELIVERY_ATTEMPTS",
} as const;
