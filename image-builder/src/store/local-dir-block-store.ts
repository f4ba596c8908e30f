import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { assertBlockDigest, BlockDigestMismatchError, BlockNotFoundError, type BlockStore } from "@ferry/core";
import { hashBytes } from "./hash-bytes.ts";
import { runLimited } from "./run-limited.ts";

/** Presence checks a `missing` call runs at once. */
const MISSING_CONCURRENCY = 64;

/**
 * The default block store: one read-only file per block under `<dir>/sha256/ab/abcdef…` (the
 * first two hex characters fan the files out). A block is written to a temporary file beside
 * its final name and renamed into place, so a reader never sees half a block; bytes are hashed
 * before they are written and again when read, so a block damaged on disk is never returned.
 *
 * @example
 * ```ts
 * const store = new LocalDirBlockStore("/var/lib/ferry/blocks");
 * const digest = await store.put(bytes);
 * const same = await store.get(digest);
 * ```
 */
export class LocalDirBlockStore implements BlockStore {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  /** Where block `digest` lives (whether or not it is stored). */
  pathOf(digest: string): string {
    assertBlockDigest(digest);
    return join(this.dir, "sha256", digest.slice(0, 2), digest);
  }

  async has(digest: string): Promise<boolean> {
    return stat(this.pathOf(digest)).then((s) => s.isFile(), () => false);
  }

  async get(digest: string): Promise<Uint8Array> {
    const path = this.pathOf(digest);
    const bytes = await readFile(path).catch((e: NodeJS.ErrnoException) => {
      if (e.code === "ENOENT") throw new BlockNotFoundError({ digest });
      throw e;
    });
    const actual = hashBytes(bytes);
    if (actual !== digest) throw new BlockDigestMismatchError({ expected: digest, actual, source: path });
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  async put(bytes: Uint8Array, expected?: string): Promise<string> {
    if (expected !== undefined) assertBlockDigest(expected);
    const digest = hashBytes(bytes);
    if (expected !== undefined && expected !== digest) throw new BlockDigestMismatchError({ expected, actual: digest, source: "put" });
    if (await this.has(digest)) return digest;
    const path = this.pathOf(digest);
    await mkdir(join(this.dir, "sha256", digest.slice(0, 2)), { recursive: true });
    const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    try {
      await writeFile(tmp, bytes, { mode: 0o444 });
      await rename(tmp, path);
    } finally {
      await rm(tmp, { force: true });
    }
    return digest;
  }

  async missing(digests: ReadonlyArray<string>): Promise<string[]> {
    const unique = [...new Set(digests)];
    const present = await runLimited(unique, MISSING_CONCURRENCY, (d) => this.has(d));
    return unique.filter((_, i) => !present[i]);
  }
}
