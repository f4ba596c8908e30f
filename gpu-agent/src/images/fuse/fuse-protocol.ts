/**
 * The FUSE kernel protocol, as much of it as a read-only tree needs: opcodes, flags and the
 * byte layouts of linux/include/uapi/linux/fuse.h (protocol 7.31), as pure encode/decode
 * functions over Buffers. No I/O here, so every layout is testable as data.
 *
 * All integers are little-endian host order (x86-64 and arm64 Linux).
 */

/** Protocol major version we speak. */
export const FUSE_KERNEL_VERSION = 7;
/** Protocol minor version we answer INIT with (7.31: max_pages, cache_symlinks, no 7.36 flags2). */
export const FUSE_KERNEL_MINOR_VERSION = 31;
/** The root directory's node id. */
export const FUSE_ROOT_ID = 1;

/** Request opcodes (enum fuse_opcode). */
export const FuseOp = {
  LOOKUP: 1,
  FORGET: 2,
  GETATTR: 3,
  SETATTR: 4,
  READLINK: 5,
  SYMLINK: 6,
  MKNOD: 8,
  MKDIR: 9,
  UNLINK: 10,
  RMDIR: 11,
  RENAME: 12,
  LINK: 13,
  OPEN: 14,
  READ: 15,
  WRITE: 16,
  STATFS: 17,
  RELEASE: 18,
  FSYNC: 20,
  SETXATTR: 21,
  GETXATTR: 22,
  LISTXATTR: 23,
  REMOVEXATTR: 24,
  FLUSH: 25,
  INIT: 26,
  OPENDIR: 27,
  READDIR: 28,
  RELEASEDIR: 29,
  FSYNCDIR: 30,
  ACCESS: 34,
  CREATE: 35,
  INTERRUPT: 36,
  DESTROY: 38,
  BATCH_FORGET: 42,
  FALLOCATE: 43,
  READDIRPLUS: 44,
  RENAME2: 45,
  COPY_FILE_RANGE: 47,
  TMPFILE: 51,
} as const;

/** Opcodes that would change the tree: a read-only file system answers them with EROFS. */
export const WRITE_OPCODES: ReadonlySet<number> = new Set([
  FuseOp.SETATTR, FuseOp.SYMLINK, FuseOp.MKNOD, FuseOp.MKDIR, FuseOp.UNLINK, FuseOp.RMDIR,
  FuseOp.RENAME, FuseOp.LINK, FuseOp.WRITE, FuseOp.SETXATTR, FuseOp.REMOVEXATTR, FuseOp.CREATE,
  FuseOp.FALLOCATE, FuseOp.RENAME2, FuseOp.COPY_FILE_RANGE, FuseOp.TMPFILE, FuseOp.FSYNC, FuseOp.FSYNCDIR,
]);

/** INIT flags (fuse_init_in/out.flags) this server may accept. */
export const FuseInitFlag = {
  ASYNC_READ: 1 << 0,
  PARALLEL_DIROPS: 1 << 18,
  MAX_PAGES: 1 << 22,
  CACHE_SYMLINKS: 1 << 23,
} as const;

/** fuse_open_out.open_flags. */
export const FuseOpenFlag = {
  /** Keep the page cache across opens: the image never changes under a mount. */
  KEEP_CACHE: 1 << 1,
  /** Let the kernel cache directory listings (7.28). */
  CACHE_DIR: 1 << 3,
} as const;

/** errno values sent back (negated) in fuse_out_header.error. */
export const Errno = {
  ENOENT: 2,
  EIO: 5,
  EBADF: 9,
  EACCES: 13,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  EROFS: 30,
  ENOSYS: 38,
  ENODATA: 61,
  EPROTO: 71,
} as const;

/** sizeof(struct fuse_in_header). */
export const IN_HEADER_SIZE = 40;
/** sizeof(struct fuse_out_header). */
export const OUT_HEADER_SIZE = 16;
/** sizeof(struct fuse_attr). */
export const ATTR_SIZE = 88;
/** sizeof(struct fuse_entry_out). */
export const ENTRY_OUT_SIZE = 40 + ATTR_SIZE;
/** sizeof(struct fuse_attr_out). */
export const ATTR_OUT_SIZE = 16 + ATTR_SIZE;
/** sizeof(struct fuse_open_out). */
export const OPEN_OUT_SIZE = 16;
/** sizeof(struct fuse_init_out) as of 7.31 (the reply size the kernel expects for minor ≥ 23). */
export const INIT_OUT_SIZE = 64;
/** sizeof(struct fuse_kstatfs) = sizeof(struct fuse_statfs_out). */
export const STATFS_OUT_SIZE = 80;
/** FUSE_NAME_OFFSET: bytes of struct fuse_dirent before its name. */
export const DIRENT_NAME_OFFSET = 24;

/** struct fuse_in_header. */
export interface FuseInHeader {
  readonly len: number;
  readonly opcode: number;
  readonly unique: bigint;
  readonly nodeid: bigint;
  readonly uid: number;
  readonly gid: number;
  readonly pid: number;
}

