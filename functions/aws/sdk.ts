/**
 * The AWS SDK clients, loaded on first use rather than when the bundle loads:
 * evaluating them is most of a fresh instance's start-up, and Lambda runs the
 * module's top level on every cold start. esbuild wraps each bundled CommonJS
 * package in a closure run by its first `require`, so a `require` inside a
 * function keeps the package in the bundle but unevaluated until the first
 * invocation that needs it (tests/bench/coldStart.ts measures the difference).
 */
export type S3Sdk = typeof import("@aws-sdk/client-s3");
export type SqsSdk = typeof import("@aws-sdk/client-sqs");
export type SsmSdk = typeof import("@aws-sdk/client-ssm");

export const loadS3 = (): S3Sdk => require("@aws-sdk/client-s3");
export const loadSqs = (): SqsSdk => require("@aws-sdk/client-sqs");
export const loadSsm = (): SsmSdk => require("@aws-sdk/client-ssm");
