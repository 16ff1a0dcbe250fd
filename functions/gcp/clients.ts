/**
 * The Cloud Storage client (with google-auth-library and gaxios), bundled
 * into its own file (clients.js beside index.js, infra/gcp/worker.ts) and
 * loaded by sdk.ts on first use.
 */
export import storage = require("@google-cloud/storage");
