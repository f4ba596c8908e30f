/**
 * What a build produces: the ordered layers of an image plus its runtime configuration.
 */
import type { ImageBase } from "@ferry/core";
import type { BaseEntry } from "./step-sandbox.ts";

/** One layer of a built image, lowest first. */
export interface ImageLayer {
  /** Cache key (sha256 hex). */
  readonly key: string;
  /** The layer's directory (added/changed entries and `.wh.` whiteouts). */
  readonly dir: string;
  /** What made it, for logs and OCI history: "base", "RUN …", "COPY …". */
  readonly createdBy: string;
}

/** A local file or directory mounted when a container starts (not baked into a layer). */
export interface ImageMount {
  readonly kind: "dir" | "file";
  readonly local: string;
  readonly remote: string;
}

/**
 * How a container's root is made from an image: "overlay" puts the image's paths over the node's
 * own root (host /usr, a minimal /etc: the "ferry/node" base); "full" makes the image the whole
 * root (Debian and OCI bases), adding only what the platform must (Node runtime, runner, app).
 */
export type ImageRoot = "overlay" | "full";

/** A built image: layers over a base, and what a container starting from it needs. */
export interface BuiltImage {
  /** Key of the image: the last step's key (or the base's). */
  readonly key: string;
  readonly base: ImageBase;
  /** Read-only host binds and symlinks the base contributes ("ferry/node": the host's /usr and Node runtime). */
  readonly baseEntries: ReadonlyArray<BaseEntry>;
  readonly layers: ReadonlyArray<ImageLayer>;
  readonly env: Readonly<Record<string, string>>;
  readonly workdir: string;
  readonly mounts: ReadonlyArray<ImageMount>;
  readonly root: ImageRoot;
  /** Where its `npmInstall` steps installed (each holds a node_modules), in step order. */
  readonly npmDirs: ReadonlyArray<string>;
}
