import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Hono } from "hono";
import { BlockDigestMismatchError, BlockNotFoundError, decodeImageIndexBytes, loadImageIndex, storeImageIndex } from "@ferry/core";
import { listenHttp, type ListeningHttp } from "@ferry/core/node";
import { blockRoutes } from "../../regions/src/images/block-routes.ts";
import { LocalDirBlockStore } from "../../image-builder/src/store/local-dir-block-store.ts";
import { indexDirectory } from "../../image-builder/src/store/index-directory.ts";
import { BlockCache } from "../src/images/block-cache.ts";
import { regionBlockSource } from "../src/images/block-source.ts";
import { readImageFileRange } from "../src/images/block-file-reader.ts";

const TOKEN = "test-internal-token";
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

let root: string;
let store: LocalDirBlockStore;
let http: ListeningHttp;
/** Digest → how many more fetches of it the server answers with flipped bytes. */
const corruptNext = new Map<string, number>();
/** Digest → fetches the server saw. */
const served = new Map<string, number>();

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "ferry-block-cache-"));
  store = new LocalDirBlockStore(join(root, "region-store"));
  // The region's real block routes behind the internal token, with a fault injector in front.
  const app = new Hono();
  app.use("/internal/*", async (c, next) => {
    if (c.req.header("x-ferry-internal-token") !== TOKEN) return c.json({ error: { message: "bad token" } }, 401);
    await next();
    const digest = c.req.path.split("/").pop() ?? "";
    served.set(digest, (served.get(digest) ?? 0) + 1);
    const left = corruptNext.get(digest) ?? 0;
    if (left > 0 && c.res.status === 200) {
      corruptNext.set(digest, left - 1);
      const bytes = new Uint8Array(await c.res.arrayBuffer());
      bytes[0] ^= 0xff;
      c.res = new Response(bytes, { status: 200 });
    }
  });
  app.route("/internal", blockRoutes({ store }));
  http = await listenHttp(app.fetch, "127.0.0.1", 0);
});
afterAll(async () => {
  await http.close();
  await rm(root, { recursive: true, force: true });
});

let n = 0;
const openCache = (maxBytes?: number) =>
  BlockCache.open({ dir: join(root, `cache-${++n}`), source: regionBlockSource(http.url, TOKEN), maxBytes, retryDelayMs: 1 });

/** Bytes of the block files in a cache directory now. */
const diskBytes = async (dir: string): Promise<number> => {
  let total = 0;
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) if (e.isFile()) total += (await stat(join(e.parentPath, e.name))).size;
  return total;
};

describe("region block routes", () => {
  it("serve a block's bytes, refuse a malformed digest, a missing block and a missing token", async () => {
    const digest = await store.put(new TextEncoder().encode("served"));
    const get = (path: string, token = TOKEN) => fetch(`${http.url}/internal${path}`, { headers: { "x-ferry-internal-token": token } });
    const ok = await get(`/blocks/${digest}`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe("served");
    const bad = await get("/blocks/not-a-digest");
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { field: string } }).error.field).toBe("digest");
    expect((await get(`/blocks/${"0".repeat(64)}`)).status).toBe(404);
    expect((await get(`/blocks/${digest}`, "wrong")).status).toBe(401);
  });

  it("serve an image index in its canonical encoding, which hashes to the image id; a non-index block is no image", async () => {
    const dir = await mkdtemp(join(root, "img-"));
    const { writeFile } = await import("node:fs/promises");
    await writeFile(join(dir, "main.js"), "console.log(1)");
    const { index } = await indexDirectory(dir, store);
    const id = await storeImageIndex(store, index);
    const res = await fetch(`${http.url}/internal/images/${id}`, { headers: { "x-ferry-internal-token": TOKEN } });
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect(sha(bytes)).toBe(id);
    expect(decodeImageIndexBytes(bytes)).toMatchObject({ _tag: "Success", success: index });
    const notIndex = await store.put(new TextEncoder().encode("just bytes"));
    expect((await fetch(`${http.url}/internal/images/${notIndex}`, { headers: { "x-ferry-internal-token": TOKEN } })).status).toBe(404);
    // A node loads the same index through its cache.
    expect(await loadImageIndex(await openCache(), id)).toEqual(index);
  });
});

