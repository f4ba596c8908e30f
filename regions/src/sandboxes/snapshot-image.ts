/**
 * A sandbox snapshot as an image: the files of its tar (/tmp and /workspace, as the sandbox's
 * exec server archived them with GNU tar) indexed into the region's content-addressed block store,
 * in the format deploys publish built images in. Functions deployed with `image: snapshot` start
 * from it like from any built image (the agent mounts it lazily); sandboxes keep restoring the tar,
 * whose files they get writable.
 */
import { createHash } from "node:crypto";
import { chunkSpans, IMAGE_INDEX_VERSION, imageParentOf, Limits, storeImageIndex, type BlockStore, type ImageChunk, type ImageEntry } from "@ferry/core";

const BLOCK = 512;

/** One member of a tar archive, as far as an image needs it. */
export interface TarMember {
  readonly path: string;
  readonly type: "file" | "dir" | "symlink" | "hardlink";
  readonly mode: number;
  /** A file's bytes (a view into the archive). */
  readonly data: Uint8Array;
  /** A symlink's target, or the member a hard link repeats. */
  readonly linkTarget: string;
}

const text = (bytes: Uint8Array): string => {
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end));
};

/** A numeric header field: octal text, or GNU's base-256 for large values. */
const numberField = (bytes: Uint8Array): number => {
  if ((bytes[0]! & 0x80) !== 0) {
    let n = bytes[0]! & 0x7f;
    for (let i = 1; i < bytes.length; i++) n = n * 256 + bytes[i]!;
    return n;
  }
  const t = text(bytes).trim();
  return t === "" ? 0 : Number.parseInt(t, 8);
};

/** `./workspace/a/` → `workspace/a`; "" for the root itself. */
const cleanPath = (raw: string): string => raw.split("/").filter((s) => s !== "" && s !== ".").join("/");

/** The values of a pax extended header (`path`, `linkpath`, `size`…). */
const paxRecords = (data: Uint8Array): Map<string, string> => {
  const out = new Map<string, string>();
  const all = new TextDecoder().decode(data);
  let at = 0;
  while (at < all.length) {
    const space = all.indexOf(" ", at);
    const length = Number.parseInt(all.slice(at, space), 10);
    if (space < 0 || !Number.isFinite(length) || length <= 0) break;
    const record = all.slice(space + 1, at + length - 1);
    const eq = record.indexOf("=");
    if (eq > 0) out.set(record.slice(0, eq), record.slice(eq + 1));
    at += length;
  }
  return out;
};

/**
 * The members of a tar archive (ustar, GNU long names and pax headers): regular files,
 * directories, symlinks and hard links; devices, FIFOs and sparse files are skipped. Throws on a
 * truncated or corrupt archive.
 *
 * @example
 * ```ts
 * for (const m of tarMembers(bytes)) console.log(m.type, m.path);
 * ```
 */
export const tarMembers = (archive: Uint8Array): TarMember[] => {
  const members: TarMember[] = [];
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax = new Map<string, string>();
  let ended = false;
  for (let at = 0; at + BLOCK <= archive.length;) {
    const header = archive.subarray(at, at + BLOCK);
    if (header.every((b) => b === 0)) {
      ended = true;
      break;
    }
    const stored = numberField(header.subarray(148, 156));
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : header[i]!;
    if (sum !== stored) throw new Error(`the snapshot archive is corrupt at byte ${at} (header checksum)`);
    const flag = String.fromCharCode(header[156]!);
    const size = pax.has("size") ? Number(pax.get("size")) : numberField(header.subarray(124, 136));
    const dataStart = at + BLOCK;
    if (dataStart + size > archive.length) throw new Error(`the snapshot archive is truncated at byte ${at}`);
    const data = archive.subarray(dataStart, dataStart + size);
    at = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    if (flag === "L") { longName = text(data); continue; }
    if (flag === "K") { longLink = text(data); continue; }
    if (flag === "x") { pax = paxRecords(data); continue; }
    if (flag === "g") continue;
    const posix = text(header.subarray(257, 263)) === "ustar";
    const prefix = posix ? text(header.subarray(345, 500)) : "";
    const name = pax.get("path") ?? longName ?? (prefix ? `${prefix}/${text(header.subarray(0, 100))}` : text(header.subarray(0, 100)));
    const linkTarget = pax.get("linkpath") ?? longLink ?? text(header.subarray(157, 257));
    longName = undefined;
    longLink = undefined;
    pax = new Map();
    const type = flag === "0" || flag === "\0" || flag === "7" ? "file" : flag === "5" ? "dir" : flag === "2" ? "symlink" : flag === "1" ? "hardlink" : undefined;
    const path = cleanPath(name);
    if (!type || path === "") continue;
    members.push({ path, type, mode: numberField(header.subarray(100, 108)) & 0o7777, data, linkTarget });
  }
  if (!ended) throw new Error("the snapshot archive is truncated (no end-of-archive marker)");
  return members;
};

const sha256 = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");

/**
 * Index a snapshot's tar as an image in `store` (every block, then the index) and return its id.
 * Everything in it is readable by every user (an image is read-only, and a function runs as the
 * sandbox user whatever owned the files); parents the archive leaves out are added as directories.
 *
 * @example
 * ```ts
 * const imageId = await snapshotImage(tarBytes, blockStore); // a function's `imageId`
 * ```
 */
export const snapshotImage = async (archive: Uint8Array, store: BlockStore): Promise<string> => {
  const entries = new Map<string, ImageEntry>();
  const addParents = (path: string) => {
    for (let p = imageParentOf(path); p !== "" && !entries.has(p); p = imageParentOf(p)) entries.set(p, { path: p, type: "dir", mode: 0o755, size: 0 });
  };
  const fileEntry = async (path: string, mode: number, data: Uint8Array): Promise<ImageEntry> => {
    const digest = sha256(data);
    const chunks: ImageChunk[] = [];
    if (data.byteLength <= Limits.imageChunkBytes) {
      if (data.byteLength > 0) await store.put(data, digest);
    } else {
      for (const s of chunkSpans(data.byteLength, Limits.imageChunkBytes)) {
        const piece = data.subarray(s.offset, s.offset + s.length);
        chunks.push({ digest: await store.put(piece), size: s.length });
      }
    }
    return { path, type: "file", mode: mode | 0o444, size: data.byteLength, digest, ...(chunks.length > 0 ? { chunks } : {}) };
  };
  const members = tarMembers(archive);
  const byPath = new Map(members.map((m) => [m.path, m]));
  for (const m of members) {
    addParents(m.path);
    if (m.type === "dir") entries.set(m.path, { path: m.path, type: "dir", mode: m.mode | 0o555, size: 0 });
    else if (m.type === "symlink") {
      if (m.linkTarget === "") continue;
      entries.set(m.path, { path: m.path, type: "symlink", mode: 0o777, size: new TextEncoder().encode(m.linkTarget).byteLength, target: m.linkTarget });
    } else if (m.type === "file") entries.set(m.path, await fileEntry(m.path, m.mode, m.data));
    else {
      // A hard link repeats an earlier member's bytes.
      const target = byPath.get(cleanPath(m.linkTarget));
      if (target?.type === "file") entries.set(m.path, await fileEntry(m.path, target.mode, target.data));
    }
  }
  return storeImageIndex(store, { version: IMAGE_INDEX_VERSION, chunkBytes: Limits.imageChunkBytes, entries: [...entries.values()] });
};
