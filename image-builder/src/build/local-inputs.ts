/**
 * Local files an image step reads from the host: validated (no symlink may point outside the
 * added directory), hashed by content for the cache key, and copied into a step's root.
 */
import { createHash, type Hash } from "node:crypto";
import { chmodSync, copyFileSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, type Stats } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { LocalInputError } from "./build-errors.ts";

/** Names left out of an npm project directory: it installs its own node_modules. */
export const NPM_PROJECT_SKIP: ReadonlySet<string> = new Set([".git", "node_modules"]);
const NO_SKIP: ReadonlySet<string> = new Set();

const statOrFail = (path: string): Stats => {
  try {
    return lstatSync(path);
  } catch {
    throw new LocalInputError(path, "does not exist; check the path (relative paths resolve from the directory you ran the command in)");
  }
};

/** Whether `target` of a symlink at `linkPath` stays inside `root` (pure path arithmetic). */
export const symlinkStaysInside = (root: string, linkPath: string, target: string): boolean => {
  const resolved = isAbsolute(target) ? resolve(target) : resolve(dirname(linkPath), target);
  const rel = relative(root, resolved);
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
};

/** Entries of a local tree in a stable order, relative paths; refuses symlinks escaping `root`. */
const walk = (root: string, skip: ReadonlySet<string>): Array<{ rel: string; st: Stats }> => {
  const out: Array<{ rel: string; st: Stats }> = [];
  const visit = (rel: string) => {
    const abs = join(root, rel);
    for (const name of readdirSync(abs).sort()) {
      if (skip.has(name)) continue;
      const childRel = rel === "" ? name : `${rel}/${name}`;
      const st = lstatSync(join(root, childRel));
      if (st.isSymbolicLink()) {
        const target = readlinkSync(join(root, childRel));
        if (!symlinkStaysInside(root, join(root, childRel), target)) {
          throw new LocalInputError(join(root, childRel), `is a symlink to ${target}, outside ${root}; only links inside the added directory are allowed (copy the target in instead)`);
        }
      } else if (!st.isFile() && !st.isDirectory()) {
        throw new LocalInputError(join(root, childRel), "is not a regular file, directory or symlink");
      }
      out.push({ rel: childRel, st });
      if (st.isDirectory()) visit(childRel);
    }
  };
  visit("");
  return out;
};

const hashEntry = (h: Hash, abs: string, rel: string, st: Stats) => {
  h.update(`${rel}\0${st.mode.toString(8)}\0`);
  if (st.isSymbolicLink()) h.update(`link:${readlinkSync(abs)}`);
  else if (st.isFile()) h.update(readFileSync(abs));
  h.update("\0");
};

/**
 * Validate a local input and hash its content (paths, modes, bytes, link targets). A directory's
 * symlinks must stay inside it.
 *
 * @example
 * ```ts
 * const digest = hashLocalInput("/home/me/assets", "dir");
 * ```
 */
export const hashLocalInput = (path: string, kind: "dir" | "file", skip: ReadonlySet<string> = NO_SKIP): string => {
  const st = statOrFail(path);
  const h = createHash("sha256");
  if (kind === "file") {
    if (!st.isFile()) throw new LocalInputError(path, "is not a regular file; use addLocalDir for a directory");
    hashEntry(h, path, "", st);
    return h.digest("hex");
  }
  if (!st.isDirectory()) throw new LocalInputError(path, "is not a directory; use addLocalFile for a file");
  for (const { rel, st: entry } of walk(path, skip)) hashEntry(h, join(path, rel), rel, entry);
  return h.digest("hex");
};

/** Validate a local input without hashing its bytes (mounted inputs: their content is not in the key). */
export const checkLocalInput = (path: string, kind: "dir" | "file", skip: ReadonlySet<string> = NO_SKIP): void => {
  const st = statOrFail(path);
  if (kind === "file" && !st.isFile()) throw new LocalInputError(path, "is not a regular file; use addLocalDir for a directory");
  if (kind === "dir") {
    if (!st.isDirectory()) throw new LocalInputError(path, "is not a directory; use addLocalFile for a file");
    walk(path, skip);
  }
};

/**
 * Copy a local file or directory to `dest` (a path inside a step's root), keeping modes and links.
 *
 * @example
 * ```ts
 * copyLocalInput("/home/me/assets", "dir", "/tmp/root/assets");
 * ```
 */
export const copyLocalInput = (path: string, kind: "dir" | "file", dest: string, skip: ReadonlySet<string> = NO_SKIP): void => {
  mkdirSync(dirname(dest), { recursive: true });
  if (kind === "file") {
    copyFileSync(path, dest);
    chmodSync(dest, lstatSync(path).mode & 0o7777);
    return;
  }
  mkdirSync(dest, { recursive: true });
  chmodSync(dest, lstatSync(path).mode & 0o7777);
  for (const { rel, st } of walk(path, skip)) {
    const to = join(dest, rel);
    if (st.isDirectory()) {
      mkdirSync(to, { recursive: true });
      chmodSync(to, st.mode & 0o7777);
    } else if (st.isSymbolicLink()) symlinkSync(readlinkSync(join(path, rel)), to);
    else {
      copyFileSync(join(path, rel), to);
      chmodSync(to, st.mode & 0o7777);
    }
  }
};
