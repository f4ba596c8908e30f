import { Limits } from "../limits/limits.ts";

/** A checked path inside a volume, or why it was refused. */
export type VolumePathCheck = { readonly ok: true; readonly path: string } | { readonly ok: false; readonly reason: string };

const utf8 = new TextEncoder();
/** Longest single path segment (the usual file-system limit). */
const MAX_SEGMENT_BYTES = 255;

/**
 * The canonical form of a path inside a volume: relative to its root, `/`-separated, without
 * empty or `.` segments (`""` is the root). A leading `/` means the volume root, so `/a/b` and
 * `a/b` are the same file. Any `..` segment is refused, inside or not: a volume path never
 * climbs, so it can never escape the root.
 *
 * @example
 * ```ts
 * normalizeVolumePath("/models//bert/./config.json"); // { ok: true, path: "models/bert/config.json" }
 * normalizeVolumePath("../etc/passwd").ok;             // false
 * ```
 */
export const normalizeVolumePath = (input: string): VolumePathCheck => {
  if (typeof input !== "string") return { ok: false, reason: "a volume path must be a string" };
  if (input.includes("\0")) return { ok: false, reason: "a volume path cannot contain a NUL character" };
  const segments = input.split("/").filter((s) => s !== "" && s !== ".");
  if (segments.includes("..")) return { ok: false, reason: `${JSON.stringify(input)} escapes the volume root: volume paths cannot contain '..'` };
  for (const s of segments) {
    if (utf8.encode(s).byteLength > MAX_SEGMENT_BYTES) return { ok: false, reason: `a path segment is longer than ${MAX_SEGMENT_BYTES} bytes` };
  }
  const path = segments.join("/");
  const bytes = utf8.encode(path).byteLength;
  if (bytes > Limits.maxVolumePathBytes) return { ok: false, reason: `the path is ${bytes} bytes; the limit (maxVolumePathBytes) is ${Limits.maxVolumePathBytes}` };
  return { ok: true, path };
};

/** The parent directory of a canonical volume path (`""` for the root's children). */
export const volumeParentOf = (path: string): string => {
  const i = path.lastIndexOf("/");
  return i < 0 ? "" : path.slice(0, i);
};

/**
 * Whether a symlink at `linkPath` (canonical, inside the volume) pointing at `target` resolves
 * inside the volume. Absolute targets never do: the volume may be mounted anywhere, and on the
 * host an absolute target would name the host's files.
 *
 * @example
 * ```ts
 * symlinkStaysInside("models/latest", "v2/model.bin"); // true
 * symlinkStaysInside("models/latest", "../../etc");    // false
 * symlinkStaysInside("x", "/etc/passwd");              // false
 * ```
 */
export const symlinkStaysInside = (linkPath: string, target: string): boolean => {
  if (target === "" || target.startsWith("/") || target.includes("\0")) return false;
  const stack = volumeParentOf(linkPath).split("/").filter((s) => s !== "");
  for (const s of target.split("/")) {
    if (s === "" || s === ".") continue;
    if (s === "..") {
      if (stack.length === 0) return false;
      stack.pop();
    } else stack.push(s);
  }
  return true;
};

/** Where a volume may not be mounted: the sandbox's own mounts and the platform's files. */
const RESERVED_MOUNTS = ["/proc", "/dev", "/sys", "/tmp", "/etc", "/usr", "/bin", "/sbin", "/lib", "/lib64", "/opt/ferry"];

/**
 * What is wrong with a mount path of the `volumes` option, if anything: it must be absolute,
 * without `..`, not the root, and outside the sandbox's system directories (`/mnt/weights`,
 * `/data`, `/root/.cache` are fine).
 *
 * @example
 * ```ts
 * mountPathProblem("/mnt/weights"); // undefined
 * mountPathProblem("/proc/x");      // "volumes cannot be mounted at or under /proc"
 * ```
 */
export const mountPathProblem = (mount: string): string | undefined => {
  if (!mount.startsWith("/")) return `mount path ${JSON.stringify(mount)} must be absolute, like /mnt/data`;
  const segments = mount.split("/").filter((s) => s !== "" && s !== ".");
  if (segments.includes("..") || mount.includes("\0")) return `mount path ${JSON.stringify(mount)} cannot contain '..'`;
  if (segments.length === 0) return "a volume cannot be mounted at /";
  const normal = `/${segments.join("/")}`;
  for (const r of RESERVED_MOUNTS) {
    if (normal === r || normal.startsWith(`${r}/`)) return `volumes cannot be mounted at or under ${r}`;
  }
  if (utf8.encode(normal).byteLength > Limits.maxVolumePathBytes) return `mount path is longer than ${Limits.maxVolumePathBytes} bytes`;
  return undefined;
};
