/**
 * What `infra/aws` and the Lambda handler agree on: the environment variables
 * the program sets on the function. Kept apart from `index.ts` so the Pulumi
 * program can read them without loading the handler's SDK clients.
 */

/** The environment `infra/aws` sets on the function. */
export const LAMBDA_ENV = {
  resultsBucket: "RESULTS_BUCKET",
  settingsParameter: "SETTINGS_PARAMETER",
  fleetName: "FLEET_NAME",
  /** The work queue's retention, redrive count and visibility timeout (`QueueLimits` in holds.ts), so holds end before a message expires. */
  queueRetentionSeconds: "QUEUE_RETENTION_SECONDS",
  queueMaxReceiveCount: "QUEUE_MAX_RECEIVE_COUNT",
  queueVisibilityTimeoutSeconds: "QUEUE_VISIBILITY_TIMEOUT_SECONDS",
} as const;
