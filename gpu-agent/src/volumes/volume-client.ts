import type { VolumeChange, VolumeManifest } from "@ferry/core";

/** What the region answers a commit with. */
export interface RegionCommitResult {
  readonly version: number;
  readonly changed: number;
  readonly files: number;
  readonly bytes: number;
}

/** A region's volume answer was an error; `status` is its HTTP status. */
export class VolumeRequestError extends Error {
  override name = "VolumeRequestError";
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/**
 * The agent's client of one volume on its region's internal API, by volume id (handed over in
 * the container's start command): manifests, block presence, block uploads and downloads, commits.
 *
 * @example
 * ```ts
 * const client = new VolumeClient(regionUrl, internalToken, "vo-…");
 * const { version, manifest } = await client.manifest();
 * ```
 */
export class VolumeClient {
  private readonly base: string;
  private readonly token: string;

  constructor(regionUrl: string, internalToken: string, volumeId: string) {
    this.base = `${regionUrl}/internal/volume-ids/${encodeURIComponent(volumeId)}`;
    this.token = internalToken;
  }

  private async call(path: string, init: RequestInit = {}): Promise<Response> {
    const res = await fetch(`${this.base}${path}`, {
      ...init,
      headers: { "x-ferry-internal-token": this.token, ...(init.body !== undefined ? { "content-type": typeof init.body === "string" ? "application/json" : "application/octet-stream" } : {}) },
    });
    if (!res.ok) {
      const text = await res.text();
      let message = text;
      try {
        message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? text;
      } catch {
        // not JSON: keep the text
      }
      throw new VolumeRequestError(res.status, message || `HTTP ${res.status}`);
    }
    return res;
  }

  async manifest(): Promise<{ version: number; manifest: VolumeManifest }> {
    return (await this.call("/manifest")).json() as Promise<{ version: number; manifest: VolumeManifest }>;
  }

  /** Which of `digests` the region's block store lacks. */
  async missing(digests: ReadonlyArray<string>): Promise<string[]> {
    if (digests.length === 0) return [];
    const r = await this.call("/blocks/missing", { method: "POST", body: JSON.stringify({ digests }) });
    return ((await r.json()) as { missing: string[] }).missing;
  }

  async putBlock(digest: string, bytes: Uint8Array): Promise<void> {
    await this.call(`/blocks/${digest}`, { method: "PUT", body: bytes as Uint8Array<ArrayBuffer> });
  }

  async getBlock(digest: string): Promise<Uint8Array> {
    return new Uint8Array(await (await this.call(`/blocks/${digest}`)).arrayBuffer());
  }

  async commit(changes: ReadonlyArray<VolumeChange>): Promise<RegionCommitResult> {
    return (await this.call("/commit", { method: "POST", body: JSON.stringify({ changes }) })).json() as Promise<RegionCommitResult>;
  }
}
