/**
 * Answers one FUSE request for a read-only lazy tree: the protocol logic without the device.
 * Returns the reply bytes (or undefined for the requests the kernel expects no reply to), so the
 * whole protocol can be driven in tests from Buffers as well as from /dev/fuse.
 */
import {
  Errno,
  FUSE_KERNEL_VERSION,
  FuseInitFlag,
  FuseOp,
  FuseOpenFlag,
  IN_HEADER_SIZE,
  WRITE_OPCODES,
  decodeAccessMask,
  decodeInHeader,
  decodeInitIn,
  decodeName,
  decodeOpenFlags,
  decodeReadIn,
  decodeXattrSize,
  encodeAttrOut,
  encodeDirents,
  encodeEntryOut,
  encodeInitOut,
  encodeOpenOut,
  encodeReply,
  encodeStatfsOut,
  encodeXattrSizeOut,
} from "./fuse-protocol.ts";
import type { LazySource } from "./lazy-source.ts";
import { directoryListing, lookupChild, type LazyNode, type LazyTree } from "./lazy-tree.ts";

/** How long the kernel may cache names and attributes: an image never changes under its mount. */
export const IMMUTABLE_CACHE_SECONDS = 3600;
/** Largest READ the kernel sends us (max_pages × 4 KiB) and largest WRITE it may (never honoured). */
export const FUSE_MAX_IO_BYTES = 1024 * 1024;
/** Pages per request we ask for (FUSE_MAX_PAGES): 1 MiB reads, fewer round trips on big files. */
const MAX_PAGES = FUSE_MAX_IO_BYTES / 4096;
/** Background (readahead) requests the kernel may have in flight: they are our parallel fetches. */
const MAX_BACKGROUND = 16;
/** Threshold at which the kernel considers the connection congested (¾ of max_background, as libfuse). */
const CONGESTION_THRESHOLD = 12;
/** INIT flags we accept when the kernel offers them. */
const WANTED_INIT_FLAGS = FuseInitFlag.ASYNC_READ | FuseInitFlag.PARALLEL_DIROPS | FuseInitFlag.MAX_PAGES | FuseInitFlag.CACHE_SYMLINKS;
/** access(2) mask bit for write. */
const W_OK = 2;
/** open(2) access mode bits. */
const O_ACCMODE = 3;

/** What the handler needs besides the request. */
export interface LazyFuseContext {
  readonly tree: LazyTree;
  readonly source: LazySource;
  /** Called before a file's bytes are first asked for; the mount records the access log here. */
  readonly onFirstRead: (node: LazyNode) => void;
  /** Told why a read failed (the reader only sees EIO). */
  readonly onError: (message: string) => void;
}

/** The result of handling one request. */
export interface HandledRequest {
  readonly opcode: number;
  /** The reply to write, or undefined when the kernel expects none (FORGET, INTERRUPT). */
  readonly reply: Buffer | undefined;
  /** True for DESTROY: the kernel is done with this connection. */
  readonly destroy: boolean;
}

const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * Handles one request read from /dev/fuse (`request` holds exactly one request).
 *
 * @example
 * ```ts
 * const { reply } = await handleFuseRequest(context, requestBytes);
 * if (reply !== undefined) writeSync(fd, reply);
 * ```
 */
