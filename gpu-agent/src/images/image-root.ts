/**
 * Where a lazily mounted image appears inside a container: the node's base root (host /usr, a
 * minimal /etc, the Node runtime) stays as it is, and every top-level path of the image is bound
 * read-only from the mount on top of it. A path the platform itself owns (the base's binds, the
 * runner and app directories, /proc, /dev, /tmp, volume mounts) is never shadowed: where an image
 * directory holds one of them (e.g. `/opt` around `/opt/ferry/runner`, `/etc` around
 * `/etc/passwd`), its other children are bound one by one instead.
 */
import type { ImageEntry } from "@ferry/core";
import type { RootfsEntry } from "../sandbox/bwrap-args.ts";

/** Paths every sandbox mounts itself; an image never binds over or under them. */
export const SANDBOX_OWNED_PATHS: ReadonlyArray<string> = ["/proc", "/dev", "/tmp", "/sys"];

const isUnder = (path: string, root: string): boolean => path === root || path.startsWith(`${root}/`);

/**
 * The rootfs entries that show `entries` (an image index's entries, served at `mountpoint`) in a
 * sandbox, leaving `reserved` sandbox paths to whoever owns them. Pure: no file system access.
 *
 * @example
 * ```ts
 * imageRootEntries([{ path: "app", type: "dir", mode: 0o755, size: 0 }], "/var/lib/ferry/mnt/ct-1", ["/usr"]);
 * // [{ hostPath: "/var/lib/ferry/mnt/ct-1/app", sandboxPath: "/app" }]
 * ```
 */
export const imageRootEntries = (entries: ReadonlyArray<ImageEntry>, mountpoint: string, reserved: ReadonlyArray<string>): RootfsEntry[] => {
  const byPath = new Map(entries.map((e) => [e.path, e]));
  const children = new Map<string, string[]>();
  const addChild = (path: string) => {
    const slash = path.lastIndexOf("/");
    const parent = slash < 0 ? "" : path.slice(0, slash);
    const list = children.get(parent) ?? [];
    if (!list.includes(path)) list.push(path);
    children.set(parent, list);
    if (parent !== "") addChild(parent);
  };
  for (const e of entries) addChild(e.path);
  const owned = [...SANDBOX_OWNED_PATHS, ...reserved];
  const out: RootfsEntry[] = [];
  const place = (path: string): void => {
    const sandboxPath = `/${path}`;
    if (owned.some((r) => isUnder(sandboxPath, r))) return;
    const entry = byPath.get(path);
    const isDir = entry === undefined || entry.type === "dir";
    if (owned.some((r) => r.startsWith(`${sandboxPath}/`))) {
      if (isDir) for (const child of [...(children.get(path) ?? [])].sort()) place(child);
      return;
    }
    if (entry?.type === "symlink") out.push({ symlinkTo: entry.target, sandboxPath });
    else out.push({ hostPath: `${mountpoint}/${path}`, sandboxPath });
  };
  for (const top of [...(children.get("") ?? [])].sort()) place(top);
  return out;
};

/**
 * The working directory a container of the image starts in: the image's `workdir` when the image
 * has that directory, else `fallback`.
 *
 * @example
 * ```ts
 * imageWorkdir(index.entries, "/app", "/opt/ferry/app"); // "/app" when the image has /app
 * ```
 */
export const imageWorkdir = (entries: ReadonlyArray<ImageEntry>, workdir: string, fallback: string): string => {
  const path = workdir.replace(/^\/+|\/+$/g, "");
  if (path === "") return fallback;
  return entries.some((e) => e.path === path && e.type === "dir") ? `/${path}` : fallback;
};
