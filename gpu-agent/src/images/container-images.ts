/**
 * Containers that start from a custom image: the agent fetches the image's index (small), mounts
 * it as a lazy FUSE file system whose file bytes come through the node's shared block cache on
 * first read, and binds it into the sandbox (see image-root.ts). The files the first container of
 * an image read are remembered, and their blocks prefetched in parallel when a later container
 * of that image starts cold.
 */
import { randomBytes } from "node:crypto";
import { chmod, mkdir, rm, rmdir } from "node:fs/promises";
import { join } from "node:path";
import { decodeImageIndexBytes, fileBlocks, imageBlocks, sha256Hex, type ImageFileEntry, type ImageIndex } from "@ferry/core";
import { BlockCache, type BlockCacheStats } from "./block-cache.ts";
import { readImageFileRange } from "./block-file-reader.ts";
import { BlockFetchError, regionBlockSource, type BlockSource } from "./block-source.ts";
import { mountLazyImage, type LazyMount, type LazySource } from "./fuse/index.ts";
import { imageRootEntries, imageWorkdir } from "./image-root.ts";
import type { RootfsEntry } from "../sandbox/bwrap-args.ts";

/** Directories under the agent's state dir: mount points are made 0755 so the sandbox user can reach them. */
const MOUNT_DIR_MODE = 0o755;

/** Options of `ContainerImages`. */
export interface ContainerImagesOptions {
  /** The agent's state dir: blocks under `images/blocks`, mount points under `images/mnt`. */
  readonly stateDir: string;
  readonly internalToken: string;
  /** Bound of the node's block cache (default `Limits.defaultNodeBlockCacheBytes`). */
  readonly cacheBytes?: number;
  /** Told about reads that failed inside a container (it sees EIO). */
  readonly onError?: (message: string) => void;
  /** `"lazy"` (the default): bytes on first read; `"eager"`: the whole image is fetched before the container starts (a baseline). */
  readonly loading?: ImageLoading;
}

/** How long an image's shared mount outlives its last container (the next cold start then skips mounting). */
export const IMAGE_MOUNT_IDLE_MS = 10 * 60_000;

/** Idle image mounts kept for the next cold start; more go at once, the oldest first. */
export const MAX_IDLE_IMAGE_MOUNTS = 2;

/** One image's lazy mount and the containers using it. */
interface SharedMount {
  readonly imageId: string;
  readonly mountpoint: string;
  readonly mount: LazyMount;
  refs: number;
  idleTimer?: ReturnType<typeof setTimeout>;
  idleSince?: number;
  /** Set when the cache under it was dropped: unmounted when its last container ends, never reused. */
  retired: boolean;
}

/** How a container's image bytes reach the node. */
export type ImageLoading = "lazy" | "eager";

/** An image mounted for one container. */
export interface MountedContainerImage {
  /** Entries to append to the sandbox's rootfs. */
  readonly rootfs: ReadonlyArray<RootfsEntry>;
  /** The working directory to start in. */
  readonly cwd: string;
  /** Record the first start's reads (once per image), then unmount. Call after the sandbox exits. */
  release(): Promise<void>;
}

/** The lazy file system's view of an index, reading through `cache`. */
export const lazySourceOf = (index: ImageIndex, cache: BlockCache): LazySource => {
  const files = new Map<string, ImageFileEntry>();
  for (const e of index.entries) if (e.type === "file") files.set(e.path, e);
  return {
    index: {
      entries: index.entries.map((e) => e.type === "symlink"
        ? { path: e.path, kind: "symlink" as const, mode: e.mode, size: e.size, linkTarget: e.target }
        : { path: e.path, kind: e.type === "dir" ? "directory" as const : "file" as const, mode: e.mode, size: e.size }),
    },
    read: async (path, offset, length) => {
      const entry = files.get(path);
      if (entry === undefined) throw new Error(`${path} is not a file of the image`);
      return readImageFileRange(cache, entry, index.chunkBytes, offset, length);
    },
  };
};

/**
 * The agent's custom images: one block cache for the node, indexes fetched once, a lazy mount per
 * container.
 *
 * @example
 * ```ts
 * const images = new ContainerImages({ stateDir, internalToken });
 * const mounted = await images.mount({ containerId, imageId, regionUrl, workdir: "/app", fallbackCwd: "/opt/ferry/app", reserved });
 * // start the sandbox with rootfs [...base, ...mounted.rootfs], cwd mounted.cwd; after it exits:
 * await mounted.release();
 * ```
 */
