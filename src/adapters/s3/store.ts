// The S3-compatible store the archives live in, through @aws-sdk/client-s3
// with path-style addressing (MinIO, SeaweedFS and friends serve no virtual
// hosts). Only what the agent needs: list, head, read small objects, delete,
// create the bucket. Library errors become messages naming the bucket, the
// key and the step.
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import type { StoredObject } from "../../domain/workspace/observe.js";

export interface S3Settings {
  endpoint: string;
  bucket: string;
  region: string;
  accessKey: string;
  secretKey: string;
}

export class StoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StoreError";
  }
}

/** The largest marker the agent will read: markers are a few hundred bytes of JSON. */
const MAX_SMALL_OBJECT = 64 * 1024;

export class ObjectStore {
  private readonly client: S3Client;
  readonly bucket: string;

  constructor(private readonly settings: S3Settings) {
    this.bucket = settings.bucket;
    this.client = new S3Client({
      endpoint: settings.endpoint,
      region: settings.region,
      forcePathStyle: true,
      credentials: { accessKeyId: settings.accessKey, secretAccessKey: settings.secretKey },
      // A store that does not answer must fail a request, not hang it: the caller waits 5-30 s.
      requestHandler: { connectionTimeout: 3_000, requestTimeout: 10_000 },
      maxAttempts: 2,
    });
  }

  destroy(): void {
    this.client.destroy();
  }

  /** Creates the bucket unless it exists (the Docker agent does this at startup). */
  async ensureBucket(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
      return;
    } catch (error) {
      if (httpStatus(error) !== 404) throw this.wrap(error, "check the bucket");
    }
    try {
      await this.client.send(new CreateBucketCommand({ Bucket: this.bucket }));
    } catch (error) {
      const name = (error as { name?: string }).name;
      if (name === "BucketAlreadyOwnedByYou" || name === "BucketAlreadyExists") return;
      throw this.wrap(error, "create the bucket");
    }
  }

  async list(prefix: string): Promise<StoredObject[]> {
    const out: StoredObject[] = [];
    let token: string | undefined;
    do {
      let page: ListObjectsV2CommandOutput;
      try {
        page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }));
      } catch (error) {
        throw this.wrap(error, `list ${prefix}`);
      }
      for (const o of page.Contents ?? []) {
        if (o.Key) out.push({ key: o.Key, lastModified: o.LastModified ?? new Date(0), etag: o.ETag });
      }
      token = page.NextContinuationToken;
    } while (token);
    return out;
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return true;
    } catch (error) {
      if (httpStatus(error) === 404) return false;
      throw this.wrap(error, `look up ${key}`);
    }
  }

  /** A small object's text, or undefined when it does not exist. */
  async readSmall(key: string): Promise<string | undefined> {
    try {
      const got = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      if ((got.ContentLength ?? 0) > MAX_SMALL_OBJECT) throw new StoreError(`${key} is ${got.ContentLength} bytes: not a marker`);
      return (await got.Body?.transformToString("utf-8")) ?? "";
    } catch (error) {
      if (httpStatus(error) === 404) return undefined;
      throw this.wrap(error, `read ${key}`);
    }
  }

  async put(key: string, body: string | Uint8Array): Promise<void> {
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body }));
    } catch (error) {
      throw this.wrap(error, `write ${key}`);
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (error) {
      if (httpStatus(error) === 404) return;
      throw this.wrap(error, `delete ${key}`);
    }
  }

  /** Deletes keys in batches of 1000; returns the keys the store reports deleted. */
  async deleteMany(keys: string[]): Promise<string[]> {
    const deleted: string[] = [];
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      let result: { Deleted?: Array<{ Key?: string }>; Errors?: Array<{ Key?: string; Message?: string }> };
      try {
        result = await this.client.send(
          new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: false } }),
        );
      } catch (error) {
        throw this.wrap(error, `delete ${batch.length} objects`);
      }
      for (const d of result.Deleted ?? []) if (d.Key) deleted.push(d.Key);
      if (result.Errors?.length) {
        const first = result.Errors[0];
        throw new StoreError(
          `S3 bucket ${this.bucket}: ${result.Errors.length} of ${batch.length} deletions failed (first: ${first?.Key}: ${first?.Message}); deleted so far: ${deleted.length}`,
        );
      }
    }
    return deleted;
  }

  private wrap(error: unknown, step: string): StoreError {
    if (error instanceof StoreError) return error;
    const status = httpStatus(error);
    const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    const cause = (error as { cause?: unknown }).cause;
    const why = cause instanceof Error && !detail.includes(cause.message) ? ` (${cause.message})` : "";
    return new StoreError(
      `S3 store ${this.settings.endpoint}, bucket ${this.bucket}: could not ${step}: ${status ? `HTTP ${status} ` : ""}${detail}${why}; check AGENT_S3_ENDPOINT, the bucket and the keys`,
      { cause: error },
    );
  }
}

function httpStatus(error: unknown): number | undefined {
  if (error instanceof S3ServiceException) return error.$metadata?.httpStatusCode;
  const meta = (error as { $metadata?: { httpStatusCode?: number } }).$metadata;
  return meta?.httpStatusCode;
}
