import type { VolumeFileEntry } from "@ferry/core";
import { Limits } from "../../../core/src/limits/limits.ts";

const hex = (buf: ArrayBuffer) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");
const sha256 = async (bytes: Uint8Array) => hex(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));

/**
 * Cut a file's bytes into the volume store's content-addressed blocks: the manifest entry the
 * commit carries, and each block by digest (what the upload sends, when the store lacks it).
 *
 * @example
 * ```ts
 * const { entry, blocks } = await fileEntryOf(new TextEncoder().encode("hi"));
 * entry.size; // 2
 * ```
 */
export const fileEntryOf = async (data: Uint8Array, mode = 0o644): Promise<{ entry: VolumeFileEntry; blocks: Map<string, Uint8Array> }> => {
  const blocks = new Map<string, Uint8Array>();
  const order: string[] = [];
  for (let at = 0; at < data.byteLength; at += Limits.volumeBlockBytes) {
    const block = data.subarray(at, Math.min(data.byteLength, at + Limits.volumeBlockBytes));
    const digest = await sha256(block);
    blocks.set(digest, block);
    order.push(digest);
  }
  return { entry: { kind: "file", digest: await sha256(data), size: data.byteLength, mode, blocks: order }, blocks };
};
