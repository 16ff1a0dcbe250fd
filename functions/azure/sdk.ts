/**
 * The Azure SDK clients, loaded on first use rather than when the handler's
 * bundle loads: parsing and running them was most of a fresh instance's
 * start-up, paid on every scale-out. They live in clients.ts, which the
 * program bundles into a file of its own (infra/bundle.ts, `lazy`), so the
 * handler's bundle does not even parse them until the first invocation builds
 * its clients (tests/bench/coldStart.ts measures the difference).
 */
type Clients = typeof import("./clients");
export type IdentitySdk = Clients["identity"];
export type ServiceBusSdk = Clients["serviceBus"];
export type StorageBlobSdk = Clients["storageBlob"];
export type AppConfigurationSdk = Clients["appConfiguration"];

const clients = (): Clients => require("./clients");
export const loadIdentity = (): IdentitySdk => clients().identity;
export const loadServiceBus = (): ServiceBusSdk => clients().serviceBus;
export const loadStorageBlob = (): StorageBlobSdk => clients().storageBlob;
export const loadAppConfiguration = (): AppConfigurationSdk => clients().appConfiguration;
