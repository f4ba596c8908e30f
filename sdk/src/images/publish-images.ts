/**
 * What `ferry deploy` does with the images of an app's functions: build each distinct image (a
 * cache hit per unchanged step), lay its layers and start-time local files out as one tree, index
 * that tree into content-addressed blocks, and upload what the platform lacks (see image-upload.ts).
 */
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { decodeImageIndex, imageBlocks, type ImageIndex, type ImageSpec } from "@ferry/core";
import { buildImage, canonicalJson, flattenImage, indexDirectory, LocalDirBlockStore, type BuiltImage } from "@ferry/image-builder";
// Not part of the builder's public surface: the same copy its COPY steps make, by path.
import { copyLocalInput } from "../../../image-builder/src/build/local-inputs.ts";
import type { FerryClient } from "../client/ferry-client.ts";
import { uploadImage, type ImageUploadReport } from "./image-upload.ts";
import { snapshotImageOptions } from "./snapshot-images.ts";
import { clearSandboxMountPoints } from "./sandbox-mount-points.ts";

/** The manifest options a function with a built image carries (see core's FunctionOptions). */
export interface ImageManifestOptions {
  readonly imageId: string;
  readonly imageEnv: Readonly<Record<string, string>>;
  readonly imageWorkdir: string;
  /** "full" for a Debian or OCI base (the image is the container's whole root); "overlay" for "ferry/node". */
  readonly imageRoot: "overlay" | "full";
  /** Where the image's npmInstall steps installed: the runner resolves the bundle's bare imports there. */
  readonly imageNpmDirs: ReadonlyArray<string>;
}

/** One published image. */
export interface PublishedImage extends ImageUploadReport {
  /** The builder's key of the image (its last step's). */
  readonly key: string;
  /** The functions (and classes) that run from it. */
  readonly functions: ReadonlyArray<string>;
}

/** Options of `publishImages`. */
export interface PublishImagesOptions {
  /** The builder's cache (layers, the staging block store, indexes of images without local mounts). */
  readonly cacheDir: string;
  /** The app bundle as a file, for `runFunction` steps. */
  readonly appModule?: string;
  /** Build and upload progress, one line per event. */
  readonly onProgress?: (line: string) => void;
  /** Rebuild every step. */
  readonly force?: boolean;
}

/** The index of a built image: from the cache when it has no start-time local files, else laid out and indexed now. */
const indexBuiltImage = async (built: BuiltImage, staging: LocalDirBlockStore, cacheDir: string): Promise<ImageIndex> => {
  const cached = join(cacheDir, "indexes", `${built.key}.json`);
  if (built.mounts.length === 0 && existsSync(cached)) {
    const decoded = decodeImageIndex(JSON.parse(await readFile(cached, "utf8")), "cached index");
    // A staging store pruned since: index again rather than fail the upload.
    if (decoded._tag === "Success" && (await staging.missing(imageBlocks(decoded.success).map((b) => b.digest))).length === 0) {
      return decoded.success;
    }
  }
  await mkdir(join(cacheDir, "work"), { recursive: true });
  const scratch = await mkdtemp(join(cacheDir, "work", "flat-"));
  try {
    const root = join(scratch, "root");
    flattenImage(built, root);
    clearSandboxMountPoints(root);
    // Local files "mounted at start" (copy: false) join the tree here, after every build step:
    // editing them changes only their own blocks, never a layer.
    for (const m of built.mounts) copyLocalInput(m.local, m.kind, join(root, m.remote));
    const { index } = await indexDirectory(root, staging, { symlinks: "rootfs" });
    if (built.mounts.length === 0) {
      await mkdir(join(cacheDir, "indexes"), { recursive: true });
      await writeFile(cached, JSON.stringify(index));
    }
    return index;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
};

/**
 * Build, index and upload every distinct image among `functions` (deduplicated by spec); returns
 * the manifest options for each function that has one, and what each image cost to publish.
 * Throws the builder's errors (a failed step names its command, exit code and log tail, a
 * Debian base without mmdebstrap says how to install it).
 *
 * @example
 * ```ts
 * const { options } = await publishImages(client, [{ name: "f", image: spec }], { cacheDir, onProgress: console.log });
 * options.get("f")?.imageId; // "3f0a…"
 * ```
 */
export const publishImages = async (
  client: FerryClient, functions: ReadonlyArray<{ readonly name: string; readonly image?: ImageSpec }>, opts: PublishImagesOptions,
): Promise<{ options: Map<string, ImageManifestOptions>; images: PublishedImage[] }> => {
  const bySpec = new Map<string, { spec: ImageSpec; users: string[] }>();
  for (const f of functions) {
    if (f.image === undefined) continue;
    const id = canonicalJson(f.image);
    const entry = bySpec.get(id) ?? { spec: f.image, users: [] };
    entry.users.push(f.name);
    bySpec.set(id, entry);
  }
  const options = new Map<string, ImageManifestOptions>();
  const images: PublishedImage[] = [];
  if (bySpec.size === 0) return { options, images };
  const staging = new LocalDirBlockStore(join(opts.cacheDir, "blocks"));
  const log = opts.onProgress ?? (() => {});
  for (const { spec, users } of bySpec.values()) {
    // A sandbox snapshot is already an image in the region: nothing to build or upload.
    if (spec.base.kind === "snapshot") {
      const snapshot = await snapshotImageOptions(client, spec, users);
      for (const name of users) options.set(name, snapshot);
      continue;
    }
    log(`building image for ${users.join(", ")} (${spec.base.kind}, ${spec.steps.length} steps)`);
    const built = await buildImage(spec, { cacheDir: opts.cacheDir, appModule: opts.appModule, onLog: log, force: opts.force });
    const index = await indexBuiltImage(built, staging, opts.cacheDir);
    const report = await uploadImage(client, index, staging, log);
    log(`image ${report.imageId.slice(0, 12)}: ${index.entries.length} paths, ${report.blocks} blocks (${(report.bytes / 1024 / 1024).toFixed(1)} MiB), ${report.uploadedBlocks} uploaded`);
    images.push({ ...report, key: built.key, functions: users });
    for (const name of users) {
      options.set(name, { imageId: report.imageId, imageEnv: built.env, imageWorkdir: built.workdir, imageRoot: built.root, imageNpmDirs: built.npmDirs });
    }
  }
  return { options, images };
};
