import { Schema } from "effect";
import { BlockDigest } from "./block-store.ts";

/** The format version every image index carries; a reader refuses versions it does not know. */
export const IMAGE_INDEX_VERSION = 1;

const Size = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0));
/** Permission bits only (setuid, setgid and sticky included); the entry's `type` says what kind of file it is. */
const Mode = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 0o7777 }));
const Path = Schema.String.check(Schema.isMinLength(1));

/** One content-addressed piece of a file larger than the index's `chunkBytes`. */
export const ImageChunk = Schema.Struct({ digest: BlockDigest, size: Size });
export type ImageChunk = typeof ImageChunk.Type;

/**
 * A regular file: `digest` is the SHA-256 of its whole content. A file of at most `chunkBytes`
 * is one block stored under `digest`; a larger one lists its `chunks` (each `chunkBytes`, the
 * last one smaller) and only they are stored. An empty file has no block.
 */
export const ImageFileEntry = Schema.Struct({
  path: Path,
  type: Schema.Literal("file"),
  mode: Mode,
  size: Size,
  digest: BlockDigest,
  chunks: Schema.optional(Schema.Array(ImageChunk)),
});
export type ImageFileEntry = typeof ImageFileEntry.Type;

/** A directory; `size` is always 0. */
export const ImageDirEntry = Schema.Struct({ path: Path, type: Schema.Literal("dir"), mode: Mode, size: Size });
export type ImageDirEntry = typeof ImageDirEntry.Type;

/** A symbolic link; `size` is the UTF-8 length of `target`, as `lstat` reports it. */
export const ImageSymlinkEntry = Schema.Struct({
  path: Path,
  type: Schema.Literal("symlink"),
  mode: Mode,
  size: Size,
  target: Schema.String.check(Schema.isMinLength(1)),
});
export type ImageSymlinkEntry = typeof ImageSymlinkEntry.Type;

/** One path of an image. */
export const ImageEntry = Schema.Union([ImageFileEntry, ImageDirEntry, ImageSymlinkEntry]);
export type ImageEntry = typeof ImageEntry.Type;

/**
 * An image's file tree: every path (relative to the image root, `/`-separated, parents listed
 * before children once sorted), its mode and, for files, the digests holding its bytes. Small
 * enough to fetch before a container starts; the bytes come later, block by block. Its id is
 * the SHA-256 of its canonical encoding (`imageIdOf`).
 */
export const ImageIndex = Schema.Struct({
  version: Schema.Literal(IMAGE_INDEX_VERSION),
  /** The chunk size the files were split with (`Limits.imageChunkBytes` when built). */
  chunkBytes: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)),
  entries: Schema.Array(ImageEntry),
});
export type ImageIndex = typeof ImageIndex.Type;

/**
 * The blocks that hold one file's bytes, in file order: none for an empty file, the file's own
 * digest when it fits one block, else its chunks.
 *
 * @example
 * ```ts
 * fileBlocks({ path: "a", type: "file", mode: 0o644, size: 5, digest: d }); // [{ digest: d, size: 5 }]
 * ```
 */
export const fileBlocks = (entry: ImageFileEntry): ReadonlyArray<ImageChunk> =>
  entry.size === 0 ? [] : entry.chunks ?? [{ digest: entry.digest, size: entry.size }];

/**
 * Every distinct block an image needs, each once, with its size: what a full (eager) download
 * fetches, and what a store must hold before the image is published.
 *
 * @example
 * ```ts
 * const blocks = imageBlocks(index);
 * const bytes = blocks.reduce((n, b) => n + b.size, 0);
 * ```
 */
export const imageBlocks = (index: ImageIndex): ImageChunk[] => {
  const seen = new Map<string, ImageChunk>();
  for (const e of index.entries) {
    if (e.type !== "file") continue;
    for (const b of fileBlocks(e)) if (!seen.has(b.digest)) seen.set(b.digest, b);
  }
  return [...seen.values()];
};