export class ContainerImages {
  private readonly opts: ContainerImagesOptions;
  private regionUrl = "";
  private cache: Promise<BlockCache> | undefined;
  private readonly indexes = new Map<string, Promise<ImageIndex>>();
  /** imageId → the blocks of the files its first container read. */
  private readonly recorded = new Map<string, ReadonlyArray<string>>();
  private readonly mounts = new Set<LazyMount>();
  /** imageId → its mount, shared by that image's containers. */
  private readonly shared = new Map<string, Promise<SharedMount>>();
  private users = 0;
  /** How later starts load their image (see `ContainerImagesOptions.loading`); benchmarks switch it. */
  loading: ImageLoading;

  constructor(opts: ContainerImagesOptions) {
    this.opts = opts;
    this.loading = opts.loading ?? "lazy";
  }

  /**
   * Forget every cached block (the next start of any image fetches again), and with `forgetReads`
   * the recorded first-start reads too: how benchmarks make a node that never saw the image.
   */
  async dropCache(options: { readonly forgetReads?: boolean } = {}): Promise<void> {
    // Mounts read through the old cache: idle ones go now, those in use when their last container ends.
    const entries = await Promise.all([...this.shared.values()].map((p) => p.catch(() => undefined)));
    this.shared.clear();
    for (const e of entries) {
      if (e === undefined) continue;
      e.retired = true;
      if (e.refs === 0) await this.unmountShared(e);
    }
    const open = this.cache;
    this.cache = undefined;
    await open?.catch(() => undefined);
    await rm(join(this.opts.stateDir, "images", "blocks"), { recursive: true, force: true });
    if (options.forgetReads) this.recorded.clear();
  }

  /** The node block cache's counters (undefined before the first custom image). */
  async stats(): Promise<BlockCacheStats | undefined> {
    return (await this.cache)?.stats();
  }

  /** Images mounted now: one per image in use or used within `IMAGE_MOUNT_IDLE_MS`. */
  get mounted(): number {
    return this.mounts.size;
  }

  /** Containers and sandboxes using a mounted image now. */
  get inUse(): number {
    return this.users;
  }

  /** Which blocks the first container of `imageId` read (empty until it has exited). */
  recordedBlocks(imageId: string): ReadonlyArray<string> {
    return this.recorded.get(imageId) ?? [];
  }

  private openCache(): Promise<BlockCache> {
    // The region's URL travels with each start command: the source always asks the latest one.
    const source: BlockSource = {
      get name() {
        return "region block store";
      },
      fetchBlock: (digest) => regionBlockSource(this.regionUrl, this.opts.internalToken).fetchBlock(digest),
    };
    this.cache ??= BlockCache.open({ dir: join(this.opts.stateDir, "images", "blocks"), source, maxBytes: this.opts.cacheBytes });
    return this.cache;
  }

  /** An image's index from the region, checked against its id; kept in memory (an image never changes). */
  private index(imageId: string): Promise<ImageIndex> {
    const known = this.indexes.get(imageId);
    if (known) return known;
    const p = (async () => {
      const url = `${this.regionUrl.replace(/\/+$/, "")}/internal/images/${imageId}`;
      const res = await fetch(url, { headers: { "x-ferry-internal-token": this.opts.internalToken } }).catch((e: unknown) => {
        throw new BlockFetchError(url, String(e));
      });
      if (!res.ok) throw new BlockFetchError(url, `HTTP ${res.status} ${(await res.text().catch(() => "")).slice(0, 200)}`, res.status);
      const bytes = new Uint8Array(await res.arrayBuffer());
      const actual = await sha256Hex(bytes);
      if (actual !== imageId) throw new Error(`image index ${imageId} from ${url} hashes to ${actual}: refused; redeploy the app to upload the image again`);
      const decoded = decodeImageIndexBytes(bytes, `image ${imageId}`);
      if (decoded._tag === "Failure") throw new Error(decoded.failure.message);
      return decoded.success;
    })();
    this.indexes.set(imageId, p);
    p.catch(() => this.indexes.delete(imageId));
    return p;
  }

