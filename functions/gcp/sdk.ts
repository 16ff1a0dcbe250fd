/**
 * The Cloud Storage client, loaded on first use rather than when the
 * handler's bundle loads: parsing and running it was most of a fresh
 * instance's start-up, paid on every scale-out. It lives in clients.ts, which
 * the program bundles into a file of its own (infra/bundle.ts, `lazy`), so the
 * handler's bundle does not even parse it until the first request builds the
 * handler (tests/bench/coldStart.ts measures the difference).
 */
export type StorageSdk = (typeof import("./clients"))["storage"];

export const loadStorage = (): StorageSdk => (require("./clients") as typeof import("./clients")).storage;
