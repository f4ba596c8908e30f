import type { VolumeChange } from "@ferry/core";
import type { FerryClient } from "../client/ferry-client.ts";
import { fileEntryOf } from "./volume-blocks.ts";
import { volumeBytes } from "./volume-http.ts";

/** One file to put into a volume: its canonical path there, its bytes and permission bits. */
export interface UploadFile {
  readonly path: string;
  readonly read: () => Promise<Uint8Array>;
  readonly mode?: number;
}

/** What an upload did: the version it published and how much it had to send. */
export interface UploadResult {
  readonly version: number;
  readonly files: number;
  readonly bytes: number;
  /** Bytes actually sent: blocks the volume store already held are skipped. */
  readonly uploadedBytes: number;
}

/**
 * Put files into a volume as one new version: each file is cut into content-addressed blocks,
 * only the blocks the store lacks are uploaded (file by file, so memory holds one file at a
 * time), then one commit publishes every file at once.
 *
 * @example
 * ```ts
 * await uploadFiles(client, "weights", [{ path: "a.txt", read: async () => bytes }]);
 * ```
 */
export const uploadFiles = async (
  client: FerryClient, volume: string, files: Iterable<UploadFile> | AsyncIterable<UploadFile>, onFile?: (path: string, size: number) => void,
): Promise<UploadResult> => {
  const base = `/v1/volumes/${encodeURIComponent(volume)}`;
  const changes: VolumeChange[] = [];
  let bytes = 0;
  let uploadedBytes = 0;
  for await (const f of files) {
    const data = await f.read();
    const { entry, blocks } = await fileEntryOf(data, f.mode ?? 0o644);
    const { missing } = await client.request<{ missing: string[] }>("POST", `${base}/blocks/missing`, { digests: [...blocks.keys()] });
    for (const digest of missing) {
      const block = blocks.get(digest)!;
      await volumeBytes.put(client, `${base}/blocks/${digest}`, block);
      uploadedBytes += block.byteLength;
    }
    changes.push({ path: f.path, entry });
    bytes += data.byteLength;
    onFile?.(f.path, data.byteLength);
  }
  if (changes.length === 0) throw new Error("nothing to upload");
  const r = await client.request<{ version: number }>("POST", `${base}/commit`, { changes });
  return { version: r.version, files: changes.length, bytes, uploadedBytes };
};
