/**
 * The results store on Cloud Storage: one single-request (multipart) upload
 * per record or raw HTML object.
 */
import type { Bucket, StorageOptions } from "@google-cloud/storage";
import { abandonOnAbort, type ResultStore } from "../../shared/ports";
import { loadStorage } from "./sdk";

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
 * 429/5xx answers are retried, at most twice within 20 s. That can outlast
 * the handler's deadline margin, so the worker stops waiting at its write grace
 * (see `put` below and `DEADLINE_MARGIN_MS` in index.ts).
 * https://cloud.google.com/storage/docs/retry-strategy#node.js
 */
export function storageRetry(): NonNullable<StorageOptions["retryOptions"]> {
  return { autoRetry: true, maxRetries: 2, totalTimeout: 20, idempotencyStrategy: loadStorage().IdempotencyStrategy.RetryAlways };
}

/** Storage client options for the results store: retries as above, plus `overrides` (tests point `apiEndpoint` at a loopback fake). */
export function storageOptions(overrides: StorageOptions = {}): StorageOptions {
  return { retryOptions: storageRetry(), ...overrides };
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
    async put(object, putOptions) {
      putOptions?.signal?.throwIfAborted();
      const saving = bucket.file(object.key).save(typeof object.body === "string" ? object.body : Buffer.from(object.body.buffer, object.body.byteOffset, object.body.byteLength), {
        resumable: false,
        contentType: object.contentType,
        ...(object.contentEncoding === undefined ? {} : { metadata: { contentEncoding: object.contentEncoding } }),
      });
      // `file.save()` takes no abort signal in 7.x (SaveOptions has none, and
      // the write stream it creates stays inside it), so on abort the adapter
      // stops waiting and the save runs on, to its own `totalTimeout` at most.
      // A write that lands late is harmless: it is a record of the same URL
      // under the same key, and at worst it replaces the redelivery's record
      // with this attempt's, fetched a little earlier.
      await abandonOnAbort(saving, putOptions?.signal);
    },
  };
}
