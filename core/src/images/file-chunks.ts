import type { ImageChunk, ImageFileEntry } from "./image-index.ts";
import { fileBlocks } from "./image-index.ts";

/** One piece of a file: `length` bytes from `offset`. */
export interface ChunkSpan {
  readonly offset: number;
  readonly length: number;
}

/**
 * How a file of `size` bytes is cut into blocks: one span when it fits `chunkBytes`, else spans
 * of `chunkBytes` with a smaller last one; none for an empty file.
 *
 * @example
 * ```ts
 * chunkSpans(10, 4); // [{ offset: 0, length: 4 }, { offset: 4, length: 4 }, { offset: 8, length: 2 }]
 * chunkSpans(3, 4);  // [{ offset: 0, length: 3 }]
 * ```
 */
export const chunkSpans = (size: number, chunkBytes: number): ChunkSpan[] => {
  const spans: ChunkSpan[] = [];
  for (let offset = 0; offset < size; offset += chunkBytes) spans.push({ offset, length: Math.min(chunkBytes, size - offset) });
  return spans;
};

/** A block that holds part of a read, with where that block starts in the file. */
export interface BlockInRange extends ImageChunk {
  readonly fileOffset: number;
}

/**
 * The blocks a read of `length` bytes at `offset` in `entry` touches: what a lazy reader fetches
 * for that read, and nothing more.
 *
 * @example
 * ```ts
 * blocksForRange(bigFile, 4 * MiB, 5 * MiB, 10); // [{ digest: <chunk 1>, size: 4 MiB, fileOffset: 4 MiB }]
 * ```
 */
export const blocksForRange = (entry: ImageFileEntry, chunkBytes: number, offset: number, length: number): BlockInRange[] => {
  const end = Math.min(entry.size, offset + length);
  const out: BlockInRange[] = [];
  if (offset >= end) return out;
  const blocks = fileBlocks(entry);
  for (let i = Math.floor(offset / chunkBytes); i < blocks.length && i * chunkBytes < end; i++) {
    out.push({ ...blocks[i], fileOffset: i * chunkBytes });
  }
  return out;
};