export const handleFuseRequest = async (context: LazyFuseContext, request: Buffer): Promise<HandledRequest> => {
  const header = decodeInHeader(request);
  const body = request.subarray(IN_HEADER_SIZE, header.len);
  const ok = (reply?: Uint8Array): HandledRequest => ({ opcode: header.opcode, reply: encodeReply(header.unique, 0, reply), destroy: false });
  const fail = (errno: number): HandledRequest => ({ opcode: header.opcode, reply: encodeReply(header.unique, -errno), destroy: false });
  const none: HandledRequest = { opcode: header.opcode, reply: undefined, destroy: false };
  const node = context.tree.nodes.get(Number(header.nodeid));

  switch (header.opcode) {
    case FuseOp.INIT: {
      const init = decodeInitIn(body);
      if (init.major !== FUSE_KERNEL_VERSION) return fail(Errno.EPROTO);
      return ok(
        encodeInitOut({
          maxReadahead: init.maxReadahead,
          flags: init.flags & WANTED_INIT_FLAGS,
          maxBackground: MAX_BACKGROUND,
          congestionThreshold: CONGESTION_THRESHOLD,
          maxWrite: FUSE_MAX_IO_BYTES,
          maxPages: MAX_PAGES,
        }),
      );
    }
    case FuseOp.DESTROY:
      return { ...ok(), destroy: true };
    case FuseOp.FORGET:
    case FuseOp.BATCH_FORGET:
    case FuseOp.INTERRUPT:
      // The tree never drops nodes; requests finish quickly enough that interrupting them is moot.
      return none;
  }
  if (WRITE_OPCODES.has(header.opcode)) return fail(Errno.EROFS);
  if (node === undefined) {
    return header.opcode === FuseOp.STATFS ? ok(encodeStatfsOut({ totalBytes: context.tree.totalBytes, files: context.tree.nodes.size })) : fail(Errno.ENOENT);
  }

  switch (header.opcode) {
    case FuseOp.LOOKUP: {
      if (node.kind !== "directory") return fail(Errno.ENOTDIR);
      const child = lookupChild(context.tree, node.ino, decodeName(body));
      return ok(encodeEntryOut(child?.attr, IMMUTABLE_CACHE_SECONDS, IMMUTABLE_CACHE_SECONDS));
    }
    case FuseOp.GETATTR:
      return ok(encodeAttrOut(node.attr, IMMUTABLE_CACHE_SECONDS));
    case FuseOp.READLINK:
      return node.kind === "symlink" ? ok(Buffer.from(node.linkTarget, "utf8")) : fail(Errno.EINVAL);
    case FuseOp.OPEN:
      if (node.kind === "directory") return fail(Errno.EISDIR);
      if ((decodeOpenFlags(body) & O_ACCMODE) !== 0) return fail(Errno.EROFS);
      return ok(encodeOpenOut(0, FuseOpenFlag.KEEP_CACHE));
    case FuseOp.OPENDIR:
      if (node.kind !== "directory") return fail(Errno.ENOTDIR);
      return ok(encodeOpenOut(0, FuseOpenFlag.KEEP_CACHE | FuseOpenFlag.CACHE_DIR));
    case FuseOp.READ: {
      if (node.kind !== "file") return fail(Errno.EISDIR);
      const { offset, size } = decodeReadIn(body);
      const length = Math.max(0, Math.min(size, node.attr.size - offset));
      if (length === 0) return ok();
      context.onFirstRead(node);
      try {
        const bytes = await context.source.read(node.sourcePath, offset, length);
        return ok(bytes.length > length ? bytes.subarray(0, length) : bytes);
      } catch (error) {
        context.onError(`lazy image read of ${node.sourcePath} at ${offset}+${length} failed: ${errorText(error)}`);
        return fail(Errno.EIO);
      }
    }
    case FuseOp.READDIR: {
      if (node.kind !== "directory") return fail(Errno.ENOTDIR);
      const { offset, size } = decodeReadIn(body);
      return ok(encodeDirents(directoryListing(context.tree, node), offset, size));
    }
    case FuseOp.RELEASE:
    case FuseOp.RELEASEDIR:
      return ok();
    case FuseOp.FLUSH:
      // Nothing to flush; ENOSYS tells the kernel to stop sending FLUSH, saving a round trip per close().
      return fail(Errno.ENOSYS);
    case FuseOp.STATFS:
      return ok(encodeStatfsOut({ totalBytes: context.tree.totalBytes, files: context.tree.nodes.size }));
    case FuseOp.ACCESS:
      return (decodeAccessMask(body) & W_OK) !== 0 ? fail(Errno.EROFS) : ok();
    case FuseOp.GETXATTR:
      return fail(Errno.ENODATA);
    case FuseOp.LISTXATTR:
      // No extended attributes: a size query gets 0, a list query an empty list.
      return decodeXattrSize(body) === 0 ? ok(encodeXattrSizeOut(0)) : ok();
    default:
      return fail(Errno.ENOSYS);
  }
};
