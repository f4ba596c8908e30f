/**
 * Layers on disk. A layer is a directory holding what a step changed, OCI-style: added or
 * modified entries as themselves, a deleted entry `x` as an empty file `.wh.x` beside where it was
 * (and `.wh..wh..opq` in a directory replaces all of the lower layers' content of it, as OCI
 * images from elsewhere may carry). Applying a stack of layers in order gives the image's root.
 */
import { chmodSync, copyFileSync, lstatSync, mkdirSync, readdirSync, readlinkSync, rmSync, symlinkSync, utimesSync, writeFileSync, type BigIntStats } from "node:fs";
import { dirname, join } from "node:path";

/** Prefix marking a deleted entry in a layer (the OCI image spec's whiteout). */
export const WHITEOUT_PREFIX = ".wh.";
/** A directory's opaque marker: lower layers' content of it is hidden. */
export const OPAQUE_WHITEOUT = ".wh..wh..opq";

/** What a snapshot remembers of one entry: enough to tell whether a step touched it. */
export interface EntryState {
  readonly type: "file" | "dir" | "symlink" | "other";
  readonly mode: number;
  readonly size: bigint;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
  readonly link?: string;
}

const typeOf = (st: BigIntStats): EntryState["type"] =>
  st.isDirectory() ? "dir" : st.isFile() ? "file" : st.isSymbolicLink() ? "symlink" : "other";

/**
 * Every entry under `root` (relative paths), skipping `excluded` relative paths and what is under
 * them (mount points of the base, /proc, /dev, /tmp...).
 *
 * @example
 * ```ts
 * const before = snapshotTree("/tmp/step/root", new Set(["proc", "dev", "tmp"]));
 * ```
 */
export const snapshotTree = (root: string, excluded: ReadonlySet<string>): Map<string, EntryState> => {
  const out = new Map<string, EntryState>();
  const visit = (rel: string) => {
    let names: string[];
    try {
      names = readdirSync(rel === "" ? root : join(root, rel));
    } catch {
      return;
    }
    for (const name of names) {
      const childRel = rel === "" ? name : `${rel}/${name}`;
      if (excluded.has(childRel)) continue;
      const st = lstatSync(join(root, childRel), { bigint: true });
      const type = typeOf(st);
      out.set(childRel, {
        type, mode: Number(st.mode & 0o7777n), size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs,
        ...(type === "symlink" ? { link: readlinkSync(join(root, childRel)) } : {}),
      });
      if (type === "dir") visit(childRel);
    }
  };
  visit("");
  return out;
};

/** Whether an entry changed between two snapshots (pure). Any write changes ctime, so content edits in place are seen. */
export const entryChanged = (a: EntryState, b: EntryState): boolean =>
  a.type !== b.type || a.mode !== b.mode || a.size !== b.size || a.mtimeNs !== b.mtimeNs || a.ctimeNs !== b.ctimeNs || a.link !== b.link;

/** The change set between two snapshots (pure): entries to copy and paths to white out, both sorted. */
export const diffSnapshots = (before: ReadonlyMap<string, EntryState>, after: ReadonlyMap<string, EntryState>): { changed: string[]; deleted: string[] } => {
  const changed = [...after].filter(([rel, st]) => { const old = before.get(rel); return old === undefined || entryChanged(old, st); }).map(([rel]) => rel).sort();
  const deletedAll = [...before.keys()].filter((rel) => !after.has(rel)).sort();
  const deletedSet = new Set(deletedAll);
  // A deleted directory's whiteout covers its children.
  const deleted = deletedAll.filter((rel) => { const parent = rel.includes("/") ? rel.slice(0, rel.lastIndexOf("/")) : ""; return !deletedSet.has(parent); });
  return { changed, deleted };
};

/** Copy one entry (not a directory's children) from `fromRoot/rel` to `toRoot/rel`, replacing what is there. */
export const copyEntry = (fromRoot: string, toRoot: string, rel: string): void => {
  const src = join(fromRoot, rel);
  const dst = join(toRoot, rel);
  const st = lstatSync(src);
  mkdirSync(dirname(dst), { recursive: true });
  if (st.isDirectory()) {
    const existing = lstatOrUndefined(dst);
    if (existing && !existing.isDirectory()) rmSync(dst, { force: true });
    mkdirSync(dst, { recursive: true });
    chmodSync(dst, st.mode & 0o7777);
    return;
  }
  rmSync(dst, { recursive: true, force: true });
  if (st.isSymbolicLink()) symlinkSync(readlinkSync(src), dst);
  else if (st.isFile()) {
    copyFileSync(src, dst);
    chmodSync(dst, st.mode & 0o7777);
    utimesSync(dst, st.atime, st.mtime);
  }
};

const lstatOrUndefined = (path: string) => {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
};

/**
 * Write the layer of a step: `after` entries that changed since `before` copied from `root` into
 * `layerDir`, and a whiteout for each deleted path.
 *
 * @example
 * ```ts
 * writeLayerDiff(root, before, snapshotTree(root, excluded), layerDir);
 * ```
 */
export const writeLayerDiff = (root: string, before: ReadonlyMap<string, EntryState>, after: ReadonlyMap<string, EntryState>, layerDir: string): { changed: number; deleted: number } => {
  mkdirSync(layerDir, { recursive: true });
  const { changed, deleted } = diffSnapshots(before, after);
  for (const rel of changed) copyEntry(root, layerDir, rel);
  for (const rel of deleted) {
    const slash = rel.lastIndexOf("/");
    const parent = slash < 0 ? "" : rel.slice(0, slash);
    mkdirSync(join(layerDir, parent), { recursive: true });
    writeFileSync(join(layerDir, parent, `${WHITEOUT_PREFIX}${rel.slice(slash + 1)}`), "");
  }
  return { changed: changed.length, deleted: deleted.length };
};

/**
 * Apply a layer onto `root`: whiteouts of a directory first (they hide lower content), then its
 * entries, depth first.
 *
 * @example
 * ```ts
 * for (const layer of layers) applyLayer(layer, root);
 * ```
 */
export const applyLayer = (layerDir: string, root: string): void => {
  const visit = (rel: string) => {
    const names = readdirSync(join(layerDir, rel)).sort();
    if (names.includes(OPAQUE_WHITEOUT)) {
      for (const name of readdirSync(join(root, rel))) rmSync(join(root, rel, name), { recursive: true, force: true });
    }
    for (const name of names) {
      if (name === OPAQUE_WHITEOUT || !name.startsWith(WHITEOUT_PREFIX)) continue;
      rmSync(join(root, rel, name.slice(WHITEOUT_PREFIX.length)), { recursive: true, force: true });
    }
    for (const name of names) {
      if (name.startsWith(WHITEOUT_PREFIX)) continue;
      const childRel = rel === "" ? name : `${rel}/${name}`;
      copyEntry(layerDir, root, childRel);
      if (lstatSync(join(layerDir, childRel)).isDirectory()) visit(childRel);
    }
  };
  visit("");
};
