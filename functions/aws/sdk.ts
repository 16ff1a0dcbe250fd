/**
 * The AWS SDK clients, loaded on first use rather than when the handler's
 * bundle loads: parsing and running them was most of a fresh instance's
 * start-up, and Lambda runs the module's top level on every cold start. They
 * live in clients.ts, which the program bundles into a file of its own
 * (infra/bundle.ts, `lazy`), so the handler's bundle does not even parse them
 * until the first invocation builds its clients (tests/bench/coldStart.ts
 * measures the difference).
 */
type Clients = typeof import("./clients");
export type S3Sdk = Clients["s3"];
export type SqsSdk = Clients["sqs"];
export type SsmSdk = Clients["ssm"];

const clients = (): Clients => require("./clients");
export const loadS3 = (): S3Sdk => clients().s3;
export const loadSqs = (): SqsSdk => clients().sqs;
export const loadSsm = (): SsmSdk => clients().ssm;
