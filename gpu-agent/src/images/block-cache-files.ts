import { mkdir, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** A block file found on disk when the cache opens. */
export interface CachedBlockFile {
  readonly digest: string;
  readonly size: number;
  /** Last modification (≈ when it was cached), for least-recently-used order across restarts. */
  readonly mtimeMs: number;
}

const DIGEST_FILE = /^[0-9a-f]{64}$/;

/** Where block `digest` lives under the cache directory: `<dir>/ab/abcdef…`. */
export const blockFilePath = (dir: string, digest: string): string => join(dir, digest.slice(0, 2), digest);

/**
 * The blocks already in a cache directory, oldest first; leftover temporary files from an
 * interrupted write, and anything else that is not a block, are deleted.
 *
 * @example
 * ```ts
 * const files = await scanBlockFiles("/var/lib/ferry/block-cache");
 * ```
 */
export const scanBlockFiles = async (dir: string): Promise<CachedBlockFile[]> => {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const found: CachedBlockFile[] = [];
  for (const fan of await readdir(dir)) {
    const sub = join(dir, fan);
    const names = await readdir(sub).catch(() => undefined);
    if (names === undefined) continue;
    for (const name of names) {
      const path = join(sub, name);
      if (!DIGEST_FILE.test(name) || name.slice(0, 2) !== fan) {
        await rm(path, { force: true, recursive: true });
        continue;
      }
      const st = await stat(path).catch(() => undefined);
      if (st?.isFile()) found.push({ digest: name, size: st.size, mtimeMs: st.mtimeMs });
    }
  }
  return found.sort((a, b) => a.mtimeMs - b.mtimeMs);
};

/**
 * Write a block under its digest atomically: a temporary file beside it, renamed into place,
 * so a reader sees the whole block or none.
 *
 * @example
 * ```ts
 * await writeBlockFile(dir, digest, bytes);
 * ```
 */
export const writeBlockFile = async (dir: string, digest: string, bytes: Uint8Array): Promise<void> => {
  const path = blockFilePath(dir, digest);
  await mkdir(join(dir, digest.slice(0, 2)), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    await writeFile(tmp, bytes, { mode: 0o400 });
    await rename(tmp, path);
  } finally {
    await rm(tmp, { force: true });
  }
};
