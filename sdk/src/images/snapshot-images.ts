import type { ImageSpec } from "@ferry/core";
import { ImageSpecError } from "@ferry/image-builder";
import type { FerryClient } from "../client/ferry-client.ts";
import type { ImageManifestOptions } from "./publish-images.ts";

/** Where a function started from a snapshot begins: the sandbox's own working directory. */
export const SNAPSHOT_WORKDIR = "/workspace";

/**
 * The manifest options of functions whose image is a sandbox snapshot (`Image.fromSnapshot`, what
 * `sb.snapshotFilesystem()` returns): nothing to build, the snapshot is already an image in its
 * region; the platform tells its id (and says "image … not found" for another workspace's). Build
 * steps on top of a snapshot are refused: containers cannot layer them yet.
 *
 * @example
 * ```ts
 * const options = await snapshotImageOptions(client, Image.fromSnapshot("sn-…").toSpec(), ["report"]);
 * options.imageId; // the snapshot's image
 * ```
 */
export const snapshotImageOptions = async (client: FerryClient, spec: ImageSpec, users: ReadonlyArray<string>): Promise<ImageManifestOptions> => {
  if (spec.base.kind !== "snapshot") throw new TypeError(`not a snapshot image: ${spec.base.kind}`);
  const { id } = spec.base;
  if (spec.steps.length > 0) {
    throw new ImageSpecError(`functions ${users.join(", ")}: build steps on top of a snapshot (${id}) are not supported yet; run them in the sandbox before snapshotting it, or start from Image.base("ferry/node")`);
  }
  const snapshot = await client.request<{ imageId: string | null }>("GET", `/v1/sandboxes/snapshots/${encodeURIComponent(id)}`);
  if (!snapshot.imageId) throw new ImageSpecError(`snapshot ${id} was taken before snapshots became images; snapshot the sandbox again`);
  return { imageId: snapshot.imageId, imageEnv: {}, imageWorkdir: SNAPSHOT_WORKDIR, imageRoot: "overlay", imageNpmDirs: [] };
};
