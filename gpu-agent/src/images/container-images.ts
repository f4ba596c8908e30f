/**
 * Containers that start from a custom image: the agent fetches the image's index (small), mounts
 * it as a lazy FUSE file system whose file bytes come through the node's shared block cache on
 * first read, and binds it into the sandbox (see image-root.ts). The files the first container of
 * an image read are remembered, and their blocks prefetched in parallel when a later container
 * of that image starts cold.
 */
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

  /** Images mounted now: one per running container or sandbox of a built image. */
  get mounted(): number {
    return this.mounts.size;
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
   * platform binds itself (never shadowed by the image).
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
    const mnt = join(this.opts.stateDir, "images", "mnt");
    await mkdir(mnt, { recursive: true, mode: MOUNT_DIR_MODE });
    await chmod(join(this.opts.stateDir, "images"), MOUNT_DIR_MODE);
    await chmod(mnt, MOUNT_DIR_MODE);
    const mountpoint = join(mnt, args.containerId);
    await mkdir(mountpoint, { mode: MOUNT_DIR_MODE });
    const mount = await mountLazyImage({ mountpoint, source: lazySourceOf(index, cache), onError: this.opts.onError });
    this.mounts.add(mount);
    let released: Promise<void> | undefined;
    const release = async () => {
      // The first container that read anything (one stopped before its first input says nothing).
      const read = this.recorded.has(args.imageId) ? [] : this.blocksRead(index, mount);
      if (read.length > 0) this.recorded.set(args.imageId, read);
      this.mounts.delete(mount);
      await mount.unmount();
      await rmdir(mountpoint).catch(() => undefined);
    };
    return {
      rootfs: imageRootEntries(index.entries, mountpoint, args.reserved),
      cwd: imageWorkdir(index.entries, args.workdir, args.fallbackCwd),
      release: () => (released ??= release()),
    };
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
    await Promise.all([...this.mounts].map((m) => m.unmount().catch(() => undefined)));
    this.mounts.clear();
  }
}
