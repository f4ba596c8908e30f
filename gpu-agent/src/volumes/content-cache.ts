import { createHash } from "node:crypto";
import { copyFile, mkdir, open, rename, rm, stat, chmod } from "node:fs/promises";
import { join } from "node:path";
import type { VolumeFileEntry } from "@ferry/core";
import type { VolumeClient } from "./volume-client.ts";

/**
 * Volume file contents on this node, one read-only file per SHA-256 digest, shared by every
 * container that mounts any volume: a file is fetched once per node, then copied (reflinked where
 * the file system can) into each container's directory. A file enters the cache only once its
 * bytes hash to its digest, so no volume can plant content under another's digest.
 *
 * @example
 * ```ts
 * const cache = new ContentCache(join(stateDir, "volumes", "cache"));
 * const path = await cache.ensure(entry, client);
 * ```
 */
export class ContentCache {
  private readonly dir: string;
  private readonly inflight = new Map<string, Promise<string>>();

  constructor(dir: string) {
    this.dir = dir;
  }

  pathOf(digest: string): string {
    return join(this.dir, digest.slice(0, 2), digest);
  }

  async has(digest: string): Promise<boolean> {
    return stat(this.pathOf(digest)).then(() => true, () => false);
  }

  /** The cached file holding `entry`'s content, fetching its blocks from the region if missing. */
  ensure(entry: VolumeFileEntry, client: VolumeClient): Promise<string> {
    const existing = this.inflight.get(entry.digest);
    if (existing) return existing;
    const p = this.fetchOnce(entry, client).finally(() => this.inflight.delete(entry.digest));
    this.inflight.set(entry.digest, p);
    return p;
  }

  /** Keep a copy of a local file known (from a commit's scan) to hash to `digest`; a file changed since is left out. */
  async adopt(source: string, digest: string): Promise<void> {
    if (await this.has(digest)) return;
    const tmp = await this.tmpPath(digest);
    try {
      await copyFile(source, tmp);
      if ((await hashFile(tmp)) === digest) await this.publish(tmp, digest);
    } finally {
      await rm(tmp, { force: true });
    }
  }

  private async fetchOnce(entry: VolumeFileEntry, client: VolumeClient): Promise<string> {
    const path = this.pathOf(entry.digest);
    if (await this.has(entry.digest)) return path;
    const tmp = await this.tmpPath(entry.digest);
    const hash = createHash("sha256");
    const fh = await open(tmp, "w", 0o600);
    try {
      for (const block of entry.blocks) {
        const bytes = await client.getBlock(block);
        if (createHash("sha256").update(bytes).digest("hex") !== block) throw new Error(`block ${block} arrived corrupted`);
        hash.update(bytes);
        await fh.write(bytes);
      }
    } finally {
      await fh.close();
    }
    try {
      if (hash.digest("hex") !== entry.digest) throw new Error(`the blocks of file ${entry.digest} do not hash to its digest`);
      await this.publish(tmp, entry.digest);
    } finally {
      await rm(tmp, { force: true });
    }
    return path;
  }

  private async tmpPath(digest: string): Promise<string> {
    await mkdir(join(this.dir, digest.slice(0, 2)), { recursive: true, mode: 0o700 });
    return `${this.pathOf(digest)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  }

  private async publish(tmp: string, digest: string): Promise<void> {
    await chmod(tmp, 0o400);
    await rename(tmp, this.pathOf(digest));
  }
}

/** SHA-256 of a file's bytes, in lowercase hex. */
export const hashFile = async (path: string): Promise<string> => {
  const hash = createHash("sha256");
  const fh = await open(path, "r");
  try {
    for await (const chunk of fh.createReadStream()) hash.update(chunk as Buffer);
  } finally {
    await fh.close().catch(() => undefined);
  }
  return hash.digest("hex");
};
