/**
 * What a container of a custom image stands on, besides the image itself. An "overlay" image
 * (on "ferry/node") keeps the node's whole base root: host /usr, a minimal /etc, the Node runtime.
 * A "full" image (a Debian or OCI base) brings its own /usr, /etc and libraries, so the platform
 * adds only what it must: Ferry's Node runtime, the generated passwd/group naming the sandbox
 * user, and the host's resolv.conf. (The runner and app directories, /proc, /dev and /tmp are
 * the sandbox's own, as for every container.)
 */
import { IMAGE_NPM_DIRS_ENV } from "../runner/image-packages.ts";
import type { RootfsEntry } from "../sandbox/bwrap-args.ts";
import { SANDBOX_NODE_DIR } from "../sandbox/bwrap-args.ts";

/** How a container's root is made from its image (see core's `ResolvedFunctionOptions.image.root`). */
export type ContainerImageRoot = "overlay" | "full";

/** The node base's entries a full-root image keeps: the platform's, never the host's system files. */
export const FULL_ROOT_PLATFORM_PATHS: ReadonlyArray<string> = [SANDBOX_NODE_DIR, "/etc/passwd", "/etc/group", "/etc/resolv.conf"];

/** PATH in a full-root container unless its image sets one: Ferry's Node first, then Debian's usual directories. */
export const FULL_ROOT_PATH = `${SANDBOX_NODE_DIR}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`;

/**
 * The base entries under a custom image (pure): all of the node's base for "overlay", only the
 * platform's part of it (FULL_ROOT_PLATFORM_PATHS) for "full".
 *
 * @example
 * ```ts
 * const base = baseEntriesFor(defaultNodeImageBinds(nodeDir), "full");
 * // [{ hostPath: "/tmp/ferry-image-0/passwd", sandboxPath: "/etc/passwd" }, …, { hostPath: nodeDir, sandboxPath: "/opt/ferry/node" }]
 * ```
 */
export const baseEntriesFor = (nodeBase: ReadonlyArray<RootfsEntry>, root: ContainerImageRoot): RootfsEntry[] =>
  root === "overlay" ? [...nodeBase] : nodeBase.filter((e) => FULL_ROOT_PLATFORM_PATHS.includes(e.sandboxPath));

/**
 * The environment a custom image's container starts from, before the image's `env` and the
 * function's secrets (pure): a full root gets a PATH that reaches its own binaries (the sandbox
 * default has only Ferry's Node, /usr/bin and /bin); `npmDirs` go to the runner (see runner/image-packages.ts).
 *
 * @example
 * ```ts
 * imageBaseEnv("full", ["/app"]); // { PATH: "/opt/ferry/node:/usr/local/sbin:…", FERRY_IMAGE_NPM_DIRS: "/app" }
 * ```
 */
export const imageBaseEnv = (root: ContainerImageRoot, npmDirs: ReadonlyArray<string>): Record<string, string> => ({
  ...(root === "full" ? { PATH: FULL_ROOT_PATH } : {}),
  ...(npmDirs.length > 0 ? { [IMAGE_NPM_DIRS_ENV]: npmDirs.join(":") } : {}),
});
