import type { VolumeListing } from "@ferry/core";
import { Limits } from "../../../core/src/limits/limits.ts";
import { normalizeVolumePath } from "../../../core/src/volumes/volume-paths.ts";
import { FerryClient } from "../client/ferry-client.ts";
import { uploadFiles } from "./volume-upload.ts";
import { volumeBytes } from "./volume-http.ts";

/** Brand shared across copies of the SDK (the CLI's and a bundled app's). */
export const VOLUME_BRAND = Symbol.for("ferry.volume");
/** Where the Ferry runner puts the in-container hook for `commit()` and `reload()`. */
const VOLUMES_HOOK = Symbol.for("ferry.runner.volumes");

/** Options of `Volume.fromName`. */
export interface VolumeFromNameOptions {
  /** Create the volume on first use (a deploy, or a `read`, `write` or `list`) when it does not exist. */
  readonly createIfMissing?: boolean;
}

/** What `commit()` did: the version published, what changed, and what had to be uploaded. */
export interface VolumeCommitResult {
  readonly version: number;
  readonly changed: number;
  /** Contents the store already held (unchanged files, duplicates) are never uploaded again. */
  readonly uploadedBlocks: number;
  readonly uploadedBytes: number;
  /** Sockets, FIFOs and devices left out. */
  readonly skipped: ReadonlyArray<string>;
}

/** A volume as listed: its latest version, file count and size. */
export interface VolumeInfo {
  readonly name: string;
  readonly version: number;
  readonly files: number;
  readonly bytes: number;
  readonly createdAt: number;
  readonly updatedAt: number;
}

interface VolumesHook {
  commit(name: string): Promise<VolumeCommitResult>;
  reload(name: string): Promise<{ readonly version: number; readonly applied: number }>;
}

const hook = (): VolumesHook | undefined => (globalThis as { [VOLUMES_HOOK]?: VolumesHook })[VOLUMES_HOOK];

const checkedPath = (path: string, what: string): string => {
  const r = normalizeVolumePath(path);
  if (!r.ok) throw new TypeError(`${what}: ${r.reason}`);
  return r.path;
};

/**
 * A persistent file system shared by containers. Mounted with `volumes: { "/mnt/data": vol }`,
 * it is a read-write directory in each container, filled with the volume's latest version when
 * the container starts; `await vol.commit()` there publishes the container's changes as a new
 * version (last writer wins per file) and `await vol.reload()` brings in what others committed
 * since (the container's own uncommitted changes are kept, and win at its next commit).
 * `read`, `write`, `list` and `remove` work on the latest version directly, from anywhere: from
 * outside, and from any container (mounting the volume or not) through its API bridge, where one
 * request carries at most `maxContainerApiRequestBytes` (writes go in `volumeBlockBytes` blocks,
 * so any file size fits) and one answer at most `maxContainerApiResponseBytes` (so `read` of a
 * larger file is a 413: mount the volume and read it at its path).
 * Paths are relative to the volume's root (`/a/b` and `a/b` are the same); `..` is refused.
 *
 * @example
 * ```ts
 * const weights = Volume.fromName("weights", { createIfMissing: true });
 * export const train = app.function({ volumes: { "/weights": weights } }, async () => {
 *   await writeFile("/weights/model.bin", bytes);
 *   await weights.commit();
 * });
 * // anywhere else, in or out of a container: await weights.read("model.bin");
 * ```
 */
export class Volume {
  readonly [VOLUME_BRAND] = true;
  readonly name: string;
  readonly createIfMissing: boolean;
  private ensured: Promise<FerryClient> | undefined;

  private constructor(name: string, createIfMissing: boolean) {
    this.name = name;
    this.createIfMissing = createIfMissing;
  }

  /** The volume named `name` in the caller's workspace. */
  static fromName(name: string, options: VolumeFromNameOptions = {}): Volume {
    if (!Limits.namePattern.test(name)) throw new TypeError(`Volume.fromName: ${JSON.stringify(name)} is not a volume name (letters, digits, '_' and '-', starting with a letter or '_')`);
    return new Volume(name, options.createIfMissing ?? false);
  }

  /** What the deploy manifest carries. */
  toJSON(): string | { readonly name: string; readonly createIfMissing: true } {
    return this.createIfMissing ? { name: this.name, createIfMissing: true } : this.name;
  }

  /** Inside a container that mounts the volume: publish its changes as a new version. */
  commit(): Promise<VolumeCommitResult> {
    const h = hook();
    if (!h) return Promise.reject(new Error("vol.commit() works inside a Ferry container that mounts the volume; elsewhere, vol.write() publishes at once"));
    return h.commit(this.name);
  }

  /** Inside a container that mounts the volume: bring in the versions others committed since. */
  reload(): Promise<{ readonly version: number; readonly applied: number }> {
    const h = hook();
    if (!h) return Promise.reject(new Error("vol.reload() works inside a Ferry container that mounts the volume; elsewhere, vol.read() always sees the latest version"));
    return h.reload(this.name);
  }

  /** The volume's latest version, file count and size. */
  async info(): Promise<VolumeInfo> {
    const client = await this.client();
    return client.request<VolumeInfo>("GET", this.path(""));
  }

  /** A file's bytes in the latest version. */
  async read(path: string): Promise<Uint8Array> {
    const p = checkedPath(path, "vol.read");
    return volumeBytes.get(await this.client(), `${this.path("/file")}?${new URLSearchParams({ path: p })}`);
  }

  /** Write a file (creating directories as needed), published at once as a new version. */
  async write(path: string, data: Uint8Array | string, options: { readonly mode?: number } = {}): Promise<{ readonly version: number }> {
    const p = checkedPath(path, "vol.write");
    if (p === "") throw new TypeError("vol.write: name a file, not the volume root");
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    if (bytes.byteLength > Limits.maxVolumeFileBytes) throw new RangeError(`vol.write: ${bytes.byteLength} bytes; the limit (maxVolumeFileBytes) is ${Limits.maxVolumeFileBytes}`);
    const { version } = await uploadFiles(await this.client(), this.name, [{ path: p, read: async () => bytes, mode: options.mode }]);
    return { version };
  }

  /** The entries directly under `dir` (files, directories with their total size, symlinks). */
  async list(dir = "/"): Promise<ReadonlyArray<VolumeListing>> {
    const d = checkedPath(dir, "vol.list");
    const r = await (await this.client()).request<{ entries: VolumeListing[] }>("GET", `${this.path("/list")}?${new URLSearchParams({ dir: d })}`);
    return r.entries;
  }

  /** Remove a file, or a directory and everything in it, as a new version. */
  async remove(path: string): Promise<{ readonly version: number }> {
    const p = checkedPath(path, "vol.remove");
    if (p === "") throw new TypeError("vol.remove: name a path inside the volume; delete the volume itself with `ferry volume delete`");
    return (await this.client()).request("DELETE", `${this.path("/files")}?${new URLSearchParams({ path: p })}`);
  }

  private path(suffix: string): string {
    return `/v1/volumes/${encodeURIComponent(this.name)}${suffix}`;
  }

  /** The client, after creating the volume once if it may be missing. */
  private client(): Promise<FerryClient> {
    this.ensured ??= (async () => {
      const client = await FerryClient.fromEnvironment();
      if (this.createIfMissing) await client.request("POST", "/v1/volumes", { name: this.name, ifMissing: true });
      return client;
    })();
    this.ensured.catch(() => (this.ensured = undefined));
    return this.ensured;
  }
}
