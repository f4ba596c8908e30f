/**
 * A layer directory as a tar stream and back (tar-stream; gzip by node:zlib). Whiteout files
 * (`.wh.x`) travel as ordinary empty files, as the OCI image spec defines them.
 */
import { createReadStream, createWriteStream, lstatSync, mkdirSync, readdirSync, readlinkSync, rmSync, symlinkSync, copyFileSync, chmodSync, utimesSync } from "node:fs";
import { dirname, join, posix } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import * as tar from "tar-stream";

/** Thrown for an archive entry that would land outside the layer, or an unsupported entry type. */
export class UnsafeArchiveError extends Error {
  constructor(entry: string, problem: string) {
    super(`refusing OCI layer entry "${entry}": ${problem}`);
    this.name = "UnsafeArchiveError";
  }
}

/**
 * Normalise a tar entry name to a relative path inside the layer, or undefined for the root
 * itself; refuses absolute escapes and `..` (pure).
 *
 * @example
 * ```ts
 * safeEntryPath("./usr/bin/"); // "usr/bin"
 * ```
 */
export const safeEntryPath = (name: string): string | undefined => {
  const norm = posix.normalize(`/${name}`).replace(/^\/+/, "").replace(/\/+$/, "");
  if (name.split("/").includes("..")) throw new UnsafeArchiveError(name, "a path with '..' components");
  return norm === "" || norm === "." ? undefined : norm;
};

/** Refuses an entry whose parent directories include a symlink: writing through it could leave the layer. */
const assertNoSymlinkParent = (dir: string, rel: string): void => {
  const parts = rel.split("/").slice(0, -1);
  let cur = dir;
  for (const part of parts) {
    cur = join(cur, part);
    try {
      if (lstatSync(cur).isSymbolicLink()) throw new UnsafeArchiveError(rel, `its parent ${part} is a symlink`);
    } catch (e) {
      if (e instanceof UnsafeArchiveError) throw e;
      return;
    }
  }
};

/** Entries of a directory, parents before children, names sorted: a reproducible tar. */
const listTree = (root: string): string[] => {
  const out: string[] = [];
  const visit = (rel: string) => {
    for (const name of readdirSync(rel === "" ? root : join(root, rel)).sort()) {
      const childRel = rel === "" ? name : `${rel}/${name}`;
      out.push(childRel);
      if (lstatSync(join(root, childRel)).isDirectory()) visit(childRel);
    }
  };
  visit("");
  return out;
};

/**
 * Stream a layer directory as an uncompressed tar (owner root, the entries' modes and mtimes).
 *
 * @example
 * ```ts
 * await pipeline(packLayer(dir), createGzip(), createWriteStream("layer.tar.gz"));
 * ```
 */
export const packLayer = (layerDir: string): Readable => {
  const pack = tar.pack();
  void (async () => {
    try {
      for (const rel of listTree(layerDir)) {
        const abs = join(layerDir, rel);
        const st = lstatSync(abs);
        const common = { name: rel, mode: st.mode & 0o7777, mtime: st.mtime, uid: 0, gid: 0 };
        if (st.isDirectory()) pack.entry({ ...common, type: "directory" });
        else if (st.isSymbolicLink()) pack.entry({ ...common, type: "symlink", linkname: readlinkSync(abs) });
        else if (st.isFile()) {
          await new Promise<void>((resolve, reject) => {
            const entry = pack.entry({ ...common, type: "file", size: st.size }, (err) => (err ? reject(err) : resolve()));
            createReadStream(abs).on("error", reject).pipe(entry);
          });
        }
      }
      pack.finalize();
    } catch (e) {
      pack.destroy(e as Error);
    }
  })();
  return pack;
};

/**
 * Unpack a tar stream into `dir` (created), keeping modes, symlinks and whiteout files; hard links
 * become copies. Refuses entries escaping `dir`.
 *
 * @example
 * ```ts
 * await unpackLayer(createReadStream("layer.tar").pipe(createGunzip()), "/tmp/layer");
 * ```
 */
export const unpackLayer = async (input: Readable, dir: string): Promise<void> => {
  mkdirSync(dir, { recursive: true });
  const extract = tar.extract();
  const done = pipeline(input, extract);
  // Throwing out of the loop below destroys the stream; that rejection is the loop's error, not a second one.
  done.catch(() => {});
  const dirTimes: Array<[string, Date]> = [];
  for await (const entry of extract) {
    const h = entry.header;
    const rel = safeEntryPath(h.name);
    const dest = rel === undefined ? dir : join(dir, rel);
    const mode = (h.mode ?? 0o644) & 0o7777;
    if (rel !== undefined) {
      assertNoSymlinkParent(dir, rel);
      mkdirSync(dirname(dest), { recursive: true });
    }
    if (h.type === "directory") {
      mkdirSync(dest, { recursive: true });
      chmodSync(dest, mode);
      if (h.mtime) dirTimes.push([dest, h.mtime]);
      entry.resume();
    } else if (h.type === "file" || h.type === "contiguous-file") {
      if (rel === undefined) throw new UnsafeArchiveError(h.name, "a file at the layer root");
      rmSync(dest, { recursive: true, force: true });
      await pipeline(entry, createWriteStream(dest, { mode }));
      chmodSync(dest, mode);
      if (h.mtime) utimesSync(dest, h.mtime, h.mtime);
    } else if (h.type === "symlink") {
      if (rel === undefined) throw new UnsafeArchiveError(h.name, "a symlink at the layer root");
      rmSync(dest, { recursive: true, force: true });
      symlinkSync(h.linkname ?? "", dest);
      entry.resume();
    } else if (h.type === "link") {
      const target = safeEntryPath(h.linkname ?? "");
      if (rel === undefined || target === undefined) throw new UnsafeArchiveError(h.name, "a hard link without a target");
      rmSync(dest, { recursive: true, force: true });
      copyFileSync(join(dir, target), dest);
      entry.resume();
    } else {
      // Device nodes, fifos: not representable without privileges; a root file system works without them.
      entry.resume();
    }
  }
  await done;
  for (const [path, time] of dirTimes.reverse()) utimesSync(path, time, time);
};