/** Decodes the 40-byte request header at the start of `buf`. */
export const decodeInHeader = (buf: Buffer): FuseInHeader => ({
  len: buf.readUInt32LE(0),
  opcode: buf.readUInt32LE(4),
  unique: buf.readBigUInt64LE(8),
  nodeid: buf.readBigUInt64LE(16),
  uid: buf.readUInt32LE(24),
  gid: buf.readUInt32LE(28),
  pid: buf.readUInt32LE(32),
});

/**
 * A complete reply: out header (len, -errno, unique) followed by `body`.
 *
 * @example
 * ```ts
 * encodeReply(7n, -Errno.ENOENT).length; // 16
 * ```
 */
export const encodeReply = (unique: bigint, error: number, body?: Uint8Array): Buffer => {
  const out = Buffer.alloc(OUT_HEADER_SIZE + (body?.length ?? 0));
  out.writeUInt32LE(out.length, 0);
  out.writeInt32LE(error, 4);
  out.writeBigUInt64LE(unique, 8);
  if (body !== undefined) out.set(body, OUT_HEADER_SIZE);
  return out;
};

/** struct fuse_init_in (the fields before flags2). */
export interface FuseInitIn {
  readonly major: number;
  readonly minor: number;
  readonly maxReadahead: number;
  readonly flags: number;
}

/** Decodes fuse_init_in from a request body. */
export const decodeInitIn = (body: Buffer): FuseInitIn => ({
  major: body.readUInt32LE(0),
  minor: body.readUInt32LE(4),
  maxReadahead: body.readUInt32LE(8),
  flags: body.readUInt32LE(12),
});

/** What we answer INIT with. */
export interface FuseInitOut {
  readonly maxReadahead: number;
  readonly flags: number;
  readonly maxBackground: number;
  readonly congestionThreshold: number;
  readonly maxWrite: number;
  readonly maxPages: number;
}

/** Encodes fuse_init_out (64 bytes, protocol 7.31). */
export const encodeInitOut = (init: FuseInitOut): Buffer => {
  const b = Buffer.alloc(INIT_OUT_SIZE);
  b.writeUInt32LE(FUSE_KERNEL_VERSION, 0);
  b.writeUInt32LE(FUSE_KERNEL_MINOR_VERSION, 4);
  b.writeUInt32LE(init.maxReadahead, 8);
  b.writeUInt32LE(init.flags >>> 0, 12);
  b.writeUInt16LE(init.maxBackground, 16);
  b.writeUInt16LE(init.congestionThreshold, 18);
  b.writeUInt32LE(init.maxWrite, 20);
  b.writeUInt32LE(1, 24); // time_gran: 1 ns
  b.writeUInt16LE(init.maxPages, 28);
  return b; // map_alignment and unused[8] stay zero
};

/** The attributes of one node (struct fuse_attr without the padding). */
export interface FuseAttr {
  readonly ino: number;
  readonly size: number;
  /** st_mode: type bits and permission bits. */
  readonly mode: number;
  readonly nlink: number;
  readonly mtimeMs: number;
}

/** Bytes per st_blocks unit. */
const BLOCK_UNIT = 512;
/** st_blksize we report: the preferred I/O size. */
export const PREFERRED_BLOCK_SIZE = 4096;

const writeAttr = (b: Buffer, at: number, attr: FuseAttr): void => {
  const seconds = BigInt(Math.floor(attr.mtimeMs / 1000));
  const nanos = Math.floor((attr.mtimeMs % 1000) * 1e6);
  b.writeBigUInt64LE(BigInt(attr.ino), at);
  b.writeBigUInt64LE(BigInt(attr.size), at + 8);
  b.writeBigUInt64LE(BigInt(Math.ceil(attr.size / BLOCK_UNIT)), at + 16);
  for (const offset of [24, 32, 40]) b.writeBigUInt64LE(seconds, at + offset); // atime, mtime, ctime
  for (const offset of [48, 52, 56]) b.writeUInt32LE(nanos, at + offset);
  b.writeUInt32LE(attr.mode, at + 60);
  b.writeUInt32LE(attr.nlink, at + 64);
  // uid, gid (root), rdev stay 0
  b.writeUInt32LE(PREFERRED_BLOCK_SIZE, at + 80);
};

/** Splits a validity in seconds into fuse's (u64 seconds, u32 nanoseconds). */
const validity = (seconds: number): [bigint, number] => [BigInt(Math.floor(seconds)), Math.floor((seconds % 1) * 1e9)];

/**
 * Encodes fuse_entry_out (the LOOKUP reply). `attr` undefined encodes a negative entry (node id
 * 0): the kernel then caches "no such name" for `entryValidS`, which saves the round trips of
 * module resolution probing paths that are not there.
 */
export const encodeEntryOut = (attr: FuseAttr | undefined, entryValidS: number, attrValidS: number): Buffer => {
  const b = Buffer.alloc(ENTRY_OUT_SIZE);
  const [entrySec, entryNsec] = validity(entryValidS);
  const [attrSec, attrNsec] = validity(attrValidS);
  b.writeBigUInt64LE(BigInt(attr?.ino ?? 0), 0);
  // generation (8) stays 0
  b.writeBigUInt64LE(entrySec, 16);
  b.writeBigUInt64LE(attrSec, 24);
  b.writeUInt32LE(entryNsec, 32);
  b.writeUInt32LE(attrNsec, 36);
  if (attr !== undefined) writeAttr(b, 40, attr);
  return b;
};

