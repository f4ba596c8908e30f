/**
 * The root a container of a built image stands on, for function containers and sandboxes alike:
 * the node's base (all of it under an "overlay" image, only the platform's part under a "full"
 * one, see container-root.ts), the image mounted lazily on top (see container-images.ts), the
 * directory to start in, and the environment the image brings.
 */
import type { RootfsEntry } from "../sandbox/bwrap-args.ts";
import type { ContainerImages } from "./container-images.ts";
import { baseEntriesFor, imageBaseEnv, type ContainerImageRoot } from "./container-root.ts";

/** A built image as a container's options carry it (core's `ResolvedFunctionOptions.image`). */
export interface ContainerImageSpec {
  readonly id: string;
  readonly env: Readonly<Record<string, string>>;
  readonly workdir: string;
  readonly root?: ContainerImageRoot;
  readonly npmDirs?: ReadonlyArray<string>;
}

/** A built image mounted as one container's root. */
export interface MountedImageRoot {
  /** The sandbox's whole rootfs: the base entries it keeps, then the image's. */
  readonly rootfs: ReadonlyArray<RootfsEntry>;
  /** The image's working directory when the image has it, else the fallback. */
  readonly cwd: string;
  /** The image's environment, below the container's own variables: the base PATH of a full root, then its `env` steps. */
  readonly env: Readonly<Record<string, string>>;
  /** Unmount it (once; later calls share the first). Call after the sandbox has exited. */
  release(): Promise<void>;
}

/**
 * Mount `image` for container `containerId` over `nodeBase` (the default image's entries);
 * `reserved` are the sandbox paths the platform binds itself besides the base (never shadowed).
 *
 * @example
 * ```ts
 * const root = await mountImageRoot(images, { containerId, image: options.image, nodeBase, regionUrl, fallbackCwd: "/opt/ferry/app", reserved: ["/opt/ferry/runner"] });
 * const sandbox = startSandbox({ rootfs: root.rootfs, cwd: root.cwd, env: { ...root.env, ...ownEnv }, … });
 * void sandbox.exited.then(() => root.release());
 * ```
 */
export const mountImageRoot = async (images: ContainerImages, args: {
  readonly containerId: string; readonly image: ContainerImageSpec; readonly nodeBase: ReadonlyArray<RootfsEntry>;
  readonly regionUrl: string; readonly fallbackCwd: string; readonly reserved: ReadonlyArray<string>;
}): Promise<MountedImageRoot> => {
  const root = args.image.root ?? "overlay";
  const base = baseEntriesFor(args.nodeBase, root);
  const mounted = await images.mount({
    containerId: args.containerId, imageId: args.image.id, regionUrl: args.regionUrl, workdir: args.image.workdir, fallbackCwd: args.fallbackCwd,
    reserved: [...base.map((e) => e.sandboxPath), ...args.reserved],
  });
  return {
    rootfs: [...base, ...mounted.rootfs],
    cwd: mounted.cwd,
    env: { ...imageBaseEnv(root, args.image.npmDirs ?? []), ...args.image.env },
    release: () => mounted.release(),
  };
};
