import { createHash } from "node:crypto";
import { mkdir, rename, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";

const INTERNAL_TOKEN_HEADER = "x-ferry-internal-token";
const HASH_PATTERN = /^[0-9a-f]{64}$/;

/** sha256 of `bytes`, hex: the content address of a snapshot. */
export const sha256Hex = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");

/**
 * Filesystem snapshots on this node: fetched from the region once per content hash for sandboxes
 * that start from them, and uploaded to it when a sandbox is snapshotted.
 *
 * @example
 * ```ts
 * const snapshots = new SnapshotFiles(join(stateDir, "snapshots"), internalToken);
 * const tar = await snapshots.get(hash, regionUrl); // a local path, bound read-only into the sandbox
 * ```
 */
export class SnapshotFiles {
  private readonly dir: string;
  private readonly internalToken: string;
  private readonly inflight = new Map<string, Promise<string>>();

  constructor(dir: string, internalToken: string) {
    this.dir = dir;
    this.internalToken = internalToken;
  }

  /** The local path of snapshot `hash` (a directory holding `snapshot.tar`), fetching it if missing. */
  get(hash: string, regionUrl: string): Promise<string> {
    const existing = this.inflight.get(hash);
    if (existing) return existing;
    const p = this.fetchOnce(hash, regionUrl);
    this.inflight.set(hash, p);
    p.catch(() => this.inflight.delete(hash));
    return p;
  }

  /** Store `bytes` at the region under its hash; returns the hash. */
  async upload(bytes: Uint8Array, regionUrl: string): Promise<string> {
    const hash = sha256Hex(bytes);
    const res = await fetch(`${regionUrl}/internal/snapshots/${hash}`, {
      method: "PUT", body: bytes as Uint8Array<ArrayBuffer>, headers: { [INTERNAL_TOKEN_HEADER]: this.internalToken, "content-type": "application/x-tar" },
    });
    if (!res.ok) throw new Error(`the region refused the snapshot: HTTP ${res.status} ${await res.text()}`);
    return hash;
  }

  private async fetchOnce(hash: string, regionUrl: string): Promise<string> {
    if (!HASH_PATTERN.test(hash)) throw new Error(`invalid snapshot hash ${hash}`);
    const dir = join(this.dir, hash);
    const path = join(dir, "snapshot.tar");
    if (await stat(path).then(() => true, () => false)) return dir;
    const res = await fetch(`${regionUrl}/internal/snapshots/${hash}`, { headers: { [INTERNAL_TOKEN_HEADER]: this.internalToken } });
    if (!res.ok) throw new Error(`snapshot ${hash} could not be fetched: HTTP ${res.status}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    const actual = sha256Hex(bytes);
    if (actual !== hash) throw new Error(`snapshot ${hash} arrived corrupted (sha256 ${actual})`);
    await mkdir(dir, { recursive: true, mode: 0o755 });
    const tmp = `${path}.${process.pid}.tmp`;
    await writeFile(tmp, bytes, { mode: 0o644 });
    await rename(tmp, path);
    return dir;
  }
}
