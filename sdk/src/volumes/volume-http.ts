import type { FerryClient } from "../client/ferry-client.ts";

/**
 * Bytes to and from the volume API: block uploads and file reads carry raw bytes, which the
 * JSON client methods do not. They work from anywhere: outside a container over HTTP, inside
 * one through its API bridge (bytes cross it as base64, within `maxContainerApiRequestBytes`
 * and `maxContainerApiResponseBytes`).
 *
 * @example
 * ```ts
 * await volumeBytes.put(client, "/v1/volumes/weights/blocks/ab12…", block);
 * const bytes = await volumeBytes.get(client, "/v1/volumes/weights/file?path=a.txt");
 * ```
 */
export const volumeBytes = {
  async put(client: FerryClient, path: string, bytes: Uint8Array): Promise<void> {
    const res = await client.rawBytes("PUT", path, bytes);
    await res.arrayBuffer();
  },
  async get(client: FerryClient, path: string): Promise<Uint8Array> {
    const res = await client.rawBytes("GET", path);
    return new Uint8Array(await res.arrayBuffer());
  },
};
