/**
 * The in-memory tree a lazy mount serves: one node per index entry, numbered from the root (node
 * id 1), with directories the index implies but does not list filled in. Built once, never
 * changed (an image is immutable), so FORGET needs no bookkeeping.
 */
import { FUSE_ROOT_ID, type FuseAttr, type FuseDirent } from "./fuse-protocol.ts";
import type { ImageIndexLike, LazyEntry, LazyEntryKind } from "./lazy-source.ts";

/** S_IFDIR, S_IFREG, S_IFLNK. */
const TYPE_BITS: Record<LazyEntryKind, number> = { directory: 0o040000, file: 0o100000, symlink: 0o120000 };
/** Mode of a directory the index implies (a parent of a listed path) without listing it. */
const IMPLIED_DIRECTORY_MODE = 0o755;
/** Permission bits kept from an entry's mode (setuid/setgid dropped: nothing runs as root from an image). */
const PERMISSION_MASK = 0o1777;

/** One node of the tree. */
export interface LazyNode {
  readonly ino: number;
  /** Normalized path ("" for the root). */
  readonly path: string;
  /** The index's own spelling of the path, passed to `LazySource.read`. */
  readonly sourcePath: string;
  readonly kind: LazyEntryKind;
  readonly attr: FuseAttr;
  readonly linkTarget: string;
  readonly parent: number;
  /** Children by name (directories only). */
  readonly children: Map<string, number>;
}

/** The whole tree. */
export interface LazyTree {
  readonly nodes: ReadonlyMap<number, LazyNode>;
  readonly totalBytes: number;
}

/** Thrown when an index cannot be served: a bad path, a duplicate, or a file under a non-directory. */
export class InvalidImageIndexError extends Error {
  override readonly name = "InvalidImageIndexError";
}

const normalizePath = (path: string): string => {
  const parts = path.split("/").filter((part) => part !== "" && part !== ".");
  if (parts.includes("..")) throw new InvalidImageIndexError(`image index path ${JSON.stringify(path)} contains ".."; rebuild the index with paths inside the image`);
  if (parts.some((part) => part.includes("\0"))) throw new InvalidImageIndexError(`image index path ${JSON.stringify(path)} contains a NUL`);
  return parts.join("/");
};

const parentOf = (path: string): string => (path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "");
const baseName = (path: string): string => path.slice(path.lastIndexOf("/") + 1);

/**
 * Builds the tree for `index`; `nowMs` is the mtime of entries that carry none.
 *
 * @example
 * ```ts
 * const tree = buildLazyTree({ entries: [{ path: "a/b.txt", kind: "file", mode: 0o644, size: 3 }] }, Date.now());
 * lookupChild(tree, FUSE_ROOT_ID, "a"); // the implied directory "a"
 * ```
 */
export const buildLazyTree = (index: ImageIndexLike, nowMs: number): LazyTree => {
  const nodes = new Map<number, LazyNode>();
  const byPath = new Map<string, number>();
  let totalBytes = 0;

  const add = (path: string, entry: LazyEntry | undefined, parent: number): number => {
    const kind = entry?.kind ?? "directory";
    const ino = path === "" ? FUSE_ROOT_ID : nodes.size + 1;
    const linkTarget = entry?.linkTarget ?? "";
    const size = kind === "file" ? (entry?.size ?? 0) : kind === "symlink" ? Buffer.byteLength(linkTarget) : 0;
    if (kind === "file") totalBytes += size;
    const permissions = entry === undefined ? IMPLIED_DIRECTORY_MODE : entry.mode & PERMISSION_MASK;
    nodes.set(ino, {
      ino,
      path,
      sourcePath: entry?.path ?? path,
      kind,
      linkTarget,
      parent,
      children: new Map(),
      attr: { ino, size, mode: TYPE_BITS[kind] | permissions, nlink: kind === "directory" ? 2 : 1, mtimeMs: entry?.mtimeMs ?? nowMs },
    });
    byPath.set(path, ino);
    if (path !== "") nodes.get(parent)?.children.set(baseName(path), ino);
    return ino;
  };

  const ensureDirectory = (path: string): number => {
    const existing = byPath.get(path);
    if (existing !== undefined) {
      if (nodes.get(existing)?.kind !== "directory") throw new InvalidImageIndexError(`image index lists a path under ${JSON.stringify(path)}, which is not a directory`);
      return existing;
    }
    return add(path, undefined, path === "" ? FUSE_ROOT_ID : ensureDirectory(parentOf(path)));
  };

  const rootEntry = index.entries.find((entry) => normalizePath(entry.path) === "");
  add("", rootEntry?.kind === "directory" ? rootEntry : undefined, FUSE_ROOT_ID);
  // Parents before children, whatever order the index lists them in.
  const entries = index.entries
    .map((entry) => ({ entry, path: normalizePath(entry.path) }))
    .filter(({ path }) => path !== "")
    .sort((a, b) => a.path.split("/").length - b.path.split("/").length);
  for (const { entry, path } of entries) {
    if (byPath.has(path)) throw new InvalidImageIndexError(`image index lists ${JSON.stringify(path)} twice`);
    add(path, entry, ensureDirectory(parentOf(path)));
  }
  return { nodes, totalBytes };
};

/** The child `name` of directory `parent`, or undefined. */
export const lookupChild = (tree: LazyTree, parent: number, name: string): LazyNode | undefined => {
  const ino = tree.nodes.get(parent)?.children.get(name);
  return ino === undefined ? undefined : tree.nodes.get(ino);
};

/** A directory's listing as READDIR sends it: ".", "..", then the children in name order. */
export const directoryListing = (tree: LazyTree, dir: LazyNode): FuseDirent[] => {
  const parent = tree.nodes.get(dir.parent) ?? dir;
  const listing: FuseDirent[] = [
    { ino: dir.ino, name: ".", mode: dir.attr.mode },
    { ino: parent.ino, name: "..", mode: parent.attr.mode },
  ];
  for (const name of [...dir.children.keys()].sort()) {
    const child = tree.nodes.get(dir.children.get(name) ?? 0);
    if (child !== undefined) listing.push({ ino: child.ino, name, mode: child.attr.mode });
  }
  return listing;
};
