/**
 * Mounts a lazy image as a read-only FUSE file system with no native code: the agent (root) opens
 * /dev/fuse, util-linux `mount -t fuse -o fd=N` attaches that descriptor to the mount point, and a
 * reader loop answers the kernel's requests (see lazy-fuse-handler.ts) with plain `fs` calls.
 *
 * The server runs on the caller's event loop, so the caller must never touch the mount with
 * synchronous fs calls (they would block the loop that answers them): containers, child processes
 * and async fs calls are fine.
 */
import { spawn } from "node:child_process";
import { closeSync, openSync, read as readFd, writeSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { performance } from "node:perf_hooks";
import { Errno, IN_HEADER_SIZE, decodeInHeader, encodeReply } from "./fuse-protocol.ts";
import { FUSE_MAX_IO_BYTES, handleFuseRequest } from "./lazy-fuse-handler.ts";
import type { AccessRecord, LazySource } from "./lazy-source.ts";
import { buildLazyTree, type LazyNode } from "./lazy-tree.ts";

/** The FUSE device. */
export const FUSE_DEVICE = "/dev/fuse";
/** util-linux binaries used to mount and unmount. */
export const MOUNT_BINARY = "/usr/bin/mount";
export const UMOUNT_BINARY = "/usr/bin/umount";
/** Source name shown in /proc/mounts for every lazy mount. */
export const LAZY_MOUNT_SOURCE = "ferry-lazy";
/** One request at most: the largest WRITE the kernel may send (max_write) plus headers, rounded up. */
const REQUEST_BUFFER_BYTES = FUSE_MAX_IO_BYTES + 4096;
/** Descriptor number the FUSE device gets in the `mount` child. */
const CHILD_FUSE_FD = 3;
/** How long unmount waits for the kernel to end the connection before giving up on the reader. */
const READER_DRAIN_MS = 2_000;

/** Thrown when the file system cannot be mounted or unmounted; the message says why. */
export class LazyMountError extends Error {
  override readonly name = "LazyMountError";
}

/** A mounted lazy image. */
export interface LazyMount {
  readonly mountpoint: string;
  /** Every file read since the mount, once each, in first-read order (for prefetch on the next cold start). */
  accessLog(): readonly AccessRecord[];
  /**
   * Unmounts (detaching lazily if busy); resolves once the mount point is free. A busy mount is
   * served until its last user lets go, then the server stops by itself. Idempotent.
   */
  unmount(): Promise<void>;
}

/** Mount options. */
export interface MountLazyImageOptions {
  /** Mount point: an existing empty directory. */
  readonly mountpoint: string;
  readonly source: LazySource;
  /**
   * Told about failures the reading process only sees as EIO (a fetch that failed, a request the
   * server could not decode). Default: a process warning.
   */
  readonly onError?: (message: string) => void;
}

const errnoCode = (error: unknown): string | undefined =>
  error instanceof Error && "code" in error && typeof error.code === "string" ? error.code : undefined;

const runQuiet = (binary: string, args: readonly string[], stdio: ("ignore" | "pipe" | number)[] = ["ignore", "pipe", "pipe"]): Promise<{ code: number | null; output: string }> =>
  new Promise((resolve) => {
    const child = spawn(binary, args, { stdio });
    let output = "";
    child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("error", (error) => resolve({ code: null, output: error.message }));
    child.on("close", (code) => resolve({ code, output: output.trim() }));
  });

/** Whether `mountpoint` appears in /proc/self/mountinfo (field 5; spaces there are octal-escaped). */
export const isMounted = async (mountpoint: string): Promise<boolean> => {
  const escaped = mountpoint.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, "0")}`);
  const mountinfo = await readFile("/proc/self/mountinfo", "utf8");
  return mountinfo.split("\n").some((line) => line.split(" ")[4] === escaped);
};

/**
 * Detach every lazy image mount under `dir` (a dead agent's: nothing serves them any more, and any
 * access would fail). Returns the mount points detached. Call at agent start, before mounting.
 *
 * @example
 * ```ts
 * await sweepStaleLazyMounts(join(stateDir, "images", "mnt"));
 * ```
 */
export const sweepStaleLazyMounts = async (dir: string): Promise<string[]> => {
  const mountinfo = await readFile("/proc/self/mountinfo", "utf8").catch(() => "");
  const prefix = `${dir.replace(/\/+$/, "")}/`;
  const stale = mountinfo.split("\n")
    .map((line) => line.split(" "))
    .filter((fields) => fields.includes(LAZY_MOUNT_SOURCE) && (fields[4] ?? "").startsWith(prefix))
    .map((fields) => (fields[4] ?? "").replace(/\\([0-7]{3})/g, (_m, octal: string) => String.fromCharCode(parseInt(octal, 8))));
  for (const mountpoint of stale) await runQuiet(UMOUNT_BINARY, ["-l", mountpoint]);
  return stale;
};

/**
 * Mounts `source` read-only at `mountpoint` and starts serving it. Requires root (or
 * CAP_SYS_ADMIN) and util-linux `mount`.
 *
 * @example
 * ```ts
 * const mount = await mountLazyImage({ mountpoint: "/var/lib/ferry/images/img-1", source });
 * // ... start a sandbox with a read-only bind of mount.mountpoint ...
 * const touched = mount.accessLog().map((record) => record.path);
 * await mount.unmount();
 * ```
 */
export const mountLazyImage = async (options: MountLazyImageOptions): Promise<LazyMount> => {
  const { mountpoint, source } = options;
  const startedAt = performance.now();
  const tree = buildLazyTree(source.index, Date.now());
  const log: AccessRecord[] = [];
  const read = new Set<number>();
  const onFirstRead = (node: LazyNode): void => {
    if (read.has(node.ino)) return;
    read.add(node.ino);
    log.push({ path: node.sourcePath, atMs: performance.now() - startedAt });
  };

  let fd: number;
  try {
    fd = openSync(FUSE_DEVICE, "r+");
  } catch (error) {
    throw new LazyMountError(`cannot open ${FUSE_DEVICE} (${errnoCode(error) ?? String(error)}): lazy images need the fuse module and root`);
  }
  const mountOptions = `fd=${CHILD_FUSE_FD},rootmode=40000,user_id=0,group_id=0,allow_other,default_permissions,ro`;
  // -i: no mount.fuse helper, the kernel gets exactly these options; the fd sits at CHILD_FUSE_FD.
  const mounted = await runQuiet(MOUNT_BINARY, ["-i", "-n", "-t", "fuse", "-o", mountOptions, LAZY_MOUNT_SOURCE, mountpoint], ["ignore", "pipe", "pipe", fd]);
  if (mounted.code !== 0) {
    closeSync(fd);
    throw new LazyMountError(`mount of lazy image at ${mountpoint} failed (exit ${mounted.code}): ${mounted.output}`);
  }

  const onError = options.onError ?? ((message: string) => process.emitWarning(message));
  const context = { tree, source, onFirstRead, onError };
  const buffer = Buffer.alloc(REQUEST_BUFFER_BYTES);
  let closed = false;
  let endReader: () => void = () => undefined;
  const readerDone = new Promise<void>((resolve) => (endReader = resolve));
  const reply = (bytes: Buffer): void => {
    try {
      // Synchronous on purpose: a write to /dev/fuse never blocks, and it must not wait for a
      // thread-pool slot that processes reading this very mount may be holding.
      writeSync(fd, bytes);
    } catch (error) {
      // ENOENT: the request was interrupted and is gone; ENODEV: the connection was aborted.
      if (errnoCode(error) !== "ENOENT" && errnoCode(error) !== "ENODEV") onError(`lazy mount ${mountpoint}: reply failed: ${String(error)}`);
    }
  };
  const serve = (request: Buffer): void => {
    handleFuseRequest(context, request).then(
      ({ reply: bytes, destroy }) => {
        if (bytes !== undefined && !closed) reply(bytes);
        if (destroy) closed = true;
      },
      (error: unknown) => {
        // A request we could not even decode: fail it rather than leave its caller hanging.
        onError(`lazy mount ${mountpoint}: request failed: ${String(error)}`);
        if (!closed && request.length >= IN_HEADER_SIZE) reply(encodeReply(decodeInHeader(request).unique, -Errno.EIO));
      },
    );
  };
  // One reader: each read returns exactly one request; it is copied out before the next read so
  // requests are then answered concurrently (a slow fetch does not hold up a stat).
  const readNext = (): void => {
    if (closed) return endReader();
    readFd(fd, buffer, 0, buffer.length, null, (error, bytesRead) => {
      if (error !== null) {
        const code = errnoCode(error);
        if (code === "EINTR" || code === "EAGAIN" || code === "ENOENT") return readNext();
        closed = true; // ENODEV: unmounted or aborted
        return endReader();
      }
      serve(Buffer.from(buffer.subarray(0, bytesRead)));
      readNext();
    });
  };
  readNext();

  let unmounting: Promise<void> | undefined;
  const unmount = async (): Promise<void> => {
    const clean = await runQuiet(UMOUNT_BINARY, [mountpoint]);
    if (clean.code !== 0 && (await isMounted(mountpoint))) {
      // Busy (a process still has a file open): detach now, the kernel ends the connection when the last user goes.
      const lazy = await runQuiet(UMOUNT_BINARY, ["-l", mountpoint]);
      if (lazy.code !== 0) throw new LazyMountError(`cannot unmount lazy image at ${mountpoint}: ${clean.output}; ${lazy.output}`);
    }
    const drained = await Promise.race([readerDone.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), READER_DRAIN_MS).unref())]);
    // Still connected (a process, or a sandbox's mount namespace, holds the detached mount): keep
    // answering it, so its reads finish rather than hang; the descriptor closes when the kernel
    // ends the connection after its last user.
    if (drained) closeSync(fd);
    else void readerDone.then(() => closeSync(fd));
  };

  return {
    mountpoint,
    accessLog: () => [...log],
    unmount: () => (unmounting ??= unmount()),
  };
};
