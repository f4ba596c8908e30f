import { Schema } from "effect";

/** A block digest: the SHA-256 of its bytes, 64 lowercase hex characters. */
export const BlockDigest = Schema.String.check(Schema.isPattern(/^[0-9a-f]{64}$/, { message: "expected a sha256 digest in lowercase hex" }));

const DIGEST_PATTERN = /^[0-9a-f]{64}$/;

/**
 * Whether `value` is a well-formed block digest. Stores check every digest they are handed
 * before it becomes a file name or an object key, so no digest can name anything else.
 *
 * @example
 * ```ts
 * isBlockDigest("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"); // true
 * isBlockDigest("../etc/passwd");                                                    // false
 * ```
 */
export const isBlockDigest = (value: string): boolean => DIGEST_PATTERN.test(value);

/** No block with this digest is stored where it was asked for. */
export class BlockNotFoundError extends Schema.TaggedError<BlockNotFoundError>()("BlockNotFoundError", {
  digest: Schema.String,
}) {
  override get message() {
    return `block ${this.digest} is not in the store: upload it (or rebuild the image) before using it`;
  }
}

/** Bytes handed over or fetched as `expected` hash to something else: they are refused, never stored or served. */
export class BlockDigestMismatchError extends Schema.TaggedError<BlockDigestMismatchError>()("BlockDigestMismatchError", {
  expected: Schema.String,
  actual: Schema.String,
  /** Where the bytes came from (`put`, a store, a URL). */
  source: Schema.String,
}) {
  override get message() {
    return `block ${this.expected} from ${this.source} hashes to ${this.actual}: the bytes are corrupted and were refused`;
  }
}

/** A digest handed to a store is not 64 lowercase hex characters. */
export class InvalidBlockDigestError extends Schema.TaggedError<InvalidBlockDigestError>()("InvalidBlockDigestError", {
  digest: Schema.String,
}) {
  override get message() {
    return `${JSON.stringify(this.digest.slice(0, 80))} is not a block digest (64 lowercase hex characters of a sha256)`;
  }
}

/** Throw `InvalidBlockDigestError` unless `digest` is well formed. */
export const assertBlockDigest = (digest: string): void => {
  if (!isBlockDigest(digest)) throw new InvalidBlockDigestError({ digest });
};

/**
 * A content-addressed store of blocks: each block is stored under the SHA-256 of its bytes, so
 * identical content is stored once however many images hold it. Backends: a local directory
 * (the default) or an S3-compatible bucket (`image-builder/src/store/`); the node's cache and the
 * region's HTTP routes read through the same interface.
 *
 * Every method rejects with `InvalidBlockDigestError` for a malformed digest; `get` rejects with
 * `BlockNotFoundError` for an absent block and `BlockDigestMismatchError` for stored bytes that
 * no longer hash to their digest (never returning them).
 *
 * @example
 * ```ts
 * const digest = await store.put(new TextEncoder().encode("hello"));
 * (await store.has(digest));            // true
 * (await store.get(digest)).byteLength; // 5
 * await store.missing([digest, other]); // [other]
 * ```
 */
export interface BlockStore {
  /** Whether the block is stored. */
  has(digest: string): Promise<boolean>;
  /** The block's bytes, verified against its digest. */
  get(digest: string): Promise<Uint8Array>;
  /**
   * Store `bytes` under their SHA-256 and return it; a block already stored is not written again.
   * With `expected`, bytes hashing to anything else are refused with `BlockDigestMismatchError`.
   */
  put(bytes: Uint8Array, expected?: string): Promise<string>;
  /** The digests of `digests` that are not stored, in the order given, each once. */
  missing(digests: ReadonlyArray<string>): Promise<string[]>;
}

