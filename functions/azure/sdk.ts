/**
 * The Azure SDK clients, loaded on first use rather than when the bundle
 * loads: evaluating them is most of a fresh instance's start-up, paid on every
 * scale-out. esbuild wraps each bundled CommonJS package in a closure run by
 * its first `require`, so a `require` inside a function keeps the package in
 * the bundle but unevaluated until the first invocation builds the handler
 * (tests/bench/coldStart.ts measures the difference). `require` also makes
 * esbuild pick each package's CommonJS build: the ESM build of
 * @azure/storage-blob reads `import.meta.url`, which is empty in the CommonJS
 * bundle the function runs.
 */
export type IdentitySdk = typeof import("@azure/identity");
export type ServiceBusSdk = typeof import("@azure/service-bus");
export type StorageBlobSdk = typeof import("@azure/storage-blob");
export type AppConfigurationSdk = typeof import("@azure/app-configuration");

export const loadIdentity = (): IdentitySdk => require("@azure/identity");
export const loadServiceBus = (): ServiceBusSdk => require("@azure/service-bus");
export const loadStorageBlob = (): StorageBlobSdk => require("@azure/storage-blob");
export const loadAppConfiguration = (): AppConfigurationSdk => require("@azure/app-configuration");
