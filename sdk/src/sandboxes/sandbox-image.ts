/**
 * The image a sandbox starts from, as `POST /v1/sandboxes` takes it: a snapshot by id, or a built
 * image published as `ferry deploy` publishes a function's (same builder cache, so an unchanged
 * image is a cache hit and uploads nothing) and named by its id, env, working directory and root kind.
 */
import type { FerryClient } from "../client/ferry-client.ts";
import { isImage, type Image } from "../images/image.ts";

/** The image fields of a create request (none: the default image). */
export interface SandboxImageFields {
  /** A snapshot id (`sb.snapshotFilesystem()`). */
  readonly image?: string;
  readonly imageId?: string;
  readonly imageEnv?: Readonly<Record<string, string>>;
  readonly imageWorkdir?: string;
  readonly imageRoot?: "overlay" | "full";
}

/** What a sandbox's image is called in build progress lines. */
const SANDBOX_IMAGE_USER = "sandbox";

/**
 * The builder's side, loaded on first use by URL: a bundler leaves it out, so an app's bundle
 * (which may create sandboxes) never carries the image builder into its containers.
 */
const PUBLISH_IMAGES_MODULE = new URL("../images/publish-images.ts", import.meta.url).href;
const IMAGE_COMMANDS_MODULE = new URL("../cli/image-commands.ts", import.meta.url).href;

type PublishImagesModule = typeof import("../images/publish-images.ts");
type ImageCommandsModule = typeof import("../cli/image-commands.ts");

const loadBuilder = async (): Promise<[PublishImagesModule, ImageCommandsModule]> => {
  try {
    return await Promise.all([import(PUBLISH_IMAGES_MODULE) as Promise<PublishImagesModule>, import(IMAGE_COMMANDS_MODULE) as Promise<ImageCommandsModule>]);
  } catch (e) {
    throw new Error(`Sandbox.create: building an image needs the Ferry SDK's image builder, which this process does not have (inside a container, start the sandbox from a snapshot or the default image): ${e instanceof Error ? e.message : String(e)}`);
  }
};

/**
 * Resolve `image` for a new sandbox: a snapshot (or its id) as it is; the bare default image as
 * none; any other `Image` built, indexed and uploaded (what the region lacks) first. Throws the
 * builder's errors (a failed step names its command, exit code and log tail).
 *
 * @example
 * ```ts
 * const fields = await sandboxImageFields(client, Image.base("ferry/node").runCommands("mkdir /srv"));
 * fields.imageId; // "3f0a…"
 * ```
 */
export const sandboxImageFields = async (
  client: FerryClient, image: Image | string | undefined, options: { readonly onProgress?: (line: string) => void } = {},
): Promise<SandboxImageFields> => {
  if (image === undefined) return {};
  if (typeof image === "string") return { image };
  if (!isImage(image)) {
    throw new TypeError("Sandbox.create: image must be an Image (Image.base(\"ferry/node\")…, Image.debianSlim()…, sb.snapshotFilesystem()) or a snapshot id");
  }
  const spec = image.toSpec();
  if (spec.base.kind === "snapshot") {
    if (spec.steps.length > 0) {
      throw new TypeError("Sandbox.create: a snapshot starts a sandbox with no steps added (run them in the sandbox before snapshotting it, or start from Image.base(\"ferry/node\"))");
    }
    return { image: spec.base.id };
  }
  if (spec.base.kind === "ferry/node" && spec.steps.length === 0) return {};
  const step = spec.steps.find((s) => s.kind === "runFunction");
  if (step) {
    throw new TypeError(`Sandbox.create: runFunction(${step.kind === "runFunction" ? step.function : ""}) needs an app's bundle; give the step to a deployed function's image, or use runCommands`);
  }
  const [{ publishImages }, { defaultImageCacheDir }] = await loadBuilder();
  const { options: published } = await publishImages(client, [{ name: SANDBOX_IMAGE_USER, image: spec }], {
    cacheDir: defaultImageCacheDir(), onProgress: options.onProgress,
  });
  const o = published.get(SANDBOX_IMAGE_USER);
  if (o === undefined) throw new Error("Sandbox.create: the image was built but not published");
  return { imageId: o.imageId, imageEnv: o.imageEnv, imageWorkdir: o.imageWorkdir, imageRoot: o.imageRoot };
};
