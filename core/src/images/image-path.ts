/**
 * What is wrong with `path` as an image index path, if anything: it must be relative to the
 * image root, `/`-separated, without empty, `.` or `..` segments, and without NUL.
 *
 * @example
 * ```ts
 * imagePathProblem("usr/bin/node"); // undefined
 * imagePathProblem("/etc/passwd");  // "… must be relative to the image root …"
 * ```
 */
export const imagePathProblem = (path: string): string | undefined => {
  if (path === "") return "an image path cannot be empty (the root is implied)";
  if (path.includes("\0")) return `${JSON.stringify(path)} contains a NUL character`;
  if (path.startsWith("/")) return `${JSON.stringify(path)} must be relative to the image root (no leading '/')`;
  for (const s of path.split("/")) {
    if (s === "" || s === "." || s === "..") return `${JSON.stringify(path)} has an empty, '.' or '..' segment`;
  }
  return undefined;
};

/** The parent of a canonical image path (`""` for the root's children). */
export const imageParentOf = (path: string): string => {
  const i = path.lastIndexOf("/");
  return i < 0 ? "" : path.slice(0, i);
};

/** Canonical order of image paths: by UTF-16 code units, so every runtime sorts alike. */
export const compareImagePaths = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
