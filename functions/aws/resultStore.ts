/**
 * The results store on S3: one `PutObject` per record or raw HTML object.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { ScrapeError, describeError } from "../../shared/errors";
import type { ResultStore } from "../../shared/ports";
import { loadS3 } from "./sdk";

export interface S3ResultStoreOptions {
  /** A client created once per container and shared by every invocation. */
  readonly client: S3Client;
  /** The results bucket's name (env `RESULTS_BUCKET`). */
  readonly bucket: string;
}

/**
 * Writes each object with its content type and encoding, so a browser or
 * `aws s3 cp` reads raw HTML as gzip-encoded HTML. No ACL is sent: the bucket
 * enforces `BucketOwnerEnforced`, where any ACL but the owner's is rejected.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/about-object-ownership.html
 */
export function createS3ResultStore(options: S3ResultStoreOptions): ResultStore {
  const { client, bucket } = options;
  // Loaded with the client, once per container (the clients file is required on first use: ./sdk.ts).
  const { PutObjectCommand } = loadS3();
  return {
    async put(object, putOptions) {
      try {
        // The signal cancels the request in flight and stops the SDK's retries,
        // which could otherwise run for 3 attempts of up to 2 s connect + 5 s
        // request each (SDK_REQUEST_HANDLER in index.ts).
        // https://aws.amazon.com/blogs/developer/abortcontroller-in-modular-aws-sdk-for-javascript/
        await client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: object.key,
            Body: object.body,
            ContentType: object.contentType,
            ...(object.contentEncoding === undefined ? {} : { ContentEncoding: object.contentEncoding }),
          }),
          { abortSignal: putOptions?.signal },
        );
      } catch (error) {
        // The SDK's message ("Access Denied") names neither bucket nor key; the log line should.
        throw new ScrapeError("store_failed", `S3 PutObject to s3://${bucket}/${object.key} failed: ${describeError(error)}`, { cause: error });
      }
    },
  };
}
