import { AwsClient } from "aws4fetch";
import { assertBlockDigest, BlockDigestMismatchError, BlockNotFoundError, type BlockStore } from "@ferry/core";
import { hashBytes } from "./hash-bytes.ts";
import { runLimited } from "./run-limited.ts";

/** Where and how to reach an S3-compatible bucket. */
export interface S3BlockStoreOptions {
  /** The service's base URL (`https://s3.us-east-1.amazonaws.com`, `http://127.0.0.1:9000`); buckets are addressed path-style under it. */
  readonly endpoint: string;
  readonly bucket: string;
  /** The signing region (`us-east-1` for most S3-compatible services). */
  readonly region?: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  /** Key prefix in front of `blocks/sha256/<digest>` (e.g. `ferry/`), empty by default. */
  readonly prefix?: string;
  /** Requests `missing` runs at once. */
  readonly concurrency?: number;
}

/** Signing region used when none is given. */
export const DEFAULT_S3_REGION = "us-east-1";
/** Presence checks (HEAD requests) a `missing` call runs at once, by default. */
export const DEFAULT_S3_CONCURRENCY = 32;
/** Retries aws4fetch makes on 5xx and 429 answers before giving up. */
const S3_RETRIES = 3;

/** An S3-compatible service answered a block request with an unexpected status. */
export class S3RequestError extends Error {
  override name = "S3RequestError";
  readonly status: number;
  constructor(method: string, key: string, status: number, body: string) {
    super(`S3 ${method} ${key} answered ${status}${body ? `: ${body.slice(0, 200)}` : ""}; check the endpoint, bucket and credentials`);
    this.status = status;
  }
}

/**
 * The block store in an S3-compatible bucket (AWS S3, MinIO, R2, Ceph…): one object per block at
 * `<prefix>blocks/sha256/<digest>`, every request signed with AWS Signature V4. Same contract as
 * `LocalDirBlockStore`: `put` hashes first and skips blocks already there; `get` verifies.
 *
 * @example
 * ```ts
 * const store = new S3BlockStore({ endpoint: "http://127.0.0.1:9000", bucket: "ferry", accessKeyId, secretAccessKey });
 * const digest = await store.put(bytes);
 * ```
 */
export class S3BlockStore implements BlockStore {
  private readonly client: AwsClient;
  private readonly base: string;
  private readonly prefix: string;
  private readonly concurrency: number;

  constructor(options: S3BlockStoreOptions) {
    this.client = new AwsClient({
      accessKeyId: options.accessKeyId,
      secretAccessKey: options.secretAccessKey,
      sessionToken: options.sessionToken,
      service: "s3",
      region: options.region ?? DEFAULT_S3_REGION,
      retries: S3_RETRIES,
    });
    this.base = `${options.endpoint.replace(/\/+$/, "")}/${encodeURIComponent(options.bucket)}`;
    this.prefix = options.prefix ?? "";
    this.concurrency = options.concurrency ?? DEFAULT_S3_CONCURRENCY;
  }

  /** The object key of block `digest`. */
  keyOf(digest: string): string {
    assertBlockDigest(digest);
    return `${this.prefix}blocks/sha256/${digest}`;
  }

  private urlOf(digest: string): string {
    return `${this.base}/${this.keyOf(digest).split("/").map(encodeURIComponent).join("/")}`;
  }

  private async fail(method: string, digest: string, res: Response): Promise<never> {
    throw new S3RequestError(method, this.keyOf(digest), res.status, await res.text().catch(() => ""));
  }

  async has(digest: string): Promise<boolean> {
    const res = await this.client.fetch(this.urlOf(digest), { method: "HEAD" });
    if (res.status === 404) return false;
    if (!res.ok) return this.fail("HEAD", digest, res);
    return true;
  }

  async get(digest: string): Promise<Uint8Array> {
    const res = await this.client.fetch(this.urlOf(digest), { method: "GET" });
    if (res.status === 404) {
      await res.body?.cancel();
      throw new BlockNotFoundError({ digest });
    }
    if (!res.ok) return this.fail("GET", digest, res);
    const bytes = new Uint8Array(await res.arrayBuffer());
    const actual = hashBytes(bytes);
    if (actual !== digest) throw new BlockDigestMismatchError({ expected: digest, actual, source: `s3 ${this.keyOf(digest)}` });
    return bytes;
  }

  async put(bytes: Uint8Array, expected?: string): Promise<string> {
    if (expected !== undefined) assertBlockDigest(expected);
    const digest = hashBytes(bytes);
    if (expected !== undefined && expected !== digest) throw new BlockDigestMismatchError({ expected, actual: digest, source: "put" });
    if (await this.has(digest)) return digest;
    const res = await this.client.fetch(this.urlOf(digest), {
      method: "PUT",
      body: bytes as Uint8Array<ArrayBuffer>,
      headers: { "content-type": "application/octet-stream", "x-amz-content-sha256": digest },
    });
    if (!res.ok) return this.fail("PUT", digest, res);
    await res.body?.cancel();
    return digest;
  }

  async missing(digests: ReadonlyArray<string>): Promise<string[]> {
    const unique = [...new Set(digests)];
    const present = await runLimited(unique, this.concurrency, (d) => this.has(d));
    return unique.filter((_, i) => !present[i]);
  }
}
