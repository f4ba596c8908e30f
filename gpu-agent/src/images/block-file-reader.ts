import { blocksForRange, type ImageFileEntry } from "@ferry/core";

/** What `readImageFileRange` reads blocks through (a `BlockCache`). */
export interface BlockReader {
  read(digest: string, offset: number, length: number): Promise<Uint8Array>;
}

/**
 * Bytes `[offset, offset + length)` of an image file (fewer at its end), fetching only the
 * blocks that range touches: what a lazy file system answers a read with.
 *
 * @example
 * ```ts
 * const bytes = await readImageFileRange(cache, entry, index.chunkBytes, 0, 4096);
 * ```
 */
export const readImageFileRange = async (reader: BlockReader, entry: ImageFileEntry, chunkBytes: number, offset: number, length: number): Promise<Uint8Array> => {
  const end = Math.min(entry.size, offset + length);
  if (offset >= end) return new Uint8Array(0);
  const blocks = blocksForRange(entry, chunkBytes, offset, end - offset);
  const parts = await Promise.all(blocks.map((b) => {
    const from = Math.max(offset, b.fileOffset) - b.fileOffset;
    const to = Math.min(end, b.fileOffset + b.size) - b.fileOffset;
    return reader.read(b.digest, from, to - from);
  }));
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(end - offset);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
};
