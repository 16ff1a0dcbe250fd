/**
 * The results store on S3: one `PutObject` per record or raw HTML object.
 */
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { ScrapeError, describeError } from "../../shared/errors";
import type { ResultStore } from "../../shared/ports";

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
  return {
    async put(object) {
      try {
        await client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: object.key,
            Body: object.body,
            ContentType: object.contentType,
            ...(object.contentEncoding === undefined ? {} : { ContentEncoding: object.contentEncoding }),
          }),
        );
      } catch (error) {
        // The SDK's message ("Access Denied") names neither bucket nor key; the log line should.
        throw new ScrapeError("store_failed", `S3 PutObject to s3://${bucket}/${object.key} failed: ${describeError(error)}`, { cause: error });
      }
    },
  };
}
