import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";

/**
 * Directories every container mounts itself (a private /proc, a minimal /dev, a fresh /tmp), so
 * what an image holds there is never seen. A Debian root made by mmdebstrap keeps device nodes in
 * /dev, which an image index cannot hold.
 */
export const SANDBOX_MOUNT_POINTS = ["dev", "proc", "sys", "tmp"] as const;

/**
 * Empty the sandbox's own mount points in a flattened image root (the directories stay), before
 * it is indexed.
 *
 * @example
 * ```ts
 * flattenImage(built, root);
 * clearSandboxMountPoints(root); // root/dev/null and friends are gone
 * ```
 */
export const clearSandboxMountPoints = (root: string): void => {
  for (const dir of SANDBOX_MOUNT_POINTS) {
    let names: string[];
    try {
      names = readdirSync(join(root, dir));
    } catch {
      continue;
    }
    for (const name of names) rmSync(join(root, dir, name), { recursive: true, force: true });
    mkdirSync(join(root, dir), { recursive: true });
  }
};
