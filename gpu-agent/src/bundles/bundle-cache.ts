import { createHash } from "node:crypto";
import { mkdir, rename, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * App bundles on this node, one file per content hash, fetched from the region once and shared
 * by every container of that app version. A fetched bundle whose hash does not match is refused.
 */
export class BundleCache {
  private readonly dir: string;
  private readonly inflight = new Map<string, Promise<string>>();
  private readonly internalToken: string;
  /** Bundles known to be on disk: they start without a fetch (bids say so). */
  readonly cached = new Set<string>();

  constructor(dir: string, internalToken: string) {
    this.dir = dir;
    this.internalToken = internalToken;
  }

  /** The local path of bundle `hash`, fetching it from `regionUrl` if missing. */
  get(hash: string, regionUrl: string): Promise<string> {
    const existing = this.inflight.get(hash);
    if (existing) return existing;
    const p = this.fetchOnce(hash, regionUrl);
    this.inflight.set(hash, p);
    p.then(() => this.cached.add(hash), () => this.inflight.delete(hash));
    return p;
  }

  private async fetchOnce(hash: string, regionUrl: string): Promise<string> {
    if (!/^[0-9a-f]{64}$/.test(hash)) throw new Error(`invalid bundle hash ${hash}`);
    const dir = join(this.dir, hash);
    const path = join(dir, "app.mjs");
    if (await stat(path).then(() => true, () => false)) return path;
    const res = await fetch(`${regionUrl}/internal/bundles/${hash}`, { headers: { "x-ferry-internal-token": this.internalToken } });
    if (!res.ok) throw new Error(`bundle ${hash} could not be fetched: HTTP ${res.status}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    const actual = createHash("sha256").update(bytes).digest("hex");
    if (actual !== hash) throw new Error(`bundle ${hash} arrived corrupted (sha256 ${actual})`);
    await mkdir(dir, { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    await writeFile(tmp, bytes);
    await rename(tmp, path);
    return path;
  }
}