  /**
   * Mount image `imageId` for container `containerId`; `reserved` are the sandbox paths the
   * platform binds itself (never shadowed by the image). Containers of one image share one
   * read-only lazy mount, kept `IMAGE_MOUNT_IDLE_MS` after its last container so the next cold
   * start of that image skips mounting.
   */
  async mount(args: {
    readonly containerId: string; readonly imageId: string; readonly regionUrl: string; readonly workdir: string;
    readonly fallbackCwd: string; readonly reserved: ReadonlyArray<string>;
  }): Promise<MountedContainerImage> {
    this.regionUrl = args.regionUrl;
    const cache = await this.openCache();
    const index = await this.index(args.imageId);
    const recorded = this.recorded.get(args.imageId);
    // A later cold start: fetch what the first one read, in parallel, while the container starts
    // (reads of a block being prefetched join its fetch).
    if (this.loading === "eager") await cache.prefetch(imageBlocks(index).map((b) => b.digest));
    else if (recorded && recorded.length > 0) void cache.prefetch(recorded);
    const entry = await this.sharedMount(args.imageId, index, cache);
    entry.refs++;
    this.users++;
    if (entry.idleTimer) clearTimeout(entry.idleTimer);
    entry.idleTimer = undefined;
    let released: Promise<void> | undefined;
    const release = async () => {
      // The reads of the image's first containers (one stopped before its first input says nothing).
      const read = this.recorded.has(args.imageId) ? [] : this.blocksRead(index, entry.mount);
      if (read.length > 0) this.recorded.set(args.imageId, read);
      entry.refs--;
      this.users--;
      if (entry.refs > 0) return;
      if (entry.retired) await this.unmountShared(entry);
      else {
        entry.idleSince = Date.now();
        entry.idleTimer = setTimeout(() => void this.unmountShared(entry), IMAGE_MOUNT_IDLE_MS).unref();
        await this.trimIdleMounts();
      }
    };
    return {
      rootfs: imageRootEntries(index.entries, entry.mountpoint, args.reserved),
      cwd: imageWorkdir(index.entries, args.workdir, args.fallbackCwd),
      release: () => (released ??= release()),
    };
  }

  /** The image's shared mount, mounting it on first use (concurrent first uses share one mount). */
  private sharedMount(imageId: string, index: ImageIndex, cache: BlockCache): Promise<SharedMount> {
    const known = this.shared.get(imageId);
    if (known) return known;
    const p = (async (): Promise<SharedMount> => {
      const mnt = join(this.opts.stateDir, "images", "mnt");
      await mkdir(mnt, { recursive: true, mode: MOUNT_DIR_MODE });
      await chmod(join(this.opts.stateDir, "images"), MOUNT_DIR_MODE);
      await chmod(mnt, MOUNT_DIR_MODE);
      const mountpoint = join(mnt, `${imageId.slice(0, 16)}-${randomBytes(3).toString("hex")}`);
      await mkdir(mountpoint, { mode: MOUNT_DIR_MODE });
      const mount = await mountLazyImage({ mountpoint, source: lazySourceOf(index, cache), onError: this.opts.onError });
      this.mounts.add(mount);
      return { imageId, mountpoint, mount, refs: 0, retired: false };
    })();
    this.shared.set(imageId, p);
    p.catch(() => this.shared.delete(imageId));
    return p;
  }

  /** Keep at most `MAX_IDLE_IMAGE_MOUNTS` idle mounts (each holds a reader thread): the oldest idle go first. */
  private async trimIdleMounts(): Promise<void> {
    const entries = await Promise.all([...this.shared.values()].map((p) => p.catch(() => undefined)));
    const idle = entries.filter((e): e is SharedMount => e !== undefined && e.refs === 0).sort((a, b) => (a.idleSince ?? 0) - (b.idleSince ?? 0));
    for (const e of idle.slice(0, Math.max(0, idle.length - MAX_IDLE_IMAGE_MOUNTS))) await this.unmountShared(e);
  }

  private async unmountShared(entry: SharedMount): Promise<void> {
    if (entry.refs > 0) return;
    if (entry.idleTimer) clearTimeout(entry.idleTimer);
    entry.idleTimer = undefined;
    const current = this.shared.get(entry.imageId);
    if (current !== undefined && (await current.catch(() => undefined)) === entry) this.shared.delete(entry.imageId);
    if (!this.mounts.delete(entry.mount)) return;
    await entry.mount.unmount().catch(() => undefined);
    await rmdir(entry.mountpoint).catch(() => undefined);
  }

  /** The blocks of every file a mount's container read, in first-read order. */
  private blocksRead(index: ImageIndex, mount: LazyMount): string[] {
    const files = new Map<string, ImageFileEntry>();
    for (const e of index.entries) if (e.type === "file") files.set(e.path, e);
    const digests: string[] = [];
    for (const { path } of mount.accessLog()) {
      const entry = files.get(path);
      if (entry) for (const b of fileBlocks(entry)) digests.push(b.digest);
    }
    return [...new Set(digests)];
  }

  /** Unmount every image still mounted (the agent is closing). */
  async close(): Promise<void> {
    for (const p of this.shared.values()) void p.then((e) => e.idleTimer && clearTimeout(e.idleTimer), () => undefined);
    this.shared.clear();
    await Promise.all([...this.mounts].map((m) => m.unmount().catch(() => undefined)));
    this.mounts.clear();
  }
}
