import { Limits, normalizeVolumePath, symlinkStaysInside, type VolumeChange } from "@ferry/core";

/** What is wrong with a commit's changes: the field at fault (`body.changes[3].path`) and why. */
export interface CommitProblem {
  readonly field: string;
  readonly message: string;
}

/** Blocks a file of `size` bytes is stored in. */
export const blockCountOf = (size: number): number => Math.ceil(size / Limits.volumeBlockBytes);

/**
 * Check a commit's changes on their own, before any storage is read: every path canonical and
 * not the root, each at most once; files within `maxVolumeFileBytes` and cut into the right
 * number of blocks; symlinks relative and pointing inside the volume. Returns the first problem.
 *
 * @example
 * ```ts
 * checkCommitChanges([{ path: "../x", entry: null }])?.message; // "body.changes[0].path: \"../x\" escapes the volume root: …"
 * ```
 */
export const checkCommitChanges = (changes: ReadonlyArray<VolumeChange>, root = "body.changes"): CommitProblem | undefined => {
  const seen = new Set<string>();
  for (const [i, { path, entry }] of changes.entries()) {
    const field = `${root}[${i}]`;
    const normal = normalizeVolumePath(path);
    if (!normal.ok) return { field: `${field}.path`, message: `${field}.path: ${normal.reason}` };
    if (normal.path === "") return { field: `${field}.path`, message: `${field}.path: the volume root itself is not a file` };
    if (normal.path !== path) return { field: `${field}.path`, message: `${field}.path: expected the canonical path ${JSON.stringify(normal.path)}` };
    if (seen.has(path)) return { field: `${field}.path`, message: `${field}.path: ${path} appears twice in one commit` };
    seen.add(path);
    if (entry === null) continue;
    if (entry.kind === "symlink") {
      if (!symlinkStaysInside(path, entry.target)) {
        return { field: `${field}.entry.target`, message: `${field}.entry.target: symlink ${path} points outside the volume (${JSON.stringify(entry.target)}): only relative links inside the volume can be kept` };
      }
      continue;
    }
    if (entry.size > Limits.maxVolumeFileBytes) {
      return { field: `${field}.entry.size`, message: `${field}.entry.size: ${path} is ${entry.size} bytes; the limit (maxVolumeFileBytes) is ${Limits.maxVolumeFileBytes}` };
    }
    if (entry.blocks.length !== blockCountOf(entry.size)) {
      return { field: `${field}.entry.blocks`, message: `${field}.entry.blocks: a file of ${entry.size} bytes is stored in ${blockCountOf(entry.size)} blocks of ${Limits.volumeBlockBytes} bytes, not ${entry.blocks.length}` };
    }
  }
  return undefined;
};
