/**
 * The results store on Azure Blob Storage: one Put Blob per record or raw HTML
 * object, signed with the function app's managed identity (the storage account
 * accepts no shared keys).
 */
import type { TokenCredential } from "@azure/identity";
import type { ContainerClient } from "@azure/storage-blob";
import type { ResultStore } from "../../shared/ports";
import { loadStorageBlob } from "./sdk";

export interface BlobResultStoreOptions {
  /** A client created once per instance and shared by every invocation. */
  readonly container: ContainerClient;
}

/**
 * Writes each object with its content type and encoding as blob properties, so
 * a browser or `az storage blob download` reads raw HTML as gzip-encoded HTML.
 * Put Blob replaces an existing blob: a redelivered message overwrites its
 * earlier record, which keeps `put` idempotent per key.
 * https://learn.microsoft.com/rest/api/storageservices/put-blob
 */
export function createBlobResultStore(options: BlobResultStoreOptions): ResultStore {
  const { container } = options;
  return {
    async put(object, putOptions) {
      const body = typeof object.body === "string" ? Buffer.from(object.body, "utf8") : object.body;
      // The signal cancels the try in flight and any further ones (BLOB_RETRY_OPTIONS below allows 3 of 10 s each).
      // https://learn.microsoft.com/javascript/api/@azure/storage-blob/blockblobuploadoptions
      await container.getBlockBlobClient(object.key).upload(body, body.byteLength, {
        abortSignal: putOptions?.signal,
        blobHTTPHeaders: {
          blobContentType: object.contentType,
          ...(object.contentEncoding === undefined ? {} : { blobContentEncoding: object.contentEncoding }),
        },
      });
    },
  };
}

/**
 * Each try is bounded so a stalled connection cannot hold a message past its
 * deadline (the SDK's default per-try timeout is effectively unbounded); the
 * SDK retries a timed-out try with exponential backoff.
 * https://learn.microsoft.com/javascript/api/@azure/storage-blob/storageretryoptions
 */
const BLOB_RETRY_OPTIONS = { maxTries: 3, tryTimeoutInMs: 10_000 } as const;

/** The results container client the function uses, from its URL and the app's identity. */
export function createResultsContainerClient(containerUrl: string, credential: TokenCredential): ContainerClient {
  return new (loadStorageBlob().ContainerClient)(containerUrl, credential, { retryOptions: BLOB_RETRY_OPTIONS });
}
