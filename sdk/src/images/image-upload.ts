import { encodeImageIndex, imageBlocks, imageIdOf, type BlockStore, type ImageIndex } from "@ferry/core";
import type { FerryClient } from "../client/ferry-client.ts";
import { volumeBytes } from "../volumes/volume-http.ts";

/** Digests one `blocks/missing` question carries. */
export const MISSING_QUESTION_DIGESTS = 10_000;
/** Blocks uploaded at once. */
export const UPLOAD_CONCURRENCY = 8;

/** What an upload sent. */
export interface ImageUploadReport {
  readonly imageId: string;
  /** Distinct blocks the image needs, and their bytes. */
  readonly blocks: number;
  readonly bytes: number;
  /** Blocks (and bytes) the platform lacked and were sent now; 0 when the image was already there. */
  readonly uploadedBlocks: number;
  readonly uploadedBytes: number;
}

/**
 * Publish an indexed image to the platform: ask which of its blocks the region's store lacks,
 * upload only those (from `local`, where indexing put them), then the index itself. Identical
 * files are one block, and blocks already stored (by any earlier deploy) are never sent again.
 *
 * @example
 * ```ts
 * const { index } = await indexDirectory(rootfs, staging, { symlinks: "rootfs" });
 * const report = await uploadImage(client, index, staging); // report.imageId goes in the manifest
 * ```
 */
export const uploadImage = async (client: FerryClient, index: ImageIndex, local: Pick<BlockStore, "get">, onProgress?: (line: string) => void): Promise<ImageUploadReport> => {
  const imageId = await imageIdOf(index);
  const blocks = imageBlocks(index);
  const sizes = new Map(blocks.map((b) => [b.digest, b.size]));
  const missing: string[] = [];
  for (let i = 0; i < blocks.length; i += MISSING_QUESTION_DIGESTS) {
    const digests = blocks.slice(i, i + MISSING_QUESTION_DIGESTS).map((b) => b.digest);
    missing.push(...(await client.request<{ missing: string[] }>("POST", "/v1/images/blocks/missing", { digests })).missing);
  }
  const total = missing.reduce((n, d) => n + (sizes.get(d) ?? 0), 0);
  if (missing.length > 0) onProgress?.(`uploading ${missing.length} of ${blocks.length} image blocks (${(total / 1024 / 1024).toFixed(1)} MiB)`);
  let next = 0;
  let sent = 0;
  const worker = async () => {
    while (next < missing.length) {
      const digest = missing[next++];
      await volumeBytes.put(client, `/v1/images/blocks/${digest}`, await local.get(digest));
      sent++;
      if (sent % 100 === 0) onProgress?.(`uploaded ${sent}/${missing.length} image blocks`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(UPLOAD_CONCURRENCY, missing.length) }, worker));
  await volumeBytes.put(client, `/v1/images/${imageId}`, encodeImageIndex(index));
  return {
    imageId,
    blocks: blocks.length,
    bytes: blocks.reduce((n, b) => n + b.size, 0),
    uploadedBlocks: missing.length,
    uploadedBytes: total,
  };
};