/** Encodes fuse_attr_out (the GETATTR reply). */
export const encodeAttrOut = (attr: FuseAttr, attrValidS: number): Buffer => {
  const b = Buffer.alloc(ATTR_OUT_SIZE);
  const [sec, nsec] = validity(attrValidS);
  b.writeBigUInt64LE(sec, 0);
  b.writeUInt32LE(nsec, 8);
  writeAttr(b, 16, attr);
  return b;
};

/** Encodes fuse_open_out (OPEN and OPENDIR replies). */
export const encodeOpenOut = (fh: number, openFlags: number): Buffer => {
  const b = Buffer.alloc(OPEN_OUT_SIZE);
  b.writeBigUInt64LE(BigInt(fh), 0);
  b.writeUInt32LE(openFlags, 8);
  return b;
};

/** struct fuse_read_in: the fields a read needs. */
export interface FuseReadIn {
  readonly fh: bigint;
  readonly offset: number;
  readonly size: number;
}

/** Decodes fuse_read_in (READ and READDIR requests). */
export const decodeReadIn = (body: Buffer): FuseReadIn => ({
  fh: body.readBigUInt64LE(0),
  offset: Number(body.readBigUInt64LE(8)),
  size: body.readUInt32LE(16),
});

/** Decodes the flags of fuse_open_in. */
export const decodeOpenFlags = (body: Buffer): number => body.readUInt32LE(0);

/** Decodes the mask of fuse_access_in. */
export const decodeAccessMask = (body: Buffer): number => body.readUInt32LE(0);

/** Decodes the size of fuse_getxattr_in (GETXATTR and LISTXATTR). */
export const decodeXattrSize = (body: Buffer): number => body.readUInt32LE(0);

/** Encodes fuse_getxattr_out: the size a zero-sized xattr query asks for. */
export const encodeXattrSizeOut = (size: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(size, 0);
  return b;
};

/** A NUL-terminated name in a request body (LOOKUP), decoded as UTF-8 without the NUL. */
export const decodeName = (body: Buffer): string => {
  const end = body.indexOf(0);
  return body.subarray(0, end === -1 ? body.length : end).toString("utf8");
};

/** File system totals for STATFS. */
export interface FuseStatfs {
  readonly totalBytes: number;
  readonly files: number;
}

/** Longest name we report supporting. */
const NAME_MAX = 255;

/** Encodes fuse_statfs_out: a full file system (nothing free: it is read-only). */
export const encodeStatfsOut = (stats: FuseStatfs): Buffer => {
  const b = Buffer.alloc(STATFS_OUT_SIZE);
  b.writeBigUInt64LE(BigInt(Math.ceil(stats.totalBytes / PREFERRED_BLOCK_SIZE)), 0); // blocks
  // bfree, bavail (8, 16) stay 0
  b.writeBigUInt64LE(BigInt(stats.files), 24);
  // ffree (32) stays 0
  b.writeUInt32LE(PREFERRED_BLOCK_SIZE, 40); // bsize
  b.writeUInt32LE(NAME_MAX, 44); // namelen
  b.writeUInt32LE(PREFERRED_BLOCK_SIZE, 48); // frsize
  return b;
};

/** One directory entry as READDIR returns it. */
export interface FuseDirent {
  readonly ino: number;
  readonly name: string;
  /** st_mode of the entry (only its type bits are sent). */
  readonly mode: number;
}

/** Rounds up to fuse_dirent's 8-byte alignment (FUSE_DIRENT_ALIGN). */
export const direntAlign = (n: number): number => (n + 7) & ~7;

/**
 * Encodes the entries of a directory listing from index `offset` on, as many as fit in `size`
 * bytes. Each fuse_dirent's `off` is the offset of the entry after it, which is what the kernel
 * passes back to continue.
 *
 * @example
 * ```ts
 * encodeDirents([{ ino: 1, name: ".", mode: 0o40755 }], 0, 4096).length; // 32
 * ```
 */
export const encodeDirents = (entries: readonly FuseDirent[], offset: number, size: number): Buffer => {
  const parts: Buffer[] = [];
  let used = 0;
  for (let i = offset; i < entries.length; i++) {
    const entry = entries[i];
    if (entry === undefined) break;
    const name = Buffer.from(entry.name, "utf8");
    const length = direntAlign(DIRENT_NAME_OFFSET + name.length);
    if (used + length > size) break;
    const b = Buffer.alloc(length);
    b.writeBigUInt64LE(BigInt(entry.ino), 0);
    b.writeBigUInt64LE(BigInt(i + 1), 8);
    b.writeUInt32LE(name.length, 16);
    b.writeUInt32LE((entry.mode & 0o170000) >>> 12, 20); // DT_* = S_IFMT bits >> 12
    b.set(name, DIRENT_NAME_OFFSET);
    parts.push(b);
    used += length;
  }
  return Buffer.concat(parts, used);
};
