import type { FerryClient } from "../client/ferry-client.ts";
import { FerryApiError } from "../errors.ts";

/** The API's error body turned into a `FerryApiError`, as `FerryClient` does for JSON requests. */
const failure = async (res: Response): Promise<FerryApiError> => {
  const text = await res.text();
  try {
    const e = (JSON.parse(text) as { error?: { type?: string; message?: string; field?: string } }).error;
    if (e) return new FerryApiError(res.status, e.type ?? "Error", e.message ?? text, e.field);
  } catch {
    // not JSON: report the text
  }
  return new FerryApiError(res.status, "Error", text || res.statusText);
};

const direct = (client: FerryClient): { url: string; token: string } => {
  if ((client.config as { transport?: unknown }).transport) {
    throw new Error("inside a Ferry container, use the volume's files at its mount path (and vol.commit()); vol.read and vol.write work from outside");
  }
  return client.config;
};

/**
 * Bytes to and from the volume API: block uploads and file reads carry raw bytes, which the
 * JSON client does not.
 *
 * @example
 * ```ts
 * await volumeBytes.put(client, "/v1/volumes/weights/blocks/ab12…", block);
 * const bytes = await volumeBytes.get(client, "/v1/volumes/weights/file?path=a.txt");
 * ```
 */
export const volumeBytes = {
  async put(client: FerryClient, path: string, bytes: Uint8Array): Promise<void> {
    const { url, token } = direct(client);
    const res = await fetch(`${url}${path}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/octet-stream" },
      body: bytes as Uint8Array<ArrayBuffer>,
    });
    if (!res.ok) throw await failure(res);
    await res.arrayBuffer();
  },
  async get(client: FerryClient, path: string): Promise<Uint8Array> {
    const { url, token } = direct(client);
    const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    if (!res.ok) throw await failure(res);
    return new Uint8Array(await res.arrayBuffer());
  },
};
