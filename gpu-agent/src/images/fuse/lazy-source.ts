/**
 * What the lazy file system reads through: an image's index (known up front, so the tree can be
 * served before any byte is fetched) and a `read` that fetches a file's bytes on demand. The
 * node's block cache implements it; tests implement it over a real directory.
 */

/** Kind of an index entry. */
export type LazyEntryKind = "file" | "directory" | "symlink";

/** One path of an image, as the index describes it. */
export interface LazyEntry {
  /** Path inside the image, relative ("lib/a.js"; a leading "/" or "./" is accepted). */
  readonly path: string;
  readonly kind: LazyEntryKind;
  /** Permission bits (0o755); type bits, if present, are ignored in favour of `kind`. */
  readonly mode: number;
  /** Size in bytes (files); ignored for directories; the target's length for symlinks. */
  readonly size: number;
  /** Symlink target, exactly as stored (symlinks only). */
  readonly linkTarget?: string;
  /** Modification time in ms since the epoch (default: the mount's start). */
  readonly mtimeMs?: number;
}

/** The part of an image index the file system needs. */
export interface ImageIndexLike {
  readonly entries: readonly LazyEntry[];
}

/**
 * An image whose bytes are fetched on demand.
 *
 * @example
 * ```ts
 * const source: LazySource = {
 *   index: { entries: [{ path: "hello.txt", kind: "file", mode: 0o644, size: 5 }] },
 *   read: async (path, offset, length) => (await blockCache.read(digestOf(path), offset, length)),
 * };
 * ```
 */
export interface LazySource {
  readonly index: ImageIndexLike;
  /**
   * Bytes `[offset, offset + length)` of the file at `path` (as named in the index); fewer only
   * at the end of the file. Rejecting makes the reading process see EIO.
   */
  read(path: string, offset: number, length: number): Promise<Uint8Array>;
}

/** One file's first read since the mount, for prefetching on later cold starts. */
export interface AccessRecord {
  /** The file's path as named in the index. */
  readonly path: string;
  /** Milliseconds from the mount to this file's first read. */
  readonly atMs: number;
}