describe("node block cache", () => {
  it("fetches a missing block once, verifies it, then serves it from disk", async () => {
    const bytes = randomBytes(5000);
    const digest = await store.put(bytes);
    const cache = await openCache();
    expect(Buffer.from(await cache.get(digest)).equals(bytes)).toBe(true);
    expect(Buffer.from(await cache.get(digest)).equals(bytes)).toBe(true);
    expect(cache.stats()).toMatchObject({ fetches: 1, hits: 1, misses: 1, fetchedBytes: 5000, blocks: 1, usedBytes: 5000 });
    expect(served.get(digest)).toBe(1);
    // Reopened, the cache keeps what is on disk.
    const again = await BlockCache.open({ dir: cache.dir, source: regionBlockSource(http.url, TOKEN) });
    expect(again.has(digest)).toBe(true);
  });

  it("refetches a block that arrives corrupted and never serves the corrupted bytes", async () => {
    const bytes = randomBytes(3000);
    const digest = await store.put(bytes);
    corruptNext.set(digest, 1);
    const cache = await openCache();
    const got = await cache.get(digest);
    expect(sha(got)).toBe(digest);
    expect(cache.stats()).toMatchObject({ fetches: 2, corruptFetches: 1 });
    expect(served.get(digest)).toBe(2);
  });

  it("gives up with a digest mismatch after bounded refetches, keeping nothing", async () => {
    const digest = await store.put(randomBytes(1000));
    corruptNext.set(digest, 100);
    const cache = await openCache();
    await expect(cache.get(digest)).rejects.toBeInstanceOf(BlockDigestMismatchError);
    expect(cache.stats()).toMatchObject({ fetches: 3, corruptFetches: 3, blocks: 0, usedBytes: 0 });
    expect(cache.has(digest)).toBe(false);
    corruptNext.delete(digest);
  });

  it("answers a block the region does not hold with BlockNotFoundError, without retrying", async () => {
    const cache = await openCache();
    const absent = "ab".repeat(32);
    await expect(cache.get(absent)).rejects.toBeInstanceOf(BlockNotFoundError);
    expect(cache.stats().fetches).toBe(1);
  });

  it("shares one fetch among concurrent reads of the same block", async () => {
    const digest = await store.put(randomBytes(200_000));
    const cache = await openCache();
    const all = await Promise.all(Array.from({ length: 20 }, () => cache.get(digest)));
    expect(new Set(all.map(sha))).toEqual(new Set([digest]));
    expect(served.get(digest)).toBe(1);
    expect(cache.stats().fetches).toBe(1);
  });

  it("never holds more than its bound on disk under a workload larger than the bound, evicting least recently used", async () => {
    const blockBytes = 10_000;
    const digests: string[] = [];
    for (let i = 0; i < 40; i++) digests.push(await store.put(randomBytes(blockBytes)));
    const bound = 8 * blockBytes + 5_000;
    const cache = await openCache(bound);
    // Keep one block hot: it survives while colder ones are evicted.
    const hot = digests[0];
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < digests.length; i += 4) {
        await Promise.all([cache.get(hot), ...digests.slice(i, i + 4).map((d) => cache.get(d))]);
        expect(await diskBytes(cache.dir)).toBeLessThanOrEqual(bound);
        expect(cache.stats().usedBytes).toBeLessThanOrEqual(bound);
      }
    }
    expect(cache.has(hot)).toBe(true);
    expect(cache.stats().blocks).toBe(8);
    expect(cache.stats().evictions).toBeGreaterThan(0);
    // A block larger than the whole bound is served but not kept.
    const huge = await store.put(randomBytes(bound + 1));
    expect((await cache.get(huge)).byteLength).toBe(bound + 1);
    expect(cache.has(huge)).toBe(false);
    expect(await diskBytes(cache.dir)).toBeLessThanOrEqual(bound);
    // Reopened with a smaller bound, it evicts down to it.
    const smaller = await BlockCache.open({ dir: cache.dir, source: regionBlockSource(http.url, TOKEN), maxBytes: 3 * blockBytes });
    expect(await diskBytes(cache.dir)).toBeLessThanOrEqual(3 * blockBytes);
    expect(smaller.stats().blocks).toBe(3);
  });

  it("prefetches in parallel, skipping cached blocks and reporting failures instead of throwing", async () => {
    const digests = await Promise.all(Array.from({ length: 12 }, () => store.put(randomBytes(2000))));
    const cache = await openCache();
    await cache.get(digests[0]);
    const absent = "cd".repeat(32);
    const report = await cache.prefetch([...digests, digests[1], absent], 4);
    expect(report.cached).toBe(1);
    expect(report.fetched).toBe(11);
    expect(report.failed.map((f) => f.digest)).toEqual([absent]);
    for (const d of digests) expect(cache.has(d)).toBe(true);
  });

  it("reads any byte range of a chunked image file, fetching only the chunks it touches", async () => {
    const dir = await mkdtemp(join(root, "chunked-"));
    const { writeFile } = await import("node:fs/promises");
    const big = randomBytes(4096 * 3 + 100);
    await writeFile(join(dir, "big.bin"), big);
    const { index } = await indexDirectory(dir, store, { chunkBytes: 4096 });
    const entry = index.entries[0];
    if (entry.type !== "file") throw new Error("expected a file");
    const cache = await openCache();
    const part = await readImageFileRange(cache, entry, index.chunkBytes, 4000, 200);
    expect(Buffer.from(part).equals(big.subarray(4000, 4200))).toBe(true);
    expect(cache.stats().fetches).toBe(2);
    const tail = await readImageFileRange(cache, entry, index.chunkBytes, big.byteLength - 50, 1000);
    expect(Buffer.from(tail).equals(big.subarray(big.byteLength - 50))).toBe(true);
    expect(cache.stats().fetches).toBe(3);
    const whole = await readImageFileRange(cache, entry, index.chunkBytes, 0, big.byteLength);
    expect(Buffer.from(whole).equals(big)).toBe(true);
  });
});
