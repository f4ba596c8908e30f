import { Schema } from "effect";
import { volumeParentOf } from "./volume-paths.ts";

const Digest = Schema.String.check(Schema.isPattern(/^[0-9a-f]{64}$/, { message: "expected a sha256 digest in lowercase hex" }));
const Size = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0));

/**
 * One file of a volume version: the SHA-256 of its content, its size, permission bits, and the
 * content-addressed blocks (`Limits.volumeBlockBytes` each, the last one smaller) that hold it.
 */
export const VolumeFileEntry = Schema.Struct({
  kind: Schema.Literal("file"),
  digest: Digest,
  size: Size,
  mode: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 0o7777 })),
  blocks: Schema.Array(Digest),
});
export type VolumeFileEntry = typeof VolumeFileEntry.Type;

/** A symbolic link kept in a volume; its target is relative and stays inside the volume. */
export const VolumeSymlinkEntry = Schema.Struct({
  kind: Schema.Literal("symlink"),
  target: Schema.String,
});
export type VolumeSymlinkEntry = typeof VolumeSymlinkEntry.Type;

export const VolumeEntry = Schema.Union([VolumeFileEntry, VolumeSymlinkEntry]);
export type VolumeEntry = typeof VolumeEntry.Type;

/** A volume version: canonical path (see `normalizeVolumePath`) → entry. Directories are implied by paths. */
export type VolumeManifest = Readonly<Record<string, VolumeEntry>>;

/** One change a commit carries: the entry a path now has, or `null` for a removed path. */
export const VolumeChange = Schema.Struct({ path: Schema.String, entry: Schema.NullOr(VolumeEntry) });
export type VolumeChange = typeof VolumeChange.Type;

/** Whether two entries are the same content (and mode, or link target). */
export const sameVolumeEntry = (a: VolumeEntry | undefined, b: VolumeEntry | undefined): boolean => {
  if (a === undefined || b === undefined) return a === b;
  if (a.kind === "symlink" || b.kind === "symlink") return a.kind === b.kind && (a as VolumeSymlinkEntry).target === (b as VolumeSymlinkEntry).target;
  return a.digest === b.digest && a.size === b.size && a.mode === b.mode;
};

/**
 * The changes that turn `base` into `next`, sorted by path: what a container's commit sends
 * (its directory scanned into `next`, against the version it started from).
 *
 * @example
 * ```ts
 * diffVolumeManifests({ a: fileA }, { a: fileA, b: fileB }); // [{ path: "b", entry: fileB }]
 * ```
 */
export const diffVolumeManifests = (base: VolumeManifest, next: VolumeManifest): VolumeChange[] => {
  const changes: VolumeChange[] = [];
  for (const [path, entry] of Object.entries(next)) if (!sameVolumeEntry(base[path], entry)) changes.push({ path, entry });
  for (const path of Object.keys(base)) if (!(path in next)) changes.push({ path, entry: null });
  return changes.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
};

/** Every ancestor directory of `path` (`a/b/c` → `a`, `a/b`). */
const ancestorsOf = (path: string): string[] => {
  const out: string[] = [];
  for (let p = volumeParentOf(path); p !== ""; p = volumeParentOf(p)) out.push(p);
  return out;
};

/**
 * Apply `changes` on top of `manifest`, later changes winning (a commit on top of the latest
 * version: last writer wins per file). The tree stays consistent: a file written where a
 * directory was replaces that directory's contents, and a file inside what was a file replaces it.
 *
 * @example
 * ```ts
 * applyVolumeChanges({ a: fileA }, [{ path: "a", entry: null }]); // {}
 * ```
 */
export const applyVolumeChanges = (manifest: VolumeManifest, changes: ReadonlyArray<VolumeChange>): VolumeManifest => {
  const out = new Map(Object.entries(manifest));
  let dirs: Set<string> | undefined;
  const directories = () => {
    if (!dirs) {
      dirs = new Set();
      for (const p of out.keys()) for (const a of ancestorsOf(p)) dirs.add(a);
    }
    return dirs;
  };
  for (const { path, entry } of changes) {
    if (entry === null) {
      out.delete(path);
      continue;
    }
    for (const a of ancestorsOf(path)) out.delete(a);
    if (directories().has(path)) {
      for (const p of [...out.keys()]) if (p.startsWith(`${path}/`)) out.delete(p);
      dirs = undefined;
    }
    out.set(path, entry);
    for (const a of ancestorsOf(path)) dirs?.add(a);
  }
  return Object.fromEntries([...out.entries()].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
};

/** Files, their total size, and how many there are, in one version. */
export const volumeTotals = (manifest: VolumeManifest): { readonly files: number; readonly bytes: number } => {
  let files = 0;
  let bytes = 0;
  for (const e of Object.values(manifest)) {
    files++;
    if (e.kind === "file") bytes += e.size;
  }
  return { files, bytes };
};

/** One entry of a directory listing. */
export interface VolumeListing {
  /** Canonical path inside the volume. */
  readonly path: string;
  readonly type: "file" | "dir" | "symlink";
  /** Bytes of a file; the total under a directory. */
  readonly size: number;
  readonly mode?: number;
  readonly target?: string;
}

/**
 * The immediate children of directory `dir` (canonical; `""` for the root), sorted by path;
 * `undefined` when `dir` is neither the root nor a directory of the version.
 *
 * @example
 * ```ts
 * listVolumeDirectory({ "a/b.txt": file, "c.txt": file }, ""); // [{ path: "a", type: "dir", … }, { path: "c.txt", type: "file", … }]
 * ```
 */
export const listVolumeDirectory = (manifest: VolumeManifest, dir: string): VolumeListing[] | undefined => {
  const prefix = dir === "" ? "" : `${dir}/`;
  const children = new Map<string, VolumeListing>();
  let found = dir === "";
  for (const [path, entry] of Object.entries(manifest)) {
    if (!path.startsWith(prefix)) continue;
    found = true;
    const rest = path.slice(prefix.length);
    const slash = rest.indexOf("/");
    const size = entry.kind === "file" ? entry.size : 0;
    if (slash < 0) {
      children.set(rest, entry.kind === "file"
        ? { path, type: "file", size, mode: entry.mode }
        : { path, type: "symlink", size: 0, target: entry.target });
    } else {
      const name = rest.slice(0, slash);
      const prev = children.get(name);
      children.set(name, { path: `${prefix}${name}`, type: "dir", size: (prev?.size ?? 0) + size });
    }
  }
  if (!found) return undefined;
  return [...children.values()].sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
};

/** The removals that delete `path` (a file or symlink) or everything under it (a directory). */
export const removalsUnder = (manifest: VolumeManifest, path: string): VolumeChange[] =>
  Object.keys(manifest).filter((p) => path === "" || p === path || p.startsWith(`${path}/`)).map((p) => ({ path: p, entry: null }));
