import { createHash } from "node:crypto";
import { readFile, rm } from "node:fs/promises";
import { assertBlockDigest, BlockDigestMismatchError, BlockNotFoundError, Limits } from "@ferry/core";
import { blockFilePath, scanBlockFiles, writeBlockFile } from "./block-cache-files.ts";
import type { BlockSource } from "./block-source.ts";

/** How a node's block cache is set up. */
export interface BlockCacheOptions {
  /** The cache's directory (one file per block). */
  readonly dir: string;
  /** Where missing blocks come from (usually `regionBlockSource`). */
  readonly source: BlockSource;
  /** Most bytes of blocks kept on disk; `Limits.defaultNodeBlockCacheBytes` by default. */
  readonly maxBytes?: number;
  /** Fetches of one block before giving up; `Limits.blockFetchAttempts` by default. */
  readonly fetchAttempts?: number;
  /** Pause before the second fetch of a block, doubled for each later one, ms. */
  readonly retryDelayMs?: number;
}

/** Pause before refetching a block whose fetch failed or arrived corrupted, by default (ms). */
export const DEFAULT_BLOCK_RETRY_DELAY_MS = 50;

/** What the cache has done since it opened. */
export interface BlockCacheStats {
  readonly maxBytes: number;
  /** Bytes of the blocks on disk now (never above `maxBytes`). */
  readonly usedBytes: number;
  readonly blocks: number;
  /** Reads served from disk. */
  readonly hits: number;
  /** Reads that needed a fetch (joined fetches counted once per read). */
  readonly misses: number;
  /** Fetches made, and the bytes they brought. */
  readonly fetches: number;
  readonly fetchedBytes: number;
  /** Fetches whose bytes did not hash to their digest (refused and fetched again). */
  readonly corruptFetches: number;
  readonly evictions: number;
}

/** Outcome of a prefetch. */
export interface PrefetchReport {
  /** Blocks fetched now. */
  readonly fetched: number;
  /** Blocks that were already on disk. */
  readonly cached: number;
  /** Blocks that could not be fetched, with why (a prefetch never throws for one block). */
  readonly failed: ReadonlyArray<{ readonly digest: string; readonly message: string }>;
}

const sha256 = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The node's local cache of image blocks, shared by every image and container on the node.
 * Bounded in size: before a block is written, the least recently used blocks are evicted until
 * it fits, so the bytes on disk never exceed the bound (a block larger than the whole bound is
 * served without being kept). Every block is verified against its digest when fetched and when
 * read back from disk; a corrupted one is refetched (up to `fetchAttempts` times) and never
 * served. Concurrent reads of one missing block share one fetch.
 *
 * @example
 * ```ts
 * const cache = await BlockCache.open({ dir: join(stateDir, "blocks"), source: regionBlockSource(url, token) });
 * const bytes = await cache.get(digest);
 * await cache.prefetch(recordedDigests);
 * ```
 */
export class BlockCache {
  readonly dir: string;
  readonly maxBytes: number;
  private readonly source: BlockSource;
  private readonly attempts: number;
  private readonly retryDelayMs: number;
  /** digest → size, least recently used first (a Map keeps insertion order; a read moves its block to the end). */
  private readonly lru = new Map<string, number>();
  private readonly inflight = new Map<string, Promise<Uint8Array>>();
  private used = 0;
  /** Bytes set aside for blocks being written now. */
  private reserved = 0;
  /** Bytes of block files being deleted now. */
  private removing = 0;
  private counters = { hits: 0, misses: 0, fetches: 0, fetchedBytes: 0, corruptFetches: 0, evictions: 0 };

  private constructor(options: BlockCacheOptions) {
    this.dir = options.dir;
    this.source = options.source;
    this.maxBytes = options.maxBytes ?? Limits.defaultNodeBlockCacheBytes;
    this.attempts = Math.max(1, options.fetchAttempts ?? Limits.blockFetchAttempts);
    this.retryDelayMs = options.retryDelayMs ?? DEFAULT_BLOCK_RETRY_DELAY_MS;
  }

  /** Open the cache in `options.dir`, keeping the blocks already there (evicting the oldest if they exceed the bound). */
  static async open(options: BlockCacheOptions): Promise<BlockCache> {
    const cache = new BlockCache(options);
    for (const f of await scanBlockFiles(options.dir)) {
      cache.lru.set(f.digest, f.size);
      cache.used += f.size;
    }
    const before = cache.used;
    const victims = cache.evictFor(0);
    await cache.remove(victims, before - cache.used);
    return cache;
  }

  /** Whether block `digest` is on disk now. */
  has(digest: string): boolean {
    return this.lru.has(digest);
  }

  /** A block's bytes: from disk when cached, else fetched, verified and kept. */
  async get(digest: string): Promise<Uint8Array> {
    assertBlockDigest(digest);
    const local = await this.readLocal(digest);
    if (local) {
      this.counters.hits++;
      return local;
    }
    this.counters.misses++;
    const running = this.inflight.get(digest);
    if (running) return running;
    const p = this.fetchAndKeep(digest).finally(() => this.inflight.delete(digest));
    this.inflight.set(digest, p);
    return p;
  }

