/**
 * The results store on Cloud Storage: one single-request (multipart) upload
 * per record or raw HTML object.
 */
import { IdempotencyStrategy, type Bucket, type StorageOptions } from "@google-cloud/storage";
import type { ResultStore } from "../../shared/ports";

export interface GcsResultStoreOptions {
  /** The results bucket (env `RESULTS_BUCKET`), from a `Storage` client created once per instance. */
  readonly bucket: Bucket;
}

/**
 * The client's retry settings. Its default retries an upload only when it
 * carries a generation precondition; ours never does (a redelivered message
 * must overwrite its record), and in 7.x `file.save()` without one also turns
 * `autoRetry` off on the shared client for good. Every write here is
 * idempotent by design (same URL, same key, last write wins), so transient
 * 429/5xx answers are retried. Two retries inside 20 s keep a write well
 * inside the handler's deadline.
 * https://cloud.google.com/storage/docs/retry-strategy#node.js
 */
export const STORAGE_RETRY: NonNullable<StorageOptions["retryOptions"]> = {
  autoRetry: true,
  maxRetries: 2,
  totalTimeout: 20,
  idempotencyStrategy: IdempotencyStrategy.RetryAlways,
};

/** Storage client options for the results store: retries as above, plus `overrides` (tests point `apiEndpoint` at a loopback fake). */
export function storageOptions(overrides: StorageOptions = {}): StorageOptions {
  return { retryOptions: STORAGE_RETRY, ...overrides };
}

/**
 * Writes each object with its content type and encoding, so a browser or
 * `gcloud storage cat` reads raw HTML as gzip-encoded HTML. `resumable: false`
 * sends one request: records are a few KB and pages at most a few MB, far
 * below the size where resumable uploads pay off. The client checks the
 * CRC32C the server reports against the bytes sent.
 *
 * Overwriting an existing object needs `storage.objects.delete` as well as
 * `create`, which is why the runtime account holds `roles/storage.objectUser`
 * on this bucket, not `objectCreator`.
 * https://cloud.google.com/storage/docs/access-control/iam-permissions
 */
export function createGcsResultStore(options: GcsResultStoreOptions): ResultStore {
  const { bucket } = options;
  return {
    async put(object) {
      await bucket.file(object.key).save(typeof object.body === "string" ? object.body : Buffer.from(object.body.buffer, object.body.byteOffset, object.body.byteLength), {
        resumable: false,
        contentType: object.contentType,
        ...(object.contentEncoding === undefined ? {} : { metadata: { contentEncoding: object.contentEncoding } }),
      });
    },
  };
}
