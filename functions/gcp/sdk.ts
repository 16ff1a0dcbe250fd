/**
 * The Cloud Storage client, loaded on first use rather than when the bundle
 * loads: evaluating it (with google-auth-library and gaxios) is most of a fresh
 * instance's start-up, paid on every scale-out. esbuild wraps each bundled
 * CommonJS package in a closure run by its first `require`, so a `require`
 * inside a function keeps the package in the bundle but unevaluated until the
 * first request builds the handler (tests/bench/coldStart.ts measures the difference).
 */
export type StorageSdk = typeof import("@google-cloud/storage");

export const loadStorage = (): StorageSdk => require("@google-cloud/storage");