  /** Bytes `[offset, offset + length)` of block `digest` (fewer at its end). */
  async read(digest: string, offset: number, length: number): Promise<Uint8Array> {
    const bytes = await this.get(digest);
    return bytes.subarray(Math.min(offset, bytes.byteLength), Math.min(offset + length, bytes.byteLength));
  }

  /**
   * Fetch the blocks of `digests` that are not cached, `concurrency` at a time (for a cold
   * start: the blocks a function read on its first start). Failures are reported, not thrown.
   */
  async prefetch(digests: ReadonlyArray<string>, concurrency: number = Limits.blockPrefetchConcurrency): Promise<PrefetchReport> {
    const unique = [...new Set(digests)];
    const wanted = unique.filter((d) => !this.lru.has(d));
    const failed: { digest: string; message: string }[] = [];
    let next = 0;
    const worker = async () => {
      while (next < wanted.length) {
        const digest = wanted[next++];
        await this.get(digest).catch((e: unknown) => failed.push({ digest, message: e instanceof Error ? e.message : String(e) }));
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, wanted.length)) }, worker));
    return { fetched: wanted.length - failed.length, cached: unique.length - wanted.length, failed };
  }

  stats(): BlockCacheStats {
    return { maxBytes: this.maxBytes, usedBytes: this.used, blocks: this.lru.size, ...this.counters };
  }

  /** The cached bytes, verified; a missing or damaged file is dropped (and so fetched again). */
  private async readLocal(digest: string): Promise<Uint8Array | undefined> {
    const size = this.lru.get(digest);
    if (size === undefined) return undefined;
    this.lru.delete(digest);
    this.lru.set(digest, size);
    const bytes = await readFile(blockFilePath(this.dir, digest)).catch(() => undefined);
    if (bytes && sha256(bytes) === digest) return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (this.lru.get(digest) === size) {
      this.lru.delete(digest);
      this.used -= size;
      await this.remove([digest], size);
    }
    return undefined;
  }

  /** Fetch until the bytes hash to `digest` (bounded attempts), then keep them if they fit. */
  private async fetchAndKeep(digest: string): Promise<Uint8Array> {
    let lastError: unknown;
    for (let attempt = 1; attempt <= this.attempts; attempt++) {
      if (attempt > 1) await sleep(this.retryDelayMs * 2 ** (attempt - 2));
      let bytes: Uint8Array;
      try {
        this.counters.fetches++;
        bytes = await this.source.fetchBlock(digest);
      } catch (e) {
        if (e instanceof BlockNotFoundError) throw e;
        lastError = e;
        continue;
      }
      this.counters.fetchedBytes += bytes.byteLength;
      const actual = sha256(bytes);
      if (actual !== digest) {
        this.counters.corruptFetches++;
        lastError = new BlockDigestMismatchError({ expected: digest, actual, source: this.source.name });
        continue;
      }
      await this.keep(digest, bytes);
      return bytes;
    }
    throw lastError;
  }

  /** Bytes on disk or about to be: kept blocks, blocks being written, and evicted blocks not yet deleted. */
  private committed(): number {
    return this.used + this.reserved + this.removing;
  }

  /**
   * Choose (and drop from the books) the least recently used blocks to evict so that `size`
   * more bytes fit; none when they cannot be made to fit (the space is held by writes and
   * deletions in progress).
   */
  private evictFor(size: number): string[] {
    const victims: string[] = [];
    let freed = 0;
    for (const [digest, bytes] of this.lru) {
      if (this.committed() - freed + size <= this.maxBytes) break;
      victims.push(digest);
      freed += bytes;
    }
    if (this.committed() - freed + size > this.maxBytes) return [];
    for (const d of victims) this.lru.delete(d);
    this.used -= freed;
    this.counters.evictions += victims.length;
    return victims;
  }

  /** Delete evicted or damaged block files; their bytes count against the bound until they are gone. */
  private async remove(digests: ReadonlyArray<string>, bytes: number): Promise<void> {
    this.removing += bytes;
    try {
      await Promise.all(digests.map((d) => rm(blockFilePath(this.dir, d), { force: true })));
    } finally {
      this.removing -= bytes;
    }
  }

  /** Write a verified block to disk, after evicting (and deleting) enough to stay within the bound. */
  private async keep(digest: string, bytes: Uint8Array): Promise<void> {
    const size = bytes.byteLength;
    if (this.lru.has(digest)) return;
    const before = this.used;
    const victims = this.committed() + size > this.maxBytes ? this.evictFor(size) : [];
    // Cannot fit (larger than the bound, or the space is held by work in progress): serve without keeping.
    if (this.committed() + size > this.maxBytes) return;
    this.reserved += size;
    try {
      await this.remove(victims, before - this.used);
      await writeBlockFile(this.dir, digest, bytes);
      this.lru.set(digest, size);
      this.used += size;
    } catch {
      // Not kept: the bytes are still served; the next read fetches again.
    } finally {
      this.reserved -= size;
    }
  }
}
