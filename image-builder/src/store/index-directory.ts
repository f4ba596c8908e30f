import { createHash } from "node:crypto";
import { lstat, open, readdir, readFile, readlink } from "node:fs/promises";
import { join } from "node:path";
import { compareImagePaths, IMAGE_INDEX_VERSION, Limits, symlinkStaysInside, type BlockStore, type ImageEntry, type ImageIndex } from "@ferry/core";
import { runLimited } from "./run-limited.ts";

/** How `indexDirectory` walks a tree. */
export interface IndexDirectoryOptions {
  /**
   * `"inside"` (the default, for `addLocalDir`): a symlink must be relative and resolve inside
   * the tree, else the walk fails with `SymlinkEscapeError`. `"rootfs"`: the tree is a whole
   * image root, whose symlinks resolve inside the sandbox's root whatever they say.
   */
  readonly symlinks?: "inside" | "rootfs";
  /** Chunk size for large files; `Limits.imageChunkBytes` by default. */
  readonly chunkBytes?: number;
  /** Files read and stored at once. */
  readonly concurrency?: number;
}

/** Files `indexDirectory` reads and stores at once, by default. */
export const DEFAULT_INDEX_CONCURRENCY = 8;

/** A symlink in a directory being indexed points outside it. */
export class SymlinkEscapeError extends Error {
  override name = "SymlinkEscapeError";
  readonly path: string;
  readonly target: string;
  constructor(root: string, path: string, target: string) {
    super(`${join(root, path)} is a symlink to ${JSON.stringify(target)}, outside ${root}: copy the file into the directory or make the link relative and inside it`);
    this.path = path;
    this.target = target;
  }
}

/** A directory being indexed holds something an image cannot: a socket, FIFO or device node. */
export class UnsupportedFileError extends Error {
  override name = "UnsupportedFileError";
  readonly path: string;
  constructor(root: string, path: string) {
    super(`${join(root, path)} is not a regular file, directory or symlink (a socket, FIFO or device): remove it from the directory`);
    this.path = path;
  }
}

/** An indexed tree and what it holds. */
export interface IndexedDirectory {
  readonly index: ImageIndex;
  /** Files in the tree. */
  readonly files: number;
  /** Bytes of the files together (before identical files are counted once). */
  readonly bytes: number;
}

/** Store one file's content, chunked when larger than `chunkBytes`; returns its file entry. */
const storeFile = async (store: BlockStore, abs: string, path: string, mode: number, size: number, chunkBytes: number): Promise<ImageEntry> => {
  if (size <= chunkBytes) {
    const bytes = await readFile(abs);
    if (bytes.byteLength !== size) throw new Error(`${abs} changed size while it was being indexed: index it again`);
    const digest = await store.put(bytes);
    return { path, type: "file", mode, size, digest };
  }
  const whole = createHash("sha256");
  const chunks: { digest: string; size: number }[] = [];
  const fh = await open(abs, "r");
  try {
    const buffer = new Uint8Array(chunkBytes);
    for (let offset = 0; offset < size; offset += chunkBytes) {
      const want = Math.min(chunkBytes, size - offset);
      let got = 0;
      while (got < want) {
        const { bytesRead } = await fh.read(buffer, got, want - got, offset + got);
        if (bytesRead === 0) throw new Error(`${abs} changed size while it was being indexed: index it again`);
        got += bytesRead;
      }
      const chunk = buffer.subarray(0, want);
      whole.update(chunk);
      chunks.push({ digest: await store.put(chunk), size: want });
    }
  } finally {
    await fh.close();
  }
  return { path, type: "file", mode, size, digest: whole.digest("hex"), chunks };
};

/**
 * Walk the tree under `root` into an image index, storing every file's content in `store`
 * (identical files become one block, since blocks are named by their content). Files larger
 * than the chunk size are stored as chunks. Symlinks that leave the tree are refused (see
 * `IndexDirectoryOptions.symlinks`), as are sockets, FIFOs and devices.
 *
 * @example
 * ```ts
 * const { index } = await indexDirectory("./assets", store);
 * const imageId = await storeImageIndex(store, index);
 * ```
 */
export const indexDirectory = async (root: string, store: BlockStore, options: IndexDirectoryOptions = {}): Promise<IndexedDirectory> => {
  const chunkBytes = options.chunkBytes ?? Limits.imageChunkBytes;
  const entries: ImageEntry[] = [];
  const files: { abs: string; path: string; mode: number; size: number }[] = [];
  const walk = async (dir: string, prefix: string): Promise<void> => {
    const names = (await readdir(dir)).sort(compareImagePaths);
    for (const name of names) {
      const abs = join(dir, name);
      const path = prefix === "" ? name : `${prefix}/${name}`;
      const st = await lstat(abs);
      const mode = st.mode & 0o7777;
      if (st.isDirectory()) {
        entries.push({ path, type: "dir", mode, size: 0 });
        await walk(abs, path);
      } else if (st.isSymbolicLink()) {
        const target = await readlink(abs);
        if (options.symlinks !== "rootfs" && !symlinkStaysInside(path, target)) throw new SymlinkEscapeError(root, path, target);
        entries.push({ path, type: "symlink", mode, size: Buffer.byteLength(target), target });
      } else if (st.isFile()) {
        files.push({ abs, path, mode, size: st.size });
      } else {
        throw new UnsupportedFileError(root, path);
      }
    }
  };
  await walk(root, "");
  const stored = await runLimited(files, options.concurrency ?? DEFAULT_INDEX_CONCURRENCY,
    (f) => storeFile(store, f.abs, f.path, f.mode, f.size, chunkBytes));
  const all = [...entries, ...stored].sort((a, b) => compareImagePaths(a.path, b.path));
  return {
    index: { version: IMAGE_INDEX_VERSION, chunkBytes, entries: all },
    files: files.length,
    bytes: files.reduce((n, f) => n + f.size, 0),
  };
};
