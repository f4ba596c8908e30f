import { createHash } from "node:crypto";
import { constants, type BigIntStats } from "node:fs";
import { lstat, open, readdir, readlink, realpath } from "node:fs/promises";
import { join } from "node:path";
import { Limits, normalizeVolumePath, symlinkStaysInside, type VolumeEntry, type VolumeFileEntry } from "@ferry/core";

/** A container's volume directory holds something that cannot be committed (a link out, a file over a limit). */
export class VolumeCommitError extends Error {
  override name = "VolumeCommitError";
}

/** What identifies an unchanged file between scans: inode, size and both times (ctime cannot be set by the user). */
const statKey = (st: BigIntStats): string => `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;

/**
 * Digests of files already hashed in a directory, by path and stat: a scan rehashes only the
 * files whose stat changed, so committing a large volume after a small change is cheap.
 */
export class StatCache {
  private readonly byPath = new Map<string, { readonly key: string; readonly digest: string; readonly blocks: ReadonlyArray<string>; readonly size: number }>();

  get(path: string, st: BigIntStats) {
    const hit = this.byPath.get(path);
    return hit && hit.key === statKey(st) ? hit : undefined;
  }

  set(path: string, st: BigIntStats, file: { readonly digest: string; readonly blocks: ReadonlyArray<string>; readonly size: number }): void {
    this.byPath.set(path, { key: statKey(st), ...file });
  }
}

/** A directory scanned into a manifest, with where each file lives on the host. */
export interface DirectoryScan {
  readonly manifest: Record<string, VolumeEntry>;
  /** Sockets, FIFOs and devices found and left out. */
  readonly skipped: ReadonlyArray<string>;
}

const SAFE_READ_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/**
 * Open a file of the volume for reading without ever following a link out of it: the last
 * component must not be a link (`O_NOFOLLOW`), a FIFO swapped in cannot block (`O_NONBLOCK`), and
 * the path the kernel actually opened must lie under the volume's real root, which catches a
 * parent directory swapped for a link while the agent (root) was scanning.
 */
export const openInside = async (realRoot: string, hostPath: string) => {
  const fh = await open(hostPath, SAFE_READ_FLAGS);
  try {
    const st = await fh.stat({ bigint: true });
    if (!st.isFile()) throw new VolumeCommitError(`${hostPath.slice(realRoot.length)} is not a regular file`);
    const opened = await readlink(`/proc/self/fd/${fh.fd}`).catch(() => hostPath);
    if (!opened.startsWith(`${realRoot}/`)) throw new VolumeCommitError(`${hostPath.slice(realRoot.length)} resolves outside the volume`);
    return { fh, st };
  } catch (e) {
    await fh.close();
    throw e;
  }
};

/** Fill `buf` from `offset` (a read may return less than asked); the bytes read. */
const readFull = async (fh: Awaited<ReturnType<typeof open>>, buf: Buffer, offset: number): Promise<number> => {
  let filled = 0;
  while (filled < buf.length) {
    const { bytesRead } = await fh.read(buf, filled, buf.length - filled, offset + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled;
};

/** Hash a file in volume blocks (`buf` is one block long): its digest, each block's digest and its size. */
const hashInside = async (realRoot: string, hostPath: string, buf: Buffer) => {
  const { fh, st } = await openInside(realRoot, hostPath);
  try {
    const whole = createHash("sha256");
    const blocks: string[] = [];
    let size = 0;
    for (;;) {
      const n = await readFull(fh, buf, size);
      if (n === 0) break;
      const block = buf.subarray(0, n);
      whole.update(block);
      blocks.push(createHash("sha256").update(block).digest("hex"));
      size += n;
      if (size > Limits.maxVolumeFileBytes) throw new VolumeCommitError(`${hostPath.slice(realRoot.length)} is over ${Limits.maxVolumeFileBytes} bytes (maxVolumeFileBytes)`);
      if (n < buf.length) break;
    }
    return { st, digest: whole.digest("hex"), blocks, size };
  } finally {
    await fh.close();
  }
};

/**
 * Scan a container's volume directory into a manifest, as the agent (root) without trusting it:
 * symlinks are kept only when relative and inside the volume (others refuse the commit, naming
 * them), files are opened with `openInside`, sockets and FIFOs are skipped, and the named file
 * size and count limits apply. Unchanged files are taken from `cache` instead of being rehashed.
 *
 * @example
 * ```ts
 * const { manifest } = await scanVolumeDirectory("/var/lib/ferry/volumes/mounts/ct-1/0", new StatCache());
 * ```
 */
export const scanVolumeDirectory = async (root: string, cache: StatCache): Promise<DirectoryScan> => {
  const realRoot = await realpath(root);
  const manifest: Record<string, VolumeEntry> = {};
  const skipped: string[] = [];
  let files = 0;
  let buf: Buffer | undefined;
  const walk = async (dir: string): Promise<void> => {
    for (const d of await readdir(join(realRoot, dir), { withFileTypes: true })) {
      const rel = dir === "" ? d.name : `${dir}/${d.name}`;
      const normal = normalizeVolumePath(rel);
      if (!normal.ok || normal.path !== rel) throw new VolumeCommitError(`/${rel} cannot be stored in a volume: ${normal.ok ? "unusual name" : normal.reason}`);
      const hostPath = join(realRoot, rel);
      const st = await lstat(hostPath, { bigint: true });
      if (st.isDirectory()) {
        await walk(rel);
        continue;
      }
      if (++files > Limits.maxVolumeFiles) throw new VolumeCommitError(`the volume holds over ${Limits.maxVolumeFiles} files (maxVolumeFiles)`);
      if (st.isSymbolicLink()) {
        const target = await readlink(hostPath);
        if (!symlinkStaysInside(rel, target)) {
          throw new VolumeCommitError(`symlink /${rel} points outside the volume (${target}): make it a relative link inside the volume, or remove it`);
        }
        manifest[rel] = { kind: "symlink", target };
      } else if (st.isFile()) {
        if (st.size > BigInt(Limits.maxVolumeFileBytes)) throw new VolumeCommitError(`/${rel} is ${st.size} bytes; the limit (maxVolumeFileBytes) is ${Limits.maxVolumeFileBytes}`);
        let known: { readonly digest: string; readonly blocks: ReadonlyArray<string>; readonly size: number } | undefined = cache.get(rel, st);
        if (!known) {
          buf ??= Buffer.allocUnsafe(Limits.volumeBlockBytes);
          const hashed = await hashInside(realRoot, hostPath, buf);
          cache.set(rel, hashed.st, hashed);
          known = hashed;
        }
        const entry: VolumeFileEntry = { kind: "file", digest: known.digest, size: known.size, mode: Number(st.mode & 0o7777n), blocks: [...known.blocks] };
        manifest[rel] = entry;
      } else {
        skipped.push(rel);
      }
    }
  };
  await walk("");
  return { manifest, skipped };
};

/** Read block `index` of a volume file for upload, checking it still hashes to `digest`. */
export const readBlockInside = async (realRoot: string, hostPath: string, index: number, digest: string): Promise<Uint8Array> => {
  const { fh } = await openInside(realRoot, hostPath);
  try {
    const buf = Buffer.alloc(Limits.volumeBlockBytes);
    const block = buf.subarray(0, await readFull(fh, buf, index * Limits.volumeBlockBytes));
    if (createHash("sha256").update(block).digest("hex") !== digest) {
      throw new VolumeCommitError(`${hostPath.slice(realRoot.length)} changed while it was being committed: commit again`);
    }
    return block;
  } finally {
    await fh.close();
  }
};
